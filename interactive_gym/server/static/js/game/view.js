// @ts-check
/**
 * The game scene's page: title, intro, HUD, the canvas with an overlay (countdown, pause,
 * messages), the loading panel with its progress bar, and the error panel.
 *
 * `[data-ig-game]` carries `data-state`: loading, countdown, playing, paused, between, done or
 * error, for tests and the bot. In a group game, `[data-ig-members]` is a line on the other
 * members (a partner away, left, or played by an AI), with `data-members`: the worst state.
 * @module game/view
 */

/** @typedef {import("../study/scene_api.js").SceneDescription} SceneDescription */

let stylesAdded = false;

function addStyles() {
  if (stylesAdded) return;
  stylesAdded = true;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = new URL("./game.css", import.meta.url).href;
  document.head.append(link);
}

/**
 * @param {string} tag  @param {string} className  @param {Record<string, string>} [data]
 * @returns {HTMLElement}
 */
function el(tag, className, data = {}) {
  const node = document.createElement(tag);
  node.className = className;
  for (const [k, v] of Object.entries(data)) node.dataset[k] = v;
  return node;
}

export class GameView {
  /** @param {HTMLElement} root  @param {SceneDescription} scene */
  constructor(root, scene) {
    addStyles();
    this.root = root;
    root.classList.add("ig-scene-game");
    this.container = el("div", "ig-game", { igGame: "", state: "loading" });
    if (scene.title) {
      const h = document.createElement("h1");
      h.textContent = scene.title;
      this.container.append(h);
    }
    if (scene.intro) {
      const intro = el("div", "ig-content");
      intro.innerHTML = scene.intro; // trusted: written by the researcher in the study file
      this.container.append(intro);
    }
    this.memberLine = el("p", "ig-note ig-game-members", { igMembers: "", members: "here" });
    this.memberLine.setAttribute("aria-live", "polite");
    this.memberLine.hidden = true;
    /** @type {Map<string, {state: string, waitS: number | null}>} other members by agent */
    this.others = new Map();
    this.partners = Math.max(1, (Array.isArray(scene.humans) ? scene.humans.length : 2) - 1);
    this.hud = el("div", "ig-game-hud", { igHud: "" });
    this.hud.setAttribute("aria-live", "off");
    this.stage = el("div", "ig-game-stage");
    this.canvasHolder = el("div", "ig-game-canvas", { igCanvas: "" });
    this.overlay = el("div", "ig-game-overlay", { igOverlay: "" });
    this.overlay.hidden = true;
    this.stage.append(this.canvasHolder, this.overlay);
    this.stage.hidden = true;
    this.hud.hidden = true;

    this.loading = el("div", "ig-game-loading", { igLoading: "" });
    this.loadMessage = el("p", "ig-note", { igLoadMessage: "" });
    this.loadMessage.textContent = "Loading the game\u2026";
    this.bar = el("div", "ig-progress");
    this.bar.setAttribute("role", "progressbar");
    this.bar.setAttribute("aria-valuemin", "0");
    this.bar.setAttribute("aria-valuemax", "1");
    this.barFill = el("div", "ig-progress-bar");
    this.bar.append(this.barFill);
    this.loading.append(this.loadMessage, this.bar);
    this.loading.hidden = true;

    this.errorPanel = el("div", "ig-game-error", { igError: "" });
    this.errorText = el("p", "ig-error", { igErrorText: "" });
    this.errorDetail = el("pre", "ig-game-error-detail");
    this.errorButtons = el("div", "");
    this.errorPanel.append(this.errorText, this.errorDetail, this.errorButtons);
    this.errorPanel.hidden = true;

    this.container.append(this.hud, this.memberLine, this.stage, this.loading, this.errorPanel);
    root.append(this.container);
  }

  /** @param {string} state */
  setState(state) {
    this.container.dataset.state = state;
  }

  /** @param {{stage: string, message: string, fraction?: number}} progress */
  showProgress(progress) {
    this.loading.hidden = false;
    this.loadMessage.textContent = `${progress.message}\u2026`;
    const fraction = Math.max(0, Math.min(1, progress.fraction ?? 0));
    this.bar.setAttribute("aria-valuenow", fraction.toFixed(2));
    this.barFill.style.width = `${(fraction * 100).toFixed(1)}%`;
  }

  showGame() {
    this.loading.hidden = true;
    this.errorPanel.hidden = true;
    this.stage.hidden = false;
    this.hud.hidden = false;
  }

  /**
   * Another member's state changed (group games): the member line says the worst one.
   * @param {string} agentId  @param {string} state  "here" | "away" | "hidden" | "left" | "stand_in"
   * @param {number | null} [waitS]  how long the game waits for a member away or hidden
   */
  showMember(agentId, state, waitS = null) {
    this.others.set(agentId, { state, waitS });
    const who = this.partners > 1 ? "A partner" : "Your partner";
    const states = [...this.others.values()];
    const worst = ["left", "away", "hidden", "stand_in"].find((s) => states.some((o) => o.state === s)) ?? "here";
    const waitOf = (/** @type {string} */ state) => Math.round(states.find((o) => o.state === state)?.waitS ?? 0);
    /** @type {Record<string, string>} */
    const text = {
      left: `${who} left the game.`,
      away: `${who} lost connection — waiting up to ${waitOf("away")} s`,
      hidden: `${who} switched to another tab — waiting up to ${waitOf("hidden")} s`,
      stand_in: `${who} left; an AI plays in their place.`,
      here: "",
    };
    this.memberLine.dataset.members = worst;
    this.memberLine.textContent = text[worst];
    this.memberLine.hidden = worst === "here";
  }

  /** @param {string | null} text  null hides the overlay */
  say(text) {
    this.overlay.hidden = text === null;
    this.overlay.textContent = text ?? "";
  }

  /**
   * Show an error and buttons; resolves with the label of the button clicked.
   * @param {string} text  @param {string} detail  @param {[string, string][]} buttons  [label, data-ig-* name]
   * @returns {Promise<string>}
   */
  showError(text, detail, buttons) {
    this.setState("error");
    this.loading.hidden = true;
    this.errorPanel.hidden = false;
    this.errorText.textContent = text;
    this.errorDetail.textContent = detail;
    this.errorDetail.hidden = !detail;
    return new Promise((resolve) => {
      this.errorButtons.replaceChildren(
        ...buttons.map(([label, name]) => {
          const button = /** @type {HTMLButtonElement} */ (el("button", "ig-continue"));
          button.type = "button";
          button.dataset[name] = "";
          button.textContent = label;
          button.addEventListener("click", () => {
            this.errorPanel.hidden = true;
            resolve(label);
          });
          return button;
        }),
      );
    });
  }

  destroy() {
    this.root.classList.remove("ig-scene-game");
  }
}
