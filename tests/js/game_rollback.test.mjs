// Rollback netcode of browser group games, page half: the engine (static/js/game/rollback.js)
// with members exchanging inputs through a simulated lossy, delayed, reordering server and a toy
// deterministic worker (tests/js/support/net_toys.mjs), checked against a straight run of the
// final inputs; then the channel (static/js/game/net_channel.js) end to end over fake sockets.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ServerLog, ToyWorker, random, straightRun } from "./support/net_toys.mjs";

const g = /** @type {any} */ (globalThis);
g.window ??= new EventTarget();
g.requestAnimationFrame ??= (/** @type {(t: number) => void} */ callback) => setTimeout(() => callback(performance.now()), 0);
g.CustomEvent ??= class extends Event {
  constructor(type, init) {
    super(type);
    this.detail = init?.detail;
  }
};
g.document ??= { visibilityState: "visible", hasFocus: () => true };

const { InputTimeline, RollbackState, TimeSync, CATCH_UP_FRAMES } = await import("../../interactive_gym/server/static/js/game/rollback.js");
const { NetChannel, REPORT_REPEATS } = await import("../../interactive_gym/server/static/js/game/net_channel.js");
const { FixedStepLoop } = await import("../../interactive_gym/server/static/js/game/loop.js");
const { groupChannel } = await import("../../interactive_gym/server/static/js/game/channel.js");

const INTERVAL = 1000 / 30;

/** One netAdvance of `rb` on `worker` (null: nothing to step), then the frames made final. */
function advance(rb, worker, batch = 1) {
  const plan = rb.plan(batch);
  let reply = null;
  if (plan) {
    reply = worker.netAdvance({ restore: plan.restore, first: plan.first, steps: plan.steps, confirmed: plan.confirmed, hash: plan.hash, render: true });
    rb.apply(plan, reply);
  }
  return { plan, reply, finals: rb.finalize() };
}

/** A page's engine driven like net_channel.js drives it, with a scripted player. */
class Member {
  constructor(agent, o) {
    this.agent = agent;
    this.rb = new RollbackState({ agents: o.humans, self: agent, defaultAction: 0, delay: o.D, window: o.W, hashEvery: o.H, maxSteps: o.maxSteps });
    this.sync = new TimeSync(agent, INTERVAL);
    this.worker = new ToyWorker({ humans: o.humans, ai: o.ai, maxSteps: o.maxSteps, lockstep: o.W === 0, endWhen: o.endWhen, bugAt: o.bugAt?.[agent] ?? null });
    this.worker.netStart({ seed: o.seed });
    // a player holds each action for a few frames, then changes it
    const hold = 3 + (agent.charCodeAt(0) % 4);
    this.script = (frame) => (Math.floor(frame / hold) * 7 + agent.charCodeAt(0)) % 4;
    this.maxBatch = Math.max(4, 4 * o.W);
    this.finals = new Map();
    this.plans = [];
    this.delays = 0;
    this.doneAt = null;
    this.check = o.check ?? null;
  }

  message() {
    const rb = this.rb;
    const own = rb.unacked();
    return { episode: 0, ...own, events: [], frame: rb.clock, adv: this.sync.adv(rb.clock), ack: rb.confirmed, reports: [] };
  }

  /** One tick; returns the ms to delay the next one. */
  tick(send) {
    const rb = this.rb;
    if (rb.finalDone) {
      if (rb.yours < rb.finalDone.frame) send(this.message()); // the others may still need them
      return 0;
    }
    if (rb.needsInput) rb.addLocal(this.script(rb.clock + rb.delay));
    send(this.message());
    const { plan, finals } = advance(rb, this.worker, this.sync.batch(rb.clock, this.maxBatch));
    if (plan) {
      this.check?.(plan, this);
      this.plans.push(plan);
    }
    for (const r of finals) this.finals.set(r.frame, r);
    const delay = this.sync.delay();
    if (delay > 0) this.delays++;
    return delay;
  }

  hear(m) {
    this.rb.receive(m.inputs);
    this.rb.acked(m.yours);
    this.sync.heard(m.frames, m.advs, this.rb.clock);
  }

  /** A final state, as net_channel.js answers net:state_request. */
  finalState() {
    const rb = this.rb;
    if (rb.next - 1 > rb.lastFinal) {
      const f = rb.lastFinal + 1;
      this.worker.netAdvance({ restore: f, first: f, steps: [], confirmed: rb.confirmed, hash: [], render: false });
      rb.rewind(f);
    }
    return this.worker.netState();
  }

  load(frame, snapshot) {
    this.worker.netLoad({ frame, snapshot });
    this.rb.load(frame);
    for (const f of [...this.finals.keys()]) if (f >= frame) this.finals.delete(f);
  }
}

