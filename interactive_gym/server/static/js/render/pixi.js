/**
 * The self-hosted PixiJS build (an ES module) that the renderer draws with.
 * Served by our own server from node_modules under /vendor; bump the version here together
 * with package.json.
 */
export * from "/vendor/pixi.js@8.22.0/dist/pixi.min.mjs";
