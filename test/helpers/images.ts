/**
 * Test images made in the tests themselves: a PNG encoder (every color type and bit depth, all
 * five filters, optional Adam7), a GIF encoder with real LZW, JPEG and WebP through the same
 * jSquash WebAssembly encoders the worker bundles, and helpers to craft hostile headers.
 */
import jpegEncoderFactory from "@jsquash/jpeg/codec/enc/mozjpeg_enc.js";
import jpegEncoderWasm from "@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm";
import { defaultOptions as jpegDefaults } from "@jsquash/jpeg/meta.js";
import webpEncoderFactory from "@jsquash/webp/codec/enc/webp_enc_simd.js";
import webpEncoderWasm from "@jsquash/webp/codec/enc/webp_enc_simd.wasm";
import { defaultOptions as webpDefaults } from "@jsquash/webp/meta.js";

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function concat(...parts: (Uint8Array | readonly number[] | string)[]): Uint8Array {
  const arrays = parts.map((p) => (typeof p === "string" ? new TextEncoder().encode(p) : p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

const be32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const le16 = (n: number) => [n & 255, (n >>> 8) & 255];

export function pngChunk(type: string, data: Uint8Array | number[] = []): Uint8Array {
  const body = concat(type, data);
  return concat(be32(body.length - 4), body, be32(crc32(body)));
}

export const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function ihdr(width: number, height: number, bitDepth = 8, colorType = 6, interlace = 0): Uint8Array {
  return pngChunk("IHDR", [...be32(width), ...be32(height), bitDepth, colorType, 0, 0, interlace]);
}

export async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A pixel source: RGBA 0-255 (or 0-65535 with `sixteen`) of pixel (x, y). */
export type PixelFn = (x: number, y: number) => [number, number, number, number];

export const gradient: PixelFn = (x, y) => [(x * 7) & 255, (y * 5) & 255, ((x + y) * 3) & 255, 255];

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

export interface PngOptions {
  colorType?: 0 | 2 | 3 | 4 | 6;
  bitDepth?: 1 | 2 | 4 | 8 | 16;
  interlace?: boolean;
  /** For color type 3: the palette (RGBA); pixels are indices from `index`. */
  palette?: [number, number, number, number][];
  index?: (x: number, y: number) => number;
  /** Raw samples for gray/RGB types (scaled to the bit depth). */
  pixel?: PixelFn;
  trns?: number[];
  extraChunks?: Uint8Array[];
}

/** Packs one row of `cols` pixels (given by `sample(c, ch)`) at the bit depth. */
function packRow(cols: number, channels: number, bitDepth: number, sample: (c: number, ch: number) => number): Uint8Array {
  const out = new Uint8Array(Math.ceil((cols * channels * bitDepth) / 8));
  let bit = 0;
  for (let c = 0; c < cols; c++) {
    for (let ch = 0; ch < channels; ch++) {
      const v = sample(c, ch);
      if (bitDepth === 16) {
        out[bit >> 3] = (v >> 8) & 255;
        out[(bit >> 3) + 1] = v & 255;
      } else if (bitDepth === 8) {
        out[bit >> 3] = v & 255;
      } else {
        const shift = 8 - bitDepth - (bit & 7);
        out[bit >> 3] = (out[bit >> 3] ?? 0) | ((v & ((1 << bitDepth) - 1)) << shift);
      }
      bit += bitDepth;
    }
  }
  return out;
}

export async function makePng(width: number, height: number, opts: PngOptions = {}): Promise<Uint8Array> {
  const colorType = opts.colorType ?? 6;
  const bitDepth = opts.bitDepth ?? 8;
  const channels = CHANNELS[colorType] ?? 4;
  const bpp = Math.max(1, (channels * bitDepth) >> 3);
  const pixel = opts.pixel ?? gradient;
  const sampleAt = (x: number, y: number, ch: number): number => {
    if (colorType === 3) return opts.index?.(x, y) ?? 0;
    const [r, g, b, a] = pixel(x, y);
    const max = (1 << bitDepth) - 1;
    const scale = (v: number) => (bitDepth === 16 ? v : Math.round((v / 255) * max));
    if (colorType === 0) return scale(r);
    if (colorType === 4) return scale([r, a][ch] ?? 0);
    return scale([r, g, b, a][ch] ?? 0);
  };
  const passes = opts.interlace
    ? [
        [0, 0, 8, 8],
        [4, 0, 8, 8],
        [0, 4, 4, 8],
        [2, 0, 4, 4],
        [0, 2, 2, 4],
        [1, 0, 2, 2],
        [0, 1, 1, 2],
      ]
    : [[0, 0, 1, 1]];
  const rows: Uint8Array[] = [];
  let rowCounter = 0;
  for (const [x0 = 0, y0 = 0, dx = 1, dy = 1] of passes) {
    const cols = Math.max(0, Math.ceil((width - x0) / dx));
    const nrows = Math.max(0, Math.ceil((height - y0) / dy));
    if (cols === 0 || nrows === 0) continue;
    let prev: Uint8Array = new Uint8Array(Math.ceil((cols * channels * bitDepth) / 8));
    for (let r = 0; r < nrows; r++) {
      const y = y0 + r * dy;
      const raw = packRow(cols, channels, bitDepth, (c, ch) => sampleAt(x0 + c * dx, y, ch));
      const filter = rowCounter++ % 5;
      const out = new Uint8Array(raw.length + 1);
      out[0] = filter;
      for (let i = 0; i < raw.length; i++) {
        const a = i >= bpp ? (raw[i - bpp] ?? 0) : 0;
        const b = prev[i] ?? 0;
        const c = i >= bpp ? (prev[i - bpp] ?? 0) : 0;
        const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][filter] ?? 0;
        out[i + 1] = ((raw[i] ?? 0) - pred) & 255;
      }
      rows.push(out);
      prev = raw;
    }
  }
  const idat = await deflate(concat(...rows));
  const chunks: Uint8Array[] = [ihdr(width, height, bitDepth, colorType, opts.interlace ? 1 : 0)];
  if (colorType === 3) {
    const pal = opts.palette ?? [[0, 0, 0, 255]];
    chunks.push(
      pngChunk(
        "PLTE",
        pal.flatMap((c) => c.slice(0, 3)),
      ),
    );
    if (pal.some(([, , , a]) => a !== 255))
      chunks.push(
        pngChunk(
          "tRNS",
          pal.map(([, , , a]) => a),
        ),
      );
  }
  if (opts.trns) chunks.push(pngChunk("tRNS", opts.trns));
  chunks.push(...(opts.extraChunks ?? []));
  // Split the image data over several IDAT chunks, as real encoders do.
  for (let at = 0; at < idat.length; at += 65_536) chunks.push(pngChunk("IDAT", idat.subarray(at, at + 65_536)));
  chunks.push(pngChunk("IEND"));
  return concat(PNG_SIG, ...chunks);
}

/** GIF89a with a global palette and real LZW; frames are full-screen unless given a rect. */
export function makeGif(
  width: number,
  height: number,
  palette: [number, number, number][],
  frames: { index: (x: number, y: number) => number; rect?: [number, number, number, number]; transparent?: number; interlace?: boolean }[],
  extra: Uint8Array[] = [],
): Uint8Array {
  let bits = 1;
  while (1 << bits < palette.length) bits++;
  const size = 1 << bits;
  const table = Array.from({ length: size }, (_, i) => palette[i] ?? [0, 0, 0]).flat();
  const parts: (Uint8Array | number[] | string)[] = ["GIF89a", [...le16(width), ...le16(height), 0x80 | (bits - 1), 0, 0], table, ...extra];
  for (const f of frames) {
    const [left, top, fw, fh] = f.rect ?? [0, 0, width, height];
    if (f.transparent !== undefined) parts.push([0x21, 0xf9, 4, 1, 0, 0, f.transparent, 0]);
    parts.push([0x2c, ...le16(left), ...le16(top), ...le16(fw), ...le16(fh), f.interlace ? 0x40 : 0]);
    const order: number[] = [];
    if (f.interlace) {
      for (const [s, st] of [
        [0, 8],
        [4, 8],
        [2, 4],
        [1, 2],
      ] as const)
        for (let y = s; y < fh; y += st) order.push(y);
    } else for (let y = 0; y < fh; y++) order.push(y);
    const indices: number[] = [];
    for (const y of order) for (let x = 0; x < fw; x++) indices.push(f.index(x, y));
    const minCode = Math.max(2, bits);
    parts.push([minCode], subBlocks(lzw(indices, minCode)));
  }
  parts.push([0x3b]);
  return concat(...parts);
}

function lzw(indices: number[], minCode: number): Uint8Array {
  const clear = 1 << minCode;
  const end = clear + 1;
  const out: number[] = [];
  let acc = 0;
  let accBits = 0;
  let codeSize = minCode + 1;
  const write = (code: number) => {
    acc |= code << accBits;
    accBits += codeSize;
    while (accBits >= 8) {
      out.push(acc & 255);
      acc >>>= 8;
      accBits -= 8;
    }
  };
  let dict = new Map<string, number>();
  let next = end + 1;
  write(clear);
  let w = "";
  for (const k of indices) {
    const wk = w === "" ? String(k) : `${w},${k}`;
    if (w === "" || dict.has(wk)) {
      w = wk;
      continue;
    }
    write(w.includes(",") ? (dict.get(w) ?? 0) : Number(w));
    if (next < 4096) {
      dict.set(wk, next++);
      if (next > 1 << codeSize && codeSize < 12) codeSize++;
    } else {
      write(clear);
      dict = new Map();
      next = end + 1;
      codeSize = minCode + 1;
    }
    w = String(k);
  }
  if (w !== "") write(w.includes(",") ? (dict.get(w) ?? 0) : Number(w));
  write(end);
  if (accBits > 0) out.push(acc & 255);
  return Uint8Array.from(out);
}

export function subBlocks(data: Uint8Array): Uint8Array {
  const parts: number[] = [];
  for (let at = 0; at < data.length; at += 255) {
    const n = Math.min(255, data.length - at);
    parts.push(n, ...data.subarray(at, at + n));
  }
  parts.push(0);
  return Uint8Array.from(parts);
}

function instantiate<M>(factory: any, wasm: WebAssembly.Module): Promise<M> {
  return factory({
    noInitialRun: true,
    instantiateWasm(imports: WebAssembly.Imports, callback: (i: WebAssembly.Instance) => void) {
      const instance = new WebAssembly.Instance(wasm, imports);
      callback(instance);
      return instance.exports;
    },
  });
}

function rgbaOf(width: number, height: number, pixel: PixelFn): Uint8ClampedArray {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const [r, g, b, a] = pixel(x, y);
      data.set([r, g, b, a], (y * width + x) * 4);
    }
  return data;
}

let jpegEncoder: Promise<any> | undefined;
export async function makeJpeg(width: number, height: number, pixel: PixelFn = gradient, quality = 80): Promise<Uint8Array> {
  jpegEncoder ??= instantiate(jpegEncoderFactory, jpegEncoderWasm);
  const out = (await jpegEncoder).encode(rgbaOf(width, height, pixel), width, height, { ...jpegDefaults, quality });
  return new Uint8Array(out);
}

let webpEncoder: Promise<any> | undefined;
export async function makeWebp(width: number, height: number, pixel: PixelFn = gradient, lossless = false): Promise<Uint8Array> {
  webpEncoder ??= instantiate(webpEncoderFactory, webpEncoderWasm);
  const out = (await webpEncoder).encode(rgbaOf(width, height, pixel), width, height, { ...webpDefaults, lossless: lossless ? 1 : 0 });
  return new Uint8Array(out);
}

/** Dimensions a decoder of ours or of the browser would read from a WebP/PNG header. */
export function le32(n: number): number[] {
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255];
}

/** A big RGBA PNG made fast: `row(y, out)` fills each raw row; filter 0, streamed into zlib. */
export async function makeBigPng(width: number, height: number, row: (y: number, out: Uint8Array) => void): Promise<Uint8Array> {
  const zlib = new CompressionStream("deflate");
  const writer = zlib.writable.getWriter();
  const compressed = new Response(zlib.readable).arrayBuffer();
  const raw = new Uint8Array(width * 4 + 1);
  for (let y = 0; y < height; y++) {
    raw[0] = 0;
    row(y, raw.subarray(1));
    await writer.write(raw.slice());
  }
  await writer.close();
  const idat = new Uint8Array(await compressed);
  const chunks: Uint8Array[] = [ihdr(width, height)];
  for (let at = 0; at < idat.length; at += 1 << 20) chunks.push(pngChunk("IDAT", idat.subarray(at, at + (1 << 20))));
  chunks.push(pngChunk("IEND"));
  return concat(PNG_SIG, ...chunks);
}
