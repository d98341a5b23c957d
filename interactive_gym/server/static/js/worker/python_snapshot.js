// @ts-check
/**
 * Memory snapshots of the worker's Python, kept in the browser so that a page opened again
 * restores Python in a fraction of the time a boot takes.
 *
 * A snapshot is Pyodide's memory (`makeMemorySnapshot()`) after boot, micropip, the scene's
 * packages and the runtime module, plus the files those wrote (Pyodide's file system lives
 * outside its memory). It is stored in the Cache API of the page's origin (so never shared
 * with another site) under a key made of everything that determines it: the Pyodide version,
 * the lock file, micropip, the wheelhouse, the package list and the runtime module's source
 * (`snapshotKey`). A stored snapshot carries a SHA-256 of its contents, checked before it is
 * used; anything that does not check out is a `SnapshotProblem`, and the caller boots instead.
 * About half of Pyodide's memory is pages of zeros, which are not stored (`pack`), so a
 * restore reads and checks half as many bytes.
 * At most `LIMITS.entries` snapshots are kept, the oldest evicted first.
 *
 * Used by `python_start.js` (which boots or restores); the main thread only says whether
 * snapshots are on (`PyodideWorker#init({snapshots})`).
 */

/** The Cache API cache that holds the snapshots. */
export const CACHE_NAME = "interactive-gym-python-snapshots";
/** Bump when what goes into a snapshot or its layout changes: old ones are then never found. */
export const FORMAT = 3;
/** At most this many snapshots, each at most `bytes`, together at most `totalBytes`. */
export const LIMITS = Object.freeze({ entries: 3, bytes: 128 * 2 ** 20, totalBytes: 256 * 2 ** 20 });

const MAGIC = "IGPYSNAP";
/** Where the body starts is a multiple of this. */
const ALIGN = 16;
/** Memory is stored page by page; a page of zeros is left out. */
const PAGE = 4096;

/** A stored snapshot that cannot be used; the worker boots instead and records why. */
export class SnapshotProblem extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "SnapshotProblem";
  }
}

/**
 * @typedef {{path: string, data: Uint8Array}} SnapshotFile
 * @typedef {{memory: Uint8Array, files: SnapshotFile[]}} Snapshot
 * @typedef {{format: number, key: string, created: number, memory: number,
 *   runs: [number, number][], files: [string, number][], sha256: string}} Header
 *   `memory`: its length; `runs`: the stored pages, as [first page, pages] runs
 * @typedef {{runs: [number, number][], pages: Uint8Array}} Packed
 */

