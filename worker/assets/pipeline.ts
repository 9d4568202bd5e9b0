/**
 * The asset pipeline every image goes through before it is stored, whether it arrives as an
 * upload (routes/assets.ts) or inside a scene bundle (routes/bundles.ts): nothing a client says
 * about the file is trusted, everything is measured from the bytes.
 *
 * 1. size limit of its kind (20 MiB map, 5 MiB token art) → 413;
 * 2. the scanner hook (scanner.ts): sniffed type, extension and declared type, structure, PNG
 *    chunk CRCs, dimensions read from the header (decompression bombs → 413), then every
 *    configured scanner;
 * 3. SHA-256 of the bytes; an asset of the session and kind already made from them is reused;
 * 4. token art is decoded, fitted within 512×512 and re-encoded as WebP (codec.ts); a PNG map
 *    loses its text, metadata and private chunks (png-chunks.ts); other maps keep their bytes.
 *
 * `prepareAsset` does all of it without writing anything: the caller stores what it answers with
 * `storeAsset` once every refusal is behind it (an import refuses a whole bundle before storing
 * any of its assets).
 */
import { ASSET_SIZE_LIMITS, type AssetKind, type ImageInfo, imageMime } from "../../domain/assets";
import { ApiError } from "../api-error";
import { sha256Hex } from "../lib/crypto";
import { ImageDecodeError, makeTokenArt, TokenArtTooLarge } from "./codec";
import { stripPngMetadata } from "./png-chunks";
import { type AssetScanner, type ScanInput, scanUpload } from "./scanner";
import { type AssetRow, findExisting } from "./store";

export function assetTooLarge(kind: AssetKind, message?: string): ApiError {
  const limit = ASSET_SIZE_LIMITS[kind];
  return new ApiError("payload_too_large", message ?? `${kind === "token" ? "token art" : "a map"} may be at most ${limit / 2 ** 20} MiB`, {
    reason: "size",
    kind,
    limit,
  });
}

export interface StoredForm {
  bytes: Uint8Array;
  mime: string;
  width: number;
  height: number;
}

export type PreparedAsset =
  | { existing: AssetRow; originalHash: string; image: ImageInfo }
  | { existing?: undefined; originalHash: string; hash: string; image: ImageInfo; stored: StoredForm };

/** Checks, scans and transforms one image (see the module comment); throws the contract's 4xx. */
export async function prepareAsset(env: Env, input: ScanInput, scanners: readonly AssetScanner[]): Promise<PreparedAsset> {
  if (input.bytes.byteLength > ASSET_SIZE_LIMITS[input.kind]) throw assetTooLarge(input.kind);
  const image = await scanUpload(input, scanners);
  const originalHash = await sha256Hex(input.bytes);
  const existing = await findExisting(env, input.sessionId, originalHash, input.kind);
  if (existing) return { existing, originalHash, image };

  let stored: StoredForm = { bytes: input.bytes, mime: imageMime[image.type], width: image.width, height: image.height };
  if (input.kind === "token") {
    try {
      stored = await makeTokenArt(input.bytes, image);
    } catch (error) {
      if (error instanceof TokenArtTooLarge)
        throw new ApiError("payload_too_large", error.message, { reason: "decode_budget", kind: input.kind });
      if (error instanceof ImageDecodeError) throw new ApiError("unsupported_media_type", error.message, { reason: "undecodable" });
      throw error;
    }
  } else if (image.type === "png") {
    stored = { ...stored, bytes: stripPngMetadata(input.bytes) };
  }
  const hash = stored.bytes === input.bytes ? originalHash : await sha256Hex(stored.bytes);
  return { originalHash, hash, image, stored };
}
