// @ts-check
/**
 * The bookkeeping of rollback netcode in a browser group game, as pure logic (no DOM, socket
 * or worker): which inputs are known, what is predicted, what the worker simulates each tick,
 * which frames are final, when to stall, and how far ahead of the others this page runs.
 * game/net_channel.js drives it with the inputs the server relays (`net:inputs`) and the
 * worker's `netAdvance` replies (interactive_gym/runtime/netcode.py is the worker half;
 * docs/netcode.md has the vocabulary: frame, D, W, H, confirmed, final).
 *
 *   const rb = new RollbackState({ agents, self, defaultAction, delay: D, window: W, hashEvery: H });
 *   rb.addLocal(action, keys);               // own input for frame clock + D
 *   rb.receive(inputs);                      // {agent: {from, actions}} from net:inputs
 *   const plan = rb.plan(batch);             // {restore, first, steps, confirmed, hash} | null
 *   rb.apply(plan, await worker.call("netAdvance", request(plan)));
 *   const finals = rb.finalize();            // results of the frames that became final
 *
 * A frame is simulated with, for every human agent, its known input or else its prediction
 * (the agent's last known input; `default_action` before any). The inputs each simulated frame
 * used are kept: when a frame's best guess changes (an input arrives that differs from the
 * prediction), the earliest such frame is where the next `netAdvance` restores and re-simulates
 * from. A frame becomes final once every input up to it is known and it was simulated with
 * exactly those inputs; only final frames are reported, and only a final done frame ends the
 * episode (a predicted one stops the stepping until it is confirmed or rolled back).
 * @module game/rollback
 */

/** Catch up when the others are this many frames ahead (or more). */
export const CATCH_UP_FRAMES = 3;
/** The share of an interval a tick is delayed by while this page runs ahead. */
export const SYNC_STEP = 0.1;
/** Inputs of final frames are kept this long (a repair may go back to a final frame). */
export const KEEP_FRAMES = 1024;

/**
 * What one `netAdvance` asks of the worker (its request is `{restore, first, steps, confirmed,
 * hash, render: true}`); `frames` are the frames of `steps`.
 * @typedef {{restore: number | null, first: number, frames: number[],
 *   steps: Record<string, any>[], confirmed: number, hash: number[], rollbackFrames: number}} Plan
 */

/**
 * One frame's result from the worker.
 * @typedef {{frame: number, actions: Record<string, any>, reward: any, terminated: boolean,
 *   truncated: boolean, done: boolean, info: any, hash?: string}} FrameResult
 */

