// @ts-check
/**
 * Constants shared by the main thread (PyodideWorker.js) and the worker (worker/pyodide_worker.js).
 *
 * The worker answers its own requests (WORKER_REQUESTS) and forwards every other operation
 * name to the Python runtime (`interactive_gym/runtime/handler.py`), which answers the
 * environment operations (ENV_OPERATIONS) and whatever an extension registered (the game
 * scene's `setupGame`, `startEpisode`, `tick`…). So there is no whitelist of operations here:
 * a name Python does not know is refused by Python, by name, with the list of those it does.
 * A request type must still look like an operation name (OPERATION_NAME).
 */

/** The requests the worker itself answers; every other name goes to Python. */
export const WORKER_REQUESTS = Object.freeze(["init", "installPackages", "loadExtension", "destroy"]);

/** The operations the Python runtime always answers (`env_host.ENV_OPERATIONS`). */
export const ENV_OPERATIONS = Object.freeze([
  "initEnv", "reset", "step", "render", "getState", "setState", "batch",
]);

/** Operations allowed inside `batch`. */
export const BATCH_OPS = Object.freeze(["reset", "step", "render", "getState", "setState"]);

/** What a request type must look like (an identifier). */
export const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Slot 0 of the interrupt buffer: Pyodide raises KeyboardInterrupt when it holds SIGINT. */
export const SIGINT = 2;
/** Slot 1 while the main thread is raising an interrupt for the running request. */
export const INTERRUPTING = -1;
/** Slot 1 once the main thread has raised the interrupt. */
export const INTERRUPT_SENT = -2;
