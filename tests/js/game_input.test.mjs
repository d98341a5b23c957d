// The game scene's main-thread pieces: keyboard input, the fixed-step loop, HUD text and
// step records (static/js/game/).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { fillHud, hudFields } from "../../interactive_gym/server/static/js/game/hud.js";
import { KeyInput } from "../../interactive_gym/server/static/js/game/input.js";
import { FixedStepLoop } from "../../interactive_gym/server/static/js/game/loop.js";
import { Returns, jsonSafe, stepData } from "../../interactive_gym/server/static/js/game/record.js";

const CONTROLS = [
  { keys: ["ArrowUp"], action: 1 },
  { keys: ["ArrowLeft"], action: 3 },
  { keys: ["ArrowLeft", "ArrowUp"], action: 5 },
  { keys: [" "], action: 9 },
];

/** @param {"held" | "pressed"} [mode] */
function keyboard(mode = "held") {
  const target = new EventTarget();
  const input = new KeyInput({ controls: CONTROLS, defaultAction: 0, mode, target });
  input.attach();
  const send = (type, key, t, repeat = false) => {
    const event = new Event(type, { cancelable: true });
    Object.assign(event, { key, repeat });
    Object.defineProperty(event, "timeStamp", { value: t });
    target.dispatchEvent(event);
    return event;
  };
  return { input, target, down: (k, t, r) => send("keydown", k, t, r), up: (k, t) => send("keyup", k, t) };
}

describe("keyboard input", () => {
  test("held keys give their action on every tick, the no-key action otherwise", () => {
    const { input, down, up } = keyboard();
    assert.deepEqual(input.take(), { action: 0, keys: "", events: [] });
    const event = down("ArrowUp", 10);
    assert.ok(event.defaultPrevented, "mapped keys do not scroll the page");
    assert.deepEqual(input.take(), { action: 1, keys: "ArrowUp", events: [{ type: "down", key: "ArrowUp", t: 10 }] });
    assert.deepEqual(input.take(), { action: 1, keys: "ArrowUp", events: [] });
    up("ArrowUp", 50);
    assert.deepEqual(input.take(), { action: 0, keys: "", events: [{ type: "up", key: "ArrowUp", t: 50 }] });
  });

  test("a combination wins over its parts; a tap between ticks still counts", () => {
    const { input, down, up } = keyboard();
    down("ArrowUp", 1);
    down("ArrowLeft", 2);
    assert.equal(input.take().action, 5);
    up("ArrowUp", 3);
    assert.equal(input.take().action, 3);
    up("ArrowLeft", 4);
    down(" ", 5);
    up(" ", 6);
    const tick = input.take();
    assert.equal(tick.action, 9);
    assert.equal(tick.keys, "Space");
    assert.equal(tick.events.length, 3);
  });

  test("between single keys, the one pressed last wins; repeats and unmapped keys are ignored", () => {
    const { input, down } = keyboard();
    down("ArrowLeft", 1);
    down("ArrowLeft", 2, true);
    const other = down("x", 3);
    assert.equal(other.defaultPrevented, false);
    down(" ", 4);
    const tick = input.take();
    assert.equal(tick.action, 9);
    assert.deepEqual(tick.events.map((e) => e.key), ["ArrowLeft", " "]);
  });

  test("pressed mode fires once per press", () => {
    const { input, down, up } = keyboard("pressed");
    down("ArrowUp", 1);
    assert.equal(input.take().action, 1);
    assert.equal(input.take().action, 0, "held, not pressed again");
    up("ArrowUp", 2);
    down("ArrowUp", 3);
    assert.equal(input.take().action, 1);
  });

  test("losing focus releases every key", () => {
    const { input, target, down } = keyboard();
    down("ArrowUp", 1);
    input.take();
    target.dispatchEvent(new Event("blur"));
    const tick = input.take();
    assert.equal(tick.action, 0);
    assert.deepEqual(tick.events.map((e) => [e.type, e.key]), [["release", "ArrowUp"]]);
  });

  test("letters match either case", () => {
    const target = new EventTarget();
    const input = new KeyInput({ controls: [{ keys: ["a"], action: 2 }], defaultAction: 0, target });
    input.attach();
    const event = Object.assign(new Event("keydown", { cancelable: true }), { key: "A", repeat: false });
    target.dispatchEvent(event);
    assert.equal(input.take().action, 2);
  });

  test("onChange hears every key change with the action the keys down choose", () => {
    const { input, target, down, up } = keyboard();
    const heard = [];
    const stop = input.onChange((change) => heard.push(change));
    down("ArrowUp", 1);
    down("ArrowUp", 2, true);
    down("ArrowLeft", 3);
    up("ArrowUp", 4);
    target.dispatchEvent(new Event("blur"));
    assert.deepEqual(heard, [
      { action: 1, keys: "ArrowUp", event: { type: "down", key: "ArrowUp", t: 1 } },
      { action: 5, keys: "ArrowLeft+ArrowUp", event: { type: "down", key: "ArrowLeft", t: 3 } },
      { action: 3, keys: "ArrowLeft", event: { type: "up", key: "ArrowUp", t: 4 } },
      { action: 0, keys: "", event: { type: "release", key: "ArrowLeft", t: heard[3]?.event.t } },
    ]);
    stop();
    input.take();
    down(" ", 5);
    assert.equal(heard.length, 4);
    assert.equal(input.take().action, 9, "take() is unaffected by listeners");
  });

  test("in pressed mode a change fires the mapping of the key just pressed; a release none", () => {
    const { input, down, up } = keyboard("pressed");
    const heard = [];
    input.onChange(({ action, keys }) => heard.push([action, keys]));
    down("ArrowUp", 1);
    down("ArrowLeft", 2);
    up("ArrowLeft", 3);
    assert.deepEqual(heard, [[1, "ArrowUp"], [5, "ArrowLeft+ArrowUp"], [0, ""]]);
  });
});

