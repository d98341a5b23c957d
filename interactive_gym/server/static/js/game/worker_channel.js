// @ts-check
/**
 * The browser runtime's GameChannel (game/channel.js): the environment runs in a Pyodide
 * worker loaded by game/preload.js (while earlier scenes are shown), and this channel drives
 * it with a FixedStepLoop on the main thread: every tick takes the participant's input, runs
 * one `tick` round trip (the env step, the AI policies and the HUD text in one reply), records
 * the step, and hands the frame to `onFrame`. At the end of an episode it records the episode
 * summary. The worker side is worker/game_hooks.js and interactive_gym.runtime.game_host.
 * @module game/worker_channel
 */

import { GameError } from "./errors.js";
import { FixedStepLoop } from "./loop.js";
import { gameLoader } from "./preload.js";
import { probe } from "./probe.js";
import { Returns, focusState, jsonSafe, stepData } from "./record.js";

/** @typedef {import("../study/scene_api.js").SceneDescription} SceneDescription */
/** @typedef {import("../study/scene_api.js").SceneContext} SceneContext */
/** @typedef {import("./channel.js").GameChannel} GameChannel */
/** @typedef {import("./channel.js").GameInfo} GameInfo */
/** @typedef {import("./channel.js").PlayOptions} PlayOptions */
/** @typedef {import("./channel.js").EpisodeSummary} EpisodeSummary */
/** @typedef {import("./loop.js").TickInfo} TickInfo */

/** What the channel keeps of the episode being played. */
class EpisodeState {
  /** @param {number} episode  @param {number | null} seed */
  constructor(episode, seed) {
    this.episode = episode;
    this.seed = seed;
    this.returns = new Returns();
    this.step = 0;
    this.hiddenSteps = 0;
    this.started = performance.now();
    /** @type {any} the last tick reply */ this.last = null;
    /** @type {FixedStepLoop | null} */ this.loop = null;
    this.finished = false;
  }
}

