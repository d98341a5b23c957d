// @ts-check
/**
 * The contract between the page shell (main.js) and a scene type's browser module.
 *
 * Every scene type is one Python class (interactive_gym/study/) and one ES module exporting:
 *
 *   export async function run(scene, ctx)   // required: show the scene; resolve with the
 *                                           // response the Python class validates
 *   export async function bot(scene, ctx)   // optional: act as a random participant on the
 *                                           // DOM run() rendered (same input path as a person)
 *   export function preload(scene, ctx)     // optional: start slow work (e.g. loading an
 *                                           // environment) while earlier scenes are shown
 *
 * The module's URL comes from the scene description (`scene.module`), so a new scene type
 * needs no change here or in the shell. This file holds the types only.
 * @module study/scene_api
 */

/**
 * What the Python class's `to_client()` sends: id, type, module URL and its own options.
 * @typedef {{scene_id: string, scene_type: string, module: string} & Record<string, any>} SceneDescription
 */

/**
 * One record for the data path (see data/uploader.js); `scene_id`, `attempt` and `t` are
 * filled in by `ctx.record` (`attempt` only when not given: a server-runtime game's input
 * records carry the run number the server records the episode under).
 * @typedef {{episode?: number|null, step?: number|null, attempt?: number, data: Record<string, any>}} RecordFields
 */

/**
 * @typedef {object} Completion
 * @property {string} completion_code
 * @property {string|null} redirect_url
 */

/**
 * What a scene module gets from the shell.
 * @typedef {object} SceneContext
 * @property {HTMLElement} root          the (emptied) element to render into
 * @property {string} participantId
 * @property {number} index              position of the scene in the participant's path
 * @property {number} count              number of scenes in the path
 * @property {number} attempt            1 the first time this scene starts, 2 after a reload, ...
 * @property {boolean} bot               true when the page runs as a simulated participant
 * @property {AbortSignal} signal        aborted when the page must stop (study opened elsewhere,
 *                                       or the server refused records for good)
 * @property {(kind: "survey"|"event"|"step"|"episode"|"input", fields: RecordFields) => void} record
 * @property {(type: string, data?: Record<string, any>) => void} event   an "event" record
 * @property {(fields: {episode?: number|null, step?: number|null}) => void} setStatus
 * @property {() => Promise<void>} drain        resolves once the server acknowledged every record
 * @property {() => Promise<Completion>} complete  end scene only: mark the participant completed
 * @property {() => Promise<void>} pause        bots: a short human-like pause
 * @property {import("./connection.js").Connection} [connection]  the page's socket to the
 *                                       server (game scenes on the server runtime play over it)
 */

/**
 * @typedef {object} SceneModule
 * @property {(scene: SceneDescription, ctx: SceneContext) => Promise<any>} run
 * @property {(scene: SceneDescription, ctx: SceneContext) => Promise<void>} [bot]
 * @property {(scene: SceneDescription, ctx: SceneContext) => void} [preload]
 */

export {};
