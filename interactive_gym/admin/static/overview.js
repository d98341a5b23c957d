// @ts-check
/**
 * The Overview tab: people and bots by status, the funnel (arrived → each scene → completed),
 * completions per condition against the expected balance, arrivals over time, the median time
 * per scene, uploads acked vs pending. Drawn from the `overview` payload (views.overview),
 * pushed over the socket; every push redraws it.
 * @module admin/overview
 */

import { bars, draw } from "./charts.js";
import { byTestId, el, fill, table } from "./dom.js";
import { DASH, clock, dateTime, duration, isNumber, num, percent, text } from "./format.js";
import { arrivalSeries, conditionRows, funnelRows, listOf, objectOf } from "./shape.js";

/** The status counts shown for people and for bots (the keys of overview.people/bots). */
const COUNTS = ["total", "active", "completed", "excluded", "connected"];

/** @param {ParentNode} root  @param {string} testid  @param {unknown} value */
function setCount(root, testid, value) {
  const node = root.querySelector(`[data-testid="${testid}"]`);
  if (node) node.textContent = isNumber(value) ? num(value) : DASH;
}

/**
 * Redraw the tab from an overview payload.
 * @param {HTMLElement} panel  `[data-testid="panel-overview"]`
 * @param {unknown} payload
 */
export function renderOverview(panel, payload) {
  const o = objectOf(payload);
  const people = objectOf(o.people);
  const bots = objectOf(o.bots);
  for (const key of COUNTS) {
    setCount(panel, `overview-people-${key}`, people[key]);
    setCount(panel, `overview-bots-${key}`, bots[key]);
  }
  setCount(panel, "overview-completed", people.completed);
  const uploads = objectOf(o.uploads);
  setCount(panel, "overview-uploads-acked", uploads.acked_records);
  setCount(panel, "overview-uploads-pending", uploads.pending_records);
  byTestId("overview-at", panel).textContent = o.at ? `as of ${clock(o.at)}` : "";

  renderFunnel(byTestId("overview-funnel", panel), o.funnel, o.at_scene);
  renderConditions(byTestId("overview-conditions", panel), o.conditions);
  renderArrivals(/** @type {HTMLCanvasElement} */ (byTestId("plot-arrivals", panel)), o.arrivals, o.arrivals_bin_minutes);
  renderSceneTimes(byTestId("overview-scene-times", panel), o.scene_times);
}

/** @param {HTMLElement} node  @param {unknown} funnel  @param {unknown} atScene */
function renderFunnel(node, funnel, atScene) {
  const rows = funnelRows(funnel, atScene);
  if (!rows.length) {
    fill(node, el("p", { className: "note" }, "No participants yet."));
    return;
  }
  fill(
    node,
    rows.map((r) => {
      const bar = el("div", { className: "funnel-bar" });
      bar.style.width = `${(r.width * 100).toFixed(1)}%`;
      const notes = [];
      if (r.ofFirst !== null && r.stage !== rows[0].stage) notes.push(percent(r.ofFirst));
      if (r.here !== null && r.here > 0) notes.push(`${num(r.here)} here now`);
      return el(
        "div",
        { className: "funnel-row", testid: "funnel-row", data: { stage: r.stage, count: String(r.count) } },
        el("span", { className: "funnel-label", title: r.stage }, r.label),
        el("div", { className: "funnel-track" }, bar),
        el("span", { className: "funnel-count" }, num(r.count), notes.length ? el("small", {}, ` ${notes.join(" · ")}`) : null),
      );
    }),
  );
}

/** @param {HTMLElement} node  @param {unknown} conditions */
function renderConditions(node, conditions) {
  const rows = conditionRows(conditions);
  fill(
    node,
    table(
      [
        { label: "Condition", cell: (r) => r.condition },
        { label: "Assigned", cell: (r) => num(r.assigned), className: "num" },
        { label: "Completed", cell: (r) => num(r.completed), className: "num" },
        { label: "Expected", cell: (r) => `${num(r.expected, 1)} (${percent(r.expectedShare)})`, className: "num" },
        {
          label: "Off by",
          className: "num",
          cell: (r) => {
            const off = Math.abs(r.diff) >= 1 && Math.abs(r.diff) > 0.1 * Math.max(1, r.expected);
            return el("span", { className: off ? "warn" : "" }, `${r.diff > 0 ? "+" : ""}${num(r.diff, 1)}`);
          },
        },
        {
          label: "Share",
          cell: (r) => {
            const got = el("div", { className: "share-bar" });
            got.style.width = `${((r.share ?? 0) * 100).toFixed(1)}%`;
            const mark = el("div", { className: "share-mark", title: `expected ${percent(r.expectedShare)}` });
            mark.style.left = `${(r.expectedShare * 100).toFixed(1)}%`;
            return el("div", { className: "share-track" }, got, mark);
          },
        },
      ],
      rows,
      { empty: "This study has no conditions.", rowTestId: "condition-row" },
    ),
  );
}

/** @param {HTMLCanvasElement} canvas  @param {unknown} arrivals  @param {unknown} binMinutes */
function renderArrivals(canvas, arrivals, binMinutes) {
  const series = arrivalSeries(arrivals, 120, binMinutes);
  const days = new Set(series.times.map((t) => t.toDateString()));
  const labels = series.times.map((t) => (days.size > 1 ? dateTime(t.getTime()).slice(5, 16) : clock(t.getTime()).slice(0, 5)));
  const m = series.binMinutes;
  const per = m === 1 ? "per minute" : m % 1440 === 0 ? `per ${m / 1440} d` : m % 60 === 0 ? `per ${m / 60} h` : `per ${m} min`;
  draw(canvas, bars(labels, [{ label: `arrivals ${per}`, data: series.counts }], { yTitle: `people ${per}` }));
}

/** @param {HTMLElement} node  @param {unknown} sceneTimes */
function renderSceneTimes(node, sceneTimes) {
  const rows = listOf(sceneTimes).map(objectOf);
  fill(
    node,
    table(
      [
        { label: "Scene", cell: (r) => text(r.scene_id) },
        { label: "Median time", cell: (r) => duration(r.median_s), className: "num" },
        { label: "n", cell: (r) => num(r.n), className: "num" },
      ],
      rows,
      { empty: "No scene finished yet.", rowTestId: "scene-time-row" },
    ),
  );
}

/** The conditions the overview names (for the filters). @param {unknown} payload  @returns {string[]} */
export function conditionsOf(payload) {
  return listOf(objectOf(payload).conditions)
    .map((c) => objectOf(c).condition)
    .filter((c) => typeof c === "string" && c !== "");
}
