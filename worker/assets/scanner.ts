/**
 * The scanner hook: every upload (and every image of an imported bundle) passes a list of scanners
 * before it is accepted. The built-in one (always first, not removable) enforces the contract from
 * the bytes: sniffed type, extension agreement, structure, PNG chunk CRCs, polyglots and the
 * decompression-bomb limits. More can be plugged in:
 *
 * - `ASSET_SCANNER`, an optional service binding, adds `serviceScanner` (e.g. a ClamAV front
 *   worker or container). Declare it in wrangler.toml:
 *
 *       [[services]]
 *       binding = "ASSET_SCANNER"
 *       service = "vtt-clamav"
 *
 *   It receives `POST /scan` with the file as body (`Content-Type` the sniffed type,
 *   `X-Asset-Sha256` its hash) and answers `200 {"clean": true}` or `200 {"clean": false,
 *   "signature": "Eicar-Test-Signature"}`. Anything else (an error, a timeout) refuses the upload
 *   with 503: the hook fails closed.
 * - In code, `addScanner` plugs one into every upload and import (tests do), or pass more
 *   `AssetScanner`s to `scanUpload`.
 */
import {
  type AssetKind,
  checkDimensions,
  extensionAgrees,
  extensionOf,
  type ImageInfo,
  imageExtensions,
  imageMime,
  imageTypeOfMime,
  inspectImage,
} from "../../domain/assets";
import { ApiError } from "../api-error";
import { sha256Hex } from "../lib/crypto";
import { findBadPngCrc } from "./png-chunks";

export interface ScanInput {
  bytes: Uint8Array;
  filename: string;
  /** The Content-Type the client gave the file part, if any (never trusted, only compared). */
  declaredType: string | undefined;
  kind: AssetKind;
  sessionId: string;
  userId: string;
}

export type ScanVerdict = { ok: true } | { ok: false; error: ApiError };

export interface AssetScanner {
  readonly name: string;
  /** Runs after the built-in checks, so `image` is a well-formed image within the limits. */
  scan(input: ScanInput, image: ImageInfo): Promise<ScanVerdict>;
}

/** The built-in checks; throws the contract's 415 or 413. */
export function checkImage(input: ScanInput): ImageInfo {
  const inspected = inspectImage(input.bytes);
  if (!inspected.ok) {
    throw new ApiError("unsupported_media_type", inspected.message, { reason: inspected.reason });
  }
  const image = inspected.image;
  if (!extensionAgrees(image.type, input.filename)) {
    const ext = extensionOf(input.filename);
    throw new ApiError(
      "unsupported_media_type",
      `the file is ${image.type.toUpperCase()} but its name says ${ext ? `.${ext}` : "nothing"}: name it .${imageExtensions[image.type][0]}`,
      { reason: "extension_mismatch", sniffed: imageMime[image.type] },
    );
  }
  const declared = input.declaredType?.split(";")[0]?.trim().toLowerCase();
  if (declared?.startsWith("image/") && imageTypeOfMime(declared) !== image.type) {
    throw new ApiError("unsupported_media_type", `the file is ${imageMime[image.type]} but was sent as ${declared}`, {
      reason: "declared_type_mismatch",
      sniffed: imageMime[image.type],
    });
  }
  if (image.type === "png") {
    const bad = findBadPngCrc(input.bytes);
    if (bad)
      throw new ApiError("unsupported_media_type", `the PNG's ${bad} chunk is corrupted (its CRC does not match)`, {
        reason: "corrupt",
        chunk: bad,
      });
  }
  const tooLarge = checkDimensions(image.width, image.height);
  if (tooLarge) {
    throw new ApiError("payload_too_large", tooLarge, { reason: "dimensions", width: image.width, height: image.height });
  }
  return image;
}

/** An external scanner behind a service binding (see the module comment for the protocol). */
export function serviceScanner(fetcher: Fetcher, name = "ASSET_SCANNER"): AssetScanner {
  return {
    name,
    async scan(input, image) {
      let verdict: unknown;
      try {
        const res = await fetcher.fetch("https://scanner.internal/scan", {
          method: "POST",
          body: input.bytes,
          headers: { "content-type": imageMime[image.type], "x-asset-sha256": await sha256Hex(input.bytes) },
          signal: AbortSignal.timeout(10_000),
        });
        verdict = res.ok ? await res.json() : undefined;
      } catch {
        verdict = undefined;
      }
      if (typeof verdict !== "object" || verdict === null || typeof (verdict as { clean?: unknown }).clean !== "boolean") {
        return { ok: false, error: new ApiError("unavailable", "the upload scanner is unavailable; try again later") };
      }
      const { clean, signature } = verdict as { clean: boolean; signature?: unknown };
      if (clean) return { ok: true };
      return {
        ok: false,
        error: new ApiError("unsupported_media_type", "the upload was rejected by the malware scanner", {
          reason: "scanner",
          scanner: name,
          ...(typeof signature === "string" ? { signature: signature.slice(0, 200) } : {}),
        }),
      };
    },
  };
}

/** Scanners plugged in from code, run after the configured service (tests add theirs here). */
const codeScanners: AssetScanner[] = [];

/** Adds a scanner to every upload and import from now on; returns its removal. */
export function addScanner(scanner: AssetScanner): () => void {
  codeScanners.push(scanner);
  return () => {
    const at = codeScanners.indexOf(scanner);
    if (at >= 0) codeScanners.splice(at, 1);
  };
}

/** The scanners configured by the environment (and plugged in from code), after the built-in checks. */
export function configuredScanners(env: Env): AssetScanner[] {
  const binding = (env as Partial<{ ASSET_SCANNER: Fetcher }>).ASSET_SCANNER;
  return [...(binding ? [serviceScanner(binding)] : []), ...codeScanners];
}

/** Runs the built-in checks, then every scanner in order; the first refusal is thrown. */
export async function scanUpload(input: ScanInput, scanners: readonly AssetScanner[]): Promise<ImageInfo> {
  const image = checkImage(input);
  for (const scanner of scanners) {
    const verdict = await scanner.scan(input, image);
    if (!verdict.ok) throw verdict.error;
  }
  return image;
}
