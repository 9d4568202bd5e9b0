/**
 * What an acceptable image upload is, decided from its bytes alone: the type sniffed from the
 * magic bytes, the extension that must agree with it, the dimensions read from the header (never
 * from a decode, so a decompression bomb is refused before any pixel exists), and a structural
 * walk that finds truncation, bytes after the image's end and markup hidden in metadata
 * (polyglots). Pure: shared by the worker (which enforces it) and the client (which can pre-check).
 */
import { z } from "zod";

export const assetKinds = ["map", "token"] as const;
export type AssetKind = (typeof assetKinds)[number];
export const assetKindSchema = z.enum(assetKinds);

const MiB = 1024 * 1024;

/** Upload limits of the contract: bytes of the file, per kind. */
export const ASSET_SIZE_LIMITS = { map: 20 * MiB, token: 5 * MiB } as const satisfies Record<AssetKind, number>;
/** Decompression-bomb limits, checked against the header before anything is decoded. */
export const MAX_IMAGE_SIDE = 16_384;
export const MAX_IMAGE_PIXELS = 50_000_000;
/** Token art is stored resized to fit this square (never upscaled). */
export const TOKEN_ART_SIZE = 512;

export const imageTypes = ["png", "jpeg", "webp", "gif"] as const;
export type ImageType = (typeof imageTypes)[number];

export const imageMime = {
  png: "image/png",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
} as const satisfies Record<ImageType, string>;

/** The extensions each type may carry (lowercase, without the dot). */
export const imageExtensions = {
  png: ["png"],
  jpeg: ["jpg", "jpeg", "jpe", "jfif"],
  webp: ["webp"],
  gif: ["gif"],
} as const satisfies Record<ImageType, readonly string[]>;

export function imageTypeOfMime(mime: string): ImageType | undefined {
  return imageTypes.find((t) => imageMime[t] === mime);
}

/** The extension a stored file of this type is named with (downloads, bundles). */
export function fileExtensionOf(mime: string): string {
  const type = imageTypeOfMime(mime);
  return type ? imageExtensions[type][0] : "bin";
}

/** The public shape of an asset in API responses. */
export interface AssetView {
  hash: string;
  mime: string;
  size: number;
  width: number;
  height: number;
  kind: AssetKind;
  url: string;
}

// ---- sniffing ----------------------------------------------------------------------------------

export type Sniffed = { type: ImageType } | { type: null; detected: string };

function startsWith(bytes: Uint8Array, sig: readonly number[], at = 0): boolean {
  if (bytes.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (bytes[at + i] !== sig[i]) return false;
  return true;
}

function ascii(bytes: Uint8Array, from: number, to: number): string {
  let s = "";
  for (let i = from; i < Math.min(to, bytes.length); i++) s += String.fromCharCode(bytes[i] ?? 0);
  return s;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;

/** Names what the bytes are by their magic numbers; only the four image types are accepted. */
export function sniffImageType(bytes: Uint8Array): Sniffed {
  if (startsWith(bytes, PNG_SIGNATURE)) return { type: "png" };
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return { type: "jpeg" };
  if (ascii(bytes, 0, 4) === "RIFF" && ascii(bytes, 8, 12) === "WEBP") return { type: "webp" };
  const gif = ascii(bytes, 0, 6);
  if (gif === "GIF87a" || gif === "GIF89a") return { type: "gif" };
  return { type: null, detected: describeOther(bytes) };
}

/** A label for what a refused upload looks like, for the error message only. */
function describeOther(bytes: Uint8Array): string {
  if (bytes.length === 0) return "empty";
  const head = ascii(bytes, 0, 512)
    .replace(/^\uFEFF/, "")
    .trimStart()
    .toLowerCase();
  if (head.startsWith("<svg") || (head.startsWith("<?xml") && head.includes("<svg"))) return "svg";
  if (head.startsWith("<!doctype html") || head.startsWith("<html") || head.includes("<script")) return "html";
  if (head.startsWith("<?xml") || head.startsWith("<")) return "xml";
  if (head.startsWith("%pdf")) return "pdf";
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) return "zip";
  if (startsWith(bytes, [0x42, 0x4d])) return "bmp";
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return "tiff";
  if (startsWith(bytes, [0x00, 0x00, 0x01, 0x00])) return "ico";
  const box = ascii(bytes, 4, 12);
  if (box === "ftypavif" || box === "ftypavis") return "avif";
  if (box.startsWith("ftyp")) return "heif/mp4";
  if (startsWith(bytes, [0xff, 0x0a]) || startsWith(bytes, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20])) return "jxl";
  return "unknown";
}

