// @ts-check
/**
 * The HUD line above the game: a template filled on every tick.
 *
 * Fields (same names as GymScene's `hud` option): {episode} (1-based), {episodes}, {step}
 * (steps taken this episode), {max_steps}, {score} (the human agent's return so far),
 * {time_left} (m:ss left of max_steps at the scene's fps), {env} (the text of the env's
 * `hud_function`, computed in the worker in the same reply as the step). `{{`/`}}` are braces.
 * @module game/hud
 */

/**
 * @param {string} template
 * @param {Record<string, string | number>} fields
 */
export function fillHud(template, fields) {
  return template.replace(/\{\{|\}\}|\{(\w+)\}/g, (match, name) => {
    if (match === "{{") return "{";
    if (match === "}}") return "}";
    return name in fields ? String(fields[name]) : match;
  });
}

/** @param {number} value  a score: whole numbers as is, others with up to 2 decimals */
export function formatScore(value) {
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 100) / 100);
}

/** @param {number} seconds */
export function formatTime(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * The HUD fields of one moment of an episode.
 * @param {{episode: number, episodes: number, step: number, maxSteps: number | null, fps: number,
 *   score: number, env: string | null | undefined}} state
 */
export function hudFields({ episode, episodes, step, maxSteps, fps, score, env }) {
  return {
    episode: episode + 1,
    episodes,
    step,
    max_steps: maxSteps ?? "",
    score: formatScore(score),
    time_left: maxSteps ? formatTime((maxSteps - step) / fps) : "",
    env: env ?? "",
  };
}

export class Hud {
  /**
   * @param {HTMLElement} element
   * @param {string | null} template  null: no HUD
   */
  constructor(element, template) {
    this.element = element;
    this.template = template;
    this.text = "";
    element.hidden = template === null;
  }

  /** @param {Parameters<typeof hudFields>[0]} state */
  update(state) {
    if (this.template === null) return;
    const text = fillHud(this.template, hudFields(state));
    if (text !== this.text) this.element.textContent = this.text = text;
  }
}
