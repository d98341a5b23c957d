// The server runtime's page half (static/js/game/socket_channel.js) against a scripted socket:
// the event sequence, frames shown as they arrive, key changes sent and recorded, the end
// summary, errors, pausing and a reconnect during an episode.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

const g = /** @type {any} */ (globalThis);
g.window ??= new EventTarget();
g.requestAnimationFrame ??= (/** @type {(t: number) => void} */ callback) => setTimeout(() => callback(performance.now()), 0);
g.CustomEvent ??= class extends Event {
  constructor(type, init) {
    super(type);
    this.detail = init?.detail;
  }
};

const { SocketChannel, unpackFrame } = await import("../../interactive_gym/server/static/js/game/socket_channel.js");
const { GameError } = await import("../../interactive_gym/server/static/js/game/errors.js");

const GAME = { multiAgent: false, agents: ["player"], numActions: 3, renderSize: [100, 50], hasRender: true };

/** A socket.io client stand-in: acked requests answered by `answers`, server events by `push`. */
class FakeSocket {
  constructor(answers) {
    this.answers = answers;
    this.connected = true;
    this.sent = [];
    /** @type {Map<string, Set<Function>>} */
    this.listeners = new Map();
  }
  on(event, listener) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event)?.add(listener);
  }
  off(event, listener) {
    this.listeners.get(event)?.delete(listener);
  }
  emit(event, payload) {
    this.sent.push([event, payload]);
  }
  timeout() {
    return {
      emitWithAck: async (event, payload) => {
        this.sent.push([event, payload]);
        const answer = this.answers[event];
        return typeof answer === "function" ? answer(payload) : (answer ?? { ok: true });
      },
    };
  }
  push(event, payload) {
    for (const listener of [...(this.listeners.get(event) ?? [])]) listener(payload);
  }
  names() {
    return this.sent.map(([event]) => event);
  }
}

function setup(answers = {}) {
  const socket = new FakeSocket({
    "game:open": { ok: true, game: GAME },
    "game:episode": (p) => ({ ok: true, seed: 1000 + p.episode, attempt: 3, render: [], hud: "start" }),
    ...answers,
  });
  const records = [];
  const abort = new AbortController();
  const scene = /** @type {any} */ ({
    scene_id: "game", runtime: "server", fps: 30, human: "player", default_action: 0,
    load_timeout_s: 5, step_timeout_s: 1, seeds: null,
  });
  const ctx = /** @type {any} */ ({
    attempt: 1,
    signal: abort.signal,
    record: (kind, fields) => records.push({ kind, ...fields }),
    connection: { socket, connected: () => Promise.resolve() },
  });
  const listeners = new Set();
  const input = {
    attach() {},
    detach() {},
    reset() {},
    take: () => ({ action: 0, keys: "", events: [] }),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    press: (change) => [...listeners].forEach((l) => l(change)),
    listeners,
  };
  return { socket, records, abort, scene, ctx, input, channel: new SocketChannel(scene, ctx) };
}

