// @ts-check
/**
 * A participant's stored records, page by page, newest first: GET
 * /admin/api/participants/{id}/records?kind=&limit=&before= (the answer's `next_before`, when
 * given, asks for the page after). Loaded only when the researcher asks (a game has thousands
 * of step records), and not redrawn by pushes.
 * @module admin/records
 */

import { errorMessage, getJson } from "./api.js";
import { el, fill, table } from "./dom.js";
import { dateTime, json, text } from "./format.js";
import { recordsUrl } from "./query.js";
import { listOf, objectOf } from "./shape.js";

const LIMIT = 100;
/** Record kinds the filter offers. */
const KINDS = ["", "survey", "step", "episode", "event", "input"];

export class RecordsView {
  constructor() {
    /** @type {string | null} */
    this.id = null;
    const options = KINDS.map((k) => el("option", { value: k }, k || "all kinds"));
    this.kind = /** @type {HTMLSelectElement} */ (el("select", { testid: "records-kind" }, options));
    this.list = el("div", { testid: "records-table", className: "records" });
    this.more = el("button", { type: "button", testid: "records-more", hidden: true, onclick: () => this.load(true) }, "Older records");
    this.load_ = el("button", { type: "button", testid: "records-load", onclick: () => this.load(false) }, "View records");
    /** @type {string | number | null} */
    this.before = null;
    this.asked = 0;
    this.kind.addEventListener("change", () => {
      if (this.list.childElementCount) void this.load(false);
    });
  }

  /**
   * Put the viewer into `container` for `participantId` (nothing is loaded yet).
   * @param {HTMLElement} container
   * @param {string} participantId
   */
  mount(container, participantId) {
    this.id = participantId;
    this.before = null;
    this.asked += 1;
    this.more.hidden = true;
    this.list.replaceChildren();
    fill(container, el("div", { className: "toolbar" }, this.kind, this.load_), this.list, this.more);
  }

  /** Load the first page again, when it was shown. */
  reload() {
    if (this.list.childElementCount) void this.load(false);
  }

  /** @param {boolean} older  the next page (else the first) */
  async load(older) {
    if (this.id === null) return;
    const asked = ++this.asked;
    const id = this.id;
    if (!older) this.before = null;
    try {
      const payload = await getJson(recordsUrl(id, { kind: this.kind.value, limit: LIMIT, before: older ? this.before : null }));
      if (asked !== this.asked) return;
      const rows = listOf(payload, "records", "items", "rows").map(objectOf);
      const o = objectOf(payload);
      const next = o.next_before ?? null;
      this.before = typeof next === "string" || typeof next === "number" ? next : null;
      this.more.hidden = this.before === null;
      const view = table(
        [
          { label: "Seq", cell: (r) => (r.idx === undefined ? text(r.seq) : `${text(r.seq)}.${text(r.idx)}`), className: "num" },
          { label: "Kind", cell: (r) => text(r.kind) },
          { label: "Scene", cell: (r) => text(r.scene_id) },
          { label: "Episode", cell: (r) => text(r.episode), className: "num" },
          { label: "Step", cell: (r) => text(r.step), className: "num" },
          { label: "Time", cell: (r) => dateTime(r.t) },
          {
            label: "Data",
            cell: (r) => el("details", {}, el("summary", {}, text(r.data, 80)), el("pre", { className: "json" }, json(r.data))),
          },
        ],
        rows,
        { empty: "No records.", rowTestId: "record-row" },
      );
      if (older) this.list.append(view);
      else fill(this.list, view);
    } catch (error) {
      if (asked === this.asked) fill(this.list, el("p", { className: "error" }, errorMessage(error)));
    }
  }
}
