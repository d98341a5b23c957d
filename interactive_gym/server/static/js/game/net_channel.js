// @ts-check
/**
 * The GameChannel (game/channel.js) of a browser group game: every member runs the same env in
 * its own Pyodide worker (loaded and checked for determinism by game/preload.js) and never
 * waits for the network: the other members' inputs are predicted and corrected when they
 * arrive (game/rollback.js). The server (interactive_gym/server/net_game.py) sequences and
 * relays the inputs over the study socket (game/net_socket.js), writes the step and episode
 * records from the confirmed inputs and the members' reports, and repairs desyncs. The worker
 * half is interactive_gym/runtime/netcode.py.
 *
 *   load          worker ready → `net:join` → {agent_id, agents, members, episode, netcode, ...}
 *   startEpisode  `net:episode` → {seed, resume}; worker `netStart` (then `netLoad` on resume)
 *   play          `net:play` (barrier); then a FixedStepLoop, per tick: keys → own input for
 *                 frame n + D; `net:input` (unacked own inputs, frame, adv, ack, reports of the
 *                 frames that became final last tick); one worker `netAdvance` (restore +
 *                 steps, render of the last state); draw; one "input" record
 *   server says   `net:inputs` (inputs, frames, advs, yours), `net:load` (desync repair: worker
 *                 `netLoad`), `net:state_request` (→ `net:state`), `game:member`, `net:end`,
 *                 `net:episode_end` (the episode's rows are stored: play() resolves then)
 *   destroy       `net:leave`
 *
 * The episode ends when its done frame is final (a predicted done waits for confirmation).
 * Each final frame's report goes out in REPORT_REPEATS consecutive `net:input` messages (the
 * server keeps one per frame per member), so a lost message loses no report. After the end,
 * own inputs the server has not acknowledged (`yours`) are sent again every interval for up to
 * TAIL_MS, so the others can confirm the last frames. A reconnect mid-episode joins again and
 * asks `net:episode` again: the server's `resume` (a final snapshot and the logged inputs) puts
 * the page back in step, and it catches up by simulating several frames per tick.
 * @module game/net_channel
 */

import { GameError, GameLoadError } from "./errors.js";
import { keyLabel } from "./input.js";
import { FixedStepLoop } from "./loop.js";
import { MAX_SNAPSHOT_CHARS, NetSocket } from "./net_socket.js";
import { gameLoader } from "./preload.js";
import { probe } from "./probe.js";
import { focusState, jsonSafe } from "./record.js";
import { RollbackState, TimeSync } from "./rollback.js";

/** @typedef {import("../study/scene_api.js").SceneDescription} SceneDescription */
/** @typedef {import("../study/scene_api.js").SceneContext} SceneContext */
/** @typedef {import("./channel.js").GameChannel} GameChannel */
/** @typedef {import("./channel.js").GameInfo} GameInfo */
/** @typedef {import("./channel.js").PlayOptions} PlayOptions */
/** @typedef {import("./channel.js").EpisodeSummary} EpisodeSummary */
/** @typedef {import("./loop.js").TickInfo} TickInfo */
/** @typedef {import("./input.js").KeyEvent} KeyEvent */
/** @typedef {import("./rollback.js").FrameResult} FrameResult */
/** @typedef {import("./socket_channel.js").MemberState} MemberState */

/** How many consecutive `net:input` messages carry each report. */
export const REPORT_REPEATS = 3;
/** How long own inputs are sent again after an episode's end, until the server has them. */
export const TAIL_MS = 5000;
/** How long the page waits, after its last final frame, for the server to store the rows. */
export const STORED_WAIT_MS = 10_000;
/** Most own inputs and most reports in one `net:input` (the server takes up to 128 of each). */
export const MAX_SEND = 64;

/** @param {number} ms */
const round = (ms) => Math.round(ms * 100) / 100;

/** @param {KeyEvent[]} events */
const keyEvents = (events) => events.map((e) => [e.type, keyLabel(e.key), round(e.t)]);

/** A final frame's report, as `net:input` carries it. @param {FrameResult} r */
function reportOf(r) {
  return {
    frame: r.frame,
    actions: jsonSafe(r.actions),
    reward: jsonSafe(r.reward),
    terminated: Boolean(r.terminated),
    truncated: Boolean(r.truncated),
    done: Boolean(r.done),
    info: jsonSafe(r.info ?? {}),
    ...(typeof r.hash === "string" ? { hash: r.hash } : {}),
  };
}

