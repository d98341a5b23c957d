/**
 * Draw objects → PixiJS display objects. `resolve` turns an object's fields into pixels with
 * the defaults filled in; `createDisplay` makes the display object once per id; `applyShown`
 * updates it in place, rebuilding geometry only when a geometry field changed.
 */
import { Graphics, Sprite, Text, Texture } from "./pixi.js";

/**
 * An object's values in canvas pixels, defaults applied.
 * @typedef {Record<string, any>} Shown
 */

/**
 * @param {Record<string, any>} obj a checked draw object
 * @param {number} width canvas width in pixels
 * @param {number} height canvas height in pixels
 * @returns {Shown}
 */
export function resolve(obj, width, height) {
  const rel = obj.coords !== "pixels";
  const sx = rel ? width : 1;
  const sy = rel ? height : 1;
  /** @type {Shown} */
  const out = {
    type: obj.type,
    depth: obj.depth ?? 0,
    alpha: obj.alpha ?? 1,
    angle: obj.angle ?? 0,
    anchor: obj.anchor ?? (obj.type === "circle" ? [0.5, 0.5] : [0, 0]),
  };
  if (obj.x !== undefined) out.x = obj.x * sx;
  if (obj.y !== undefined) out.y = obj.y * sy;
  if (obj.w !== undefined) out.w = obj.w * sx;
  if (obj.h !== undefined) out.h = obj.h * sy;
  if (obj.radius !== undefined) out.radius = obj.radius * (rel ? Math.min(width, height) : 1);
  if (obj.points) out.points = obj.points.map((/** @type {number[]} */ p) => [p[0] * sx, p[1] * sy]);
  switch (obj.type) {
    case "rect":
    case "circle":
    case "polygon":
      out.fill = obj.fill === undefined ? "#ffffff" : obj.fill;
      out.stroke = obj.stroke ?? null;
      out.strokeWidth = obj.stroke_width ?? 1;
      break;
    case "line":
      out.color = obj.color ?? "#ffffff";
      out.width = obj.width ?? 1;
      break;
    case "text":
      out.text = obj.text;
      out.size = obj.size ?? 16;
      out.color = obj.color ?? "#ffffff";
      out.font = obj.font ?? "sans-serif";
      break;
    case "image":
      out.url = obj.url;
      break;
    case "sprite":
      out.url = obj.atlas;
      out.frame = obj.frame;
      out.atlasJson = obj.atlas_json;
      break;
  }
  return out;
}

/**
 * A new display object for a draw object type.
 * @param {string} type
 * @returns {Graphics | Text | Sprite}
 */
export function createDisplay(type) {
  if (type === "text") return new Text({ text: "" });
  if (type === "image" || type === "sprite") return new Sprite(Texture.EMPTY);
  return new Graphics();
}

/**
 * A string that changes exactly when the Graphics geometry must be rebuilt.
 * @param {Shown} s
 */
function geometryKey(s) {
  switch (s.type) {
    case "rect":
      return `${s.w},${s.h},${s.anchor[0]},${s.anchor[1]},${s.fill},${s.stroke},${s.strokeWidth}`;
    case "circle":
      return `${s.radius},${s.fill},${s.stroke},${s.strokeWidth}`;
    case "line":
      return `${s.points.join(";")},${s.color},${s.width}`;
    case "polygon":
      return `${s.points.join(";")},${s.fill},${s.stroke},${s.strokeWidth}`;
    default:
      return "";
  }
}

/**
 * @param {Graphics} g
 * @param {Shown} s
 */
function buildGeometry(g, s) {
  g.clear();
  if (s.type === "rect") g.rect(-s.anchor[0] * s.w, -s.anchor[1] * s.h, s.w, s.h);
  else if (s.type === "circle") g.circle(0, 0, s.radius);
  else if (s.type === "polygon") g.poly(s.points.flat(), true);
  else if (s.type === "line") {
    g.moveTo(s.points[0][0], s.points[0][1]);
    for (let i = 1; i < s.points.length; i++) g.lineTo(s.points[i][0], s.points[i][1]);
    g.stroke({ color: s.color, width: s.width, cap: "round", join: "round" });
    return;
  }
  if (s.fill !== null) g.fill({ color: s.fill });
  if (s.stroke !== null) g.stroke({ color: s.stroke, width: s.strokeWidth });
}

/**
 * Per-display-object memo of what it shows, so unchanged parts are not rebuilt.
 * @typedef {{geometry?: string, text?: string, style?: string, texture?: Texture | null}} Memo
 */

/**
 * Make `display` show `s`. Returns false when it waits for a texture still loading.
 * @param {Graphics | Text | Sprite} display
 * @param {Memo} memo
 * @param {Shown} s
 * @param {import("./textures.js").TextureCache} textures
 * @returns {boolean}
 */
export function applyShown(display, memo, s, textures) {
  let ready = true;
  if (display instanceof Graphics) {
    const key = geometryKey(s);
    if (memo.geometry !== key) {
      buildGeometry(display, s);
      memo.geometry = key;
    }
    if (s.type === "line" || s.type === "polygon") display.position.set(0, 0);
    else display.position.set(s.x, s.y);
  } else if (display instanceof Text) {
    if (memo.text !== s.text) {
      display.text = s.text;
      memo.text = s.text;
    }
    const style = `${s.size}|${s.color}|${s.font}`;
    if (memo.style !== style) {
      display.style = { fontFamily: s.font, fontSize: s.size, fill: s.color };
      memo.style = style;
    }
    display.anchor.set(s.anchor[0], s.anchor[1]);
    display.position.set(s.x, s.y);
  } else {
    const texture = s.type === "sprite" ? textures.frame(s.url, s.frame, s.atlasJson) : textures.image(s.url);
    if (memo.texture !== texture) {
      display.texture = texture ?? Texture.EMPTY;
      memo.texture = texture;
    }
    ready = texture !== null;
    display.anchor.set(s.anchor[0], s.anchor[1]);
    display.position.set(s.x, s.y);
    if (texture !== null) {
      display.width = s.w ?? texture.width;
      display.height = s.h ?? texture.height;
    }
  }
  display.angle = s.type === "line" || s.type === "polygon" || s.type === "circle" ? 0 : s.angle;
  display.alpha = s.alpha;
  display.visible = ready;
  return ready;
}
