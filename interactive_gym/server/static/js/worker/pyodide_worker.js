// @ts-check
/**
 * Module worker that owns one Pyodide instance and one environment: the generic bottom layer.
 *
 * Protocol: every message in either direction is `{type, id, payload}`.
 *   main → worker  type: init | installPackages | loadExtension | destroy, answered here;
 *                        any other operation name is forwarded to the Python runtime
 *                        (`interactive_gym/runtime/handler.py`: initEnv, reset, step, render,
 *                        getState, setState, batch, plus what extensions registered)
 *   worker → main  type: result  {id, payload, timing: {workerMs, envMs}}
 *                        error   {id, payload: {name, message, pythonType, traceback, ...}}
 *                        progress {id (of init), payload: {stage, message, fraction?}}
 *                        snapshot {id: 0, payload: {stored, bytes? | problem?}} (after init)
 *
 * The worker knows nothing of games. A layer above the environment is an *extension*:
 * `loadExtension {module?, python?}` imports `module` (an absolute URL of a worker-side ES
 * module exporting `prepare(request, callPython) -> Promise<request>`, awaited before every
 * later request) and registers the `OPERATIONS` of the Python module `python` with
 * `handler.register`. The game scene's extension is `game_hooks.js` with
 * `interactive_gym.runtime.game_host`.
 *
 * `init` starts Python (`python_start.js`): with `snapshots: true` it restores the memory
 * snapshot stored for this configuration, or boots, installs `packages` and takes one
 * (`python_snapshot.js`); the runtime package's files are each of `runtimeFiles` fetched from
 * `runtimeBaseURL` (or `runtimeSources`, {file: text}, in tests). Its answer says how Python
 * started: `{pythonVersion, load: {kind: "boot" | "restore", ms, snapshot, problem?}}`.
 *
 * READY gate: anything other than `init` that arrives before Pyodide is ready is queued and
 * run in order once it is. After that, requests run one at a time in arrival order (an async
 * install never interleaves with a step).
 *
 * Interrupts: `init` may carry a SharedArrayBuffer. Slot 0 is Pyodide's interrupt buffer
 * (2 = SIGINT); slot 1 holds the id of the request running in Python, which the main thread
 * swaps atomically to INTERRUPTING / INTERRUPT_SENT before it raises the signal, so only the
 * request that timed out is ever interrupted (see `finishRequest`).
 *
 * Loaded with `new Worker(url, {type: "module"})`; in Node tests the same file runs in a
 * worker_thread behind a small shim that provides `self`. The main-thread half is
 * `../PyodideWorker.js`.
 */

import { INTERRUPTING, INTERRUPT_SENT, OPERATION_NAME } from "../worker_protocol.js";
import { describe, installPackages as installInto, startPython } from "./python_start.js";

/** @typedef {{type: string, id: number, payload?: any}} Request */

/** @type {any} */ let pyodide = null;
/** @type {any} */ let handlePy = null;
/** @type {any} */ let toJsReply = null;
/** @type {any} */ let loadExtensionPy = null;
/**
 * What an extension's `prepare` may call: run a Python operation now, inside the current
 * request, and return its value (a Python error throws).
 * @typedef {(op: string, payload?: any) => any} CallPython
 * @typedef {(request: Request, callPython: CallPython) => Promise<Request>} Prepare
 */
/** @type {Prepare[]} */ const prepares = [];
/** @type {Set<string>} */ const loadedModules = new Set();
/** @type {Set<string>} */ const loadedPython = new Set();
/** @type {Int32Array | null} */ let interruptSlots = null;
let ready = false;
/** @type {string | null} */ let initFailure = null;
/** @type {Request[]} */ const waiting = [];
/** @type {Promise<void>} */ let chain = Promise.resolve();

/** @param {any} message */
function post(message) {
  self.postMessage(message);
}

/**
 * @param {unknown} error
 * @param {Record<string, unknown>} [extra]
 */
function errorPayload(error, extra = {}) {
  const e = /** @type {any} */ (error);
  return {
    name: e?.name ?? "Error",
    message: e?.message ?? String(error),
    stack: e?.stack ?? "",
    ...extra,
  };
}

/**
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @param {string} what
 * @returns {Promise<T>}
 */
function withTimeout(promise, ms, what) {
  /** @type {any} */ let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`${what} did not finish within ${ms} ms`);
      error.name = "TimeoutError";
      reject(error);
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// -- init ----------------------------------------------------------------------------------

/**
 * Start Python (restored from a snapshot or booted, `python_start.js`), reporting each stage,
 * and connect the runtime module's entry points. Answers `{pythonVersion, load}`; a snapshot
 * taken on a boot is stored after that answer, and its outcome posted as a `snapshot` message.
 * @param {Request} request
 */
