/**
 * A streaming PNG decoder: IDAT bytes are inflated a bounded slice at a time (unzlib.ts, on the
 * runtime's DecompressionStream), scanlines are unfiltered one at a time and handed to a
 * BoxShrinker. The full-resolution image never exists in memory, which is what lets a 4096×4096
 * (or a 50-megapixel) PNG be turned into 512-px token art inside a 128 MB isolate: what is held
 * is the compressed file, one read buffer of inflated bytes, two scanlines and the boxed output
 * grid. The image data may not inflate to more than the header's size needs: a decompression
 * bomb is stopped there. Every color type, bit depth, tRNS and Adam7 interlacing are handled; 16-bit samples keep their high byte. The structure has been checked by
 * `inspectImage` before this runs; anything still wrong throws `ImageDecodeError`.
 */
import type { ImageInfo } from "../../domain/assets";
import type { BoxShrinker } from "./shrink";
import { InflateError, inflateZlib } from "./unzlib";

export class ImageDecodeError extends Error {}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

function u32be(b: Uint8Array, at: number): number {
  return (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0;
}

interface Pass {
  /** Where this pass's pixels go: x = x0 + c*dx, y = y0 + r*dy. */
  x0: number;
  y0: number;
  dx: number;
  dy: number;
  cols: number;
  rows: number;
}

function passesOf(width: number, height: number, interlace: number): Pass[] {
  if (interlace === 0) return [{ x0: 0, y0: 0, dx: 1, dy: 1, cols: width, rows: height }];
  return ADAM7.map(([x0, y0, dx, dy]) => ({
    x0,
    y0,
    dx,
    dy,
    cols: Math.max(0, Math.ceil((width - x0) / dx)),
    rows: Math.max(0, Math.ceil((height - y0) / dy)),
  })).filter((p) => p.cols > 0 && p.rows > 0);
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

function unfilter(filter: number, row: Uint8Array, prev: Uint8Array, bpp: number): void {
  const n = row.length;
  switch (filter) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i++) row[i] = ((row[i] ?? 0) + (row[i - bpp] ?? 0)) & 0xff;
      return;
    case 2:
      for (let i = 0; i < n; i++) row[i] = ((row[i] ?? 0) + (prev[i] ?? 0)) & 0xff;
      return;
    case 3:
      for (let i = 0; i < n; i++) row[i] = ((row[i] ?? 0) + (((i >= bpp ? (row[i - bpp] ?? 0) : 0) + (prev[i] ?? 0)) >> 1)) & 0xff;
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? (row[i - bpp] ?? 0) : 0;
        const c = i >= bpp ? (prev[i - bpp] ?? 0) : 0;
        row[i] = ((row[i] ?? 0) + paeth(a, prev[i] ?? 0, c)) & 0xff;
      }
      return;
    default:
      throw new ImageDecodeError(`the PNG uses an unknown filter type ${filter}`);
  }
}

interface Palette {
  rgba: Uint8Array;
}

/** Converts one unfiltered scanline of `cols` pixels to RGBA8 in `out`. */
function toRgba(
  row: Uint8Array,
  cols: number,
  colorType: number,
  bitDepth: number,
  out: Uint8Array,
  palette: Palette | undefined,
  transparent: number[] | undefined,
): void {
  if (bitDepth < 8) {
    const perByte = 8 / bitDepth;
    const mask = (1 << bitDepth) - 1;
    const scale = 255 / mask;
    for (let c = 0; c < cols; c++) {
      const byte = row[Math.floor(c / perByte)] ?? 0;
      const v = (byte >> (8 - bitDepth * ((c % perByte) + 1))) & mask;
      const o = c * 4;
      if (colorType === 3) {
        const p = palette?.rgba;
        out[o] = p?.[v * 4] ?? 0;
        out[o + 1] = p?.[v * 4 + 1] ?? 0;
        out[o + 2] = p?.[v * 4 + 2] ?? 0;
        out[o + 3] = p?.[v * 4 + 3] ?? 255;
      } else {
        const g = Math.round(v * scale);
        out[o] = g;
        out[o + 1] = g;
        out[o + 2] = g;
        out[o + 3] = transparent?.[0] === v ? 0 : 255;
      }
    }
    return;
  }
  const bytes = bitDepth / 8;
  const channels = CHANNELS[colorType] ?? 4;
  const sample = (c: number, ch: number) => row[(c * channels + ch) * bytes] ?? 0;
  const full = (c: number, ch: number) =>
    bytes === 2 ? ((row[(c * channels + ch) * 2] ?? 0) << 8) | (row[(c * channels + ch) * 2 + 1] ?? 0) : sample(c, ch);
  for (let c = 0; c < cols; c++) {
    const o = c * 4;
    switch (colorType) {
      case 0: {
        const g = sample(c, 0);
        out[o] = g;
        out[o + 1] = g;
        out[o + 2] = g;
        out[o + 3] = transparent?.[0] === full(c, 0) ? 0 : 255;
        break;
      }
      case 2:
        out[o] = sample(c, 0);
        out[o + 1] = sample(c, 1);
        out[o + 2] = sample(c, 2);
        out[o + 3] =
          transparent && transparent[0] === full(c, 0) && transparent[1] === full(c, 1) && transparent[2] === full(c, 2) ? 0 : 255;
        break;
      case 3: {
        const v = sample(c, 0);
        const p = palette?.rgba;
        out[o] = p?.[v * 4] ?? 0;
        out[o + 1] = p?.[v * 4 + 1] ?? 0;
        out[o + 2] = p?.[v * 4 + 2] ?? 0;
        out[o + 3] = p?.[v * 4 + 3] ?? 255;
        break;
      }
      case 4: {
        const g = sample(c, 0);
        out[o] = g;
        out[o + 1] = g;
        out[o + 2] = g;
        out[o + 3] = sample(c, 1);
        break;
      }
      default:
        out[o] = sample(c, 0);
        out[o + 1] = sample(c, 1);
        out[o + 2] = sample(c, 2);
        out[o + 3] = sample(c, 3);
    }
  }
}

