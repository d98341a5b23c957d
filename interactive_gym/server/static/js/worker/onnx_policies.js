// @ts-check
/**
 * ONNX policies: agents whose actions come from an ONNX model run with onnxruntime-web.
 *
 * Loaded inside the Pyodide module worker, so inference never runs on the page's main thread.
 * The runtime is the npm package pinned in package.json, served by our own server under
 * `/vendor/onnxruntime-web@<version>/`; its WebAssembly comes from the same place (no CDN).
 *
 *   const policies = await createOnnxPolicies(
 *     { 1: { modelURL: "/study-files/<sha256>/policy.onnx", action: "argmax" } },
 *     { vendorURL: "/vendor/onnxruntime-web@1.30.0/" },
 *   );
 *   const actions = await policies.actions(observations); // {"1": 4}
 *
 * Per agent: the observation (`observations[agentId]` when `observations` is an object holding
 * that key, else the whole observation: single-agent environments) is flattened to a
 * Float32Array of the model input's shape, the model runs, and the action is the argmax of the
 * output (or a sample from its softmax, or the raw output). Every failure is an
 * OnnxPolicyError naming the agent and the model.
 */

import { flattenObservation, mulberry32, pickAction } from "./onnx_math.js";

export const ORT_VERSION = "1.30.0";
export const DEFAULT_VENDOR_URL = `/vendor/onnxruntime-web@${ORT_VERSION}/`;
export const ACTION_MODES = ["argmax", "sample", "raw"];

/**
 * @typedef {{
 *   modelURL: string,
 *   model?: string,
 *   inputName?: string | null,
 *   outputName?: string | null,
 *   action?: "argmax" | "sample" | "raw",
 *   shape?: number[] | null,
 *   seed?: number,
 * }} OnnxPolicySpec
 *   `model` is the file name used in messages (default: the last part of `modelURL`);
 *   `shape` overrides the input shape the model declares; `seed` seeds "sample".
 * @typedef {{vendorURL?: string, numThreads?: number, fetch?: typeof fetch}} OnnxOptions
 * @typedef {{
 *   agentIds: string[],
 *   describe: () => Record<string, {model: string, input: string, output: string,
 *     shape: number[], action: string}>,
 *   actions: (observations: any) => Promise<Record<string, number | number[]>>,
 *   release: () => Promise<void>,
 * }} OnnxPolicies
 */

/** A policy's model could not be loaded or run; names the agent and the model. */
export class OnnxPolicyError extends Error {
  /**
   * @param {string} agentId
   * @param {string} model
   * @param {string} message
   */
  constructor(agentId, model, message) {
    super(`ONNX policy of agent ${agentId} (model ${model}): ${message}`);
    this.name = "OnnxPolicyError";
    this.agentId = agentId;
    this.model = model;
  }
}

/** @type {Map<string, Promise<any>>} */
const runtimes = new Map();

/**
 * Import onnxruntime-web once per vendor URL and point it at our own WebAssembly files.
 * @param {string} vendorURL  ends with "/"; the package root
 * @param {number} numThreads
 */
export function loadOrt(vendorURL, numThreads = 1) {
  const base = new URL(vendorURL, self.location.href).href;
  let loading = runtimes.get(base);
  if (!loading) {
    loading = import(`${base}dist/ort.wasm.min.mjs`).then((ort) => {
      ort.env.wasm.wasmPaths = `${base}dist/`;
      ort.env.wasm.numThreads = numThreads;
      ort.env.wasm.proxy = false;
      ort.env.logLevel = "error";
      return ort;
    });
    runtimes.set(base, loading);
    loading.catch(() => runtimes.delete(base));
  }
  return loading;
}

/**
 * Load one model per agent and return the function that picks their actions.
 * @param {Record<string, OnnxPolicySpec>} specs  keyed by agent id
 * @param {OnnxOptions} [options]
 * @returns {Promise<OnnxPolicies>}
 */