/** Inputs compare by value (an int, null, or a JSON-like value). @param {any} a  @param {any} b */
export function sameInput(a, b) {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** One agent's inputs by frame: known ones (first value wins) and the prediction for the rest. */
export class InputTimeline {
  /** @param {any} defaultAction */
  constructor(defaultAction) {
    this.defaultAction = defaultAction;
    /** @type {Map<number, any>} */ this.inputs = new Map();
    /** Frames before `base` are not needed (the state after them is given). */
    this.base = 0;
    /** The first frame from `base` on whose input is not known. */
    this.end = 0;
    /** The prediction: the input of frame `end - 1` (the default before any). */
    this.last = defaultAction;
    /** Inputs of frames before `floor` were forgotten. */
    this.floor = 0;
  }

  /**
   * Start over at frame `base`; frames before `defaults` have the default action.
   * @param {number} base  @param {number} defaults
   */
  reset(base, defaults) {
    this.inputs.clear();
    this.base = this.end = this.floor = base;
    this.last = this.defaultAction;
    for (let f = base; f < defaults; f++) this.inputs.set(f, this.defaultAction);
    this._advance();
  }

  /** @param {number} frame */
  has(frame) {
    return frame < this.base || this.inputs.has(frame);
  }

  /** The known input of `frame`, or else the prediction. @param {number} frame */
  guess(frame) {
    return this.inputs.has(frame) ? this.inputs.get(frame) : this.last;
  }

  /**
   * Inputs from frame `from` on. A known frame keeps its value unless `override` (the server's
   * log of the page's own agent, which wins over what the page chose).
   * @param {number} from  @param {any[]} actions  @param {boolean} [override]
   * @returns {number[]} the frames whose value is new or changed
   */
  put(from, actions, override = false) {
    /** @type {number[]} */
    const changed = [];
    actions.forEach((action, i) => {
      const frame = from + i;
      if (frame < this.base) return;
      if (this.inputs.has(frame) && (!override || sameInput(this.inputs.get(frame), action))) return;
      this.inputs.set(frame, action === undefined ? null : action);
      changed.push(frame);
    });
    if (changed.length) this._advance();
    return changed;
  }

  /** Frames before `base` are no longer needed: treat them as known. @param {number} base */
  rebase(base) {
    if (base <= this.base) return;
    for (const frame of this.inputs.keys()) if (frame < base) this.inputs.delete(frame);
    this.base = base;
    this.floor = Math.max(this.floor, base);
    this.end = Math.max(this.end, base);
    this._advance();
  }

  /** Forget the inputs of frames before `frame` (the prediction is kept). @param {number} frame */
  forget(frame) {
    const keep = Math.min(frame, this.end - 1);
    if (keep <= this.floor) return;
    for (const f of this.inputs.keys()) if (f < keep) this.inputs.delete(f);
    this.floor = keep;
  }

  _advance() {
    while (this.inputs.has(this.end)) this.end++;
    if (this.inputs.has(this.end - 1)) this.last = this.inputs.get(this.end - 1);
  }
}

/** Adds a step's reward to per-agent sums (a number reward counts for every agent: "*"). */
function addReward(/** @type {Record<string, number>} */ sums, /** @type {any} */ reward, sign = 1) {
  if (reward !== null && typeof reward === "object") {
    for (const [agent, r] of Object.entries(reward)) sums[agent] = (sums[agent] ?? 0) + sign * (Number(r) || 0);
  } else sums["*"] = (sums["*"] ?? 0) + sign * (Number(reward) || 0);
}

/** @param {Record<string, number>} sums */
const total = (sums) => Object.values(sums).reduce((a, b) => a + b, 0);

/**
 * @typedef {object} RollbackOptions
 * @property {string[]} agents        the human agents (every one has an input per frame)
 * @property {string} self            the page's own agent
 * @property {any} defaultAction
 * @property {number} delay           D: own keys at frame n are the input of frame n + D
 * @property {number} window          W: frame n is simulated only if n <= confirmed + W
 *                                    (0: lockstep, never a prediction)
 * @property {number} hashEvery       H: hash the frames f with (f + 1) % H == 0 (0: none)
 * @property {number | null} [maxSteps]  the episode's last frame is maxSteps - 1 (hashed)
 */

/** One episode's rollback state on one page. */
export class RollbackState {
  /** @param {RollbackOptions} options */
  constructor(options) {
    this.agents = options.agents;
    this.self = options.self;
    if (!this.agents.includes(this.self)) throw new Error(`agent ${JSON.stringify(this.self)} is not one of the human agents ${JSON.stringify(this.agents)}`);
    this.delay = options.delay;
    this.window = options.window;
    this.hashEvery = options.hashEvery;
    this.maxSteps = options.maxSteps ?? null;
    /** @type {Map<string, InputTimeline>} */
    this.timelines = new Map(this.agents.map((a) => [a, new InputTimeline(options.defaultAction)]));
    /** The worker's next frame (its state is S_next). */
    this.next = 0;
    /** The page's clock: the next frame never simulated yet (n). */
    this.clock = 0;
    /** @type {number} */
    this.lastFinal = -1;
    /** @type {Map<number, {used: Record<string, any>, result: FrameResult}>} simulated, not final */
    this.sims = new Map();
    /** @type {Map<number, any>} the reward of every final frame */
    this.rewards = new Map();
    /** @type {Record<string, number>} per-agent sums of the final frames' rewards */
    this.returns = {};
    /** @type {number | null} a predicted done frame: no new frames until it is final or undone */
    this.doneAt = null;
    /** @type {FrameResult | null} the episode's final done frame */
    this.finalDone = null;
    /** The last own frame the server has (frames before D are known without a message). */
    this.yours = -1;
    /** @type {Map<number, string>} own frame → the keys that chose its input */
    this.keys = new Map();
    /** @type {number} remote inputs that differed from what a simulated frame used (since read) */
    this.misses = 0;
    this.start(0);
  }

  get lockstep() {
    return this.window === 0;
  }

  /**
   * Start the episode at `frame` (0, or the frame of a snapshot loaded on resume) with the
   * inputs logged from there (`{agent: {from, actions}}`, the page's own agent included).
   * @param {number} frame  @param {Record<string, any> | null} [inputs]
   */
  start(frame, inputs = null) {
    for (const timeline of this.timelines.values()) timeline.reset(frame, this.delay);
    this.next = this.clock = frame;
    this.lastFinal = frame - 1;
    this.sims = new Map();
    this.rewards = new Map();
    this.returns = {};
    this.doneAt = null;
    this.finalDone = null;
    this.yours = this.own.end - 1;
    this.keys = new Map();
    this.misses = 0;
    if (inputs) {
      this.receive(inputs);
      this.yours = this.own.end - 1;
    }
  }

  get own() {
    return /** @type {InputTimeline} */ (this.timelines.get(this.self));
  }

  /** The highest frame whose inputs are all known (-1: none). */
  get confirmed() {
    let end = Infinity;
    for (const timeline of this.timelines.values()) end = Math.min(end, timeline.end);
    return end - 1;
  }

  /** Waiting for inputs: the next new frame is past the prediction window. */
  get stalled() {
    return this.doneAt === null && this.finalDone === null && this.clock > this.confirmed + this.window;
  }

  /** The page must choose its own input for frame clock + D. */
  get needsInput() {
    return this.own.end <= this.clock + this.delay;
  }

  /** Every agent's best guess for `frame`. @param {number} frame */
  inputsFor(frame) {
    /** @type {Record<string, any>} */
    const actions = {};
    for (const [agent, timeline] of this.timelines) actions[agent] = timeline.guess(frame);
    return actions;
  }

  /** @param {Record<string, any>} used  @param {number} frame */
  _matches(used, frame) {
    for (const [agent, timeline] of this.timelines) if (!sameInput(used[agent], timeline.guess(frame))) return false;
    return true;
  }

  /**
   * The page's own input, for every own frame not chosen yet up to clock + D (one frame,
   * several after a jump of the clock). Returns the input's frame, or null when none needed it.
   * @param {any} action  @param {string} [keys]
   */
  addLocal(action, keys = "") {
    const own = this.own;
    const upto = this.clock + this.delay;
    if (own.end > upto) return null;
    const from = own.end;
    own.put(from, new Array(upto - from + 1).fill(action));
    for (let f = from; f <= upto; f++) this.keys.set(f, keys);
    return upto;
  }

  /**
   * Own inputs the server may not have: `{from, actions, keys}` from `yours + 1` on (at most
   * `max` frames: the rest go in later messages).
   * @param {number} [max]
   */
  unacked(max = Infinity) {
    const own = this.own;
    const from = Math.max(this.yours + 1, own.base);
    /** @type {any[]} */ const actions = [];
    /** @type {string[]} */ const keys = [];
    for (let f = from; f < Math.min(own.end, from + max); f++) {
      actions.push(own.guess(f));
      keys.push(this.keys.get(f) ?? "");
    }
    return { from, actions, keys };
  }

  /** The server has own inputs up to `frame` (`net:inputs.yours`). @param {number} frame */
  acked(frame) {
    if (Number.isInteger(frame) && frame > this.yours) this.yours = frame;
  }

  /**
   * Inputs from the server's log: `{agent: {from, actions}}`. Known frames keep their value,
   * except the page's own agent's, where the log wins. Unknown agents and malformed entries
   * are skipped.
   * @param {Record<string, any>} inputs
   */
  receive(inputs) {
    for (const [agent, entry] of Object.entries(inputs ?? {})) {
      const timeline = this.timelines.get(agent);
      if (!timeline || !Number.isInteger(entry?.from) || !Array.isArray(entry.actions)) continue;
      for (const frame of timeline.put(entry.from, entry.actions, agent === this.self)) {
        const sim = this.sims.get(frame);
        if (sim && !sameInput(sim.used[agent], timeline.guess(frame))) this.misses++;
      }
    }
  }

  /**
   * What the worker simulates this tick: re-simulate from the earliest simulated frame whose
   * inputs changed (if any), up to the clock, plus up to `batch` new frames within the
   * window. Null when there is nothing to step (stalled, or a predicted done not final yet).
   * @param {number} [batch]
   * @returns {Plan | null}
   */
  plan(batch = 1) {
    const confirmed = this.confirmed;
    /** @type {number | null} */
    let restore = null;
    if (!this.lockstep) {
      for (let f = this.lastFinal + 1; f < this.next; f++) {
        const sim = this.sims.get(f);
        if (!sim || !this._matches(sim.used, f)) {
          restore = f;
          break;
        }
      }
    }
    const first = restore ?? this.next;
    let end = Math.max(this.clock, this.next);
    const undone = this.doneAt === null || (restore !== null && restore <= this.doneAt);
    if (undone && this.finalDone === null) end = Math.max(end, Math.min(this.clock + batch, confirmed + this.window + 1));
    if (end <= first) return null;
    const frames = [];
    for (let f = first; f < end; f++) frames.push(f);
    const H = this.hashEvery;
    const hash = H > 0 ? frames.filter((f) => (f + 1) % H === 0 || f === (this.maxSteps ?? 0) - 1) : [];
    return {
      restore,
      first,
      frames,
      steps: frames.map((f) => this.inputsFor(f)),
      confirmed,
      hash,
      rollbackFrames: restore === null ? 0 : this.next - restore,
    };
  }

  /**
   * The worker's `netAdvance` reply to `plan`: `{results, frame, done}`.
   * @param {Plan} plan  @param {{results: FrameResult[], frame: number, done: boolean}} reply
   */
  apply(plan, reply) {
    const results = reply.results ?? [];
    const next = plan.first + results.length;
    if (reply.frame !== next) {
      throw new Error(`netAdvance answered frame ${reply.frame} after ${results.length} results from frame ${plan.first}; expected ${next}`);
    }
    for (const f of [...this.sims.keys()]) if (f >= plan.first) this.sims.delete(f);
    results.forEach((result, i) => this.sims.set(plan.first + i, { used: plan.steps[i], result: { ...result, frame: plan.first + i } }));
    this.next = next;
    if (reply.done) {
      this.doneAt = next - 1;
      this.clock = next;
    } else {
      if (this.doneAt !== null && this.doneAt >= plan.first) this.doneAt = null;
      this.clock = Math.max(this.clock, next);
    }
  }

  /**
   * The frames that became final (in order), with their results; they are then forgotten.
   * @returns {FrameResult[]}
   */
  finalize() {
    const confirmed = this.confirmed;
    /** @type {FrameResult[]} */
    const finals = [];
    while (this.lastFinal < confirmed && this.finalDone === null) {
      const frame = this.lastFinal + 1;
      const sim = this.sims.get(frame);
      if (!sim || frame >= this.next || !this._matches(sim.used, frame)) break;
      finals.push(sim.result);
      this.sims.delete(frame);
      this.lastFinal = frame;
      this.rewards.set(frame, sim.result.reward);
      addReward(this.returns, sim.result.reward);
      if (sim.result.done) this.finalDone = sim.result;
    }
    if (finals.length) {
      const keep = this.lastFinal + 1 - KEEP_FRAMES;
      for (const [agent, timeline] of this.timelines) timeline.forget(agent === this.self ? Math.min(keep, this.yours + 1) : keep);
      for (const f of this.keys.keys()) if (f <= this.yours) this.keys.delete(f);
    }
    return finals;
  }

  /** The worker went back to the state S_frame (a snapshot it keeps). @param {number} frame */
  rewind(frame) {
    for (const f of [...this.sims.keys()]) if (f >= frame) this.sims.delete(f);
    if (this.doneAt !== null && this.doneAt >= frame) this.doneAt = null;
    this.next = frame;
  }

  /**
   * The worker loaded a snapshot of S_frame from another member (a desync repair): frames
   * from `frame` on are simulated again, up to the clock, on the next ticks. Throws when the
   * inputs from `frame` on are no longer kept (KEEP_FRAMES).
   * @param {number} frame
   */
  load(frame) {
    for (const [agent, timeline] of this.timelines) {
      if (frame < timeline.floor && frame < timeline.end) {
        throw new Error(`net:load: frame ${frame} is older than the inputs of agent ${JSON.stringify(agent)} kept (from frame ${timeline.floor})`);
      }
    }
    this.sims.clear();
    for (const f of [...this.rewards.keys()]) {
      if (f < frame) continue;
      addReward(this.returns, this.rewards.get(f), -1);
      this.rewards.delete(f);
    }
    if (this.finalDone && this.finalDone.frame >= frame) this.finalDone = null;
    for (const timeline of this.timelines.values()) timeline.rebase(frame);
    this.acked(frame - 1);
    this.lastFinal = frame - 1;
    this.doneAt = null;
    this.next = frame;
    this.clock = Math.max(this.clock, frame);
  }

  /**
   * Go on from a snapshot of S_frame after a reload or a reconnect, with every agent's logged
   * inputs from `frame` on (the rewards of final frames before it are kept).
   * @param {number} frame  @param {Record<string, any>} inputs
   */
  resume(frame, inputs) {
    const rewards = [...this.rewards].filter(([f]) => f < frame);
    const misses = this.misses;
    this.start(frame, inputs);
    this.misses = misses;
    for (const [f, reward] of rewards) {
      this.rewards.set(f, reward);
      addReward(this.returns, reward);
    }
  }

  /** The sum of every agent's reward over the final frames. */
  get total() {
    return total(this.returns);
  }

  /**
   * An agent's return in the state shown (final frames plus the ones simulated past them).
   * @param {string} agent
   */
  shownReturn(agent) {
    /** @type {Record<string, number>} */
    const sums = { ...this.returns };
    for (const [f, sim] of this.sims) if (f < this.next) addReward(sums, sim.result.reward);
    return sums[agent] ?? sums["*"] ?? 0;
  }
}

/**
 * How far ahead of the other members this page runs, from what `net:inputs` tells
 * (`frames`: each agent's latest frame the server heard of, `advs`: their own advantage).
 * With k = (my advantage - theirs) / 2 (about how many frames this page is ahead), the loop
 * is delayed by a tenth of an interval per tick while k >= 1; each delay counts as 0.1
 * frame caught up until the next message says anew. A page far behind (after a reload, a
 * hidden tab) steps several frames per tick instead (`batch`).
 */
export class TimeSync {
  /** @param {string} self  @param {number} intervalMs */
  constructor(self, intervalMs) {
    this.self = self;
    this.intervalMs = intervalMs;
    /** @type {Map<string, {frame: number, adv: number | null}>} */
    this.heardOf = new Map();
    this.k = 0;
  }

  /** @param {(agent: string) => boolean} here */
  _slowest(here) {
    /** @type {[string, {frame: number, adv: number | null}] | null} */
    let slowest = null;
    for (const entry of this.heardOf) if (here(entry[0]) && (!slowest || entry[1].frame < slowest[1].frame)) slowest = entry;
    return slowest;
  }

  /**
   * A `net:inputs` message arrived while this page is at frame `n`.
   * @param {Record<string, any> | undefined} frames  @param {Record<string, any> | undefined} advs
   * @param {number} n  @param {(agent: string) => boolean} [here]  agents whose member is here
   */
  heard(frames, advs, n, here = () => true) {
    for (const [agent, frame] of Object.entries(frames ?? {})) {
      if (agent === this.self || !Number.isFinite(frame)) continue;
      const adv = Number(advs?.[agent]);
      this.heardOf.set(agent, { frame: Number(frame), adv: Number.isFinite(adv) ? adv : null });
    }
    const slowest = this._slowest(here);
    if (!slowest) this.k = 0;
    else if (slowest[1].adv !== null) this.k = (n - slowest[1].frame - slowest[1].adv) / 2;
  }

  /**
   * My advantage at frame `n`: n minus the latest frame heard of the slowest member here.
   * @param {number} n  @param {(agent: string) => boolean} [here]
   */
  adv(n, here = () => true) {
    const slowest = this._slowest(here);
    return slowest ? n - slowest[1].frame : 0;
  }

  /** How long to delay the next tick (ms): a tenth of an interval while k >= 1. */
  delay() {
    if (this.k < 1) return 0;
    this.k -= SYNC_STEP;
    return SYNC_STEP * this.intervalMs;
  }

  /**
   * How many new frames to simulate this tick at frame `n`: 1, or more when the furthest
   * member here is CATCH_UP_FRAMES or more ahead (at most `max`).
   * @param {number} n  @param {number} max  @param {(agent: string) => boolean} [here]
   */
  batch(n, max, here = () => true) {
    let ahead = -Infinity;
    for (const [agent, { frame }] of this.heardOf) if (here(agent)) ahead = Math.max(ahead, frame);
    const behind = ahead - n;
    if (!(behind >= CATCH_UP_FRAMES)) return 1;
    return Math.max(1, Math.min(max, 1 + Math.floor(behind / 2)));
  }
}
