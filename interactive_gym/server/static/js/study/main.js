// @ts-check
/**
 * The study page: starts the study (`POST /api/start` with the page's URL parameters: the
 * server finds or creates the participant of this browser and hands back their token),
 * connects, asks the server where the participant is, and runs the scenes of their path one
 * after the other from there (so a reload, a closed tab or a new tab resumes at the current
 * scene). A refused start (the study was started in another browser, too many starts from
 * one network) shows the server's message. Each scene's module comes from its description
 * (`scene.module`); see scene_api.js for the interface. After a scene its records are drained (acknowledged by the
 * server) before the server is told to advance, so no scene is left with records in the air.
 *
 * `?bot=random` makes the page a simulated participant: each scene module's `bot()` acts on
 * the page through the same inputs a person uses. `?bot_pause_ms=N` sets its mean pause.
 * @module study/main
 */

import { Uploader } from "../data/uploader.js";
import { Connection, Refused, SECOND_TAB } from "./connection.js";
import { showCompletion } from "./scenes/end.js";
import { Status } from "./status.js";

/** @typedef {import("./scene_api.js").SceneDescription} SceneDescription */
/** @typedef {import("./scene_api.js").SceneContext} SceneContext */
/** @typedef {import("./scene_api.js").SceneModule} SceneModule */

const root = /** @type {HTMLElement} */ (document.getElementById("ig-scene"));
const params = new URLSearchParams(window.location.search);
const botMode = params.get("bot");
const botPauseMs = Number(params.get("bot_pause_ms") ?? 150);
const status = new Status(null);
const stopped = new AbortController();
/** The participant this page runs the study for, once started. */
const boot = { token: "", participantId: "" };

/** The start was refused; `message` is the server's explanation for the participant. */
class StartRefused extends Error {
  /** @param {string} reason  @param {string} message */
  constructor(reason, message) {
    super(message);
    this.reason = reason;
  }
}

/**
 * Start (or resume) the study in this browser: the server answers with the participant's
 * token. Network failures are retried; a refusal is final.
 * @returns {Promise<{token: string, participant_id: string, status: string}>}
 */
async function start() {
  const body = JSON.stringify({ params: Object.fromEntries(params) });
  for (let delay = 500; ; delay = Math.min(delay * 2, 8000)) {
    let response;
    try {
      response = await fetch("/api/start", { method: "POST", headers: { "content-type": "application/json" }, body, credentials: "same-origin" });
    } catch {
      status.say("Cannot reach the study server \u2014 retrying\u2026");
      await new Promise((resolve) => setTimeout(resolve, delay));
      continue;
    }
    const answer = await response.json().catch(() => ({ ok: false, error: "server", message: `The study server answered ${response.status}.` }));
    if (answer.ok) {
      status.say("");
      return answer;
    }
    if (response.status >= 500) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      continue;
    }
    throw new StartRefused(answer.error, answer.message ?? answer.error);
  }
}

/** @type {Map<string, Promise<SceneModule>>} */
const modules = new Map();
/** @param {string} url  @returns {Promise<SceneModule>} */
function loadModule(url) {
  if (!modules.has(url)) modules.set(url, import(url));
  return /** @type {Promise<SceneModule>} */ (modules.get(url));
}

/**
 * Replace the page with a message (and optionally buttons).
 * @param {string} text  @param {{error?: boolean, actions?: [string, () => void][]}} [options]
 */
function showMessage(text, { error = false, actions = [] } = {}) {
  const p = document.createElement("p");
  p.id = "ig-message";
  p.className = error ? "ig-error" : "ig-note";
  p.textContent = text;
  root.replaceChildren(p);
  for (const [label, action] of actions) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "ig-continue";
    button.textContent = label;
    button.addEventListener("click", action, { once: true });
    root.append(button);
  }
}

/** @param {string} message */
function fatal(message) {
  status.fail(message);
  status.say("");
  showMessage(message, { error: true, actions: [["Reload the page", () => window.location.reload()]] });
}

/**
 * The attempt number of a scene in this browser: 1 the first time it starts, then 2, ...
 * @param {string} sceneId
 */
function nextAttempt(sceneId) {
  const key = `interactive-gym:attempt:${boot.participantId}:${sceneId}`;
  try {
    const attempt = Number(localStorage.getItem(key) ?? 0) + 1;
    localStorage.setItem(key, String(attempt));
    return attempt;
  } catch {
    return 1;
  }
}

/** A bot's human-like pause: around `bot_pause_ms`. */
function pause() {
  return new Promise((resolve) => setTimeout(resolve, botPauseMs * (0.5 + Math.random())));
}

/**
 * Connect; when another tab holds the study, offer to take over (a bot gives up).
 * @param {Connection} connection
 */
async function connect(connection) {
  try {
    await connection.connected();
  } catch (error) {
    if (!(error instanceof Refused) || error.reason !== SECOND_TAB || botMode) throw error;
    status.fail(SECOND_TAB);
    await new Promise((resolve, reject) => {
      showMessage(error.data?.message ?? "This study is already open in another tab.", {
        actions: [["Use this tab instead", () => connection.takeOver().then(resolve, reject)]],
      });
    });
    status.error = null;
  }
}

/**
 * @param {Connection} connection  @param {Uploader} uploader
 * @param {SceneDescription} scene  @param {number} index  @param {number} count
 * @returns {SceneContext}
 */