/** The lowercase extension of a file name, or "" when it has none. */
export function extensionOf(filename: string): string {
  const base = filename.split(/[\\/]/).pop() ?? "";
  const dot = base.lastIndexOf(".");
  return dot <= 0 ? "" : base.slice(dot + 1).toLowerCase();
}

export function extensionAgrees(type: ImageType, filename: string): boolean {
  return (imageExtensions[type] as readonly string[]).includes(extensionOf(filename));
}

// ---- structure and dimensions ------------------------------------------------------------------

export interface ImageInfo {
  type: ImageType;
  width: number;
  height: number;
  /** Frames of an animation (GIF frames, WebP ANMF chunks); 1 for a still image. */
  frames: number;
  /** PNG only: what the streaming decoder needs from IHDR. */
  png?: { bitDepth: number; colorType: number; interlace: number };
}

export type RejectReason =
  | "unsupported_type"
  | "extension_mismatch"
  | "truncated"
  | "corrupt"
  | "trailing_data"
  | "embedded_markup"
  | "too_large_dimensions";

export type Inspection = { ok: true; image: ImageInfo } | { ok: false; reason: RejectReason; message: string };

const bad = (reason: RejectReason, message: string): Inspection => ({ ok: false, reason, message });

/**
 * Markup that turns an image into a polyglot a browser or server might run. Looked for in the
 * parts of the file that hold free text (metadata chunks, comments, anything before the image
 * data), not in compressed pixel data, where a short pattern would match by chance.
 */
const MARKUP_PATTERNS = ["<script", "<html", "<svg", "<iframe", "<body", "<object", "<embed", "<?php", "<!doctype", "javascript:"].map(
  (p) => Uint8Array.from(p, (ch) => ch.charCodeAt(0)),
);

export function containsMarkup(bytes: Uint8Array, from = 0, to = bytes.length): boolean {
  const end = Math.min(to, bytes.length);
  for (let i = from; i < end; i++) {
    const b = bytes[i];
    if (b !== 0x3c && b !== 0x6a && b !== 0x4a) continue; // '<', 'j', 'J'
    for (const p of MARKUP_PATTERNS) {
      if (i + p.length > end) continue;
      let k = 0;
      while (k < p.length) {
        const c = bytes[i + k] ?? 0;
        const lower = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
        if (lower !== p[k]) break;
        k++;
      }
      if (k === p.length) return true;
    }
  }
  return false;
}

