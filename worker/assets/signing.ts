/**
 * Signed asset URLs: `/api/vtt/assets/{hash}?sid={session}&exp={unix seconds}&sig={HMAC}`, the
 * HMAC-SHA256 (key ASSET_SIGNING_SECRET) of session, hash and expiry. The URL is the capability:
 * no cookie is needed to load it (so `<img src>` works anywhere in the app), it names one asset of
 * one session, and it stops working at `exp`. Expiries are rounded up to the hour so the same
 * asset keeps the same URL for a while and browsers cache it across state reloads.
 */
import { assetSignaturePayload } from "../../domain/assets";
import { ApiError } from "../api-error";
import { base64url, safeEqual } from "../lib/crypto";

/** How long a signed URL lives (at least; rounding adds up to an hour). */
export const ASSET_URL_TTL_SECONDS = 24 * 3600;
const ROUND_SECONDS = 3600;
const MIN_SECRET_LENGTH = 32;

const keys = new Map<string, Promise<CryptoKey>>();

/** The signing key, or 503 when the deployment has no (or a too short) secret. */
function signingKey(env: Env): Promise<CryptoKey> {
  // A secret is typed as present but is missing at run time until `wrangler secret put`.
  const secret: string = env.ASSET_SIGNING_SECRET ?? "";
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new ApiError(
      "unavailable",
      `asset URLs cannot be signed: set the ASSET_SIGNING_SECRET secret (at least ${MIN_SECRET_LENGTH} characters) with \`wrangler secret put ASSET_SIGNING_SECRET\``,
    );
  }
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    keys.set(secret, key);
  }
  return key;
}

/** Fails early (before an upload is read) when URLs could not be signed. */
export function assertSigningConfigured(env: Env): void {
  void signingKey(env);
}

async function signature(env: Env, sessionId: string, hash: string, expires: number): Promise<string> {
  const mac = await crypto.subtle.sign(
    "HMAC",
    await signingKey(env),
    new TextEncoder().encode(assetSignaturePayload(sessionId, hash, expires)),
  );
  return base64url(new Uint8Array(mac));
}

export function expiryFor(nowMs: number, ttlSeconds = ASSET_URL_TTL_SECONDS): number {
  return Math.ceil((Math.floor(nowMs / 1000) + ttlSeconds) / ROUND_SECONDS) * ROUND_SECONDS;
}

export async function signedAssetUrl(env: Env, sessionId: string, hash: string, expires = expiryFor(Date.now())): Promise<string> {
  const sig = await signature(env, sessionId, hash, expires);
  return `/api/vtt/assets/${hash}?sid=${encodeURIComponent(sessionId)}&exp=${expires}&sig=${sig}`;
}

export type Verification = { ok: true; sessionId: string; expires: number } | { ok: false; message: string };

/** Checks the query of a signed URL for `hash` at time `nowMs`. */
export async function verifyAssetUrl(env: Env, hash: string, query: URLSearchParams, nowMs: number): Promise<Verification> {
  const sessionId = query.get("sid");
  const exp = query.get("exp");
  const sig = query.get("sig");
  if (!sessionId || !exp || !sig) return { ok: false, message: "the asset URL is not signed" };
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(sessionId) || !/^[0-9]{1,12}$/.test(exp) || !/^[A-Za-z0-9_-]{43}$/.test(sig)) {
    return { ok: false, message: "the asset URL's signature is malformed" };
  }
  const expires = Number(exp);
  const expected = await signature(env, sessionId, hash, expires);
  if (!safeEqual(sig, expected)) return { ok: false, message: "the asset URL's signature is wrong" };
  if (expires * 1000 <= nowMs) return { ok: false, message: "the asset URL has expired: fetch a fresh one" };
  return { ok: true, sessionId, expires };
}
