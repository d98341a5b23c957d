// Inside the worker_thread: give the worker script the `self` a Web Worker has.
import { parentPort, workerData } from "node:worker_threads";

const early = [];
globalThis.self = globalThis;
self.postMessage = (message) => parentPort.postMessage(message);
self.close = () => parentPort.close();
parentPort.on("message", (data) => (self.onmessage ? self.onmessage({ data }) : early.push(data)));
await import(workerData.url);
for (const data of early.splice(0)) self.onmessage({ data });
