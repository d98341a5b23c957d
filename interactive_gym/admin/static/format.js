// @ts-check
/**
 * How the admin console writes values: numbers, durations, times, and anything a payload holds
 * as plain text. Every function takes whatever the server sent (a field may be missing, null or
 * of an unexpected type) and answers a string; a value that is not there reads "–".
 *
 * Pure: no DOM, no imports, so the Node tests (tests/js/admin_console.test.mjs) load it as is.
 * The text it returns is put on the page with textContent only (see dom.js), never as HTML.
 * @module admin/format
 */

/** What a missing value reads as. */
export const DASH = "–";

/** @param {unknown} value  @returns {value is number} a finite number */
export function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

/**
 * Any value as text: strings as they are, numbers and booleans written out, objects as
 * compact JSON; null, undefined, "" and non-finite numbers as "–". Long text is cut at `max`
 * characters with an ellipsis.
 * @param {unknown} value
 * @param {number} [max]
 * @returns {string}
 */
export function text(value, max = Infinity) {
  let out;
  if (value === null || value === undefined || value === "") out = DASH;
  else if (typeof value === "string") out = value;
  else if (typeof value === "number") out = Number.isFinite(value) ? String(value) : DASH;
  else if (typeof value === "boolean") out = value ? "yes" : "no";
  else {
    try {
      out = JSON.stringify(value) ?? DASH;
    } catch {
      out = String(value);
    }
  }
  return out.length > max ? `${out.slice(0, Math.max(0, max - 1))}…` : out;
}

/**
 * A number with at most `digits` decimals (trailing zeros dropped) and thousands separators.
 * @param {unknown} value
 * @param {number} [digits]
 */
export function num(value, digits = 0) {
  if (!isNumber(value)) return DASH;
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** A duration in milliseconds: "0.8 ms", "12 ms", "1.2 s". @param {unknown} value */
export function ms(value) {
  if (!isNumber(value)) return DASH;
  if (Math.abs(value) >= 1000) return `${num(value / 1000, 1)} s`;
  return `${num(value, Math.abs(value) < 10 ? 1 : 0)} ms`;
}

/** A duration in seconds: "42 s", "3 min 05 s", "2 h 10 min". @param {unknown} value */
export function duration(value) {
  if (!isNumber(value)) return DASH;
  const sign = value < 0 ? "-" : "";
  const s = Math.abs(value);
  if (s < 10) return `${sign}${num(s, 1)} s`;
  if (s < 60) return `${sign}${Math.round(s)} s`;
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const rest = total % 60;
  if (h > 0) return `${sign}${h} h ${String(m).padStart(2, "0")} min`;
  return `${sign}${m} min ${String(rest).padStart(2, "0")} s`;
}

/** A fraction (0..1) as a percentage: "42%", "3.5%". @param {unknown} value */
export function percent(value) {
  if (!isNumber(value)) return DASH;
  const p = value * 100;
  return `${num(p, Math.abs(p) < 10 && p !== 0 ? 1 : 0)}%`;
}

/**
 * A time as a Date, from an ISO string or a Unix time (milliseconds; values below 1e11 are
 * taken as seconds). Null when it is neither.
 * @param {unknown} value
 * @returns {Date | null}
 */
export function toDate(value) {
  let date = null;
  if (typeof value === "string" && value !== "") date = new Date(value);
  else if (isNumber(value)) date = new Date(value < 1e11 ? value * 1000 : value);
  return date && !Number.isNaN(date.getTime()) ? date : null;
}

const pad = (/** @type {number} */ n, width = 2) => String(n).padStart(width, "0");

/** The time of day (local): "14:03:07". @param {unknown} value */
export function clock(value) {
  const d = toDate(value);
  return d ? `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` : DASH;
}

/** Date and time (local): "2024-05-01 14:03:07". @param {unknown} value */
export function dateTime(value) {
  const d = toDate(value);
  if (!d) return DASH;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(d.getTime())}`;
}

/**
 * How long ago `then` was, seen from `now` (both Unix milliseconds): "just now", "12 s ago",
 * "3 min ago", "2 h ago".
 * @param {unknown} then
 * @param {number} now
 */
export function ago(then, now) {
  const d = toDate(then);
  if (!d) return DASH;
  const s = Math.max(0, (now - d.getTime()) / 1000);
  if (s < 2) return "just now";
  if (s < 60) return `${Math.floor(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/**
 * A participant's URL parameters as one line: "PROLIFIC_PID=abc, bot=random".
 * @param {unknown} params
 */
export function params(params) {
  if (!params || typeof params !== "object" || Array.isArray(params)) return DASH;
  const pairs = Object.entries(params).map(([k, v]) => `${k}=${typeof v === "string" ? v : text(v)}`);
  return pairs.length ? pairs.join(", ") : DASH;
}

/** Pretty JSON for a `<pre>` (objects indented; anything else via {@link text}). @param {unknown} value */
export function json(value) {
  if (value === null || value === undefined) return DASH;
  if (typeof value !== "object") return text(value);
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

/** A yes/no/– for a flag that may be unknown (null: not checked). @param {unknown} value */
export function flag(value) {
  if (value === true) return "yes";
  if (value === false) return "no";
  return DASH;
}
