// @ts-check
/**
 * Where the time of a worker request goes, stage by stage, for the two requests the benchmark
 * measures: `step(actions, {render: true})` and the rollback batch
 * `[setState, step × N, getState]`.
 *
 * The worker reports only its total (`workerMs`) and the env's own time (`envMs`). Here the
 * same Python runtime package (`interactive_gym.runtime`) runs in a Pyodide on this page and each
 * request is taken apart the way `handler.handle` and `worker/pyodide_worker.js` run it: `to_py`
 * of the payload, the operation (env work, then `to_plain` of each part), `handle`'s `to_plain`
 * of the value, `to_js` of the reply, and the JS → Python call around it. The reply's trip between threads
 * is measured on its own: `structuredClone` (what `postMessage` does to it) and a round trip
 * through a worker that echoes it. For comparison, a JSON text transfer of the same reply
 * (`json.dumps` in Python, `JSON.parse` in JS) is timed too.
 *
 * Stage names: `<stage>` for the step, `rollback_<stage>` for the batch. Every sample is
 * published raw; the harness computes the statistics.
 */

import { runtimeSources, writeRuntimePackage } from "../js/worker/runtime_package.js";
import { benchConfig, episodeOver, publish, publishError, randomPlayers } from "./bench_env.js";

/** @typedef {import("./bench_env.js").BenchConfig} BenchConfig */

// The reply converter of worker/pyodide_worker.js, and handler.handle split into timed stages.
const PROFILER = `
import json as _json
from time import perf_counter as _pc
import js as _js
from pyodide.ffi import jsnull as _jsnull, to_js as _to_js
from interactive_gym.runtime import handler as _rt, plain as _plain

_plain.NULL = _jsnull
_convert = lambda reply: _to_js(reply, dict_converter=_js.Object.fromEntries, create_pyproxies=False)
STAGES = {}
_last_reply = None

def _record(prefix, **seconds):
    for key, value in seconds.items():
        STAGES.setdefault(prefix + key, []).append(value * 1000)

def profile_op(op, payload, prefix):
    global _last_reply
    t0 = _pc()
    args = payload.to_py()
    t1 = _pc()
    _rt.HOST.env_ms = 0.0
    value = _rt.run(op, args)
    t2 = _pc()
    reply = {"ok": True, "value": _plain.to_plain(value)}
    t3 = _pc()
    reply["envMs"] = _rt.HOST.env_ms
    out = _convert(reply)
    t4 = _pc()
    _record(prefix, to_py=t1 - t0, operation=t2 - t1, handle_to_plain=t3 - t2, to_js=t4 - t3,
            env=_rt.HOST.env_ms / 1000)
    _last_reply = reply
    return out

def dump_last_reply(prefix):
    t0 = _pc()
    text = _json.dumps(_last_reply, default=str)
    _record(prefix, json_dumps=_pc() - t0)
    return text

def stages():
    return _convert(STAGES)
`;

/**
 * @typedef {{
 *   profileOp: (op: string, payload: any, prefix: string) => any,
 *   dumpLastReply: (prefix: string) => string,
 *   handle: (op: string, payload: any, convert: any) => any,
 *   convert: any,
 * }} Profiler
 */

async function main() {
  const config = benchConfig();
  const runtime = await (await fetch("/runtime.json")).json();
  const { loadPyodide } = await import(runtime.pyodideModuleURL ?? `${runtime.indexURL}pyodide.mjs`);
  /** @type {Record<string, unknown>} */
  const options = { indexURL: runtime.indexURL };
  if (runtime.lockFileURL) options.lockFileURL = runtime.lockFileURL;
  const pyodide = await loadPyodide(options);
  writeRuntimePackage(pyodide, await runtimeSources(runtime));
  pyodide.runPython(PROFILER);
  /** @type {Profiler} */
  const py = {
    profileOp: pyodide.runPython("profile_op"),
    dumpLastReply: pyodide.runPython("dump_last_reply"),
    handle: pyodide.runPython("_rt.handle"),
    convert: pyodide.runPython("_convert"),
  };
  const created = py.handle("initEnv", { code: config.envCode, filename: "physics_duel.py" }, py.convert);
  if (!created.ok) throw new Error(`initEnv failed: ${created.error.message}`);

  /** @type {Record<string, number[]>} */
  const js = {};
  const stepReply = profileSteps(py, config, js);
  const rollbackReply = profileRollbacks(py, config, js);
  const stages = pyodide.runPython("stages()");
  for (const key of Object.keys(stages)) stages[key] = stages[key].slice(config.warmup);
  Object.assign(stages, js, {
    echoRoundTrip: await echoRoundTrips(stepReply, config.warmup, config.steps),
    rollback_echoRoundTrip: await echoRoundTrips(rollbackReply, config.warmup, config.rollbacks),
  });
  publish({ stages });
}

