// The arithmetic of ONNX policies: flattening observations, choosing actions, seeded sampling.
// Run with `node --test tests/js/`.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  flattenObservation,
  mulberry32,
  pickAction,
} from "../../interactive_gym/server/static/js/worker/onnx_math.js";

/** @param {any} value @param {number} size */
function flatten(value, size = 16) {
  const buffer = new Float32Array(size);
  const count = flattenObservation(value, buffer, (message) => {
    throw new Error(message);
  });
  /** @type {(number | string)[]} */
  const numbers = Array.from(buffer.subarray(0, Math.min(count, size)));
  return numbers.concat(count > size ? [`+${count - size}`] : []);
}

describe("flattenObservation", () => {
  test("nested lists in order, booleans as 0/1, BigInts as numbers", () => {
    assert.deepEqual(flatten([[1, 2], [3, [4, true]], false, 7n]), [1, 2, 3, 4, 1, 0, 7]);
  });

  test("typed arrays are walked like lists", () => {
    assert.deepEqual(flatten([new Float64Array([0.5, 1.5]), new Int32Array([3])]), [0.5, 1.5, 3]);
  });

  test("dicts and Maps by key sorted as strings, whatever their insertion order", () => {
    assert.deepEqual(flatten({ b: [2, 3], a: 1, c: { z: 5, y: 4 } }), [1, 2, 3, 4, 5]);
    assert.deepEqual(flatten(new Map([["b", 2], ["a", 1]])), [1, 2]);
  });

  test("counts past the buffer so a size mismatch is reported exactly", () => {
    const buffer = new Float32Array(2);
    const count = flattenObservation([1, 2, 3, 4], buffer, () => {
      throw new Error("unexpected");
    });
    assert.equal(count, 4);
    assert.deepEqual(Array.from(buffer), [1, 2]);
  });

  test("non-numbers and non-finite numbers fail naming their path", () => {
    const fail = (/** @type {string} */ message) => {
      throw new Error(message);
    };
    const buffer = new Float32Array(8);
    assert.throws(() => flattenObservation({ pos: [1, "x"] }, buffer, fail), {
      message: 'observation["pos"][1] is string; observations must hold only numbers',
    });
    assert.throws(() => flattenObservation([0, null], buffer, fail), {
      message: "observation[1] is null; observations must hold only numbers",
    });
    assert.throws(() => flattenObservation([[0, NaN]], buffer, fail), {
      message: "observation[0][1] is NaN, not a finite number",
    });
  });
});

describe("pickAction", () => {
  const never = () => {
    throw new Error("argmax must not draw");
  };

  test("argmax is the first index of the largest value", () => {
    assert.equal(pickAction("argmax", new Float32Array([0.1, 3, -2, 3]), never), 1);
    assert.equal(pickAction("argmax", [-5], never), 0);
    assert.equal(pickAction("argmax", new BigInt64Array([2n, 9n, 4n]), never), 1);
  });

  test("raw returns a number for one element, else the list", () => {
    assert.equal(pickAction("raw", new Float32Array([0.25]), never), 0.25);
    assert.deepEqual(pickAction("raw", new Float32Array([0.5, -1]), never), [0.5, -1]);
  });

  test("sample follows the softmax: the draw's position in the cumulative weights", () => {
    const logits = [0, Math.log(3)]; // probabilities 1/4 and 3/4
    assert.equal(pickAction("sample", logits, () => 0.2), 0);
    assert.equal(pickAction("sample", logits, () => 0.3), 1);
    assert.equal(pickAction("sample", logits, () => 0.999999), 1);
    const random = mulberry32(7);
    const counts = [0, 0];
    for (let i = 0; i < 4000; i++) counts[/** @type {number} */ (pickAction("sample", logits, random))] += 1;
    assert.ok(Math.abs(counts[1] / 4000 - 0.75) < 0.03, `share of action 1: ${counts[1] / 4000}`);
  });

  test("empty or non-finite outputs and unknown modes are refused", () => {
    assert.throws(() => pickAction("argmax", [], never), { message: "the output is empty" });
    assert.throws(() => pickAction("argmax", [1, NaN], never), { message: "element 1 of the output is NaN" });
    assert.throws(() => pickAction("best", [1], never), { message: 'unknown action mode "best"' });
  });
});

test("mulberry32 is reproducible from its seed and stays in [0, 1)", () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const c = mulberry32(43);
  const first = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(first, Array.from({ length: 1000 }, () => b()));
  assert.notDeepEqual(first.slice(0, 5), Array.from({ length: 5 }, () => c()));
  assert.ok(first.every((x) => x >= 0 && x < 1));
});
