// @ts-check
/**
 * Main-thread interface to a Pyodide worker: an async API over `worker/pyodide_worker.js`.
 *
 *   const w = new PyodideWorker({ onProgress, onCrash, timeoutMs });
 *   const { pythonVersion, load } = await w.init({ packages: ["attrs"], snapshots: true });
 *   // load: {kind: "boot" | "restore", ms, snapshot, problem?}; await w.snapshotSaved
 *   await w.installPackages(["some-pure-python-package"]);
 *   await w.initEnv({ code, config, globals });
 *   const { observation, info } = await w.reset({ seed });
 *   const { observation, reward, terminated, truncated, info, render } =
 *     await w.step(actions, { render: true });
 *   const state = await w.getState(); await w.setState(state);
 *   const results = await w.batch([{ op: "setState", args: state }, { op: "step", args: actions }]);
 *   await w.loadExtension({ module: "https://…/worker/game_hooks.js",
 *                           python: "interactive_gym.runtime.game_host" });
 *   const reply = await w.call("tick", { actions });   // any operation an extension added
 *   w.destroy();
 *
 * Requests are correlated by id, so many may be in flight; the worker runs them in order.
 * Every request has a timeout. A Python step still running at its timeout is interrupted
 * through a SharedArrayBuffer (the page must be cross-origin isolated) and the worker stays
 * usable; without isolation the worker is terminated and `onCrash` fires.
 *
 * With `init({snapshots: true})` Python is restored from a memory snapshot of an earlier load
 * with the same configuration (Pyodide, lock file, wheelhouse, `packages`, runtime module)
 * when this browser holds one, and otherwise booted and snapshotted for next time
 * (worker/python_snapshot.js). Any problem with a snapshot means a boot, reported in `load`.
 */

import { INTERRUPTING, INTERRUPT_SENT, OPERATION_NAME, SIGINT } from "./worker_protocol.js";

/**
 * @typedef {{stage: string, message: string, fraction?: number}} Progress
 * @typedef {import("./worker/python_start.js").LoadReport} LoadReport
 * @typedef {{stored: boolean, bytes?: number, problem?: string}} SnapshotSaved
 * @typedef {{workerMs: number, envMs?: number | null, roundTripMs: number}} Timing
 * @typedef {{
 *   onProgress?: (progress: Progress) => void,
 *   onCrash?: (error: Error) => void,
 *   onLog?: (entry: {stream: string, text: string}) => void,
 *   timeoutMs?: number,
 *   initTimeoutMs?: number,
 *   interruptGraceMs?: number,
 *   workerURL?: string | URL,
 *   createWorker?: (url: string | URL) => WorkerLike,
 *   runtime?: Record<string, any>,
 *   runtimeConfigURL?: string,
 * }} Options
 * @typedef {{
 *   postMessage: (message: any) => void,
 *   terminate: () => void,
 *   onmessage: ((event: {data: any}) => void) | null,
 *   onerror: ((event: any) => void) | null,
 *   onmessageerror?: ((event: any) => void) | null,
 * }} WorkerLike
 * @typedef {{
 *   resolve: (value: any) => void, reject: (error: Error) => void, type: string,
 *   sentAt: number, timer: any, onProgress?: (p: Progress) => void,
 * }} Pending
 */

/** Error raised for everything that fails in or around the worker. */
export class PyodideWorkerError extends Error {
  /**
   * @param {string} name  the Python exception type, or TimeoutError, CrashError, StateError…
   * @param {string} message
   * @param {Record<string, any>} [details]  pythonType, traceback, op, opIndex, results, stack
   */
  constructor(name, message, details = {}) {
    super(message);
    this.name = name;
    /** @type {string | undefined} */ this.pythonType = details.pythonType;
    /** @type {string | undefined} */ this.traceback = details.traceback;
    /** @type {string | undefined} */ this.op = details.op;
    /** @type {number | undefined} */ this.opIndex = details.opIndex;
    /** @type {any[] | undefined} */ this.results = details.results;
    if (details.traceback) this.stack = `${name}: ${message}\n${details.traceback}`;
    else if (details.stack) this.stack = details.stack;
  }
}