/**
 * Members play one episode through a simulated server: every net:input and net:inputs is
 * delayed by latency + jitter (so they reorder) and lost with probability `loss`.
 */
function simulate(/** @type {Record<string, any>} */ options = {}) {
  /** @type {any} */
  const o = { humans: ["a", "b"], standIns: [], ai: [], D: 2, W: 8, H: 1, maxSteps: 80, endWhen: null, seed: 7, latency: 40, jitter: 30, loss: 0.1, starts: {}, limitMs: 120_000, ...options };
  const rng = random(o.seed * 7919 + 1);
  const log = new ServerLog(o.humans, o.D, 0, o.standIns);
  const players = o.humans.filter((a) => !o.standIns.includes(a));
  const members = new Map(players.map((a) => [a, new Member(a, o)]));
  const offline = new Set();
  const queue = [];
  let seq = 0;
  const at = (t, fn) => queue.push({ t, seq: seq++, fn });
  const net = (t, fn) => {
    if (rng() < o.loss) return;
    at(t + o.latency + o.jitter * rng(), fn);
  };
  /** @type {any} */
  const sim = { members, log, o, at, net, offline, now: 0 };
  const serverInput = (agent, message, t) => {
    if (offline.has(agent)) return;
    const added = log.input(agent, message);
    for (const other of players) {
      if (offline.has(other) || (other === agent ? !log.lagging(other) : !added)) continue;
      const m = log.messageFor(other);
      net(t, () => !offline.has(other) && sim.members.get(other).hear(m));
    }
    o.onServerInput?.(sim, agent, t);
  };
  const tickAt = (agent, t) =>
    at(t, (now) => {
      const member = sim.members.get(agent);
      const delay = offline.has(agent) ? 0 : member.tick((message) => net(now, (t2) => serverInput(agent, message, t2)));
      const tailDone = member.rb.finalDone && (member.rb.yours >= member.rb.finalDone.frame || now - member.doneAt > 5000);
      if (member.rb.finalDone && member.doneAt === null) member.doneAt = now;
      if (!tailDone) tickAt(agent, now + INTERVAL + delay);
    });
  for (const a of players) tickAt(a, o.starts[a] ?? 0);
  while (queue.length) {
    queue.sort((x, y) => x.t - y.t || x.seq - y.seq);
    const { t, fn } = /** @type {any} */ (queue.shift());
    if (t > o.limitMs) break;
    sim.now = t;
    fn(t);
  }
  return sim;
}

/** Every member finished, and each final frame equals the straight run of the logged inputs. */
function assertConverged(sim, { from = {} } = {}) {
  const { o, log, members } = sim;
  const { results } = straightRun(o.seed, log, { humans: o.humans, ai: o.ai, maxSteps: o.maxSteps, endWhen: o.endWhen });
  for (const member of members.values()) {
    assert.ok(member.rb.finalDone, `${member.agent} reached the final done frame`);
    assert.equal(member.rb.finalDone.frame, results.length - 1, `${member.agent}: the done frame`);
    for (const { hash, ...r } of results) {
      if (r.frame < (from[member.agent] ?? 0)) continue;
      const final = member.finals.get(r.frame);
      assert.ok(final, `${member.agent}: frame ${r.frame} is final`);
      const { hash: finalHash, ...fields } = final;
      assert.deepEqual(fields, r, `${member.agent}: frame ${r.frame} differs from the straight run`);
      if (finalHash !== undefined) assert.equal(finalHash, hash, `${member.agent}: the state after frame ${r.frame} differs`);
    }
  }
  return results;
}

describe("input timeline", () => {
  test("keeps the first value, stays contiguous across gaps, predicts the last known input", () => {
    const t = new InputTimeline(0);
    t.reset(0, 2);
    assert.equal(t.end, 2);
    assert.deepEqual(t.put(4, [3]), [4]); // beyond a gap: known, but not contiguous
    assert.equal(t.end, 2);
    assert.equal(t.guess(3), 0, "predicted: the last contiguous input");
    assert.equal(t.guess(4), 3, "a known input is used even beyond a gap");
    assert.deepEqual(t.put(2, [1, 2, 9]), [2, 3], "frame 4 keeps its first value");
    assert.equal(t.end, 5);
    assert.equal(t.guess(4), 3);
    assert.equal(t.guess(9), 3);
    assert.deepEqual(t.put(4, [1], true), [4], "override: the server's log of the own agent wins");
    assert.equal(t.guess(9), 1);
  });

  test("null is an input (the stand-in plays), and it is predicted like any other", () => {
    const t = new InputTimeline(0);
    t.reset(0, 1);
    t.put(1, [null]);
    assert.equal(t.end, 2);
    assert.ok(t.has(1));
    assert.equal(t.guess(1), null);
    assert.equal(t.guess(5), null);
  });
});

