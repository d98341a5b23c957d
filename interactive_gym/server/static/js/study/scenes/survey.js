// @ts-check
/**
 * SurveyScene in the browser: a form of questions. On submit every answer is checked (the same
 * rules as the server); when all are fine the scene resolves with `{answers}`, which the server
 * checks again and stores itself as the scene's "survey" record (the page never uploads answers).
 * @module study/scenes/survey
 */

import { answerRandomly, problem, read, render } from "./survey_questions.js";

/** @typedef {import("../scene_api.js").SceneDescription} SceneDescription */
/** @typedef {import("../scene_api.js").SceneContext} SceneContext */
/** @typedef {import("./survey_questions.js").QuestionDescription} QuestionDescription */

/**
 * @param {SceneDescription} scene  {title, intro, button, questions}
 * @param {SceneContext} ctx
 * @returns {Promise<{answers: Record<string, any>}>}
 */
export function run(scene, ctx) {
  const form = document.createElement("form");
  form.className = "ig-survey";
  form.noValidate = true; // our own checks, with our own messages
  if (scene.title) {
    const h = document.createElement("h1");
    h.textContent = scene.title;
    form.append(h);
  }
  if (scene.intro) {
    const intro = document.createElement("div");
    intro.className = "ig-content";
    intro.innerHTML = scene.intro; // trusted: written by the researcher
    form.append(intro);
  }
  /** @type {QuestionDescription[]} */
  const questions = scene.questions;
  const boxes = questions.map((q) => form.appendChild(render(q)));
  const submit = document.createElement("button");
  submit.type = "submit";
  submit.className = "ig-continue";
  submit.dataset.igContinue = "";
  submit.textContent = scene.button;
  form.append(submit);
  ctx.root.append(form);

  return new Promise((resolve) => {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      /** @type {Record<string, any>} */
      const answers = {};
      /** @type {HTMLElement | null} */
      let first = null;
      for (const [i, q] of questions.entries()) {
        const answer = read(q, boxes[i]);
        const why = problem(q, answer);
        boxes[i].classList.toggle("ig-invalid", why !== null);
        /** @type {HTMLElement} */ (boxes[i].querySelector(".ig-field-error")).textContent = why ?? "";
        if (why !== null && first === null) first = boxes[i];
        answers[q.id] = answer;
      }
      if (first) {
        first.scrollIntoView({ block: "center" });
        return;
      }
      submit.disabled = true;
      resolve({ answers });
    });
  });
}

/**
 * A simulated participant: answers each question with a random valid answer, then submits.
 * @param {SceneDescription} scene
 * @param {SceneContext} ctx
 */
export async function bot(scene, ctx) {
  /** @type {QuestionDescription[]} */
  const questions = scene.questions;
  for (const q of questions) {
    await ctx.pause();
    const box = /** @type {HTMLElement} */ (ctx.root.querySelector(`[data-ig-question="${CSS.escape(q.id)}"]`));
    answerRandomly(q, box);
  }
  await ctx.pause();
  /** @type {HTMLButtonElement} */ (ctx.root.querySelector("[data-ig-continue]")).click();
}
