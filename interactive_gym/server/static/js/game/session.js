// @ts-check
/**
 * A game scene from start to end: wait for the environment (progress bar, error page with
 * retry), create the canvas and keyboard input, play the episodes not yet completed, pause
 * or continue when the tab is hidden, and end with the scene's response. Where the
 * environment runs is the channel's business (game/channel.js). A group game (either runtime:
 * its channel is a GroupChannel) starts at the group's current episode, shows the other
 * members' states, and ends with `status: "group_ended"` when a member left and the group's
 * game ended.
 * @module game/session
 */

import { createRenderer } from "../render/renderer.js";
import { channelFor, groupChannel } from "./channel.js";
import { playEpisode } from "./episode.js";
import { GameError } from "./errors.js";
import { Hud, formatScore } from "./hud.js";
import { KeyInput } from "./input.js";
import { probe } from "./probe.js";
import { focusState } from "./record.js";
import { GameView } from "./view.js";

/** @typedef {import("../study/scene_api.js").SceneDescription} SceneDescription */
/** @typedef {import("../study/scene_api.js").SceneContext} SceneContext */
/** @typedef {{status: "completed" | "error" | "group_ended", episodes: number, error: string | null}} GameResponse */

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Episodes this browser completed in a scene (kept across reloads). */
class EpisodeMemory {
  /** @param {string} participantId  @param {string} sceneId */
  constructor(participantId, sceneId) {
    this.key = `interactive-gym:episodes:${participantId}:${sceneId}`;
  }

  get done() {
    try {
      return Number(localStorage.getItem(this.key) ?? 0) || 0;
    } catch {
      return 0;
    }
  }

  /** @param {number} n */
  set done(n) {
    try {
      localStorage.setItem(this.key, String(n));
    } catch {
      /* private mode: a reload starts the game again */
    }
  }
}

/**
 * Wait until the environment is loaded, showing progress; on failure, an error page with a
 * retry (and, after two failures, a way to go on without the game).
 * @param {import("./channel.js").GameChannel} channel  @param {SceneContext} ctx  @param {GameView} view
 * @returns {Promise<import("./channel.js").GameInfo | null>}
 */
async function load(channel, ctx, view) {
  const waitedFrom = performance.now();
  const onProgress = (/** @type {import("./channel.js").Progress} */ progress) => {
    probe.loadStage = progress.stage;
    view.showProgress(progress);
  };
  for (;;) {
    try {
      const game = await channel.load(onProgress);
      const python = channel.pythonLoad;
      ctx.event("game_loaded", {
        load_ms: Math.round(channel.loadMs ?? 0),
        waited_ms: Math.round(performance.now() - waitedFrom),
        attempts: channel.attempts,
        ...(python && {
          load_kind: python.kind,
          python_ms: Math.round(python.ms),
          snapshot: python.snapshot,
          ...(python.problem && { snapshot_problem: python.problem.slice(0, 1000) }),
        }),
      });
      probe.loadMs = channel.loadMs;
      probe.loadKind = python?.kind ?? null;
      return game;
    } catch (error) {
      const e = /** @type {import("./errors.js").GameLoadError} */ (error);
      if (groupChannel(channel)?.groupEnded) throw e; // nothing to retry
      ctx.event("game_load_error", { stage: e.stage, message: e.message, detail: e.detail?.slice(-4000) ?? "", attempts: channel.attempts });
      probe.state = "error";
      if (ctx.bot) throw e; // a simulated participant reports the failure instead of retrying
      const buttons = /** @type {[string, string][]} */ ([["Try again", "igRetry"]]);
      if (channel.attempts >= 2) buttons.push(["Continue without the game", "igSkip"]);
      const choice = await view.showError(
        channel.attempts >= 2
          ? "The game could not be loaded. You can try again, or continue with the study without it."
          : "The game could not be loaded. Please try again.",
        `${e.stage}: ${e.message}`,
        buttons,
      );
      if (choice !== "Try again") return null;
      view.setState("loading");
      probe.state = "loading";
    }
  }
}

/**
 * Run the game scene; resolves with the response GymScene.validate_response checks.
 * @param {SceneDescription} scene  @param {SceneContext} ctx
 * @returns {Promise<GameResponse>}
 */
