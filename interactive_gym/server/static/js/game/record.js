// @ts-check
/**
 * What a game scene records: one "step" record per environment step and one "episode"
 * record per episode (columns documented in docs/game.md). On the browser runtime the page
 * writes them (game/worker_channel.js); on the server runtime the server writes the same
 * columns (interactive_gym/server/server_games.py) and the page adds the participant's key
 * events as "input" records (game/socket_channel.js). A step whose tick reply carries
 * `stateHash` (the scene's `record_state_hash_every`) records it as `state_hash`.
 * @module game/record
 */

/** @typedef {import("./input.js").KeyEvent} KeyEvent */

/**
 * A value the data path accepts: finite numbers only (NaN and ±Infinity become the strings
 * "NaN", "Infinity", "-Infinity"), bytes as lists of numbers, Maps as objects, undefined as null.
 * @param {any} value
 * @returns {any}
 */
export function jsonSafe(value) {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "string":
    case "boolean":
      return value;
    case "bigint":
      return Number(value);
    case "object":
      if (Array.isArray(value)) return value.map(jsonSafe);
      if (ArrayBuffer.isView(value)) return Array.from(/** @type {any} */ (value), jsonSafe);
      if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), jsonSafe(v)]));
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonSafe(v)]));
    default:
      return String(value);
  }
}

/** The page's focus, as recorded: "focused", "blurred" (visible, another window has focus) or "hidden". */
export function focusState() {
  if (document.visibilityState === "hidden") return "hidden";
  return document.hasFocus() ? "focused" : "blurred";
}

/** @param {number} ms */
const round = (ms) => Math.round(ms * 100) / 100;

/**
 * Per-agent values as columns: `{0: 1, 1: 3}` → `{action_0: 1, action_1: 3}`; a single-agent
 * value stays one column (`action`).
 * @param {string} name  @param {any} value  @param {boolean} perAgent
 */
export function agentColumns(name, value, perAgent) {
  if (perAgent && value && typeof value === "object" && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value).map(([agent, v]) => [`${name}_${agent}`, jsonSafe(v)]));
  }
  return { [name]: jsonSafe(value) };
}

/**
 * The data of one step record.
 * @param {object} s
 * @param {any} s.reply        the worker's tick reply
 * @param {boolean} s.multiAgent
 * @param {string} s.keys      the key combination that chose the human's action ("" none)
 * @param {KeyEvent[]} s.events
 * @param {import("./loop.js").TickInfo} s.tick
 * @param {{workerMs: number, envMs?: number | null, roundTripMs: number} | undefined} s.timing
 * @param {number | null} s.drawMs
 * @param {string} s.focus
 * @param {boolean} s.observation  record the observation
 */
export function stepData({ reply, multiAgent, keys, events, tick, timing, drawMs, focus, observation }) {
  const actions = multiAgent ? reply.actions : Object.values(reply.actions ?? {})[0];
  /** @type {Record<string, any>} */
  const data = {
    ...agentColumns("action", actions, multiAgent),
    ...agentColumns("reward", reply.reward, multiAgent),
    terminated: reply.terminated,
    truncated: reply.truncated,
    keys,
    key_events: events.map((e) => [e.type, e.key === " " ? "Space" : e.key, round(e.t)]),
    info: jsonSafe(reply.info),
    tick_t: round(tick.start),
    tick_late_ms: round(tick.lateMs),
    dropped_ticks: tick.dropped,
    worker_ms: timing ? round(timing.workerMs) : null,
    env_ms: timing?.envMs != null ? round(timing.envMs) : null,
    policy_ms: reply.policyMs != null ? round(reply.policyMs) : null,
    round_trip_ms: timing ? round(timing.roundTripMs) : null,
    draw_ms: drawMs === null ? null : round(drawMs),
    focus,
    runtime: "browser",
  };
  if (observation) data.observation = jsonSafe(reply.observation);
  if (typeof reply.stateHash === "string") data.state_hash = reply.stateHash;
  return data;
}

/**
 * The human agent's reward in a step (single-agent: the reward; no human: the sum of all).
 * @param {any} reward  @param {string | null} human  @param {boolean} multiAgent
 */
export function scoreOf(reward, human, multiAgent) {
  if (!multiAgent || typeof reward === "number") return Number(reward) || 0;
  if (!reward || typeof reward !== "object") return 0;
  if (human !== null) return Number(reward[human]) || 0;
  return Object.values(reward).reduce((sum, r) => sum + (Number(r) || 0), 0);
}

/** Sums of rewards per agent over an episode. */
export class Returns {
  constructor() {
    /** @type {Record<string, number>} */ this.byAgent = {};
    this.score = 0;
  }

  /** @param {any} reward @param {string | null} human @param {boolean} multiAgent */
  add(reward, human, multiAgent) {
    this.score += scoreOf(reward, human, multiAgent);
    if (multiAgent && reward && typeof reward === "object") {
      for (const [agent, r] of Object.entries(reward)) this.byAgent[agent] = (this.byAgent[agent] ?? 0) + (Number(r) || 0);
    }
  }
}
