// @ts-check
/**
 * Keyboard input of a game scene, captured on the main thread.
 *
 *   const input = new KeyInput({ controls, defaultAction, mode: "held" });
 *   input.attach();
 *   const { action, keys, events } = input.take();   // once per tick
 *
 * Only keys named in the controls are captured (their default action, such as scrolling, is
 * prevented); each keydown/keyup is kept with its `event.timeStamp` until the next `take()`.
 * The action of a tick comes from the keys that are down at the tick plus the keys pressed
 * since the last tick (so a tap shorter than a frame still counts). In "pressed" mode a
 * mapping fires only when one of its keys was pressed since the last tick. When several
 * mappings match, the one with the most keys wins ("ArrowUp+ArrowLeft" over "ArrowUp"), then
 * the one whose key was pressed last. Key repeats are ignored. Losing window focus releases
 * every key (their keyup would never arrive).
 * @module game/input
 */

/** @typedef {{keys: string[], action: any}} Control */
/** @typedef {{type: "down" | "up" | "release", key: string, t: number}} KeyEvent */
/** @typedef {{action: any, keys: string, events: KeyEvent[]}} TickInput */

/**
 * The canonical name of a key: single characters lower-cased, "Spacebar" → " ".
 * @param {string} key  a `KeyboardEvent.key`
 */
export function normalizeKey(key) {
  if (key === "Spacebar" || key === "Space") return " ";
  return key.length === 1 ? key.toLowerCase() : key;
}

/**
 * How keys appear in records: their canonical name, " " written "Space".
 * @param {string} key
 */
export function keyLabel(key) {
  return key === " " ? "Space" : key;
}

export class KeyInput {
  /**
   * @param {{controls: Control[], defaultAction: any, mode?: "held" | "pressed",
   *   target?: EventTarget}} options
   */
  constructor({ controls, defaultAction, mode = "held", target = window }) {
    this.controls = controls;
    this.defaultAction = defaultAction;
    this.mode = mode;
    this.target = target;
    /** @type {Set<string>} */
    this.mapped = new Set(controls.flatMap((c) => c.keys));
    /** @type {Map<string, number>} key → time it went down (keys down now) */
    this.held = new Map();
    /** @type {Map<string, number>} key → time of its last press since the last tick */
    this.pressed = new Map();
    /** @type {KeyEvent[]} */
    this.events = [];
    this.enabled = true;
    this._down = (/** @type {Event} */ e) => this.keyDown(/** @type {KeyboardEvent} */ (e));
    this._up = (/** @type {Event} */ e) => this.keyUp(/** @type {KeyboardEvent} */ (e));
    this._blur = () => this.releaseAll(performance.now());
  }

  attach() {
    this.target.addEventListener("keydown", this._down);
    this.target.addEventListener("keyup", this._up);
    this.target.addEventListener("blur", this._blur);
  }

  detach() {
    this.target.removeEventListener("keydown", this._down);
    this.target.removeEventListener("keyup", this._up);
    this.target.removeEventListener("blur", this._blur);
  }

  /** @param {KeyboardEvent} event */
  keyDown(event) {
    const key = normalizeKey(event.key);
    if (!this.mapped.has(key)) return;
    event.preventDefault();
    if (event.repeat || this.held.has(key)) return;
    this.held.set(key, event.timeStamp);
    if (!this.enabled) return;
    this.pressed.set(key, event.timeStamp);
    this.events.push({ type: "down", key, t: event.timeStamp });
  }

  /** @param {KeyboardEvent} event */
  keyUp(event) {
    const key = normalizeKey(event.key);
    if (!this.mapped.has(key)) return;
    event.preventDefault();
    if (!this.held.delete(key) || !this.enabled) return;
    this.events.push({ type: "up", key, t: event.timeStamp });
  }

  /** @param {number} t */
  releaseAll(t) {
    for (const key of this.held.keys()) if (this.enabled) this.events.push({ type: "release", key, t });
    this.held.clear();
  }

  /** Forget presses and events so far (before an episode starts); keys held stay held. */
  reset() {
    this.pressed.clear();
    this.events = [];
  }

  /**
   * The action for this tick and the key events since the last one.
   * @returns {TickInput}
   */
  take() {
    /** @type {Map<string, number>} */
    const active = new Map(this.held);
    for (const [key, t] of this.pressed) if (!active.has(key) || active.get(key) < t) active.set(key, t);
    /** @type {Control | null} */
    let best = null;
    let bestTime = -Infinity;
    for (const control of this.controls) {
      if (!control.keys.every((k) => active.has(k))) continue;
      if (this.mode === "pressed" && !control.keys.some((k) => this.pressed.has(k))) continue;
      const time = Math.max(...control.keys.map((k) => /** @type {number} */ (active.get(k))));
      if (!best || control.keys.length > best.keys.length || (control.keys.length === best.keys.length && time > bestTime)) {
        best = control;
        bestTime = time;
      }
    }
    this.pressed.clear();
    const events = this.events;
    this.events = [];
    return best
      ? { action: best.action, keys: best.keys.map(keyLabel).join("+"), events }
      : { action: this.defaultAction, keys: "", events };
  }
}
