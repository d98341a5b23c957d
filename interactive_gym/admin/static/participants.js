// @ts-check
/**
 * The Participants tab's list: a search box (an id or a URL parameter value; searched by the
 * server), status / condition / bots / excluded filters, a page of rows; a row opens the
 * participant's detail (detail.js). Asks GET /admin/api/participants?q=&status=&condition=
 * &bots=&excluded=&limit=&offset= on every change of the filters and, while the tab is shown,
 * again after overview pushes (at most every 5 s), so the list stays live.
 * @module admin/participants
 */

import { errorMessage, getJson } from "./api.js";
import { byTestId, el, fill, offerConditions, table } from "./dom.js";
import { ago, dateTime, duration, isNumber, num, params, text } from "./format.js";
import { participantsUrl } from "./query.js";
import { isBot, listOf, objectOf } from "./shape.js";

export const PAGE = 50;
const REFRESH_MS = 5000;

/** Status of a row, with its flags as small tags. @param {Record<string, any>} p */
export function statusCell(p) {
  return [
    el("span", { className: `tag status-${text(p.status)}` }, text(p.status)),
    p.excluded ? el("span", { className: "tag excluded" }, "excluded") : null,
    isBot(p) ? el("span", { className: "tag bot" }, "bot") : null,
    p.connected === true ? el("span", { className: "tag connected", title: "connected now" }, "online") : null,
  ];
}

export class ParticipantList {
  /**
   * @param {HTMLElement} panel   `[data-testid="panel-participants"]`
   * @param {(participantId: string) => void} onOpen
   */
  constructor(panel, onOpen) {
    this.onOpen = onOpen;
    this.search = /** @type {HTMLInputElement} */ (byTestId("participants-search", panel));
    this.status = /** @type {HTMLSelectElement} */ (byTestId("participants-status", panel));
    this.condition = /** @type {HTMLSelectElement} */ (byTestId("participants-condition", panel));
    this.bots = /** @type {HTMLSelectElement} */ (byTestId("participants-bots", panel));
    this.excluded = /** @type {HTMLSelectElement} */ (byTestId("participants-excluded", panel));
    this.tableBox = byTestId("participants-table", panel);
    this.count = byTestId("participants-count", panel);
    this.prev = /** @type {HTMLButtonElement} */ (byTestId("participants-prev", panel));
    this.next = /** @type {HTMLButtonElement} */ (byTestId("participants-next", panel));
    this.offset = 0;
    this.asked = 0; // the latest request's number: older answers are dropped
    this.lastLoad = 0;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
    this.shown = false;

    this.search.addEventListener("input", () => this.restart(250));
    for (const select of [this.status, this.condition, this.bots, this.excluded]) select.addEventListener("change", () => this.restart(0));
    panel.querySelector("form")?.addEventListener("submit", (e) => {
      e.preventDefault();
      this.restart(0);
    });
    this.prev.addEventListener("click", () => this.page(-PAGE));
    this.next.addEventListener("click", () => this.page(PAGE));
  }

  /** Back to the first page, after `delayMs` (typing in the search box). @param {number} delayMs */
  restart(delayMs) {
    this.offset = 0;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.load();
    }, delayMs);
  }

  /** @param {number} delta */
  page(delta) {
    this.offset = Math.max(0, this.offset + delta);
    void this.load();
  }

  /** The tab was shown (true) or hidden. @param {boolean} shown */
  setShown(shown) {
    this.shown = shown;
    if (shown) void this.load();
  }

  /** An overview push arrived: reload when shown and not loaded in the last few seconds. */
  pushed() {
    if (this.shown && Date.now() - this.lastLoad > REFRESH_MS && this.timer === null) void this.load();
  }

  /** The conditions offered by the filter. @param {string[]} conditions */
  setConditions(conditions) {
    offerConditions(this.condition, conditions);
  }

  async load() {
    const asked = ++this.asked;
    this.lastLoad = Date.now();
    const url = participantsUrl({
      q: this.search.value,
      status: this.status.value,
      condition: this.condition.value,
      bots: this.bots.value,
      excluded: this.excluded.value,
      limit: PAGE,
      offset: this.offset,
    });
    this.tableBox.setAttribute("aria-busy", "true");
    try {
      const payload = await getJson(url);
      if (asked !== this.asked) return;
      this.render(payload);
    } catch (error) {
      if (asked !== this.asked) return;
      fill(this.tableBox, el("p", { className: "error", testid: "participants-error" }, errorMessage(error)));
    } finally {
      if (asked === this.asked) this.tableBox.removeAttribute("aria-busy");
    }
  }

  /** @param {unknown} payload  {participants: [...], total} */
  render(payload) {
    const rows = listOf(payload, "participants", "items", "rows").map(objectOf);
    const total = objectOf(payload).total ?? objectOf(payload).count;
    const now = Date.now();
    fill(
      this.tableBox,
      table(
        [
          { label: "Participant", cell: (p) => el("code", {}, text(p.participant_id)) },
          { label: "Status", cell: statusCell },
          { label: "Condition", cell: (p) => text(p.condition) },
          {
            label: "Scene",
            cell: (p) =>
              isNumber(p.scene_index) && Array.isArray(p.scene_order)
                ? `${text(p.scene_id)} (${Math.min(p.scene_index + 1, p.scene_order.length)}/${p.scene_order.length})`
                : text(p.scene_id),
          },
          { label: "Arrived", cell: (p) => dateTime(p.created_at) },
          {
            label: "Last seen",
            cell: (p) => (p.connected === true ? "now" : isNumber(p.last_seen_s) ? `${duration(p.last_seen_s)} ago` : ago(p.updated_at, now)),
          },
          { label: "URL parameters", cell: (p) => el("span", { className: "params" }, text(params(p.url_params), 120)) },
        ],
        rows,
        {
          empty: this.search.value.trim() ? "No participant matches." : "No participants yet.",
          rowTestId: "participant-row",
          rowKey: (p) => text(p.participant_id),
          onRow: (p) => {
            if (typeof p.participant_id === "string") this.onOpen(p.participant_id);
          },
        },
      ),
    );
    const from = rows.length ? this.offset + 1 : 0;
    const to = this.offset + rows.length;
    this.count.textContent = isNumber(total) ? `${num(from)}–${num(to)} of ${num(total)}` : `${num(from)}–${num(to)}`;
    this.prev.disabled = this.offset === 0;
    this.next.disabled = isNumber(total) ? to >= total : rows.length < PAGE;
  }
}