export async function createOnnxPolicies(specs, options = {}) {
  if (!specs || typeof specs !== "object" || Array.isArray(specs)) {
    throw new TypeError("ONNX policies need an object {agentId: {modelURL, ...}}");
  }
  const vendorURL = options.vendorURL ?? DEFAULT_VENDOR_URL;
  const ort = await loadOrt(vendorURL, options.numThreads ?? 1).catch((error) => {
    throw new Error(`could not load onnxruntime-web from ${vendorURL}: ${error?.message ?? error}`);
  });
  const doFetch = options.fetch ?? fetch;
  /** @type {Policy[]} */
  const policies = [];
  try {
    for (const [agentId, spec] of Object.entries(specs)) {
      policies.push(await loadPolicy(ort, agentId, spec, doFetch));
    }
  } catch (error) {
    await Promise.all(policies.map((p) => p.session.release().catch(() => {})));
    throw error;
  }
  return {
    agentIds: policies.map((p) => p.agentId),
    describe: () =>
      Object.fromEntries(
        policies.map((p) => [
          p.agentId,
          { model: p.model, input: p.input, output: p.output, shape: p.shape, action: p.mode },
        ]),
      ),
    async actions(observations) {
      /** @type {Record<string, number | number[]>} */
      const chosen = {};
      for (const policy of policies) chosen[policy.agentId] = await runPolicy(ort, policy, observations);
      return chosen;
    },
    async release() {
      await Promise.all(policies.splice(0).map((p) => p.session.release()));
    },
  };
}

/**
 * @typedef {{
 *   agentId: string, model: string, session: any, input: string, output: string,
 *   shape: number[], buffer: Float32Array, mode: string, random: () => number,
 * }} Policy
 */

/**
 * @param {any} ort
 * @param {string} agentId
 * @param {OnnxPolicySpec} spec
 * @param {typeof fetch} doFetch
 * @returns {Promise<Policy>}
 */
