// @ts-check
/**
 * Survey questions in the browser: rendering, reading and checking an answer, and a random
 * valid answer entered through the inputs (for bots). The rules mirror
 * interactive_gym/study/questions.py, which checks the answers again on the server.
 * @module study/scenes/survey_questions
 */

/**
 * @typedef {object} QuestionDescription
 * @property {string} id
 * @property {"likert"|"choice"|"text"|"number"} kind
 * @property {string} text
 * @property {boolean} required
 * @property {number} [points]  @property {string} [low]  @property {string} [high]
 * @property {string[]|null} [labels]
 * @property {string[]} [choices]  @property {boolean} [multiple]
 * @property {boolean} [multiline]  @property {number} [max_length]
 * @property {number|null} [minimum]  @property {number|null} [maximum]  @property {boolean} [integer]
 */

let uid = 0;

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {(Node|string)[]} [children]
 */
function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

/** @param {QuestionDescription} q  @returns {HTMLElement} the question's fieldset */
export function render(q) {
  const box = el("fieldset", { class: "ig-question", "data-ig-question": q.id, "data-kind": q.kind });
  box.append(el("legend", {}, [q.text, q.required ? el("span", { class: "ig-required", title: "required" }, [" *"]) : ""]));
  const name = `q${++uid}_${q.id}`;
  if (q.kind === "likert") {
    const scale = el("div", { class: "ig-likert" });
    for (let p = 1; p <= /** @type {number} */ (q.points); p++) {
      const caption = q.labels ? q.labels[p - 1] : p === 1 ? q.low : p === q.points ? q.high : "";
      scale.append(el("label", {}, [el("input", { type: "radio", name, value: String(p) }), el("span", {}, [String(p)]), caption ? el("small", {}, [caption]) : ""]));
    }
    box.append(scale);
  } else if (q.kind === "choice") {
    for (const choice of /** @type {string[]} */ (q.choices)) {
      const input = el("input", { type: q.multiple ? "checkbox" : "radio", name });
      /** @type {HTMLInputElement} */ (input).value = choice;
      box.append(el("label", { class: "ig-choice" }, [input, " ", choice]));
    }
  } else if (q.kind === "text") {
    const input = el(q.multiline ? "textarea" : "input", { name, maxlength: String(q.max_length) });
    if (!q.multiline) input.setAttribute("type", "text");
    box.append(input);
  } else if (q.kind === "number") {
    const input = el("input", { type: "number", name, step: q.integer ? "1" : "any" });
    if (q.minimum != null) input.setAttribute("min", String(q.minimum));
    if (q.maximum != null) input.setAttribute("max", String(q.maximum));
    box.append(input);
  }
  box.append(el("p", { class: "ig-field-error", "aria-live": "polite" }));
  return box;
}

/**
 * The answer currently entered (null when unanswered).
 * @param {QuestionDescription} q  @param {HTMLElement} box
 * @returns {any}
 */
export function read(q, box) {
  const inputs = /** @type {HTMLInputElement[]} */ ([...box.querySelectorAll("input, textarea")]);
  if (q.kind === "likert") {
    const on = inputs.find((i) => i.checked);
    return on ? Number(on.value) : null;
  }
  if (q.kind === "choice") {
    const on = inputs.filter((i) => i.checked).map((i) => i.value);
    return q.multiple ? (on.length ? on : null) : (on[0] ?? null);
  }
  const raw = inputs[0].value.trim();
  if (!raw) return null;
  if (q.kind === "number") return Number(raw);
  return raw;
}

/**
 * Why an answer is not acceptable, or null when it is (same rules as the server).
 * @param {QuestionDescription} q  @param {any} answer
 * @returns {string|null}
 */
export function problem(q, answer) {
  if (answer === null) return q.required ? "An answer is required." : null;
  if (q.kind === "text" && answer.length > /** @type {number} */ (q.max_length)) return `At most ${q.max_length} characters.`;
  if (q.kind === "number") {
    if (!Number.isFinite(answer)) return "Enter a number.";
    if (q.integer && !Number.isInteger(answer)) return "Enter a whole number.";
    if (q.minimum != null && answer < q.minimum) return `Enter at least ${q.minimum}.`;
    if (q.maximum != null && answer > q.maximum) return `Enter at most ${q.maximum}.`;
  }
  return null;
}

/** @param {number} n  @returns {number} a random integer in [0, n) */
const pick = (n) => Math.floor(Math.random() * n);

/**
 * Enter a random valid answer the way a person would: clicking options, typing text.
 * Optional questions are sometimes left unanswered.
 * @param {QuestionDescription} q  @param {HTMLElement} box
 */
export function answerRandomly(q, box) {
  if (!q.required && Math.random() < 0.25) return;
  const inputs = /** @type {HTMLInputElement[]} */ ([...box.querySelectorAll("input, textarea")]);
  if (q.kind === "likert" || (q.kind === "choice" && !q.multiple)) {
    inputs[pick(inputs.length)].click();
  } else if (q.kind === "choice") {
    const chosen = inputs.filter(() => Math.random() < 0.5);
    for (const input of chosen.length ? chosen : [inputs[pick(inputs.length)]]) input.click();
  } else {
    let value;
    if (q.kind === "text") {
      const words = ["fine", "quick", "clear", "hard", "fun", "ok", "slow", "nice"];
      value = Array.from({ length: 1 + pick(6) }, () => words[pick(words.length)]).join(" ");
      value = value.slice(0, q.max_length);
    } else {
      const lo = q.minimum ?? 0;
      const hi = q.maximum ?? lo + 100;
      const x = lo + Math.random() * (hi - lo);
      const rounded = q.integer ? Math.round(x) : Number(x.toFixed(2));
      value = String(Math.min(q.integer ? Math.floor(hi) : hi, Math.max(q.integer ? Math.ceil(lo) : lo, rounded)));
    }
    inputs[0].focus();
    inputs[0].value = value;
    inputs[0].dispatchEvent(new Event("input", { bubbles: true }));
    inputs[0].dispatchEvent(new Event("change", { bubbles: true }));
  }
}
