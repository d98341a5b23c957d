// @ts-check
/**
 * One participant, in the Participants tab: their fields, completion code, excluded flag,
 * uploads pending vs acked, the timeline (scenes, events, episodes, errors with tracebacks,
 * focus losses), episodes with returns and verification, groups; links to their records
 * (records.js) and to their data alone (the export with participant=ID); actions (exclude /
 * include again, reset).
 *
 * Opened from GET /admin/api/participants/{id}, then kept live: the console sends `watch`
 * {participant_id} and each `participant` push for this id redraws it (tracebacks opened by
 * the researcher stay open; nothing is redrawn when the payload did not change).
 * @module admin/detail
 */

import { runAction } from "./actions.js";
import { errorMessage, getJson } from "./api.js";
import { byTestId, details, el, fill, openDetails, table } from "./dom.js";
import { DASH, clock, dateTime, duration, flag, isNumber, json, num, text } from "./format.js";
import { statusCell } from "./participants.js";
import { exportUrl, participantHash, participantUrl } from "./query.js";
import { RecordsView } from "./records.js";
import { listOf, objectOf, timelineItems } from "./shape.js";

/** Participant fields shown first, in this order (the rest follow as the server sends them). */
const FIRST = ["participant_id", "status", "condition", "scene_id", "scene_index", "created_at", "updated_at", "completed_at"];
/** Fields shown elsewhere in the detail. */
const ELSEWHERE = new Set(["url_params", "completion_code", "excluded", "excluded_reason", "excluded_at", "scene_order"]);

export class ParticipantDetail {
  /**
   * @param {HTMLElement} root    `[data-testid="participant-detail"]`
   * @param {(participantId: string | null) => void} watch   asks the server for pushes
   */
  constructor(root, watch) {
    this.root = root;
    this.watch = watch;
    /** @type {string | null} */
    this.id = null;
    this.lastJson = "";
    this.records = new RecordsView();
  }

  /** Show `participantId` (load it, then follow its pushes). @param {string} participantId */
  async open(participantId) {
    if (this.id === participantId) return;
    this.id = participantId;
    this.lastJson = "";
    this.build(participantId);
    this.watch(participantId);
    try {
      const payload = await getJson(participantUrl(participantId));
      if (this.id === participantId) this.render(payload);
    } catch (error) {
      if (this.id === participantId) this.showError(errorMessage(error));
    }
  }

  close() {
    if (this.id === null) return;
    this.id = null;
    this.watch(null);
    this.root.replaceChildren();
  }

  /** A `participant` push: `{participant_id, ...participant_detail}`. @param {unknown} payload */
  pushed(payload) {
    const o = objectOf(payload);
    const id = o.participant_id ?? objectOf(o.participant).participant_id;
    if (this.id === null || id !== this.id) return;
    if (o.participant === null || o.participant === undefined) {
      // gone (reset moves their data to another id)
      this.lastJson = "";
      this.showError(`${text(o.error ?? "unknown participant")}: ${id}`);
      return;
    }
    this.render(payload);
  }

  /** Reload from the API (after an action). */
  async reload() {
    if (this.id === null) return;
    const id = this.id;
    try {
      const payload = await getJson(participantUrl(id));
      if (this.id === id) this.render(payload);
    } catch {
      // the pushes keep it current anyway
    }
  }

  /** Say what went wrong above the parts (which a later push may still fill). @param {string} message */
  showError(message) {
    const node = this.box("detail-error");
    node.textContent = message;
    node.hidden = false;
  }

  /** @param {string} testid */
  box(testid) {
    return byTestId(testid, this.root);
  }

