// @ts-check
/**
 * The server runtime's GameChannel (game/channel.js): the environment runs in the server's env
 * processes and is driven over the participant's study socket (interactive_gym/server/
 * server_games.py is the other half; events in docs/server-runtime.md):
 *
 *   load          → `game:open` {scene_id}                 (re-opening returns the game paused)
 *   startEpisode  → `game:episode` {scene_id, episode, attempt} → {seed, render, hud}
 *   play          → `game:play` {scene_id, episode}; the server ticks at the scene's fps and
 *                   emits `game:frame` per step, then `game:end` {summary} or `game:error`
 *   key changes   → `game:input` {scene_id, episode, seq, action, keys, t, type, key}
 *   pause/resume  → `game:pause` / `game:resume`;  destroy → `game:close`
 *
 * Frames are shown as they arrive; drawing never holds back the next frame (an image decoded
 * after a newer one was drawn is dropped by the renderer). The server writes the step and
 * episode records; the page records each key change as an "input" record {episode, step: the
 * step of the latest frame shown, data: {type, key, t, action, seq}}. After a reconnect during
 * the game the channel opens the game again and plays on.
 *
 * Group games (a scene with several human agents): `game:open` answers the member's own
 * `agent_id` (the channel's human: its score, its `input_seqs` entry), the `members`' states and,
 * when the game is under way, `resume`. `game:member` {agent_id, state, wait_s?} tells of the
 * other members (`onMember`); `game:end` with `reason: "member_left"` ends the group's game for
 * good (`groupEnded`: the scene's response is then `status: "group_ended"`).
 * @module game/socket_channel
 */

import { GameError, GameLoadError } from "./errors.js";
import { probe } from "./probe.js";
import { keyLabel } from "./input.js";
import { Returns } from "./record.js";

/** @typedef {import("../study/scene_api.js").SceneDescription} SceneDescription */
/** @typedef {import("../study/scene_api.js").SceneContext} SceneContext */
/** @typedef {import("./channel.js").GameChannel} GameChannel */
/** @typedef {import("./channel.js").GameInfo} GameInfo */
/** @typedef {import("./channel.js").PlayOptions} PlayOptions */
/** @typedef {import("./channel.js").EpisodeSummary} EpisodeSummary */
/** @typedef {import("./channel.js").Shown} Shown */
/** @typedef {import("./channel.js").Progress} Progress */
/** @typedef {import("./input.js").KeyEvent} KeyEvent */

/**
 * A member's state in a group game, as `game:member` tells it.
 * @typedef {{agent_id: string, state: "here" | "away" | "left" | "stand_in", wait_s?: number}} MemberState
 */

/** @param {number} ms */
const round = (ms) => Math.round(ms * 100) / 100;

const decoder = new TextDecoder();

/**
 * A `game:frame` message as the server packs it (`frame_message` in server/frames.py): a draw
 * list as `{scene_id, episode, step, text}`, `text` being one JSON text of the other fields
 * with the draw list under `draw` (one WebSocket message); an image as `{scene_id, episode,
 * step, meta, data}`, `meta` the JSON text (bytes) of the other fields and of the render's
 * description, `data` the image's bytes, both binary attachments.
 * @param {any} message
 * @returns {any} `{scene_id, episode, step, reward, terminated, truncated, maxStepsReached,
 *   done, hud, input_seq, tick_late_ms, render}`
 */
export function unpackFrame(message) {
  const ids = { scene_id: message?.scene_id, episode: message?.episode, step: message?.step };
  if (typeof message?.text === "string") {
    const { draw, ...fields } = JSON.parse(message.text);
    return { ...fields, ...ids, render: { kind: "draw", draw } };
  }
  const bytes = message?.meta;
  if (!(bytes instanceof ArrayBuffer || ArrayBuffer.isView(bytes))) {
    throw new TypeError("a game:frame message has neither text nor meta bytes");
  }
  const meta = JSON.parse(decoder.decode(bytes));
  const described = meta.render;
  const render = described && message.data != null ? { ...described, data: message.data } : described;
  return { ...meta, ...ids, render };
}

/** @param {number} ms  @param {string} message */
function timeout(ms, message) {
  /** @type {any} */ let timer;
  const promise = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  return { promise, cancel: () => clearTimeout(timer) };
}

