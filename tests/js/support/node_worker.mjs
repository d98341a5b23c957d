// Runs worker/pyodide_worker.js in a Node worker_thread behind the Web Worker interface that
// PyodideWorker expects, so the protocol can be tested without a browser.
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

const root = fileURLToPath(new URL("../../../", import.meta.url));
export const STATIC = `${root}interactive_gym/server/static/`;
export const WORKER_URL = pathToFileURL(`${STATIC}js/worker/pyodide_worker.js`);
/** The game scene's extension, as the page loads it. */
export const GAME_EXTENSION = {
  module: pathToFileURL(`${STATIC}js/worker/game_hooks.js`).href,
  python: "interactive_gym.runtime.game_host",
};
const PYODIDE_DIR = `${root}node_modules/pyodide/`;
const RUNTIME_DIR = `${root}interactive_gym/runtime/`;

/** The runtime package's files (`FILES` in its `__init__.py`), read from disk. */
export function runtimeSources() {
  const init = readFileSync(`${RUNTIME_DIR}__init__.py`, "utf8");
  const files = init.match(/^FILES = \(([^)]*)\)/m)?.[1].match(/"[^"]+"/g)?.map((f) => f.slice(1, -1));
  if (!files?.length) throw new Error(`no FILES = (...) in ${RUNTIME_DIR}__init__.py`);
  return Object.fromEntries(files.map((file) => [file, readFileSync(`${RUNTIME_DIR}${file}`, "utf8")]));
}

/** The runtime configuration the server would send, for Node paths. */
export function nodeRuntime(overrides = {}) {
  return {
    indexURL: PYODIDE_DIR,
    pyodideModuleURL: pathToFileURL(`${PYODIDE_DIR}pyodide.mjs`).href,
    runtimeSources: runtimeSources(),
    ...overrides,
  };
}

/**
 * A Web-Worker-like object backed by worker_threads.
 * @param {string | URL} [url]
 * @param {{cacheDir?: string}} [options]  `cacheDir`: the worker gets a Cache API (`caches`)
 *   kept in this folder, shared by every worker given the same folder, as one origin's pages
 */
export function createNodeWorker(url = WORKER_URL, options = {}) {
  const thread = new Worker(new URL("./bootstrap.mjs", import.meta.url), {
    workerData: { url: String(url), cacheDir: options.cacheDir ?? null },
  });
  /**
   * @type {{
   *   onmessage: ((event: {data: any}) => void) | null,
   *   onerror: ((event: {message: string, error: Error}) => void) | null,
   *   postMessage: (message: any) => void,
   *   terminate: () => Promise<number>,
   *   thread: Worker,
   * }}
   */
  const like = {
    onmessage: null,
    onerror: null,
    postMessage: (message) => thread.postMessage(message),
    terminate: () => thread.terminate(),
    thread,
  };
  thread.on("message", (data) => like.onmessage?.({ data }));
  thread.on("error", (/** @type {Error} */ error) => like.onerror?.({ message: error.message, error }));
  return like;
}
