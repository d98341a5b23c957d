// @ts-check
/**
 * The Data tab: the export download, as one link (an `<a download>`; the session cookie goes
 * along) to GET /admin/api/export?format=&status=&condition=&bots=&excluded=&participant=,
 * rebuilt whenever a filter changes. The server answers a zip of what
 * `python -m interactive_gym.export` writes for those participants (tables, datapackage.json,
 * CODEBOOK.md), with filter.json.
 * @module admin/data
 */

import { byTestId, offerConditions } from "./dom.js";
import { exportUrl } from "./query.js";

export class DataTab {
  /** @param {HTMLElement} panel  `[data-testid="panel-data"]` */
  constructor(panel) {
    this.form = /** @type {HTMLFormElement} */ (byTestId("export-form", panel));
    this.link = /** @type {HTMLAnchorElement} */ (byTestId("export-link", panel));
    this.shownUrl = byTestId("export-url", panel);
    this.condition = /** @type {HTMLSelectElement} */ (byTestId("export-condition", panel));
    this.form.addEventListener("input", () => this.update());
    this.form.addEventListener("change", () => this.update());
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.link.click();
    });
    this.update();
  }

  /** @param {string} name */
  value(name) {
    const field = this.form.elements.namedItem(name);
    return field instanceof HTMLInputElement || field instanceof HTMLSelectElement ? field.value : "";
  }

  update() {
    const url = exportUrl({
      format: this.value("format"),
      status: this.value("status"),
      condition: this.value("condition"),
      bots: this.value("bots"),
      excluded: this.value("excluded"),
      participant: this.value("participant").split(/[\s,]+/),
    });
    this.link.href = url;
    this.shownUrl.textContent = url;
  }

  /** The conditions offered by the filter. @param {string[]} conditions */
  setConditions(conditions) {
    if (offerConditions(this.condition, conditions)) this.update();
  }
}