async function init(request) {
  const config = request.payload ?? {};
  /** @param {string} stage @param {string} message @param {number} fraction */
  const progress = (stage, message, fraction) =>
    post({ type: "progress", id: request.id, payload: { stage, message, fraction } });
  const loadTimeoutMs = config.loadTimeoutMs ?? 60000;
  /** @type {import("./python_start.js").Timed} */
  const timed = (promise, what) => withTimeout(promise, loadTimeoutMs, what);
  try {
    if (pyodide) throw new Error("init was already called on this worker");
    progress("runtime", "Loading the Pyodide runtime", 0.05);
    const moduleURL = config.pyodideModuleURL ?? `${config.indexURL}pyodide.mjs`;
    const pyodideModule = timed(import(moduleURL), `import ${moduleURL}`);
    pyodideModule.catch(() => {}); // startPython awaits it; a failure is its to report
    /** @type {Record<string, unknown>} */
    const options = { indexURL: config.indexURL, stdout: forward("stdout"), stderr: forward("stderr") };
    if (config.lockFileURL) options.lockFileURL = config.lockFileURL;
    if (config.packageBaseUrl) options.packageBaseUrl = config.packageBaseUrl;
    const started = await startPython(config, pyodideModule, options, progress, timed);
    pyodide = started.pyodide;

    if (config.interruptBuffer) {
      interruptSlots = new Int32Array(config.interruptBuffer);
      pyodide.setInterruptBuffer(interruptSlots);
    }
    handlePy = pyodide.runPython(
      "from pyodide.ffi import jsnull\n" +
        "from interactive_gym.runtime import handler, plain\n" +
        "plain.NULL = jsnull\n" +
        "handler.handle",
    );
    toJsReply = pyodide.runPython(
      "from pyodide.ffi import to_js as _to_js\n" +
        "import js as _js\n" +
        "lambda reply: _to_js(reply, dict_converter=_js.Object.fromEntries, create_pyproxies=False)",
    );
    loadExtensionPy = pyodide.runPython(LOAD_EXTENSION_SOURCE);
    wheelIndexURL = config.wheelIndexURL ?? null;

    ready = true;
    progress("ready", "Python is ready", 1);
    post({ type: "result", id: request.id, payload: { pythonVersion: pythonVersion(), load: started.load } });
    for (const queued of waiting.splice(0)) enqueue(queued);
    if (started.save) storeSnapshot(started.save);
  } catch (error) {
    initFailure = String(/** @type {any} */ (error)?.message ?? error);
    post({ type: "error", id: request.id, payload: errorPayload(error, { stage: "init" }) });
    for (const queued of waiting.splice(0)) rejectNotReady(queued);
  }
}

/**
 * Store the snapshot taken at boot, in the background of the first requests, and say how it
 * went: `{type: "snapshot", id: 0, payload: {stored: true, bytes} | {stored: false, problem}}`.
 * @param {() => Promise<number>} save
 */
function storeSnapshot(save) {
  save().then(
    (bytes) => post({ type: "snapshot", id: 0, payload: { stored: true, bytes } }),
    (error) => post({ type: "snapshot", id: 0, payload: { stored: false, problem: describe(error) } }),
  );
}

/** @type {string | null} */ let wheelIndexURL = null;

/** @param {string} stream */
function forward(stream) {
  return (/** @type {string} */ text) => post({ type: "log", id: 0, payload: { stream, text } });
}

function pythonVersion() {
  return pyodide.runPython("import sys; sys.version.split()[0]");
}

/** @param {Request} request */
function rejectNotReady(request) {
  post({
    type: "error",
    id: request.id,
    payload: errorPayload(new Error(`the worker could not start Python: ${initFailure}`)),
  });
}

// -- requests after READY -----------------------------------------------------------------

/** @param {Request} request */
function enqueue(request) {
  chain = chain.then(() => run(request));
}

/** @param {Request} request */
async function run(request) {
  const started = performance.now();
  try {
    if (request.type === "destroy") {
      post({ type: "result", id: request.id, payload: null, timing: { workerMs: 0 } });
      self.close();
      return;
    }
    if (request.type === "installPackages") {
      const payload = await installPackages(request.payload);
      post({ type: "result", id: request.id, payload, timing: { workerMs: performance.now() - started } });
      return;
    }
    if (request.type === "loadExtension") {
      await loadExtension(request, started);
      return;
    }
    for (const prepare of prepares) request = await prepare(request, pythonValue);
    postReply(request, callPython(request), started);
  } catch (error) {
    post({ type: "error", id: request.id, payload: errorPayload(error, { op: request.type }) });
  }
}

/**
 * Answer a request with a reply of `handler.handle`'s shape (`{ok, value | error, envMs}`).
 * @param {Request} request @param {any} reply @param {number} started
 */
function postReply(request, reply, started) {
  const timing = { workerMs: performance.now() - started, envMs: reply.envMs };
  if (reply.ok) {
    post({ type: "result", id: request.id, payload: reply.value, timing });
    return;
  }
  const e = reply.error;
  const name = e.type === "KeyboardInterrupt" ? "InterruptError" : e.type;
  post({
    type: "error",
    id: request.id,
    timing,
    payload: {
      name,
      message: e.message,
      pythonType: e.type,
      traceback: e.traceback,
      opIndex: e.opIndex,
      op: e.op ?? request.type,
      results: reply.results,
    },
  });
}

