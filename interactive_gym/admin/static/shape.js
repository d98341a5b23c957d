// @ts-check
/**
 * The numbers behind the console's tables and charts, shaped from the server's payloads
 * (interactive_gym/admin/views.py): funnel bars, completions against the expected balance,
 * histograms and box summaries, survey answer bars, the participant timeline, and the live
 * indicator's state. Every function is defensive: a payload with fields missing or of the
 * wrong type gives empty rows or nulls, never an exception.
 *
 * Pure: imports only format.js (also pure), so the Node tests load it as is.
 * @module admin/shape
 */

import { isNumber, num, text, toDate } from "./format.js";

/**
 * The array in a payload: `payload` itself when it is one, else the first of `keys` that holds
 * an array; [] otherwise.
 * @param {unknown} payload
 * @param {...string} keys
 * @returns {any[]}
 */
export function listOf(payload, ...keys) {
  if (Array.isArray(payload)) return payload;
  if (payload && typeof payload === "object") {
    for (const key of keys) {
      const value = /** @type {Record<string, unknown>} */ (payload)[key];
      if (Array.isArray(value)) return value;
    }
  }
  return [];
}

/** @param {unknown} value  @returns {Record<string, any>} an object, or {} */
export function objectOf(value) {
  return value && typeof value === "object" && !Array.isArray(value) ? /** @type {any} */ (value) : {};
}

/**
 * Whether a participant row is a simulated participant: a `bot`/`is_bot` flag, or a `bot`
 * URL parameter (python -m interactive_gym.bots opens the study with `?bot=random`).
 * @param {unknown} participant
 */
export function isBot(participant) {
  const p = objectOf(participant);
  if (typeof p.bot === "boolean") return p.bot;
  if (typeof p.is_bot === "boolean") return p.is_bot;
  return Object.hasOwn(objectOf(p.url_params), "bot");
}

/**
 * @typedef {object} FunnelRow
 * @property {string} stage
 * @property {string} label
 * @property {number} count
 * @property {number} width     count / the largest count (0..1), for the bar's length
 * @property {number | null} ofFirst  count / the first stage's count (null when that is 0)
 * @property {number | null} drop     how many fewer than the stage before (null for the first)
 * @property {number | null} here     active people at this scene now (null: not a scene)
 */

/**
 * The funnel's bars: arrived → each scene → completed.
 * @param {unknown} funnel     overview.funnel: [{stage, label, count}]
 * @param {unknown} [atScene]  overview.at_scene: [{scene_id, count}]
 * @returns {FunnelRow[]}
 */
export function funnelRows(funnel, atScene) {
  const here = new Map(listOf(atScene).map((s) => [String(objectOf(s).scene_id), objectOf(s).count]));
  const stages = listOf(funnel).map((s) => {
    const o = objectOf(s);
    const stage = typeof o.stage === "string" ? o.stage : text(o.stage);
    return { stage, label: typeof o.label === "string" && o.label ? o.label : stage, count: isNumber(o.count) ? o.count : 0 };
  });
  const max = Math.max(0, ...stages.map((s) => s.count));
  const first = stages.length ? stages[0].count : 0;
  return stages.map((s, i) => {
    const n = here.get(s.stage);
    return {
      ...s,
      width: max > 0 ? s.count / max : 0,
      ofFirst: first > 0 ? s.count / first : null,
      drop: i === 0 ? null : stages[i - 1].count - s.count,
      here: isNumber(n) ? n : null,
    };
  });
}

/**
 * @typedef {object} ConditionRow
 * @property {string} condition
 * @property {number | null} assigned
 * @property {number} completed
 * @property {number} expectedShare   of all completions (0..1)
 * @property {number} expected        completions expected at the current total
 * @property {number} diff            completed - expected
 * @property {number | null} share    completed / all completions (null: none yet)
 */

/**
 * Completions per condition against the expected balance. A missing `expected_share` means an
 * equal share; shares are normalised to sum to 1.
 * @param {unknown} conditions  overview.conditions: [{condition, assigned, completed, expected_share}]
 * @returns {ConditionRow[]}
 */
export function conditionRows(conditions) {
  const rows = listOf(conditions).map((c) => objectOf(c));
  if (!rows.length) return [];
  const completed = rows.map((c) => (isNumber(c.completed) ? c.completed : 0));
  const total = completed.reduce((a, b) => a + b, 0);
  const given = rows.map((c) => (isNumber(c.expected_share) && c.expected_share >= 0 ? c.expected_share : null));
  const known = given.reduce((/** @type {number} */ a, b) => a + (b ?? 0), 0);
  const unknown = given.filter((g) => g === null).length;
  const fill = unknown ? Math.max(0, 1 - known) / unknown : 0;
  const raw = given.map((g) => g ?? (known > 0 && known < 1 ? fill : 1 / rows.length));
  const sum = raw.reduce((a, b) => a + b, 0) || 1;
  return rows.map((c, i) => {
    const expectedShare = raw[i] / sum;
    const expected = expectedShare * total;
    return {
      condition: c.condition === null || c.condition === undefined ? "(none)" : text(c.condition),
      assigned: isNumber(c.assigned) ? c.assigned : null,
      completed: completed[i],
      expectedShare,
      expected,
      diff: completed[i] - expected,
      share: total > 0 ? completed[i] / total : null,
    };
  });
}

