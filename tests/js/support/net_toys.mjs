// Stand-ins for the other halves of a browser group game, for the rollback tests: a toy
// deterministic env behind the worker's netcode operations (netStart, netAdvance, netState,
// netLoad, as interactive_gym/runtime/netcode.py answers them) and the server's input log
// (first value wins, contiguous inputs only, resends from the recipient's ack).

/** A small seeded generator (mulberry32). @param {number} seed */
export function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const clone = (value) => JSON.parse(JSON.stringify(value));
export const hashOf = (state) => JSON.stringify(state);

/**
 * The toy env: every agent's position moves by its action; rewards and the end depend on the
 * positions, so a wrong input shows in the state. A null input (or an AI agent) draws its
 * action from the state's own generator, as the worker's stand-in and random agents do.
 */
export function toyReset(seed, agents) {
  return { t: 0, rng: seed % 2147483647 || 1, pos: Object.fromEntries(agents.map((a, i) => [a, i])), done: false };
}

/**
 * @typedef {{humans: string[], ai?: string[], maxSteps: number, lockstep?: boolean,
 *   endWhen?: ((state: any, chosen: any) => boolean) | null, bugAt?: number | null}} ToyOptions
 */

/** @param {any} state  @param {Record<string, any>} actions  @param {ToyOptions} options */
export function toyStep(state, actions, { humans, ai = [], maxSteps, endWhen = null, bugAt = null }) {
  const draw = () => (state.rng = (state.rng * 48271) % 2147483647) % 4;
  const chosen = {};
  for (const a of humans) chosen[a] = actions[a] === null || actions[a] === undefined ? draw() : actions[a];
  for (const a of ai) chosen[a] = draw();
  const reward = {};
  for (const [a, action] of Object.entries(chosen)) {
    state.pos[a] = (state.pos[a] * 5 + action + 1) % 101;
    reward[a] = state.pos[a] % 4 === 0 ? 1 : 0;
  }
  state.t++;
  if (state.t === bugAt) state.pos[humans[0]] += 1; // a worker that computes differently
  const sum = Object.values(state.pos).reduce((x, y) => x + y, 0);
  const terminated = endWhen ? endWhen(state, chosen) : state.t >= 25 && sum % 11 === 0;
  const truncated = !terminated && state.t >= maxSteps;
  state.done = terminated || truncated;
  return { actions: chosen, reward, terminated, truncated, done: state.done, info: { t: state.t } };
}

/** The worker's netcode operations over the toy env (synchronous; `call` for the channel). */
export class ToyWorker {
  /** @param {ToyOptions} options */
  constructor({ humans, ai = [], maxSteps = 60, lockstep = false, endWhen = null, bugAt = null }) {
    this.endWhen = endWhen;
    this.bugAt = bugAt;
    this.humans = humans;
    this.ai = ai;
    this.maxSteps = maxSteps;
    this.lockstep = lockstep;
    this.calls = [];
    this.destroyed = false;
    /** @type {any} */ this.state = null;
    this.frame = 0;
    /** @type {Map<number, any>} */ this.snapshots = new Map();
  }

  _view() {
    return { render: [{ type: "text", text: String(this.state.t) }], hud: `t=${this.state.t}` };
  }

  netStandIns({ stand_ins }) {
    this.standIns = stand_ins;
    return { stand_ins: Object.keys(stand_ins).sort() };
  }

  netStart({ seed }) {
    this.state = toyReset(seed, [...this.humans, ...this.ai]);
    this.frame = 0;
    this.snapshots = new Map([[0, clone(this.state)]]);
    return { ...this._view(), info: {}, hash: hashOf(this.state) };
  }

  netAdvance({ restore, first, steps, confirmed, hash, render }) {
    if (restore !== null) {
      const snapshot = this.snapshots.get(restore);
      if (!snapshot) throw new Error(`netAdvance: no snapshot of frame ${restore}`);
      this.state = clone(snapshot);
      this.frame = restore;
      for (const f of [...this.snapshots.keys()]) if (f > restore) this.snapshots.delete(f);
    }
    if (first !== this.frame) throw new Error(`netAdvance: first is ${first} but the next frame is ${this.frame}`);
    const results = [];
    for (const actions of steps) {
      if (this.state.done) break;
      for (const agent of this.humans) if (!(agent in actions)) throw new Error(`netAdvance: no action for ${agent}`);
      if (!this.lockstep) this.snapshots.set(this.frame, clone(this.state));
      /** @type {Record<string, any>} */
      const result = { frame: this.frame, ...toyStep(this.state, actions, this) };
      if (hash.includes(this.frame)) result.hash = hashOf(this.state);
      results.push(result);
      this.frame++;
    }
    for (const f of [...this.snapshots.keys()]) if (f < confirmed - 1) this.snapshots.delete(f);
    return { results, ...(render ? this._view() : { render: null, hud: null }), frame: this.frame, done: this.state.done };
  }