/**
 * Time one request stage by stage, plus what happens to its reply on the JS side.
 * @param {Profiler} py @param {string} op @param {any} payload @param {string} prefix
 * @param {Record<string, number[]>} js  JS-side samples, appended to when `keep`
 * @param {boolean} keep
 */
function profileRequest(py, op, payload, prefix, js, keep) {
  const started = performance.now();
  const out = py.profileOp(op, payload, prefix);
  const called = performance.now();
  const text = py.dumpLastReply(prefix);
  const cloneStarted = performance.now();
  structuredClone(out);
  const cloned = performance.now();
  JSON.parse(text);
  const parsed = performance.now();
  if (keep) {
    for (const [key, ms] of [
      ["call", called - started],
      ["structuredClone", cloned - cloneStarted],
      ["jsonParse", parsed - cloned],
    ]) {
      (js[prefix + key] ??= []).push(/** @type {number} */ (ms));
    }
  }
  return out;
}

/**
 * @param {Profiler} py @param {BenchConfig} config @param {Record<string, number[]>} js
 * @returns {any} a typical reply
 */
function profileSteps(py, config, js) {
  const act = randomPlayers(config.seed, config.numActions);
  let episode = 0;
  let sample = null;
  py.handle("reset", { seed: config.seed }, py.convert);
  for (let i = 0; i < config.warmup + config.steps; i++) {
    const payload = { actions: act(), render: true };
    const out = profileRequest(py, "step", payload, "", js, i >= config.warmup);
    if (i === config.warmup) sample = out;
    const reply = out.value;
    if (episodeOver(reply.terminated) || episodeOver(reply.truncated)) {
      episode += 1;
      py.handle("reset", { seed: config.seed + episode }, py.convert);
    }
  }
  return sample;
}

/**
 * @param {Profiler} py @param {BenchConfig} config @param {Record<string, number[]>} js
 * @returns {any} a typical reply
 */
function profileRollbacks(py, config, js) {
  const act = randomPlayers(config.seed + 1, config.numActions);
  py.handle("reset", { seed: config.seed }, py.convert);
  for (let i = 0; i < 30; i++) py.handle("step", { actions: act() }, py.convert);
  const state = py.handle("getState", null, py.convert).value;
  let sample = null;
  for (let i = 0; i < config.warmup + config.rollbacks; i++) {
    /** @type {{op: string, args?: any}[]} */
    const ops = [{ op: "setState", args: state }];
    for (let k = 0; k < config.rollbackSteps; k++) ops.push({ op: "step", args: act() });
    ops.push({ op: "getState" });
    const out = profileRequest(py, "batch", ops, "rollback_", js, i >= config.warmup);
    if (i === config.warmup) sample = out;
  }
  return sample;
}

/**
 * Round trips of a message through a worker that sends it straight back.
 * @param {any} message @param {number} warmup @param {number} count
 */
async function echoRoundTrips(message, warmup, count) {
  const worker = new Worker(new URL("./echo_worker.js", import.meta.url));
  /** @type {(value: any) => void} */ let answered = () => {};
  worker.onmessage = (event) => answered(event.data);
  const samples = [];
  for (let i = 0; i < warmup + count; i++) {
    const started = performance.now();
    await new Promise((resolve) => {
      answered = resolve;
      worker.postMessage(message);
    });
    if (i >= warmup) samples.push(performance.now() - started);
  }
  worker.terminate();
  return samples;
}

main().catch(publishError);
