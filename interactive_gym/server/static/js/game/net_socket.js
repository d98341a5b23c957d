// @ts-check
/**
 * The `net:*` messages of a browser group game on the study socket (game/net_channel.js uses
 * them; the server half is interactive_gym/server/net_games.py, events in docs/netcode.md):
 *
 *   page → server, answered:   net:join {scene_id}, net:episode {scene_id, episode},
 *                              net:play {scene_id, episode}
 *   page → server, no answer:  net:input {...}, net:state {...}, net:focus {scene_id, hidden},
 *                              net:leave {scene_id}
 *   server → page:             net:inputs, net:load, net:state_request, net:end,
 *                              net:episode_end, game:member
 *
 * Answered requests are asked again after a reconnect, until their deadline. Messages without
 * an answer are dropped while the socket is disconnected (the next tick sends the inputs again).
 * @module game/net_socket
 */

/**
 * The largest snapshot (JSON text) a page sends for a repair or a rejoin: under engine.io's
 * 1 MB message limit (interactive_gym/server/net_messages.py MAX_SNAPSHOT_CHARS).
 */
export const MAX_SNAPSHOT_CHARS = 900_000;

/** @param {number} ms  @param {string} message */
function timeout(ms, message) {
  /** @type {any} */ let timer;
  const promise = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  return { promise, cancel: () => clearTimeout(timer) };
}

export class NetSocket {
  /**
   * @param {{socket: any, connected: () => Promise<void>}} connection  the page's connection
   *   (study/connection.js)
   * @param {string} sceneId
   */
  constructor(connection, sceneId) {
    this.connection = connection;
    this.socket = connection.socket;
    this.sceneId = sceneId;
    /** @type {(() => void)[]} */
    this.removers = [];
  }

  /**
   * Send a request and wait for its answer, asking again after a reconnect, for at most `ms`.
   * @param {string} event  @param {Record<string, any>} payload  @param {number} ms
   * @returns {Promise<any>}
   */
  async ask(event, payload, ms) {
    const deadline = performance.now() + ms;
    const late = () => new Error(`${event}: the server did not answer within ${Math.round(ms / 1000)} s`);
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
        return await this.socket.timeout(Math.max(1, deadline - performance.now())).emitWithAck(event, { scene_id: this.sceneId, ...payload });
      } catch {
        if (this.socket.connected || performance.now() >= deadline) throw late();
        // disconnected before the answer came: ask again once connected
      }
    }
  }

  /**
   * Send a message without an answer; false when it was dropped (the socket is disconnected).
   * @param {string} event  @param {Record<string, any>} payload
   */
  send(event, payload) {
    if (!this.socket.connected) return false;
    this.socket.emit(event, { scene_id: this.sceneId, ...payload });
    return true;
  }

  /**
   * Hear a server event about this scene (messages of other scenes are ignored).
   * @param {string} event  @param {(message: any) => void} handler
   */
  on(event, handler) {
    const listener = (/** @type {any} */ message) => {
      if (message?.scene_id === this.sceneId) handler(message);
    };
    this.socket.on(event, listener);
    this.removers.push(() => this.socket.off(event, listener));
  }

  /** Hear every (re)connect of the socket after the first. @param {() => void} handler */
  onReconnect(handler) {
    this.socket.on("connect", handler);
    this.removers.push(() => this.socket.off("connect", handler));
  }

  /** Stop hearing every event subscribed with `on`/`onReconnect`. */
  off() {
    for (const remove of this.removers.splice(0)) remove();
  }
}
