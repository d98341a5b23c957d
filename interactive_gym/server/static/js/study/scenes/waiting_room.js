// @ts-check
/**
 * WaitingRoom in the browser: the participant waits until the server has formed their group
 * (server half: interactive_gym/server/waiting_rooms.py). The page joins the room with
 * `room:join` (again after every reconnect: the server keeps the arrival time), tells the
 * server the participant is there (`room:here`, on activity at most every 5 s, and as the
 * answer to "Are you still there?"), and shows how long they waited and how many more
 * participants are needed. When the group is complete the tab calls the participant back
 * (attention.js), counts down, and resolves with `{outcome: "matched", group_id}`; when the
 * wait ends without a group, with `{outcome, group_id}` (`"timeout"`, `"not_present"`, or
 * `"stand_in"` with the id of the group of one the participant plays with AI partners).
 * The server records everything about the wait; the page records only that it was shown.
 * @module study/scenes/waiting_room
 */

import { callAttention } from "../attention.js";

/** @typedef {import("../scene_api.js").SceneDescription} SceneDescription */
/** @typedef {import("../scene_api.js").SceneContext} SceneContext */
/** @typedef {{outcome: string, group_id: string | null}} RoomResponse */

/** At most one `room:here` for activity per this many ms. */
const HERE_EVERY_MS = 5000;
/** Wait before asking again after the server could not answer. */
const RETRY_MS = 2000;

/** @param {number} seconds */
function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** @param {number} needed */
function neededText(needed) {
  if (needed <= 0) return "Waiting for your group to form\u2026";
  return `Waiting for ${needed} more participant${needed === 1 ? "" : "s"}\u2026`;
}

/**
 * @param {string} tag  @param {string} className  @param {string} [text]
 * @returns {HTMLElement}
 */
function element(tag, className, text = "") {
  const el = document.createElement(tag);
  el.className = className;
  el.textContent = text;
  return el;
}

/**
 * @param {SceneDescription} scene  {title, message, show_count, group_size, timeout_s,
 *   presence_after_s, presence_answer_s, countdown_s}
 * @param {SceneContext} ctx
 * @returns {Promise<RoomResponse>}
 */