/** Bytes after the end of the image are tolerated only as zero padding. */
function trailingIsPadding(bytes: Uint8Array, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

function u32be(b: Uint8Array, at: number): number {
  return (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0;
}
function u16be(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
}
function u16le(b: Uint8Array, at: number): number {
  return (b[at] ?? 0) | ((b[at + 1] ?? 0) << 8);
}
function u24le(b: Uint8Array, at: number): number {
  return (b[at] ?? 0) | ((b[at + 1] ?? 0) << 8) | ((b[at + 2] ?? 0) << 16);
}
function u32le(b: Uint8Array, at: number): number {
  return u24le(b, at) + (b[at + 3] ?? 0) * 0x1000000;
}

const PNG_BIT_DEPTHS: Record<number, readonly number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
/** Free-text chunks whose contents are checked for markup (zTXt and compressed iTXt are deflated). */
const PNG_TEXT_CHUNKS = new Set(["tEXt", "iTXt", "zTXt", "eXIf", "iCCP"]);

function inspectPng(b: Uint8Array): Inspection {
  let at = 8;
  let info: ImageInfo | undefined;
  let sawIdat = false;
  let idatEnded = false;
  let sawPlte = false;
  let frames = 1;
  while (true) {
    if (at + 8 > b.length) return bad("truncated", "the PNG ends inside a chunk header");
    const length = u32be(b, at);
    const type = ascii(b, at + 4, at + 8);
    if (!/^[A-Za-z]{4}$/.test(type)) return bad("corrupt", "the PNG has a malformed chunk");
    if (length > 0x7fffffff) return bad("corrupt", "the PNG has an impossible chunk length");
    const dataAt = at + 8;
    const next = dataAt + length + 4;
    if (next > b.length) return bad("truncated", `the PNG ends inside its ${type} chunk`);
    if (info === undefined && type !== "IHDR") return bad("corrupt", "the PNG does not start with IHDR");
    if (type !== "IDAT" && sawIdat) idatEnded = true;
    switch (type) {
      case "IHDR": {
        if (info !== undefined || length !== 13) return bad("corrupt", "the PNG has a malformed IHDR");
        const width = u32be(b, dataAt);
        const height = u32be(b, dataAt + 4);
        const bitDepth = b[dataAt + 8] ?? 0;
        const colorType = b[dataAt + 9] ?? 0;
        const interlace = b[dataAt + 12] ?? 0;
        if (width === 0 || height === 0) return bad("corrupt", "the PNG declares an empty image");
        if (!PNG_BIT_DEPTHS[colorType]?.includes(bitDepth)) return bad("corrupt", "the PNG declares an invalid color type or bit depth");
        if ((b[dataAt + 10] ?? 1) !== 0 || (b[dataAt + 11] ?? 1) !== 0 || interlace > 1) {
          return bad("corrupt", "the PNG declares an unknown compression, filter or interlace method");
        }
        info = { type: "png", width, height, frames: 1, png: { bitDepth, colorType, interlace } };
        break;
      }
      case "PLTE":
        if (length === 0 || length % 3 !== 0 || length > 768 || sawIdat) return bad("corrupt", "the PNG has a malformed palette");
        sawPlte = true;
        break;
      case "IDAT":
        if (idatEnded) return bad("corrupt", "the PNG's image data is not contiguous");
        sawIdat = true;
        break;
      case "acTL":
        frames = Math.max(1, u32be(b, dataAt));
        break;
      case "IEND":
        if (!sawIdat || !info) return bad("corrupt", "the PNG has no image data");
        if (info.png?.colorType === 3 && !sawPlte) return bad("corrupt", "the palette PNG has no palette");
        if (!trailingIsPadding(b, next)) return bad("trailing_data", "the PNG has data after its end (IEND)");
        info.frames = frames;
        return { ok: true, image: info };
      default:
        if (PNG_TEXT_CHUNKS.has(type) && containsMarkup(b, dataAt, dataAt + length)) {
          return bad("embedded_markup", `the PNG's ${type} chunk holds markup or script`);
        }
        if ((type.charCodeAt(0) & 0x20) === 0) return bad("corrupt", `the PNG has an unknown critical chunk ${type}`);
    }
    at = next;
  }
}

function isSof(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function inspectJpeg(b: Uint8Array): Inspection {
  let at = 2;
  let width = 0;
  let height = 0;
  let sawScan = false;
  while (true) {
    // Skip fill bytes before a marker.
    if (at >= b.length) return bad("truncated", "the JPEG ends before its end marker (EOI)");
    if (b[at] !== 0xff) return bad("corrupt", "the JPEG has a malformed segment");
    while (b[at] === 0xff) at++;
    if (at >= b.length) return bad("truncated", "the JPEG ends before its end marker (EOI)");
    const marker = b[at] ?? 0;
    at++;
    if (marker === 0xd9) {
      if (!sawScan || width === 0) return bad("corrupt", "the JPEG has no image data");
      if (!trailingIsPadding(b, at)) return bad("trailing_data", "the JPEG has data after its end (EOI)");
      return { ok: true, image: { type: "jpeg", width, height, frames: 1 } };
    }
    if (marker === 0xd8 || marker === 0x00) return bad("corrupt", "the JPEG has a misplaced marker");
    if (marker >= 0xd0 && marker <= 0xd7) continue; // restart markers carry no length
    if (at + 2 > b.length) return bad("truncated", "the JPEG ends inside a segment header");
    const length = u16be(b, at);
    if (length < 2) return bad("corrupt", "the JPEG has a malformed segment length");
    const end = at + length;
    if (end > b.length) return bad("truncated", "the JPEG ends inside a segment");
    if (isSof(marker)) {
      if (length < 8) return bad("corrupt", "the JPEG has a malformed frame header");
      height = u16be(b, at + 3);
      width = u16be(b, at + 5);
      if (width === 0 || height === 0) return bad("corrupt", "the JPEG declares an empty image (or a DNL height)");
    } else if ((marker >= 0xe0 && marker <= 0xef) || marker === 0xfe) {
      if (containsMarkup(b, at + 2, end)) return bad("embedded_markup", "the JPEG's metadata holds markup or script");
    }
    at = end;
    if (marker === 0xda) {
      if (width === 0) return bad("corrupt", "the JPEG starts a scan before its frame header");
      sawScan = true;
      // Entropy-coded data: runs until a marker other than a stuffed 0xFF00 or a restart.
      while (true) {
        const ff = b.indexOf(0xff, at);
        if (ff < 0 || ff + 1 >= b.length) return bad("truncated", "the JPEG ends inside its image data");
        const next = b[ff + 1] ?? 0;
        if (next === 0x00 || (next >= 0xd0 && next <= 0xd7) || next === 0xff) {
          at = next === 0xff ? ff + 1 : ff + 2;
          continue;
        }
        at = ff;
        break;
      }
    }
  }
}

function inspectWebp(b: Uint8Array): Inspection {
  if (b.length < 20) return bad("truncated", "the WebP ends inside its header");
  const riffSize = u32le(b, 4);
  const end = 8 + riffSize;
  if (riffSize < 4 || riffSize % 2 === 1) return bad("corrupt", "the WebP has a malformed RIFF size");
  if (end > b.length) return bad("truncated", "the WebP is shorter than its RIFF header says");
  if (!trailingIsPadding(b, end)) return bad("trailing_data", "the WebP has data after its RIFF container");
  let at = 12;
  let width = 0;
  let height = 0;
  let canvas: { width: number; height: number } | undefined;
  let frames = 0;
  let image = false;
  while (at < end) {
    if (at + 8 > end) return bad("truncated", "the WebP ends inside a chunk header");
    const fourcc = ascii(b, at, at + 4);
    const size = u32le(b, at + 4);
    const dataAt = at + 8;
    const next = dataAt + size + (size % 2);
    if (dataAt + size > end) return bad("truncated", `the WebP ends inside its ${fourcc} chunk`);
    if (fourcc === "VP8X") {
      if (at !== 12 || size < 10) return bad("corrupt", "the WebP has a misplaced or malformed VP8X chunk");
      canvas = { width: u24le(b, dataAt + 4) + 1, height: u24le(b, dataAt + 7) + 1 };
    } else if (fourcc === "VP8 ") {
      if (size < 10) return bad("truncated", "the WebP's VP8 frame is too short");
      if (b[dataAt + 3] !== 0x9d || b[dataAt + 4] !== 0x01 || b[dataAt + 5] !== 0x2a)
        return bad("corrupt", "the WebP's VP8 frame has no start code");
      if ((b[dataAt] ?? 1) & 1) return bad("corrupt", "the WebP's VP8 frame is not a key frame");
      width = u16le(b, dataAt + 6) & 0x3fff;
      height = u16le(b, dataAt + 8) & 0x3fff;
      image = true;
    } else if (fourcc === "VP8L") {
      if (size < 5 || b[dataAt] !== 0x2f) return bad("corrupt", "the WebP's lossless frame has no signature");
      const bits = u32le(b, dataAt + 1);
      width = (bits & 0x3fff) + 1;
      height = ((bits >>> 14) & 0x3fff) + 1;
      image = true;
    } else if (fourcc === "ANMF") {
      frames++;
      image = true;
    } else if (fourcc === "EXIF" || fourcc === "XMP " || !/^(ALPH|ICCP|ANIM)$/.test(fourcc)) {
      if (containsMarkup(b, dataAt, dataAt + size)) return bad("embedded_markup", `the WebP's ${fourcc} chunk holds markup or script`);
    }
    at = next;
  }
  if (!image) return bad("corrupt", "the WebP has no image data");
  const w = canvas?.width ?? width;
  const h = canvas?.height ?? height;
  if (w === 0 || h === 0) return bad("corrupt", "the WebP declares an empty image");
  return { ok: true, image: { type: "webp", width: w, height: h, frames: Math.max(1, frames) } };
}

/** Walks a GIF's blocks: returns the offset after a run of data sub-blocks, or -1 if truncated. */
function skipSubBlocks(b: Uint8Array, at: number, check?: (from: number, to: number) => boolean): number {
  let p = at;
  while (true) {
    if (p >= b.length) return -1;
    const n = b[p] ?? 0;
    if (n === 0) return p + 1;
    if (p + 1 + n > b.length) return -1;
    if (check && !check(p + 1, p + 1 + n)) return -2;
    p += 1 + n;
  }
}

function inspectGif(b: Uint8Array): Inspection {
  if (b.length < 13) return bad("truncated", "the GIF ends inside its header");
  const width = u16le(b, 6);
  const height = u16le(b, 8);
  if (width === 0 || height === 0) return bad("corrupt", "the GIF declares an empty image");
  const flags = b[10] ?? 0;
  let at = 13 + (flags & 0x80 ? 3 * 2 ** ((flags & 7) + 1) : 0);
  let frames = 0;
  const noMarkup = (from: number, to: number) => !containsMarkup(b, from, to);
  while (true) {
    if (at >= b.length) return bad("truncated", "the GIF ends before its trailer");
    const block = b[at];
    if (block === 0x3b) {
      if (frames === 0) return bad("corrupt", "the GIF has no image");
      if (!trailingIsPadding(b, at + 1)) return bad("trailing_data", "the GIF has data after its trailer");
      return { ok: true, image: { type: "gif", width, height, frames } };
    }
    if (block === 0x21) {
      if (at + 2 > b.length) return bad("truncated", "the GIF ends inside an extension");
      const label = b[at + 1];
      // Comments (0xFE), plain text (0x01) and application data (0xFF) hold free text.
      const next = skipSubBlocks(b, at + 2, label === 0xfe || label === 0x01 || label === 0xff ? noMarkup : undefined);
      if (next === -2) return bad("embedded_markup", "the GIF's comment or application data holds markup or script");
      if (next < 0) return bad("truncated", "the GIF ends inside an extension");
      at = next;
    } else if (block === 0x2c) {
      if (at + 10 > b.length) return bad("truncated", "the GIF ends inside an image descriptor");
      const fx = u16le(b, at + 1);
      const fy = u16le(b, at + 3);
      const fw = u16le(b, at + 5);
      const fh = u16le(b, at + 7);
      if (fw === 0 || fh === 0) return bad("corrupt", "the GIF has an empty frame");
      // A frame larger than the screen would escape the dimension limits checked on the screen.
      if (fx + fw > width || fy + fh > height) return bad("corrupt", "the GIF has a frame outside its logical screen");
      const lflags = b[at + 9] ?? 0;
      at += 10 + (lflags & 0x80 ? 3 * 2 ** ((lflags & 7) + 1) : 0);
      if (at >= b.length) return bad("truncated", "the GIF ends inside a frame");
      const minCode = b[at] ?? 0;
      if (minCode < 2 || minCode > 11) return bad("corrupt", "the GIF has an invalid LZW code size");
      const next = skipSubBlocks(b, at + 1);
      if (next < 0) return bad("truncated", "the GIF ends inside a frame");
      frames++;
      at = next;
    } else {
      return bad("corrupt", "the GIF has an unknown block");
    }
  }
}

/**
 * Sniffs, walks the structure and reads the dimensions. Does not decode pixels, so it is cheap and
 * safe on hostile input; a valid result still has to pass `checkDimensions`.
 */
export function inspectImage(bytes: Uint8Array): Inspection {
  const sniffed = sniffImageType(bytes);
  if (sniffed.type === null) {
    return bad("unsupported_type", `only PNG, JPEG, WebP and GIF images are accepted (this looks like ${sniffed.detected})`);
  }
  switch (sniffed.type) {
    case "png":
      return inspectPng(bytes);
    case "jpeg":
      return inspectJpeg(bytes);
    case "webp":
      return inspectWebp(bytes);
    case "gif":
      return inspectGif(bytes);
  }
}

/** Refuses sizes that would take too much memory to decode (checked before any decode). */
export function checkDimensions(width: number, height: number): string | null {
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    return `the image is ${width}×${height}: at most ${MAX_IMAGE_SIDE} px a side`;
  }
  if (width * height > MAX_IMAGE_PIXELS) {
    return `the image is ${width}×${height} (${((width * height) / 1e6).toFixed(1)} megapixels): at most ${MAX_IMAGE_PIXELS / 1e6}`;
  }
  return null;
}

/** The size that fits within `max`×`max` keeping the aspect ratio; never larger than the input. */
export function fitWithin(width: number, height: number, max = TOKEN_ART_SIZE): { width: number; height: number } {
  const scale = Math.min(1, max / width, max / height);
  if (scale === 1) return { width, height };
  return { width: Math.max(1, Math.min(max, Math.round(width * scale))), height: Math.max(1, Math.min(max, Math.round(height * scale))) };
}

// ---- signed URLs -------------------------------------------------------------------------------

/** What the HMAC of an asset URL covers: the session, the asset and the expiry. */
export function assetSignaturePayload(sessionId: string, hash: string, expires: number): string {
  return `vtt-asset-v1\n${sessionId}\n${hash}\n${expires}`;
}
