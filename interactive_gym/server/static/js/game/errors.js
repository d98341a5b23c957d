// @ts-check
/**
 * The two ways a game scene fails, whichever runtime plays it: loading (GameLoadError: the
 * session offers a retry) and playing (GameError: the session shows the error page and the
 * study goes on). Thrown by game/worker_channel.js and game/socket_channel.js, handled by
 * game/session.js.
 * @module game/errors
 */

/** Loading failed; `stage` is where. */
export class GameLoadError extends Error {
  /** @param {string} stage  @param {string} message  @param {string} [detail] */
  constructor(stage, message, detail = "") {
    super(message);
    this.name = "GameLoadError";
    this.stage = stage;
    this.detail = detail;
  }
}

/** The episode stopped because the environment, a policy, the runtime or a drawing failed. */
export class GameError extends Error {
  /**
   * @param {"load" | "reset" | "step" | "render"} stage  @param {number} step  @param {any} cause
   */
  constructor(stage, step, cause) {
    const what = cause?.name && cause.name !== "Error" ? `${cause.name}: ` : "";
    super(`${what}${cause?.message ?? String(cause)}`);
    this.name = "GameError";
    this.stage = stage;
    this.step = step;
    this.traceback = String(cause?.traceback ?? cause?.stack ?? "").slice(-4000);
    /** True when the failure is already recorded (the server runtime writes its own
     * game_error event), so the page does not record it a second time. */
    this.recorded = Boolean(cause?.recorded);
  }
}
