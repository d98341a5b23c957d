// @ts-check
/**
 * Constants shared by the main thread (PyodideWorker.js) and the worker (pyodide_worker.js).
 */

/** Every request type the worker answers. */
export const REQUEST_TYPES = Object.freeze([
  "init", "installPackages", "initEnv", "reset", "step", "render",
  "getState", "setState", "batch", "destroy",
  "setupGame", "startEpisode", "tick", // game scenes (ig_game.py, game/worker_hooks.js)
]);

/** Operations allowed inside `batch`. */
export const BATCH_OPS = Object.freeze(["reset", "step", "render", "getState", "setState"]);

/** Slot 0 of the interrupt buffer: Pyodide raises KeyboardInterrupt when it holds SIGINT. */
export const SIGINT = 2;
/** Slot 1 while the main thread is raising an interrupt for the running request. */
export const INTERRUPTING = -1;
/** Slot 1 once the main thread has raised the interrupt. */
export const INTERRUPT_SENT = -2;
