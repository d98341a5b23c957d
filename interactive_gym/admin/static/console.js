// @ts-check
/**
 * The admin console's entry (loaded by console.html, which interactive_gym/admin serves at
 * /admin with the session's CSRF token in `<meta name="ig-csrf">`): the tabs (the place is kept
 * in location.hash: #overview, #participants, #participant/<id>, #games, #plots, #data,
 * #audit), the live socket and its indicator, the session-expired notice, and each tab's
 * module wired to the pushes.
 * @module admin/console
 */

import { csrfToken, getJson, onExpired } from "./api.js";
import { AuditTab } from "./audit.js";
import { DataTab } from "./data.js";
import { ParticipantDetail } from "./detail.js";
import { byTestId } from "./dom.js";
import { renderGames } from "./games.js";
import { Live } from "./live.js";
import { conditionsOf, renderOverview } from "./overview.js";
import { ParticipantList } from "./participants.js";
import { Plots } from "./plots.js";
import { apiUrl, parseHash, participantHash } from "./query.js";
import { objectOf } from "./shape.js";

const TABS = ["overview", "participants", "games", "plots", "data", "audit"];

function main() {
  const csrf = csrfToken();
  // The logout form's hidden field (in case the server filled in only the meta tag).
  const logoutField = /** @type {HTMLInputElement} */ (byTestId("logout-csrf"));
  logoutField.value = csrf;

  const panels = Object.fromEntries(TABS.map((tab) => [tab, byTestId(`panel-${tab}`)]));
  const live = new Live(csrf);
  const list = new ParticipantList(panels.participants, (id) => {
    location.hash = participantHash(id);
  });
  const listView = byTestId("participants-list", panels.participants);
  const detail = new ParticipantDetail(byTestId("participant-detail", panels.participants), (id) => live.watch(id));
  const plots = new Plots(panels.plots);
  const data = new DataTab(panels.data);
  const audit = new AuditTab(panels.audit);

  /** @param {unknown} payload */
  const overview = (payload) => {
    renderOverview(panels.overview, payload);
    const experiment = objectOf(payload).experiment_id;
    if (typeof experiment === "string") byTestId("experiment-id").textContent = experiment;
    const conditions = conditionsOf(payload);
    list.setConditions(conditions);
    data.setConditions(conditions);
  };
  /** @param {unknown} payload */
  const games = (payload) => renderGames(panels.games, payload, () => void getJson(apiUrl("games")).then(games, () => {}));

  live.addEventListener("overview", (e) => {
    overview(/** @type {CustomEvent} */ (e).detail);
    list.pushed();
  });
  live.addEventListener("games", (e) => games(/** @type {CustomEvent} */ (e).detail));
  live.addEventListener("participant", (e) => detail.pushed(/** @type {CustomEvent} */ (e).detail));

  const indicator = byTestId("live-status");
  const tick = () => live.render(indicator, Date.now());
  live.addEventListener("status", tick);
  setInterval(tick, 1000);
  tick();

  onExpired(() => {
    byTestId("session-expired").hidden = false;
    document.body.dataset.expired = "1";
  });

  let current = "";
  const route = () => {
    const { tab, participantId } = parseHash(location.hash, TABS);
    for (const name of TABS) {
      const selected = name === tab;
      panels[name].hidden = !selected;
      const button = byTestId(`tab-${name}`);
      button.setAttribute("aria-selected", String(selected));
      button.classList.toggle("active", selected);
    }
    if (participantId !== null) {
      listView.hidden = true;
      void detail.open(participantId);
    } else {
      detail.close();
      listView.hidden = false;
    }
    list.setShown(tab === "participants" && participantId === null);
    plots.setShown(tab === "plots");
    live.showGames(tab === "games");
    if (tab === "audit" && current !== "audit") void audit.load();
    current = tab;
    document.body.dataset.tab = tab;
  };
  window.addEventListener("hashchange", route);
  for (const name of TABS) {
    byTestId(`tab-${name}`).addEventListener("click", () => {
      location.hash = `#${name}`;
    });
  }
  route();

  // The first view before the first push (the pushes take over from there).
  const unlessPushed = (/** @type {(payload: unknown) => void} */ show) => (/** @type {unknown} */ payload) => {
    if (live.lastPushAt === null) show(payload);
  };
  getJson(apiUrl("overview")).then(unlessPushed(overview), () => {});
  getJson(apiUrl("games")).then(unlessPushed(games), () => {});
}

main();