/** @param {Uint8Array | string} data */
export async function sha256(data) {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", /** @type {BufferSource} */ (bytes)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The key of the snapshot these inputs produce: a SHA-256 over all of them, so a change to any
 * one (a new package, an edited runtime module, another Pyodide) gives a new snapshot.
 * @param {Record<string, unknown>} parts
 */
export function snapshotKey(parts) {
  const sorted = Object.fromEntries(Object.keys(parts).sort().map((k) => [k, parts[k]]));
  return sha256(JSON.stringify({ format: FORMAT, ...sorted }));
}

/**
 * The digest that seals a snapshot: of the stored pages and where they go, and of every file,
 * path included.
 * @param {Packed} packed  @param {SnapshotFile[]} files
 */
async function seal({ runs, pages }, files) {
  const parts = [JSON.stringify(runs), await sha256(pages)];
  for (const file of files) parts.push(file.path, await sha256(file.data));
  return sha256(parts.join("\n"));
}

/**
 * The memory without its pages of zeros: the other pages back to back, and where they go.
 * @param {Uint8Array} memory
 * @returns {Packed}
 */
export function pack(memory) {
  const words = new Uint32Array(memory.buffer, memory.byteOffset, memory.length >> 2);
  const zero = (/** @type {number} */ page) => {
    const start = page * PAGE;
    const end = Math.min(start + PAGE, memory.length);
    for (let i = start >> 2; i < end >> 2; i++) if (words[i] !== 0) return false;
    for (let i = end & ~3; i < end; i++) if (memory[i] !== 0) return false; // a last partial word
    return true;
  };
  /** @type {[number, number][]} */ const runs = [];
  for (let page = 0; page < Math.ceil(memory.length / PAGE); page++) {
    if (zero(page)) continue;
    const last = runs.at(-1);
    if (last && last[0] + last[1] === page) last[1]++;
    else runs.push([page, 1]);
  }
  const pages = new Uint8Array(runs.reduce((sum, [, n]) => sum + n, 0) * PAGE);
  let at = 0;
  for (const [first, n] of runs) {
    const part = memory.subarray(first * PAGE, Math.min((first + n) * PAGE, memory.length));
    pages.set(part, at);
    at += n * PAGE;
  }
  return { runs, pages };
}

/**
 * The memory `pack` packed, `length` bytes.
 * @param {Packed} packed  @param {number} length
 * @throws {SnapshotProblem} when the runs do not fit the memory or the pages
 */
export function unpack({ runs, pages }, length) {
  const memory = new Uint8Array(length);
  let at = 0;
  for (const [first, n] of runs) {
    const start = first * PAGE;
    const size = Math.min(n * PAGE, length - start);
    if (!(Number.isInteger(first) && Number.isInteger(n) && first >= 0 && n > 0 && size > 0 && at + n * PAGE <= pages.length)) {
      throw new SnapshotProblem(`the stored snapshot's page run [${first}, ${n}] does not fit its memory`);
    }
    memory.set(pages.subarray(at, at + size), start);
    at += n * PAGE;
  }
  if (at !== pages.length) throw new SnapshotProblem("the stored snapshot has pages its runs do not place");
  return memory;
}

/** The snapshots of this origin in the Cache API. */
export class SnapshotStore {
  /** @param {{cacheName?: string, limits?: {entries: number, bytes: number, totalBytes: number}}} [options] */
  constructor(options = {}) {
    this.cacheName = options.cacheName ?? CACHE_NAME;
    this.limits = options.limits ?? LIMITS;
  }

  /** Whether this browser can keep snapshots (the Cache API exists here). */
  static get available() {
    return typeof caches !== "undefined";
  }

  /** The cache entry of a key (a URL on this origin that is never fetched). @param {string} key */
  url(key) {
    const origin = globalThis.location?.origin ?? "http://localhost";
    return `${origin}/python-snapshots/${key}`;
  }

  /**
   * The snapshot stored under `key`, or null when there is none.
   * @param {string} key
   * @returns {Promise<Snapshot | null>}
   * @throws {SnapshotProblem} when what is stored is incomplete or altered
   */
  async read(key) {
    const response = await this.find(key);
    return response ? this.open(key, response) : null;
  }

  /**
   * The cache entry of `key`, unread (a quick look: is there one?), or null.
   * @param {string} key
   * @returns {Promise<Response | null>}
   */
  async find(key) {
    const cache = await caches.open(this.cacheName);
    return (await cache.match(this.url(key))) ?? null;
  }

  /**
   * Read and check the snapshot in a cache entry `find` gave.
   * @param {string} key  @param {Response} response
   * @returns {Promise<Snapshot>}
   * @throws {SnapshotProblem} when what is stored is incomplete or altered
   */
  async open(key, response) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    const { header, bodyStart } = parseHeader(bytes, key);
    let offset = bodyStart;
    const take = (/** @type {number} */ n) => {
      const part = bytes.subarray(offset, offset + n);
      offset += n;
      return part;
    };
    const packed = { runs: header.runs, pages: take(header.runs.reduce((sum, [, n]) => sum + n, 0) * PAGE) };
    const files = header.files.map(([path, size]) => ({ path, data: take(size) }));
    if (offset !== bytes.length) {
      throw new SnapshotProblem(`the stored snapshot has ${bytes.length} bytes, its header describes ${offset}`);
    }
    if ((await seal(packed, files)) !== header.sha256) {
      throw new SnapshotProblem("the stored snapshot's contents do not match its SHA-256");
    }
    return { memory: unpack(packed, header.memory), files };
  }

  /**
   * Store a snapshot under `key`, then evict the oldest beyond the limits. Refuses one larger
   * than `limits.bytes` or that the origin's storage quota has no room for.
   * @param {string} key  @param {Snapshot} snapshot
   * @returns {Promise<number>} the bytes stored
   */
  async write(key, snapshot) {
    const packed = pack(snapshot.memory);
    const sizes = snapshot.files.reduce((sum, f) => sum + f.data.length, packed.pages.length);
    /** @type {Header} */
    const header = {
      format: FORMAT,
      key,
      created: Date.now(),
      memory: snapshot.memory.length,
      runs: packed.runs,
      files: snapshot.files.map((f) => [f.path, f.data.length]),
      sha256: await seal(packed, snapshot.files),
    };
    const head = encodeHeader(header);
    const bytes = head.length + sizes;
    if (bytes > this.limits.bytes) {
      throw new SnapshotProblem(`the snapshot has ${bytes} bytes, more than the ${this.limits.bytes} kept`);
    }
    const estimate = await globalThis.navigator?.storage?.estimate?.().catch(() => null);
    if (estimate?.quota !== undefined && estimate.quota - (estimate.usage ?? 0) < 2 * bytes) {
      throw new SnapshotProblem(`the browser's storage has no room for a snapshot of ${bytes} bytes`);
    }
    const parts = [head, packed.pages, ...snapshot.files.map((f) => f.data)];
    const body = new Blob(/** @type {BlobPart[]} */ (parts));
    const cache = await caches.open(this.cacheName);
    const headers = { "content-type": "application/octet-stream", "x-created": String(header.created), "x-bytes": String(bytes) };
    await cache.put(this.url(key), new Response(body, { headers }));
    await this.evict(key);
    return bytes;
  }

  /** Remove the snapshot under `key` (one that could not be used). @param {string} key */
  async drop(key) {
    const cache = await caches.open(this.cacheName);
    await cache.delete(this.url(key));
  }

  /**
   * The stored snapshots, newest first.
   * @returns {Promise<{url: string, created: number, bytes: number}[]>}
   */
  async entries() {
    const cache = await caches.open(this.cacheName);
    const found = [];
    for (const request of await cache.keys()) {
      const response = await cache.match(request);
      if (!response) continue;
      found.push({
        url: request.url,
        created: Number(response.headers.get("x-created") ?? 0),
        bytes: Number(response.headers.get("x-bytes") ?? 0),
      });
    }
    return found.sort((a, b) => b.created - a.created);
  }

  /** Keep the newest snapshots within the limits; `keep` (just stored) always stays. @param {string} keep */
  async evict(keep) {
    const cache = await caches.open(this.cacheName);
    let total = 0;
    let count = 0;
    for (const entry of await this.entries()) {
      const mine = entry.url === this.url(keep);
      if (mine || (count < this.limits.entries && total + entry.bytes <= this.limits.totalBytes)) {
        count++;
        total += entry.bytes;
      } else {
        await cache.delete(entry.url);
      }
    }
  }
}

