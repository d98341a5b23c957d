// @ts-check
/**
 * Control for the stall measurement: a page like the benchmark pages that loads no Pyodide.
 * It idles for `benchConfig.controlMs` and reports the main-thread stalls it saw, which are
 * the browser's own page start-up (parsing, style, first layout and paint, fonts): the floor
 * under the figures of the Pyodide pages.
 */

import { benchConfig, publish, publishError } from "./bench_env.js";

async function main() {
  const config = benchConfig();
  await new Promise((resolve) => setTimeout(resolve, config.controlMs));
  publish({ runtime: "none", init: /** @type {any} */ (window).stallMonitor.stop() });
}

main().catch(publishError);
