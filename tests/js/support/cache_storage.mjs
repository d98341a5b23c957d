// @ts-check
// The part of the Cache API the worker's snapshot store uses (open, match, put, delete, keys),
// kept in a folder, so that Node worker threads can share stored snapshots as the pages of
// one origin share theirs. Installed as `caches` by bootstrap.mjs when the test gives a folder.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";

/** @param {string} text */
const hashed = (text) => createHash("sha256").update(text).digest("hex").slice(0, 32);

class FolderCache {
  /** @param {string} dir */
  constructor(dir) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  /** @param {string | {url: string}} request */
  path(request) {
    return join(this.dir, hashed(typeof request === "string" ? request : request.url));
  }

  /** @param {string | {url: string}} request */
  async match(request) {
    const path = this.path(request);
    if (!existsSync(`${path}.json`)) return undefined;
    const { headers } = JSON.parse(readFileSync(`${path}.json`, "utf8"));
    return new Response(readFileSync(`${path}.body`), { headers });
  }

  /** @param {string | {url: string}} request  @param {Response} response */
  async put(request, response) {
    const url = typeof request === "string" ? request : request.url;
    const path = this.path(request);
    writeFileSync(`${path}.body`, new Uint8Array(await response.arrayBuffer()));
    writeFileSync(`${path}.json`, JSON.stringify({ url, headers: Object.fromEntries(response.headers) }));
  }

  /** @param {string | {url: string}} request */
  async delete(request) {
    const path = this.path(request);
    const found = existsSync(`${path}.json`);
    rmSync(`${path}.json`, { force: true });
    rmSync(`${path}.body`, { force: true });
    return found;
  }

  async keys() {
    return readdirSync(this.dir)
      .filter((name) => name.endsWith(".json"))
      .map((name) => ({ url: JSON.parse(readFileSync(join(this.dir, name), "utf8")).url }));
  }
}

/** A `caches` whose caches are subfolders of `dir`. @param {string} dir */
export function folderCaches(dir) {
  return { open: async (/** @type {string} */ name) => new FolderCache(join(dir, hashed(name))) };
}