describe("rollback state", () => {
  const humans = ["a", "b"];
  const make = (o = {}) => {
    const rb = new RollbackState({ agents: humans, self: "a", defaultAction: 0, delay: 2, window: 8, hashEvery: 1, maxSteps: 60, ...o });
    const worker = new ToyWorker({ humans, maxSteps: 60, lockstep: o.window === 0, endWhen: o.endWhen ?? null });
    worker.netStart({ seed: 3 });
    return { rb, worker };
  };

  test("the restore point is the earliest frame whose inputs changed", () => {
    const { rb, worker } = make();
    for (let i = 0; i < 6; i++) {
      rb.addLocal(1);
      advance(rb, worker);
    }
    assert.equal(rb.next, 6);
    assert.equal(rb.confirmed, 1, "b's inputs: only the default frames 0 and 1");
    rb.receive({ b: { from: 2, actions: [0, 0, 2, 2] } }); // frames 2, 3 as predicted; 4 and 5 not
    assert.equal(rb.misses, 2);
    const { plan } = advance(rb, worker);
    assert.equal(plan?.restore, 4);
    assert.deepEqual(plan?.frames, [4, 5, 6]);
    assert.equal(plan?.rollbackFrames, 2);
    assert.deepEqual(plan?.steps.map((s) => s.b), [2, 2, 2], "frame 6 predicted from b's last input");

    // a known input changes the prediction of the frames after it too
    rb.addLocal(1);
    advance(rb, worker);
    rb.receive({ b: { from: 6, actions: [2] } });
    rb.receive({ b: { from: 7, actions: [3] } });
    const { plan: second } = advance(rb, worker);
    assert.equal(second?.restore, 7);
    assert.deepEqual(second?.steps.map((s) => s.b), [3, 3]);
  });

  test("frames become final once their inputs are confirmed, and only then", () => {
    const { rb, worker } = make();
    for (let i = 0; i < 5; i++) {
      rb.addLocal(1);
      assert.deepEqual(advance(rb, worker).finals.map((r) => r.frame), i < 2 ? [i] : []);
    }
    rb.receive({ b: { from: 2, actions: [0, 3] } });
    const { finals } = advance(rb, worker);
    assert.deepEqual(finals.map((r) => r.frame), [2, 3]);
    assert.equal(rb.lastFinal, 3);
    assert.ok(finals.every((r) => typeof r.hash === "string"), "H = 1: every frame hashed");
  });

  test("stalls past the prediction window, and goes on when inputs arrive", () => {
    const { rb, worker } = make({ window: 3 });
    let stepped = 0;
    for (let i = 0; i < 10; i++) {
      rb.addLocal(0);
      if (advance(rb, worker).plan) stepped++;
    }
    assert.equal(stepped, 5, "frames 0..4: confirmed (1) + W (3)");
    assert.equal(rb.clock, 5);
    assert.ok(rb.stalled);
    assert.equal(rb.plan(), null);
    rb.receive({ b: { from: 2, actions: [0] } });
    assert.ok(!rb.stalled);
    assert.deepEqual(advance(rb, worker).plan?.frames, [5]);
    assert.ok(rb.stalled);
  });

  test("lockstep never predicts: every frame waits for every input", () => {
    const { rb, worker } = make({ window: 0 });
    for (let i = 0; i < 3; i++) {
      rb.addLocal(1);
      advance(rb, worker);
    }
    assert.equal(rb.clock, 2, "frames 0 and 1 (defaults) only");
    rb.receive({ b: { from: 2, actions: [3, null] } });
    rb.addLocal(1);
    const { plan } = advance(rb, worker, 4);
    assert.deepEqual(plan?.frames, [2, 3]);
    assert.deepEqual(plan?.steps, [{ a: 1, b: 3 }, { a: 1, b: null }]);
    assert.equal(plan?.restore, null);
  });

  test("a predicted done waits for confirmation and can be rolled back", () => {
    const { rb, worker } = make({ endWhen: (state, chosen) => state.t >= 4 && chosen.b === 3 });
    rb.receive({ b: { from: 2, actions: [3] } });
    for (let i = 0; i < 6; i++) {
      rb.addLocal(0);
      advance(rb, worker);
    }
    assert.equal(rb.doneAt, 3, "frame 3 is done with b's predicted input 3");
    assert.equal(rb.lastFinal, 2);
    assert.equal(rb.finalDone, null);
    assert.equal(rb.plan(), null, "no frame after a predicted done");
    assert.ok(!rb.stalled);
    rb.receive({ b: { from: 3, actions: [0] } });
    const undone = advance(rb, worker);
    assert.equal(undone.plan?.restore, 3);
    assert.deepEqual(undone.plan?.frames, [3, 4], "frame 3 again, then a new frame");
    assert.deepEqual(undone.finals.map((r) => r.frame), [3]);
    assert.equal(rb.doneAt, null, "undone");
    assert.equal(rb.finalDone, null);
    rb.receive({ b: { from: 4, actions: [3] } });
    const { finals } = advance(rb, worker);
    assert.equal(/** @type {any} */ (rb).finalDone?.frame, 4);
    assert.deepEqual(finals.map((r) => r.frame), [4]);
    assert.equal(rb.plan(), null, "the episode is over");
  });

  test("a repair back to a final frame simulates it again with its real inputs", () => {
    const { rb, worker } = make();
    rb.receive({ b: { from: 2, actions: [3, 1, 2, 0, 0, 0, 0, 0] } });
    for (let i = 0; i < 8; i++) {
      rb.addLocal(1);
      advance(rb, worker);
    }
    assert.equal(rb.lastFinal, 7);
    const s3 = new ToyWorker({ humans, maxSteps: 60 });
    s3.netStart({ seed: 3 });
    s3.netAdvance({ restore: null, first: 0, steps: [{ a: 0, b: 0 }, { a: 0, b: 0 }, { a: 1, b: 3 }], confirmed: 0, hash: [], render: false });
    worker.netLoad({ frame: 3, snapshot: s3.netState().snapshot });
    rb.load(3);
    assert.equal(rb.lastFinal, 2);
    rb.addLocal(1);
    const { plan, finals } = advance(rb, worker);
    assert.deepEqual(plan?.frames, [3, 4, 5, 6, 7, 8], "up to the clock, and a new frame");
    assert.deepEqual(plan?.steps.slice(0, 3).map((x) => x.b), [1, 2, 0]);
    assert.deepEqual(finals.map((r) => r.frame), [3, 4, 5, 6, 7, 8]);
  });

  test("a repair older than the inputs kept is refused, naming the frames", () => {
    const { rb } = make();
    rb.own.forget(50);
    rb.timelines.get("b")?.put(2, new Array(60).fill(0));
    rb.timelines.get("b")?.forget(40);
    assert.throws(() => rb.load(10), /net:load: frame 10 is older than the inputs of agent "b" kept \(from frame 40\)/);
  });

  test("own inputs are resent from the server's last one", () => {
    const { rb } = make();
    assert.deepEqual(rb.unacked(), { from: 2, actions: [], keys: [] }, "nothing chosen yet");
    rb.addLocal(1, "ArrowUp");
    assert.deepEqual(rb.unacked(), { from: 2, actions: [1], keys: ["ArrowUp"] });
    rb.clock = 3; // a jump of the clock: the frames in between get the same input
    rb.addLocal(2, "");
    assert.deepEqual(rb.unacked(), { from: 2, actions: [1, 2, 2, 2], keys: ["ArrowUp", "", "", ""] });
    rb.acked(3);
    assert.deepEqual(rb.unacked(), { from: 4, actions: [2, 2], keys: ["", ""] });
  });
});

