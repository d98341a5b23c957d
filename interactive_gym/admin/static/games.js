// @ts-check
/**
 * The Games tab: games in progress (frames per second achieved vs target, late and dropped
 * ticks, round-trip / worker / draw times, rollbacks and desyncs), waiting rooms (each with a
 * "Release" action), groups, and recent errors with their tracebacks. Drawn from the `games`
 * payload (views.games), pushed over the socket.
 * @module admin/games
 */

import { runAction } from "./actions.js";
import { byTestId, details, el, fill, openDetails, table } from "./dom.js";
import { DASH, clock, duration, isNumber, ms, num, text } from "./format.js";
import { participantHash } from "./query.js";
import { listOf, objectOf } from "./shape.js";

/** A participant id as a link to their detail. @param {unknown} id */
function participantLink(id) {
  if (typeof id !== "string" || !id) return DASH;
  return el("a", { href: participantHash(id) }, el("code", {}, id));
}

/** "28.7 / 30", marked when under 90% of the target. @param {Record<string, any>} g */
function fpsCell(g) {
  const low = isNumber(g.fps) && isNumber(g.target_fps) && g.fps < 0.9 * g.target_fps;
  return el("span", { className: low ? "warn" : "" }, `${num(g.fps, 1)} / ${num(g.target_fps)}`);
}

/** @param {unknown} value  a count, marked when above zero */
function countCell(value) {
  return el("span", { className: isNumber(value) && value > 0 ? "warn" : "" }, num(value));
}

/**
 * Redraw the tab from a games payload.
 * @param {HTMLElement} panel  `[data-testid="panel-games"]`
 * @param {unknown} payload
 * @param {() => void} [afterAction]  called when an action went through
 */
export function renderGames(panel, payload, afterAction = () => {}) {
  const o = objectOf(payload);
  const summary = objectOf(o.summary);
  const counts = isNumber(summary.games)
    ? `${summary.games} in progress, ${num(summary.below_90_percent)} below 90 % of their frame rate` +
      (isNumber(summary.shown) && summary.shown < summary.games ? `; the ${summary.shown} furthest below are listed` : "") +
      " \u00b7 "
    : "";
  byTestId("games-at", panel).textContent = counts + (o.at ? `as of ${clock(o.at)}` : "");
  fill(
    byTestId("games-table", panel),
    table(
      [
        { label: "Owner", cell: (g) => el("code", {}, text(g.owner)) },
        { label: "Participants", cell: (g) => listOf(g.participant_ids).flatMap((id, i) => [i ? ", " : null, participantLink(id)]) },
        { label: "Scene", cell: (g) => text(g.scene_id) },
        { label: "Runtime", cell: (g) => text(g.runtime) },
        { label: "Episode", cell: (g) => text(g.episode), className: "num" },
        { label: "fps / target", cell: fpsCell, className: "num" },
        { label: "Late p50 / p95", cell: (g) => `${ms(g.late_ms_p50)} / ${ms(g.late_ms_p95)}`, className: "num" },
        { label: "Dropped", cell: (g) => countCell(g.dropped), className: "num" },
        { label: "Round trip p50", cell: (g) => ms(g.round_trip_ms_p50), className: "num" },
        { label: "Worker p50", cell: (g) => ms(g.worker_ms_p50), className: "num" },
        { label: "Draw p50", cell: (g) => ms(g.draw_ms_p50), className: "num" },
        { label: "Rollbacks", cell: (g) => num(g.rollbacks), className: "num" },
        { label: "Desyncs", cell: (g) => countCell(g.desyncs), className: "num" },
        {
          label: "Last seen",
          cell: (g) =>
            isNumber(g.last_seen_s)
              ? el("span", { className: g.last_seen_s > 10 ? "warn" : "" }, `${duration(g.last_seen_s)} ago`)
              : DASH,
          className: "num",
        },
      ],
      listOf(o.games).map(objectOf),
      { empty: "No game in progress.", rowTestId: "game-row" },
    ),
  );
  fill(
    byTestId("rooms-table", panel),
    table(
      [
        { label: "Room", cell: (r) => el("code", {}, text(r.room_id)) },
        { label: "Waiting", cell: (r) => num(r.waiting), className: "num" },
        { label: "Present", cell: (r) => num(r.present), className: "num" },
        { label: "Group size", cell: (r) => num(r.group_size), className: "num" },
        {
          label: "",
          cell: (r) =>
            typeof r.room_id === "string"
              ? el(
                  "button",
                  {
                    type: "button",
                    className: "danger",
                    testid: "action-release-room",
                    data: { room: r.room_id },
                    onclick: async () => {
                      if ((await runAction("release-room", r.room_id)) !== null) afterAction();
                    },
                  },
                  "Release…",
                )
              : null,
        },
      ],
      listOf(o.rooms).map(objectOf),
      { empty: "Nobody is waiting.", rowTestId: "room-row" },
    ),
  );
  fill(
    byTestId("groups-table", panel),
    table(
      [
        { label: "Group", cell: (g) => el("code", {}, text(g.group_id)) },
        {
          label: "Members",
          cell: (g) =>
            listOf(g.members).flatMap((m, i) => [i ? ", " : null, participantLink(typeof m === "string" ? m : objectOf(m).participant_id)]),
        },
        { label: "Scene", cell: (g) => text(g.scene_id) },
        { label: "Status", cell: (g) => text(g.status) },
      ],
      listOf(o.groups).map(objectOf),
      { empty: "No groups.", rowTestId: "group-row" },
    ),
  );
  renderErrors(byTestId("games-errors", panel), o.errors);
}

/** @param {HTMLElement} box  @param {unknown} errors */
function renderErrors(box, errors) {
  const open = openDetails(box);
  const rows = listOf(errors).map(objectOf);
  if (!rows.length) {
    fill(box, el("p", { className: "note" }, "No errors."));
    return;
  }
  /** @type {Map<string, number>} */
  const seen = new Map();
  fill(
    box,
    el(
      "ol",
      { className: "errors" },
      rows.map((e) => {
        const head = [
          el("time", {}, clock(e.at)),
          participantLink(e.participant_id),
          el("span", { className: "scene" }, text(e.scene_id)),
          el("span", { className: "label" }, text(e.message, 300)),
        ];
        const base = `${text(e.at)}|${text(e.participant_id)}|${text(e.message, 100)}`;
        const n = seen.get(base) ?? 0;
        seen.set(base, n + 1);
        const key = `${base}|${n}`;
        return el(
          "li",
          { testid: "game-error" },
          typeof e.traceback === "string" && e.traceback
            ? details(key, open, head, el("pre", { className: "traceback" }, e.traceback))
            : el("div", { className: "line" }, head),
        );
      }),
    ),
  );
}
