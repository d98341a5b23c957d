// @ts-check
/**
 * Encoded image frames, as the server runtime sends them (interactive_gym/server/frames.py):
 * `{kind: "image", format: "jpeg" | "webp" | "png", width, height, data: ArrayBuffer}`.
 * Decoding is asynchronous (`createImageBitmap`); the renderer draws a decoded frame only when
 * nothing newer was drawn meanwhile (renderer.js), into the same layer as rgb frames (rgb.js).
 */
import { DrawListError } from "./check.js";

const FORMATS = new Set(["jpeg", "webp", "png"]);

/** @typedef {{kind: "image", format: "jpeg" | "webp" | "png", width: number, height: number, data: ArrayBuffer | ArrayBufferView}} ImageFrame */

/**
 * True for an object shaped like an image frame (checked in full by `decodeImageFrame`).
 * @param {unknown} value
 * @returns {value is ImageFrame}
 */
export function isImageFrame(value) {
  return typeof value === "object" && value !== null && /** @type {any} */ (value).kind === "image";
}

/**
 * Decode an image frame; rejects with a DrawListError naming what is wrong.
 * @param {ImageFrame} frame
 * @returns {Promise<ImageBitmap>}
 */
export async function decodeImageFrame(frame) {
  const { format, width, height, data } = frame;
  if (!FORMATS.has(format)) throw new DrawListError(`image frame format ${JSON.stringify(format)}: expected jpeg, webp or png`);
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new DrawListError(`image frame width/height are ${width}/${height}, expected positive integers`);
  }
  if (!(data instanceof ArrayBuffer || ArrayBuffer.isView(data)) || data.byteLength === 0) {
    throw new DrawListError("image frame data is not binary (expected an ArrayBuffer)");
  }
  const bytes = data instanceof ArrayBuffer ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  try {
    return await createImageBitmap(new Blob([/** @type {BlobPart} */ (bytes)], { type: `image/${format}` }));
  } catch (error) {
    throw new DrawListError(`image frame (${format}, ${data.byteLength} bytes) could not be decoded: ${/** @type {Error} */ (error).message}`);
  }
}
