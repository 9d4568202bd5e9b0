/**
 * PNG chunk hygiene for uploads and imports, on a file `inspectImage` has already walked:
 *
 * - every chunk's CRC-32 is checked (a corrupted chunk is refused, not stored to fail in a
 *   browser later);
 * - the chunks that carry free text or metadata (tEXt, zTXt, iTXt, eXIf, tIME) and private chunks
 *   (lowercase second letter: no other program knows what they hold) are dropped from a stored
 *   map. The pixels do not change: IHDR, PLTE, tRNS, IDAT, color and animation chunks are kept
 *   byte for byte. A file with nothing to drop is returned as the same array, so its hash stays.
 *
 * The CRC is the one of zlib and PNG (polynomial 0xEDB88320), table-driven: neither WebCrypto
 * nor fflate's public API offers it.
 */

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 of `bytes[from, to)`, as PNG and zlib compute it. */
export function crc32(bytes: Uint8Array, from = 0, to = bytes.length): number {
  let c = 0xffffffff;
  for (let i = from; i < to; i++) c = (CRC_TABLE[(c ^ (bytes[i] ?? 0)) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Ancillary chunks dropped from stored maps: free text and metadata. */
export const STRIPPED_PNG_CHUNKS: ReadonlySet<string> = new Set(["tEXt", "zTXt", "iTXt", "eXIf", "tIME"]);

export interface PngChunk {
  type: string;
  /** Offset of the chunk's length field; the chunk is `[at, at + 12 + length)`. */
  at: number;
  length: number;
}

function u32be(b: Uint8Array, at: number): number {
  return (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0;
}

/** The chunks of an inspected PNG, up to and including IEND. */
export function pngChunks(bytes: Uint8Array): PngChunk[] {
  const chunks: PngChunk[] = [];
  for (let at = 8; at + 12 <= bytes.length; ) {
    const length = u32be(bytes, at);
    const type = String.fromCharCode(bytes[at + 4] ?? 0, bytes[at + 5] ?? 0, bytes[at + 6] ?? 0, bytes[at + 7] ?? 0);
    if (at + 12 + length > bytes.length) break;
    chunks.push({ type, at, length });
    if (type === "IEND") break;
    at += 12 + length;
  }
  return chunks;
}

/** The type of the first chunk whose stored CRC does not match its type and data, or null. */
export function findBadPngCrc(bytes: Uint8Array): string | null {
  for (const chunk of pngChunks(bytes)) {
    const stored = u32be(bytes, chunk.at + 8 + chunk.length);
    if (crc32(bytes, chunk.at + 4, chunk.at + 8 + chunk.length) !== stored) return chunk.type;
  }
  return null;
}

/** APNG's chunks carry lowercase second letters from before PNG's third edition made them standard. */
const ANIMATION_CHUNKS: ReadonlySet<string> = new Set(["acTL", "fcTL", "fdAT"]);

/** A private chunk: bit 5 of its second letter set (lowercase), per the PNG specification. */
export function isPrivateChunk(type: string): boolean {
  return (type.charCodeAt(1) & 0x20) !== 0 && !ANIMATION_CHUNKS.has(type);
}

export function isStrippedChunk(type: string): boolean {
  return STRIPPED_PNG_CHUNKS.has(type) || isPrivateChunk(type);
}

/**
 * The PNG without its text, metadata and private chunks (see the module comment); the same array
 * when it has none. Zero padding after IEND (tolerated by the inspection) is dropped with them.
 */
export function stripPngMetadata(bytes: Uint8Array): Uint8Array {
  const chunks = pngChunks(bytes);
  const kept = chunks.filter((c) => !isStrippedChunk(c.type));
  const last = chunks[chunks.length - 1];
  const end = last ? last.at + 12 + last.length : bytes.length;
  if (kept.length === chunks.length && end === bytes.length) return bytes;
  const size = 8 + kept.reduce((n, c) => n + 12 + c.length, 0);
  const out = new Uint8Array(size);
  out.set(bytes.subarray(0, 8), 0);
  let offset = 8;
  for (const c of kept) {
    out.set(bytes.subarray(c.at, c.at + 12 + c.length), offset);
    offset += 12 + c.length;
  }
  return out;
}
