// @ts-check
/**
 * The researcher's actions (interactive_gym/admin/actions.py): exclude a participant, include
 * them again, reset them, release a waiting room. Each opens the confirmation dialog
 * (console.html's `<dialog data-testid="confirm-dialog">`) naming its target; only on
 * "Confirm" is it sent: POST /admin/api/actions/<name> with the CSRF token and a JSON body
 * `{participant_id | room_id, reason?, confirm: <target id>}`. The server's answer (or its
 * error message) is shown in `[data-testid="action-result"]`; an error also in the dialog,
 * which then stays open.
 * @module admin/actions
 */

import { ApiError, errorMessage, postJson } from "./api.js";
import { byTestId } from "./dom.js";
import { actionUrl } from "./query.js";

/**
 * @typedef {object} ActionSpec
 * @property {string} title
 * @property {string} explain
 * @property {"participant_id" | "room_id"} target
 * @property {"required" | "optional" | null} reason   whether the dialog asks for a reason
 * @property {(target: string, answer: any) => string} done   the result line
 */

/** Most reason text the server keeps. */
export const MAX_REASON = 500;

/** @param {unknown} n  @param {string} one  @param {string} many */
const count = (n, one, many) => (typeof n === "number" ? `${n} ${n === 1 ? one : many}` : `? ${many}`);

/** @type {Record<string, ActionSpec>} */
export const ACTIONS = {
  exclude: {
    title: "Exclude participant",
    explain: "Their data is kept and flagged as excluded in the export. The participant is not told.",
    target: "participant_id",
    reason: "required",
    done: (id) => `Excluded ${id}.`,
  },
  include: {
    title: "Include participant again",
    explain: "Clears the excluded flag: their data counts again.",
    target: "participant_id",
    reason: null,
    done: (id) => `Included ${id} again.`,
  },
  reset: {
    title: "Reset participant",
    explain:
      "Their data moves to the id <id>~reset-<n> (kept, marked reset) and the id starts the study afresh on their next visit. Their open pages are disconnected.",
    target: "participant_id",
    reason: "optional",
    done: (id, a) => `Reset ${id}: their data is now under ${typeof a?.moved_to === "string" ? a.moved_to : "another id"}; ${count(a?.disconnected, "page", "pages")} disconnected.`,
  },
  "release-room": {
    title: "Release waiting room",
    explain: "Everyone waiting in this room gets the room's timeout outcome now.",
    target: "room_id",
    reason: null,
    done: (id, a) => `Released ${id}: ${count(a?.released, "participant", "participants")} sent on.`,
  },
};

/** Show the outcome of the last action. @param {"ok" | "error" | "working"} state  @param {string} message */
export function showResult(state, message) {
  const node = byTestId("action-result");
  node.dataset.state = state;
  node.textContent = message;
  node.hidden = false;
}

/**
 * Confirm, then run an action; resolves with the server's answer, or null when cancelled or
 * failed (the error is shown).
 * @param {string} name   a key of ACTIONS
 * @param {string} targetId
 * @returns {Promise<any | null>}
 */
export function runAction(name, targetId) {
  const spec = ACTIONS[name];
  if (!spec) throw new Error(`runAction: unknown action ${JSON.stringify(name)}`);
  const dialog = /** @type {HTMLDialogElement} */ (byTestId("confirm-dialog"));
  const form = /** @type {HTMLFormElement} */ (dialog.querySelector("form"));
  const ok = /** @type {HTMLButtonElement} */ (byTestId("confirm-ok", dialog));
  const cancel = /** @type {HTMLButtonElement} */ (byTestId("confirm-cancel", dialog));
  const reasonBox = byTestId("confirm-reason-field", dialog);
  const reason = /** @type {HTMLTextAreaElement} */ (byTestId("confirm-reason", dialog));
  const error = byTestId("confirm-error", dialog);
  byTestId("confirm-title", dialog).textContent = spec.title;
  byTestId("confirm-text", dialog).textContent = spec.explain;
  byTestId("confirm-target", dialog).textContent = targetId;
  dialog.dataset.action = name;
  reasonBox.hidden = spec.reason === null;
  reason.required = spec.reason === "required";
  reason.maxLength = MAX_REASON;
  byTestId("confirm-reason-label", dialog).textContent = spec.reason === "required" ? "Reason (required)" : "Reason (optional)";
  reason.value = "";
  error.textContent = "";
  ok.disabled = false;
  ok.textContent = spec.title.split(" ")[0];

  return new Promise((resolve) => {
    let result = /** @type {any} */ (null);
    const onSubmit = async (/** @type {SubmitEvent} */ e) => {
      e.preventDefault();
      error.textContent = "";
      const why = reason.value.trim();
      if (spec.reason === "required" && !why) {
        error.textContent = "Give a reason: it is kept with the data and in the audit log.";
        reason.focus();
        return;
      }
      ok.disabled = true;
      /** @type {Record<string, string>} */
      const body = { [spec.target]: targetId, confirm: targetId };
      if (spec.reason !== null && why) body.reason = why;
      showResult("working", `${spec.title}: ${targetId}…`);
      try {
        result = await postJson(actionUrl(name), body);
        const message = typeof result?.message === "string" && result.message ? result.message : spec.done(targetId, result);
        showResult("ok", message);
        dialog.close("done");
      } catch (err) {
        const message = errorMessage(err);
        showResult("error", `${spec.title} failed: ${message}`);
        error.textContent = message;
        ok.disabled = err instanceof ApiError && err.status === 401;
        if (err instanceof ApiError && err.status === 401) dialog.close("expired");
      }
    };
    const onCancel = () => dialog.close("cancel");
    const onClose = () => {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("close", onClose);
      resolve(result);
    };
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("close", onClose);
    dialog.showModal();
    (spec.reason !== null ? reason : ok).focus();
  });
}