  /** The parts that stay while the participant is shown. @param {string} id */
  build(id) {
    const section = (/** @type {string} */ title, /** @type {string} */ testid) =>
      el("section", { className: "detail-part" }, el("h3", {}, title), el("div", { testid }));
    const exports = ["csv", "parquet", "jsonl"].map((format) => {
      const href = exportUrl({ format, participant: id });
      return el("a", { className: "button", href, download: "", testid: "export-participant-link", data: { format } }, format.toUpperCase());
    });
    fill(
      this.root,
      el("p", {}, el("a", { href: "#participants", testid: "detail-back" }, "← all participants")),
      el("h2", {}, "Participant ", el("code", { testid: "detail-id" }, id), " ", el("span", { testid: "detail-status" })),
      el("p", { className: "error", testid: "detail-error", attrs: { role: "alert" }, hidden: true }),
      el(
        "div",
        { className: "toolbar" },
        el("button", { type: "button", className: "danger", testid: "action-exclude", onclick: () => this.act("exclude") }, "Exclude…"),
        el("button", { type: "button", testid: "action-include", hidden: true, onclick: () => this.act("include") }, "Include again…"),
        el("button", { type: "button", className: "danger", testid: "action-reset", onclick: () => this.act("reset") }, "Reset…"),
        el("span", { className: "spacer" }),
        el("span", { className: "note" }, "Their data: "),
        exports,
      ),
      el(
        "div",
        { testid: "detail-body", className: "detail-grid" },
        section("Participant", "detail-fields"),
        section("Uploads", "detail-uploads"),
        section("URL parameters", "detail-params"),
        section("Groups", "detail-groups"),
      ),
      section("Timeline", "timeline"),
      section("Episodes", "detail-episodes"),
      section("Records", "detail-records"),
    );
    this.records.mount(this.box("detail-records"), id);
  }

  /** @param {string} name */
  async act(name) {
    if (this.id === null) return;
    const result = await runAction(name, this.id);
    if (result === null) return;
    if (name === "reset" && typeof result.moved_to === "string") {
      location.hash = participantHash(result.moved_to); // their data, under its new id
      return;
    }
    await this.reload();
  }

  /** @param {unknown} payload  participant_detail */
  render(payload) {
    const o = objectOf(payload);
    const { at: _at, participant_id: _id, ...rest } = o;
    const now = JSON.stringify(rest);
    if (now === this.lastJson) return;
    this.lastJson = now;
    this.box("detail-error").hidden = true;
    const p = objectOf(o.participant);

    fill(this.box("detail-status"), statusCell(p));
    /** @type {HTMLButtonElement} */ (this.box("action-exclude")).hidden = p.excluded === true;
    /** @type {HTMLButtonElement} */ (this.box("action-include")).hidden = p.excluded !== true;

    const keys = [...FIRST.filter((k) => k in p), ...Object.keys(p).filter((k) => !FIRST.includes(k) && !ELSEWHERE.has(k))];
    const field = (/** @type {string} */ label, /** @type {any} */ value, /** @type {string} */ testid = "") =>
      [el("dt", {}, label), el("dd", { testid: testid || undefined }, value)];
    const shown = (/** @type {string} */ k) => (k.endsWith("_at") ? dateTime(p[k]) : text(p[k], 300));
    fill(
      this.box("detail-fields"),
      el(
        "dl",
        { className: "fields" },
        field("completion code", el("code", {}, text(p.completion_code)), "detail-completion-code"),
        field(
          "excluded",
          p.excluded === true
            ? `yes${p.excluded_reason ? ` — ${text(p.excluded_reason)}` : ""}${p.excluded_at ? ` (${dateTime(p.excluded_at)})` : ""}`
            : flag(p.excluded),
          "detail-excluded",
        ),
        keys.flatMap((k) => field(k.replaceAll("_", " "), shown(k))),
        Array.isArray(p.scene_order) ? field("scene order", p.scene_order.map((s) => text(s)).join(" → ") || DASH) : null,
      ),
    );

    const up = objectOf(o.uploads);
    fill(
      this.box("detail-uploads"),
      el(
        "dl",
        { className: "fields" },
        field("acked records", num(up.acked_records), "detail-uploads-acked"),
        field("acked chunks", num(up.acked_chunks)),
        field("pending records", isNumber(up.pending_records) ? num(up.pending_records) : "unknown", "detail-uploads-pending"),
        field("connected", flag(up.connected), "detail-connected"),
        field("last seen", up.connected === true ? "now" : isNumber(up.last_seen_s) ? `${duration(up.last_seen_s)} ago` : DASH),
        isNumber(up.uploaded_records) ? field("uploaded records", num(up.uploaded_records)) : null,
        isNumber(up.server_records) ? field("server records", num(up.server_records)) : null,
      ),
      o.live && typeof o.live === "object"
        ? details("live", openDetails(this.box("detail-uploads")), "live state", el("pre", { className: "json" }, json(o.live)))
        : null,
    );

    const urlParams = Object.entries(objectOf(p.url_params));
    fill(
      this.box("detail-params"),
      table(
        [
          { label: "Name", cell: ([k]) => el("code", {}, k) },
          { label: "Value", cell: ([, v]) => el("code", {}, text(v, 500)) },
        ],
        urlParams,
        { empty: "None." },
      ),
    );

    const memberId = (/** @type {unknown} */ m) => (typeof m === "string" ? m : text(objectOf(m).participant_id));
    fill(
      this.box("detail-groups"),
      table(
        [
          { label: "Group", cell: (g) => el("code", {}, text(g.group_id)) },
          { label: "Room", cell: (g) => text(g.room_id) },
          { label: "Members", cell: (g) => listOf(g.members).map(memberId).join(", ") || DASH },
          { label: "Formed", cell: (g) => clock(g.formed_at) },
          { label: "Ended", cell: (g) => (g.ended_at ? `${clock(g.ended_at)}${g.ended_how ? ` (${text(g.ended_how)})` : ""}` : "not yet") },
        ],
        listOf(o.groups).map(objectOf),
        { empty: "None.", rowTestId: "detail-group-row" },
      ),
    );

    this.renderTimeline(o.timeline);
    this.renderEpisodes(o.episodes);
  }