export class PyodideWorker {
  /** @param {Options} [options] */
  constructor(options = {}) {
    this.options = options;
    this.timeoutMs = options.timeoutMs ?? 10000;
    this.initTimeoutMs = options.initTimeoutMs ?? 120000;
    this.interruptGraceMs = options.interruptGraceMs ?? 5000;
    /** @type {Map<number, Pending>} */
    this.pending = new Map();
    this.nextId = 1;
    /** @type {"new" | "starting" | "ready" | "crashed" | "destroyed"} */
    this.status = "new";
    /** @type {Error | null} */ this.crashError = null;
    /** @type {Timing | null} */ this.lastTiming = null;
    /** Ids interrupted after their timeout, waiting for the worker to confirm. */
    /** @type {Map<number, any>} */ this.interrupted = new Map();
    /** @type {(saved: SnapshotSaved) => void} */ let saved = () => {};
    /**
     * Whether the snapshot this load took was stored; `{stored: false}` when none was taken
     * (restored, snapshots off, or init failed).
     * @type {Promise<SnapshotSaved>}
     */
    this.snapshotSaved = new Promise((resolve) => (saved = resolve));
    this._snapshotSaved = saved;
    const canShare = typeof SharedArrayBuffer === "function" && globalThis.crossOriginIsolated !== false;
    /** @type {Int32Array | null} */
    this.interruptSlots = canShare ? new Int32Array(new SharedArrayBuffer(8)) : null;
    const url = options.workerURL ?? new URL("./worker/pyodide_worker.js", import.meta.url);
    /** @type {WorkerLike} */
    this.worker = options.createWorker
      ? options.createWorker(url)
      : /** @type {any} */ (new Worker(url, { type: "module" }));
    this.worker.onmessage = (event) => this._onMessage(event.data);
    this.worker.onerror = (event) => {
      event?.preventDefault?.();
      const text = event?.message ?? event?.error?.message ?? String(event);
      this._crash(new PyodideWorkerError("CrashError", `the Python worker crashed: ${text}`));
    };
    this.worker.onmessageerror = () =>
      this._crash(new PyodideWorkerError("CrashError", "a worker message could not be decoded"));
  }

  /** True when a runaway Python call can be interrupted without losing the environment. */
  get canInterrupt() {
    return this.interruptSlots !== null;
  }

  get ready() {
    return this.status === "ready";
  }

  /**
   * Start Python in the worker (reporting progress); resolves at READY with how it started.
   * @param {{packages?: string[], snapshots?: boolean}} [options]  `packages`: installed from
   *   the wheelhouse before READY (and kept in the snapshot); `snapshots`: restore from and
   *   keep memory snapshots (default off)
   * @returns {Promise<{pythonVersion: string, load: LoadReport}>}
   */
  async init(options = {}) {
    if (this.status !== "new") {
      throw new PyodideWorkerError("StateError", `init() was already called (status: ${this.status})`);
    }
    this.status = "starting";
    try {
      const packages = options.packages ?? [];
      if (!Array.isArray(packages) || packages.some((p) => typeof p !== "string")) {
        throw new PyodideWorkerError("TypeError", "init({packages}) needs a list of requirement strings");
      }
      const runtime = this.options.runtime ?? (await fetchRuntimeConfig(this.options.runtimeConfigURL));
      const payload = { ...runtime, packages, snapshots: options.snapshots === true, loadTimeoutMs: this.initTimeoutMs };
      if (this.interruptSlots) payload.interruptBuffer = this.interruptSlots.buffer;
      // The worker times its own stages; this backstop only catches a worker that never answers.
      const backstopMs = this.initTimeoutMs + 5000;
      const result = await this._send("init", payload, backstopMs, this.options.onProgress);
      if (this.status === "starting") this.status = "ready";
      if (result.load?.snapshot !== "made") this._snapshotSaved({ stored: false });
      return result;
    } catch (error) {
      this._snapshotSaved({ stored: false });
      if (this.status === "starting") this._crash(/** @type {Error} */ (error));
      throw error;
    }
  }

  /**
   * Install pure-Python packages from the server's wheelhouse.
   * @param {string[]} packages  requirement strings, e.g. `["attrs", "six==1.16.0"]`
   * @param {{timeoutMs?: number}} [options]
   */
  installPackages(packages, options = {}) {
    return this._call("installPackages", { packages }, options.timeoutMs ?? this.initTimeoutMs);
  }

  /**
   * Create the environment from Python source (or an importable module) defining `env` or
   * `make_env(**config)`; `env_id` (a Gymnasium id) and `factory` ("pkg.mod:callable") work
   * too when their package is installed. Exactly one of the four.
   * @param {{code?: string, module?: string, env_id?: string, factory?: string, config?: object,
   *   globals?: object, filename?: string}} spec
   * @param {{timeoutMs?: number}} [options]
   */
  initEnv(spec, options = {}) {
    return this._call("initEnv", spec, options.timeoutMs);
  }

  /**
   * @param {{seed?: number | null, options?: object | null}} [args]
   * @param {{timeoutMs?: number}} [options]
   */
  reset(args = {}, options = {}) {
    return this._call("reset", args, options.timeoutMs);
  }