export function run(scene, ctx) {
  const connection = ctx.connection;
  if (!connection) return Promise.reject(new Error("a waiting room needs the connection to the server"));
  const socket = connection.socket;
  const sceneId = scene.scene_id;
  const root = ctx.root;

  const box = element("div", "ig-waiting-room");
  box.dataset.igRoom = sceneId;
  if (scene.title) box.append(element("h1", "", scene.title));
  const content = element("div", "ig-content");
  content.innerHTML = scene.message; // trusted: written by the researcher in the study file
  const waited = element("p", "ig-note", "Waited 0:00");
  waited.dataset.igWaited = "";
  const count = element("p", "ig-note", scene.show_count ? neededText(Number(scene.group_size ?? 2) - 1) : "");
  count.dataset.igCount = "";
  count.hidden = !scene.show_count;
  const prompt = element("div", "ig-presence");
  prompt.hidden = true;
  const question = element("p", "ig-error", "Are you still there?");
  const here = /** @type {HTMLButtonElement} */ (element("button", "ig-continue", "Yes, I am here"));
  here.type = "button";
  here.dataset.igHere = "";
  prompt.append(question, here);
  const starting = element("p", "ig-note");
  starting.dataset.igCountdown = "";
  starting.hidden = true;
  box.append(content, waited, count, prompt, starting);
  root.append(box);
  ctx.event("room_shown", { group_size: scene.group_size ?? null, timeout_s: scene.timeout_s });

  /** Where the waited time stands: the server's count at `since` (performance.now()). */
  let waitedBase = 0;
  let since = performance.now();
  const showWaited = () => (waited.textContent = `Waited ${clock(waitedBase + (performance.now() - since) / 1000)}`);
  /** @param {any} message */
  const showStatus = (message) => {
    if (typeof message?.waited_s === "number") {
      waitedBase = message.waited_s;
      since = performance.now();
      showWaited();
    }
    if (scene.show_count && typeof message?.needed === "number") count.textContent = neededText(message.needed);
  };
  const ticker = setInterval(showWaited, 1000);

  let lastHere = 0;
  /** @param {boolean} [now]  answer a prompt at once; activity at most every 5 s */
  const sayHere = (now = false) => {
    const t = performance.now();
    if (!now && t - lastHere < HERE_EVERY_MS) return;
    lastHere = t;
    if (socket.connected) socket.emit("room:here", { scene_id: sceneId });
  };
  const onActivity = () => sayHere();
  const onVisibility = () => {
    if (document.visibilityState === "visible") sayHere();
  };
  here.addEventListener("click", () => {
    prompt.hidden = true;
    sayHere(true);
  });

  return new Promise((resolve, reject) => {
    let done = false;
    const cleanup = () => {
      done = true;
      clearInterval(ticker);
      socket.off("connect", join);
      socket.off("room:status", onStatus);
      socket.off("room:presence", onPresence);
      socket.off("room:matched", onMatched);
      socket.off("room:timeout", onTimeout);
      document.removeEventListener("pointerdown", onActivity);
      document.removeEventListener("pointermove", onActivity);
      document.removeEventListener("keydown", onActivity);
      document.removeEventListener("visibilitychange", onVisibility);
    };
    /** @param {any} message */
    const mine = (message) => !done && message?.scene_id === sceneId;

    /** @param {string} groupId  @param {number} countdownS */
    const matched = async (groupId, countdownS) => {
      cleanup();
      prompt.hidden = true;
      count.hidden = true;
      waited.hidden = true;
      starting.hidden = false;
      callAttention("Your group is ready!");
      for (let left = Math.max(0, Math.round(countdownS)); left > 0; left--) {
        starting.textContent = `Your group is complete. Starting in ${left}\u2026`;
        await new Promise((r) => setTimeout(r, 1000));
      }
      starting.textContent = "Your group is complete. Starting\u2026";
      resolve({ outcome: "matched", group_id: groupId });
    };
    /** @param {string} outcome  @param {string | null} groupId */
    const ended = (outcome, groupId) => {
      cleanup();
      prompt.hidden = true;
      if (outcome === "stand_in") callAttention("Your game is starting");
      resolve({ outcome, group_id: groupId });
    };
    /** @param {any} outcome  `{kind, group_id, agent_id, countdown_s}` of a join's answer */
    const settle = (outcome) => {
      if (outcome.kind === "matched") matched(outcome.group_id, Number(outcome.countdown_s ?? scene.countdown_s ?? 0));
      else ended(String(outcome.kind), outcome.group_id ?? null);
    };

    /** @param {any} message */
    const onStatus = (message) => {
      if (mine(message)) showStatus(message);
    };
    /** @param {any} message */
    const onPresence = (message) => {
      if (!mine(message)) return;
      prompt.hidden = false;
      callAttention("Are you still there?");
    };
    /** @param {any} message */
    const onMatched = (message) => {
      if (mine(message)) matched(String(message.group_id), Number(message.countdown_s ?? scene.countdown_s ?? 0));
    };
    /** @param {any} message */
    const onTimeout = (message) => {
      if (mine(message)) ended(String(message.outcome), message.group_id ?? null);
    };

    const join = async () => {
      while (!done) {
        let answer;
        try {
          answer = await connection.request("room:join", { scene_id: sceneId });
        } catch (error) {
          cleanup();
          reject(error); // the page stopped (study opened elsewhere)
          return;
        }
        if (done) return;
        if (answer?.ok) {
          if (answer.outcome) settle(answer.outcome);
          else showStatus(answer);
          return;
        }
        if (answer?.reason !== "internal") {
          cleanup();
          reject(new Error(`The waiting room could not be joined: ${answer?.error ?? "no answer"}`));
          return;
        }
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    };

    ctx.signal.addEventListener("abort", cleanup, { once: true });
    socket.on("room:status", onStatus);
    socket.on("room:presence", onPresence);
    socket.on("room:matched", onMatched);
    socket.on("room:timeout", onTimeout);
    socket.on("connect", join); // after a reconnect: the server keeps the arrival time
    document.addEventListener("pointerdown", onActivity);
    document.addEventListener("pointermove", onActivity, { passive: true });
    document.addEventListener("keydown", onActivity);
    document.addEventListener("visibilitychange", onVisibility);
    join();
  });
}

/**
 * A simulated participant: waits, and answers "Are you still there?" when asked.
 * @param {SceneDescription} scene
 * @param {SceneContext} ctx
 */
export async function bot(scene, ctx) {
  const selector = `[data-ig-room="${CSS.escape(scene.scene_id)}"]`;
  while (!ctx.signal.aborted && ctx.root.querySelector(selector)) {
    const button = /** @type {HTMLButtonElement | null} */ (ctx.root.querySelector(`${selector} [data-ig-here]`));
    const prompt = button?.parentElement;
    if (button && prompt && !prompt.hidden) {
      await ctx.pause();
      button.click();
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
