// @ts-check
/**
 * StaticScene in the browser: the researcher's HTML, an optional required consent checkbox,
 * and a continue button. Resolves with `{consent: true}` on a consent page, `{}` otherwise.
 * @module study/scenes/static
 */

/** @typedef {import("../scene_api.js").SceneDescription} SceneDescription */
/** @typedef {import("../scene_api.js").SceneContext} SceneContext */

/**
 * @param {SceneDescription} scene  {title, html, consent, button}
 * @param {SceneContext} ctx
 * @returns {Promise<{consent?: true}>}
 */
export function run(scene, ctx) {
  const root = ctx.root;
  if (scene.title) {
    const h = document.createElement("h1");
    h.textContent = scene.title;
    root.append(h);
  }
  const content = document.createElement("div");
  content.className = "ig-content";
  content.innerHTML = scene.html; // trusted: written by the researcher in the study file
  root.append(content);

  /** @type {HTMLInputElement|null} */
  let box = null;
  if (scene.consent) {
    const label = document.createElement("label");
    label.className = "ig-consent";
    box = document.createElement("input");
    box.type = "checkbox";
    box.dataset.igConsent = "";
    label.append(box, " ", scene.consent);
    root.append(label);
  }
  const button = document.createElement("button");
  button.type = "button";
  button.className = "ig-continue";
  button.dataset.igContinue = "";
  button.textContent = scene.button;
  button.disabled = box !== null;
  root.append(button);
  if (box) box.addEventListener("change", () => (button.disabled = !box.checked));

  return new Promise((resolve) => {
    button.addEventListener("click", () => {
      if (box && !box.checked) return;
      button.disabled = true;
      if (box) {
        ctx.event("consent", { agreed: true, label: scene.consent });
        resolve({ consent: true });
      } else {
        resolve({});
      }
    });
  });
}

/**
 * A simulated participant: reads for a moment, ticks the consent box, continues.
 * @param {SceneDescription} scene
 * @param {SceneContext} ctx
 */
export async function bot(scene, ctx) {
  await ctx.pause();
  const box = /** @type {HTMLInputElement|null} */ (ctx.root.querySelector("[data-ig-consent]"));
  if (box && !box.checked) box.click();
  await ctx.pause();
  /** @type {HTMLButtonElement} */ (ctx.root.querySelector("[data-ig-continue]")).click();
}
