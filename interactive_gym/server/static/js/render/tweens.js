/**
 * Tweens: when an object that is already on screen arrives with a `tween`, its numeric
 * properties (position, size, radius, angle, alpha, line/polygon points) move from the values
 * currently shown to the new ones over `tween.duration` milliseconds.
 */

/** @type {Record<string, (t: number) => number>} */
export const EASES = {
  linear: (t) => t,
  "ease-in": (t) => t * t,
  "ease-out": (t) => t * (2 - t),
  "ease-in-out": (t) => (t < 0.5 ? 2 * t * t : -1 + (4 - 2 * t) * t),
};

const NUMERIC = ["x", "y", "w", "h", "radius", "angle", "alpha"];

/**
 * A copy of `to` whose numeric fields are `k` of the way from `from` (0 = from, 1 = to).
 * Fields missing on either side, and point lists of different lengths, jump to `to`.
 * @template {Record<string, any>} T
 * @param {T} from
 * @param {T} to
 * @param {number} k
 * @returns {T}
 */
export function interpolate(from, to, k) {
  /** @type {Record<string, any>} */
  const out = { ...to };
  for (const name of NUMERIC) {
    const a = from[name];
    const b = to[name];
    if (typeof a === "number" && typeof b === "number") out[name] = a + (b - a) * k;
  }
  const pa = from.points;
  const pb = to.points;
  if (pa && pb && pa.length === pb.length) {
    out.points = pb.map((/** @type {number[]} */ p, /** @type {number} */ i) => [pa[i][0] + (p[0] - pa[i][0]) * k, pa[i][1] + (p[1] - pa[i][1]) * k]);
  }
  return /** @type {T} */ (out);
}

/**
 * One running tween.
 * @typedef {{from: Record<string, any>, to: Record<string, any>, start: number,
 *   duration: number, ease: (t: number) => number}} Tween
 */

/**
 * Start a tween from the values shown now to `to`.
 * @param {Record<string, any>} shown
 * @param {Record<string, any>} to
 * @param {{duration: number, ease?: string}} spec
 * @param {number} now
 * @returns {Tween}
 */
export function startTween(shown, to, spec, now) {
  return { from: shown, to, start: now, duration: spec.duration, ease: EASES[spec.ease ?? "linear"] };
}

/**
 * The values a tween shows at time `now`, and whether it has finished.
 * @param {Tween} tween
 * @param {number} now
 * @returns {{values: Record<string, any>, done: boolean}}
 */
export function tweenAt(tween, now) {
  const t = tween.duration <= 0 ? 1 : (now - tween.start) / tween.duration;
  if (t >= 1) return { values: tween.to, done: true };
  return { values: interpolate(tween.from, tween.to, tween.ease(Math.max(0, t))), done: false };
}
