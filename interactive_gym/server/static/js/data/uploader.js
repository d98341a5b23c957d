// @ts-check
/**
 * The browser side of the data path: every record a participant produces reaches the server
 * exactly once.
 *
 *   const uploader = new Uploader({ token, participantId });   // or { socket } to share one
 *   uploader.add({ kind: "step", scene_id: "game", episode: 0, step: 12, data: { action: 3 } });
 *   uploader.pendingUploads;   // records not yet acknowledged by the server
 *   await uploader.drain();    // resolves once the server acknowledged every record
 *
 * Records are buffered and cut into sequence-numbered chunks every `flushIntervalMs`. Each chunk
 * is journaled in IndexedDB and sent over socket.io (`chunk` event); it stays in the journal
 * until the server acknowledges it after committing, so it is re-sent across reconnects (with
 * backoff) and after a reload or a crash. On `pagehide` the tail goes out with
 * `fetch(..., {keepalive: true})`. The server ignores a chunk it already stored, so re-sending
 * is always safe. Each chunk also tells the server `pending` (`pendingUploads` when it was sent),
 * which the researcher's live view shows.
 * @module data/uploader
 */

import { Journal } from "./journal.js";

/** Browsers refuse keep-alive requests whose bodies add up to more than 64 KiB. */
const KEEPALIVE_BUDGET = 60 * 1024;
const KINDS = new Set(["step", "survey", "event", "episode", "input"]);

/**
 * A record, as the server stores it. `t` (client time, ms since the epoch) is filled in when
 * missing; `episode`, `attempt` and `step` are null where they do not apply.
 * @typedef {object} UploadRecord
 * @property {"step" | "survey" | "event" | "episode" | "input"} kind
 * @property {string} scene_id
 * @property {number | null} [episode]
 * @property {number | null} [attempt]
 * @property {number | null} [step]
 * @property {number} [t]
 * @property {object} [data]
 */

/**
 * @typedef {object} PendingChunk
 * @property {string} id
 * @property {number} seq
 * @property {UploadRecord[]} records
 * @property {boolean} inFlight
 * @property {number} attempts
 * @property {number} retryAt   earliest time (Date.now()) of the next send
 */

/**
 * @typedef {object} UploaderOptions
 * @property {string} token                 the participant's signed token
 * @property {string} participantId         names the journal (one per participant)
 * @property {any} [socket]                 a socket.io socket to share (connected with auth: {token})
 * @property {Function} [io]                the socket.io `io` function (default: the self-hosted one)
 * @property {string} [url]                 server origin for a socket of our own (default: this page's)
 * @property {string} [endpoint]            keep-alive route (default "/api/chunks")
 * @property {number} [flushIntervalMs]     how often records are cut into a chunk (default 500)
 * @property {number} [maxChunkRecords]     (default 256)
 * @property {number} [maxChunkBytes]       (default 48 KiB, so a chunk fits a keep-alive request)
 * @property {number} [ackTimeoutMs]        resend when no acknowledgement came (default 10 s)
 * @property {number} [retryMinMs]          first backoff (default 250 ms)
 * @property {number} [retryMaxMs]          longest backoff (default 8 s)
 * @property {number} [maxInFlight]         chunks awaiting acknowledgement at once (default 4)
 * @property {boolean} [persist]            journal in IndexedDB (default true)
 * @property {boolean} [flushOnPagehide]    (default true)
 */

/** @returns {string} 32 random hex digits (works outside secure contexts too) */
function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Buffers, journals and uploads records; see the module documentation.
 * Events: "change" (pendingUploads changed), "error" (detail: {reason, records}) when the
 * server refuses records for good or the connection is refused.
 */
