/**
 * The game canvas: draws what an environment's render() returns (see docs/draw-list.md).
 *
 *   const renderer = await createRenderer(container, { width: 800, height: 480, background: "#000" });
 *   renderer.draw(renderOutput);   // a draw list, an rgb_array frame, or null (no change)
 *   await renderer.draw(imageFrame);   // {kind: "image", ...}: true once drawn, false if dropped
 *   renderer.destroy();
 *
 * Display objects are kept by id and updated in place: permanent objects stay until a
 * `remove` names them; other objects are hidden on any frame that does not list them (and
 * dropped after a while unseen). `draw` renders synchronously; a requestAnimationFrame loop
 * runs only while tweens are moving. PixiJS draws with Canvas2D by default, which needs no GPU.
 *
 * The server runtime's frames come wrapped: `{kind: "draw", format: "json", data}` (the draw
 * list's JSON text as bytes, encoded by the server's env process) or `{kind: "draw", draw}` is
 * drawn like the list; `{kind: "image", format, width, height, data}` (image.js) is decoded first, so
 * `draw` returns a promise: true when it was drawn, false when something newer had been drawn
 * before it was decoded (an old frame never replaces a newer one); a bad image rejects with
 * DrawListError.
 */
import { Container, autoDetectRenderer } from "./pixi.js";
import { DrawListError, checkDrawList, plain } from "./check.js";
import { decodeImageFrame, isImageFrame } from "./image.js";
import { RgbLayer } from "./rgb.js";
import { applyShown, createDisplay, resolve } from "./shapes.js";
import { TextureCache } from "./textures.js";
import { startTween, tweenAt } from "./tweens.js";

export { DrawListError } from "./check.js";

/** Frames a non-permanent object may stay unlisted before its display object is freed. */
const KEEP_UNSEEN_FRAMES = 120;

/**
 * @typedef {object} Item
 * @property {string} type
 * @property {import("./pixi.js").Container} display
 * @property {import("./shapes.js").Memo} memo
 * @property {import("./shapes.js").Shown} shown values on screen now
 * @property {import("./tweens.js").Tween | null} tween
 * @property {boolean} permanent
 * @property {number} frame the last frame that listed it
 */

/**
 * @typedef {object} RendererOptions
 * @property {number} width canvas width in pixels
 * @property {number} height canvas height in pixels
 * @property {string} [background] canvas colour (default "#000000")
 * @property {"canvas" | "webgl" | "webgpu"} [preference] PixiJS backend tried first (default "canvas")
 * @property {number} [resolution] device pixels per canvas pixel (default 1)
 * @property {(error: Error) => void} [onError] images/atlases that fail to load (default console.error)
 */

/**
 * @typedef {object} Renderer
 * @property {(output: unknown) => void | Promise<boolean>} draw draw one render output; throws
 *   DrawListError on bad input; image frames: a promise (see above)
 * @property {() => void} destroy remove the canvas and free everything
 * @property {HTMLCanvasElement} canvas
 * @property {string} backend "canvas", "webgl" or "webgpu"
 * @property {{frames: number, lastMs: number, totalMs: number, maxMs: number}} stats time spent in draw()
 * @property {number} objectCount display objects currently kept (shown or hidden), rgb layer excluded
 */

/** A draw list sent as JSON bytes. @param {unknown} data */
function drawListFromJson(data) {
  const bytes = data instanceof ArrayBuffer || ArrayBuffer.isView(data) ? data : null;
  if (!bytes) throw new DrawListError("a draw frame's data must be bytes (the draw list as JSON)");
  try {
    return JSON.parse(textDecoder.decode(bytes));
  } catch (error) {
    throw new DrawListError(`a draw frame's data is not JSON: ${/** @type {Error} */ (error).message}`);
  }
}

const textDecoder = new TextDecoder();

/**
 * Create a canvas in `container` and return its renderer.
 * @param {HTMLElement} container
 * @param {RendererOptions} options
 * @returns {Promise<Renderer>}
 */
