// @ts-check
/**
 * A thin layer over Chart.js (`globalThis.Chart`, from its UMD build that console.html loads as a
 * classic script; typed in types/chartjs-global.d.ts): one chart per canvas, updated in place on
 * new data (no animation, so a push never makes the page flicker), and the console's colours.
 * Each drawn canvas gets `data-points` (how many labels) and `data-series` (how many datasets)
 * for the end-to-end tests.
 * @module admin/charts
 */

/** @typedef {import("chart.js").ChartConfiguration<any, any, any>} ChartConfig */
/** @typedef {import("chart.js").Chart<any, any, any>} AnyChart */

/** Series colours (the same order everywhere: first series, second series, ...). */
export const COLORS = ["#2f5fb3", "#d9822b", "#2e8b57", "#b3261e", "#7b4fb3", "#5b6270", "#c2a100", "#1f9bb3"];

/** A colour with transparency. @param {string} hex  @param {number} alpha */
export function fade(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/** @type {WeakMap<HTMLCanvasElement, AnyChart>} */
const charts = new WeakMap();

/** Whether Chart.js loaded. */
export function available() {
  return typeof globalThis.Chart === "function";
}

/**
 * Draw `config` on `canvas`, updating the chart already there when it is of the same type.
 * Without Chart.js the canvas is replaced by a note (once).
 * @param {HTMLCanvasElement} canvas
 * @param {ChartConfig} config
 * @returns {AnyChart | null}
 */
export function draw(canvas, config) {
  const labels = config.data?.labels ?? [];
  canvas.dataset.points = String(labels.length);
  canvas.dataset.series = String(config.data?.datasets?.length ?? 0);
  const ChartClass = globalThis.Chart;
  if (typeof ChartClass !== "function") {
    if (!canvas.dataset.unavailable) {
      canvas.dataset.unavailable = "1";
      const note = document.createElement("p");
      note.className = "note error";
      note.textContent = "Charts are unavailable: Chart.js did not load.";
      canvas.after(note);
    }
    return null;
  }
  const options = { animation: false, responsive: true, maintainAspectRatio: false, ...config.options };
  const existing = charts.get(canvas);
  if (existing && /** @type {any} */ (existing.config).type === config.type) {
    existing.data = config.data;
    existing.options = options;
    existing.update("none");
    return existing;
  }
  existing?.destroy();
  const chart = new ChartClass(canvas, { ...config, options });
  charts.set(canvas, chart);
  return chart;
}

/**
 * A bar chart's configuration.
 * @param {string[]} labels
 * @param {Array<{label: string, data: Array<number | [number, number] | null>, color?: string}>} series
 * @param {{horizontal?: boolean, stacked?: boolean, xTitle?: string, yTitle?: string, legend?: boolean}} [options]
 * @returns {ChartConfig}
 */
export function bars(labels, series, options = {}) {
  const axisTitle = (/** @type {string | undefined} */ t) => (t ? { display: true, text: t } : { display: false });
  return {
    type: "bar",
    data: {
      labels,
      datasets: series.map((s, i) => {
        const color = s.color ?? COLORS[i % COLORS.length];
        return { label: s.label, data: s.data, backgroundColor: fade(color, 0.75), borderColor: color, borderWidth: 1, maxBarThickness: 56 };
      }),
    },
    options: {
      indexAxis: options.horizontal ? "y" : "x",
      plugins: { legend: { display: options.legend ?? series.length > 1 } },
      scales: {
        x: { stacked: options.stacked ?? false, title: axisTitle(options.xTitle), ticks: { autoSkip: true, maxRotation: 45 } },
        y: { stacked: options.stacked ?? false, title: axisTitle(options.yTitle), beginAtZero: true },
      },
    },
  };
}