/** The finite numbers in `values`. @param {unknown} values  @returns {number[]} */
export function numbers(values) {
  return listOf(values).filter(isNumber);
}

/**
 * Equal-width bins over the values: `bins` counts over `bins + 1` edges. All values equal →
 * one bin of width 1 around them; no values → no bins.
 * @param {unknown} values
 * @param {number} [bins]
 * @returns {{edges: number[], counts: number[]}}
 */
export function histogram(values, bins = 12) {
  const xs = numbers(values);
  if (!xs.length) return { edges: [], counts: [] };
  let lo = Math.min(...xs);
  let hi = Math.max(...xs);
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
    bins = 1;
  }
  const n = Math.max(1, Math.min(Math.floor(bins), xs.length));
  const width = (hi - lo) / n;
  const edges = Array.from({ length: n + 1 }, (_, i) => (i === n ? hi : lo + i * width));
  const counts = new Array(n).fill(0);
  for (const x of xs) counts[Math.min(n - 1, Math.floor((x - lo) / width))] += 1;
  return { edges, counts };
}

/**
 * A label per bin: "0–10" for bins between two edges; when there are as many counts as edges
 * the last bin is open: "≥ 500".
 * @param {unknown} edges
 * @param {number} nCounts
 * @param {number} [digits]
 * @returns {string[]}
 */
export function binLabels(edges, nCounts, digits = 1) {
  const e = numbers(edges);
  return Array.from({ length: nCounts }, (_, i) => {
    if (i + 1 < e.length) return `${num(e[i], digits)}–${num(e[i + 1], digits)}`;
    if (i < e.length) return `≥ ${num(e[i], digits)}`;
    return `bin ${i + 1}`;
  });
}

/**
 * @typedef {object} Summary
 * @property {number} n
 * @property {number} mean
 * @property {number} sd       sample standard deviation (0 for one value)
 * @property {number} min
 * @property {number} q1
 * @property {number} median
 * @property {number} q3
 * @property {number} max
 */

/**
 * n, mean, sd and quartiles (linear interpolation) of the values; null when there are none.
 * @param {unknown} values
 * @returns {Summary | null}
 */
export function summary(values) {
  const xs = numbers(values).sort((a, b) => a - b);
  const n = xs.length;
  if (!n) return null;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)) : 0;
  const q = (/** @type {number} */ p) => {
    const pos = (n - 1) * p;
    const i = Math.floor(pos);
    return i + 1 < n ? xs[i] + (xs[i + 1] - xs[i]) * (pos - i) : xs[i];
  };
  return { n, mean, sd, min: xs[0], q1: q(0.25), median: q(0.5), q3: q(0.75), max: xs[n - 1] };
}

/**
 * Episode returns grouped for the box chart: one group per condition, per condition and scene
 * when there is more than one game scene.
 * @param {unknown} episodeReturns  plots.episode_returns: [{condition, scene_id, returns}]
 * @returns {Array<{label: string, condition: string, sceneId: string, summary: Summary}>}
 */
export function returnGroups(episodeReturns) {
  const rows = listOf(episodeReturns).map(objectOf);
  const scenes = new Set(rows.map((r) => text(r.scene_id)));
  /** @type {Map<string, {condition: string, sceneId: string, values: number[]}>} */
  const groups = new Map();
  for (const r of rows) {
    const condition = r.condition === null || r.condition === undefined ? "(none)" : text(r.condition);
    const sceneId = text(r.scene_id);
    const label = scenes.size > 1 ? `${condition} · ${sceneId}` : condition;
    const group = groups.get(label) ?? { condition, sceneId, values: [] };
    group.values.push(...numbers(r.returns));
    groups.set(label, group);
  }
  return [...groups]
    .map(([label, g]) => ({ label, condition: g.condition, sceneId: g.sceneId, summary: summary(g.values) }))
    .filter((g) => g.summary !== null)
    .map((g) => ({ ...g, summary: /** @type {Summary} */ (g.summary) }));
}

/**
 * One survey question's answers as bars: numeric answers (a scale) in order, others by count,
 * at most `top` bars (the rest summed into one "other" bar); long labels cut.
 * @param {unknown} answers  {answer: count}
 * @param {number} [top]
 * @returns {{labels: string[], counts: number[]}}
 */
