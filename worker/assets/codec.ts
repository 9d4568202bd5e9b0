/**
 * Token art: any accepted image in, a WebP of at most 512×512 out (aspect kept, never upscaled).
 *
 * The codecs are jSquash's WebAssembly builds of the Squoosh codecs (MozJPEG and libwebp
 * decoders, the libwebp encoder, the Rust `resize` crate's Lanczos3), loaded as compiled
 * WebAssembly modules that wrangler and the vitest pool bundle with the worker: nothing is
 * fetched at run time and the same bytes run in workerd locally and in production.
 *
 * Memory is the constraint (128 MB an isolate), so the full-resolution image is avoided:
 * - PNG and GIF are stream-decoded (png-stream.ts, gif-stream.ts) straight into a BoxShrinker,
 *   which keeps only an output grid under twice the final size;
 * - JPEG and WebP are decoded whole by the WebAssembly decoders (which hold the frame twice: in
 *   their heap and in the JS copy they return), so their token art is capped at
 *   FULL_DECODE_MAX_PIXELS; the decoder instance is created per call so its grown heap is freed
 *   with it instead of staying with the isolate;
 * - the Lanczos resize and the WebP encode then work on at most ~1024×1024.
 */
import jpegDecoderFactory from "@jsquash/jpeg/codec/dec/mozjpeg_dec.js";
import jpegDecoderWasm from "@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm";
import initResize, { resize } from "@jsquash/resize/lib/resize/pkg/squoosh_resize.js";
import resizeWasm from "@jsquash/resize/lib/resize/pkg/squoosh_resize_bg.wasm?module";
import webpDecoderFactory from "@jsquash/webp/codec/dec/webp_dec.js";
import webpDecoderWasm from "@jsquash/webp/codec/dec/webp_dec.wasm";
import webpEncoderFactory from "@jsquash/webp/codec/enc/webp_enc_simd.js";
import webpEncoderWasm from "@jsquash/webp/codec/enc/webp_enc_simd.wasm";
import { defaultOptions as webpDefaults } from "@jsquash/webp/meta.js";
import { fitWithin, type ImageInfo, TOKEN_ART_SIZE } from "../../domain/assets";
import { decodeGifInto } from "./gif-stream";
import { decodePngInto, ImageDecodeError } from "./png-stream";
import { BoxShrinker, boxFactor, type Rgba } from "./shrink";

export { ImageDecodeError };

/** JPEG and WebP token art above this many pixels is refused (see the module comment). */
export const FULL_DECODE_MAX_PIXELS = 4096 * 2048;
export const TOKEN_ART_MIME = "image/webp";
const WEBP_QUALITY = 85;

interface DecodedImage {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}
interface DecoderModule {
  decode(data: Uint8Array, ...rest: boolean[]): DecodedImage | null;
}
interface EncoderModule {
  encode(data: Uint8Array | Uint8ClampedArray, width: number, height: number, options: Record<string, number>): Uint8Array | null;
}
type EmscriptenFactory<M> = (overrides: Record<string, unknown>) => Promise<M>;

/** Instantiates an Emscripten codec from its precompiled module (no fetch, no file system). */
function instantiate<M>(factory: unknown, wasm: WebAssembly.Module): Promise<M> {
  return (factory as EmscriptenFactory<M>)({
    noInitialRun: true,
    instantiateWasm(imports: WebAssembly.Imports, callback: (instance: WebAssembly.Instance) => void) {
      const instance = new WebAssembly.Instance(wasm, imports);
      callback(instance);
      return instance.exports;
    },
  });
}

// The resizer and the encoder only ever see small images: one instance each per isolate.
let resizeReady: Promise<unknown> | undefined;
let encoder: Promise<EncoderModule> | undefined;

async function lanczos(image: Rgba, width: number, height: number): Promise<Rgba> {
  if (image.width === width && image.height === height) return image;
  resizeReady ??= initResize(resizeWasm);
  await resizeReady;
  // typ_idx 3 = Lanczos3; premultiplied alpha and linear RGB, Squoosh's defaults.
  const out = resize(image.data, image.width, image.height, width, height, 3, true, true);
  return { data: new Uint8Array(out.buffer, out.byteOffset, out.byteLength), width, height };
}

