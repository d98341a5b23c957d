// @ts-check
/**
 * The upload journal: every chunk not yet acknowledged by the server is kept in IndexedDB,
 * so a reload, a closed tab or a crash re-sends it on the next page load.
 *
 * Falls back to memory (with a console warning) where IndexedDB is unavailable; uploads still
 * work, they just do not survive a reload there.
 * @module data/journal
 */

const DB_NAME = "interactive-gym-uploads";
const DB_VERSION = 1;
const STORE = "chunks";

/** @typedef {import("./uploader.js").UploadRecord} UploadRecord */

/**
 * One journaled chunk.
 * @typedef {object} JournalEntry
 * @property {string} participantId
 * @property {string} id      random id given when the chunk was cut (kept across resends)
 * @property {number} seq     sequence number (may change once, on a conflict)
 * @property {UploadRecord[]} records
 */

/**
 * @param {IDBRequest | IDBTransaction} target
 * @returns {Promise<any>}
 */
function settle(target) {
  return new Promise((resolve, reject) => {
    if ("oncomplete" in target) {
      target.oncomplete = () => resolve(undefined);
      target.onabort = () => reject(target.error ?? new Error("IndexedDB transaction aborted"));
      target.onerror = () => reject(target.error);
    } else {
      target.onsuccess = () => resolve(target.result);
      target.onerror = () => reject(target.error);
    }
  });
}

/** @returns {Promise<IDBDatabase>} */
function openDatabase() {
  const request = indexedDB.open(DB_NAME, DB_VERSION);
  request.onupgradeneeded = () => {
    const db = request.result;
    if (!db.objectStoreNames.contains(STORE)) {
      db.createObjectStore(STORE, { keyPath: ["participantId", "id"] });
    }
  };
  return settle(request);
}

/** Unacknowledged chunks of one participant, in IndexedDB (or memory as a fallback). */
export class Journal {
  /**
   * @param {string} participantId
   * @param {IDBDatabase | null} db  null: keep entries in memory only
   */
  constructor(participantId, db) {
    this.participantId = participantId;
    this.db = db;
    /** @type {Map<string, JournalEntry>} */
    this.memory = new Map();
    /** @type {boolean} true when entries survive a reload */
    this.durable = db !== null;
  }

  /**
   * @param {string} participantId
   * @param {{persist?: boolean}} [options]  persist: false keeps the journal in memory
   * @returns {Promise<Journal>}
   */
  static async open(participantId, { persist = true } = {}) {
    if (!persist) return new Journal(participantId, null);
    try {
      if (typeof indexedDB === "undefined") throw new Error("IndexedDB is not available");
      return new Journal(participantId, await openDatabase());
    } catch (error) {
      console.warn("upload journal: IndexedDB unavailable, unacknowledged data will not survive a reload:", error);
      return new Journal(participantId, null);
    }
  }

  /**
   * @param {"readonly" | "readwrite"} mode
   * @returns {IDBObjectStore}
   */
  store(mode) {
    const db = /** @type {IDBDatabase} */ (this.db);
    // "strict": the write is flushed to disk before the transaction completes (crash-safe).
    return db.transaction(STORE, mode, { durability: "strict" }).objectStore(STORE);
  }

  /** @returns {Promise<JournalEntry[]>} the participant's entries, by sequence number */
  async load() {
    /** @type {JournalEntry[]} */
    let entries;
    if (this.db) {
      const range = IDBKeyRange.bound([this.participantId, ""], [this.participantId, "\uffff"]);
      entries = await settle(this.store("readonly").getAll(range));
    } else {
      entries = [...this.memory.values()];
    }
    return entries.sort((a, b) => a.seq - b.seq);
  }

  /**
   * Add or replace an entry (same id).
   * @param {{id: string, seq: number, records: UploadRecord[]}} chunk
   */
  async put(chunk) {
    const entry = { participantId: this.participantId, id: chunk.id, seq: chunk.seq, records: chunk.records };
    if (!this.db) {
      this.memory.set(chunk.id, entry);
      return;
    }
    const store = this.store("readwrite");
    store.put(entry);
    await settle(store.transaction);
  }

  /** @param {string} id */
  async delete(id) {
    if (!this.db) {
      this.memory.delete(id);
      return;
    }
    const store = this.store("readwrite");
    store.delete([this.participantId, id]);
    await settle(store.transaction);
  }

  /** Delete every entry of the participant (their run was reset: nothing of it is sent). */
  async clear() {
    if (!this.db) {
      this.memory.clear();
      return;
    }
    const store = this.store("readwrite");
    store.delete(IDBKeyRange.bound([this.participantId, ""], [this.participantId, "\uffff"]));
    await settle(store.transaction);
  }

  close() {
    this.db?.close();
  }
}