export async function runGame(scene, ctx) {
  const view = new GameView(ctx.root, scene);
  probe.enter(scene.scene_id, scene.fps);
  probe.state = "loading";
  const memory = new EpisodeMemory(ctx.participantId, scene.scene_id);
  let done = Math.min(memory.done, scene.episodes);
  const channel = channelFor(scene, ctx);
  const group = groupChannel(channel);
  const groupEnded = () => ({ status: /** @type {const} */ ("group_ended"), episodes: done, error: null });
  const game = await load(channel, ctx, view).catch((error) => {
    channel.destroy();
    if (group?.groupEnded) return null;
    throw new Error(`The game could not be loaded: ${error.message}`);
  });
  if (group?.groupEnded) {
    view.destroy();
    return groupEnded();
  }
  if (!game) {
    channel.destroy();
    view.destroy();
    return { status: "error", episodes: done, error: "the game could not be loaded" };
  }
  if (group) {
    if (group.resumeAt) done = Math.max(done, Math.min(group.resumeAt.episode, scene.episodes));
    group.onMember = (m) => view.showMember(m.agent_id, m.state, m.wait_s ?? null);
    for (const [agent, state] of Object.entries(group.members)) {
      if (agent !== group.agentId && state !== "here") view.showMember(agent, state, scene.reconnect_s ?? null);
    }
  }
  const [width, height] = scene.canvas_size ?? game.renderSize ?? [600, 400];
  view.showGame();
  const renderer = await createRenderer(view.canvasHolder, { width, height, background: scene.background });
  const input = new KeyInput({ controls: scene.controls, defaultAction: scene.default_action, mode: scene.input_mode });
  input.attach();
  let playing = false;
  const onVisibility = () => {
    const state = focusState();
    ctx.event("focus", { state, episode: probe.episode, step: probe.step });
    channel.setHidden(state === "hidden");
    if (scene.when_hidden !== "pause" || !playing) return;
    if (state === "hidden") {
      channel.pause();
      view.setState("paused");
      probe.state = "paused";
      view.say("Paused \u2014 come back to this tab to continue");
    } else if (channel.paused) {
      view.say(null);
      view.setState("playing");
      probe.state = "playing";
      channel.resume();
    }
  };
  const onFocus = () => ctx.event("focus", { state: focusState(), episode: probe.episode, step: probe.step });
  document.addEventListener("visibilitychange", onVisibility);
  window.addEventListener("blur", onFocus);
  window.addEventListener("focus", onFocus);
  const hud = new Hud(view.hud, scene.hud);
  /** @type {import("./episode.js").EpisodeContext} */
  const episodeContext = {
    scene, ctx, channel, view, hud, input, renderer,
    setPlaying: (/** @type {boolean} */ now) => {
      playing = now;
      if (playing && scene.when_hidden === "pause" && focusState() === "hidden") onVisibility();
    },
  };
  try {
    for (; done < scene.episodes && !ctx.signal.aborted; done++) {
      const summary = await playEpisode(episodeContext, done);
      if (group?.groupEnded) break;
      if (summary.ended_by === "stopped") break; // the study moved to another tab
      memory.done = done + 1;
      if (scene.pause_after_episode_s > 0 && !ctx.signal.aborted) {
        view.setState("between");
        probe.state = "between";
        const last = done + 1 === scene.episodes;
        const score = group?.agentId != null ? (summary.returns?.[group.agentId] ?? summary.return) : summary.return;
        view.say(`Episode ${done + 1} of ${scene.episodes} finished \u00b7 Score ${formatScore(score)}` + (last ? "" : "\nThe next one starts soon."));
        await sleep(scene.pause_after_episode_s * 1000);
        view.say(null);
      }
    }
    view.setState("done");
    probe.state = "done";
    if (group?.groupEnded) {
      view.say("The game ended because another participant left.");
      return groupEnded();
    }
    return { status: "completed", episodes: done, error: null };
  } catch (error) {
    if (group?.groupEnded) return groupEnded();
    if (!(error instanceof GameError)) throw error;
    if (!error.recorded) {
      ctx.event("game_error", { stage: error.stage, episode: done, step: error.step, message: error.message, traceback: error.traceback });
    }
    probe.state = "error";
    view.say(null);
    await view.showError(
      "Sorry \u2014 the game stopped because of an error. Everything you did so far is saved. Please continue with the study.",
      error.message,
      [["Continue", "igContinue"]],
    );
    return { status: "error", episodes: done, error: error.message.slice(0, 1000) };
  } finally {
    document.removeEventListener("visibilitychange", onVisibility);
    window.removeEventListener("blur", onFocus);
    window.removeEventListener("focus", onFocus);
    input.detach();
    renderer.destroy();
    channel.destroy();
    view.destroy();
  }
}
