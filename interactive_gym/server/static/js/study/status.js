// @ts-check
/**
 * What the page shows about the study's progress, and `window.interactiveGym`: a read-only
 * status for tests, monitoring and researchers' pilots:
 *
 *   {participantId, sceneId, sceneType, sceneIndex, sceneCount, episode, step,
 *    pendingUploads, rejectedUploads, finished, error}
 *
 * `episode` and `step` are set by game scenes (null elsewhere); `pendingUploads` counts records
 * not yet acknowledged by the server; `rejectedUploads` counts records the server refused for
 * good (the study then stops, and `error` gives the server's reason); `finished` turns true once
 * the completion code is shown.
 * @module study/status
 */

/** @typedef {{pendingUploads: number, rejected: {records: unknown[]}[]}} PendingSource */

export class Status {
  /** @param {string | null} participantId  null until the study started */
  constructor(participantId) {
    this.participantId = participantId;
    /** @type {string|null} */ this.sceneId = null;
    /** @type {string|null} */ this.sceneType = null;
    this.sceneIndex = 0;
    this.sceneCount = 0;
    /** @type {number|null} */ this.episode = null;
    /** @type {number|null} */ this.step = null;
    this.finished = false;
    /** @type {string|null} */ this.error = null;
    /** @type {PendingSource|null} */ this.uploads = null;
    this.bar = /** @type {HTMLElement|null} */ (document.querySelector(".ig-progress"));
    this.label = document.getElementById("ig-progress-label");
    this.line = document.getElementById("ig-status");
    this.install();
  }

  /** Define `window.interactiveGym` with getters only: the page's state cannot be changed. */
  install() {
    const self = this;
    const view = Object.freeze(
      Object.defineProperties(
        {},
        {
          participantId: { get: () => self.participantId, enumerable: true },
          sceneId: { get: () => self.sceneId, enumerable: true },
          sceneType: { get: () => self.sceneType, enumerable: true },
          sceneIndex: { get: () => self.sceneIndex, enumerable: true },
          sceneCount: { get: () => self.sceneCount, enumerable: true },
          episode: { get: () => self.episode, enumerable: true },
          step: { get: () => self.step, enumerable: true },
          pendingUploads: { get: () => self.uploads?.pendingUploads ?? 0, enumerable: true },
          rejectedUploads: { get: () => self.rejectedUploads(), enumerable: true },
          finished: { get: () => self.finished, enumerable: true },
          error: { get: () => self.error, enumerable: true },
        },
      ),
    );
    Object.defineProperty(window, "interactiveGym", { value: view, writable: false, configurable: false, enumerable: true });
  }

  /** Records the server refused for good (the uploader's `rejected`). */
  rejectedUploads() {
    return (this.uploads?.rejected ?? []).reduce((n, r) => n + r.records.length, 0);
  }

  /**
   * A new scene starts.
   * @param {{scene_id: string, scene_type: string}} scene  @param {number} index  @param {number} count
   */
  enter(scene, index, count) {
    Object.assign(this, { sceneId: scene.scene_id, sceneType: scene.scene_type, sceneIndex: index, sceneCount: count });
    this.episode = null;
    this.step = null;
    this.progress(index, count);
  }

  /** @param {number} index  @param {number} count */
  progress(index, count) {
    const fraction = count > 1 ? index / (count - 1) : 1;
    if (this.bar) {
      this.bar.setAttribute("aria-valuenow", fraction.toFixed(3));
      /** @type {HTMLElement} */ (this.bar.firstElementChild).style.width = `${(fraction * 100).toFixed(1)}%`;
    }
    if (this.label) this.label.textContent = `Page ${index + 1} of ${count}`;
  }

  /** @param {string} text  a short note in the status line ("" clears it) */
  say(text) {
    if (this.line) this.line.textContent = text;
  }

  finish() {
    this.finished = true;
    this.progress(this.sceneCount - 1, this.sceneCount);
    this.say("");
  }

  /** @param {string} message */
  fail(message) {
    this.error = message;
  }
}