/** @param {Header} header */
function encodeHeader(header) {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const length = Math.ceil((MAGIC.length + 4 + json.length) / ALIGN) * ALIGN;
  const head = new Uint8Array(length).fill(0x20); // JSON may be followed by spaces
  head.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(head.buffer).setUint32(MAGIC.length, length, true);
  head.set(json, MAGIC.length + 4);
  return head;
}

/**
 * @param {Uint8Array} bytes  @param {string} key
 * @returns {{header: Header, bodyStart: number}}
 */
function parseHeader(bytes, key) {
  if (bytes.length < MAGIC.length + 4 || new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) {
    throw new SnapshotProblem("the stored snapshot does not start as a snapshot does");
  }
  const bodyStart = new DataView(bytes.buffer, bytes.byteOffset).getUint32(MAGIC.length, true);
  if (bodyStart > bytes.length || bodyStart % ALIGN !== 0) {
    throw new SnapshotProblem(`the stored snapshot's header length ${bodyStart} is impossible`);
  }
  /** @type {Header} */ let header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, bodyStart)));
  } catch (error) {
    throw new SnapshotProblem(`the stored snapshot's header is not JSON: ${/** @type {Error} */ (error).message}`);
  }
  if (header.format !== FORMAT || header.key !== key) {
    throw new SnapshotProblem(`the stored snapshot is of format ${header.format} and key ${header.key}`);
  }
  if (!Number.isInteger(header.memory) || !Array.isArray(header.runs) || !Array.isArray(header.files) ||
    typeof header.sha256 !== "string") {
    throw new SnapshotProblem("the stored snapshot's header lacks memory, runs, files or sha256");
  }
  return { header, bodyStart };
}