describe("fixed-step loop", () => {
  test("ticks at the frame rate, one at a time, and stops when told", async () => {
    const ticks = [];
    let running = 0;
    // 20 per second: a 50 ms slot, so a busy machine's timer delay does not drop a slot here.
    const loop = new FixedStepLoop(20, async (tick) => {
      running++;
      assert.equal(running, 1, "a tick never starts while another runs");
      ticks.push(tick);
      await new Promise((r) => setTimeout(r, 2));
      running--;
      return ticks.length < 10;
    });
    await loop.run();
    assert.equal(ticks.length, 10);
    assert.deepEqual(ticks.map((t) => t.slot), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const t of ticks) assert.ok(t.start >= t.target - 1, "no tick starts before its slot");
    assert.equal(loop.stats.ticks, 10);
  });

  test("a slow tick makes the next slots dropped, counted, not caught up", async () => {
    const ticks = [];
    const loop = new FixedStepLoop(100, async (tick) => {
      ticks.push(tick);
      if (ticks.length === 2) await new Promise((r) => setTimeout(r, 55)); // > 5 intervals
      return ticks.length < 4;
    });
    await loop.run();
    assert.ok(ticks[2].dropped >= 4, `dropped ${ticks[2].dropped}`);
    assert.equal(ticks[2].slot, 2 + ticks[2].dropped);
    assert.equal(loop.stats.dropped, ticks.reduce((n, t) => n + t.dropped, 0));
    assert.ok(ticks[2].lateMs < 10);
  });

  test("pause stops after the tick in flight; resume goes on without dropped ticks", async () => {
    const ticks = [];
    let loop;
    // 40 per second: a 25 ms slot, wide enough that a busy machine does not drop one here.
    loop = new FixedStepLoop(40, async (tick) => {
      ticks.push(tick);
      if (ticks.length === 3) {
        loop.pause();
        setTimeout(() => loop.resume(), 100);
      }
      return ticks.length < 6;
    });
    await loop.run();
    assert.equal(loop.stats.dropped, 0);
    assert.ok(ticks[3].start - ticks[2].start >= 95, "no tick while paused");
    assert.equal(ticks[3].intervalMs, null, "the interval over a pause is not a frame interval");
  });

  test("an error in a tick rejects run()", async () => {
    const loop = new FixedStepLoop(100, async () => {
      throw new Error("env broke");
    });
    await assert.rejects(loop.run(), /env broke/);
  });
});

describe("HUD and records", () => {
  test("the HUD template is filled from the episode's state", () => {
    const fields = hudFields({ episode: 0, episodes: 2, step: 30, maxSteps: 300, fps: 10, score: 2.5, env: "orders: 2" });
    assert.equal(fillHud("Episode {episode} of {episodes} · {score} · {time_left} · {env} {{x}}", fields), "Episode 1 of 2 · 2.5 · 0:27 · orders: 2 {x}");
    assert.equal(fillHud("{time_left}|{max_steps}", hudFields({ episode: 0, episodes: 1, step: 3, maxSteps: null, fps: 30, score: 0, env: null })), "|");
  });

  test("records are JSON-safe and have one column per agent", () => {
    assert.deepEqual(jsonSafe({ a: NaN, b: [Infinity, -Infinity], c: new Uint8Array([1, 2]), d: undefined, e: new Map([[1, "x"]]) }), {
      a: "NaN", b: ["Infinity", "-Infinity"], c: [1, 2], d: null, e: { 1: "x" },
    });
    const tick = { slot: 4, target: 100, start: 101.234, lateMs: 1.234, dropped: 0, intervalMs: 33.3 };
    const timing = { workerMs: 1.5, envMs: 0.7, roundTripMs: 2.25 };
    const reply = { actions: { 0: 1, 1: 4 }, reward: { 0: 1, 1: NaN }, terminated: false, truncated: true, info: { t: 1 }, policyMs: 0.1, observation: [1] };
    const data = stepData({ reply, multiAgent: true, keys: "ArrowUp", events: [{ type: "down", key: " ", t: 99.5 }], tick, timing, drawMs: 0.5, focus: "focused", observation: false });
    assert.deepEqual(data, {
      action_0: 1, action_1: 4, reward_0: 1, reward_1: "NaN", terminated: false, truncated: true, keys: "ArrowUp",
      key_events: [["down", "Space", 99.5]], info: { t: 1 }, tick_t: 101.23, tick_late_ms: 1.23, dropped_ticks: 0,
      worker_ms: 1.5, env_ms: 0.7, policy_ms: 0.1, round_trip_ms: 2.25, draw_ms: 0.5, focus: "focused", runtime: "browser",
    });
    const single = stepData({ reply: { ...reply, actions: { player: 1 }, reward: 2 }, multiAgent: false, keys: "", events: [], tick, timing, drawMs: null, focus: "hidden", observation: true });
    assert.equal(single.action, 1);
    assert.equal(single.reward, 2);
    assert.deepEqual(single.observation, [1]);
    const returns = new Returns();
    returns.add({ 0: 1, 1: 3 }, "0", true);
    returns.add({ 0: 2, 1: 3 }, "0", true);
    assert.equal(returns.score, 3);
    assert.deepEqual(returns.byAgent, { 0: 3, 1: 6 });
  });
});
