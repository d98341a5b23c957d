// Chart.js (npm package chart.js), loaded by the admin console as a classic script from
// /vendor/chart.js@4.6.1/dist/chart.umd.min.js: its UMD build defines globalThis.Chart with
// every chart type, scale and plugin registered. Undefined when that script failed to load.
// Its types come from the same pinned package in node_modules.

declare var Chart: typeof import("chart.js").Chart | undefined;
