// @ts-check
/**
 * One episode of a game scene: reset with the episode's seed, countdown, then the fixed-step
 * loop, one worker round trip per tick, each step drawn, shown in the HUD and recorded.
 * @module game/episode
 */

import { DrawListError } from "../render/renderer.js";
import { FixedStepLoop } from "./loop.js";
import { probe } from "./probe.js";
import { Returns, jsonSafe, stepData } from "./record.js";

/** @typedef {import("../study/scene_api.js").SceneDescription} SceneDescription */
/** @typedef {import("../study/scene_api.js").SceneContext} SceneContext */
/** @typedef {import("./loop.js").TickInfo} TickInfo */

/** The episode stopped because the environment, a policy, the worker or a drawing failed. */
export class GameError extends Error {
  /**
   * @param {"reset" | "step" | "render"} stage  @param {number} step  @param {any} cause
   */
  constructor(stage, step, cause) {
    const what = cause?.name && cause.name !== "Error" ? `${cause.name}: ` : "";
    super(`${what}${cause?.message ?? String(cause)}`);
    this.name = "GameError";
    this.stage = stage;
    this.step = step;
    this.traceback = String(cause?.traceback ?? cause?.stack ?? "").slice(-4000);
  }
}

/** "focused", "blurred" (visible, another window has focus) or "hidden". */
export function focusState() {
  if (document.visibilityState === "hidden") return "hidden";
  return document.hasFocus() ? "focused" : "blurred";
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @typedef {object} EpisodeContext
 * @property {SceneDescription} scene
 * @property {SceneContext} ctx
 * @property {import("../PyodideWorker.js").PyodideWorker} worker
 * @property {import("./preload.js").GameInfo} game
 * @property {import("./view.js").GameView} view
 * @property {import("./hud.js").Hud} hud
 * @property {import("./input.js").KeyInput} input
 * @property {import("../render/renderer.js").Renderer} renderer
 * @property {(loop: FixedStepLoop | null) => void} setLoop  the session pauses it when hidden
 */

/**
 * Play episode `episode`; resolves with its summary (also recorded), rejects with GameError
 * after recording what happened.
 * @param {EpisodeContext} c  @param {number} episode
 */
export async function playEpisode(c, episode) {
  const { scene, ctx, worker, game, view, hud, input, renderer } = c;
  const seed = scene.seeds[episode];
  const multiAgent = game.multiAgent;
  const timeoutMs = scene.step_timeout_s * 1000;
  const returns = new Returns();
  const summary = { seed, length: 0, hidden_steps: 0, started: performance.now() };
  let step = 0;
  /** @type {any} */ let last = null;
  const showHud = (/** @type {string | null} */ env) =>
    hud.update({ episode, episodes: scene.episodes, step, maxSteps: scene.max_steps, fps: scene.fps, score: returns.score, env });

  /** @param {TickInfo} tick */
  async function onTick(tick) {
    const focus = focusState();
    const taken = input.take();
    const hiddenNoKey = focus === "hidden";
    const action = hiddenNoKey ? scene.default_action : taken.action;
    /** @type {Record<string, any>} */
    const actions = scene.human !== null ? { [scene.human]: action } : {};
    let reply;
    try {
      reply = await worker.tick({ actions }, { timeoutMs });
    } catch (error) {
      throw new GameError("step", step, error);
    }
    last = reply;
    const drawStart = performance.now();
    /** @type {any} */ let drawError = null;
    try {
      renderer.draw(reply.render);
    } catch (error) {
      drawError = error;
    }
    const drawnAt = performance.now();
    returns.add(reply.reward, scene.human, multiAgent);
    const data = stepData({
      reply,
      multiAgent,
      keys: hiddenNoKey ? "" : taken.keys,
      events: taken.events,
      tick,
      timing: reply.timing,
      drawMs: drawError ? null : drawnAt - drawStart,
      focus,
      observation: scene.record_observations,
    });
    ctx.record("step", { episode, step, data });
    if (focus === "hidden") summary.hidden_steps++;
    probe.frame({
      episode, step, ...tick,
      workerMs: reply.timing?.workerMs ?? null, envMs: reply.timing?.envMs ?? null,
      policyMs: reply.policyMs ?? null, roundTripMs: reply.timing?.roundTripMs ?? null,
      drawMs: data.draw_ms, drawnAt, paintedAt: null, keyEvents: taken.events,
    });
    step++;
    summary.length = step;
    probe.step = step;
    ctx.setStatus({ episode, step });
    if (drawError) throw new GameError("render", step - 1, drawError);
    showHud(reply.hud);
    return !reply.done && !ctx.signal.aborted;
  }

  /** @type {FixedStepLoop | null} */
  let loop = null;
  const finish = (/** @type {string} */ endedBy) => {
    const data = {
      seed,
      return: returns.score,
      ...(multiAgent ? { returns: returns.byAgent } : {}),
      length: summary.length,
      terminated: Boolean(last?.terminated),
      truncated: Boolean(last?.truncated),
      ended_by: endedBy,
      duration_ms: Math.round(performance.now() - summary.started),
      ticks: loop?.stats.ticks ?? 0,
      late_ticks: loop?.stats.late ?? 0,
      dropped_ticks: loop?.stats.dropped ?? 0,
      hidden_steps: summary.hidden_steps,
      fps: scene.fps,
    };
    ctx.record("episode", { episode, data: jsonSafe(data) });
    return data;
  };

  probe.episode = episode;
  probe.step = 0;
  let start;
  try {
    start = await worker.startEpisode({ seed }, { timeoutMs });
    renderer.draw(start.render);
  } catch (error) {
    const stage = error instanceof DrawListError ? "render" : "reset";
    finish("error");
    throw new GameError(stage, 0, error);
  }
  showHud(start.hud);
  ctx.setStatus({ episode, step: 0 });
  for (let n = scene.countdown_s; n > 0 && !ctx.signal.aborted; n--) {
    view.setState("countdown");
    probe.state = "countdown";
    view.say(String(n));
    await sleep(1000);
  }
  view.say(null);
  input.reset();
  loop = new FixedStepLoop(scene.fps, onTick);
  c.setLoop(loop);
  probe.setLoop(loop);
  view.setState("playing");
  probe.state = "playing";
  try {
    await loop.run();
  } catch (error) {
    finish("error");
    throw error instanceof GameError ? error : new GameError("step", step, error);
  } finally {
    c.setLoop(null);
    probe.setLoop(null);
  }
  const endedBy = last?.terminated ? "terminated" : last?.maxStepsReached ? "max_steps" : last?.truncated ? "truncated" : "stopped";
  return finish(endedBy);
}
