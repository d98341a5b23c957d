// @ts-check
/**
 * A fixed-timestep loop on the main thread: tick k is due at `anchor + k / fps`.
 *
 *   const loop = new FixedStepLoop(30, async (tick) => { ...; return true; });  // false: stop
 *   await loop.run();
 *
 * A tick starts when its time comes and never while the previous one is still running (the
 * next tick is scheduled only after `onTick` resolves). A tick that starts more than a quarter
 * interval after its slot is counted as late; when a whole interval has passed, the slots
 * missed are skipped and counted as dropped (the game does not race to catch up). `pause()`
 * stops scheduling after the tick in flight; `resume()` starts again from now without
 * counting the pause as dropped ticks. `delay(ms)` moves every later slot `ms` later (a group
 * game's time sync stretches its schedule by a fraction of an interval that way).
 * @module game/loop
 */

/**
 * @typedef {object} TickInfo
 * @property {number} slot        index of the tick's time slot since the loop started
 * @property {number} target      when the slot was due (performance.now() clock, ms)
 * @property {number} start       when the tick started
 * @property {number} lateMs      start - target
 * @property {number} dropped     slots skipped just before this tick
 * @property {number | null} intervalMs  time since the previous tick started (null after a pause)
 */

export class FixedStepLoop {
  /**
   * @param {number} fps
   * @param {(tick: TickInfo) => Promise<boolean>} onTick
   */
  constructor(fps, onTick) {
    this.intervalMs = 1000 / fps;
    this.onTick = onTick;
    this.slot = 0;
    this.anchor = 0;
    /** @type {number | null} */ this.lastStart = null;
    this.paused = false;
    this.stopped = false;
    this.inFlight = false;
    this.reanchor = false;
    /** @type {any} */ this.timer = 0;
    this.stats = { ticks: 0, late: 0, dropped: 0 };
    /** @type {(value?: any) => void} */ this._resolve = () => {};
    /** @type {(error: any) => void} */ this._reject = () => {};
  }

  /** Run until `onTick` resolves false, `stop()` is called, or `onTick` throws (rejects). */
  run() {
    return new Promise((resolve, reject) => {
      this._resolve = resolve;
      this._reject = reject;
      this.anchor = performance.now();
      this._schedule();
    });
  }

  pause() {
    this.paused = true;
    clearTimeout(this.timer);
    this.timer = 0;
  }

  resume() {
    if (!this.paused || this.stopped) return;
    this.paused = false;
    this.reanchor = true;
    if (!this.inFlight) this._schedule();
  }

  /**
   * Move the schedule `ms` later: the next tick (and every one after it) starts that much later
   * than planned, without counting as late.
   * @param {number} ms
   */
  delay(ms) {
    if (!(ms > 0) || this.stopped) return;
    this.anchor += ms;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = 0;
      this._schedule();
    }
  }

  stop() {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this._resolve();
  }

  _schedule() {
    if (this.stopped || this.paused || this.timer) return;
    if (this.reanchor) {
      this.anchor = performance.now() - this.slot * this.intervalMs;
      this.lastStart = null;
      this.reanchor = false;
    }
    const target = this.anchor + this.slot * this.intervalMs;
    this.timer = setTimeout(() => this._fire(target), Math.max(0, target - performance.now()));
  }

  /** @param {number} target */
  async _fire(target) {
    this.timer = 0;
    if (this.stopped || this.paused) return;
    const start = performance.now();
    if (start < target) {
      // Timers may fire a fraction of a millisecond early: a tick never starts before its slot.
      this.timer = setTimeout(() => this._fire(target), target - start);
      return;
    }
    let dropped = 0;
    if (start - target >= this.intervalMs) {
      dropped = Math.floor((start - target) / this.intervalMs);
      this.slot += dropped;
      target += dropped * this.intervalMs;
    }
    const tick = {
      slot: this.slot,
      target,
      start,
      lateMs: start - target,
      dropped,
      intervalMs: this.lastStart === null ? null : start - this.lastStart,
    };
    this.lastStart = start;
    this.stats.ticks++;
    this.stats.dropped += dropped;
    if (tick.lateMs > this.intervalMs / 4) this.stats.late++;
    this.inFlight = true;
    let more = false;
    try {
      more = await this.onTick(tick);
    } catch (error) {
      this.inFlight = false;
      this.stopped = true;
      this._reject(error);
      return;
    }
    this.inFlight = false;
    this.slot++;
    if (!more) this.stop();
    else this._schedule();
  }
}
