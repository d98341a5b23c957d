// @ts-check
/**
 * The game scene's extension of the Pyodide worker: its worker-side half.
 *
 * The page loads it with `worker.loadExtension({module: <URL of this file>, python:
 * "interactive_gym.runtime.game_host"})`; the Python half (`game_host.py`) answers the game's
 * operations, and the worker (`pyodide_worker.js`) awaits `prepare` before every request.
 *
 * ONNX agents: when `setupGame` declares agents of kind "onnx", the worker imports
 * `./onnx_policies.js` and calls `await setupOnnxPolicies({agentId: spec})` with each agent's
 * declaration (see OnnxPolicy in interactive_gym/study/gym_agents.py); Python only learns that
 * those agents are "onnx". Before every `tick`, the worker reads the ONNX agents' current
 * observations from Python (`onnxObservations`) and calls
 * `await onnxActions({agentId: observation}) -> {agentId: action}`; the actions travel to
 * Python as the tick's `external` actions, so the whole tick is still one round trip.
 * @module worker/game_hooks
 */

/** @typedef {{type: string, id: number, payload?: any}} Request */

/**
 * @typedef {object} OnnxModule
 * @property {(agents: Record<string, any>) => Promise<unknown>} setupOnnxPolicies
 * @property {(observations: Record<string, any>) => Promise<Record<string, any>>} onnxActions
 */

/** @type {OnnxModule | null} */
let onnx = null;

/**
 * Prepare a request before Python sees it (only `setupGame` and `tick` change).
 * @param {Request} request
 * @param {(op: string, payload?: any) => any} callPython  runs a Python operation now, returns
 *   its value
 * @returns {Promise<Request>}
 */
export async function prepare(request, callPython) {
  if (request.type === "setupGame") return setupGame(request);
  if (request.type === "tick" && onnx) {
    const external = await onnx.onnxActions(callPython("onnxObservations"));
    return { ...request, payload: { ...request.payload, external } };
  }
  return request;
}

/** @param {Request} request */
async function setupGame(request) {
  const agents = request.payload?.agents ?? {};
  const specs = Object.entries(agents).filter(([, spec]) => spec?.kind === "onnx");
  onnx = null;
  if (specs.length === 0) return request;
  const module = /** @type {OnnxModule} */ (await import("./onnx_policies.js"));
  await module.setupOnnxPolicies(Object.fromEntries(specs));
  onnx = module;
  const forPython = Object.fromEntries(
    Object.entries(agents).map(([key, spec]) => [key, spec?.kind === "onnx" ? { kind: "onnx" } : spec]),
  );
  return { ...request, payload: { ...request.payload, agents: forPython } };
}
