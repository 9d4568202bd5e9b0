/**
 * Decodes the first frame of a GIF into a BoxShrinker, pixel run by pixel run, without a
 * full-size buffer: the LZW table (4096 entries) and one output run are all it holds. The frame
 * is placed on the logical screen; what it does not cover is transparent. Animation is not kept:
 * token art is a still image, so an animated GIF becomes its first frame.
 */
import type { ImageInfo } from "../../domain/assets";
import { ImageDecodeError } from "./png-stream";
import type { BoxShrinker } from "./shrink";

function u16le(b: Uint8Array, at: number): number {
  return (b[at] ?? 0) | ((b[at + 1] ?? 0) << 8);
}

function readColorTable(b: Uint8Array, at: number, flags: number): Uint8Array | undefined {
  if (!(flags & 0x80)) return undefined;
  const n = 2 ** ((flags & 7) + 1);
  return b.subarray(at, at + 3 * n);
}

export function decodeGifInto(b: Uint8Array, image: ImageInfo, shrinker: BoxShrinker): void {
  const screenFlags = b[10] ?? 0;
  const globalTable = readColorTable(b, 13, screenFlags);
  let at = 13 + (globalTable?.length ?? 0);
  let transparentIndex = -1;
  while (at < b.length) {
    const block = b[at];
    if (block === 0x21) {
      const label = b[at + 1];
      if (label === 0xf9 && b[at + 2] === 4) {
        const flags = b[at + 3] ?? 0;
        transparentIndex = flags & 1 ? (b[at + 6] ?? 0) : -1;
      }
      at += 2;
      while (at < b.length && b[at] !== 0) at += 1 + (b[at] ?? 0);
      at++;
      continue;
    }
    if (block !== 0x2c) break;
    const left = u16le(b, at + 1);
    const top = u16le(b, at + 3);
    const width = u16le(b, at + 5);
    const height = u16le(b, at + 7);
    const flags = b[at + 9] ?? 0;
    const interlaced = (flags & 0x40) !== 0;
    const localTable = readColorTable(b, at + 10, flags);
    at += 10 + (localTable?.length ?? 0);
    const table = localTable ?? globalTable;
    if (!table) throw new ImageDecodeError("the GIF has no color table");
    const minCodeSize = b[at] ?? 0;
    decodeFrame(b, at + 1, minCodeSize, { left, top, width, height, interlaced }, table, transparentIndex, image, shrinker);
    return;
  }
  throw new ImageDecodeError("the GIF has no image");
}

interface Frame {
  left: number;
  top: number;
  width: number;
  height: number;
  interlaced: boolean;
}

/** Row order of an interlaced frame: every 8th from 0, every 8th from 4, every 4th from 2, every 2nd from 1. */
function frameRow(index: number, height: number, interlaced: boolean): number {
  if (!interlaced) return index;
  const passes = [
    [0, 8],
    [4, 8],
    [2, 4],
    [1, 2],
  ] as const;
  let i = index;
  for (const [start, step] of passes) {
    const count = Math.max(0, Math.ceil((height - start) / step));
    if (i < count) return start + i * step;
    i -= count;
  }
  return height;
}

function decodeFrame(
  b: Uint8Array,
  dataAt: number,
  minCodeSize: number,
  frame: Frame,
  table: Uint8Array,
  transparentIndex: number,
  image: ImageInfo,
  shrinker: BoxShrinker,
): void {
  const clear = 1 << minCodeSize;
  const end = clear + 1;
  const prefix = new Int16Array(4096);
  const suffix = new Uint8Array(4096);
  const firstOf = new Uint8Array(4096);
  const stack = new Uint8Array(4097);
  for (let i = 0; i < clear; i++) {
    prefix[i] = -1;
    suffix[i] = i;
    firstOf[i] = i;
  }
  let codeSize = minCodeSize + 1;
  let next = end + 1;
  let old = -1;

  const total = frame.width * frame.height;
  const row = new Uint8Array(frame.width * 4);
  let written = 0;
  let x = 0;
  let rowIndex = 0;
  const emit = (index: number) => {
    if (written >= total) return;
    const o = x * 4;
    if (index === transparentIndex || index * 3 + 2 >= table.length) {
      row[o + 3] = 0;
    } else {
      row[o] = table[index * 3] ?? 0;
      row[o + 1] = table[index * 3 + 1] ?? 0;
      row[o + 2] = table[index * 3 + 2] ?? 0;
      row[o + 3] = 255;
    }
    written++;
    x++;
    if (x === frame.width) {
      const y = frame.top + frameRow(rowIndex, frame.height, frame.interlaced);
      if (y < image.height && frame.left < image.width) {
        shrinker.addPixels(y, row, frame.left, 1, Math.min(frame.width, image.width - frame.left));
      }
      x = 0;
      rowIndex++;
    }
  };

  let bits = 0;
  let bitCount = 0;
  let at = dataAt;
  let blockLeft = 0;
  outer: while (written < total) {
    while (bitCount < codeSize) {
      if (blockLeft === 0) {
        blockLeft = b[at] ?? 0;
        at++;
        if (blockLeft === 0 || at > b.length) break outer;
      }
      bits |= (b[at] ?? 0) << bitCount;
      at++;
      blockLeft--;
      bitCount += 8;
    }
    const code = bits & ((1 << codeSize) - 1);
    bits >>>= codeSize;
    bitCount -= codeSize;
    if (code === clear) {
      codeSize = minCodeSize + 1;
      next = end + 1;
      old = -1;
      continue;
    }
    if (code === end) break;
    if (old < 0) {
      if (code >= clear) throw new ImageDecodeError("the GIF's image data is corrupt");
      emit(code);
      old = code;
      continue;
    }
    let top = 0;
    let cur = code;
    if (code >= next) {
      if (code > next) throw new ImageDecodeError("the GIF's image data is corrupt");
      stack[top++] = firstOf[old] ?? 0;
      cur = old;
    }
    while (cur >= clear) {
      stack[top++] = suffix[cur] ?? 0;
      cur = prefix[cur] ?? 0;
    }
    stack[top++] = cur;
    const first = cur;
    while (top > 0) emit(stack[--top] ?? 0);
    if (next < 4096) {
      prefix[next] = old;
      suffix[next] = first;
      firstOf[next] = firstOf[old] ?? 0;
      next++;
      if (next === 1 << codeSize && codeSize < 12) codeSize++;
    }
    old = code;
  }
  // A frame that ends early keeps what it has: the rest is transparent, as browsers show it.
  if (x > 0) {
    row.fill(0, x * 4);
    const y = frame.top + frameRow(rowIndex, frame.height, frame.interlaced);
    if (y < image.height && frame.left < image.width)
      shrinker.addPixels(y, row, frame.left, 1, Math.min(frame.width, image.width - frame.left));
  }
}