  netState() {
    return { frame: this.frame, snapshot: clone(this.state), hash: hashOf(this.state) };
  }

  netLoad({ frame, snapshot }) {
    this.state = clone(snapshot);
    this.frame = frame;
    this.snapshots = new Map([[frame, clone(this.state)]]);
    return { frame, hash: hashOf(this.state), ...this._view() };
  }

  /** The PyodideWorker-like asynchronous API. */
  async call(type, payload) {
    if (this.destroyed) throw new Error("the worker was destroyed");
    this.calls.push([type, payload]);
    await Promise.resolve();
    return this[type](payload);
  }

  destroy() {
    this.destroyed = true;
  }
}

/** A straight run of the toy env with the logged inputs: the result of every frame. */
export function straightRun(seed, log, options) {
  const worker = new ToyWorker(options);
  worker.netStart({ seed });
  const results = [];
  const states = [];
  while (!worker.state.done) {
    const f = worker.frame;
    states.push(clone(worker.state));
    const actions = Object.fromEntries(options.humans.map((a) => [a, log.inputs[a][f]]));
    if (options.humans.some((a) => f >= log.inputs[a].length)) throw new Error(`the log has no input of frame ${f}`);
    results.push(worker.netAdvance({ restore: null, first: f, steps: [actions], confirmed: f, hash: [f], render: false }).results[0]);
  }
  states.push(clone(worker.state));
  return { results, states, worker };
}

/**
 * The server's input log of one episode: inputs are kept contiguous (first value wins), and
 * agents in `standIns` get `null` inputs as the others' arrive.
 */
export class ServerLog {
  constructor(humans, delay, defaultAction, standIns = []) {
    this.humans = humans;
    this.standIns = standIns;
    /** @type {Record<string, any[]>} */
    this.inputs = Object.fromEntries(humans.map((a) => [a, new Array(delay).fill(defaultAction)]));
    this.frames = {};
    this.advs = {};
    /** @type {Record<string, number>} */
    this.acks = Object.fromEntries(humans.map((a) => [a, -1]));
    /** @type {Record<string, Map<number, any>>} the first report of each frame per agent */
    this.reports = Object.fromEntries(humans.map((a) => [a, new Map()]));
  }

  /** A member's net:input; true when it brought new inputs. */
  input(agent, m) {
    const log = this.inputs[agent];
    let added = false;
    m.actions.forEach((action, i) => {
      if (m.from + i === log.length) {
        log.push(action);
        added = true;
      }
    });
    this.frames[agent] = m.frame;
    this.advs[agent] = m.adv;
    this.acks[agent] = Math.max(this.acks[agent], m.ack);
    for (const r of m.reports ?? []) if (!this.reports[agent].has(r.frame)) this.reports[agent].set(r.frame, r);
    if (added) {
      const longest = Math.max(...this.humans.filter((a) => !this.standIns.includes(a)).map((a) => this.inputs[a].length));
      for (const a of this.standIns) while (this.inputs[a].length < longest) this.inputs[a].push(null);
    }
    return added;
  }

  /** The net:inputs for `agent`: the others' inputs after its ack. */
  messageFor(agent, episode = 0) {
    const from = this.acks[agent] + 1;
    const inputs = {};
    for (const a of this.humans) if (a !== agent) inputs[a] = { from, actions: this.inputs[a].slice(from) };
    return { scene_id: "duo", episode, inputs, frames: { ...this.frames }, advs: { ...this.advs }, yours: this.inputs[agent].length - 1 };
  }

  /** The member lacks inputs the log has (its ack is behind another agent's log). */
  lagging(agent) {
    return this.humans.some((a) => a !== agent && this.inputs[a].length - 1 > this.acks[agent]);
  }
}