function sceneContext(connection, uploader, scene, index, count) {
  const attempt = nextAttempt(scene.scene_id);
  /** @type {SceneContext["record"]} */
  const record = (kind, fields) => uploader.add({ ...fields, kind, scene_id: scene.scene_id, attempt: fields.attempt ?? attempt });
  return {
    root,
    participantId: boot.participantId,
    index,
    count,
    attempt,
    bot: botMode !== null,
    signal: stopped.signal,
    record,
    event: (type, data = {}) => record("event", { data: { type, ...data } }),
    setStatus: ({ episode = status.episode, step = status.step }) => Object.assign(status, { episode, step }),
    drain: async () => {
      if (uploader.pendingUploads > 0) status.say("Saving your responses\u2026");
      await uploader.drain();
      status.say("");
    },
    complete: async () => {
      const answer = await connection.request("study:complete", { scene_id: scene.scene_id });
      if (!answer.ok) throw new Error(answer.error);
      return { completion_code: answer.completion_code, redirect_url: answer.redirect_url };
    },
    pause,
    connection,
  };
}

async function main() {
  if (botMode !== null && botMode !== "random") throw new Error(`Unknown bot mode ${JSON.stringify(botMode)}: use ?bot=random`);
  const started = await start();
  boot.token = started.token;
  boot.participantId = started.participant_id;
  status.participantId = started.participant_id;
  const connection = new Connection(boot.token);
  /** @type {Uploader | null} */
  let uploader = null;
  /** Every answer with a token renews the page's: tokens expire, a page in use does not. */
  const renew = (/** @type {any} */ answer) => {
    if (typeof answer?.token !== "string") return;
    boot.token = answer.token;
    connection.token = answer.token;
    if (uploader) uploader.token = answer.token;
  };
  connection.addEventListener("offline", () => {
    if (!connection.stopped) status.say("Connection lost \u2014 reconnecting. Your progress is kept.");
  });
  connection.addEventListener("online", () => status.say(""));
  connection.addEventListener("superseded", () => {
    stopped.abort();
    status.fail("superseded");
    showMessage("This study continued in another tab or window. You can close this one.");
  });
  connection.addEventListener("reset", async () => {
    stopped.abort();
    status.fail("reset");
    // What this run had not uploaded yet belongs to the run the researcher set aside.
    await uploader?.discard();
    showMessage("The researcher has reset your participation. Reload this page to start the study again.");
  });
  await connect(connection);
  let state = await connection.request("study:state");
  if (!state.ok) throw new Error(state.error);
  renew(state);
  /** @type {SceneDescription[]} */
  let scenes = state.scenes;
  const last = scenes[scenes.length - 1];
  if (state.status === "completed") {
    status.enter(last, state.count - 1, state.count);
    showCompletion(root, last.message, state.completion, last.redirect_delay_s, { redirect: botMode === null });
    status.finish();
    return;
  }
  const uploads = new Uploader({ token: boot.token, participantId: boot.participantId, socket: connection.socket });
  uploader = uploads;
  status.uploads = uploads;
  uploads.addEventListener("error", (e) => {
    // Records the server refused for good are lost: stop the study now and say why, rather than
    // let the participant go on until the next drain fails. (No records: a refused connection.)
    const { reason, records } = /** @type {CustomEvent} */ (e).detail;
    if (!records.length || stopped.signal.aborted) return;
    stopped.abort();
    const what = records.length === 1 ? "1 record" : `${records.length} records`;
    fatal(`Your responses could not be saved: the server refused ${what} (${reason}).`);
  });
  const preloadContext = { participantId: boot.participantId, bot: botMode !== null, signal: stopped.signal };
  const preload = (/** @type {SceneDescription[]} */ list) => {
    for (const scene of list) {
      loadModule(scene.module)
        .then((m) => m.preload?.(scene, /** @type {any} */ (preloadContext)))
        .catch((error) => console.error(`preloading ${scene.scene_id}:`, error)); // run() reports it
    }
  };
  preload(scenes.slice(state.index));
  for (let index = state.index; index < scenes.length && !stopped.signal.aborted; index++) {
    const scene = scenes[index];
    const module = await loadModule(scene.module);
    status.enter(scene, index, state.count);
    root.replaceChildren();
    const ctx = sceneContext(connection, uploads, scene, index, state.count);
    ctx.event("scene_start", { index, scene_type: scene.scene_type, attempt: ctx.attempt, bot: botMode });
    const running = module.run(scene, ctx);
    if (botMode) module.bot?.(scene, ctx).catch((error) => console.error("bot:", error));
    const response = await running;
    if (scene.scene_type === "end") break; // the end scene: completed, code shown
    ctx.event("scene_end", { index });
    await ctx.drain();
    const answer = await connection.request("study:advance", { scene_id: scene.scene_id, response, attempt: ctx.attempt });
    if (!answer.ok) throw new Error(`The server did not accept this page: ${answer.error}`);
    renew(answer);
    if (answer.path_changed) {
      // A condition was assigned on reaching it: the path goes on with that condition's scenes.
      state = await connection.request("study:state");
      if (!state.ok) throw new Error(state.error);
      scenes = state.scenes;
      preload(scenes.slice(state.index));
    }
    // Usually the next scene; further when scenes were skipped (group scenes without a group).
    if (Number.isInteger(answer.index) && answer.index > index) index = answer.index - 1;
  }
  if (!stopped.signal.aborted) status.finish();
}

main().catch((error) => {
  if (stopped.signal.aborted) return;
  if (error instanceof StartRefused) {
    status.fail(`${error.reason}: ${error.message}`);
    showMessage(error.message, { error: true });
    return;
  }
  console.error(error);
  const reason = error instanceof Refused ? `The study could not be opened (${error.reason}).` : String(error.message ?? error);
  fatal(reason);
});
