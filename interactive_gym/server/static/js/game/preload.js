// @ts-check
/**
 * Loading a browser-runtime game scene's environment in the background, from the moment the
 * participant arrives: the Pyodide worker starts, installs the scene's packages, creates the
 * environment, loads the game layer (worker/game_hooks.js and
 * interactive_gym.runtime.game_host) and sets up the agents while consent and instruction
 * pages are shown. game/worker_channel.js plays the game on the loaded worker.
 *
 *   const loader = gameLoader(scene);   // one per scene id, shared by preload() and run()
 *   loader.start();                     // idempotent
 *   loader.addEventListener("progress", ...);   // loader.progress: {stage, message, fraction}
 *   const { worker, game } = await loader.start();
 *   loader.retry();                     // after a failure: a fresh worker
 *
 * Stages, in order: waiting, then the worker's own (runtime, then restoring when Python comes
 * from a memory snapshot, else python, installer, packages; runtime-module), environment,
 * players, determinism (browser group games: the netcode layer,
 * interactive_gym.runtime.netcode, checks that the env replays exactly; its failure is a
 * GameLoadError of stage "determinism" with the check's message), ready. Loading that takes
 * longer than the scene's `load_timeout_s` fails with a GameLoadError naming the stage.
 * Several game scenes load one after the other, and not while another game scene is being
 * played (`gamePlaying`), so loading never competes with a game for the participant's CPU.
 *
 * Unless the study turned them off (`Experiment(python_snapshots=False)`, the scene's
 * `python_snapshots`), the worker restores Python from a memory snapshot an earlier load of
 * the same configuration stored in this browser, or boots and stores one
 * (worker/python_snapshot.js); `loader.pythonLoad` says which it was.
 * @module game/preload
 */

import { PyodideWorker } from "../PyodideWorker.js";
import { GameLoadError } from "./errors.js";
import { MAX_SNAPSHOT_CHARS } from "./net_socket.js";
import { probe } from "./probe.js";

export { GameLoadError } from "./errors.js";

/** @typedef {import("../study/scene_api.js").SceneDescription} SceneDescription */
/** @typedef {import("./channel.js").Progress} Progress */
/** @typedef {import("./channel.js").GameInfo} GameInfo */

/** @type {Map<string, GameLoader>} */
const loaders = new Map();
/** @type {Promise<unknown>} */
let queue = Promise.resolve();
/** The game layer the worker loads before setting up the game. */
const GAME_EXTENSION = {
  module: new URL("../worker/game_hooks.js", import.meta.url).href,
  python: "interactive_gym.runtime.game_host",
};

/** The netcode layer of browser group games (game/net_channel.js drives it). */
const NETCODE_EXTENSION = { python: "interactive_gym.runtime.netcode" };
/** Frames the load-time determinism check plays. */
const NET_CHECK_FRAMES = 24;

/** @type {{sceneId: string, done: Promise<unknown>} | null} the game being played now */
let playing = null;

/**
 * A game scene is being played until `done` settles: other scenes' loading waits for it, so
 * it never competes with the game for the participant's CPU.
 * @param {string} sceneId  @param {Promise<unknown>} done
 */
export function gamePlaying(sceneId, done) {
  const entry = { sceneId, done: done.catch(() => {}) };
  playing = entry;
  entry.done.then(() => {
    if (playing === entry) playing = null;
  });
}

/** The loader of a scene (created on first use). @param {SceneDescription} scene */
export function gameLoader(scene) {
  let loader = loaders.get(scene.scene_id);
  if (!loader) loaders.set(scene.scene_id, (loader = new GameLoader(scene)));
  return loader;
}

/** The actions the controls produce, named as in the study file, for the worker to check. */
function actionsUsed(/** @type {SceneDescription} */ scene) {
  /** @type {Record<string, any>} */
  const used = {};
  for (const c of scene.controls) used[`controls[${JSON.stringify(c.keys.join("+"))}]`] = c.action;
  if (scene.human !== null || scene.group) used.default_action = scene.default_action;
  return used;
}

export class GameLoader extends EventTarget {
  /** @param {SceneDescription} scene */
  constructor(scene) {
    super();
    this.scene = scene;
    /** @type {Progress} */
    this.progress = { stage: "waiting", message: "Waiting to load the game", fraction: 0 };
    /** @type {Promise<{worker: PyodideWorker, game: GameInfo}> | null} */
    this.promise = null;
    /** @type {PyodideWorker | null} */
    this.worker = null;
    this.attempts = 0;
    /** @type {number | null} */ this.startedAt = null;
    /** @type {number | null} */ this.loadMs = null;
    /** @type {GameLoadError | null} */ this.error = null;
    /**
     * How the worker's Python started on the last successful load: boot or restore.
     * @type {import("../PyodideWorker.js").LoadReport | null}
     */
    this.pythonLoad = null;
  }

  get ready() {
    return this.loadMs !== null && this.error === null;
  }

