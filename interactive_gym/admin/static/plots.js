// @ts-check
/**
 * The Plots tab (Chart.js): episode returns by condition (a box per condition: min–max,
 * quartiles, median and mean), latency histograms (round trip, worker), frame-time histograms
 * (late, draw), the distribution of completion times, and one small bar chart per survey
 * question. Asks GET /admin/api/plots (views.plots) when the tab opens and every 10 s while it
 * is shown and the page is visible.
 * @module admin/plots
 */

import { errorMessage, getJson } from "./api.js";
import { COLORS, bars, draw, fade } from "./charts.js";
import { byTestId, el, fill, table } from "./dom.js";
import { clock, num, text } from "./format.js";
import { apiUrl } from "./query.js";
import { binLabels, histogram, listOf, numbers, objectOf, returnGroups, surveyBars } from "./shape.js";

export const REFRESH_MS = 10_000;

export class Plots {
  /** @param {HTMLElement} panel  `[data-testid="panel-plots"]` */
  constructor(panel) {
    this.panel = panel;
    this.shown = false;
    /** @type {ReturnType<typeof setInterval> | null} */
    this.timer = null;
    this.loading = false;
    /** @type {Map<string, HTMLCanvasElement>} survey question → its canvas */
    this.surveyCanvases = new Map();
    /** The questions the survey charts were built for (null: not built yet). */
    this.surveyKeys = /** @type {string | null} */ (null);
    document.addEventListener("visibilitychange", () => this.schedule());
    /** People only, or bots too (a pilot run). */
    this.bots = /** @type {HTMLInputElement} */ (byTestId("plots-bots", panel));
    this.bots.addEventListener("change", () => void this.load());
  }

  /** The tab was shown (true) or hidden. @param {boolean} shown */
  setShown(shown) {
    this.shown = shown;
    this.schedule();
  }

