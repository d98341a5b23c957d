// @ts-check
/**
 * What the benchmark pages share: the configuration injected by the harness and the players'
 * random actions.
 *
 * The harness (interactive_gym/bench/worker.py) sets `window.benchConfig` before the page's
 * scripts run: `{envCode, steps, warmup, rollbacks, rollbackSteps, seed, numActions, initOnly,
 * controlMs}` (the snapshot page also reads `snapshots` and `awaitSnapshot`); the page
 * publishes its outcome as `window.benchResult` (or `{error}`) and hands it to
 * `window.benchFinish`, which the harness set up too.
 */

/**
 * @typedef {{
 *   envCode: string, steps: number, warmup: number, rollbacks: number,
 *   rollbackSteps: number, seed: number, initOnly: boolean, numActions: number,
 *   controlMs: number, snapshots?: boolean, awaitSnapshot?: boolean,
 * }} BenchConfig
 */

/** @returns {BenchConfig} */
export function benchConfig() {
  const config = /** @type {any} */ (window).benchConfig;
  if (!config || typeof config !== "object") {
    throw new Error("window.benchConfig is missing: open this page through python -m interactive_gym.bench");
  }
  return config;
}

/** @param {any} result */
export function publish(result) {
  const page = /** @type {any} */ (window);
  page.benchResult = result;
  page.benchFinish?.(result);
}

/** @param {unknown} error */
export function publishError(error) {
  const e = /** @type {any} */ (error);
  publish({ error: `${e?.name ?? "Error"}: ${e?.message ?? String(error)}\n${e?.stack ?? ""}` });
}

/**
 * Random actions for agents 0 and 1 from a seeded generator (mulberry32), so every run and
 * both pages play the same sequence.
 * @param {number} seed
 * @param {number} numActions
 */
export function randomPlayers(seed, numActions) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => ({ 0: Math.floor(next() * numActions), 1: Math.floor(next() * numActions) });
}

/** @param {any} flags  a `terminated`/`truncated` value: a bool or a dict with `__all__` */
export function episodeOver(flags) {
  return flags === true || (flags && typeof flags === "object" && flags.__all__ === true);
}
