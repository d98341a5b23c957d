// Draws what the page's caller hands to window.renderCheck.draw(); used by the renderer's
// pixel test and by anyone checking a draw list by eye. Query: ?width=400&height=300&preference=canvas
import { createRenderer } from "./renderer.js";

const params = new URLSearchParams(location.search);
/** @type {string[]} */
const errors = [];
try {
  const renderer = await createRenderer(/** @type {HTMLElement} */ (document.getElementById("stage")), {
    width: Number(params.get("width") ?? 400),
    height: Number(params.get("height") ?? 300),
    background: params.get("background") ?? "#000000",
    preference: /** @type {"canvas" | "webgl" | "webgpu"} */ (params.get("preference") ?? "canvas"),
    onError: (e) => errors.push(e.message),
  });
  /** @type {any} */ (window).renderCheck = {
    renderer,
    errors,
    backend: renderer.backend,
    /** Draw one output; returns null or the error message. @param {unknown} output */
    draw(output) {
      try {
        renderer.draw(output);
        return null;
      } catch (error) {
        const e = /** @type {Error} */ (error);
        return `${e.name}: ${e.message}`;
      }
    },
    /**
     * Mean and max milliseconds of draw() over `frames` frames of `makeList(i)`.
     * @param {(i: number) => unknown} makeList  @param {number} frames
     */
    measure(makeList, frames) {
      const before = { ...renderer.stats };
      for (let i = 0; i < frames; i++) renderer.draw(makeList(i));
      const s = renderer.stats;
      return { meanMs: (s.totalMs - before.totalMs) / frames, maxMs: s.maxMs };
    },
    /** Resolves after the next painted frame. */
    painted: () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))),
  };
  document.title = "ready";
} catch (e) {
  errors.push(String(e));
  document.title = "failed";
}
