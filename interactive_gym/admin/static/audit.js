// @ts-check
/**
 * The Audit tab: who did what and when in the console (logins, failed logins, exports,
 * actions), newest first, from GET /admin/api/audit?limit= (loaded when the tab opens and on
 * "Refresh").
 * @module admin/audit
 */

import { errorMessage, getJson } from "./api.js";
import { byTestId, el, fill, table } from "./dom.js";
import { dateTime, json, text } from "./format.js";
import { auditUrl } from "./query.js";
import { listOf, objectOf } from "./shape.js";

const LIMIT = 500;

export class AuditTab {
  /** @param {HTMLElement} panel  `[data-testid="panel-audit"]` */
  constructor(panel) {
    this.box = byTestId("audit-table", panel);
    this.asked = 0;
    byTestId("audit-refresh", panel).addEventListener("click", () => void this.load());
  }

  async load() {
    const asked = ++this.asked;
    try {
      const payload = await getJson(auditUrl(LIMIT));
      if (asked !== this.asked) return;
      fill(
        this.box,
        table(
          [
            { label: "When", cell: (a) => dateTime(a.at) },
            { label: "Who", cell: (a) => el("code", {}, text(a.actor)) },
            { label: "Action", cell: (a) => text(a.action) },
            { label: "Target", cell: (a) => el("code", {}, text(a.target)) },
            {
              label: "Detail",
              cell: (a) =>
                a.detail === null || a.detail === undefined
                  ? "–"
                  : el("details", {}, el("summary", {}, text(a.detail, 80)), el("pre", { className: "json" }, json(a.detail))),
            },
          ],
          listOf(payload, "entries", "audit", "items", "rows").map(objectOf),
          { empty: "Nothing audited yet.", rowTestId: "audit-row" },
        ),
      );
    } catch (error) {
      if (asked === this.asked) fill(this.box, el("p", { className: "error" }, errorMessage(error)));
    }
  }
}