/** Decodes the PNG in `bytes` (already inspected: `image.png` is set) into `shrinker`. */
export async function decodePngInto(bytes: Uint8Array, image: ImageInfo, shrinker: BoxShrinker): Promise<void> {
  const header = image.png;
  if (!header) throw new ImageDecodeError("not an inspected PNG");
  const { bitDepth, colorType, interlace } = header;
  const channels = CHANNELS[colorType] ?? 4;
  const bitsPerPixel = channels * bitDepth;
  const bpp = Math.max(1, bitsPerPixel >> 3);

  // Collect the palette, transparency and IDAT slices (views, no copies).
  const idat: Uint8Array[] = [];
  let palette: Palette | undefined;
  let transparent: number[] | undefined;
  for (let at = 8; at + 12 <= bytes.length; ) {
    const length = u32be(bytes, at);
    const type = String.fromCharCode(bytes[at + 4] ?? 0, bytes[at + 5] ?? 0, bytes[at + 6] ?? 0, bytes[at + 7] ?? 0);
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (type === "PLTE") {
      const rgba = new Uint8Array(256 * 4);
      for (let i = 0; i < length / 3; i++) {
        rgba[i * 4] = data[i * 3] ?? 0;
        rgba[i * 4 + 1] = data[i * 3 + 1] ?? 0;
        rgba[i * 4 + 2] = data[i * 3 + 2] ?? 0;
        rgba[i * 4 + 3] = 255;
      }
      palette = { rgba };
    } else if (type === "tRNS") {
      if (colorType === 3 && palette) {
        for (let i = 0; i < Math.min(length, 256); i++) palette.rgba[i * 4 + 3] = data[i] ?? 255;
      } else if (colorType === 0 && length >= 2) {
        transparent = [((data[0] ?? 0) << 8) | (data[1] ?? 0)];
      } else if (colorType === 2 && length >= 6) {
        transparent = [0, 2, 4].map((i) => ((data[i] ?? 0) << 8) | (data[i + 1] ?? 0));
      }
    } else if (type === "IDAT") {
      idat.push(data);
    } else if (type === "IEND") {
      break;
    }
    at += 12 + length;
  }
  if (transparent && bitDepth < 16) transparent = transparent.map((v) => v & ((1 << bitDepth) - 1));

  const passes = passesOf(image.width, image.height, interlace);
  const maxRowBytes = Math.ceil((image.width * bitsPerPixel) / 8);
  let current = new Uint8Array(maxRowBytes);
  let previous = new Uint8Array(maxRowBytes);
  const rgbaRow = new Uint8Array(image.width * 4);

  let passIndex = 0;
  let pass = passes[0];
  let rowInPass = 0;
  let rowBytes = pass ? Math.ceil((pass.cols * bitsPerPixel) / 8) : 0;
  let filter = -1; // -1: waiting for the filter byte of the next scanline
  let filled = 0;
  let done = passes.length === 0;

  const take = (chunk: Uint8Array) => {
    let i = 0;
    while (i < chunk.length) {
      if (done || !pass) throw new ImageDecodeError("the PNG holds more image data than its size");
      if (filter < 0) {
        filter = chunk[i] ?? 0;
        i++;
        continue;
      }
      const n = Math.min(rowBytes - filled, chunk.length - i);
      current.set(chunk.subarray(i, i + n), filled);
      filled += n;
      i += n;
      if (filled < rowBytes) continue;
      const row = current.subarray(0, rowBytes);
      unfilter(filter, row, previous.subarray(0, rowBytes), bpp);
      toRgba(row, pass.cols, colorType, bitDepth, rgbaRow, palette, transparent);
      shrinker.addPixels(pass.y0 + rowInPass * pass.dy, rgbaRow, pass.x0, pass.dx, pass.cols);
      [current, previous] = [previous, current];
      filter = -1;
      filled = 0;
      rowInPass++;
      if (rowInPass === pass.rows) {
        passIndex++;
        pass = passes[passIndex];
        rowInPass = 0;
        previous.fill(0);
        if (pass) rowBytes = Math.ceil((pass.cols * bitsPerPixel) / 8);
        else done = true;
      }
    }
  };

  // Exactly this many bytes of image data: a filter byte and the bytes of each scanline.
  const expectedBytes = passes.reduce((n, p) => n + p.rows * (1 + Math.ceil((p.cols * bitsPerPixel) / 8)), 0);
  try {
    await inflateZlib(idat, expectedBytes, take);
  } catch (error) {
    if (error instanceof ImageDecodeError) throw error;
    if (error instanceof InflateError) throw new ImageDecodeError(`the PNG's image data is corrupt (${error.message})`);
    throw error;
  }
  if (!done) throw new ImageDecodeError("the PNG's image data is truncated");
}
