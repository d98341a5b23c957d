// @ts-check
/**
 * GymScene in the browser: a Gymnasium-style environment played at a fixed frame rate, the
 * environment running in Pyodide in a Web Worker (runtime "browser") or on the server, which
 * streams the frames over the study socket (runtime "server"); see docs/game.md.
 *
 * - `preload` starts loading a browser-runtime environment when the participant arrives
 *   (game/preload.js); a server-runtime game opens when its scene starts;
 * - `run` plays the episodes and resolves with `{status, episodes, error}` (game/session.js);
 * - `bot` presses random keys through the same keyboard handlers (game/bot.js), on either
 *   runtime.
 *
 * Tests and benchmarks read `window.interactiveGymGame` (game/probe.js).
 * @module study/scenes/gym
 */

import { playBot } from "../../game/bot.js";
import { gameLoader, gamePlaying } from "../../game/preload.js";
import { runGame } from "../../game/session.js";

/** @typedef {import("../scene_api.js").SceneDescription} SceneDescription */
/** @typedef {import("../scene_api.js").SceneContext} SceneContext */

/** @param {SceneDescription} scene  @param {SceneContext} ctx */
export function preload(scene, ctx) {
  if ((scene.runtime ?? "browser") !== "browser") return;
  gameLoader(scene).start().catch(() => {}); // run() shows the failure and offers a retry
}

/** @param {SceneDescription} scene  @param {SceneContext} ctx */
export async function run(scene, ctx) {
  const game = runGame(scene, ctx);
  gamePlaying(scene.scene_id, game);
  const response = await game;
  if (ctx.signal.aborted) await new Promise(() => {}); // the study went on in another tab
  return response;
}

/** @param {SceneDescription} scene  @param {SceneContext} ctx */
export function bot(scene, ctx) {
  return playBot(scene, ctx);
}
