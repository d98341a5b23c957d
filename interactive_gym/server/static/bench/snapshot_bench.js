// @ts-check
/**
 * Benchmark of the worker's start with memory snapshots (`PyodideWorker#init({snapshots})`):
 * time to READY, how Python started (the load report: boot or restore) and the main-thread
 * stalls until READY. With `benchConfig.awaitSnapshot` the page also waits until the snapshot
 * a boot took is stored (`worker.snapshotSaved`) and reports its size; with `envCode` it then
 * plays a few steps of that env, so a restored runtime is shown to work, not only to start.
 */

import { benchConfig, publish, publishError, randomPlayers } from "./bench_env.js";
import { timedInit } from "./timed_init.js";

async function main() {
  const config = benchConfig();
  const { worker, readyAt, init } = await timedInit({ snapshots: config.snapshots === true });
  /** @type {Record<string, any>} */
  const result = { init };
  if (config.awaitSnapshot) {
    const saved = await worker.snapshotSaved;
    result.saved = { ...saved, afterReadyMs: performance.now() - readyAt };
  }
  if (config.envCode) {
    const act = randomPlayers(config.seed, config.numActions);
    await worker.initEnv({ code: config.envCode, filename: "physics_duel.py" });
    await worker.reset({ seed: config.seed });
    let steps = 0;
    for (; steps < 10; steps++) await worker.step(act(), { render: true });
    result.steps = steps;
  }
  worker.destroy();
  publish(result);
}

main().catch(publishError);
