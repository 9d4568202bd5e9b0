/**
 * Assets: uploads into a session (GM), signed URLs for members, and the public file route whose
 * only credential is the URL's signature. The pipeline lives in worker/assets/; see
 * docs/assets.md for the design (identity, signing, cleanup, mirror, scanner hook).
 */
import { and, desc, eq } from "drizzle-orm";
import { type Context, Hono } from "hono";
import { ASSET_SIZE_LIMITS, type AssetKind, assetKindSchema, fileExtensionOf } from "../../domain/assets";
import { assetHashSchema } from "../../domain/entities";
import { ApiError } from "../api-error";
import { boundaryOf, MultipartError, readMultipart } from "../assets/multipart";
import { assetTooLarge, prepareAsset } from "../assets/pipeline";
import { configuredScanners } from "../assets/scanner";
import { assertSigningConfigured, verifyAssetUrl } from "../assets/signing";
import { type AssetRow, StorageError, storeAsset, viewOf } from "../assets/store";
import { takeUploadSlot } from "../assets/throttle";
import { playerMaySeeAsset } from "../db/reads";
import { assets } from "../db/schema";
import { lookupSession, sessionDb, shardDb } from "../db/shards";
import { recordEvent } from "../metrics/recorder";
import { requireGm } from "../middleware/auth";
import { KiB } from "../middleware/body";
import type { AppEnv } from "../types";

/** Room for the multipart framing and the `kind` field around the file. */
export const MULTIPART_OVERHEAD = 64 * KiB;

function parseKind(value: string | undefined, field: string): AssetKind | undefined {
  if (value === undefined) return undefined;
  const kind = assetKindSchema.safeParse(value);
  if (!kind.success)
    throw new ApiError("bad_request", "kind is map or token", { fields: [{ field, message: 'expected "map" or "token"' }] });
  return kind.data;
}

const tooLarge = assetTooLarge;

function hashParam(value: string | undefined): string {
  const hash = assetHashSchema.safeParse(value);
  if (!hash.success) throw new ApiError("not_found", "no such asset");
  return hash.data;
}

/**
 * The manifest row of the `:hash` path parameter in the caller's session; 404 otherwise. A player
 * gets only assets that something they may see names (the active scene's map, the art of tokens
 * they see): any other is the same 404 as an unknown hash.
 */
async function sessionAsset(c: Context<AppEnv>): Promise<AssetRow> {
  const { sessionId, role } = c.get("member");
  const db = await sessionDb(c.env, sessionId);
  const hash = hashParam(c.req.param("hash"));
  const row = await db
    .select()
    .from(assets)
    .where(and(eq(assets.session_id, sessionId), eq(assets.hash, hash)))
    .get();
  if (!row || (role !== "gm" && !(await playerMaySeeAsset(db, sessionId, hash, c.get("user").id))))
    throw new ApiError("not_found", "no such asset");
  return row;
}