  /** @param {unknown} timeline */
  renderTimeline(timeline) {
    const box = this.box("timeline");
    const open = openDetails(box);
    const items = timelineItems(timeline);
    const today = new Date().toDateString();
    if (!items.length) {
      fill(box, el("p", { className: "note" }, "Nothing yet."));
      return;
    }
    fill(
      box,
      el(
        "ol",
        { className: "timeline" },
        items.map((item) => {
          const head = [
            el(
              "time",
              { dateTime: item.time?.toISOString() ?? "" },
              item.time ? (item.time.toDateString() === today ? clock : dateTime)(item.time.getTime()) : DASH,
            ),
            el("span", { className: `tag kind-${item.kind}` }, item.kind),
            item.sceneId !== DASH ? el("span", { className: "scene" }, item.sceneId) : null,
            el("span", { className: "label" }, item.label),
          ];
          const body = [];
          if (item.traceback) body.push(el("pre", { className: "traceback" }, item.traceback));
          if (item.data !== null) body.push(el("pre", { className: "json" }, json(item.data)));
          return el(
            "li",
            { className: `timeline-item kind-${item.kind}`, testid: "timeline-item", data: { kind: item.kind } },
            body.length ? details(item.key, open, head, body) : el("div", { className: "line" }, head),
          );
        }),
      ),
    );
  }

  /** @param {unknown} episodes */
  renderEpisodes(episodes) {
    fill(
      this.box("detail-episodes"),
      table(
        [
          { label: "Scene", cell: (e) => text(e.scene_id) },
          { label: "Episode", cell: (e) => text(e.episode), className: "num" },
          { label: "Attempt", cell: (e) => text(e.attempt), className: "num" },
          { label: "Return", cell: (e) => num(e.return, 3), className: "num" },
          { label: "Steps", cell: (e) => num(e.steps), className: "num" },
          { label: "Ended by", cell: (e) => text(e.ended_by) },
          {
            label: "Verified",
            cell: (e) =>
              el(
                "span",
                { className: e.verified === false ? "warn" : "", title: text(e.reason ?? "") },
                e.verified === null || e.verified === undefined ? "not checked" : flag(e.verified),
              ),
          },
        ],
        listOf(episodes).map(objectOf),
        { empty: "No episodes.", rowTestId: "episode-row" },
      ),
    );
  }
}