/**
 * The loader of the game (game/preload.js GameLoader, or a stand-in in tests).
 * @typedef {EventTarget & {progress: import("./channel.js").Progress, ready: boolean,
 *   attempts: number, loadMs: number | null,
 *   pythonLoad: import("../PyodideWorker.js").LoadReport | null, start: () => Promise<{worker: any, game: GameInfo}>,
 *   retry: () => Promise<unknown>}} Loader
 */

/** The episode being played. */
class NetPlay {
  /** @param {number} episode  @param {number | null} seed  @param {RollbackState} rb  @param {TimeSync} sync */
  constructor(episode, seed, rb, sync) {
    this.episode = episode;
    this.seed = seed;
    this.rb = rb;
    this.sync = sync;
    this.started = performance.now();
    /** @type {FixedStepLoop | null} */ this.loop = null;
    /** @type {{report: Record<string, any>, left: number}[]} reports still owed a sending */
    this.reports = [];
    /** @type {{frame: number, events: KeyEvent[]}[]} key events of inputs not shown yet */
    this.events = [];
    this.adv = 0;
    this.stalledMs = 0;
    this.rollbacks = 0;
    this.rollbackFrames = 0;
    this.misses = 0;
    this.loads = 0;
    /** @type {string | null} ended from outside: "member_left" or "stopped" */ this.endedBy = null;
    /** @type {unknown} a repair or resume that failed: the next tick throws it */ this.failure = null;
    this.finished = false;
    /** @type {any} */ this.tail = 0;
  }
}

/** @implements {GameChannel} */
export class NetChannel {
  /**
   * @param {SceneDescription} scene  @param {SceneContext} ctx
   * @param {{loader?: Loader}} [options]  `loader`: tests give their own
   */
  constructor(scene, ctx, options = {}) {
    /** @type {"browser"} */ this.runtime = "browser";
    this.scene = scene;
    this.ctx = ctx;
    if (!ctx.connection) throw new Error("a browser group game needs the page's connection (ctx.connection)");
    this.net = new NetSocket(ctx.connection, scene.scene_id);
    /** @type {Loader} */ this.loader = options.loader ?? gameLoader(scene);
    /** @type {any} the Pyodide worker (PyodideWorker) */ this.worker = null;
    /** @type {GameInfo | null} */ this.game = null;
    /** @type {string | null} the agent this page plays (from net:join) */ this.agentId = null;
    /** @type {string[]} every human agent */ this.agents = [];
    /** @type {Record<string, string>} every human agent's member state */ this.members = {};
    /** @type {{episode: number, step: number} | null} the episode under way when joined */ this.resumeAt = null;
    /** The group's game ended because a member left. */
    this.groupEnded = false;
    /** @type {(member: MemberState) => void} hears every change of another member's state */
    this.onMember = () => {};
    this.netcode = String(scene.netcode ?? "rollback");
    this.inputDelay = Number(scene.input_delay_frames ?? 2);
    this.window = Number(scene.max_prediction_frames ?? 8);
    this.hashEvery = Number(scene.hash_every_frames ?? 5);
    /** @type {Record<string, any>} the group's stand-in policies (from net:join) */
    this.standIns = {};
    /** @type {Set<number>} episodes whose rows the server has stored (`net:episode_end`) */
    this.storedEpisodes = new Set();
    /** @type {Map<number, () => void>} */ this.storedWaiters = new Map();
    /** The env has get_state: frames can be hashed (netStart answered a hash). */
    this.hashing = false;
    /** @type {NetPlay | null} */ this.current = null;
    this.failed = false;
    this.joined = false;
    this.destroyed = false;
    this.timeoutMs = scene.step_timeout_s * 1000;
    this.intervalMs = 1000 / scene.fps;
    /** Worker calls run one after another (a tick's netAdvance, a repair, a state request). */
    /** @type {Promise<unknown>} */ this.chain = Promise.resolve();
    this._here = (/** @type {string} */ agent) => (this.members[agent] ?? "here") === "here";
  }

  get attempts() {
    return this.loader.attempts;
  }

  get loadMs() {
    return this.loader.loadMs;
  }

  get pythonLoad() {
    return this.loader.pythonLoad;
  }

  get paused() {
    return this.current?.loop?.paused ?? false;
  }

