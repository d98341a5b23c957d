/**
 * Checks on render output before anything is drawn, so a bad object is reported by index, id
 * and field instead of breaking the canvas. Mirrors interactive_gym/draw.py
 * `validate_draw_list` for the fields the renderer depends on (it is cheap enough to run on
 * every frame; colours are checked by PixiJS when used).
 */

/** A render output the renderer cannot draw; the message names the culprit. */
export class DrawListError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "DrawListError";
  }
}

/** Required fields per object type. */
export const REQUIRED = {
  rect: ["x", "y", "w", "h"],
  circle: ["x", "y", "radius"],
  line: ["points"],
  polygon: ["points"],
  text: ["text", "x", "y"],
  image: ["url", "x", "y"],
  sprite: ["atlas", "frame", "x", "y"],
  remove: [],
};

const NUMBERS = ["x", "y", "w", "h", "radius", "depth", "angle", "stroke_width", "width", "size", "alpha"];

/** @param {unknown} v */
const finite = (v) => typeof v === "number" && Number.isFinite(v);

/** @param {unknown} p */
const isPoint = (p) => Array.isArray(p) && p.length === 2 && finite(p[0]) && finite(p[1]);

/** @param {unknown} url */
const isLocalUrl = (url) => typeof url === "string" && url.startsWith("/") && !url.startsWith("//");

/**
 * Problems with one draw object (empty when it can be drawn).
 * @param {Record<string, any>} obj
 * @returns {string[]}
 */
export function objectProblems(obj) {
  const required = REQUIRED[/** @type {keyof typeof REQUIRED} */ (obj.type)];
  if (!required) return [`type is ${JSON.stringify(obj.type)}, expected one of ${Object.keys(REQUIRED).join(", ")}`];
  const problems = [];
  if (typeof obj.id !== "string" || obj.id === "") problems.push(`id is ${JSON.stringify(obj.id)}, expected a non-empty string`);
  for (const name of required) if (obj[name] === undefined) problems.push(`missing required field '${name}'`);
  for (const name of NUMBERS) {
    if (obj[name] !== undefined && !finite(obj[name])) problems.push(`${name} is ${JSON.stringify(obj[name])}, expected a finite number`);
  }
  if (obj.radius !== undefined && !(obj.radius > 0)) problems.push(`radius is ${obj.radius}, expected a number > 0`);
  if (obj.coords !== undefined && obj.coords !== "relative" && obj.coords !== "pixels") {
    problems.push(`coords is ${JSON.stringify(obj.coords)}, expected 'relative' or 'pixels'`);
  }
  if (obj.points !== undefined) {
    const least = obj.type === "line" ? 2 : 3;
    if (!Array.isArray(obj.points) || obj.points.length < least) problems.push(`points must be a list of at least ${least} [x, y] pairs`);
    else if (!obj.points.every(isPoint)) problems.push("points must all be [x, y] number pairs");
  }
  if (obj.anchor !== undefined && !isPoint(obj.anchor)) problems.push("anchor must be [ax, ay]");
  if (obj.type === "text" && typeof obj.text !== "string") problems.push(`text is ${JSON.stringify(obj.text)}, expected a string`);
  for (const name of ["url", "atlas", "atlas_json"]) {
    if (obj[name] !== undefined && !isLocalUrl(obj[name])) problems.push(`${name} is ${JSON.stringify(obj[name])}, expected a path on this server starting with '/'`);
  }
  if (obj.type === "sprite" && obj.frame !== undefined) {
    const f = obj.frame;
    const rect = Array.isArray(f) && f.length === 4 && f.every(finite) && f[2] > 0 && f[3] > 0;
    if (typeof f === "string" ? obj.atlas_json === undefined : !rect) {
      problems.push("frame must be [x, y, w, h] in atlas pixels, or a frame name together with atlas_json");
    }
  }
  if (obj.tween !== undefined && !(obj.tween && finite(obj.tween.duration) && obj.tween.duration >= 0)) {
    problems.push("tween must be {duration: milliseconds >= 0, ease?: ...}");
  }
  return problems;
}

/**
 * Turn a Map (as Pyodide's toJs hands over a dict) into a plain object, its tween too; pass
 * anything else through.
 * @param {any} item
 * @returns {any}
 */
export function plain(item) {
  if (!(item instanceof Map)) return item;
  const obj = Object.fromEntries(item);
  if (obj.tween instanceof Map) obj.tween = Object.fromEntries(obj.tween);
  return obj;
}

/**
 * Throw a DrawListError naming the first bad objects of a draw list.
 * @param {any[]} list
 */
export function checkDrawList(list) {
  /** @type {string[]} */
  const problems = [];
  const seen = new Set();
  for (let i = 0; i < list.length && problems.length < 10; i++) {
    const obj = list[i];
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
      problems.push(`object ${i}: is ${obj === null ? "null" : typeof obj}, expected an object`);
      continue;
    }
    const label = `object ${i} (id ${JSON.stringify(obj.id)})`;
    for (const p of objectProblems(obj)) problems.push(`${label}: ${p}`);
    if (obj.type !== "remove") {
      if (seen.has(obj.id)) problems.push(`${label}: id used twice in one frame`);
      seen.add(obj.id);
    }
  }
  if (problems.length) throw new DrawListError(`bad draw list: ${problems.join("; ")}`);
}
