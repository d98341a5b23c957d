// @ts-check
// Inside the worker_thread: give the worker script the `self` a Web Worker has.
import { parentPort, workerData } from "node:worker_threads";

/** @type {any} the worker's global scope, shaped like a Web Worker's */
const scope = globalThis;
const port = /** @type {import("node:worker_threads").MessagePort} */ (parentPort);
/** @type {unknown[]} */
const early = [];
scope.self = scope;
scope.postMessage = (/** @type {unknown} */ message) => port.postMessage(message);
scope.close = () => port.close();
if (workerData.cacheDir) scope.caches = (await import("./cache_storage.mjs")).folderCaches(workerData.cacheDir);
port.on("message", (data) => (scope.onmessage ? scope.onmessage({ data }) : early.push(data)));
await import(workerData.url);
for (const data of early.splice(0)) scope.onmessage({ data });
