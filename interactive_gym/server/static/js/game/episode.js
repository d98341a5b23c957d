// @ts-check
/**
 * One episode of a game scene, whichever runtime plays it: reset with the episode's seed and
 * show the first frame, count down, then play; every frame the channel hands over is drawn and
 * shown in the HUD. The channel (game/channel.js) runs the steps and records them.
 * @module game/episode
 */

import { DrawListError } from "../render/renderer.js";
import { GameError } from "./errors.js";
import { probe } from "./probe.js";

export { GameError } from "./errors.js";
export { focusState } from "./record.js";

/** @typedef {import("../study/scene_api.js").SceneDescription} SceneDescription */
/** @typedef {import("../study/scene_api.js").SceneContext} SceneContext */
/** @typedef {import("./channel.js").GameFrame} GameFrame */
/** @typedef {import("./channel.js").Shown} Shown */

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @typedef {object} EpisodeContext
 * @property {SceneDescription} scene
 * @property {SceneContext} ctx
 * @property {import("./channel.js").GameChannel} channel
 * @property {import("./view.js").GameView} view
 * @property {import("./hud.js").Hud} hud
 * @property {import("./channel.js").InputSource} input
 * @property {import("../render/renderer.js").Renderer} renderer
 * @property {(playing: boolean) => void} setPlaying  the session pauses the channel when hidden
 */

/**
 * Draw a render output; a promise when it is an image that must be decoded first.
 * @param {import("../render/renderer.js").Renderer} renderer  @param {any} render
 * @returns {Shown | Promise<Shown>}
 */
function drawFrame(renderer, render) {
  const start = performance.now();
  /** @type {void | Promise<boolean>} */ let drawing;
  try {
    drawing = renderer.draw(render);
  } catch (error) {
    return { drawMs: null, drawnAt: performance.now(), error };
  }
  if (!(drawing instanceof Promise)) {
    const drawnAt = performance.now();
    return { drawMs: drawnAt - start, drawnAt, error: null };
  }
  return drawing.then(
    (drawn) => {
      const drawnAt = drawn ? performance.now() : null;
      return { drawMs: drawnAt === null ? null : drawnAt - start, drawnAt, error: null };
    },
    (error) => ({ drawMs: null, drawnAt: null, error }),
  );
}

/**
 * Play episode `episode`; resolves with its summary, rejects with GameError.
 * @param {EpisodeContext} c  @param {number} episode
 * @returns {Promise<import("./channel.js").EpisodeSummary>}
 */
export async function playEpisode(c, episode) {
  const { scene, ctx, channel, view, hud, input, renderer } = c;
  const showHud = (/** @type {number} */ step, /** @type {number} */ score, /** @type {string | null} */ env) =>
    hud.update({ episode, episodes: scene.episodes, step, maxSteps: scene.max_steps, fps: scene.fps, score, env });

  /** @param {GameFrame} frame */
  const onFrame = (frame) => {
    const shown = drawFrame(renderer, frame.render);
    const steps = frame.step + 1;
    probe.step = steps;
    ctx.setStatus({ episode, step: steps });
    const show = (/** @type {Shown} */ s) => {
      if (!s.error) showHud(steps, frame.score, frame.hud);
      return s;
    };
    return shown instanceof Promise ? shown.then(show) : show(shown);
  };

  probe.episode = episode;
  probe.step = 0;
  const start = await channel.startEpisode(episode, scene.seeds?.[episode] ?? null);
  try {
    const first = drawFrame(renderer, start.render);
    const drawn = first instanceof Promise ? await first : first;
    if (drawn.error) throw drawn.error;
  } catch (error) {
    channel.abandon(episode);
    throw new GameError(error instanceof DrawListError ? "render" : "reset", 0, error);
  }
  showHud(0, 0, start.hud);
  ctx.setStatus({ episode, step: 0 });
  for (let n = scene.countdown_s; n > 0 && !ctx.signal.aborted; n--) {
    view.setState("countdown");
    probe.state = "countdown";
    view.say(String(n));
    await sleep(1000);
  }
  view.say(null);
  input.reset();
  const playing = channel.play(episode, { onFrame, input });
  c.setPlaying(true);
  view.setState("playing");
  probe.state = "playing";
  try {
    return await playing;
  } finally {
    c.setPlaying(false);
  }
}
