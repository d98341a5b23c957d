// @ts-check
/**
 * A page's PyodideWorker started and timed to READY: the `init` part of the result of the
 * worker benchmark pages (worker_bench.js, snapshot_bench.js). The page's stall monitor
 * (stall_monitor.js) is stopped at READY, so its figures cover page start until READY.
 */

import { PyodideWorker } from "../js/PyodideWorker.js";

/**
 * @param {{snapshots?: boolean}} [options]  passed to `init`
 * @returns {Promise<{worker: PyodideWorker, readyAt: number, init: Record<string, any>}>}
 */
export async function timedInit(options = {}) {
  const createdAt = performance.now();
  /** @type {{stage: string, at: number}[]} */
  const stages = [];
  const worker = new PyodideWorker({
    timeoutMs: 60000,
    onProgress: ({ stage }) => stages.push({ stage, at: performance.now() }),
  });
  const { pythonVersion, load } = await worker.init({ snapshots: options.snapshots === true });
  const readyAt = performance.now();
  const stall = /** @type {any} */ (window).stallMonitor.stop();
  const init = {
    initMs: readyAt - createdAt,
    pageToReadyMs: readyAt,
    createdAt,
    stages,
    pythonVersion,
    load,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    canInterrupt: worker.canInterrupt,
    ...stall,
  };
  return { worker, readyAt, init };
}
