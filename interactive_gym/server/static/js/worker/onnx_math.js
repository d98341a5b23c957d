// @ts-check
/**
 * The arithmetic of ONNX policies, free of onnxruntime so Node tests can check it:
 * flattening an observation into a model input and choosing an action from a model output.
 */

/**
 * Write the numbers of `value` into `buffer` in order and return how many there are (the
 * count goes on past the buffer's end, so a size mismatch can be reported exactly).
 *
 * Numbers, booleans (0/1) and BigInts are leaves; arrays and typed arrays are walked in order;
 * dicts (objects, Maps) in the order of their keys sorted as strings, like Gymnasium flattens a
 * Dict space. Anything else, and NaN or infinite numbers, call `fail` with the value's path.
 * @param {any} value
 * @param {Float32Array} buffer
 * @param {(message: string) => never} fail
 * @returns {number}
 */
export function flattenObservation(value, buffer, fail) {
  let count = 0;
  /** @param {any} v @param {string} path */
  const walk = (v, path) => {
    if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") {
      const x = Number(v);
      if (!Number.isFinite(x)) fail(`${path} is ${x}, not a finite number`);
      if (count < buffer.length) buffer[count] = x;
      count += 1;
    } else if (Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView))) {
      const items = /** @type {ArrayLike<any>} */ (v);
      for (let i = 0; i < items.length; i++) walk(items[i], `${path}[${i}]`);
    } else if (v instanceof Map) {
      const keys = [...v.keys()].sort((a, b) => compare(String(a), String(b)));
      for (const key of keys) walk(v.get(key), `${path}[${JSON.stringify(key)}]`);
    } else if (v !== null && typeof v === "object") {
      for (const key of Object.keys(v).sort(compare)) walk(v[key], `${path}[${JSON.stringify(key)}]`);
    } else {
      fail(`${path} is ${v === null ? "null" : typeof v}; observations must hold only numbers`);
    }
  };
  walk(value, "observation");
  return count;
}

/** @param {string} a @param {string} b */
function compare(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The action for a model output: "argmax" (first index of the largest value), "sample" (an
 * index drawn from the softmax of the values with `random`), or "raw" (the output itself: a
 * number when it has one element, else a list).
 * @param {string} mode
 * @param {ArrayLike<number | bigint>} data
 * @param {() => number} random  uniform in [0, 1)
 * @returns {number | number[]}
 */
export function pickAction(mode, data, random) {
  const values = Array.from(data, Number);
  if (values.length === 0) throw new Error("the output is empty");
  const bad = values.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) throw new Error(`element ${bad} of the output is ${values[bad]}`);
  if (mode === "raw") return values.length === 1 ? values[0] : values;
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  if (mode === "argmax") return best;
  if (mode !== "sample") throw new Error(`unknown action mode ${JSON.stringify(mode)}`);
  const weights = values.map((x) => Math.exp(x - values[best]));
  const total = weights.reduce((a, b) => a + b, 0);
  let r = random() * total;
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i];
    if (r < 0) return i;
  }
  // Rounding left r at or just above 0: the draw fell at the very end of the last weight > 0.
  let last = weights.length - 1;
  while (weights[last] === 0) last -= 1;
  return last;
}

/**
 * A small seeded generator of uniform numbers in [0, 1) (mulberry32), so sampled actions
 * are reproducible from the policy's seed.
 * @param {number} seed
 * @returns {() => number}
 */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
