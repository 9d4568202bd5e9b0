/**
 * Storing an accepted upload: content-addressed in R2, recorded in the session's manifest.
 *
 * Identity: an asset is the SHA-256 of the bytes stored in R2 (so anyone can re-verify an object
 * against its name). Maps are stored as uploaded; token art is stored resized, so its manifest
 * row also keeps `original_hash`, the SHA-256 of what was uploaded: the same original uploaded
 * again is found by that and answered without decoding it a second time.
 *
 * One R2 object per distinct content (`assets/{sha256}`), shared by every session that uploaded
 * it; one manifest row per (session, hash). The row is written before the object, so the cleanup
 * job, which only deletes objects that no row names, never removes the object of an upload that
 * is in progress. R2 is given the SHA-256 with the put and refuses the write if the bytes it
 * received differ.
 */
import { and, eq, or } from "drizzle-orm";
import type { AssetKind, AssetView } from "../../domain/assets";
import { nowIso } from "../db/client";
import { assets } from "../db/schema";
import { sessionDb } from "../db/shards";
import { signedAssetUrl } from "./signing";

export type AssetRow = typeof assets.$inferSelect;

export function r2KeyFor(hash: string): string {
  return `assets/${hash}`;
}

export async function viewOf(env: Env, row: AssetRow): Promise<AssetView> {
  return {
    hash: row.hash,
    mime: row.mime,
    size: row.size,
    width: row.width,
    height: row.height,
    kind: row.kind,
    url: await signedAssetUrl(env, row.session_id, row.hash),
  };
}

/** The optional mirror bucket (see docs/assets.md); absent unless bound in wrangler.toml. */
export function mirrorOf(env: Env): R2Bucket | undefined {
  return (env as Partial<{ ASSETS_MIRROR: R2Bucket }>).ASSETS_MIRROR;
}

/**
 * An asset of the session and kind already made from these bytes: stored as they are, or (token
 * art) resized from them. The kind must match: the same picture uploaded as a map and as token
 * art is two assets (one resized). A hit counts as a fresh reference for the cleanup job.
 */
export async function findExisting(env: Env, sessionId: string, uploadedHash: string, kind: AssetKind): Promise<AssetRow | undefined> {
  const db = await sessionDb(env, sessionId);
  const rows = await db
    .select()
    .from(assets)
    .where(
      and(
        eq(assets.session_id, sessionId),
        eq(assets.kind, kind),
        or(eq(assets.hash, uploadedHash), eq(assets.original_hash, uploadedHash)),
      ),
    )
    .all();
  // Prefer the row made from this original, then the one storing these very bytes.
  const row = rows.find((r) => r.original_hash === uploadedHash) ?? rows[0];
  if (!row) return undefined;
  const touched = nowIso();
  await db
    .update(assets)
    .set({ last_referenced_at: touched })
    .where(and(eq(assets.session_id, sessionId), eq(assets.hash, row.hash)));
  return { ...row, last_referenced_at: touched };
}

export interface NewAsset {
  sessionId: string;
  userId: string;
  kind: AssetKind;
  bytes: Uint8Array;
  hash: string;
  originalHash: string;
  mime: string;
  width: number;
  height: number;
}

export class StorageError extends Error {}

/** Records the asset and stores its bytes (once per content); returns the manifest row. */
export async function storeAsset(env: Env, asset: NewAsset): Promise<AssetRow> {
  const db = await sessionDb(env, asset.sessionId);
  const key = r2KeyFor(asset.hash);
  const now = nowIso();
  const inserted = await db
    .insert(assets)
    .values({
      session_id: asset.sessionId,
      hash: asset.hash,
      kind: asset.kind,
      mime: asset.mime,
      size: asset.bytes.byteLength,
      width: asset.width,
      height: asset.height,
      r2_key: key,
      uploaded_by: asset.userId,
      created_at: now,
      last_referenced_at: now,
      original_hash: asset.originalHash,
    })
    .onConflictDoNothing()
    .returning()
    .get();

  try {
    await putObject(env.ASSETS, key, asset);
  } catch (error) {
    // Never leave a manifest row whose bytes are not stored.
    if (inserted) await db.delete(assets).where(and(eq(assets.session_id, asset.sessionId), eq(assets.hash, asset.hash)));
    throw new StorageError(`storing ${key} failed: ${error instanceof Error ? error.message : String(error)}`);
  }

  const row =
    inserted ??
    (await db
      .select()
      .from(assets)
      .where(and(eq(assets.session_id, asset.sessionId), eq(assets.hash, asset.hash)))
      .get());
  if (!row) throw new StorageError(`the manifest row of ${key} vanished`);

  const mirror = mirrorOf(env);
  if (mirror && !row.mirrored_at) {
    // Best effort here; the cron job copies whatever this misses.
    try {
      await putObject(mirror, key, asset);
      const mirroredAt = nowIso();
      // Rows of this content on the session's shard; other shards' rows are the cron job's.
      await db.update(assets).set({ mirrored_at: mirroredAt }).where(eq(assets.r2_key, key));
      return { ...row, mirrored_at: mirroredAt };
    } catch (error) {
      console.warn(JSON.stringify({ level: "warn", msg: "asset mirror failed", key, error: String(error) }));
    }
  }
  return row;
}

/** Puts the bytes unless an object with the same SHA-256 is already there. */
async function putObject(
  bucket: R2Bucket,
  key: string,
  asset: Pick<NewAsset, "bytes" | "hash" | "mime" | "width" | "height">,
): Promise<void> {
  const head = await bucket.head(key);
  if (head && sha256Of(head) === asset.hash) return;
  await bucket.put(key, asset.bytes, {
    sha256: asset.hash,
    httpMetadata: { contentType: asset.mime, cacheControl: "private, max-age=31536000, immutable" },
    customMetadata: { width: String(asset.width), height: String(asset.height) },
  });
}

export function sha256Of(object: R2Object): string | undefined {
  const digest = object.checksums.sha256;
  if (!digest) return undefined;
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