/** The episode being played. */
class Play {
  /** @param {number} episode  @param {number | null} attempt  @param {number} fps */
  constructor(episode, attempt, fps) {
    this.episode = episode;
    /** The run's number in the records (the server's answer to game:episode). */
    this.attempt = attempt;
    this.intervalMs = 1000 / fps;
    /** The step of the latest frame shown (null: none yet). @type {number | null} */
    this.step = null;
    this.returns = new Returns();
    /** Key events sent that no frame has applied yet. @type {(KeyEvent & {seq: number})[]} */
    this.unapplied = [];
    /** @type {number | null} */ this.lastArrival = null;
    /** The probe's tick counts (late: tick_late_ms over a quarter interval). */
    this.stats = { ticks: 0, late: 0, dropped: 0 };
    /** The server acknowledged game:play. */
    this.started = false;
    /** End the play with this summary (the play's promise resolves). @type {(summary: Record<string, any>) => void} */
    this.finish = () => {};
  }
}

/** @implements {GameChannel} */
export class SocketChannel {
  /** @param {SceneDescription} scene  @param {SceneContext} ctx */
  constructor(scene, ctx) {
    /** @type {"server"} */ this.runtime = "server";
    this.scene = scene;
    this.ctx = ctx;
    if (!ctx.connection) throw new Error("the server runtime needs the page's connection (ctx.connection)");
    this.connection = ctx.connection;
    this.socket = ctx.connection.socket;
    this.attempts = 0;
    /** @type {number | null} */ this.loadMs = null;
    /** @type {import("../PyodideWorker.js").LoadReport | null} always null: the server runs the env */
    this.pythonLoad = null;
    /** @type {GameInfo | null} */ this.game = null;
    /** @type {Play | null} */ this.current = null;
    /** Sequence number of the latest input sent (increasing over the whole game). */
    this.seq = 0;
    /** @type {Map<number, number>} episode → the attempt the server records it under */
    this.runAttempts = new Map();
    /** The page asked for a pause (tab hidden). */
    this.pausedByPage = false;
    this.opened = false;
    this.destroyed = false;
    /** @type {string | null} group game: the agent this page plays (from game:open) */
    this.agentId = null;
    /** @type {Record<string, string>} group game: every human agent's state */
    this.members = {};
    /** @type {{episode: number, step: number} | null} where the game stood when opened */
    this.resumeAt = null;
    /** The group's game ended because a member left. */
    this.groupEnded = false;
    /** @type {(member: MemberState) => void} hears every change of another member's state */
    this.onMember = () => {};
    this._reconnected = () => this._reopen();
    this._member = (/** @type {any} */ m) => {
      if (m?.scene_id !== this.scene.scene_id || typeof m.agent_id !== "string") return;
      this.members[m.agent_id] = String(m.state);
      this.onMember(/** @type {MemberState} */ (m));
    };
    this._ended = (/** @type {any} */ m) => {
      if (m?.scene_id !== this.scene.scene_id || m.reason !== "member_left") return;
      this._endGroup(m.summary ?? null);
    };
  }

  /** The human agent whose score the page shows. */
  get human() {
    return this.agentId ?? this.scene.human ?? null;
  }

  /** @param {Record<string, any> | null} summary */
  _endGroup(summary) {
    this.groupEnded = true;
    const play = this.current;
    if (play) play.finish({ ...this._summary(play, "member_left"), ...(summary ?? {}) });
  }

  /** @param {any} answer  the game:open answer */
  _opened(answer) {
    if (typeof answer.agent_id === "string") this.agentId = answer.agent_id;
    if (answer.members && typeof answer.members === "object") this.members = { ...answer.members };
    this.resumeAt = answer.resume ?? null;
  }

  get paused() {
    return this.pausedByPage;
  }

