/**
 * Integer box downscaling that never holds the full-size image: decoders hand it pixels row by
 * row (or pass by pass) and it keeps only per-output-pixel sums. Token art of any accepted size
 * (up to 50 megapixels) is first boxed down to less than twice the final size this way, then
 * resampled by the WebAssembly Lanczos filter; the memory is the output grid, not the input.
 */
import { fitWithin, TOKEN_ART_SIZE } from "../../domain/assets";

export interface Rgba {
  data: Uint8Array;
  width: number;
  height: number;
}

/** The box factor: the largest integer that keeps the boxed image at least the target size. */
export function boxFactor(width: number, height: number, max = TOKEN_ART_SIZE): number {
  const target = fitWithin(width, height, max);
  return Math.max(1, Math.floor(Math.min(width / target.width, height / target.height)));
}

export class BoxShrinker {
  readonly width: number;
  readonly height: number;
  readonly factor: number;
  readonly outWidth: number;
  readonly outHeight: number;
  // Sums of premultiplied colour and of alpha, per output pixel: colour averages weight by
  // alpha so transparent pixels do not darken the edges.
  readonly #sums: Uint32Array;

  constructor(width: number, height: number, factor: number) {
    this.width = width;
    this.height = height;
    this.factor = factor;
    this.outWidth = Math.ceil(width / factor);
    this.outHeight = Math.ceil(height / factor);
    this.#sums = new Uint32Array(this.outWidth * this.outHeight * 4);
  }

  /**
   * Adds `count` RGBA pixels of input row `y`, found in `rgba` from offset 0, placed at
   * x = x0, x0 + dx, x0 + 2dx, ... (dx > 1 for interlaced passes).
   */
  addPixels(y: number, rgba: Uint8Array, x0: number, dx: number, count: number): void {
    if (y < 0 || y >= this.height) return;
    const f = this.factor;
    const sums = this.#sums;
    const rowBase = Math.floor(y / f) * this.outWidth;
    let x = x0;
    for (let i = 0, p = 0; i < count; i++, p += 4, x += dx) {
      if (x >= this.width) break;
      const a = rgba[p + 3] ?? 0;
      if (a === 0) continue;
      const o = (rowBase + Math.floor(x / f)) * 4;
      sums[o] = (sums[o] ?? 0) + (rgba[p] ?? 0) * a;
      sums[o + 1] = (sums[o + 1] ?? 0) + (rgba[p + 1] ?? 0) * a;
      sums[o + 2] = (sums[o + 2] ?? 0) + (rgba[p + 2] ?? 0) * a;
      sums[o + 3] = (sums[o + 3] ?? 0) + a;
    }
  }

  addRow(y: number, rgba: Uint8Array): void {
    this.addPixels(y, rgba, 0, 1, this.width);
  }

  /** The boxed image; pixels never added count as transparent. */
  finish(): Rgba {
    const { outWidth, outHeight, factor, width, height } = this;
    const out = new Uint8Array(outWidth * outHeight * 4);
    const sums = this.#sums;
    for (let oy = 0; oy < outHeight; oy++) {
      const boxH = Math.min(factor, height - oy * factor);
      for (let ox = 0; ox < outWidth; ox++) {
        const boxW = Math.min(factor, width - ox * factor);
        const o = (oy * outWidth + ox) * 4;
        const alphaSum = sums[o + 3] ?? 0;
        if (alphaSum === 0) continue;
        out[o] = Math.round((sums[o] ?? 0) / alphaSum);
        out[o + 1] = Math.round((sums[o + 1] ?? 0) / alphaSum);
        out[o + 2] = Math.round((sums[o + 2] ?? 0) / alphaSum);
        out[o + 3] = Math.round(alphaSum / (boxW * boxH));
      }
    }
    return { data: out, width: outWidth, height: outHeight };
  }
}