  /**
   * Step the environment; with `{render: true}` the render output comes in the same reply.
   * Multi-agent actions may be an object (`{0: 1, 1: 3}`: keys are restored to the env's agent
   * ids) or a Map.
   * @param {any} actions
   * @param {{render?: boolean, timeoutMs?: number}} [options]
   */
  step(actions, options = {}) {
    return this._call("step", { actions, render: options.render ?? false }, options.timeoutMs);
  }

  /** @param {{timeoutMs?: number}} [options] */
  render(options = {}) {
    return this._call("render", null, options.timeoutMs);
  }

  /** @param {{timeoutMs?: number}} [options] */
  getState(options = {}) {
    return this._call("getState", null, options.timeoutMs);
  }

  /** @param {any} state @param {{timeoutMs?: number}} [options] */
  setState(state, options = {}) {
    return this._call("setState", state, options.timeoutMs);
  }

  /**
   * Run operations back to back in the worker with one reply. Stops at the first error, which
   * rejects with `opIndex`, `op` and the `results` of the operations before it.
   * @param {{op: string, args?: any}[]} ops
   * @param {{timeoutMs?: number}} [options]
   */
  batch(ops, options = {}) {
    return this._call("batch", ops, options.timeoutMs);
  }

  // -- extensions and their operations ---------------------------------------------------

  /**
   * Load a layer above the environment into the worker: `module` is the absolute URL of a
   * worker-side ES module exporting `prepare(request, callPython)` (awaited before every later
   * request), `python` a module of the runtime package whose `OPERATIONS` Python answers from
   * now on (e.g. `"interactive_gym.runtime.game_host"`). Loading one again does nothing.
   * Resolves with `{operations}`: the operation names added.
   * @param {{module?: string, python?: string}} extension
   * @param {{timeoutMs?: number}} [options]  default: `initTimeoutMs` (it may load files)
   * @returns {Promise<{operations: string[]}>}
   */
  loadExtension(extension, options = {}) {
    return this._call("loadExtension", extension, options.timeoutMs ?? this.initTimeoutMs);
  }

  /**
   * Run any operation the worker's Python answers (an extension's, e.g. `call("tick",
   * {actions})`), with the same timeout and interrupt handling as `step`. An object result
   * carries a non-enumerable `timing` ({workerMs, envMs, roundTripMs}).
   * @param {string} type  the operation name
   * @param {any} [payload]
   * @param {{timeoutMs?: number}} [options]
   * @returns {Promise<any>}
   */
  call(type, payload = null, options = {}) {
    if (typeof type !== "string" || !OPERATION_NAME.test(type) || type === "init" || type === "destroy") {
      const why = type === "init" || type === "destroy" ? `use ${type}() instead` : "not an operation name";
      return Promise.reject(new PyodideWorkerError("TypeError", `call(${JSON.stringify(type)}): ${why}`));
    }
    return this._call(type, payload, options.timeoutMs);
  }

  /** Stop the worker; everything pending rejects and later calls reject. */
  destroy() {
    if (this.status === "destroyed") return;
    const wasRunning = this.status !== "crashed";
    this.status = "destroyed";
    if (wasRunning) {
      try {
        this.worker.postMessage({ type: "destroy", id: this.nextId++, payload: null });
      } catch {
        /* the worker may already be gone */
      }
    }
    this.worker.terminate();
    this._snapshotSaved({ stored: false, problem: "the worker was destroyed" });
    this._rejectAll(new PyodideWorkerError("StateError", "the worker was destroyed"));
    for (const timer of this.interrupted.values()) clearTimeout(timer);
    this.interrupted.clear();
  }

  // -- internals ------------------------------------------------------------------------

  /** @param {string} type @param {any} payload @param {number} [timeoutMs] */
  _call(type, payload, timeoutMs) {
    try {
      this._assertReady(type);
    } catch (error) {
      return Promise.reject(error);
    }
    return this._send(type, payload, timeoutMs ?? this.timeoutMs);
  }

  /** @param {string} type */
  _assertReady(type) {
    if (this.status === "ready") return;
    const why = {
      new: "call and await init() first",
      starting: "init() has not finished yet; await it first",
      crashed: `the worker crashed: ${this.crashError?.message}`,
      destroyed: "the worker was destroyed",
    }[this.status];
    throw new PyodideWorkerError("StateError", `${type}() is not possible: ${why}`);
  }