  /**
   * Run `fn` once the worker calls before it are done.
   * @template T  @param {() => Promise<T>} fn  @returns {Promise<T>}
   */
  _exclusive(fn) {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => {});
    return run;
  }

  _worker() {
    if (!this.worker) throw new Error("the game is not loaded");
    return this.worker;
  }

  /** @param {string} type  @param {Record<string, any>} payload  @returns {Promise<any>} */
  _call(type, payload) {
    return this._worker().call(type, payload, { timeoutMs: this.timeoutMs });
  }

  /** @param {(progress: import("./channel.js").Progress) => void} onProgress */
  async load(onProgress) {
    const loader = this.loader;
    const forward = () => onProgress(loader.progress);
    loader.addEventListener("progress", forward);
    try {
      if (this.failed) loader.retry().catch(() => {});
      this.failed = false;
      if (!loader.ready) forward();
      const { worker, game } = await loader.start();
      this.worker = worker;
      this.game = game;
    } catch (error) {
      this.failed = true;
      throw error;
    } finally {
      loader.removeEventListener("progress", forward);
    }
    onProgress({ stage: "group", message: "Joining the group", fraction: 1 });
    await this._join();
    // Every member's worker plays the same stand-ins (the group's), a part of its state.
    await this._exclusive(() => this._call("netStandIns", { stand_ins: this.standIns }));
    return /** @type {GameInfo} */ (this.game);
  }

  async _join() {
    let answer;
    try {
      answer = await this.net.ask("net:join", {}, this.scene.load_timeout_s * 1000);
    } catch (error) {
      throw new GameLoadError("group", /** @type {Error} */ (error).message);
    }
    if (!answer || answer.error || typeof answer.agent_id !== "string") {
      if (answer?.reason === "group_ended" || answer?.reason === "left_group") this.groupEnded = true;
      throw new GameLoadError("group", String(answer?.error ?? "net:join: the server did not say which agent this page plays"), String(answer?.reason ?? ""));
    }
    this.agentId = answer.agent_id;
    this.agents = Array.isArray(answer.agents) ? answer.agents.map(String) : (this.scene.humans ?? [answer.agent_id]);
    this.members = { ...(answer.members ?? {}) };
    this.resumeAt = Number.isInteger(answer.episode) ? { episode: answer.episode, step: 0 } : null;
    this.netcode = String(answer.netcode ?? this.netcode);
    this.inputDelay = Number(answer.input_delay_frames ?? this.inputDelay);
    this.window = this.netcode === "lockstep" ? 0 : Number(answer.max_prediction_frames ?? this.window);
    this.hashEvery = Number(answer.hash_every_frames ?? this.hashEvery);
    this.standIns = answer.stand_ins && typeof answer.stand_ins === "object" ? answer.stand_ins : {};
    if (this.joined) return;
    this.joined = true;
    this.net.on("net:inputs", (m) => this._inputs(m));
    this.net.on("net:load", (m) => this._repair(m));
    this.net.on("net:state_request", (m) => this._stateRequest(m));
    this.net.on("net:end", (m) => this._end(m));
    this.net.on("net:episode_end", (m) => this._stored(m));
    this.net.on("game:member", (m) => this._member(m));
    this.net.onReconnect(() => void this._rejoin());
  }

  /** @param {number} episode  @param {number | null} seed  the server decides the seed */
  async startEpisode(episode, seed) {
    if (this.current) clearTimeout(this.current.tail);
    let answer;
    try {
      answer = await this._askEpisode(episode);
    } catch (error) {
      throw new GameError("reset", 0, error);
    }
    if (!answer || answer.error) {
      if (answer?.reason === "group_ended") this.groupEnded = true;
      throw new GameError("reset", 0, { message: answer?.error ?? "net:episode: the server could not start the episode" });
    }
    const episodeSeed = answer.seed ?? seed;
    try {
      return await this._exclusive(async () => {
        const start = await this._call("netStart", { seed: episodeSeed, lockstep: this.netcode === "lockstep" });
        this.hashing = typeof start?.hash === "string";
        const play = this._newPlay(episode, episodeSeed);
        this.current = play;
        const shown = answer.resume ? await this._resumeAt(play, answer.resume) : start;
        return { render: shown?.render ?? null, hud: shown?.hud ?? null, seed: episodeSeed };
      });
    } catch (error) {
      throw new GameError("reset", 0, error);
    }
  }

  /**
   * `net:episode`, asked again while the server has no member's state to resume from yet
   * (`reason: "no_state"`).
   * @param {number} episode
   */
  async _askEpisode(episode) {
    const deadline = performance.now() + this.timeoutMs + 10_000;
    for (;;) {
      const answer = await this.net.ask("net:episode", { episode }, Math.max(1, deadline - performance.now()));
      if (answer?.reason !== "no_state" || performance.now() > deadline - 1000 || this.destroyed) return answer;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  /** @param {number} episode  @param {number | null} seed */
  _newPlay(episode, seed) {
    const self = /** @type {string} */ (this.agentId);
    const rb = new RollbackState({
      agents: this.agents,
      self,
      defaultAction: this.scene.default_action,
      delay: this.inputDelay,
      window: this.window,
      hashEvery: this.hashing ? this.hashEvery : 0,
      maxSteps: this.scene.max_steps ?? null,
    });
    return new NetPlay(episode, seed, rb, new TimeSync(self, this.intervalMs));
  }

  /**
   * Load the state of a resume and the inputs logged from its frame (inside `_exclusive`).
   * @param {NetPlay} play  @param {any} resume  `{frame, snapshot, inputs}`
   */
  async _resumeAt(play, resume) {
    const frame = Number(resume.frame);
    // Lockstep resumes from the reset (no snapshot) and replays every logged input.
    const loaded = resume.snapshot == null
      ? await this._call("netStart", { seed: play.seed, lockstep: this.netcode === "lockstep" })
      : await this._call("netLoad", { frame, snapshot: resume.snapshot });
    play.rb.resume(frame, resume.inputs ?? {});
    this.ctx.event("net_resumed", { episode: play.episode, frame });
    return loaded;
  }

  /** The server ends the episode. @param {number} _episode */
  abandon(_episode) {}

  /**
   * @param {number} episode  @param {PlayOptions} options
   * @returns {Promise<EpisodeSummary>}
   */
  async play(episode, { onFrame, input }) {
    const play = this.current;
    if (!play || play.episode !== episode) throw new Error(`play(${episode}) before startEpisode(${episode})`);
    if (this.groupEnded) return this._finish(play, "member_left");
    let answer;
    try {
      // The server waits for members still loading the game (up to load_timeout_s).
      const waitS = Math.max(this.scene.reconnect_s ?? 20, this.scene.load_timeout_s ?? 180);
      answer = await this.net.ask("net:play", { episode }, (waitS + 15) * 1000);
    } catch (error) {
      throw new GameError("step", 0, error);
    }
    if (answer?.error) throw new GameError("step", 0, { message: answer.error });
    if (this.groupEnded || play.endedBy || this.destroyed) return this._finish(play, play.endedBy ?? "member_left");
    const loop = new FixedStepLoop(this.scene.fps, (tick) => this._tick(play, tick, onFrame, input));
    play.loop = loop;
    probe.setLoop(loop);
    const stop = () => loop.stop();
    this.ctx.signal.addEventListener("abort", stop);
    try {
      await loop.run();
    } catch (error) {
      this._finish(play, "error");
      throw error instanceof GameError ? error : new GameError("step", play.rb.next, error);
    } finally {
      this.ctx.signal.removeEventListener("abort", stop);
      probe.setLoop(null);
    }
    const done = play.rb.finalDone;
    let endedBy = play.endedBy ?? "stopped";
    if (!play.endedBy && done) {
      const atLimit = done.frame === (this.scene.max_steps ?? 0) - 1;
      endedBy = done.terminated ? "terminated" : done.truncated && atLimit ? "max_steps" : done.truncated ? "truncated" : "terminated";
    }
    this._flush(play);
    if (!play.endedBy) await this._whenStored(play.episode);
    return this._finish(play, endedBy);
  }

  /**
   * Wait until the server has stored the episode's rows (`net:episode_end`): the check of the
   * scene's response reads them. After STORED_WAIT_MS the page goes on and says so.
   * @param {number} episode
   */
  async _whenStored(episode) {
    if (this.storedEpisodes.has(episode) || this.destroyed) return;
    const stored = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), STORED_WAIT_MS);
      this.storedWaiters.set(episode, () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    this.storedWaiters.delete(episode);
    if (!stored) this.ctx.event("episode_end_unconfirmed", { episode, waited_ms: STORED_WAIT_MS });
  }

  /** `net:episode_end`: the group's rows of an episode are stored. @param {any} m */
  _stored(m) {
    if (!Number.isInteger(m?.episode)) return;
    this.storedEpisodes.add(m.episode);
    this.storedWaiters.get(m.episode)?.();
  }

  /**
   * One tick: own input, `net:input`, one `netAdvance` (rollback and new frames), draw, record.
   * @param {NetPlay} play  @param {TickInfo} tick
   * @param {PlayOptions["onFrame"]} onFrame  @param {PlayOptions["input"]} input
   */
  async _tick(play, tick, onFrame, input) {
    if (play.failure) throw new GameError("step", play.rb.next, play.failure);
    const scene = this.scene;
    const rb = play.rb;
    const focus = focusState();
    const hidden = focus === "hidden";
    /** @type {import("./input.js").TickInput | null} */
    let taken = null;
    /** @type {number | null} */
    let inputFrame = null;
    if (rb.needsInput) {
      taken = input.take();
      if (hidden) taken = { ...taken, action: scene.default_action, keys: "" };
      inputFrame = rb.addLocal(taken.action, taken.keys);
      if (inputFrame !== null && taken.events.length) play.events.push({ frame: inputFrame, events: taken.events });
    }
    play.adv = play.sync.adv(rb.clock, this._here);
    this._sendInput(play, taken?.events ?? []);
    const maxBatch = Math.max(4, 4 * rb.window);
    let step;
    try {
      step = await this._exclusive(async () => {
        const plan = rb.plan(play.sync.batch(rb.clock, maxBatch, this._here));
        /** @type {any} */
        let reply = null;
        if (plan) {
          const { restore, first, steps, confirmed, hash } = plan;
          reply = await this._call("netAdvance", { restore, first, steps, confirmed, hash, render: true });
          rb.apply(plan, reply);
        }
        const finals = rb.finalize();
        const done = rb.finalDone;
        if (done && finals.includes(done) && done.hash === undefined && this.hashing) {
          done.hash = (await this._call("netState", {}))?.hash; // the state after the last frame
        }
        return { plan, reply, finals };
      });
    } catch (error) {
      throw new GameError("step", rb.next, error);
    }
    const { plan, reply, finals } = step;
    for (const result of finals) play.reports.push({ report: reportOf(result), left: REPORT_REPEATS });
    if (plan?.restore != null) {
      play.rollbacks++;
      play.rollbackFrames += plan.rollbackFrames;
    }
    const stalledMs = !plan && rb.stalled ? (tick.intervalMs ?? this.intervalMs) : 0;
    play.stalledMs += stalledMs;
    const shownFrame = rb.next - 1;
    /** @type {{drawMs: number | null, drawnAt: number | null}} */
    let drawn = { drawMs: null, drawnAt: null };
    if (reply) {
      const last = reply.results?.at(-1) ?? null;
      const shown = await onFrame({
        step: shownFrame,
        render: reply.render ?? null,
        hud: reply.hud ?? null,
        reward: last?.reward ?? null,
        score: rb.shownReturn(/** @type {string} */ (this.agentId)),
        done: rb.finalDone !== null,
        terminated: Boolean(last?.terminated),
        truncated: Boolean(last?.truncated),
        timing: reply.timing ?? null,
      });
      if (shown.error) throw new GameError("render", shownFrame, shown.error);
      drawn = shown;
      const shownEvents = play.events.filter((e) => e.frame <= shownFrame).flatMap((e) => e.events);
      play.events = play.events.filter((e) => e.frame > shownFrame);
      probe.frame({
        episode: play.episode, step: shownFrame, ...tick,
        workerMs: reply.timing?.workerMs ?? null, envMs: reply.timing?.envMs ?? null, policyMs: null,
        roundTripMs: reply.timing?.roundTripMs ?? null, drawMs: shown.drawMs, drawnAt: shown.drawnAt ?? performance.now(),
        paintedAt: null, keyEvents: shownEvents, runtime: "browser", inputSeq: null,
      });
    }
    const misses = rb.misses;
    rb.misses = 0;
    play.misses += misses;
    const confirmed = rb.confirmed;
    const syncDelayMs = play.sync.delay();
    if (syncDelayMs > 0) play.loop?.delay(syncDelayMs);
    this.ctx.record("input", {
      episode: play.episode,
      step: shownFrame >= 0 ? shownFrame : null,
      data: {
        frame: inputFrame,
        action: inputFrame === null ? null : jsonSafe(taken?.action),
        keys: inputFrame === null ? "" : (taken?.keys ?? ""),
        key_events: keyEvents(taken?.events ?? []),
        shown_frame: shownFrame,
        confirmed_frame: confirmed,
        rollback_frames: plan?.rollbackFrames ?? 0,
        predicted: Math.max(0, shownFrame - confirmed),
        prediction_misses: misses,
        stalled_ms: round(stalledMs),
        adv: play.adv,
        sync_delay_ms: round(syncDelayMs),
        tick_t: round(tick.start),
        tick_late_ms: round(tick.lateMs),
        worker_ms: reply?.timing ? round(reply.timing.workerMs) : null,
        draw_ms: drawn.drawMs === null ? null : round(drawn.drawMs),
        focus,
        runtime: "browser",
        netcode: this.netcode,
      },
    });
    return rb.finalDone === null && play.endedBy === null && !this.ctx.signal.aborted && !this.destroyed;
  }

  /**
   * `net:input`: own inputs from the server's last one on, the tick's key events, the page's
   * frame, advantage and confirmed frame, and the reports still owed a sending.
   * @param {NetPlay} play  @param {KeyEvent[]} events
   */
  _sendInput(play, events) {
    const rb = play.rb;
    const own = rb.unacked(MAX_SEND);
    const reports = play.reports.slice(0, MAX_SEND);
    const sent = this.net.send("net:input", {
      episode: play.episode,
      from: own.from,
      actions: own.actions.map(jsonSafe),
      keys: own.keys,
      events: keyEvents(events),
      frame: rb.clock,
      adv: play.adv,
      ack: rb.confirmed,
      reports: reports.map((r) => r.report),
    });
    if (!sent) return false;
    for (const r of reports) r.left--;
    play.reports = play.reports.filter((r) => r.left > 0);
    return true;
  }

  /**
   * After the episode: the reports still owed go out now; own inputs the server has not
   * acknowledged are sent again every interval (for at most TAIL_MS) so the others can confirm
   * the last frames.
   * @param {NetPlay} play
   */
  _flush(play) {
    while (play.reports.length && this._sendInput(play, []));
    if (play.endedBy || this.destroyed) return;
    const rb = play.rb;
    const needed = rb.finalDone?.frame ?? rb.clock - 1;
    const until = performance.now() + TAIL_MS;
    const resend = () => {
      play.tail = 0;
      if (this.destroyed || this.current !== play || rb.yours >= needed || performance.now() > until) return;
      this._sendInput(play, []);
      play.tail = setTimeout(resend, this.intervalMs);
    };
    play.tail = setTimeout(resend, this.intervalMs);
  }

  /**
   * The episode's summary, from its final frames (the server records the episode).
   * @param {NetPlay} play  @param {string} endedBy
   * @returns {EpisodeSummary}
   */
  _finish(play, endedBy) {
    play.finished = true;
    const rb = play.rb;
    const done = rb.finalDone;
    const stats = play.loop?.stats ?? { ticks: 0, late: 0, dropped: 0 };
    return {
      seed: play.seed,
      return: rb.total,
      returns: { ...rb.returns },
      length: rb.lastFinal + 1,
      terminated: Boolean(done?.terminated),
      truncated: Boolean(done?.truncated),
      ended_by: endedBy,
      agent_id: this.agentId,
      duration_ms: Math.round(performance.now() - play.started),
      ticks: stats.ticks,
      late_ticks: stats.late,
      dropped_ticks: stats.dropped,
      stalled_ms: Math.round(play.stalledMs),
      rollbacks: play.rollbacks,
      rollback_frames: play.rollbackFrames,
      prediction_misses: play.misses,
      desyncs_loaded: play.loads,
      fps: this.scene.fps,
      netcode: this.netcode,
    };
  }

  // -- what the server says ----------------------------------------------------------------

  /** `net:inputs`: the others' inputs, frames and advantages; how far the server has mine. @param {any} m */
  _inputs(m) {
    const play = this.current;
    if (!play || m.episode !== play.episode) return;
    if (m.inputs && typeof m.inputs === "object") play.rb.receive(m.inputs);
    play.rb.acked(Number(m.yours));
    play.sync.heard(m.frames, m.advs, play.rb.clock, this._here);
  }

  /** `net:load`: a desync repair; frames from `frame` on are simulated again. @param {any} m */
  _repair(m) {
    const play = this.current;
    if (!play || m.episode !== play.episode || !Number.isInteger(m.frame)) return;
    this._exclusive(async () => {
      if (play.finished || play.rb.finalDone !== null) return;
      const loaded = await this._call("netLoad", { frame: m.frame, snapshot: m.snapshot });
      play.rb.load(m.frame);
      play.loads++;
      this.ctx.event("desync_loaded", { episode: play.episode, frame: m.frame, reason: m.reason ?? "desync", hash: m.hash ?? null, loaded_hash: loaded?.hash ?? null });
    }).catch((error) => (play.failure = error));
  }

  /**
   * `net:state_request`: answer `net:state` with a final state (the worker goes back to the
   * last final frame's state first; the next tick simulates the predicted frames again). A page
   * that cannot (another episode, no get_state, a state too large) answers `{error}`: the
   * server asks another member.
   * @param {any} m
   */
  _stateRequest(m) {
    const play = this.current;
    // The server asks another member at once when this page says it cannot answer.
    const fail = (/** @type {string} */ message) => {
      this.ctx.event("net_state_failed", { episode: m.episode, request_id: m.request_id, message });
      this.net.send("net:state", { episode: m.episode, request_id: m.request_id, error: message.slice(0, 1000) });
    };
    if (!play || play.episode !== m.episode) {
      fail(`this page is not playing episode ${m.episode}`);
      return;
    }
    this._exclusive(async () => {
      const rb = play.rb;
      if (rb.next - 1 > rb.lastFinal) {
        const frame = rb.lastFinal + 1;
        await this._call("netAdvance", { restore: frame, first: frame, steps: [], confirmed: rb.confirmed, hash: [], render: false });
        rb.rewind(frame);
      }
      const state = await this._call("netState", {});
      if (String(state.snapshot).length > MAX_SNAPSHOT_CHARS) {
        throw new Error(`the state is ${String(state.snapshot).length} characters, over ${MAX_SNAPSHOT_CHARS}`);
      }
      this.net.send("net:state", { episode: m.episode, request_id: m.request_id, frame: state.frame, snapshot: state.snapshot, hash: state.hash ?? null });
    }).catch((error) => fail(String(error?.message ?? error)));
  }

  /** `net:end`: a member left and the group's game is over. @param {any} m */
  _end(m) {
    if (m.reason !== "member_left") return;
    this.groupEnded = true;
    const play = this.current;
    if (play && !play.finished) {
      play.endedBy = "member_left";
      play.loop?.stop();
    }
  }

  /** @param {any} m */
  _member(m) {
    if (typeof m.agent_id !== "string") return;
    this.members[m.agent_id] = String(m.state);
    this.onMember(/** @type {MemberState} */ (m));
  }

  /** The socket reconnected: join again; an episode under way resumes from the server's state. */
  async _rejoin() {
    if (this.destroyed || !this.joined) return;
    const play = this.current;
    try {
      await this._join();
    } catch {
      if (this.groupEnded) this._end({ reason: "member_left" });
      return;
    }
    if (!play || play.finished || play.rb.finalDone !== null || this.current !== play) return;
    let answer;
    try {
      answer = await this._askEpisode(play.episode);
    } catch {
      return;
    }
    if (!answer?.resume || this.current !== play || play.finished) return;
    await this._exclusive(() => this._resumeAt(play, answer.resume)).catch((error) => (play.failure = error));
    if (play.loop) this.net.ask("net:play", { episode: play.episode }, 15_000).catch(() => {});
  }

  pause() {
    this.current?.loop?.pause();
  }

  resume() {
    this.current?.loop?.resume();
  }

  /**
   * The tab was hidden or shown: the server tells the others (with when_hidden "pause" this
   * page stops, and a member hidden longer than reconnect_s is taken as gone). The channel
   * reads the tab's focus itself at every tick for the input.
   * @param {boolean} hidden
   */
  setHidden(hidden) {
    if (this.joined && !this.destroyed) this.net.send("net:focus", { hidden });
  }

  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    const play = this.current;
    if (play) {
      if (!play.finished) play.endedBy ??= "stopped";
      play.loop?.stop();
      clearTimeout(play.tail);
    }
    this.net.off();
    if (this.joined) this.net.send("net:leave", {});
    this.worker?.destroy();
  }
}
