// @ts-check
/**
 * Building the console's DOM. Text goes in as text nodes only: participants write URL
 * parameters, answers and error messages, so nothing from a payload is ever parsed as HTML
 * (no module of the console assigns markup; tests/js/admin_console.test.mjs checks).
 * @module admin/dom
 */

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 * A child: a node, or text (null, undefined and false are skipped).
 */

/**
 * An element: `attrs` keys are properties (className, type, value, href, ...) except
 * `testid` (→ data-testid), `data` (→ dataset), `attrs` (→ setAttribute) and `on<event>`
 * functions (→ addEventListener).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === "testid") node.dataset.testid = String(value);
    else if (key === "data") Object.assign(node.dataset, value);
    else if (key === "attrs") for (const [name, v] of Object.entries(value)) node.setAttribute(name, String(v));
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else /** @type {any} */ (node)[key] = value;
  }
  append(node, ...children);
  return node;
}

/**
 * Append children (text as text nodes).
 * @param {Node} node
 * @param {...(Child | Child[])} children
 */
export function append(node, ...children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * Replace all of `node`'s children.
 * @param {Element} node
 * @param {...(Child | Child[])} children
 */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, ...children);
}

/**
 * Offer `conditions` in a condition filter (its first option "all conditions"), keeping the
 * choice when it is still offered. Returns whether the options changed.
 * @param {HTMLSelectElement} select
 * @param {string[]} conditions
 */
export function offerConditions(select, conditions) {
  const have = Array.from(select.options, (o) => o.value).filter(Boolean);
  if (have.join("\n") === conditions.join("\n")) return false;
  const current = select.value;
  fill(select, el("option", { value: "" }, "all conditions"), conditions.map((c) => el("option", { value: c }, c)));
  select.value = conditions.includes(current) ? current : "";
  return true;
}

/**
 * The element with `data-testid="<id>"` (or a `#id`) in `root`; throws naming it when absent
 * (the console's HTML and its modules disagree).
 * @param {string} testid
 * @param {ParentNode} [root]
 * @returns {HTMLElement}
 */
export function byTestId(testid, root = document) {
  const node = root.querySelector(`[data-testid="${testid}"]`);
  if (!(node instanceof HTMLElement)) throw new Error(`console.html: no element with data-testid="${testid}"`);
  return node;
}

/**
 * @typedef {object} Column
 * @property {string} label
 * @property {(row: any) => Child | Child[]} cell
 * @property {string} [className]
 */

/**
 * A table of `rows`, or a note saying `empty` when there are none.
 * @param {Column[]} columns
 * @param {any[]} rows
 * @param {{empty?: string, rowTestId?: string, onRow?: (row: any) => void, rowKey?: (row: any) => string}} [options]
 * @returns {HTMLElement}
 */
export function table(columns, rows, options = {}) {
  if (!rows.length) return el("p", { className: "note" }, options.empty ?? "Nothing yet.");
  const head = el("tr", {}, columns.map((c) => el("th", { className: c.className ?? "" }, c.label)));
  const body = rows.map((row) => {
    const tr = el(
      "tr",
      { testid: options.rowTestId },
      columns.map((c) => el("td", { className: c.className ?? "" }, c.cell(row))),
    );
    if (options.rowKey) tr.dataset.key = options.rowKey(row);
    if (options.onRow) {
      const open = /** @type {(row: any) => void} */ (options.onRow);
      tr.classList.add("clickable");
      tr.tabIndex = 0;
      tr.addEventListener("click", () => open(row));
      tr.addEventListener("keydown", (e) => {
        if (e.key === "Enter") open(row);
      });
    }
    return tr;
  });
  return el("table", { className: "grid" }, el("thead", {}, head), el("tbody", {}, body));
}

/**
 * A `<details>` whose open state survives re-rendering: `openKeys` holds the keys of those
 * open before the render.
 * @param {string} key
 * @param {Set<string>} openKeys
 * @param {Child | Child[]} summary
 * @param {...(Child | Child[])} body
 */
export function details(key, openKeys, summary, ...body) {
  const node = el("details", { data: { key }, open: openKeys.has(key) }, el("summary", {}, summary), ...body);
  return node;
}

/** The keys of the open `<details data-key>` under `root`. @param {ParentNode} root */
export function openDetails(root) {
  return new Set(
    Array.from(root.querySelectorAll("details[open][data-key]"), (d) => /** @type {HTMLElement} */ (d).dataset.key ?? ""),
  );
}