  /**
   * @param {string} type @param {any} payload @param {number} timeoutMs
   * @param {(p: Progress) => void} [onProgress]
   */
  _send(type, payload, timeoutMs, onProgress) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this._timeout(id), timeoutMs);
      this.pending.set(id, { resolve, reject, type, sentAt: performance.now(), timer, onProgress });
      try {
        this.worker.postMessage({ type, id, payload });
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(id);
        const e = /** @type {Error} */ (error);
        reject(new PyodideWorkerError("DataCloneError", `${type}(): ${e.message}`, { op: type }));
      }
    });
  }

  /** @param {any} message */
  _onMessage(message) {
    if (!message || typeof message !== "object") return;
    if (message.type === "log") {
      this.options.onLog?.(message.payload);
      return;
    }
    if (message.type === "snapshot") {
      this._snapshotSaved(message.payload);
      return;
    }
    if (this.interrupted.has(message.id)) {
      clearTimeout(this.interrupted.get(message.id)); // a grace timeout or a watch interval
      this.interrupted.delete(message.id);
      return;
    }
    const request = this.pending.get(message.id);
    if (!request) return;
    if (message.type === "progress") {
      request.onProgress?.(message.payload);
      return;
    }
    this.pending.delete(message.id);
    clearTimeout(request.timer);
    const timing = {
      workerMs: message.timing?.workerMs ?? 0,
      envMs: message.timing?.envMs ?? null,
      roundTripMs: performance.now() - request.sentAt,
    };
    this.lastTiming = timing;
    if (message.type === "result") {
      const value = message.payload;
      if (value && typeof value === "object") {
        Object.defineProperty(value, "timing", { value: timing, enumerable: false });
      }
      request.resolve(value);
    } else {
      const p = message.payload ?? {};
      request.reject(new PyodideWorkerError(p.name ?? "Error", p.message ?? "unknown error", p));
    }
  }

  /** @param {number} id */
  _timeout(id) {
    const request = this.pending.get(id);
    if (!request) return;
    this.pending.delete(id);
    const what = `${request.type}() did not finish within the timeout`;
    const slots = this.interruptSlots;
    if (request.type === "init") {
      request.reject(new PyodideWorkerError("TimeoutError", `${what}: Pyodide did not load`));
      return;
    }
    if (slots && this._tryInterrupt(id, request.type)) {
      request.reject(
        new PyodideWorkerError(
          "TimeoutError",
          `${what}; the Python code was interrupted and the environment is kept`,
          { op: request.type },
        ),
      );
      return;
    }
    if (slots) {
      // Still queued behind another request (or just finishing): if it starts after all, it
      // is interrupted at once, so an abandoned call can never run away unattended.
      request.reject(
        new PyodideWorkerError("TimeoutError", `${what} (it was still queued)`, { op: request.type }),
      );
      const watch = setInterval(() => {
        if (this.status !== "ready") clearInterval(watch);
        else if (this._tryInterrupt(id, request.type)) clearInterval(watch);
      }, 20);
      this.interrupted.set(id, watch);
      return;
    }
    request.reject(
      new PyodideWorkerError(
        "TimeoutError",
        `${what}; the page is not cross-origin isolated, so the worker had to be terminated ` +
          `and the environment is lost`,
        { op: request.type },
      ),
    );
    this._terminate(`${request.type}() timed out and could not be interrupted`);
  }

  /**
   * Interrupt request `id` if it is the one running in Python now; true when the signal was
   * raised. The slot swap makes sure no other request can ever be hit by it.
   * @param {number} id @param {string} type
   */
  _tryInterrupt(id, type) {
    const slots = /** @type {Int32Array} */ (this.interruptSlots);
    if (Atomics.compareExchange(slots, 1, id, INTERRUPTING) !== id) return false;
    Atomics.store(slots, 0, SIGINT);
    Atomics.store(slots, 1, INTERRUPT_SENT);
    clearInterval(this.interrupted.get(id));
    // If Python swallows the KeyboardInterrupt and keeps running, give up on the worker.
    const grace = setTimeout(() => {
      this.interrupted.delete(id);
      this._terminate(`${type}() ignored the interrupt and kept running`);
    }, this.interruptGraceMs);
    this.interrupted.set(id, grace);
    return true;
  }

  /** @param {string} reason */
  _terminate(reason) {
    this.worker.terminate();
    this._crash(new PyodideWorkerError("CrashError", `the worker was terminated: ${reason}`));
  }

  /** @param {Error} error */
  _crash(error) {
    if (this.status === "crashed" || this.status === "destroyed") return;
    this.status = "crashed";
    this.crashError = error;
    this._snapshotSaved({ stored: false, problem: error.message });
    this._rejectAll(error);
    this.options.onCrash?.(error);
  }

  /** @param {Error} error */
  _rejectAll(error) {
    for (const [id, request] of this.pending) {
      clearTimeout(request.timer);
      request.reject(error);
      this.pending.delete(id);
    }
  }
}

/** @param {string} [url] */
async function fetchRuntimeConfig(url = "/runtime.json") {
  const response = await fetch(url);
  if (!response.ok) {
    throw new PyodideWorkerError(
      "ConfigError",
      `could not read the runtime configuration at ${url}: HTTP ${response.status} ${await response.text()}`,
    );
  }
  return response.json();
}
