// @ts-check
/**
 * Baseline for the worker benchmark: the same Pyodide loaded on the page's main thread, the
 * way earlier browser-experiment systems do it, then the same environment stepped with the
 * same actions through `runPython` (one Python snippet per step, its result converted with
 * `toJs`). Every sample is published raw; the harness computes the statistics.
 */

import { benchConfig, episodeOver, publish, publishError, randomPlayers } from "./bench_env.js";

/** @typedef {import("./bench_env.js").BenchConfig} BenchConfig */

async function main() {
  const config = benchConfig();
  const createdAt = performance.now();
  const runtime = await (await fetch("/runtime.json")).json();
  const { loadPyodide } = await import(runtime.pyodideModuleURL ?? `${runtime.indexURL}pyodide.mjs`);
  /** @type {Record<string, unknown>} */
  const options = { indexURL: runtime.indexURL };
  if (runtime.lockFileURL) options.lockFileURL = runtime.lockFileURL;
  if (runtime.packageBaseUrl) options.packageBaseUrl = runtime.packageBaseUrl;
  const pyodide = await loadPyodide(options);
  if (runtime.micropipURL) await pyodide.loadPackage(runtime.micropipURL);
  const readyAt = performance.now();
  const stall = /** @type {any} */ (window).stallMonitor.stop();
  const result = {
    runtime: "main-thread",
    init: {
      initMs: readyAt - createdAt,
      pageToReadyMs: readyAt,
      createdAt,
      pythonVersion: pyodide.runPython("import sys; sys.version.split()[0]"),
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      ...stall,
    },
  };
  if (!config.initOnly) {
    const envStarted = performance.now();
    pyodide.runPython(config.envCode);
    pyodide.runPython("from time import perf_counter as _perf\nenv = make_env()");
    Object.assign(result, {
      initEnvMs: performance.now() - envStarted,
      steps: measureSteps(pyodide, config),
    });
  }
  publish(result);
}

/**
 * @param {any} pyodide @param {BenchConfig} config
 */
function measureSteps(pyodide, config) {
  const act = randomPlayers(config.seed, config.numActions);
  /** @type {{roundTripMs: number[], envMs: number[]}} */
  const samples = { roundTripMs: [], envMs: [] };
  let episode = 0;
  let resets = 0;
  pyodide.runPython(`env.reset(seed=${config.seed})`);
  for (let i = 0; i < config.warmup + config.steps; i++) {
    const actions = act();
    const started = performance.now();
    const proxy = pyodide.runPython(`
_t = _perf()
_actions = {int(k): v for k, v in ${JSON.stringify(actions)}.items()}
obs, rewards, terminateds, truncateds, infos = env.step(_actions)
render_state = env.render()
(obs, rewards, terminateds, truncateds, infos, render_state, (_perf() - _t) * 1000)
`);
    const reply = proxy.toJs({ dict_converter: Object.fromEntries, create_pyproxies: false });
    proxy.destroy();
    const elapsed = performance.now() - started;
    if (i >= config.warmup) {
      samples.roundTripMs.push(elapsed);
      samples.envMs.push(reply[6]);
    }
    if (episodeOver(reply[2]) || episodeOver(reply[3])) {
      episode += 1;
      resets += 1;
      pyodide.runPython(`env.reset(seed=${config.seed + episode})`);
    }
  }
  return { ...samples, resets };
}

main().catch(publishError);