  start() {
    if (!this.promise) {
      this._stage("waiting", "Waiting to load the game", 0);
      const previous = queue;
      this.promise = this._load(previous);
      queue = this.promise.catch(() => {});
    }
    return this.promise;
  }

  /** Throw the failed worker away and load again. */
  retry() {
    this.worker?.destroy();
    this.worker = null;
    this.promise = null;
    this.error = null;
    return this.start();
  }

  /** @param {string} stage  @param {string} message  @param {number} fraction */
  _stage(stage, message, fraction) {
    this.progress = { stage, message, fraction };
    probe.loading(this.scene.scene_id, stage);
    this.dispatchEvent(new CustomEvent("progress", { detail: this.progress }));
  }

  /** @param {Promise<unknown>} previous */
  async _load(previous) {
    await previous;
    while (playing && playing.sceneId !== this.scene.scene_id) await playing.done;
    this.attempts++;
    this.startedAt = performance.now();
    this.loadMs = null;
    const scene = this.scene;
    const limitMs = scene.load_timeout_s * 1000;
    /** @type {any} */ let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => {
        const seconds = Math.round(scene.load_timeout_s);
        reject(new GameLoadError(this.progress.stage, `loading took longer than ${seconds} s (${this.progress.message})`));
      }, limitMs);
    });
    try {
      const result = await Promise.race([this._steps(limitMs), timeout]);
      this.loadMs = performance.now() - this.startedAt;
      this._stage("ready", "Ready", 1);
      return result;
    } catch (error) {
      const e = /** @type {any} */ (error);
      const named = e?.name && !["Error", "GameLoadError"].includes(e.name) ? `${e.name}: ` : "";
      this.error = e instanceof GameLoadError ? e : new GameLoadError(this.progress.stage, `${named}${e?.message ?? e}`, e?.traceback ?? "");
      this.worker?.destroy();
      this.worker = null;
      probe.loading(this.scene.scene_id, this.error.stage, this.error.message);
      this.dispatchEvent(new CustomEvent("error", { detail: this.error }));
      throw this.error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** @param {number} limitMs */
  async _steps(limitMs) {
    const scene = this.scene;
    const worker = new PyodideWorker({
      initTimeoutMs: limitMs,
      timeoutMs: scene.step_timeout_s * 1000,
      // The worker's own "ready" is not the game's: the environment and players come next.
      onProgress: (p) => p.stage !== "ready" && this._stage(p.stage, p.message, 0.85 * (p.fraction ?? 0)),
    });
    this.worker = worker;
    const { load } = await worker.init({ packages: scene.packages, snapshots: scene.python_snapshots !== false });
    this.pythonLoad = load;
    this._stage("environment", "Loading the game", 0.92);
    const env = scene.env;
    await worker.initEnv(
      env.code !== null
        ? { code: env.code, config: env.config, filename: env.filename }
        : { module: env.module, config: env.config },
      { timeoutMs: limitMs },
    );
    this._stage("players", "Setting up the players", 0.96);
    await worker.loadExtension(GAME_EXTENSION, { timeoutMs: limitMs });
    const game = await worker.call(
      "setupGame",
      {
        agents: scene.agents,
        hud_function: scene.hud_function,
        max_steps: scene.max_steps,
        num_actions: scene.num_actions,
        actions_used: actionsUsed(scene),
        record_observations: scene.record_observations,
        state_hash_every: scene.record_state_hash_every ?? null,
      },
      { timeoutMs: limitMs },
    );
    if (scene.group) await this._netCheck(worker, limitMs);
    return { worker, game: /** @type {GameInfo} */ (game) };
  }

  /**
   * A browser group game: load the netcode layer and check that the env replays exactly (every
   * member's worker must compute the same frames from the same inputs).
   * @param {PyodideWorker} worker  @param {number} limitMs
   */
  async _netCheck(worker, limitMs) {
    const scene = this.scene;
    this._stage("determinism", "Checking the game", 0.98);
    await worker.loadExtension(NETCODE_EXTENSION, { timeoutMs: limitMs });
    const seed = scene.seeds?.[0] ?? 0;
    try {
      const checked = await worker.call("netCheck", { seed, frames: NET_CHECK_FRAMES, lockstep: scene.netcode === "lockstep" }, { timeoutMs: limitMs });
      const bytes = Number(checked?.snapshot_bytes ?? 0);
      if (bytes > MAX_SNAPSHOT_CHARS) {
        throw new Error(
          `the environment's state (get_state()) is ${bytes} bytes as JSON; a group game in the browser sends it to repair a member or bring one back, and it must stay under ${MAX_SNAPSHOT_CHARS} bytes. Hint: keep only what the game needs to continue in get_state()`,
        );
      }
    } catch (error) {
      const e = /** @type {any} */ (error);
      throw new GameLoadError("determinism", String(e?.message ?? e), String(e?.traceback ?? ""));
    }
  }
}
