// @ts-check
/**
 * `window.interactiveGymGame`: a read-only view of the running game scene for tests,
 * benchmarks and pilots (the page-wide `window.interactiveGym` has the study's status).
 *
 *   window.interactiveGymGame.state      "idle" | "loading" | "countdown" | "playing" |
 *                                        "paused" | "between" | "done" | "error"
 *   .sceneId, .episode, .step, .fps, .loadStage, .loadMs
 *   .loadKind                            "boot" | "restore": how the worker's Python started
 *                                        (null before, and on the server runtime)
 *   .stats                               {ticks, late, dropped} of the scene so far
 *   .loads()                             {sceneId: {stage, error}}: background loading of every
 *                                        game scene of the page (stage "ready" once loaded)
 *   .frames(n?)                          the last n (default all kept, at most 20000) frames:
 *     {episode, step, slot, target, start, lateMs, dropped, intervalMs,    // the tick (loop.js)
 *      workerMs, envMs, policyMs, roundTripMs,                          // the round trip
 *      drawMs, drawnAt,                                                  // canvas drawn
 *      paintedAt,                                                        // rAF timestamp of the
 *                                                                        // first frame after it
 *      keyEvents: [{type, key, t}],                                      // keys this tick used
 *      runtime, inputSeq}                                                // "browser" | "server"
 *
 * On the server runtime a frame is a `game:frame` event: `start` is when it arrived,
 * `intervalMs` the time since the previous one, `lateMs` the server tick's lateness,
 * `roundTripMs` and `policyMs` null, `workerMs`/`envMs` the server's when it sends them,
 * `inputSeq` the last input the server applied, and `keyEvents` the key changes that input
 * carried (first applied in this frame). An image frame decoded after a newer one was drawn
 * is not drawn: its `drawnAt` and `paintedAt` stay null.
 *
 * Every frame is also dispatched as `window` event "interactive-gym:frame" (detail: the frame)
 * once its paint time is known. All times are `performance.now()` milliseconds, the clock of
 * `KeyboardEvent.timeStamp`, so key-to-display latency is `paintedAt - keyEvents[i].t`.
 * @module game/probe
 */

const MAX_FRAMES = 20000;

/**
 * @typedef {object} Frame
 * @property {number} episode  @property {number} step  @property {number} slot
 * @property {number} target  @property {number} start  @property {number} lateMs
 * @property {number} dropped  @property {number | null} intervalMs
 * @property {number | null} workerMs  @property {number | null} envMs
 * @property {number | null} policyMs  @property {number | null} roundTripMs
 * @property {number | null} drawMs  @property {number | null} drawnAt  @property {number | null} paintedAt
 * @property {{type: string, key: string, t: number}[]} keyEvents
 * @property {"browser" | "server"} runtime  @property {number | null} inputSeq
 */

/**
 * How a frame's drawing went: `drawnAt` null when it was not drawn (dropped or failed).
 * @typedef {{drawMs: number | null, drawnAt: number | null}} Drawn
 */

class Probe {
  constructor() {
    this.state = "idle";
    /** @type {string | null} */ this.sceneId = null;
    /** @type {number | null} */ this.episode = null;
    /** @type {number | null} */ this.step = null;
    /** @type {number | null} */ this.fps = null;
    /** @type {string | null} */ this.loadStage = null;
    /** @type {number | null} */ this.loadMs = null;
    /** @type {"boot" | "restore" | null} */ this.loadKind = null;
    /** Counts of the episodes finished in this scene. */
    this.finished = { ticks: 0, late: 0, dropped: 0 };
    /** @type {{stats: {ticks: number, late: number, dropped: number}} | null} the running loop */
    this.loop = null;
    /** @type {Frame[]} */ this.kept = [];
    /** @type {Map<string, {stage: string, error: string | null}>} */ this.loads = new Map();
  }

  /** Ticks, late ticks and dropped ticks of the scene so far (the running episode included). */
  get stats() {
    const now = this.loop?.stats ?? { ticks: 0, late: 0, dropped: 0 };
    const f = this.finished;
    return { ticks: f.ticks + now.ticks, late: f.late + now.late, dropped: f.dropped + now.dropped };
  }

  /** The episode's loop starts (a loop) or ends (null). @param {any} loop */
  setLoop(loop) {
    if (this.loop && !loop) this.finished = this.stats;
    this.loop = loop;
  }

  /**
   * Background loading of a scene's environment (preload.js reports every stage).
   * @param {string} sceneId  @param {string} stage  @param {string | null} error
   */
  loading(sceneId, stage, error = null) {
    this.loads.set(sceneId, { stage, error });
  }

  /** A new game scene starts. @param {string} sceneId  @param {number} fps */
  enter(sceneId, fps) {
    Object.assign(this, { sceneId, fps, episode: null, step: null, loadStage: null, loadMs: null, loadKind: null });
    this.finished = { ticks: 0, late: 0, dropped: 0 };
    this.loop = null;
    this.kept = [];
  }

  /**
   * Keep a frame; its paint time is the next animation frame after it was drawn. With
   * `drawing` (an image still decoding) the frame is kept now, in order, and its draw fields
   * are filled when the drawing settles.
   * @param {Frame} frame  @param {Promise<Drawn>} [drawing]
   */
  frame(frame, drawing) {
    this.kept.push(frame);
    if (this.kept.length > MAX_FRAMES) this.kept.splice(0, this.kept.length - MAX_FRAMES);
    const dispatch = () => window.dispatchEvent(new CustomEvent("interactive-gym:frame", { detail: frame }));
    const paint = () =>
      requestAnimationFrame((paintedAt) => {
        frame.paintedAt = paintedAt;
        dispatch();
      });
    if (!drawing) {
      paint();
      return;
    }
    drawing.then(
      ({ drawMs, drawnAt }) => {
        Object.assign(frame, { drawMs, drawnAt });
        if (drawnAt === null) dispatch();
        else paint();
      },
      () => dispatch(),
    );
  }
}

export const probe = new Probe();

/** @param {Frame} f */
const copy = (f) => ({ ...f, keyEvents: f.keyEvents.map((e) => ({ ...e })) });

Object.defineProperty(window, "interactiveGymGame", {
  value: Object.freeze(
    Object.defineProperties(
      {},
      {
        state: { get: () => probe.state, enumerable: true },
        sceneId: { get: () => probe.sceneId, enumerable: true },
        episode: { get: () => probe.episode, enumerable: true },
        step: { get: () => probe.step, enumerable: true },
        fps: { get: () => probe.fps, enumerable: true },
        loadStage: { get: () => probe.loadStage, enumerable: true },
        loadMs: { get: () => probe.loadMs, enumerable: true },
        loadKind: { get: () => probe.loadKind, enumerable: true },
        stats: { get: () => probe.stats, enumerable: true },
        loads: { value: () => Object.fromEntries([...probe.loads].map(([id, l]) => [id, { ...l }])) },
        frames: { value: (/** @type {number} */ n = MAX_FRAMES) => probe.kept.slice(-n).map(copy) },
      },
    ),
  ),
  writable: false,
  configurable: false,
  enumerable: true,
});