async function encodeWebp(image: Rgba): Promise<Uint8Array> {
  encoder ??= instantiate<EncoderModule>(webpEncoderFactory, webpEncoderWasm);
  const module = await encoder;
  const out = module.encode(image.data, image.width, image.height, { ...webpDefaults, quality: WEBP_QUALITY });
  if (!out) throw new Error("the WebP encoder failed");
  return new Uint8Array(out);
}

export class TokenArtTooLarge extends Error {}

interface Shrunk {
  image: Rgba;
  /** The decoded size before the box filter (JPEG: after its EXIF rotation). */
  sourceWidth: number;
  sourceHeight: number;
}

/** Decodes `bytes` (already inspected) into a box-shrunk image near the token art size. */
async function decodeShrunk(bytes: Uint8Array, image: ImageInfo, size: number): Promise<Shrunk> {
  if (image.type === "png" || image.type === "gif") {
    const shrinker = new BoxShrinker(image.width, image.height, boxFactor(image.width, image.height, size));
    if (image.type === "png") await decodePngInto(bytes, image, shrinker);
    else decodeGifInto(bytes, image, shrinker);
    return { image: shrinker.finish(), sourceWidth: image.width, sourceHeight: image.height };
  }
  if (image.width * image.height > FULL_DECODE_MAX_PIXELS) {
    throw new TokenArtTooLarge(
      `${image.type.toUpperCase()} token art is decoded whole, so it may have at most ${FULL_DECODE_MAX_PIXELS / 2 ** 20} megapixels ` +
        `(this one is ${image.width}×${image.height}); shrink it or upload it as PNG`,
    );
  }
  if (image.type === "webp" && image.frames > 1) {
    throw new ImageDecodeError("animated WebP token art is not supported: upload a still image (an animated GIF becomes its first frame)");
  }
  // A fresh decoder instance: its heap grows to the full frame and is released with it.
  const decoder =
    image.type === "jpeg"
      ? await instantiate<DecoderModule>(jpegDecoderFactory, jpegDecoderWasm)
      : await instantiate<DecoderModule>(webpDecoderFactory, webpDecoderWasm);
  let decoded: DecodedImage | null;
  try {
    // MozJPEG: `true` applies the EXIF orientation, so phone portraits stand upright.
    decoded = image.type === "jpeg" ? decoder.decode(bytes, true) : decoder.decode(bytes);
  } catch {
    decoded = null;
  }
  if (!decoded || decoded.width === 0 || decoded.height === 0)
    throw new ImageDecodeError(`the ${image.type.toUpperCase()} could not be decoded`);
  const { width, height } = decoded;
  const pixels = new Uint8Array(decoded.data.buffer, decoded.data.byteOffset, decoded.data.byteLength);
  const shrinker = new BoxShrinker(width, height, boxFactor(width, height, size));
  for (let y = 0; y < height; y++) shrinker.addRow(y, pixels.subarray(y * width * 4, (y + 1) * width * 4));
  return { image: shrinker.finish(), sourceWidth: width, sourceHeight: height };
}

export interface TokenArt {
  bytes: Uint8Array;
  mime: string;
  width: number;
  height: number;
}

/**
 * Token art from an inspected upload: decoded (first frame of an animation), fitted within
 * 512×512 keeping the aspect ratio (never upscaled) and re-encoded as WebP. Re-encoding every
 * upload, small ones included, also drops metadata and anything hidden in the original file.
 */
export async function makeTokenArt(bytes: Uint8Array, image: ImageInfo, size = TOKEN_ART_SIZE): Promise<TokenArt> {
  const shrunk = await decodeShrunk(bytes, image, size);
  const target = fitWithin(shrunk.sourceWidth, shrunk.sourceHeight, size);
  const fitted = await lanczos(shrunk.image, target.width, target.height);
  return { bytes: await encodeWebp(fitted), mime: TOKEN_ART_MIME, width: fitted.width, height: fitted.height };
}