export async function createRenderer(container, options) {
  const { width, height, background = "#000000", preference = "canvas", resolution = 1 } = options;
  const onError = options.onError ?? ((/** @type {Error} */ e) => console.error(e));
  if (!(width > 0 && height > 0)) throw new Error(`renderer width/height must be positive, got ${width}/${height}`);
  const pixi = await autoDetectRenderer({ width, height, background, preference, resolution, antialias: true });
  const canvas = /** @type {HTMLCanvasElement} */ (pixi.canvas);
  canvas.style.display = "block";
  container.appendChild(canvas);
  const stage = new Container();
  stage.sortableChildren = true;
  const rgb = new RgbLayer(stage, width, height);
  /** @type {Map<string, Item>} */
  const items = new Map();
  /** @type {Set<Item>} */
  const tweening = new Set();
  /** @type {Set<Item>} */
  const waiting = new Set();
  const stats = { frames: 0, lastMs: 0, totalMs: 0, maxMs: 0 };
  let frame = 0;
  let raf = 0;
  /** Order of draw() calls, and the latest one drawn: a decoded image older than it is dropped. */
  let order = 0;
  let drawnOrder = 0;
  let destroyed = false;

  const textures = new TextureCache(() => {
    for (const item of waiting) show(item, item.shown);
    render();
  }, onError);

  function render() {
    if (!destroyed) pixi.render(stage);
  }

  /**
   * @param {Item} item
   * @param {import("./shapes.js").Shown} shown
   */
  function show(item, shown) {
    item.shown = shown;
    if (applyShown(/** @type {any} */ (item.display), item.memo, shown, textures)) waiting.delete(item);
    else waiting.add(item);
    item.display.zIndex = shown.depth;
  }

  /** @param {string} id */
  function remove(id) {
    const item = items.get(id);
    if (!item) return;
    items.delete(id);
    tweening.delete(item);
    waiting.delete(item);
    item.display.destroy();
  }

  /**
   * @param {Record<string, any>} obj
   * @param {number} now
   */
  function place(obj, now) {
    const shown = resolve(obj, width, height);
    let item = items.get(obj.id);
    if (item && item.type !== obj.type) {
      remove(obj.id);
      item = undefined;
    }
    if (!item) {
      const display = createDisplay(obj.type);
      stage.addChild(display);
      item = { type: obj.type, display, memo: {}, shown, tween: null, permanent: false, frame };
      items.set(obj.id, item);
      show(item, shown);
    } else if (obj.tween && (item.permanent || item.frame === frame - 1)) {
      item.tween = startTween(item.shown, shown, obj.tween, now);
      tweening.add(item);
      show(item, tweenAt(item.tween, now).values);
    } else {
      item.tween = null;
      tweening.delete(item);
      show(item, shown);
    }
    item.permanent = obj.permanent === true;
    item.frame = frame;
  }

  /** Hide non-permanent objects this frame did not list; free long-unseen ones. */
  function sweep() {
    for (const [id, item] of items) {
      if (item.permanent || item.frame === frame) continue;
      if (frame - item.frame > KEEP_UNSEEN_FRAMES) remove(id);
      else {
        item.display.visible = false;
        tweening.delete(item);
        waiting.delete(item);
      }
    }
  }

  /** @param {number} now */
  function animate(now) {
    raf = 0;
    for (const item of tweening) {
      const { values, done } = tweenAt(/** @type {any} */ (item.tween), now);
      show(item, values);
      if (done) {
        tweening.delete(item);
        item.tween = null;
      }
    }
    render();
    if (tweening.size && !destroyed) raf = requestAnimationFrame(animate);
  }

  /** @param {any[]} list */
  function drawList(list) {
    const now = performance.now();
    checkDrawList(list);
    frame++;
    rgb.hide();
    for (let i = 0; i < list.length; i++) {
      const obj = list[i];
      try {
        if (obj.type === "remove") remove(obj.id);
        else place(obj, now);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        throw new DrawListError(`object ${i} (id ${JSON.stringify(obj.id)}): ${message}`);
      }
    }
    sweep();
    if (tweening.size && !raf) raf = requestAnimationFrame(animate);
  }

  /** @param {number} start */
  function count(start) {
    const ms = performance.now() - start;
    stats.frames++;
    stats.lastMs = ms;
    stats.totalMs += ms;
    stats.maxMs = Math.max(stats.maxMs, ms);
  }

  /** @param {import("./image.js").ImageFrame} image */
  async function drawImage(image) {
    const mine = ++order;
    const bitmap = await decodeImageFrame(image);
    if (destroyed || mine < drawnOrder) {
      bitmap.close();
      return false;
    }
    drawnOrder = mine;
    const start = performance.now();
    rgb.drawBitmap(bitmap);
    frame++;
    sweep();
    render();
    count(start);
    return true;
  }

  /**
   * @param {unknown} output
   * @returns {void | Promise<boolean>}
   */
  function draw(output) {
    if (destroyed) throw new Error("draw() on a destroyed renderer");
    if (output === null || output === undefined) return;
    let value = plain(output);
    if (isImageFrame(value)) return drawImage(value);
    if (value && typeof value === "object" && value.kind === "draw") {
      value = "data" in value ? drawListFromJson(value.data) : plain(value.draw);
      if (value === null || value === undefined) return;
    }
    drawnOrder = ++order;
    const start = performance.now();
    if (Array.isArray(value) && !(value.length && Array.isArray(value[0]))) {
      drawList(value.length && value[0] instanceof Map ? value.map(plain) : value);
    } else if (Array.isArray(value) || (typeof value === "object" && "rgb" in value)) {
      rgb.draw(value);
      frame++;
      sweep();
    } else {
      const kind = typeof value === "object" ? "an object without 'rgb'" : `a ${typeof value}`;
      throw new DrawListError(`render output is ${kind}; expected a draw list, an rgb frame or null`);
    }
    render();
    count(start);
  }

  function destroy() {
    if (destroyed) return;
    destroyed = true;
    if (raf) cancelAnimationFrame(raf);
    textures.destroy();
    rgb.destroy();
    stage.destroy({ children: true });
    pixi.destroy({ removeView: true });
  }

  return {
    draw,
    destroy,
    canvas,
    backend: pixi.name,
    stats,
    get objectCount() {
      return items.size;
    },
  };
}
