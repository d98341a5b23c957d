/**
 * The self-hosted PixiJS build (an ES module) that the renderer draws with.
 * Served by our own server from node_modules under /vendor; bump the version here together
 * with package.json.
 *
 * The server's Content-Security-Policy forbids `eval`, which PixiJS uses to test the platform
 * when a renderer starts and to generate its WebGL/WebGPU uniform code. PixiJS's
 * `unsafe-eval` package replaces both with code that needs no `eval`; it is a classic script
 * that patches the classes on the global `PIXI`, so it is loaded once, here, before any
 * renderer exists.
 */
import * as pixi from "/vendor/pixi.js@8.22.0/dist/pixi.min.mjs";

export * from "/vendor/pixi.js@8.22.0/dist/pixi.min.mjs";

const NO_EVAL_SCRIPT = "/vendor/pixi.js@8.22.0/dist/packages/unsafe-eval.min.js";

/** @param {string} src */
function loadClassicScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

if (typeof document !== "undefined") {
  const g = /** @type {any} */ (globalThis);
  // The polyfills read PIXI's classes from the global when they run, so it stays set.
  g.PIXI = { ...pixi, ...g.PIXI };
  await loadClassicScript(NO_EVAL_SCRIPT);
}