/**
 * Run one operation in Python; the reply comes back as a plain JS object (no proxies).
 * @param {Request} request
 */
function callPython(request) {
  startRequest(request.id);
  try {
    return handlePy(request.type, request.payload ?? null, toJsReply);
  } finally {
    finishRequest(request.id);
  }
}

/**
 * Run a Python operation inside the current request (no interrupt bookkeeping of its own):
 * the `callPython` an extension's `prepare` gets.
 * @type {CallPython}
 */
function pythonValue(op, payload = null) {
  const reply = handlePy(op, payload, toJsReply);
  if (!reply.ok) throw Object.assign(new Error(reply.error.message), { name: reply.error.type });
  return reply.value;
}

// -- extensions ---------------------------------------------------------------------------

const LOAD_EXTENSION_SOURCE = `
def _ig_load_extension(name, convert):
    import importlib
    from interactive_gym.runtime import handler
    from interactive_gym.runtime.env_host import describe_error
    try:
        module = importlib.import_module(name)
        operations = getattr(module, "OPERATIONS", None)
        if not isinstance(operations, dict):
            raise TypeError(f"the extension {name} has no OPERATIONS dict")
        handler.register(operations)
        reply = {"ok": True, "value": sorted(operations)}
    except BaseException as error:
        reply = {"ok": False, "error": describe_error(error)}
    reply["envMs"] = None
    return convert(reply)
_ig_load_extension
`;

/**
 * `loadExtension {module?, python?}`: register the Python module's OPERATIONS, then import
 * the JS module and keep its `prepare`. Loading the same module again does nothing, so a
 * retry after a failure loads only what is missing. Answers `{operations}`: the names the
 * Python module added (empty when it was loaded before or none was given).
 * @param {Request} request @param {number} started
 */
async function loadExtension(request, started) {
  const payload = request.payload ?? {};
  const { module = null, python = null } = payload;
  if ((module !== null && typeof module !== "string") || (python !== null && typeof python !== "string") ||
    (module === null && python === null)) {
    throw new TypeError("loadExtension needs {module?: URL string, python?: module name string}, at least one");
  }
  /** @type {string[]} */ let operations = [];
  if (python !== null && !loadedPython.has(python)) {
    startRequest(request.id);
    let reply;
    try {
      reply = loadExtensionPy(python, toJsReply);
    } finally {
      finishRequest(request.id);
    }
    if (!reply.ok) {
      postReply(request, reply, started);
      return;
    }
    loadedPython.add(python);
    operations = reply.value;
  }
  if (module !== null && !loadedModules.has(module)) {
    const imported = await import(module);
    if (typeof imported.prepare !== "function") {
      throw new TypeError(`the extension ${module} exports no prepare(request, callPython)`);
    }
    prepares.push(imported.prepare);
    loadedModules.add(module);
  }
  post({ type: "result", id: request.id, payload: { operations }, timing: { workerMs: performance.now() - started } });
}

/** @param {number} id */
function startRequest(id) {
  if (interruptSlots) Atomics.store(interruptSlots, 1, id);
}

/**
 * Mark no request as running. If the main thread began an interrupt for this request, wait
 * for it to finish raising the signal, then clear any signal Python did not consume, so it
 * can never hit the next request.
 * @param {number} id
 */
function finishRequest(id) {
  const slots = interruptSlots;
  if (!slots) return;
  let seen = Atomics.compareExchange(slots, 1, id, 0);
  while (seen === INTERRUPTING) seen = Atomics.load(slots, 1); // the main thread is mid-send
  if (seen === INTERRUPT_SENT) {
    Atomics.store(slots, 0, 0);
    Atomics.store(slots, 1, 0);
  }
}

/**
 * `installPackages {packages}` (or a bare list): install pure-Python packages with micropip
 * from the server's wheelhouse, after init.
 * @param {any} payload
 */
async function installPackages(payload) {
  const packages = Array.isArray(payload) ? payload : payload?.packages;
  await installInto(pyodide, packages, wheelIndexURL);
  return { installed: packages };
}

// -- message entry ----------------------------------------------------------------------

self.onmessage = (/** @type {MessageEvent} */ event) => {
  const message = event.data;
  const id = typeof message?.id === "number" ? message.id : 0;
  if (!message || typeof message !== "object" || typeof message.type !== "string" || !id) {
    post({
      type: "error",
      id,
      payload: errorPayload(
        new TypeError("malformed message: expected {type: string, id: positive number, payload}"),
      ),
    });
    return;
  }
  if (!OPERATION_NAME.test(message.type)) {
    post({
      type: "error",
      id,
      payload: errorPayload(new TypeError(`invalid request type ${JSON.stringify(message.type)}`)),
    });
    return;
  }
  if (message.type === "init") init(message);
  else if (initFailure !== null) rejectNotReady(message);
  else if (!ready) waiting.push(message);
  else enqueue(message);
};