  /** Load now and every REFRESH_MS while shown and visible; stop otherwise. */
  schedule() {
    const active = this.shown && document.visibilityState === "visible";
    if (active && this.timer === null) {
      void this.load();
      this.timer = setInterval(() => void this.load(), REFRESH_MS);
    } else if (!active && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  async load() {
    if (this.loading) return;
    this.loading = true;
    const status = byTestId("plots-status", this.panel);
    try {
      const payload = await getJson(apiUrl("plots", this.bots.checked ? { bots: "include" } : {}));
      this.render(payload);
      status.textContent = `updated ${clock(Date.now())}`;
      status.classList.remove("error");
    } catch (error) {
      status.textContent = errorMessage(error);
      status.classList.add("error");
    } finally {
      this.loading = false;
    }
  }

  /** @param {string} testid */
  canvas(testid) {
    return /** @type {HTMLCanvasElement} */ (byTestId(testid, this.panel));
  }

  /** @param {string} testid  @param {string} message */
  note(testid, message) {
    byTestId(`${testid}-note`, this.panel).textContent = message;
  }

  /** @param {unknown} payload  views.plots */
  render(payload) {
    const o = objectOf(payload);
    this.renderReturns(o.episode_returns);
    this.renderBinned("plot-latency", o.latency_ms, [["round_trip", "round trip"], ["worker", "worker"]], "ms");
    this.renderBinned("plot-frame", o.frame_ms, [["late", "tick late by"], ["draw", "draw"]], "ms");
    const minutes = numbers(o.completion_minutes);
    const h = histogram(minutes, 12);
    draw(
      this.canvas("plot-completion"),
      bars(binLabels(h.edges, h.counts.length), [{ label: "participants", data: h.counts }], {
        xTitle: "minutes to complete",
        yTitle: "participants",
      }),
    );
    this.note("plot-completion", minutes.length ? `n = ${num(minutes.length)}` : "Nobody completed yet.");
    this.renderSurveys(o.surveys);
  }

  /** @param {unknown} episodeReturns */
  renderReturns(episodeReturns) {
    const groups = returnGroups(episodeReturns);
    const labels = groups.map((g) => g.label);
    const s = groups.map((g) => g.summary);
    const [blue, orange] = COLORS;
    /** @type {import("./charts.js").ChartConfig} */
    const config = {
      type: "bar",
      data: {
        labels,
        datasets: [
          {
            label: "min–max",
            data: s.map((x) => [x.min, x.max]),
            backgroundColor: fade(blue, 0.3),
            grouped: false,
            maxBarThickness: 6,
            order: 3,
          },
          {
            label: "middle half (q1–q3)",
            data: s.map((x) => [x.q1, x.q3]),
            backgroundColor: fade(blue, 0.6),
            borderColor: blue,
            borderWidth: 1,
            grouped: false,
            maxBarThickness: 70,
            order: 2,
          },
          // median and mean as markers (lines without the line)
          { type: "line", label: "median", data: s.map((x) => x.median), showLine: false, pointStyle: "line", pointRadius: 35, borderWidth: 3, borderColor: "#1d1f23", order: 1 },
          { type: "line", label: "mean", data: s.map((x) => x.mean), showLine: false, pointStyle: "crossRot", pointRadius: 7, borderWidth: 2, borderColor: orange, order: 0 },
        ],
      },
      options: { plugins: { legend: { display: true } }, scales: { y: { title: { display: true, text: "episode return" } } } },
    };
    draw(this.canvas("plot-episode-returns"), config);
    this.note("plot-episode-returns", groups.length ? "" : "No episodes yet.");
    fill(
      byTestId("plot-episode-returns-table", this.panel),
      groups.length
        ? table(
            [
              { label: "Group", cell: (g) => g.label },
              { label: "Episodes", cell: (g) => num(g.summary.n), className: "num" },
              { label: "Mean ± sd", cell: (g) => `${num(g.summary.mean, 2)} ± ${num(g.summary.sd, 2)}`, className: "num" },
              { label: "Median", cell: (g) => num(g.summary.median, 2), className: "num" },
              { label: "Min – max", cell: (g) => `${num(g.summary.min, 2)} – ${num(g.summary.max, 2)}`, className: "num" },
            ],
            groups,
          )
        : null,
    );
  }

  /**
   * Histograms sharing their bins: `{bins: [edges], <series>: [counts], ...}`.
   * @param {string} testid
   * @param {unknown} binned
   * @param {Array<[string, string]>} series   [key, label]
   * @param {string} unit
   */
  renderBinned(testid, binned, series, unit) {
    const o = objectOf(binned);
    const counts = series.map(([key]) => numbers(o[key]));
    const length = Math.max(0, ...counts.map((c) => c.length));
    const total = counts.flat().reduce((a, b) => a + b, 0);
    draw(
      this.canvas(testid),
      bars(binLabels(o.bins, length), series.map(([, label], i) => ({ label, data: counts[i] })), { xTitle: unit, yTitle: "count" }),
    );
    this.note(testid, total ? "" : "No measurements yet.");
  }

  /** @param {unknown} surveys */
  renderSurveys(surveys) {
    const box = byTestId("plot-surveys", this.panel);
    const questions = listOf(surveys).map(objectOf);
    const keys = questions.map((q) => `${text(q.scene_id)} · ${text(q.question_id)}`);
    if (keys.join("\n") !== this.surveyKeys) {
      this.surveyKeys = keys.join("\n");
      this.surveyCanvases.clear();
      fill(
        box,
        questions.length ? null : el("p", { className: "note" }, "No survey answers yet."),
        keys.map((key, i) => {
          const data = { question: text(questions[i].question_id), scene: text(questions[i].scene_id) };
          const canvas = el("canvas", { testid: "plot-survey", data });
          this.surveyCanvases.set(key, canvas);
          return el("figure", { className: "chart-card small" }, el("figcaption", {}, key), el("div", { className: "chart" }, canvas));
        }),
      );
    }
    questions.forEach((q, i) => {
      const canvas = this.surveyCanvases.get(keys[i]);
      const b = surveyBars(q.answers);
      const series = [{ label: "answers", data: b.counts, color: COLORS[i % COLORS.length] }];
      if (canvas) draw(canvas, bars(b.labels, series, { horizontal: b.labels.length > 6 }));
    });
  }
}