// -- the file system beside the memory -----------------------------------------------------

/**
 * Every file under `dirs` in Pyodide's file system (it is not part of its memory).
 * @param {any} pyodide  @param {string[]} dirs
 * @returns {SnapshotFile[]}
 */
export function collectFiles(pyodide, dirs) {
  /** @type {SnapshotFile[]} */ const files = [];
  const walk = (/** @type {string} */ dir) => {
    for (const name of pyodide.FS.readdir(dir)) {
      if (name === "." || name === "..") continue;
      const path = `${dir}/${name}`;
      if (pyodide.FS.isDir(pyodide.FS.stat(path).mode)) walk(path);
      else files.push({ path, data: pyodide.FS.readFile(path) });
    }
  };
  for (const dir of dirs) if (pyodide.FS.analyzePath(dir).exists) walk(dir);
  return files;
}

/** Write a snapshot's files into a restored Pyodide. @param {any} pyodide  @param {SnapshotFile[]} files */
export function writeFiles(pyodide, files) {
  for (const { path, data } of files) {
    pyodide.FS.mkdirTree(path.slice(0, path.lastIndexOf("/")));
    pyodide.FS.writeFile(path, data);
  }
}

// -- the JavaScript objects Python holds -------------------------------------------------------

/**
 * The JavaScript objects micropip keeps references to (the Pyodide API and three of its
 * functions). A snapshot stores them by name; a restore hands back stand-ins that call the
 * restored Pyodide. Any other object Python holds makes the snapshot fail, by name.
 * @type {Record<string, (pyodide: any) => any>}
 */
const KNOWN_OBJECTS = {
  pyodide: (p) => p,
  loadPackage: (p) => p.loadPackage,
  install: (p) => p._api.install,
  loadBinaryFile: (p) => p._api.loadBinaryFile,
};

/** The `serializer` of `makeMemorySnapshot`. @param {any} pyodide */
export function serializerFor(pyodide) {
  return (/** @type {any} */ object) => {
    for (const [name, get] of Object.entries(KNOWN_OBJECTS)) if (get(pyodide) === object) return { known: name };
    const what = typeof object === "function" ? `function ${object.name || "(anonymous)"}` : `object with ${Object.keys(object ?? {}).slice(0, 5).join(", ")}`;
    throw new SnapshotProblem(`Python holds a JavaScript ${what}, which a snapshot cannot keep`);
  };
}

/**
 * The `_snapshotDeserializer` of `loadPyodide`: stand-ins for the known objects, calling the
 * Pyodide `restored()` returns once the restore finished.
 * @param {() => any} restored
 */
export function deserializerFor(restored) {
  return (/** @type {any} */ stored) => {
    const name = stored?.known;
    if (!(name in KNOWN_OBJECTS)) throw new SnapshotProblem(`the snapshot refers to an unknown object ${JSON.stringify(stored)}`);
    if (name === "pyodide") {
      return new Proxy({}, {
        get: (_, property) => restored()[property],
        has: (_, property) => property in restored(),
        ownKeys: () => Reflect.ownKeys(restored()),
        getOwnPropertyDescriptor: (_, property) => {
          const found = Reflect.getOwnPropertyDescriptor(restored(), property);
          return found && { ...found, configurable: true };
        },
      });
    }
    return (/** @type {any[]} */ ...args) => KNOWN_OBJECTS[name](restored())(...args);
  };
}