describe("time sync", () => {
  test("the page ahead is delayed a tenth of an interval per tick until k < 1; the one behind is not", () => {
    const ahead = new TimeSync("a", 30);
    ahead.heard({ b: 10 }, { b: -3 }, 14); // my adv 4, theirs -3: k = 3.5
    assert.equal(ahead.adv(14), 4);
    assert.equal(ahead.k, 3.5);
    const delays = [];
    for (let i = 0; i < 40; i++) delays.push(ahead.delay());
    assert.ok(delays.slice(0, 25).every((d) => Math.abs(d - 3) < 1e-9), "3 ms = 10 % of 30 ms, from k = 3.5 down to 1");
    assert.ok(delays.slice(25).every((d) => d === 0), "k < 1: no more delay");
    const behind = new TimeSync("b", 30);
    behind.heard({ a: 14 }, { a: 4 }, 10);
    assert.ok(behind.k < 0);
    assert.equal(behind.delay(), 0);
  });

  test("a page far behind steps several frames per tick; away members do not count", () => {
    const sync = new TimeSync("a", 30);
    sync.heard({ b: 40, c: 100 }, { b: 0, c: 0 }, 10);
    assert.equal(sync.batch(10, 32), 32, "c is 90 frames ahead");
    assert.equal(sync.batch(10, 32, (x) => x !== "c"), 16, "b is 30 ahead: 1 + 30 / 2");
    assert.equal(sync.batch(40 - CATCH_UP_FRAMES + 1, 32, (x) => x !== "c"), 1);
    assert.equal(sync.adv(10, (x) => x !== "b"), -90, "the slowest member here");
  });
});

