/**
 * `rgb_array` frames: a nested H×W×3 list, or `{rgb, width, height}` with `rgb` flat
 * row-major RGB values (Uint8Array, ArrayBuffer or array). The frame is copied into one
 * reused offscreen canvas and shown stretched over the whole canvas, beneath every draw object.
 * Decoded image frames (image.js) are shown the same way (`drawBitmap`).
 */
import { Sprite, Texture } from "./pixi.js";
import { DrawListError } from "./check.js";

/**
 * The frame's size and flat RGB values, or a DrawListError naming what is wrong.
 * @param {any} frame
 * @returns {{width: number, height: number, rgb: ArrayLike<number>}}
 */
export function flatRgb(frame) {
  if (Array.isArray(frame)) {
    const height = frame.length;
    const width = Array.isArray(frame[0]) ? frame[0].length : 0;
    const rgb = new Uint8ClampedArray(width * height * 3);
    let i = 0;
    for (let r = 0; r < height; r++) {
      const row = frame[r];
      if (!Array.isArray(row) || row.length !== width || width === 0) {
        throw new DrawListError(`rgb frame row ${r} is not a list of ${width} [r, g, b] pixels`);
      }
      for (let c = 0; c < width; c++) {
        const px = row[c];
        if (!px || px.length !== 3) throw new DrawListError(`rgb frame pixel [${r}][${c}] is not [r, g, b]`);
        rgb[i++] = px[0];
        rgb[i++] = px[1];
        rgb[i++] = px[2];
      }
    }
    return { width, height, rgb };
  }
  const { width, height } = frame;
  let rgb = frame.rgb;
  if (rgb instanceof ArrayBuffer) rgb = new Uint8Array(rgb);
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new DrawListError(`rgb frame width/height are ${width}/${height}, expected positive integers`);
  }
  if (!rgb || typeof rgb.length !== "number" || rgb.length !== width * height * 3) {
    throw new DrawListError(`rgb frame has ${rgb?.length} values, expected width*height*3 = ${width * height * 3}`);
  }
  return { width, height, rgb };
}

export class RgbLayer {
  /**
   * @param {import("./pixi.js").Container} stage
   * @param {number} width canvas width
   * @param {number} height canvas height
   */
  constructor(stage, width, height) {
    this.canvas = document.createElement("canvas");
    this.context = /** @type {CanvasRenderingContext2D} */ (this.canvas.getContext("2d"));
    /** @type {ImageData | null} */
    this.image = null;
    /** @type {Texture | null} */
    this.texture = null;
    this.sprite = new Sprite(Texture.EMPTY);
    this.sprite.zIndex = -Number.MAX_VALUE;
    this.sprite.visible = false;
    this.size = [width, height];
    stage.addChild(this.sprite);
  }

  /** Size the offscreen canvas (and its texture) to a frame's. @param {number} width @param {number} height */
  _size(width, height) {
    if (this.image && this.image.width === width && this.image.height === height) return;
    this.canvas.width = width;
    this.canvas.height = height;
    this.image = this.context.createImageData(width, height);
    this.image.data.fill(255);
    this.texture?.destroy(true);
    this.texture = Texture.from(this.canvas);
    this.texture.source.scaleMode = "nearest";
    this.sprite.texture = this.texture;
  }

  _show() {
    /** @type {Texture} */ (this.texture).source.update();
    this.sprite.width = this.size[0];
    this.sprite.height = this.size[1];
    this.sprite.visible = true;
  }

  /** @param {ImageBitmap} bitmap  a decoded image frame (closed here) */
  drawBitmap(bitmap) {
    this._size(bitmap.width, bitmap.height);
    this.context.drawImage(bitmap, 0, 0);
    bitmap.close();
    this._show();
  }

  /** @param {any} frame */
  draw(frame) {
    const { width, height, rgb } = flatRgb(frame);
    this._size(width, height);
    const data = /** @type {ImageData} */ (this.image).data;
    for (let i = 0, j = 0, n = width * height * 3; i < n; i += 3, j += 4) {
      data[j] = rgb[i];
      data[j + 1] = rgb[i + 1];
      data[j + 2] = rgb[i + 2];
    }
    this.context.putImageData(/** @type {ImageData} */ (this.image), 0, 0);
    this._show();
  }

  hide() {
    this.sprite.visible = false;
  }

  destroy() {
    this.texture?.destroy(true);
  }
}