async function loadPolicy(ort, agentId, spec, doFetch) {
  const modelURL = typeof spec?.modelURL === "string" ? spec.modelURL : "";
  const model = spec?.model ?? (modelURL.split("/").pop() || "(no modelURL)");
  /** @param {string} message */
  const fail = (message) => new OnnxPolicyError(agentId, model, message);
  if (!modelURL) throw fail("the spec has no modelURL");
  const mode = spec.action ?? "argmax";
  if (!ACTION_MODES.includes(mode)) {
    throw fail(`action must be one of ${ACTION_MODES.join(", ")}, got ${JSON.stringify(mode)}`);
  }

  /** @type {Response} */ let response;
  try {
    response = await doFetch(modelURL);
  } catch (error) {
    throw fail(`could not fetch ${modelURL}: ${/** @type {any} */ (error)?.message ?? error}`);
  }
  if (!response.ok) throw fail(`could not fetch ${modelURL}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());

  let session;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
    });
  } catch (error) {
    throw fail(`not a model onnxruntime-web can load: ${/** @type {any} */ (error)?.message ?? error}`);
  }
  try {
    const input = chooseName(spec.inputName, session.inputNames, "input", fail);
    const output = chooseName(spec.outputName, session.outputNames, "output", fail);
    const meta = session.inputMetadata?.find((/** @type {any} */ m) => m.name === input);
    if (meta?.isTensor && meta.type !== "float32") {
      throw fail(`input ${JSON.stringify(input)} takes ${meta.type} tensors; only float32 is supported`);
    }
    const shape = inputShape(spec.shape, meta?.shape, input, fail);
    const size = shape.reduce((a, b) => a * b, 1);
    return {
      agentId, model, session, input, output, shape, mode,
      buffer: new Float32Array(size),
      random: mulberry32(spec.seed ?? 0),
    }; // prettier-ignore
  } catch (error) {
    await session.release().catch(() => {});
    throw error;
  }
}

/**
 * The tensor name to use: the declared one (checked), else the model's only one.
 * @param {string | null | undefined} declared
 * @param {readonly string[]} names
 * @param {string} kind
 * @param {(message: string) => Error} fail
 */
function chooseName(declared, names, kind, fail) {
  const list = names.map((n) => JSON.stringify(n)).join(", ");
  if (declared != null) {
    if (!names.includes(declared)) {
      throw fail(`the model has no ${kind} ${JSON.stringify(declared)}; its ${kind}s: ${list}`);
    }
    return declared;
  }
  if (names.length !== 1) {
    throw fail(`the model has ${names.length} ${kind}s (${list}); declare ${kind}_name`);
  }
  return names[0];
}

/**
 * The input shape: the declared one, else the model's with symbolic dimensions set to 1.
 * @param {number[] | null | undefined} declared
 * @param {ReadonlyArray<number | string> | undefined} fromModel
 * @param {string} input
 * @param {(message: string) => Error} fail
 * @returns {number[]}
 */
function inputShape(declared, fromModel, input, fail) {
  if (declared != null) {
    if (!Array.isArray(declared) || !declared.every((d) => Number.isInteger(d) && d > 0)) {
      throw fail(`shape must be a list of positive whole numbers, got ${JSON.stringify(declared)}`);
    }
    return [...declared];
  }
  if (!fromModel || fromModel.length === 0) {
    throw fail(`the model does not declare the shape of input ${JSON.stringify(input)}; declare shape`);
  }
  const dynamic = fromModel.filter((d) => typeof d !== "number" || d <= 0).length;
  if (dynamic > 1) {
    throw fail(
      `input ${JSON.stringify(input)} has shape ${JSON.stringify(fromModel)} with ${dynamic} ` +
        "dynamic dimensions; declare shape",
    );
  }
  return fromModel.map((d) => (typeof d === "number" && d > 0 ? d : 1));
}

/**
 * @param {any} ort
 * @param {Policy} policy
 * @param {any} observations
 */
async function runPolicy(ort, policy, observations) {
  /** @param {string} message */
  const fail = (message) => new OnnxPolicyError(policy.agentId, policy.model, message);
  const observation = observationOf(observations, policy.agentId);
  if (observation === undefined) throw fail("there is no observation for this agent");
  const count = flattenObservation(observation, policy.buffer, (message) => {
    throw fail(message);
  });
  if (count !== policy.buffer.length) {
    throw fail(
      `the observation has ${count} numbers but input ${JSON.stringify(policy.input)} has shape ` +
        `${JSON.stringify(policy.shape)} (${policy.buffer.length} numbers)`,
    );
  }
  let outputs;
  try {
    const tensor = new ort.Tensor("float32", policy.buffer, policy.shape);
    outputs = await policy.session.run({ [policy.input]: tensor }, [policy.output]);
  } catch (error) {
    throw fail(`the model failed to run: ${/** @type {any} */ (error)?.message ?? error}`);
  }
  const out = outputs[policy.output];
  try {
    return pickAction(policy.mode, out.data, policy.random);
  } catch (error) {
    throw fail(`output ${JSON.stringify(policy.output)}: ${/** @type {any} */ (error)?.message}`);
  } finally {
    out.dispose?.();
  }
}

/**
 * The observation an agent sees: its entry of a per-agent dict, else the whole observation.
 * @param {any} observations
 * @param {string} agentId
 */
function observationOf(observations, agentId) {
  if (observations instanceof Map) {
    for (const [key, value] of observations) if (String(key) === agentId) return value;
    return observations;
  }
  const isDict =
    observations !== null && typeof observations === "object" && !Array.isArray(observations) &&
    !ArrayBuffer.isView(observations); // prettier-ignore
  return isDict && Object.hasOwn(observations, agentId) ? observations[agentId] : observations;
}

// -- the worker's hook ------------------------------------------------------------------------

/** @type {OnnxPolicies | null} */ let active = null;

/**
 * The worker's hook (worker/game_hooks.js calls it on `setupGame`): set up the ONNX agents of
 * the current scene from its agents
 * (`{agentId: {kind: "onnx", modelURL, ...}}`; agents of other kinds are left alone), after
 * releasing the previous scene's. Resolves with what `describe()` gives (`{}`: none).
 * @param {Record<string, any> | null | undefined} agents
 * @param {OnnxOptions} [options]
 */
export async function setupOnnxPolicies(agents, options = {}) {
  const previous = active;
  active = null;
  await previous?.release();
  const specs = Object.fromEntries(
    Object.entries(agents ?? {}).filter(([, agent]) => agent?.kind === "onnx"),
  );
  if (Object.keys(specs).length > 0) active = await createOnnxPolicies(specs, options);
  return active ? active.describe() : {};
}

/**
 * The worker's hook before every tick: the ONNX agents' actions for their observations
 * (`{agentId: observation}`, or the bare observation of a single-agent environment); `{}`
 * when the scene has none.
 * @param {any} observations
 */
export async function onnxActions(observations) {
  return active ? active.actions(observations) : {};
}