/** @implements {GameChannel} */
export class WorkerChannel {
  /** @param {SceneDescription} scene  @param {SceneContext} ctx */
  constructor(scene, ctx) {
    /** @type {"browser"} */ this.runtime = "browser";
    this.scene = scene;
    this.ctx = ctx;
    this.loader = gameLoader(scene);
    /** @type {import("../PyodideWorker.js").PyodideWorker | null} */ this.worker = null;
    /** @type {GameInfo | null} */ this.game = null;
    /** @type {EpisodeState | null} */ this.current = null;
    this.failed = false;
    this.timeoutMs = scene.step_timeout_s * 1000;
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
      return game;
    } catch (error) {
      this.failed = true;
      throw error;
    } finally {
      loader.removeEventListener("progress", forward);
    }
  }

  /** @param {number} episode  @param {number | null} seed */
  async startEpisode(episode, seed) {
    const state = (this.current = new EpisodeState(episode, seed));
    try {
      const start = await this._worker().call("startEpisode", { seed }, { timeoutMs: this.timeoutMs });
      return { render: start.render, hud: start.hud ?? null, seed };
    } catch (error) {
      this._finish(state, "error");
      throw new GameError("reset", 0, error);
    }
  }

  /** @param {number} episode */
  abandon(episode) {
    if (this.current?.episode === episode) this._finish(this.current, "error");
  }

  /**
   * @param {number} episode  @param {PlayOptions} options
   * @returns {Promise<EpisodeSummary>}
   */
  async play(episode, { onFrame, input }) {
    const state = this.current;
    if (!state || state.episode !== episode) throw new Error(`play(${episode}) before startEpisode(${episode})`);
    const loop = new FixedStepLoop(this.scene.fps, (tick) => this._tick(state, tick, onFrame, input));
    state.loop = loop;
    probe.setLoop(loop);
    const stop = () => loop.stop();
    this.ctx.signal.addEventListener("abort", stop);
    try {
      await loop.run();
    } catch (error) {
      this._finish(state, "error");
      throw error instanceof GameError ? error : new GameError("step", state.step, error);
    } finally {
      this.ctx.signal.removeEventListener("abort", stop);
      probe.setLoop(null);
    }
    const last = state.last;
    const endedBy = last?.terminated ? "terminated" : last?.maxStepsReached ? "max_steps" : last?.truncated ? "truncated" : "stopped";
    return this._finish(state, endedBy);
  }

  pause() {
    this.current?.loop?.pause();
  }

  resume() {
    this.current?.loop?.resume();
  }

  /** The worker channel reads the tab's focus itself at every tick. @param {boolean} _hidden */
  setHidden(_hidden) {}

  destroy() {
    this.current?.loop?.stop();
    this.worker?.destroy();
  }

  _worker() {
    if (!this.worker) throw new Error("the game is not loaded");
    return this.worker;
  }

  /**
   * One tick: input → worker round trip → record → frame shown.
   * @param {EpisodeState} state  @param {TickInfo} tick
   * @param {PlayOptions["onFrame"]} onFrame  @param {PlayOptions["input"]} input
   */
  async _tick(state, tick, onFrame, input) {
    const scene = this.scene;
    const multiAgent = Boolean(this.game?.multiAgent);
    const focus = focusState();
    const taken = input.take();
    const hidden = focus === "hidden";
    const action = hidden ? scene.default_action : taken.action;
    /** @type {Record<string, any>} */
    const actions = scene.human !== null ? { [scene.human]: action } : {};
    let reply;
    try {
      reply = await this._worker().call("tick", { actions }, { timeoutMs: this.timeoutMs });
    } catch (error) {
      throw new GameError("step", state.step, error);
    }
    state.last = reply;
    state.returns.add(reply.reward, scene.human, multiAgent);
    const step = state.step;
    const shown = await onFrame({
      step,
      render: reply.render,
      hud: reply.hud ?? null,
      reward: reply.reward,
      score: state.returns.score,
      done: Boolean(reply.done),
      terminated: Boolean(reply.terminated),
      truncated: Boolean(reply.truncated),
      timing: reply.timing ?? null,
    });
    const data = stepData({
      reply,
      multiAgent,
      keys: hidden ? "" : taken.keys,
      events: taken.events,
      tick,
      timing: reply.timing,
      drawMs: shown.error ? null : shown.drawMs,
      focus,
      observation: scene.record_observations,
    });
    this.ctx.record("step", { episode: state.episode, step, data });
    if (hidden) state.hiddenSteps++;
    probe.frame({
      episode: state.episode, step, ...tick,
      workerMs: reply.timing?.workerMs ?? null, envMs: reply.timing?.envMs ?? null,
      policyMs: reply.policyMs ?? null, roundTripMs: reply.timing?.roundTripMs ?? null,
      drawMs: data.draw_ms, drawnAt: shown.drawnAt ?? performance.now(), paintedAt: null, keyEvents: taken.events,
      runtime: "browser", inputSeq: null,
    });
    state.step++;
    if (shown.error) throw new GameError("render", step, shown.error);
    return !reply.done && !this.ctx.signal.aborted;
  }

  /**
   * Record the episode's summary (once) and return it.
   * @param {EpisodeState} state  @param {string} endedBy
   * @returns {EpisodeSummary}
   */
  _finish(state, endedBy) {
    const multiAgent = Boolean(this.game?.multiAgent);
    const loop = state.loop;
    const data = {
      seed: state.seed,
      return: state.returns.score,
      ...(multiAgent ? { returns: state.returns.byAgent } : {}),
      length: state.step,
      terminated: Boolean(state.last?.terminated),
      truncated: Boolean(state.last?.truncated),
      ended_by: endedBy,
      duration_ms: Math.round(performance.now() - state.started),
      ticks: loop?.stats.ticks ?? 0,
      late_ticks: loop?.stats.late ?? 0,
      dropped_ticks: loop?.stats.dropped ?? 0,
      hidden_steps: state.hiddenSteps,
      fps: this.scene.fps,
    };
    if (!state.finished) this.ctx.record("episode", { episode: state.episode, data: jsonSafe(data) });
    state.finished = true;
    return data;
  }
}
