// @ts-check
/**
 * The game scene's simulated participant (`?bot=random`): presses random mapped keys (and
 * key combinations) for random durations by dispatching keyboard events on the window, so
 * the actions go through the same input path as a person's. On the error page it clicks
 * Continue. Stops when the scene's page is gone or the game is done.
 * @module game/bot
 */

/** @typedef {import("../study/scene_api.js").SceneDescription} SceneDescription */
/** @typedef {import("../study/scene_api.js").SceneContext} SceneContext */

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** @param {string} type  @param {string} key */
function press(type, key) {
  window.dispatchEvent(new KeyboardEvent(type, { key, bubbles: true, cancelable: true }));
}

/** @param {SceneDescription} scene  @param {SceneContext} ctx */
export async function playBot(scene, ctx) {
  const game = /** @type {HTMLElement | null} */ (ctx.root.querySelector("[data-ig-game]"));
  if (!game) return;
  /** @type {string[][]} */
  const combos = scene.controls.map((/** @type {{keys: string[]}} */ c) => c.keys);
  while (!ctx.signal.aborted && game.isConnected) {
    const state = game.dataset.state;
    if (state === "done") return;
    if (state === "error") {
      const button = /** @type {HTMLButtonElement | null} */ (game.querySelector("[data-ig-continue]"));
      if (button) {
        await ctx.pause();
        button.click();
        return;
      }
    }
    if (state !== "playing" || combos.length === 0) {
      await sleep(50);
      continue;
    }
    const keys = Math.random() < 0.15 ? [] : combos[Math.floor(Math.random() * combos.length)];
    for (const key of keys) press("keydown", key);
    await sleep(30 + Math.random() * 250);
    for (const key of keys) press("keyup", key);
    await sleep(Math.random() * 80);
  }
}