describe("members through a lossy, delayed relay", () => {
  for (const [name, options] of /** @type {[string, any][]} */ ([
    ["2 members, 40±30 ms, 10 % loss", {}],
    ["2 members, 100 ms, 20 % loss, no input delay", { latency: 100, jitter: 60, loss: 0.2, D: 0, seed: 11 }],
    ["3 members and a random AI, 60±40 ms, 10 % loss", { humans: ["a", "b", "c"], ai: ["bot"], latency: 60, jitter: 40, seed: 5 }],
    ["2 members and a stand-in (null inputs)", { humans: ["a", "b", "s"], standIns: ["s"], seed: 9 }],
  ])) {
    test(`${name}: every final frame equals the straight run`, () => {
      const sim = simulate(options);
      const results = assertConverged(sim);
      assert.ok(results.length >= 25, "the episode ran");
      const rollbacks = [...sim.members.values()].reduce((n, m) => n + m.plans.filter((p) => p.restore !== null).length, 0);
      assert.ok(rollbacks > 0, "predictions were corrected");
      if (options.standIns) assert.ok(sim.log.inputs.s.includes(null));
    });
  }

  test("lockstep: no prediction, no rollback, same frames", () => {
    const check = (plan) => {
      assert.equal(plan.restore, null);
      assert.ok(plan.frames.at(-1) <= plan.confirmed, `frame ${plan.frames.at(-1)} simulated before its inputs (confirmed ${plan.confirmed})`);
    };
    assertConverged(simulate({ W: 0, check, seed: 21 }));
  });

  test("hashes every H frames and on the last frame", () => {
    const sim = simulate({ H: 5, loss: 0, seed: 4, endWhen: () => false });
    assert.equal(assertConverged(sim).length, 80);
    for (const member of sim.members.values()) {
      assert.equal(member.finals.size, 80);
      for (const [f, r] of member.finals) assert.equal(typeof r.hash === "string", (f + 1) % 5 === 0 || f === 79, `frame ${f}`);
    }
  });

  test("time sync brings a page that started ahead back in step", () => {
    const gaps = [];
    const sim = simulate({
      W: 30, loss: 0, latency: 30, jitter: 0, maxSteps: 150, endWhen: () => false, seed: 8, starts: { b: 300 },
      onServerInput: (s, agent, t) => {
        if (agent === "a" && t > 3000 && t < 3500) gaps.push(s.members.get("a").rb.clock - s.members.get("b").rb.clock);
      },
    });
    assertConverged(sim);
    assert.ok(sim.members.get("a").delays > 0);
    assert.ok(gaps.length > 0 && gaps.every((g) => Math.abs(g) <= 2), `clock gaps ${gaps}`);
  });

  test("a member that computed differently loads a snapshot (repair) and is back in step", () => {
    /** @type {any} */
    let repaired = null;
    const sim = simulate({
      bugAt: { b: 30 }, seed: 13, loss: 0.05, endWhen: () => false,
      onServerInput: (s, _agent, t) => {
        const [a, b] = [s.members.get("a"), s.members.get("b")];
        if (repaired) return;
        for (const [f, r] of b.finals) {
          const other = a.finals.get(f);
          if (!other || other.hash === r.hash) continue;
          const state = a.finalState();
          repaired = { frame: state.frame, desync: f };
          s.at(t + 40, () => b.load(state.frame, state.snapshot));
          return;
        }
      },
    });
    assert.ok(repaired, "the desync was seen");
    assert.equal(repaired.desync, 29, "the frame whose step differed");
    assertConverged(sim, { from: { b: repaired.frame } });
  });

  test("a member who reloads resumes from a snapshot and the logged inputs, and catches up", () => {
    let resumedAt = null;
    const sim = simulate({
      seed: 17, loss: 0.05, maxSteps: 120, endWhen: () => false,
      onServerInput: (s, agent, t) => {
        if (agent !== "a" || t < 1200 || s.offline.has("b") || resumedAt !== null) return;
        s.offline.add("b"); // the tab reloads: gone for a second
        s.at(t + 1000, () => {
          const state = s.members.get("a").finalState();
          const inputs = {};
          for (const [x, log] of Object.entries(s.log.inputs)) inputs[x] = { from: state.frame, actions: log.slice(state.frame) };
          const fresh = new Member("b", s.o);
          fresh.worker.netLoad({ frame: state.frame, snapshot: state.snapshot });
          fresh.rb.resume(state.frame, inputs);
          s.members.set("b", fresh);
          s.offline.delete("b");
          resumedAt = state.frame;
        });
      },
    });
    assert.ok(resumedAt !== null && resumedAt > 0);
    assertConverged(sim, { from: { b: resumedAt } });
    const fresh = sim.members.get("b");
    assert.ok(fresh.plans.some((p) => p.restore === null && p.frames.length > 1), "several new frames per tick while behind");
  });
});