export class Uploader extends EventTarget {
  /** @param {UploaderOptions} options */
  constructor(options) {
    super();
    const {
      token,
      participantId,
      socket = null,
      io = null,
      url = undefined,
      endpoint = "/api/chunks",
      flushIntervalMs = 500,
      maxChunkRecords = 256,
      maxChunkBytes = 48 * 1024,
      ackTimeoutMs = 10_000,
      retryMinMs = 250,
      retryMaxMs = 8_000,
      maxInFlight = 4,
      persist = true,
      flushOnPagehide = true,
    } = options;
    if (typeof token !== "string" || !token) throw new TypeError("Uploader: token must be a non-empty string");
    if (typeof participantId !== "string" || !participantId) {
      throw new TypeError("Uploader: participantId must be a non-empty string");
    }
    this.token = token;
    this.participantId = participantId;
    this.endpoint = endpoint;
    this.maxChunkRecords = maxChunkRecords;
    this.maxChunkBytes = maxChunkBytes;
    this.ackTimeoutMs = ackTimeoutMs;
    this.retryMinMs = retryMinMs;
    this.retryMaxMs = retryMaxMs;
    this.maxInFlight = maxInFlight;
    /** @type {{record: UploadRecord, bytes: number}[]} */
    this.buffer = [];
    /** @type {Map<string, PendingChunk>} by chunk id */
    this.chunks = new Map();
    /** @type {{reason: string, records: UploadRecord[]}[]} records the server refused for good */
    this.rejected = [];
    this.inFlight = 0;
    this.generation = 0; // bumped on every (dis)connect: older acknowledgement timeouts are stale
    this.seqKey = `interactive-gym:next-seq:${participantId}`;
    this.nextSeq = this.readSeq();
    /** @type {{resolve: Function, reject: Function}[]} */
    this.drainWaiters = [];
    this.closed = false;
    this.journal = null;
    this.ownSocket = socket === null;
    this.socket = socket;
    this.timer = setInterval(() => this.tick(), flushIntervalMs);
    this.onPagehide = () => this.flushKeepalive();
    this.onHidden = () => document.visibilityState === "hidden" && this.tick();
    if (flushOnPagehide && typeof window !== "undefined") {
      window.addEventListener("pagehide", this.onPagehide);
      document.addEventListener("visibilitychange", this.onHidden);
    }
    /** Resolves once the journal is loaded and the socket is set up. */
    this.ready = this.start({ io, url, persist });
  }

  /** Records not yet acknowledged by the server (buffered + in unacknowledged chunks). */
  get pendingUploads() {
    let n = this.buffer.length;
    for (const chunk of this.chunks.values()) n += chunk.records.length;
    return n;
  }

  /**
   * Queue a record for upload. Throws a TypeError naming the field when it is malformed.
   * @param {UploadRecord} record
   */
  add(record) {
    if (this.closed) throw new Error("Uploader: closed");
    if (!record || typeof record !== "object") throw new TypeError("record: expected an object");
    if (!KINDS.has(record.kind)) throw new TypeError(`record.kind: expected one of ${[...KINDS].join(", ")}`);
    if (typeof record.scene_id !== "string" || !record.scene_id) {
      throw new TypeError("record.scene_id: expected a non-empty string");
    }
    const full = {
      kind: record.kind,
      scene_id: record.scene_id,
      episode: record.episode ?? null,
      attempt: record.attempt ?? null,
      step: record.step ?? null,
      t: record.t ?? performance.timeOrigin + performance.now(),
      data: record.data ?? {},
    };
    const bytes = JSON.stringify(full).length;
    if (bytes > this.maxChunkBytes) {
      throw new TypeError(`record.data: ${bytes} bytes, more than the ${this.maxChunkBytes} a chunk may hold`);
    }
    this.buffer.push({ record: full, bytes });
    this.changed();
  }

  /** Cut what is buffered into chunks and send now (without waiting for the timer). */
  flush() {
    this.tick();
  }

  /**
   * Resolves when the server has acknowledged every record added so far; rejects if the
   * server refused some records for good (their reasons are in `uploader.rejected`).
   * @returns {Promise<void>}
   */
  async drain() {
    this.flush();
    await this.ready;
    return new Promise((resolve, reject) => {
      this.drainWaiters.push({ resolve, reject });
      this.settleDrains();
    });
  }

  /** Stop the timers and listeners (and the socket, when it is our own). Pending data stays journaled. */
  close() {
    this.closed = true;
    clearInterval(this.timer);
    if (typeof window !== "undefined") {
      window.removeEventListener("pagehide", this.onPagehide);
      document.removeEventListener("visibilitychange", this.onHidden);
    }
    if (this.ownSocket) this.socket?.disconnect();
    this.journal?.close();
  }

