/**
 * Fog-of-war masks, stored compactly: the mask is a grid of cells (revealed or hidden) cut into
 * square chunks of CHUNK_CELLS × CHUNK_CELLS cells; a chunk no one painted is hidden and not
 * stored. A stored chunk is a string: "r" + base64 of the run lengths (alternating, starting
 * with hidden cells, each an unsigned LEB128 varint), or "b" + base64 of the plain bitmap (one
 * bit a cell, row-major, least significant bit first), whichever is shorter. Smooth brush shapes
 * make few runs, so a typical chunk is tens of bytes; a noisy one never exceeds the bitmap's 512.
 */
export const CHUNK_CELLS = 64;
/** The largest mask side, in map pixels: 16,384 px at 2 px a cell is 128 chunks a side. */
export const MAX_MASK_PX = 16_384;
export const CELLS_PER_CHUNK = CHUNK_CELLS * CHUNK_CELLS;
/** The longest encoded chunk: "b" + base64 of 512 bytes. */
export const MAX_ENCODED_CHUNK = 1 + Math.ceil(CELLS_PER_CHUNK / 8 / 3) * 4;

/** One chunk's cells, row-major, 1 = revealed. */
export type ChunkCells = Uint8Array;

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array | null {
  try {
    const binary = atob(text);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

function runLengths(cells: ChunkCells): Uint8Array {
  const out: number[] = [];
  let value = 0;
  let run = 0;
  const push = (n: number) => {
    let v = n;
    while (v >= 0x80) {
      out.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    out.push(v);
  };
  for (const cell of cells) {
    const bit = cell ? 1 : 0;
    if (bit === value) run++;
    else {
      push(run);
      value = bit;
      run = 1;
    }
  }
  push(run);
  return Uint8Array.from(out);
}

function bitmap(cells: ChunkCells): Uint8Array {
  const out = new Uint8Array(CELLS_PER_CHUNK / 8);
  for (let i = 0; i < CELLS_PER_CHUNK; i++) if (cells[i]) out[i >> 3] = (out[i >> 3] ?? 0) | (1 << (i & 7));
  return out;
}

export function encodeChunk(cells: ChunkCells): string {
  if (cells.length !== CELLS_PER_CHUNK) throw new RangeError(`a chunk has ${CELLS_PER_CHUNK} cells`);
  const rle = `r${toBase64(runLengths(cells))}`;
  if (rle.length <= 1 + (CELLS_PER_CHUNK / 8 / 3) * 4) return rle;
  const bits = `b${toBase64(bitmap(cells))}`;
  return bits.length < rle.length ? bits : rle;
}

/** Plain base64 with padding, nothing else: `atob` alone also takes whitespace and missing padding. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The cells of an encoded chunk, or null when the text is not a valid chunk: an unknown prefix,
 * base64 that is not canonical, a bitmap of the wrong size, runs that do not add up to exactly
 * CELLS_PER_CHUNK cells, an empty run after the first (the encoder never writes one), or a varint
 * longer than three bytes.
 */
export function decodeChunk(text: string): ChunkCells | null {
  if (text.length < 2 || text.length > MAX_ENCODED_CHUNK || !BASE64.test(text.slice(1))) return null;
  const bytes = fromBase64(text.slice(1));
  if (!bytes) return null;
  const cells = new Uint8Array(CELLS_PER_CHUNK);
  if (text[0] === "b") {
    if (bytes.length !== CELLS_PER_CHUNK / 8) return null;
    for (let i = 0; i < CELLS_PER_CHUNK; i++) cells[i] = ((bytes[i >> 3] ?? 0) >> (i & 7)) & 1;
    return cells;
  }
  if (text[0] !== "r") return null;
  let at = 0;
  let value = 0;
  let i = 0;
  for (let n = 0; i < bytes.length; n++) {
    let run = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[i++];
      if (b === undefined || shift > 14) return null;
      run |= (b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7;
    }
    if (at + run > CELLS_PER_CHUNK || (run === 0 && n > 0)) return null;
    if (value) cells.fill(1, at, at + run);
    at += run;
    value ^= 1;
  }
  return at === CELLS_PER_CHUNK ? cells : null;
}

/** Whether a string is a valid encoded chunk (for the schema). */
export function isEncodedChunk(text: string): boolean {
  return decodeChunk(text) !== null;
}