describe("fixed-step loop delay", () => {
  test("delay(ms) moves the next slots later without counting them late", async () => {
    const ticks = [];
    const loop = new FixedStepLoop(50, async (tick) => {
      ticks.push(tick);
      if (ticks.length === 2) loop.delay(15);
      return ticks.length < 4;
    });
    await loop.run();
    // a slot's time: the anchor + slot × 20 ms (+ the delay once it was asked for)
    const shift = (/** @type {any} */ tick) => tick.target - ticks[0].target - 20 * (tick.slot - ticks[0].slot);
    assert.ok(Math.abs(shift(ticks[1])) < 1e-6, "on schedule before the delay");
    assert.ok(Math.abs(shift(ticks[2]) - 15) < 1e-6, "the next slot moved 15 ms later");
    assert.ok(Math.abs(shift(ticks[3]) - 15) < 1e-6, "and the ones after it");
    assert.ok(ticks[2].start >= ticks[2].target, "and the tick waited for it");
  });
});

// -- the channel over fake sockets ------------------------------------------------------------

class FakeSocket {
  constructor(server, agent) {
    this.server = server;
    this.agent = agent;
    this.connected = true;
    this.sent = [];
    this.listeners = new Map();
  }
  on(event, listener) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(listener);
  }
  off(event, listener) {
    this.listeners.get(event)?.delete(listener);
  }
  emit(event, payload) {
    this.sent.push([event, payload]);
    this.server.receive(this.agent, event, payload);
  }
  timeout() {
    return {
      emitWithAck: async (event, payload) => {
        this.sent.push([event, payload]);
        return this.server.ask(this.agent, event, payload);
      },
    };
  }
  push(event, payload) {
    for (const listener of [...(this.listeners.get(event) ?? [])]) listener(payload);
  }
  names() {
    return [...new Set(this.sent.map(([e]) => e))];
  }
}

/** The server half as far as these tests need it: join, episode, play barrier, relay. */
class FakeServer {
  constructor(humans, D) {
    this.humans = humans;
    this.D = D;
    this.log = new ServerLog(humans, D, 0);
    this.sockets = new Map();
    this.waiting = [];
    this.states = [];
    this.left = [];
    this.rng = random(99);
    this.onInput = null;
    /** The agents net:play waits for. */
    this.barrier = [...humans];
    /** Agents that come back to an episode under way: net:episode answers them a resume. */
    this.resumeFor = new Set();
    /** @type {((state: any) => void) | null} */
    this.stateWaiter = null;
    /** Episodes whose end was announced (net:episode_end). */
    this.stored = new Set();
  }
  /** One way over the network: 8 to 28 ms (messages reorder). */
  later(fn) {
    setTimeout(fn, 8 + 20 * this.rng());
  }
  async ask(agent, event, p) {
    if (event === "net:join") {
      return {
        agent_id: agent, agents: this.humans, members: Object.fromEntries(this.humans.map((a) => [a, "here"])),
        episode: this.resumeFor.has(agent) ? 0 : null,
        netcode: "rollback", input_delay_frames: this.D, max_prediction_frames: 8, hash_every_frames: 5,
        stand_ins: {},
      };
    }
    if (event === "net:episode") {
      if (!this.resumeFor.has(agent)) return { episode: p.episode, seed: 1000 + p.episode, resume: null };
      const source = this.humans.find((a) => a !== agent);
      const state = await new Promise((resolve) => {
        this.stateWaiter = resolve;
        this.sockets.get(source).push("net:state_request", { scene_id: "duo", episode: p.episode, request_id: "resume" });
      });
      this.log.acks[agent] = state.frame - 1;
      const inputs = Object.fromEntries(this.humans.map((a) => [a, { from: state.frame, actions: this.log.inputs[a].slice(state.frame) }]));
      return { episode: p.episode, seed: 1000 + p.episode, resume: { frame: state.frame, snapshot: state.snapshot, hash: state.hash, inputs } };
    }
    if (event === "net:play") {
      if (!this.barrier.includes(agent)) return { start: true };
      return new Promise((resolve) => {
        this.waiting.push(resolve);
        if (this.waiting.length === this.barrier.length) for (const r of this.waiting.splice(0)) r({ start: true });
      });
    }
    throw new Error(`unexpected ${event}`);
  }
  receive(agent, event, p) {
    if (event === "net:input") {
      this.later(() => {
        const added = this.log.input(agent, p);
        for (const other of this.humans) {
          if (other === agent ? !this.log.lagging(other) : !added) continue;
          const m = this.log.messageFor(other, p.episode);
          this.later(() => this.sockets.get(other).push("net:inputs", m));
        }
        this.onInput?.(agent, p);
        // The episode's rows are "stored" once a member reports its done frame.
        if ((p.reports ?? []).some((r) => r.done) && !this.stored.has(p.episode)) {
          this.stored.add(p.episode);
          const end = { scene_id: "duo", episode: p.episode, summary: {} };
          for (const other of this.humans) this.later(() => this.sockets.get(other).push("net:episode_end", end));
        }
      });
    } else if (event === "net:state") {
      this.states.push([agent, p]);
      this.stateWaiter?.(p);
      this.stateWaiter = null;
    }
    else if (event === "net:leave") this.left.push(agent);
  }
}