/** Per-session routes, mounted under `{S}` behind requireMember. */
export const assetRoutes = new Hono<AppEnv>()
  .post("/assets", requireGm, async (c) => {
    const { sessionId } = c.get("member");
    const user = c.get("user");
    // Cheap refusals first, before a byte of the body is read.
    assertSigningConfigured(c.env);
    await takeUploadSlot(c.env, user.id);
    const boundary = boundaryOf(c.req.header("content-type"));
    if (!boundary) {
      throw new ApiError("bad_request", "send the upload as multipart/form-data with the image in the field file", {
        fields: [{ field: "file", message: "expected multipart/form-data" }],
      });
    }
    const queryKind = parseKind(c.req.query("kind"), "kind");
    const declared = Number(c.req.header("content-length") ?? Number.NaN);
    const upperBound = ASSET_SIZE_LIMITS[queryKind ?? "map"];
    if (Number.isFinite(declared) && declared > upperBound + MULTIPART_OVERHEAD) throw tooLarge(queryKind ?? "map");

    let form: Awaited<ReturnType<typeof readMultipart>>;
    try {
      form = await readMultipart(c.req.raw.body, boundary, {
        fileField: "file",
        // A kind sent before the file (or in the query) narrows the limit while reading.
        fileLimit: (fields) => ASSET_SIZE_LIMITS[(fields.get("kind") === "token" ? "token" : undefined) ?? queryKind ?? "map"],
      });
    } catch (error) {
      if (!(error instanceof MultipartError)) throw error;
      if (error.kind === "too_large") {
        const kind: AssetKind = error.limit === ASSET_SIZE_LIMITS.token ? "token" : "map";
        throw tooLarge(kind);
      }
      throw new ApiError("bad_request", error.message, { fields: [{ field: "file", message: error.message }] });
    }

    const formKind = parseKind(form.fields.get("kind"), "kind");
    if (formKind && queryKind && formKind !== queryKind) {
      throw new ApiError("bad_request", "kind differs between the query and the form", {
        fields: [{ field: "kind", message: "conflicting values" }],
      });
    }
    const kind: AssetKind = formKind ?? queryKind ?? "map";
    const file = form.file;
    if (!file)
      throw new ApiError("bad_request", "no file: send it in the field file", { fields: [{ field: "file", message: "required" }] });
    if (file.bytes.byteLength > ASSET_SIZE_LIMITS[kind]) throw tooLarge(kind);

    const prepared = await prepareAsset(
      c.env,
      { bytes: file.bytes, filename: file.filename, declaredType: file.contentType, kind, sessionId, userId: user.id },
      configuredScanners(c.env),
    );
    if (prepared.existing) return c.json({ asset: await viewOf(c.env, prepared.existing) }, 201);
    const { hash, originalHash, stored } = prepared;
    try {
      const row = await storeAsset(c.env, { sessionId, userId: user.id, kind, hash, originalHash, ...stored });
      return c.json({ asset: await viewOf(c.env, row) }, 201);
    } catch (error) {
      if (error instanceof StorageError) {
        console.error(JSON.stringify({ level: "error", request_id: c.get("requestId"), msg: error.message }));
        recordEvent(c.env, "asset_upload_failed", { session_id: sessionId, user_id: user.id, hash, kind, request_id: c.get("requestId") });
        throw new ApiError("unavailable", "the asset store is unavailable; try again");
      }
      throw error;
    }
  })
  .get("/assets", requireGm, async (c) => {
    const { sessionId } = c.get("member");
    const rows = await (await sessionDb(c.env, sessionId))
      .select()
      .from(assets)
      .where(eq(assets.session_id, sessionId))
      .orderBy(desc(assets.created_at))
      .all();
    return c.json({ items: await Promise.all(rows.map((row) => viewOf(c.env, row))) });
  })
  .get("/assets/:hash", async (c) => {
    // A GM gets any asset of the session; a player only one that something they may see names.
    const view = await viewOf(c.env, await sessionAsset(c));
    c.header("Cache-Control", "private, no-store");
    return c.json({ asset: view });
  })
  .get("/assets/:hash/file", async (c) => {
    // For `<img src>` in a logged-in page: a redirect to a freshly signed URL.
    const view = await viewOf(c.env, await sessionAsset(c));
    c.header("Cache-Control", "private, no-store");
    return c.redirect(view.url, 302);
  });

/**
 * `GET /api/vtt/assets/{hash}?sid&exp&sig`: no login, the signature is the capability. The bytes
 * never change for a hash, so they are cached as immutable (for as long as the URL is valid) and
 * revalidate by ETag; nosniff and a sandboxing CSP keep a browser from treating them as anything
 * but the image type they were sniffed as.
 */
export const assetFileRoutes = new Hono<AppEnv>().get("/:hash", async (c) => {
  const hash = c.req.param("hash");
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new ApiError("forbidden", "the asset URL is not valid");
  const now = Date.now();
  const verified = await verifyAssetUrl(c.env, hash, new URL(c.req.url).searchParams, now);
  if (!verified.ok) throw new ApiError("forbidden", verified.message);
  // A signed URL of a session the directory no longer lists names nothing.
  const placed = await lookupSession(c.env, verified.sessionId);
  if (!placed) throw new ApiError("not_found", "no such asset");
  const row = await shardDb(c.env, placed.shard)
    .select()
    .from(assets)
    .where(and(eq(assets.session_id, verified.sessionId), eq(assets.hash, hash)))
    .get();
  if (!row) throw new ApiError("not_found", "no such asset");

  const maxAge = Math.max(0, Math.min(31_536_000, verified.expires - Math.floor(now / 1000)));
  const headers = new Headers({
    "Content-Type": row.mime,
    "Cache-Control": `private, max-age=${maxAge}, immutable`,
    ETag: `"${hash}"`,
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Disposition": `inline; filename="${hash.slice(0, 16)}.${fileExtensionOf(row.mime)}"`,
    "Referrer-Policy": "no-referrer",
  });
  if (c.req.header("if-none-match") === `"${hash}"`) return new Response(null, { status: 304, headers });
  const object = await c.env.ASSETS.get(row.r2_key);
  if (!object) {
    console.error(JSON.stringify({ level: "error", request_id: c.get("requestId"), msg: "asset object missing", key: row.r2_key }));
    throw new ApiError("not_found", "the asset's bytes are missing");
  }
  headers.set("Content-Length", String(object.size));
  return new Response(object.body, { headers });
});
