// @ts-check
// The uploader check page: uploads records added with produce(n) (uploader_check.html).
import { Uploader } from "./uploader.js";

const params = new URLSearchParams(location.search);
const status = /** @type {HTMLElement} */ (document.getElementById("status"));
const uploader = new Uploader({
  token: params.get("token") ?? "",
  participantId: params.get("pid") ?? "",
  ackTimeoutMs: Number(params.get("ackTimeoutMs") ?? 3000),
});
const show = () => {
  status.textContent = `pending ${uploader.pendingUploads}, connected ${uploader.socket?.connected ?? false}`;
};
uploader.addEventListener("change", show);
let nextStep = Number(localStorage.getItem("uploader-check:next-step") ?? params.get("firstStep") ?? 0);
/** @type {ReturnType<typeof setInterval> | undefined} */
let producer;

/** Add `n` step records of episode 0 with consecutive step numbers (kept across reloads). */
function produce(n = 1) {
  for (let i = 0; i < n; i += 1) {
    uploader.add({ kind: "step", scene_id: "check", episode: 0, step: nextStep, data: { action: nextStep % 5, obs: [nextStep, 1.5] } });
    nextStep += 1;
  }
  localStorage.setItem("uploader-check:next-step", String(nextStep));
}

Object.assign(window, {
  uploader,
  produce,
  produced: () => nextStep,
  /** Add one record every `everyMs` until stopProducing(). */
  startProducing: (everyMs = 10) => { producer = setInterval(() => produce(1), everyMs); },
  stopProducing: () => { clearInterval(producer); return nextStep; },
  resumedChunks: 0,
});
uploader.ready.then(() => {
  Object.assign(window, { resumedChunks: uploader.chunks.size, uploaderReady: true });
  show();
});