  /**
   * Send a request and wait for its answer, asking again after a reconnect, for at most `ms`.
   * @param {string} event  @param {Record<string, any>} payload  @param {number} ms
   * @returns {Promise<any>}
   */
  async _ask(event, payload, ms) {
    const deadline = performance.now() + ms;
    const late = () => new Error(`${event}: the game server did not answer within ${Math.round(ms / 1000)} s`);
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) throw late();
      const limit = timeout(left, late().message);
      try {
        await Promise.race([this.connection.connected(), limit.promise]);
      } finally {
        limit.cancel();
      }
      try {
        return await this.socket.timeout(Math.max(1, deadline - performance.now())).emitWithAck(event, payload);
      } catch {
        if (this.socket.connected || performance.now() >= deadline) throw late();
        // disconnected before the answer came: ask again once connected
      }
    }
  }

  /** @param {string} event  @param {Record<string, any>} payload */
  _send(event, payload) {
    if (this.socket.connected) this.socket.emit(event, payload);
  }

  /** @param {(progress: Progress) => void} onProgress */
  async load(onProgress) {
    const sceneId = this.scene.scene_id;
    const stage = (/** @type {string} */ name, /** @type {string} */ message, /** @type {number} */ fraction) => {
      probe.loading(sceneId, name);
      onProgress({ stage: name, message, fraction });
    };
    this.attempts++;
    const started = performance.now();
    const onServerProgress = (/** @type {any} */ p) => {
      if (p?.scene_id === sceneId && typeof p.stage === "string") stage(p.stage, String(p.message ?? "Loading the game"), 0.2 + 0.75 * Number(p.fraction ?? 0));
    };
    this.socket.on("game:progress", onServerProgress);
    try {
      stage("environment", "Starting the game", 0.2);
      let answer;
      try {
        answer = await this._ask("game:open", { scene_id: sceneId }, this.scene.load_timeout_s * 1000);
      } catch (error) {
        throw new GameLoadError("environment", /** @type {Error} */ (error).message);
      }
      if (!answer?.ok && answer?.reason === "group_ended") {
        this.groupEnded = true;
        throw new GameLoadError("environment", String(answer.error ?? "the group's game is over"));
      }
      if (!answer?.ok) {
        const error = new GameLoadError(answer?.stage ?? "environment", String(answer?.error ?? "the server could not open the game"), String(answer?.traceback ?? answer?.reason ?? ""));
        probe.loading(sceneId, error.stage, error.message);
        throw error;
      }
      this.game = /** @type {GameInfo} */ (answer.game);
      this._opened(answer);
      this.opened = true;
      this.loadMs = performance.now() - started;
      stage("ready", "Ready", 1);
      this.socket.off("connect", this._reconnected);
      this.socket.on("connect", this._reconnected);
      if (this.scene.group) {
        this.socket.off("game:member", this._member);
        this.socket.on("game:member", this._member);
        this.socket.off("game:end", this._ended);
        this.socket.on("game:end", this._ended);
      }
      return this.game;
    } finally {
      this.socket.off("game:progress", onServerProgress);
    }
  }

  /** @param {number} episode  @param {number | null} seed  the server decides the seed */
  async startEpisode(episode, seed) {
    let answer;
    try {
      answer = await this._ask("game:episode", { scene_id: this.scene.scene_id, episode, attempt: this.ctx.attempt }, this.scene.step_timeout_s * 1000 + 10_000);
    } catch (error) {
      throw new GameError("reset", 0, error);
    }
    if (!answer?.ok && answer?.reason === "group_ended") this.groupEnded = true;
    if (!answer?.ok) throw new GameError("reset", 0, { message: answer?.error ?? "the server could not start the episode", traceback: answer?.traceback });
    if (Number.isInteger(answer.attempt)) this.runAttempts.set(episode, answer.attempt);
    return { render: answer.render ?? null, hud: answer.hud ?? null, seed: answer.seed ?? seed };
  }

  /** The server ends the episode when the game closes. @param {number} episode */
  abandon(episode) {}

  /**
   * @param {number} episode  @param {PlayOptions} options
   * @returns {Promise<EpisodeSummary>}
   */
  play(episode, { onFrame, input }) {
    const sceneId = this.scene.scene_id;
    const multiAgent = Boolean(this.game?.multiAgent);
    const play = new Play(episode, this.runAttempts.get(episode) ?? null, this.scene.fps);
    this.current = play;
    this.pausedByPage = false; // the session pauses a play that starts in a hidden tab
    return new Promise((resolve, reject) => {
      const mine = (/** @type {any} */ m) => m?.scene_id === sceneId && m?.episode === episode;
      /** @type {(() => void)[]} */
      const cleanups = [];
      const on = (/** @type {string} */ event, /** @type {(m: any) => void} */ handler) => {
        this.socket.on(event, handler);
        cleanups.push(() => this.socket.off(event, handler));
      };
      let settled = false;
      const end = () => {
        settled = true;
        for (const cleanup of cleanups) cleanup();
        probe.setLoop(null);
        if (this.current === play) this.current = null;
      };
      const fail = (/** @type {GameError} */ error) => {
        if (settled) return;
        end();
        reject(error);
      };
      /** @param {Record<string, any>} summary */
      const finish = (summary) => {
        if (settled) return;
        end();
        resolve(/** @type {EpisodeSummary} */ (summary));
      };
      play.finish = finish;

      probe.setLoop(play);
      on("game:frame", (/** @type {any} */ message) => {
        if (settled || !mine(message)) return;
        let f;
        try {
          f = unpackFrame(message);
        } catch (error) {
          fail(new GameError("render", message.step ?? 0, error));
          return;
        }
        this._frame(play, f, multiAgent, onFrame, input, fail);
      });
      on("game:end", (/** @type {any} */ m) => mine(m) && m.reason !== "member_left" && finish(m.summary ?? this._summary(play, "ended")));
      on("game:error", (/** @type {any} */ m) => {
        if (!mine(m)) return;
        const stage = ["load", "reset", "step"].includes(m.stage) ? m.stage : "step";
        fail(new GameError(stage, Number.isInteger(m.step) ? m.step : (play.step ?? -1) + 1, { message: m.message ?? "the game failed on the server", traceback: m.traceback, recorded: true }));
      });
      const onAbort = () => finish(this._summary(play, "stopped"));
      this.ctx.signal.addEventListener("abort", onAbort);
      cleanups.push(() => this.ctx.signal.removeEventListener("abort", onAbort));
      cleanups.push(input.onChange((change) => this._input(play, change)));

      // Keys held through the countdown count from the first step.
      const held = input.take();
      if (held.keys) this._sendInput(play, held.action, held.keys, null);
      this._ask("game:play", { scene_id: sceneId, episode }, 15_000).then(
        (answer) => {
          if (!answer?.ok) {
            fail(new GameError("step", 0, { message: answer?.error ?? "the server did not start the episode" }));
            return;
          }
          play.started = true;
          if (this.pausedByPage) this._send("game:pause", { scene_id: sceneId });
        },
        (error) => fail(new GameError("step", 0, error)),
      );
    });
  }

  /**
   * A frame from the server: shown at once, its probe entry filled when it is drawn.
   * @param {Play} play  @param {any} f  @param {boolean} multiAgent
   * @param {PlayOptions["onFrame"]} onFrame  @param {PlayOptions["input"]} input
   * @param {(error: GameError) => void} fail
   */
  _frame(play, f, multiAgent, onFrame, input, fail) {
    const step = Number(f.step);
    if (play.step !== null && step <= play.step) return; // sent again after a resume
    const arrival = performance.now();
    play.step = step;
    play.returns.add(f.reward, this.human, multiAgent);
    input.reset(); // the key events went to the server as they happened
    const lateMs = Number(f.tick_late_ms) || 0;
    const dropped = Number(f.dropped_ticks) || 0;
    play.stats.ticks++;
    play.stats.dropped += dropped;
    if (lateMs > play.intervalMs / 4) play.stats.late++;
    const ownSeq = this.agentId !== null ? f.input_seqs?.[this.agentId] : f.input_seq;
    const inputSeq = Number.isInteger(ownSeq) ? ownSeq : null;
    const applied = inputSeq === null ? play.unapplied.length : play.unapplied.findIndex((e) => e.seq > inputSeq);
    const keyEvents = play.unapplied.splice(0, applied < 0 ? play.unapplied.length : applied).map(({ type, key, t }) => ({ type, key, t }));
    /** @type {import("./probe.js").Frame} */
    const entry = {
      episode: play.episode, step, slot: step, target: arrival - lateMs, start: arrival, lateMs, dropped,
      intervalMs: play.lastArrival === null ? null : arrival - play.lastArrival,
      workerMs: f.timing?.worker_ms ?? null, envMs: f.timing?.env_ms ?? null, policyMs: f.policy_ms ?? null,
      roundTripMs: null, drawMs: null, drawnAt: null, paintedAt: null, keyEvents, runtime: "server", inputSeq,
    };
    play.lastArrival = arrival;
    /** @type {Shown | Promise<Shown>} */
    let shown;
    try {
      shown = onFrame({
        step,
        render: f.render ?? null,
        hud: f.hud ?? null,
        reward: f.reward,
        score: play.returns.score,
        done: Boolean(f.done),
        terminated: Boolean(f.terminated),
        truncated: Boolean(f.truncated),
        timing: null,
      });
    } catch (error) {
      shown = { drawMs: null, drawnAt: null, error };
    }
    const checked = Promise.resolve(shown).then((s) => {
      if (s.error) fail(new GameError("render", step, s.error));
      return s;
    });
    if (shown instanceof Promise) probe.frame(entry, checked);
    else {
      Object.assign(entry, { drawMs: shown.drawMs, drawnAt: shown.drawnAt });
      probe.frame(entry);
    }
  }

  /**
   * A key change: to the server at once, and recorded.
   * @param {Play} play  @param {import("./input.js").InputChange} change
   */
  _input(play, { action, keys, event }) {
    const seq = this._sendInput(play, action, keys, event);
    play.unapplied.push({ ...event, seq });
    this.ctx.record("input", {
      episode: play.episode,
      ...(play.attempt !== null ? { attempt: play.attempt } : {}),
      step: play.step,
      data: { type: event.type, key: keyLabel(event.key), t: round(event.t), action, seq },
    });
  }

  /**
   * @param {Play} play  @param {any} action  @param {string} keys  @param {KeyEvent | null} event
   * @returns {number} the input's seq
   */
  _sendInput(play, action, keys, event) {
    const seq = ++this.seq;
    const t = round(event?.t ?? performance.now());
    const what = event ? { type: event.type, key: keyLabel(event.key) } : {};
    this._send("game:input", { scene_id: this.scene.scene_id, episode: play.episode, seq, action, keys, t, ...what });
    return seq;
  }

  /**
   * A summary for an episode the server could not report (stopped here, or ended while the
   * page was away).
   * @param {Play} play  @param {string} endedBy
   */
  _summary(play, endedBy) {
    return { seed: null, return: play.returns.score, length: (play.step ?? -1) + 1, terminated: false, truncated: false, ended_by: endedBy };
  }

  /** After a reconnect: open the game again; the episode in play goes on (or ended meanwhile). */
  async _reopen() {
    if (this.destroyed || !this.opened) return;
    const sceneId = this.scene.scene_id;
    let answer;
    try {
      answer = await this._ask("game:open", { scene_id: sceneId }, this.scene.load_timeout_s * 1000);
    } catch {
      return; // disconnected again: the next connect tries again
    }
    if (answer?.ok) this._opened(answer);
    const play = this.current;
    if (!play || this.destroyed) return;
    if (answer?.reason === "group_ended" || answer?.reason === "left_group") {
      this._endGroup(null);
      return;
    }
    if (!answer?.ok || answer.resume?.episode !== play.episode) {
      play.finish(this._summary(play, "disconnected")); // the server ended it while the page was away
      return;
    }
    if (play.started) {
      this._send("game:play", { scene_id: sceneId, episode: play.episode });
      if (this.pausedByPage) this._send("game:pause", { scene_id: sceneId });
    }
  }

  pause() {
    this.pausedByPage = true;
    if (this.current?.started) this._send("game:pause", { scene_id: this.scene.scene_id });
  }

  resume() {
    if (!this.pausedByPage) return;
    this.pausedByPage = false;
    if (this.current?.started) this._send("game:resume", { scene_id: this.scene.scene_id });
  }

  /**
   * With when_hidden "continue" the server keeps stepping a hidden tab's game with the default
   * action and records its steps as hidden; it learns of it by `game:pause`/`game:resume` too.
   * @param {boolean} hidden
   */
  setHidden(hidden) {
    if (this.scene.when_hidden !== "continue" || !this.current?.started) return;
    this._send(hidden ? "game:pause" : "game:resume", { scene_id: this.scene.scene_id });
  }

  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    const play = this.current;
    if (play) play.finish(this._summary(play, "stopped"));
    this.socket.off("connect", this._reconnected);
    this.socket.off("game:member", this._member);
    this.socket.off("game:end", this._ended);
    if (this.opened) this._send("game:close", { scene_id: this.scene.scene_id });
  }
}