/** A frame packed as the server sends it (meta as JSON bytes; see unpackFrame). */
const frame = (step, extra = {}) => {
  const fields = {
    scene_id: "game", episode: 0, step, reward: 1, terminated: false, truncated: false, maxStepsReached: false,
    done: false, hud: `step ${step}`, render: [], input_seq: -1, tick_late_ms: 0.5, ...extra,
  };
  const { scene_id, episode, step: s, ...meta } = fields;
  return { scene_id, episode, step: s, meta: new TextEncoder().encode(JSON.stringify(meta)), data: null };
};

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("socket channel", () => {
  test("opens, resets, plays frames as they come and resolves with the server's summary", async () => {
    const { socket, channel, input, records } = setup();
    const progress = [];
    assert.deepEqual(await channel.load((p) => progress.push(p.stage)), GAME);
    assert.deepEqual(progress, ["environment", "ready"]);
    assert.deepEqual(await channel.startEpisode(0, null), { render: [], hud: "start", seed: 1000 });
    const shown = [];
    const playing = channel.play(0, {
      input,
      onFrame: (f) => {
        shown.push([f.step, f.score, f.hud]);
        return { drawMs: 1, drawnAt: performance.now(), error: null };
      },
    });
    await tick();
    socket.push("game:frame", frame(0));
    socket.push("game:frame", frame(0)); // sent again after a resume: ignored
    socket.push("game:frame", frame(5, { episode: 1 })); // another episode: ignored
    socket.push("game:frame", frame(1, { done: true }));
    socket.push("game:end", { scene_id: "game", episode: 0, summary: { ended_by: "max_steps", length: 2, return: 2 } });
    assert.deepEqual(await playing, { ended_by: "max_steps", length: 2, return: 2 });
    assert.deepEqual(shown, [[0, 1, "step 0"], [1, 2, "step 1"]]);
    assert.deepEqual(socket.names(), ["game:open", "game:episode", "game:play"]);
    assert.deepEqual(socket.sent[1][1], { scene_id: "game", episode: 0, attempt: 1 });
    assert.equal(records.length, 0, "the server writes steps and episodes");
    assert.equal(input.listeners.size, 0, "input listener removed at the end");
    channel.destroy();
    assert.deepEqual(socket.sent.at(-1), ["game:close", { scene_id: "game" }]);
  });

  test("key changes go to the server at once and are recorded with the step shown", async () => {
    const { socket, channel, input, records } = setup();
    await channel.load(() => {});
    await channel.startEpisode(0, null);
    const playing = channel.play(0, { input, onFrame: () => ({ drawMs: 0, drawnAt: 0, error: null }) });
    await tick();
    input.press({ action: 1, keys: "ArrowUp", event: { type: "down", key: "ArrowUp", t: 12.345 } });
    socket.push("game:frame", frame(0, { input_seq: 1 }));
    input.press({ action: 0, keys: "", event: { type: "up", key: " ", t: 20 } });
    const inputs = socket.sent.filter(([e]) => e === "game:input").map(([, p]) => p);
    assert.deepEqual(inputs, [
      { scene_id: "game", episode: 0, seq: 1, action: 1, keys: "ArrowUp", t: 12.35, type: "down", key: "ArrowUp" },
      { scene_id: "game", episode: 0, seq: 2, action: 0, keys: "", t: 20, type: "up", key: "Space" },
    ]);
    assert.deepEqual(records, [
      { kind: "input", episode: 0, attempt: 3, step: null, data: { type: "down", key: "ArrowUp", t: 12.35, action: 1, seq: 1 } },
      { kind: "input", episode: 0, attempt: 3, step: 0, data: { type: "up", key: "Space", t: 20, action: 0, seq: 2 } },
    ]);
    socket.push("game:end", { scene_id: "game", episode: 0, summary: { ended_by: "terminated" } });
    await playing;
  });

  test("game:error rejects with a GameError; a refused open is a GameLoadError", async () => {
    const { socket, channel, input } = setup();
    await channel.load(() => {});
    await channel.startEpisode(0, null);
    const playing = channel.play(0, { input, onFrame: () => ({ drawMs: 0, drawnAt: 0, error: null }) });
    await tick();
    socket.push("game:error", { scene_id: "game", episode: 0, stage: "step", step: 7, message: "ZeroDivisionError: boom", traceback: "tb" });
    await assert.rejects(playing, (/** @type {any} */ e) => e instanceof GameError && e.stage === "step" && e.step === 7 && e.traceback === "tb");

    const refused = setup({ "game:open": { ok: false, error: "scene_id: 'x' is not the current scene", reason: "not_current" } });
    await assert.rejects(refused.channel.load(() => {}), (/** @type {any} */ e) => e.name === "GameLoadError" && /not the current scene/.test(e.message));
  });

  test("a drawing failure rejects with a render GameError", async () => {
    const { socket, channel, input } = setup();
    await channel.load(() => {});
    await channel.startEpisode(0, null);
    const playing = channel.play(0, { input, onFrame: () => Promise.resolve({ drawMs: null, drawnAt: null, error: new Error("bad image") }) });
    await tick();
    socket.push("game:frame", frame(0));
    await assert.rejects(playing, (/** @type {any} */ e) => e instanceof GameError && e.stage === "render" && e.step === 0);
  });

  test("pause and resume reach the server once it plays; a reconnect re-opens and plays on", async () => {
    const { socket, channel, input } = setup();
    await channel.load(() => {});
    await channel.startEpisode(0, null);
    const playing = channel.play(0, { input, onFrame: () => ({ drawMs: 0, drawnAt: 0, error: null }) });
    channel.pause(); // before game:play's answer: sent right after it
    await tick();
    channel.resume();
    assert.deepEqual(socket.names().slice(2), ["game:play", "game:pause", "game:resume"]);
    socket.answers["game:open"] = { ok: true, game: GAME, resume: { episode: 0, step: 4 } };
    socket.push("connect");
    await tick();
    assert.deepEqual(socket.names().slice(5), ["game:open", "game:play"]);
    socket.answers["game:open"] = { ok: true, game: GAME };
    socket.push("connect");
    await tick();
    const summary = await playing;
    assert.equal(summary.ended_by, "disconnected");
  });

  test("an abort of the page stops the episode", async () => {
    const { channel, input, abort } = setup();
    await channel.load(() => {});
    await channel.startEpisode(0, null);
    const playing = channel.play(0, { input, onFrame: () => ({ drawMs: 0, drawnAt: 0, error: null }) });
    abort.abort();
    assert.equal((await playing).ended_by, "stopped");
  });
});

describe("unpackFrame", () => {
  test("puts the render's bytes back under its description", () => {
    const data = new Uint8Array([1, 2, 3]).buffer;
    const meta = { reward: 0.5, done: false, hud: null, render: { kind: "image", format: "jpeg", width: 3, height: 1 } };
    const f = unpackFrame({ scene_id: "game", episode: 2, step: 7, meta: new TextEncoder().encode(JSON.stringify(meta)), data });
    assert.equal(f.step, 7);
    assert.equal(f.episode, 2);
    assert.equal(f.reward, 0.5);
    assert.deepEqual({ ...f.render, data: null }, { ...meta.render, data: null });
    assert.equal(f.render.data, data);
  });

  test("reads a draw list sent as one JSON text", () => {
    const text = JSON.stringify({ reward: 1, done: true, hud: "h", render: { kind: "draw" }, draw: [{ type: "rect", id: "r" }] });
    const f = unpackFrame({ scene_id: "game", episode: 1, step: 4, text });
    assert.equal(f.step, 4);
    assert.equal(f.reward, 1);
    assert.equal(f.hud, "h");
    assert.equal("draw" in f, false);
    assert.deepEqual(f.render, { kind: "draw", draw: [{ type: "rect", id: "r" }] });
  });

  test("refuses a message with neither its text nor its meta bytes", () => {
    assert.throws(() => unpackFrame({ scene_id: "game", episode: 0, step: 0, meta: "{}" }), /neither text nor meta bytes/);
  });
});