  /**
   * Stop, and forget everything not yet acknowledged (journal and sequence number included):
   * the researcher reset the participant, so this run's tail is not theirs any more.
   */
  async discard() {
    this.chunks.clear();
    this.buffer = [];
    const journal = this.journal;
    this.journal = null;
    try {
      await journal?.clear();
    } finally {
      this.nextSeq = 0;
      this.writeSeq();
      journal?.close();
      this.close();
    }
  }

  // --- internals -----------------------------------------------------------------------------

  /** @param {{io: Function | null, url: string | undefined, persist: boolean}} options */
  async start({ io, url, persist }) {
    this.journal = await Journal.open(this.participantId, { persist });
    for (const entry of await this.journal.load()) {
      if (this.chunks.has(entry.id)) continue;
      this.chunks.set(entry.id, { id: entry.id, seq: entry.seq, records: entry.records, inFlight: false, attempts: 0, retryAt: 0 });
      this.nextSeq = Math.max(this.nextSeq, entry.seq + 1);
    }
    this.writeSeq();
    // Chunks cut before the journal was open were not written to it yet.
    for (const chunk of this.chunks.values()) this.journalPut(chunk);
    if (this.socket === null) {
      const connect = io ?? (await import("./socketio.js")).io;
      this.socket = connect(url, { auth: { token: this.token }, transports: ["websocket", "polling"] });
    }
    this.socket.on("connect", () => this.reset());
    this.socket.on("disconnect", () => this.reset());
    this.socket.on("connect_error", (/** @type {Error} */ error) => {
      if (!this.socket.active) this.fail(`connection refused: ${error.message}`, []);
    });
    this.changed();
    this.tick();
  }

  tick() {
    if (this.closed) return;
    this.cut();
    this.pump();
  }

  /** Move the buffer into numbered chunks (journaled, then sent). */
  cut() {
    while (this.buffer.length) {
      let bytes = 0;
      let n = 0;
      while (n < this.buffer.length && n < this.maxChunkRecords && bytes + this.buffer[n].bytes <= this.maxChunkBytes) {
        bytes += this.buffer[n].bytes;
        n += 1;
      }
      const records = this.buffer.splice(0, Math.max(n, 1)).map((item) => item.record);
      const chunk = { id: randomId(), seq: this.nextSeq++, records, inFlight: false, attempts: 0, retryAt: 0 };
      this.writeSeq();
      this.chunks.set(chunk.id, chunk);
      if (this.journal) this.journalPut(chunk);
    }
  }

  /** Send whatever is due, up to maxInFlight chunks awaiting acknowledgement. */
  pump() {
    if (!this.socket?.connected) return;
    const now = Date.now();
    for (const chunk of this.chunks.values()) {
      if (this.inFlight >= this.maxInFlight) break;
      if (!chunk.inFlight && chunk.retryAt <= now) this.send(chunk);
    }
  }

  /** @param {PendingChunk} chunk */
  send(chunk) {
    const generation = this.generation;
    const seq = chunk.seq;
    chunk.inFlight = true;
    this.inFlight += 1;
    // pending: records not acknowledged yet, this chunk's included (the server's live view).
    const payload = { seq, id: chunk.id, records: chunk.records, pending: this.pendingUploads };
    this.socket.timeout(this.ackTimeoutMs).emit("chunk", payload, (/** @type {any} */ error, /** @type {any} */ ack) => {
      const current = generation === this.generation;
      if (current) {
        chunk.inFlight = false;
        this.inFlight -= 1;
      }
      if (!this.chunks.has(chunk.id) || chunk.seq !== seq) return; // already settled elsewhere
      if (!error && ack?.ok === true) this.settle(chunk, ack); // valid whenever it arrives
      else if (!current) return; // answer to a send from before a reconnect: it was resent since
      else if (error) this.retryLater(chunk, "no acknowledgement");
      else this.settle(chunk, ack);
      this.pump();
    });
  }

