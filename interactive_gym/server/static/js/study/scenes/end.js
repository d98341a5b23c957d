// @ts-check
/**
 * EndScene in the browser: waits until the server acknowledged every record, then marks the
 * participant completed and only then shows the completion code (and redirects, if the study
 * has a redirect URL; a bot is not redirected). Until then the participant sees that their
 * responses are being saved.
 * @module study/scenes/end
 */

/** @typedef {import("../scene_api.js").SceneDescription} SceneDescription */
/** @typedef {import("../scene_api.js").SceneContext} SceneContext */
/** @typedef {import("../scene_api.js").Completion} Completion */

/**
 * Show a completion (also used by the shell for a participant who already completed).
 * @param {HTMLElement} root
 * @param {string} message  trusted HTML from the study file
 * @param {Completion} completion
 * @param {number} redirectDelayS
 * @param {{redirect?: boolean}} [options]  redirect: false only shows the link (bots)
 */
export function showCompletion(root, message, completion, redirectDelayS, { redirect = true } = {}) {
  root.replaceChildren();
  const content = document.createElement("div");
  content.className = "ig-content";
  content.innerHTML = message;
  const codeLine = document.createElement("p");
  const code = document.createElement("strong");
  code.className = "ig-code";
  code.id = "ig-completion-code";
  code.textContent = completion.completion_code;
  codeLine.append("Your completion code is ", code);
  root.append(content, codeLine);
  if (completion.redirect_url) {
    const link = document.createElement("a");
    link.id = "ig-redirect";
    link.href = completion.redirect_url;
    link.textContent = "Return to the study platform";
    const note = document.createElement("p");
    note.append(redirect ? `You will be sent back in ${redirectDelayS} s, or use this link: ` : "", link);
    root.append(note);
    const url = completion.redirect_url;
    if (redirect) setTimeout(() => window.location.assign(url), redirectDelayS * 1000);
  }
}

/**
 * @param {SceneDescription} scene  {message, redirect_delay_s}
 * @param {SceneContext} ctx
 * @returns {Promise<Completion>}
 */
export async function run(scene, ctx) {
  const saving = document.createElement("p");
  saving.className = "ig-note";
  saving.id = "ig-saving";
  saving.textContent = "Saving your responses\u2026 please keep this page open.";
  ctx.root.append(saving);
  await ctx.drain();
  const completion = await ctx.complete();
  showCompletion(ctx.root, scene.message, completion, scene.redirect_delay_s, { redirect: !ctx.bot });
  return completion;
}
