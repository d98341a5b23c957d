// @ts-check
/**
 * The console's socket to the `/admin` namespace (interactive_gym/admin/hub.py): the server
 * pushes `overview`, `games` and, for the participant named in the last `watch`, `participant`.
 * Authenticated by the session cookie plus `auth: {csrf}`; the server refuses anything else.
 *
 * socket.io reconnects by itself after network trouble. The server says `session_ended` before
 * it drops a socket whose session expired or was logged out. When the server refuses or ends
 * the connection otherwise, socket.io gives up, so the console asks the API whether the session
 * still holds: a 401 means it is gone (the console shows the way back to the login page);
 * otherwise it connects again, backing off up to 30 s.
 *
 * Each push sets `document.body.dataset.lastPush` (Unix milliseconds) and is re-dispatched as
 * an event of the same name whose `detail` is the payload.
 * @module admin/live
 */

import { io } from "/vendor/socket.io-client@4.8.4/dist/socket.io.esm.min.js";

import { ApiError, getJson, onExpired, sessionExpired } from "./api.js";
import { ago, clock } from "./format.js";
import { apiUrl } from "./query.js";
import { liveState } from "./shape.js";

/** The messages the server pushes. */
export const PUSHES = ["overview", "games", "participant"];
/** No push for this long while connected reads "stale" (the server pushes at least every 10 s). */
export const STALE_MS = 15_000;

export class Live extends EventTarget {
  /** @param {string} csrf */
  constructor(csrf) {
    super();
    /** @type {string | null} */
    this.watching = null;
    /** @type {number | null} */
    this.lastPushAt = null;
    /** @type {number | null} */
    this.connectedAt = null;
    this.everConnected = false;
    this.expired = false;
    this.showingGames = false;
    this.retryMs = 3000;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.retryTimer = null;
    this.socket = io("/admin", {
      auth: { csrf },
      path: "/socket.io",
      transports: ["websocket", "polling"],
      reconnectionDelayMax: 5000,
    });
    this.socket.on("connect", () => {
      this.everConnected = true;
      this.connectedAt = Date.now();
      this.retryMs = 3000;
      if (this.watching !== null) this.socket.emit("watch", { participant_id: this.watching });
      if (this.showingGames) this.socket.emit("view", { games: true });
      this.changed();
    });
    this.socket.on("disconnect", (reason) => {
      this.changed();
      if (reason === "io server disconnect") this.probe();
    });
    this.socket.on("connect_error", () => {
      this.changed();
      if (!this.socket.active) this.probe(); // refused by the server: socket.io gives up
    });
    // The server ends a socket whose session expired or was logged out (then disconnects).
    this.socket.on("session_ended", () => sessionExpired());
    for (const name of PUSHES) {
      this.socket.on(name, (/** @type {unknown} */ payload) => this.pushed(name, payload));
    }
    onExpired(() => this.stop());
  }

  /** @param {string} name  @param {unknown} payload */
  pushed(name, payload) {
    this.lastPushAt = Date.now();
    document.body.dataset.lastPush = String(this.lastPushAt);
    this.dispatchEvent(new CustomEvent(name, { detail: payload }));
    this.changed();
  }

  /** Ask for `participant` pushes about this participant (null: none). @param {string | null} participantId */
  watch(participantId) {
    this.watching = participantId;
    if (this.socket.connected) this.socket.emit("watch", { participant_id: participantId });
  }

  /** Ask for `games` pushes (only while the Games tab is shown: they cost the server). @param {boolean} shown */
  showGames(shown) {
    if (shown === this.showingGames) return;
    this.showingGames = shown;
    if (this.socket.connected) this.socket.emit("view", { games: shown });
  }

  /** The server refused or dropped the socket: is the session still good? */
  async probe() {
    if (this.expired || this.retryTimer !== null) return;
    try {
      const overview = await getJson(apiUrl("overview"));
      this.dispatchEvent(new CustomEvent("overview", { detail: overview }));
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return; // stop() already ran
    }
    if (this.expired) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.socket.connected && !this.expired) this.socket.connect();
    }, this.retryMs);
    this.retryMs = Math.min(30_000, this.retryMs * 2);
  }

  /** The session is gone: stop connecting. */
  stop() {
    this.expired = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.socket.disconnect();
    this.changed();
  }

  changed() {
    this.dispatchEvent(new Event("status"));
  }

  /** @param {number} now  @returns {import("./shape.js").LiveStateName} */
  state(now) {
    return liveState({
      connected: this.socket.connected,
      everConnected: this.everConnected,
      expired: this.expired,
      lastPushAt: this.lastPushAt ?? this.connectedAt,
      now,
      staleMs: STALE_MS,
    });
  }

  /**
   * Write the live indicator into `node` (its `data-state` is the state's name).
   * @param {HTMLElement} node
   * @param {number} now
   */
  render(node, now) {
    const state = this.state(now);
    const last = this.lastPushAt === null ? "no push yet" : `last push ${clock(this.lastPushAt)} (${ago(this.lastPushAt, now)})`;
    const words = {
      connecting: "connecting…",
      live: `live · ${last}`,
      stale: `stale · ${last}`,
      disconnected: `disconnected, reconnecting… · ${last}`,
      expired: "session expired",
    };
    node.dataset.state = state;
    node.textContent = words[state];
    node.title = this.lastPushAt === null ? "" : new Date(this.lastPushAt).toISOString();
  }
}