function channelSetup({ maxSteps = 40, humans = ["a", "b"] } = {}) {
  const server = new FakeServer(humans, 2);
  const scene = /** @type {any} */ ({
    scene_id: "duo", runtime: "browser", group: true, human: null, humans, fps: 100, default_action: 0,
    step_timeout_s: 2, load_timeout_s: 2, max_steps: maxSteps, netcode: "rollback", episodes: 1,
  });
  const pages = humans.map((agent) => {
    const socket = new FakeSocket(server, agent);
    server.sockets.set(agent, socket);
    const records = [];
    const worker = new ToyWorker({ humans, maxSteps });
    const loader = Object.assign(new EventTarget(), {
      progress: { stage: "ready", message: "Ready", fraction: 1 }, ready: true, attempts: 1, loadMs: 5, pythonLoad: null,
      start: async () => ({ worker, game: { multiAgent: true, agents: humans, numActions: 4, renderSize: null, hasRender: true } }),
      retry: async () => {},
    });
    const abort = new AbortController();
    const ctx = /** @type {any} */ ({
      attempt: 1, signal: abort.signal,
      record: (kind, fields) => records.push({ kind, ...fields }),
      event: (type, data) => records.push({ kind: "event", data: { type, ...data } }),
      connection: { socket, connected: () => Promise.resolve() },
    });
    const channel = new NetChannel(scene, ctx, { loader });
    let takes = 0;
    const hold = agent === "a" ? 4 : 7;
    /** @type {any} */
    const input = {
      attach() {}, detach() {}, reset() {}, onChange: () => () => {},
      take: () => ({ action: (Math.floor(takes++ / hold) + agent.charCodeAt(0)) % 4, keys: "k", events: [{ type: "down", key: " ", t: 1.234 }] }),
    };
    return { agent, socket, records, worker, channel, input, abort };
  });
  return { server, scene, pages };
}

const shown = () => ({ drawMs: 0.5, drawnAt: performance.now(), error: null });

/** Load, start and play episode 0 on every page; resolves with the summaries. */
async function playAll(pages) {
  for (const p of pages) await p.channel.load(() => {});
  for (const p of pages) assert.deepEqual((await p.channel.startEpisode(0, null)).seed, 1000);
  const summaries = await Promise.all(pages.map((p) => p.channel.play(0, { onFrame: shown, input: p.input })));
  await new Promise((resolve) => setTimeout(resolve, 120)); // the server's last messages
  return summaries;
}

