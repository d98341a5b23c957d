// @ts-check
/**
 * The page's socket to the server: authenticated with the participant's token and this tab's
 * id, refused while the study is open in another tab (unless this tab takes over), and
 * carrying the flow requests (`study:state`, `study:advance`, `study:complete`). The same
 * socket is shared with the Uploader.
 *
 * Flow requests are retried until the server answers, across reconnects: the server's handlers
 * are idempotent, so a request resent after a lost acknowledgement does no harm.
 * @module study/connection
 */

import { io } from "../data/socketio.js";

const TAB_KEY = "interactive-gym:tab";
/** The server's refusal while another tab of this participant is connected. */
export const SECOND_TAB = "second_tab";

/** @returns {string} this tab's id: kept across reloads of the tab, new in a new tab */
export function tabId() {
  try {
    let id = sessionStorage.getItem(TAB_KEY);
    if (!id) {
      const bytes = crypto.getRandomValues(new Uint8Array(12));
      id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      sessionStorage.setItem(TAB_KEY, id);
    }
    return id;
  } catch {
    return "no-session-storage";
  }
}

/** The connection was refused for good; `reason` is the server's. */
export class Refused extends Error {
  /** @param {string} reason  @param {any} [data] */
  constructor(reason, data) {
    super(reason);
    this.reason = reason;
    this.data = data;
  }
}

export class Connection extends EventTarget {
  /**
   * @param {string} token
   * @param {{timeoutMs?: number}} [options]
   */
  constructor(token, { timeoutMs = 10_000 } = {}) {
    super();
    this.timeoutMs = timeoutMs;
    /** The participant's token; renewed by the flow's answers. */
    this.token = token;
    this.takeover = false;
    this.stopped = false;
    const tab = tabId();
    this.socket = io({
      auth: (/** @type {Function} */ cb) => cb({ token: this.token, tab, takeover: this.takeover }),
      transports: ["websocket", "polling"],
      reconnectionDelayMax: 4000,
    });
    this.socket.on("connect", () => {
      this.takeover = false; // only the connection that took over asked for it
      this.dispatchEvent(new Event("online"));
    });
    this.socket.on("disconnect", () => this.dispatchEvent(new Event("offline")));
    this.socket.on("study:superseded", () => {
      this.stop();
      this.dispatchEvent(new Event("superseded"));
    });
    // The researcher reset this participant (their data so far is kept under another id).
    this.socket.on("participant:reset", () => {
      this.stop();
      this.dispatchEvent(new Event("reset"));
    });
  }

  /**
   * Resolves once connected; rejects with {@link Refused} when the server refuses this page
   * (another tab holds the study, the token is not valid).
   * @returns {Promise<void>}
   */
  connected() {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        this.socket.off("connect", onConnect);
        this.socket.off("connect_error", onError);
      };
      const onConnect = () => {
        done();
        resolve();
      };
      const onError = (/** @type {any} */ error) => {
        if (this.socket.active) return; // a network error: socket.io keeps retrying
        done();
        reject(new Refused(error.message, error.data));
      };
      this.socket.on("connect", onConnect);
      this.socket.on("connect_error", onError);
    });
  }

  /** Connect again, taking the study over from the other tab. */
  takeOver() {
    this.takeover = true;
    this.socket.connect();
    return this.connected();
  }

  /**
   * Send a flow request and wait for the server's answer, resending across reconnects.
   * @param {string} event
   * @param {any} [payload]
   * @returns {Promise<any>} the answer `{ok, ...}`
   */
  async request(event, payload) {
    for (;;) {
      if (this.stopped) throw new Refused("stopped");
      await this.connected();
      try {
        const timed = this.socket.timeout(this.timeoutMs);
        return await (payload === undefined ? timed.emitWithAck(event) : timed.emitWithAck(event, payload));
      } catch {
        // no answer in time (disconnected meanwhile): ask again
      }
    }
  }

  stop() {
    this.stopped = true;
    this.socket.disconnect();
  }
}