export function surveyBars(answers, top = 12) {
  const entries = Object.entries(objectOf(answers)).filter(([, n]) => isNumber(n));
  const numeric = entries.length > 0 && entries.every(([k]) => k.trim() !== "" && Number.isFinite(Number(k)));
  entries.sort(numeric ? (a, b) => Number(a[0]) - Number(b[0]) : (a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = entries.length > top ? entries.slice(0, top - 1) : entries;
  const rest = entries.slice(shown.length);
  const labels = shown.map(([k]) => text(k === "" ? null : k, 30));
  const counts = shown.map(([, n]) => n);
  if (rest.length) {
    labels.push(`other (${rest.length} answers)`);
    counts.push(rest.reduce((a, [, n]) => a + n, 0));
  }
  return { labels, counts };
}

/**
 * Arrivals per time bin, coarsened (summing neighbours) to at most `maxPoints` bars.
 * @param {unknown} arrivals  overview.arrivals: [{minute, count}]
 * @param {number} [maxPoints]
 * @param {unknown} [binMinutes]  overview.arrivals_bin_minutes (else from the first two bins)
 * @returns {{times: Date[], counts: number[], binMinutes: number}}
 */
export function arrivalSeries(arrivals, maxPoints = 120, binMinutes = null) {
  const rows = listOf(arrivals)
    .map(objectOf)
    .map((a) => ({ time: toDate(a.minute ?? a.at ?? a.t), count: isNumber(a.count) ? a.count : 0 }))
    .filter((a) => a.time !== null)
    .sort((a, b) => /** @type {Date} */ (a.time).getTime() - /** @type {Date} */ (b.time).getTime());
  const step = Math.max(1, Math.ceil(rows.length / Math.max(1, maxPoints)));
  /** @type {Date[]} */
  const times = [];
  /** @type {number[]} */
  const counts = [];
  for (let i = 0; i < rows.length; i += step) {
    times.push(/** @type {Date} */ (rows[i].time));
    counts.push(rows.slice(i, i + step).reduce((a, r) => a + r.count, 0));
  }
  const ms = (/** @type {number} */ i) => /** @type {Date} */ (rows[i].time).getTime();
  const given = rows.length > 1 ? (ms(1) - ms(0)) / 60000 : 1;
  const size = isNumber(binMinutes) && binMinutes > 0 ? binMinutes : Math.max(1, Math.round(given));
  return { times, counts, binMinutes: size * step };
}

/** Kinds of timeline item the console styles; anything else shows as "event". */
export const TIMELINE_KINDS = ["scene", "event", "episode", "error", "focus", "upload"];

/**
 * @typedef {object} TimelineItem
 * @property {string} key        stable across pushes (keeps a traceback open while updating)
 * @property {Date | null} time
 * @property {string} kind       one of TIMELINE_KINDS
 * @property {string} sceneId
 * @property {string} label
 * @property {string | null} traceback
 * @property {unknown} data      anything else the item carries (null: nothing)
 */

/**
 * The participant's timeline, oldest first (items without a time keep their place at the end).
 * @param {unknown} timeline  participant_detail.timeline: [{t, kind, scene_id, label, data}]
 * @returns {TimelineItem[]}
 */
export function timelineItems(timeline) {
  /** @type {Map<string, number>} */
  const seen = new Map();
  const items = listOf(timeline).map((raw, index) => {
    const o = objectOf(raw);
    const kind = TIMELINE_KINDS.includes(o.kind) ? o.kind : "event";
    let data = o.data === undefined ? null : o.data;
    const d = objectOf(data);
    const tbKey = ["traceback", "stack"].find((k) => typeof d[k] === "string" && d[k].trim() !== "");
    const tb = tbKey ? d[tbKey] : typeof o.traceback === "string" && o.traceback.trim() !== "" ? o.traceback : null;
    if (tbKey) {
      // shown on its own; the rest of the data below it
      const { [tbKey]: _shown, ...others } = d;
      data = others;
    }
    const label = text(o.label ?? d.message ?? d.type ?? o.kind);
    const base = `${kind}|${text(o.t)}|${text(o.scene_id)}|${label}`;
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return {
      key: `${base}|${n}`,
      time: toDate(o.t),
      kind,
      sceneId: text(o.scene_id),
      label,
      traceback: tb,
      data: data !== null && typeof data === "object" && Object.keys(data).length === 0 ? null : data,
      index,
    };
  });
  items.sort((a, b) => {
    if (a.time && b.time) return a.time.getTime() - b.time.getTime() || a.index - b.index;
    if (a.time) return -1;
    if (b.time) return 1;
    return a.index - b.index;
  });
  return items.map(({ index: _, ...item }) => item);
}

/**
 * @typedef {"connecting" | "live" | "stale" | "disconnected" | "expired"} LiveStateName
 */

/**
 * The live indicator: connected and pushed to within `staleMs` → live; connected but quiet →
 * stale; not connected → disconnected (or connecting, before the first connection); the
 * session gone → expired.
 * @param {{connected: boolean, everConnected: boolean, expired: boolean, lastPushAt: number | null, now: number, staleMs?: number}} s
 * @returns {LiveStateName}
 */
export function liveState({ connected, everConnected, expired, lastPushAt, now, staleMs = 15_000 }) {
  if (expired) return "expired";
  if (!connected) return everConnected ? "disconnected" : "connecting";
  if (lastPushAt === null || now - lastPushAt > staleMs) return "stale";
  return "live";
}
