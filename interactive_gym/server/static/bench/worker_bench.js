// @ts-check
/**
 * Benchmark of the worker runtime: time to READY and main-thread stalls while Pyodide loads,
 * then step+render round trips and rollback batches of the environment in
 * `window.benchConfig.envCode`. Every sample is published raw; the harness computes the
 * statistics.
 */

import { benchConfig, episodeOver, publish, publishError, randomPlayers } from "./bench_env.js";
import { timedInit } from "./timed_init.js";

/** @typedef {import("./bench_env.js").BenchConfig} BenchConfig */
/** @typedef {import("../js/PyodideWorker.js").PyodideWorker} PyodideWorker */

async function main() {
  const config = benchConfig();
  const { worker, init } = await timedInit();
  const result = { runtime: "worker", init };
  if (!config.initOnly) {
    const envStarted = performance.now();
    await worker.initEnv({ code: config.envCode, filename: "physics_duel.py" });
    Object.assign(result, {
      initEnvMs: performance.now() - envStarted,
      steps: await measureSteps(worker, config),
      rollbacks: await measureRollbacks(worker, config),
    });
  }
  worker.destroy();
  publish(result);
}

/**
 * `step(actions, {render: true})` one after the other, as a game loop does.
 * @param {PyodideWorker} worker @param {BenchConfig} config
 */
async function measureSteps(worker, config) {
  const act = randomPlayers(config.seed, config.numActions);
  /** @type {Record<"roundTripMs" | "workerMs" | "envMs" | "timingRoundTripMs", number[]>} */
  const samples = { roundTripMs: [], workerMs: [], envMs: [], timingRoundTripMs: [] };
  let episode = 0;
  let resets = 0;
  let objects = 0;
  let renderBytes = 0;
  let sized = 0;
  await worker.reset({ seed: config.seed });
  for (let i = 0; i < config.warmup + config.steps; i++) {
    const actions = act();
    const started = performance.now();
    const reply = await worker.step(actions, { render: true });
    const elapsed = performance.now() - started;
    if (i >= config.warmup) {
      const timing = reply.timing;
      samples.roundTripMs.push(elapsed);
      samples.workerMs.push(timing.workerMs);
      samples.envMs.push(timing.envMs);
      samples.timingRoundTripMs.push(timing.roundTripMs);
      objects += reply.render.length;
      if (i % 50 === 0) {
        renderBytes += JSON.stringify(reply.render).length;
        sized += 1;
      }
    }
    if (episodeOver(reply.terminated) || episodeOver(reply.truncated)) {
      episode += 1;
      resets += 1;
      await worker.reset({ seed: config.seed + episode });
    }
  }
  return {
    ...samples,
    resets,
    renderObjectsPerFrame: objects / config.steps,
    renderJsonBytesPerFrame: sized ? renderBytes / sized : 0,
  };
}

/**
 * Rollback as one batch: setState, `rollbackSteps` steps without rendering, getState.
 * @param {PyodideWorker} worker @param {BenchConfig} config
 */
async function measureRollbacks(worker, config) {
  const act = randomPlayers(config.seed + 1, config.numActions);
  await worker.reset({ seed: config.seed });
  for (let i = 0; i < 30; i++) await worker.step(act()); // past the serve: the puck moves
  const state = await worker.getState();
  /** @type {Record<"roundTripMs" | "workerMs" | "envMs", number[]>} */
  const samples = { roundTripMs: [], workerMs: [], envMs: [] };
  for (let i = 0; i < config.warmup + config.rollbacks; i++) {
    /** @type {{op: string, args?: any}[]} */
    const ops = [{ op: "setState", args: state }];
    for (let k = 0; k < config.rollbackSteps; k++) ops.push({ op: "step", args: act() });
    ops.push({ op: "getState" });
    const started = performance.now();
    const results = await worker.batch(ops);
    const elapsed = performance.now() - started;
    if (results.length !== ops.length) throw new Error(`batch returned ${results.length} results`);
    if (i >= config.warmup) {
      samples.roundTripMs.push(elapsed);
      samples.workerMs.push(results.timing.workerMs);
      samples.envMs.push(results.timing.envMs);
    }
  }
  return { ...samples, stepsPerBatch: config.rollbackSteps };
}

main().catch(publishError);
