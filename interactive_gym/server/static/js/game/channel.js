// @ts-check
/**
 * The seam between a game scene's page and wherever its environment runs.
 *
 * session.js and episode.js play a game through a {@link GameChannel} and read keys from an
 * {@link InputSource}; they never see the runtime:
 *
 * - runtime "browser": {@link WorkerChannel} (game/worker_channel.js) runs the env in a Pyodide
 *   worker on the participant's machine, ticks it with its own fixed-step loop and records
 *   every step and episode;
 * - runtime "server": {@link SocketChannel} (game/socket_channel.js) asks the server over the
 *   study socket; the server ticks the env and streams the frames, and writes the step and
 *   episode records itself; the page records the participant's key events ("input");
 * - runtime "browser" with several human agents (`scene.group`): {@link NetChannel}
 *   (game/net_channel.js) runs the env in every member's worker and exchanges the inputs over
 *   the study socket (rollback netcode); the server writes the step and episode records.
 *
 * A group game's channel (SocketChannel or NetChannel) is also a {@link GroupChannel}: the
 * member's own agent, the other members' states, and whether the group's game ended.
 *
 *   const channel = channelFor(scene, ctx);
 *   const game = await channel.load(onProgress);                   // GameInfo
 *   const first = await channel.startEpisode(episode, seed);       // {render, hud}
 *   const summary = await channel.play(episode, { onFrame, input }); // the episode record
 *   channel.destroy();
 * @module game/channel
 */

import { NetChannel } from "./net_channel.js";
import { SocketChannel } from "./socket_channel.js";
import { WorkerChannel } from "./worker_channel.js";

/** @typedef {import("../study/scene_api.js").SceneDescription} SceneDescription */
/** @typedef {import("../study/scene_api.js").SceneContext} SceneContext */

/** @typedef {{stage: string, message: string, fraction?: number}} Progress */

/**
 * What the game's setup answers (interactive_gym.runtime.game_host GameHost.describe()).
 * @typedef {{multiAgent: boolean, agents: string[], numActions: number | null,
 *   renderSize: [number, number] | null, hasRender: boolean}} GameInfo
 */

/**
 * The reset of an episode: its first frame, HUD text and the seed used.
 * @typedef {{render: any, hud: string | null, seed: number | null}} EpisodeStart
 */

/**
 * One step of an episode, handed to `onFrame` to be shown.
 * @typedef {object} GameFrame
 * @property {number} step        the step's index in the episode (0 for the first step)
 * @property {any} render         a draw list, an rgb frame, `{kind: "draw"|"image", ...}` or null
 * @property {string | null} hud  the env's HUD text
 * @property {any} reward         the step's reward (per agent in multi-agent games)
 * @property {number} score       the human agent's return so far, this step included
 * @property {boolean} done  @property {boolean} terminated  @property {boolean} truncated
 * @property {{workerMs: number, envMs: number | null, roundTripMs: number} | null} timing
 */

/**
 * How showing a frame went: `drawMs`/`drawnAt` (performance.now()) are null when the frame was
 * not drawn (an image decoded after a newer one was drawn), `error` is set when drawing failed.
 * @typedef {{drawMs: number | null, drawnAt: number | null, error: unknown}} Shown
 */

/**
 * The episode record's data (the same fields on both runtimes; docs/game.md).
 * @typedef {{seed: number | null, return: number, length: number, terminated: boolean,
 *   truncated: boolean, ended_by: string} & Record<string, any>} EpisodeSummary
 */

/**
 * The participant's keys. KeyInput (game/input.js) implements it.
 * @typedef {object} InputSource
 * @property {() => void} attach
 * @property {() => void} detach
 * @property {() => void} reset   forget presses and events so far (keys held stay held)
 * @property {() => import("./input.js").TickInput} take  the action for a tick, and the key
 *   events since the last take()
 * @property {(listener: (change: import("./input.js").InputChange) => void) => () => void} onChange
 *   hear every key change as it happens (event.t is the event's timeStamp); returns a remover
 */

/**
 * @typedef {object} PlayOptions
 * @property {(frame: GameFrame) => Shown | Promise<Shown>} onFrame  draw the frame, update the
 *   HUD; a promise when drawing waits for an image to decode (never awaited by the socket
 *   channel before the next frame)
 * @property {InputSource} input
 */

/**
 * A game scene's environment, wherever it runs.
 * @typedef {object} GameChannel
 * @property {"browser" | "server"} runtime
 * @property {(onProgress: (progress: Progress) => void) => Promise<GameInfo>} load
 *   load the game (or wait for the loading started by preloading); rejects with GameLoadError;
 *   calling it again after a failure tries again
 * @property {number} attempts         loads tried so far
 * @property {number | null} loadMs    how long the successful load took
 * @property {import("../PyodideWorker.js").LoadReport | null} pythonLoad  how the worker's
 *   Python started on that load (browser runtime; null on the server runtime)
 * @property {(episode: number, seed: number | null) => Promise<EpisodeStart>} startEpisode
 *   reset for an episode; rejects with GameError("reset")
 * @property {(episode: number) => void} abandon  the page could not show the episode's first
 *   frame: end the episode with ended_by "error" (the page then throws a GameError)
 * @property {(episode: number, options: PlayOptions) => Promise<EpisodeSummary>} play
 *   run the episode at the scene's fps until it ends; rejects with GameError
 * @property {boolean} paused
 * @property {() => void} pause   tab hidden (when_hidden "pause"): stop ticking
 * @property {() => void} resume
 * @property {(hidden: boolean) => void} setHidden  the tab was hidden or shown (whatever
 *   when_hidden says; with "continue" the game goes on with the default action, and its steps
 *   record focus "hidden")
 * @property {() => void} destroy  the scene is over
 */

/**
 * What a group game's channel tells the session (game/session.js) about the group.
 * @typedef {object} GroupChannel
 * @property {string | null} agentId  the agent this page plays (its score is shown)
 * @property {Record<string, string>} members  every human agent's member state
 * @property {{episode: number} | null} resumeAt  the group's episode under way when joined
 * @property {boolean} groupEnded  the group's game ended because a member left
 * @property {(member: import("./socket_channel.js").MemberState) => void} onMember  set by the
 *   session: hears every change of another member's state
 */

/**
 * The channel of a game scene: by `scene.runtime` ("browser" when absent) and `scene.group`.
 * @param {SceneDescription} scene  @param {SceneContext} ctx
 * @returns {GameChannel}
 */
export function channelFor(scene, ctx) {
  const runtime = scene.runtime ?? "browser";
  if (runtime === "server") return new SocketChannel(scene, ctx);
  if (runtime === "browser") return scene.group ? new NetChannel(scene, ctx) : new WorkerChannel(scene, ctx);
  throw new Error(`scene ${scene.scene_id}: unknown runtime ${JSON.stringify(runtime)}`);
}

/**
 * The channel as a {@link GroupChannel}, or null when it plays no group game.
 * @param {GameChannel} channel
 * @returns {(GameChannel & GroupChannel) | null}
 */
export function groupChannel(channel) {
  const c = /** @type {any} */ (channel);
  return typeof c.groupEnded === "boolean" && typeof c.onMember === "function" && c.scene?.group ? c : null;
}