  /**
   * Act on the server's answer for a chunk.
   * @param {PendingChunk} chunk
   * @param {any} ack
   */
  settle(chunk, ack) {
    if (ack && ack.ok === true) {
      this.chunks.delete(chunk.id);
      this.journal?.delete(chunk.id).catch((e) => console.warn("upload journal:", e));
      this.changed();
    } else if (ack && Number.isInteger(ack.next_seq)) {
      // Another chunk holds this seq (this browser's storage was cleared): renumber and resend.
      this.nextSeq = Math.max(this.nextSeq, ack.next_seq);
      chunk.seq = this.nextSeq++;
      chunk.retryAt = 0;
      this.writeSeq();
      this.journalPut(chunk);
    } else if (ack && ack.retry === true) {
      this.retryLater(chunk, ack.error);
    } else {
      this.chunks.delete(chunk.id);
      this.journal?.delete(chunk.id).catch((e) => console.warn("upload journal:", e));
      this.fail(String(ack?.error ?? "malformed acknowledgement"), chunk.records);
    }
  }

  /**
   * @param {PendingChunk} chunk
   * @param {string} why
   */
  retryLater(chunk, why) {
    chunk.attempts += 1;
    const delay = Math.min(this.retryMaxMs, this.retryMinMs * 2 ** (chunk.attempts - 1));
    chunk.retryAt = Date.now() + delay * (0.5 + Math.random() / 2);
    if (chunk.attempts >= 3) console.warn(`upload: chunk ${chunk.seq} not acknowledged yet (${why}); retrying`);
  }

  /** A (re)connection: nothing is in flight on the new connection; resend at once. */
  reset() {
    this.generation += 1;
    this.inFlight = 0;
    for (const chunk of this.chunks.values()) {
      chunk.inFlight = false;
      chunk.retryAt = 0;
    }
    this.pump();
  }

  /** On pagehide: send the tail with keep-alive requests (the journal has it all anyway). */
  flushKeepalive() {
    this.cut();
    let budget = KEEPALIVE_BUDGET;
    // Newest first: those are the chunks least likely to have reached the journal.
    const chunks = [...this.chunks.values()].sort((a, b) => b.seq - a.seq);
    const pending = this.pendingUploads;
    for (const chunk of chunks) {
      const body = JSON.stringify({ token: this.token, seq: chunk.seq, id: chunk.id, records: chunk.records, pending });
      if (body.length > budget) continue;
      budget -= body.length;
      const seq = chunk.seq;
      fetch(this.endpoint, { method: "POST", keepalive: true, headers: { "content-type": "application/json" }, body })
        .then((response) => response.json())
        .then((ack) => {
          if (ack?.ok === true && this.chunks.has(chunk.id) && chunk.seq === seq) this.settle(chunk, ack);
        })
        .catch(() => {}); // the page is going away, or offline: the journal re-sends it later
    }
  }

  /** @param {PendingChunk} chunk */
  journalPut(chunk) {
    this.journal?.put(chunk).catch((e) => console.warn("upload journal: could not save a chunk:", e));
  }

  /**
   * @param {string} reason
   * @param {UploadRecord[]} records
   */
  fail(reason, records) {
    console.error(`upload refused: ${reason}`);
    if (records.length) this.rejected.push({ reason, records });
    this.dispatchEvent(new CustomEvent("error", { detail: { reason, records } }));
    this.changed();
  }

  changed() {
    this.dispatchEvent(new CustomEvent("change", { detail: { pendingUploads: this.pendingUploads } }));
    this.settleDrains();
  }

  settleDrains() {
    if (!this.drainWaiters.length || this.pendingUploads > 0) return;
    const waiters = this.drainWaiters.splice(0);
    const refused = this.rejected.reduce((n, r) => n + r.records.length, 0);
    for (const { resolve, reject } of waiters) {
      if (refused) reject(new Error(`${refused} records were refused by the server: ${this.rejected[0].reason}`));
      else resolve(undefined);
    }
  }

  /** @returns {number} the next sequence number remembered for this participant */
  readSeq() {
    try {
      const value = Number.parseInt(localStorage.getItem(this.seqKey) ?? "0", 10);
      return Number.isInteger(value) && value >= 0 ? value : 0;
    } catch {
      return 0;
    }
  }

  writeSeq() {
    try {
      localStorage.setItem(this.seqKey, String(this.nextSeq));
    } catch {
      // no localStorage: a reused seq is caught by the server (conflict → renumber)
    }
  }
}
