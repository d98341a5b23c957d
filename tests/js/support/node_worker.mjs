// Runs pyodide_worker.js in a Node worker_thread behind the Web Worker interface that
// PyodideWorker expects, so the protocol can be tested without a browser.
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

const root = fileURLToPath(new URL("../../../", import.meta.url));
export const STATIC = `${root}interactive_gym/server/static/`;
export const WORKER_URL = pathToFileURL(`${STATIC}js/pyodide_worker.js`);
const PYODIDE_DIR = `${root}node_modules/pyodide/`;

/** The runtime configuration the server would send, for Node paths. */
export function nodeRuntime(overrides = {}) {
  return {
    indexURL: PYODIDE_DIR,
    pyodideModuleURL: pathToFileURL(`${PYODIDE_DIR}pyodide.mjs`).href,
    runtimeModuleSource: readFileSync(`${STATIC}py/ig_runtime.py`, "utf8"),
    ...overrides,
  };
}

/** A Web-Worker-like object backed by worker_threads. */
export function createNodeWorker(url = WORKER_URL) {
  const thread = new Worker(new URL("./bootstrap.mjs", import.meta.url), {
    workerData: { url: String(url) },
  });
  const like = {
    onmessage: null,
    onerror: null,
    postMessage: (message) => thread.postMessage(message),
    terminate: () => thread.terminate(),
    thread,
  };
  thread.on("message", (data) => like.onmessage?.({ data }));
  thread.on("error", (error) => like.onerror?.({ message: error.message, error }));
  return like;
}