describe("net channel", () => {
  test("two pages play an episode through the server and agree on every frame", async () => {
    const { server, pages } = channelSetup();
    const summaries = await playAll(pages);
    const { results } = straightRun(1000, server.log, { humans: ["a", "b"], maxSteps: 40 });
    const total = results.reduce((sum, r) => sum + r.reward.a + r.reward.b, 0);
    for (const s of summaries) {
      assert.equal(s.length, results.length);
      assert.equal(s.return, total);
      assert.deepEqual(s.returns, { a: results.reduce((x, r) => x + r.reward.a, 0), b: results.reduce((x, r) => x + r.reward.b, 0) });
      assert.equal(s.terminated, results[results.length - 1].terminated);
      assert.ok(["terminated", "max_steps"].includes(s.ended_by), s.ended_by);
      assert.equal(s.netcode, "rollback");
    }
    assert.ok(summaries.some((s) => s.rollbacks > 0), "predictions were corrected");
    for (const { agent, socket, records, channel } of pages) {
      assert.deepEqual(socket.names().slice(0, 4), ["net:join", "net:episode", "net:play", "net:input"]);
      const reports = server.log.reports[agent];
      for (const r of results) {
        const report = reports.get(r.frame);
        assert.ok(report, `${agent} reported frame ${r.frame}`);
        const { hash, ...fields } = report;
        assert.deepEqual(fields, { frame: r.frame, actions: r.actions, reward: r.reward, terminated: r.terminated, truncated: r.truncated, done: r.done, info: r.info });
        const hashed = (r.frame + 1) % 5 === 0 || r.frame === results.length - 1;
        assert.equal(hash === undefined ? undefined : hash, hashed ? r.hash : undefined, `${agent}: hash of frame ${r.frame}`);
      }
      const inputs = socket.sent.filter(([e]) => e === "net:input").map(([, m]) => m);
      const copies = new Map();
      for (const m of inputs) for (const r of m.reports) copies.set(r.frame, (copies.get(r.frame) ?? 0) + 1);
      assert.ok([...copies.values()].every((n) => n === REPORT_REPEATS), "each report sent REPORT_REPEATS times");
      assert.deepEqual(Object.keys(inputs[0]).sort(), ["ack", "actions", "adv", "episode", "events", "frame", "from", "keys", "reports", "scene_id"]);
      assert.ok(records.length > 0 && records.every((r) => r.kind === "input"), "the page records inputs only");
      assert.deepEqual(Object.keys(records[0].data).sort(), [
        "action", "adv", "confirmed_frame", "draw_ms", "focus", "frame", "key_events", "keys", "netcode", "predicted",
        "prediction_misses", "rollback_frames", "runtime", "shown_frame", "stalled_ms", "sync_delay_ms", "tick_late_ms", "tick_t", "worker_ms",
      ]);
      assert.deepEqual(records[0].data.key_events, [["down", "Space", 1.23]]);
      assert.equal(records[0].data.frame, 2, "the first own input is for frame D");
      assert.ok(groupChannel(channel), "a group channel for the session");
      assert.equal(channel.agentId, agent);
    }
    for (const { channel, socket, worker } of pages) {
      channel.destroy();
      assert.deepEqual(socket.sent.at(-1), ["net:leave", { scene_id: "duo" }]);
      assert.ok(worker.destroyed);
    }
  });

  test("a state request is answered with a final state, and net:load repairs a page", async () => {
    const { server, pages } = channelSetup({ maxSteps: 60 });
    const [a, b] = pages;
    let asked = false;
    server.onInput = (agent, m) => {
      if (agent !== "a" || m.frame < 15 || asked) return;
      asked = true;
      a.socket.push("net:state_request", { scene_id: "duo", episode: 0, request_id: "r1" });
      setTimeout(() => {
        const [, state] = server.states[0];
        b.socket.push("net:load", { scene_id: "duo", episode: 0, frame: state.frame, snapshot: state.snapshot, reason: "desync", hash: state.hash });
      }, 5);
    };
    const summaries = await playAll(pages);
    assert.equal(server.states.length, 1);
    const [agent, state] = server.states[0];
    assert.equal(agent, "a");
    assert.equal(state.request_id, "r1");
    const { states, results } = straightRun(1000, server.log, { humans: ["a", "b"], maxSteps: 60 });
    assert.deepEqual(state.snapshot, states[state.frame], "the snapshot is the final state of its frame");
    assert.ok(b.records.some((r) => r.kind === "event" && r.data.type === "desync_loaded" && r.data.frame === state.frame));
    assert.equal(summaries[0].return, summaries[1].return);
    assert.equal(summaries[1].length, results.length);
    for (const p of pages) p.channel.destroy();
  });

  test("a page that comes back mid-episode resumes from a member's final state and catches up", async () => {
    const { server, pages } = channelSetup({ maxSteps: 80 });
    const [a, b] = pages;
    server.barrier = ["a"];
    server.resumeFor.add("b");
    await a.channel.load(() => {});
    await a.channel.startEpisode(0, null);
    const playing = a.channel.play(0, { onFrame: shown, input: a.input });
    const rb = /** @type {any} */ (a.channel.current).rb;
    for (let waited = 0; !rb.stalled && waited < 5000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(rb.clock, 10, "a plays alone up to its window: confirmed (1) + W (8)");
    await b.channel.load(() => {});
    assert.deepEqual(b.channel.resumeAt, { episode: 0, step: 0 });
    await b.channel.startEpisode(0, null);
    const [sa, sb] = await Promise.all([playing, b.channel.play(0, { onFrame: shown, input: b.input })]);
    await new Promise((resolve) => setTimeout(resolve, 120));
    const [, state] = server.states[0];
    assert.equal(state.frame, 2, "the last final state of a: frames 0 and 1 (the delay's)");
    assert.ok(b.records.some((r) => r.kind === "event" && r.data.type === "net_resumed" && r.data.frame === 2));
    assert.equal(sb.length, sa.length);
    assert.equal(sb.terminated, sa.terminated);
    const { results } = straightRun(1000, server.log, { humans: ["a", "b"], maxSteps: 80 });
    assert.equal(sa.length, results.length);
    for (const r of results.slice(2)) assert.deepEqual(server.log.reports.b.get(r.frame), server.log.reports.a.get(r.frame), `frame ${r.frame}`);
    for (const p of pages) p.channel.destroy();
  });

  test("net:end ends the episode for good: ended_by member_left", async () => {
    const { server, pages } = channelSetup({ maxSteps: 500 });
    server.onInput = (agent, m) => {
      if (agent === "a" && m.frame === 10) for (const p of pages) p.socket.push("net:end", { scene_id: "duo", reason: "member_left" });
    };
    const summaries = await playAll(pages);
    for (const s of summaries) assert.equal(s.ended_by, "member_left");
    for (const p of pages) {
      assert.ok(p.channel.groupEnded);
      p.channel.destroy();
    }
  });
});
