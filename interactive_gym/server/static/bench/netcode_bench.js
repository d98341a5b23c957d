// @ts-check
/**
 * Benchmark of a rollback in the real Pyodide worker: the game layer
 * (`interactive_gym.runtime.game_host`) and the netcode layer (`interactive_gym.runtime.netcode`)
 * loaded as a browser group game's page loads them (game/preload.js), both agents human, then
 * `netAdvance` calls as game/net_channel.js makes them, alternating:
 *
 * - a plain advance: no restore, one new frame, render of it;
 * - a rollback of `rollbackFrames` frames: restore S_{n-k} (n: the next frame), re-simulate
 *   the k frames with other inputs and simulate frame n, hash the hashed frames, render the
 *   last state (k + 1 steps in one call).
 *
 * The harness (interactive_gym/bench/netcode_cost.py) sets `window.benchConfig`; every sample
 * is published raw (`timing.workerMs`: the worker's own time; `timing.roundTripMs`: the call
 * seen from this thread; `timing.envMs`: the env's methods).
 */

import { PyodideWorker } from "../js/PyodideWorker.js";
import { benchConfig, publish, publishError, randomPlayers } from "./bench_env.js";

/**
 * @typedef {{
 *   envCode: string, envConfig: Record<string, any>, seed: number, numActions: number,
 *   warmup: number, repetitions: number, rollbackFrames: number, hashEvery: number,
 *   startFrames: number,
 * }} NetBenchConfig
 * @typedef {{workerMs: number[], roundTripMs: number[], envMs: (number | null)[]}} Samples
 */

const GAME_EXTENSION = {
  module: new URL("../js/worker/game_hooks.js", import.meta.url).href,
  python: "interactive_gym.runtime.game_host",
};
const NETCODE_EXTENSION = { python: "interactive_gym.runtime.netcode" };
const HUMANS = { 0: { kind: "human" }, 1: { kind: "human" } };

async function main() {
  const config = /** @type {NetBenchConfig} */ (/** @type {unknown} */ (benchConfig()));
  const worker = new PyodideWorker({ timeoutMs: 60000 });
  const { pythonVersion } = await worker.init();
  await worker.initEnv({ code: config.envCode, config: config.envConfig, filename: "physics_duel.py" });
  await worker.loadExtension(GAME_EXTENSION);
  await worker.call("setupGame", {
    agents: HUMANS,
    max_steps: null,
    num_actions: config.numActions,
    actions_used: { 'controls["ArrowUp"]': 1, 'controls["ArrowDown"]': 2, default_action: 0 },
  });
  await worker.loadExtension(NETCODE_EXTENSION);
  const check = await worker.call("netCheck", { seed: config.seed, frames: 24 });
  await worker.call("netStart", { seed: config.seed });
  const result = { pythonVersion, check: { hashMs: check.hash_ms, snapshotBytes: check.snapshot_bytes }, ...(await measure(worker, config)) };
  worker.destroy();
  publish(result);
}

/**
 * Plain advances and rollbacks, alternating, after `startFrames` frames (past the serve: the
 * puck moves) and `warmup` unmeasured pairs.
 * @param {PyodideWorker} worker  @param {NetBenchConfig} config
 */
async function measure(worker, config) {
  const act = randomPlayers(config.seed, config.numActions);
  const k = config.rollbackFrames;
  const hashed = (/** @type {number[]} */ frames) => frames.filter((f) => (f + 1) % config.hashEvery === 0);
  let next = 0;
  /**
   * One `netAdvance` from frame `first` (a rollback when `restore` is set) of `count` steps;
   * the frames before `first - k` are confirmed (their snapshots may go, the next rollback's
   * stays).
   * @param {number | null} restore  @param {number} first  @param {number} count
   */
  const advance = async (restore, first, count) => {
    const frames = Array.from({ length: count }, (_, i) => first + i);
    const confirmed = restore === null ? first - k : restore - 1;
    const reply = await worker.call("netAdvance", { restore, first, steps: frames.map(() => act()), confirmed, hash: hashed(frames), render: true });
    if (reply.frame !== first + count || reply.results.length !== count || !reply.render) {
      throw new Error(`netAdvance from frame ${first} (${count} steps) answered frame ${reply.frame} with ${reply.results.length} results`);
    }
    next = reply.frame;
    return reply.timing;
  };
  while (next < Math.max(config.startFrames, k)) await advance(null, next, 1);
  /** @type {Samples} */ const plain = { workerMs: [], roundTripMs: [], envMs: [] };
  /** @type {Samples} */ const rollback = { workerMs: [], roundTripMs: [], envMs: [] };
  let hashes = 0;
  for (let i = 0; i < config.warmup + config.repetitions; i++) {
    const one = await advance(null, next, 1);
    const frames = hashed(Array.from({ length: k + 1 }, (_, j) => next - k + j)).length;
    const many = await advance(next - k, next - k, k + 1);
    if (i < config.warmup) continue;
    hashes += frames;
    for (const [samples, timing] of /** @type {[Samples, any][]} */ ([[plain, one], [rollback, many]])) {
      samples.workerMs.push(timing.workerMs);
      samples.roundTripMs.push(timing.roundTripMs);
      samples.envMs.push(timing.envMs ?? null);
    }
  }
  return { plain, rollback, rollbackFrames: k, hashedFramesPerRollback: hashes / config.repetitions, frames: next };
}

main().catch(publishError);
