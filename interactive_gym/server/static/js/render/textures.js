/**
 * Images and atlas frames for `image` and `sprite` objects, loaded once per URL from our own
 * server and shared by every object that uses them. Lookups never block a frame: a texture
 * that is still loading is reported as null and `onReady` fires when it arrives.
 */
import { Rectangle, Texture } from "./pixi.js";

/**
 * Atlas JSON in the common "hash" or "array" layout:
 * `{frames: {name: {frame: {x, y, w, h}}}}` or `{frames: [{filename, frame: {...}}]}`.
 * @param {any} json
 * @returns {Map<string, number[]>}
 */
export function atlasFrames(json) {
  const frames = new Map();
  const entries = Array.isArray(json?.frames)
    ? json.frames.map((/** @type {any} */ f) => [f.filename, f])
    : Object.entries(json?.frames ?? {});
  for (const [name, entry] of entries) {
    const f = entry.frame ?? entry;
    frames.set(name, [f.x, f.y, f.w, f.h]);
  }
  return frames;
}

export class TextureCache {
  /**
   * @param {() => void} onReady called after any texture or atlas finishes loading
   * @param {(error: Error) => void} onError called when a URL cannot be loaded
   */
  constructor(onReady, onError) {
    this.onReady = onReady;
    this.onError = onError;
    /** @type {Map<string, Texture | null>} */
    this.images = new Map();
    /** @type {Map<string, Map<string, number[]> | null>} */
    this.atlases = new Map();
    /** @type {Map<string, Texture>} */
    this.frames = new Map();
    /** @type {Set<string>} frame names already reported missing */
    this.missing = new Set();
    this.destroyed = false;
  }

  /**
   * The whole image at `url`, or null while it loads (or if it failed).
   * @param {string} url
   * @returns {Texture | null}
   */
  image(url) {
    if (!this.images.has(url)) {
      this.images.set(url, null);
      const img = new Image();
      img.src = url;
      img.decode().then(
        () => {
          if (this.destroyed) return;
          this.images.set(url, Texture.from(img));
          this.onReady();
        },
        () => this.onError(new Error(`image ${url} could not be loaded`)),
      );
    }
    return this.images.get(url) ?? null;
  }

  /**
   * One frame of an atlas image, by pixel rectangle or by name in `jsonUrl`.
   * @param {string} url atlas image
   * @param {string | number[]} frame
   * @param {string | undefined} jsonUrl
   * @returns {Texture | null}
   */
  frame(url, frame, jsonUrl) {
    const rect = typeof frame === "string" ? this.namedFrame(jsonUrl ?? "", frame) : frame;
    const base = this.image(url);
    if (!rect || !base) return null;
    const key = `${url}|${rect.join(",")}`;
    let texture = this.frames.get(key);
    if (!texture) {
      const [x, y, w, h] = rect;
      texture = new Texture({ source: base.source, frame: new Rectangle(x, y, w, h) });
      this.frames.set(key, texture);
    }
    return texture;
  }

  /**
   * @param {string} jsonUrl
   * @param {string} name
   * @returns {number[] | null}
   */
  namedFrame(jsonUrl, name) {
    if (!this.atlases.has(jsonUrl)) {
      this.atlases.set(jsonUrl, null);
      fetch(jsonUrl)
        .then((r) => {
          if (!r.ok) throw new Error(`HTTP ${r.status}`);
          return r.json();
        })
        .then(
          (json) => {
            if (this.destroyed) return;
            this.atlases.set(jsonUrl, atlasFrames(json));
            this.onReady();
          },
          (e) => this.onError(new Error(`atlas ${jsonUrl} could not be loaded: ${e.message}`)),
        );
    }
    const frames = this.atlases.get(jsonUrl);
    if (!frames) return null;
    const rect = frames.get(name);
    if (!rect && !this.missing.has(`${jsonUrl}|${name}`)) {
      this.missing.add(`${jsonUrl}|${name}`);
      this.onError(new Error(`atlas ${jsonUrl} has no frame named ${JSON.stringify(name)}`));
    }
    return rect ?? null;
  }

  destroy() {
    this.destroyed = true;
    for (const texture of this.frames.values()) texture.destroy(false);
    for (const texture of this.images.values()) texture?.destroy(true);
    this.frames.clear();
    this.images.clear();
  }
}
