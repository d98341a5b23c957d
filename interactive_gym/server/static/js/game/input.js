// @ts-check
/**
 * Keyboard input of a game scene, captured on the main thread.
 *
 *   const input = new KeyInput({ controls, defaultAction, mode: "held" });
 *   input.attach();
 *   const { action, keys, events } = input.take();   // once per tick
 *   input.onChange(({ action, keys, event }) => ...);  // at every key change
 *
 * Only keys named in the controls are captured (their default action, such as scrolling, is
 * prevented); each keydown/keyup is kept with its `event.timeStamp` until the next `take()`.
 * The action of a tick comes from the keys that are down at the tick plus the keys pressed
 * since the last tick (so a tap shorter than a frame still counts). In "pressed" mode a
 * mapping fires only when one of its keys was pressed since the last tick. When several
 * mappings match, the one with the most keys wins ("ArrowUp+ArrowLeft" over "ArrowUp"), then
 * the one whose key was pressed last. Key repeats are ignored. Losing window focus releases
 * every key (their keyup would never arrive).
 *
 * `onChange` listeners hear every captured key change as it happens, with the action the keys
 * down at that moment choose (in "pressed" mode: the mapping of the key just pressed; a
 * release chooses the default action). The server runtime sends these to the server; the
 * browser runtime's loop uses `take()`.
 * @module game/input
 */

/** @typedef {{keys: string[], action: any}} Control */
/** @typedef {{type: "down" | "up" | "release", key: string, t: number}} KeyEvent */
/** @typedef {{action: any, keys: string, events: KeyEvent[]}} TickInput */
/** @typedef {{action: any, keys: string, event: KeyEvent}} InputChange */

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
    /** @type {Set<(change: InputChange) => void>} */
    this.listeners = new Set();
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
    this._event({ type: "down", key, t: event.timeStamp });
  }

  /** @param {KeyboardEvent} event */
  keyUp(event) {
    const key = normalizeKey(event.key);
    if (!this.mapped.has(key)) return;
    event.preventDefault();
    if (!this.held.delete(key) || !this.enabled) return;
    this._event({ type: "up", key, t: event.timeStamp });
  }

  /** @param {number} t */
  releaseAll(t) {
    const keys = [...this.held.keys()];
    this.held.clear();
    if (this.enabled) for (const key of keys) this._event({ type: "release", key, t });
  }

  /**
   * Listen to every key change; returns a function that stops listening.
   * @param {(change: InputChange) => void} listener
   */
  onChange(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** @param {KeyEvent} event */
  _event(event) {
    this.events.push(event);
    if (!this.listeners.size) return;
    const chosen = this._choose(new Map(this.held), event.type === "down" ? event.key : null);
    const change = chosen
      ? { action: chosen.action, keys: chosen.keys.map(keyLabel).join("+"), event }
      : { action: this.defaultAction, keys: "", event };
    for (const listener of this.listeners) listener(change);
  }

  /**
   * The control the active keys choose: the one with most keys, then the latest key.
   * @param {Map<string, number>} active  key → time it went down
   * @param {string | null} pressedKey  "pressed" mode: a control fires only when it has this key
   *   (`take()` passes the keys pressed since the last tick instead)
   * @param {Map<string, number>} [pressed]
   * @returns {Control | null}
   */
  _choose(active, pressedKey, pressed) {
    /** @type {Control | null} */
    let best = null;
    let bestTime = -Infinity;
    for (const control of this.controls) {
      if (!control.keys.every((k) => active.has(k))) continue;
      if (this.mode === "pressed") {
        const fires = pressed ? control.keys.some((k) => pressed.has(k)) : pressedKey !== null && control.keys.includes(pressedKey);
        if (!fires) continue;
      }
      const time = Math.max(...control.keys.map((k) => /** @type {number} */ (active.get(k))));
      if (!best || control.keys.length > best.keys.length || (control.keys.length === best.keys.length && time > bestTime)) {
        best = control;
        bestTime = time;
      }
    }
    return best;
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
    for (const [key, t] of this.pressed) if (!active.has(key) || /** @type {number} */ (active.get(key)) < t) active.set(key, t);
    const best = this._choose(active, null, this.pressed);
    this.pressed.clear();
    const events = this.events;
    this.events = [];
    return best
      ? { action: best.action, keys: best.keys.map(keyLabel).join("+"), events }
      : { action: this.defaultAction, keys: "", events };
  }
}
