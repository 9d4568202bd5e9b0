/**
 * Scene export and import as zip bundles (domain/bundle.ts). An import is checked whole — names,
 * sizes, checksums, schema, references — and every image it uses goes through the upload
 * pipeline (worker/assets/pipeline.ts: type, dimensions, scanners, token art resized, maps
 * cleaned, the upload throttle) before anything is written. Then its assets are stored and its
 * entities land with new ids through the session object: one atomic batch when small, else
 * staged in chunks (planImportChunks) so the session's other writes are never held up for long.
 */
import { and, eq, inArray } from "drizzle-orm";
import { unzipSync, Zip, ZipDeflate, ZipPassThrough } from "fflate";
import { Hono } from "hono";
import { type AssetKind, fileExtensionOf } from "../../domain/assets";
import {
  assetUses,
  BUNDLE_FORMAT,
  bundleLimits,
  checkBundle,
  entitiesToImport,
  importedSceneName,
  type NewEntity,
  planImportChunks,
  type SceneBundle,
  unpackBundle,
} from "../../domain/bundle";
import { type AnyEntity, idSchema } from "../../domain/entities";
import { nameSchema } from "../../domain/fields";
import { MAX_BATCH_OPS, opIdSchema } from "../../domain/ops";
import type { InternalOp } from "../../domain/plan";
import { ApiError } from "../api-error";
import { abandonAssets } from "../assets/gc";
import { type PreparedAsset, prepareAsset } from "../assets/pipeline";
import { configuredScanners } from "../assets/scanner";
import { StorageError, storeAsset } from "../assets/store";
import { takeUploadSlot, takeUploadSlots } from "../assets/throttle";
import { chunk, nowIso } from "../db/client";
import { listEntities, loadEntity } from "../db/entities";
import { assets, importResults, sceneLayers, sessionMembers, tokens } from "../db/schema";
import { directoryDb, sessionD1, sessionDb } from "../db/shards";
import { sha256Hex } from "../lib/crypto";
import { requireGm } from "../middleware/auth";
import { readBodyLimited } from "../middleware/body";
import { limitPerUser } from "../middleware/rate-limit";
import { registry } from "../registry";
import { applyOps } from "../session/stub";
import type { AppEnv } from "../types";

const encoder = new TextEncoder();

function assetPath(hash: string, mime: string): string {
  return `assets/${hash}.${fileExtensionOf(mime)}`;
}

/** Streams a zip of the given files; assets are stored as they are (already compressed). */
function zipStream(files: { name: string; bytes: Uint8Array; compress: boolean }[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const zip = new Zip((error, chunk, final) => {
        if (error) {
          controller.error(error);
          return;
        }
        controller.enqueue(chunk);
        if (final) controller.close();
      });
      for (const file of files) {
        const entry = file.compress ? new ZipDeflate(file.name, { level: 6 }) : new ZipPassThrough(file.name);
        zip.add(entry);
        entry.push(file.bytes, true);
      }
      zip.end();
    },
  });
}

export const bundleRoutes = new Hono<AppEnv>()
  .get("/scenes/:id/export", requireGm, limitPerUser("export"), async (c) => {
    const { sessionId } = c.get("member");
    const id = idSchema.safeParse(c.req.param("id"));
    const db = await sessionDb(c.env, sessionId);
    const scene = id.success ? await loadEntity(db, sessionId, "scene", id.data) : undefined;
    if (!scene || !id.success) throw new ApiError("not_found", "no such scene");
    const layers = await listEntities(db, sessionId, "layer", { where: eq(sceneLayers.scene_id, id.data) });
    const sceneTokens = await listEntities(db, sessionId, "token", { where: eq(tokens.scene_id, id.data) });
    const tokenIds = new Set(sceneTokens.map((t) => t.id));
    const art = (await listEntities(db, sessionId, "token_art")).filter((a) => tokenIds.has(String(a.token_id)));
    // Module entities that live on the scene or on its tokens travel with it.
    const modules: Record<string, AnyEntity[]> = {};
    for (const type of registry.moduleTypes) {
      const home = registry.moduleEntity(type)?.scene;
      if (!home) continue;
      const items =
        home.via === "scene"
          ? await listEntities(db, sessionId, type, { sceneId: id.data })
          : (await listEntities(db, sessionId, type)).filter((e) => tokenIds.has(String(e[home.field])));
      if (items.length > 0) modules[type] = items;
    }
    const hashes = [...new Set([scene.map_asset, ...art.map((a) => a.image_asset)].filter((h): h is string => typeof h === "string"))];
    const rows: (typeof assets.$inferSelect)[] = [];
    for (const part of chunk(hashes, 90)) {
      rows.push(
        ...(await db
          .select()
          .from(assets)
          .where(and(eq(assets.session_id, sessionId), inArray(assets.hash, part)))),
      );
    }

    const files: { name: string; bytes: Uint8Array; compress: boolean }[] = [];
    const bundleAssets: SceneBundle["assets"] = [];
    for (const row of rows) {
      const object = await c.env.ASSETS.get(row.r2_key);
      if (!object) throw new ApiError("unavailable", `asset ${row.hash} is missing from storage`);
      const path = assetPath(row.hash, row.mime);
      files.push({ name: path, bytes: new Uint8Array(await object.arrayBuffer()), compress: false });
      bundleAssets.push({ hash: row.hash, path, kind: row.kind, mime: row.mime, size: row.size, width: row.width, height: row.height });
    }
    const bundle = {
      format: BUNDLE_FORMAT,
      exported_at: new Date().toISOString(),
      scene,
      layers,
      tokens: sceneTokens,
      token_art: art,
      assets: bundleAssets,
      modules,
    };
    files.unshift({ name: "scene.json", bytes: encoder.encode(JSON.stringify(bundle, null, 2)), compress: true });
    const manifest = {
      format: BUNDLE_FORMAT,
      created_at: bundle.exported_at,
      files: await Promise.all(files.map(async (f) => ({ path: f.name, sha256: await sha256Hex(f.bytes), size: f.bytes.byteLength }))),
    };
    files.push({ name: "manifest.json", bytes: encoder.encode(JSON.stringify(manifest, null, 2)), compress: true });
    const filename = `${
      String(scene.name)
        .replace(/[^A-Za-z0-9_-]+/g, "-")
        .slice(0, 60) || "scene"
    }.zip`;
    return new Response(zipStream(files), {
      headers: { "content-type": "application/zip", "content-disposition": `attachment; filename="${filename}"` },
    });
  })
  .post("/import", requireGm, async (c) => {
    const { sessionId } = c.get("member");
    const userId = c.get("user").id;
    const limits = importLimits(c.env);
    const key = idempotencyKey(c.req.header("idempotency-key"));
    const askedName = sceneNameParam(c.req.query("name"));
    const db = await sessionDb(c.env, sessionId);

    // Cheap refusals first: an upload slot (an import is at least one upload), the declared size.
    if (key === undefined) await takeUploadSlot(c.env, userId);
    const zip = await readBodyLimited(c.req.raw, limits.maxBytes);
    const bodyHash = key === undefined ? "" : await sha256Hex(zip);
    if (key !== undefined) {
      const earlier = await db
        .select()
        .from(importResults)
        .where(and(eq(importResults.session_id, sessionId), eq(importResults.user_id, userId), eq(importResults.idempotency_key, key)))
        .get();
      if (earlier) {
        if (earlier.body_sha256 !== bodyHash)
          throw new ApiError("conflict", "this Idempotency-Key was used for another bundle", { idempotency_key: key });
        return c.json(earlier.result, 201);
      }
      await takeUploadSlot(c.env, userId);
    }

    await yieldToOtherRequests();
    const unpacked = unpackBundle(zip, unzipSync);
    if (!unpacked.ok) throw new ApiError("bad_request", "the bundle is not acceptable", { problems: unpacked.problems });
    // Images are checked below by the upload pipeline, which answers as an upload would.
    const checked = await checkBundle(registry, unpacked.files, sha256Hex, { images: false, maxEntities: limits.maxEntities });
    if (!checked.ok) {
      if (checked.tooLarge)
        throw new ApiError("payload_too_large", checked.problems[0] ?? "the bundle is too large", {
          reason: "entities",
          ...checked.tooLarge,
        });
      throw new ApiError("bad_request", "the bundle is not acceptable", { problems: checked.problems });
    }
    const { bundle } = checked;
    await yieldToOtherRequests();

    // Every image the bundle uses, as what it is used for, through the upload pipeline; nothing is
    // stored before all of them passed. Each counts as an upload (the first was taken above).
    const uses = [...assetUses(bundle)].flatMap(([hash, kinds]) => [...kinds].map((kind) => ({ hash, kind })));
    await takeUploadSlots(c.env, userId, uses.length - 1);
    const scanners = configuredScanners(c.env);
    const paths = new Map(bundle.assets.map((a) => [a.hash, a]));
    const prepared = new Map<string, PreparedAsset>();
    for (const { hash, kind } of uses) {
      const asset = paths.get(hash);
      const bytes = asset ? unpacked.files.get(asset.path) : undefined;
      if (!asset || !bytes) throw new Error(`checked bundle lost asset ${hash}`);
      try {
        prepared.set(
          `${kind}:${hash}`,
          await prepareAsset(c.env, { bytes, filename: asset.path, declaredType: asset.mime, kind, sessionId, userId }, scanners),
        );
      } catch (error) {
        if (error instanceof ApiError)
          throw new ApiError(error.code, `${asset.path}: ${error.message}`, { ...error.details, asset: asset.path });
        throw error;
      }
    }
    const newHash = (hash: string, kind: AssetKind) => {
      const p = prepared.get(`${kind}:${hash}`);
      if (!p) throw new Error(`no prepared asset ${kind}:${hash}`);
      return p.existing ? p.existing.hash : p.hash;
    };

    // Owners are kept only when they are members here; folders belong to the source session.
    const members = new Set(
      (
        await directoryDb(c.env).select({ id: sessionMembers.user_id }).from(sessionMembers).where(eq(sessionMembers.session_id, sessionId))
      ).map((m) => m.id),
    );
    const ids = await importIds(sessionId, userId, key);
    const entities = entitiesToImport(registry, bundle, ids.entity, (u) => members.has(u), {
      sceneName: importedSceneName(bundle.scene.name, askedName),
      assetHash: newHash,
    });

    await yieldToOtherRequests();
    const stored = await storePrepared(c.env, sessionId, userId, prepared);
    const actor = { userId, role: "gm" as const };
    let committed: Awaited<ReturnType<typeof commitImport>>;
    try {
      committed = await commitImport(c.env, sessionId, actor, entities, limits.chunkOps, ids.op, key === undefined);
    } catch (error) {
      // Nothing of it landed: the assets it alone stored go to the cleanup at once (a retry
      // stores them again). After a first chunk the staged scene names them: they stay with it.
      if (error instanceof ImportInterrupted) {
        if (error.chunksDone === 0) await abandonAssets(await sessionD1(c.env, sessionId), sessionId, stored.inserted);
        throw error.cause instanceof ApiError
          ? new ApiError(error.cause.code, error.cause.message, {
              ...error.cause.details,
              ...(error.chunksDone > 0 ? { staged_scene: error.sceneId, chunks_committed: error.chunksDone } : {}),
              ...(key !== undefined && error.chunksDone > 0 ? { resume_with_idempotency_key: key } : {}),
            })
          : error.cause;
      }
      throw error;
    }
    const result = {
      scene: committed.scene,
      created: {
        layers: bundle.layers.length,
        tokens: bundle.tokens.length,
        token_art: bundle.token_art.length,
        assets: stored.count,
        ...(Object.keys(bundle.modules).length > 0
          ? { modules: Object.fromEntries(Object.entries(bundle.modules).map(([type, items]) => [type, items.length])) }
          : {}),
      },
      seq: committed.seq,
      chunks: committed.chunks,
    };
    if (key !== undefined) {
      await db
        .insert(importResults)
        .values({ session_id: sessionId, user_id: userId, idempotency_key: key, body_sha256: bodyHash, result, created_at: nowIso() })
        .onConflictDoNothing();
    }
    c.set("log", { imported_scene: committed.scene?.id, ops: entities.length, chunks: committed.chunks, seq: committed.seq });
    return c.json(result, 201);
  });

// ---- import helpers ------------------------------------------------------------------------------

const DEFAULT_IMPORT_LIMITS = { maxBytes: bundleLimits.zipBytes, maxEntities: 10_000, chunkOps: 100 } as const;

function positiveInt(raw: string | undefined, fallback: number): number {
  const n = Number(raw);
  return raw !== undefined && raw.trim() !== "" && Number.isInteger(n) && n > 0 ? n : fallback;
}

/** The import caps of wrangler.toml [vars] (IMPORT_MAX_BYTES, IMPORT_MAX_ENTITIES, IMPORT_CHUNK_OPS). */
export function importLimits(env: Env): { maxBytes: number; maxEntities: number; chunkOps: number } {
  return {
    maxBytes: Math.min(positiveInt(env.IMPORT_MAX_BYTES, DEFAULT_IMPORT_LIMITS.maxBytes), bundleLimits.zipBytes),
    maxEntities: positiveInt(env.IMPORT_MAX_ENTITIES, DEFAULT_IMPORT_LIMITS.maxEntities),
    // A chunk is one batch: at most MAX_BATCH_OPS, and room for the scene's create and archive.
    chunkOps: Math.max(3, Math.min(positiveInt(env.IMPORT_CHUNK_OPS, DEFAULT_IMPORT_LIMITS.chunkOps), MAX_BATCH_OPS)),
  };
}

function idempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const parsed = opIdSchema.safeParse(header);
  if (!parsed.success)
    throw new ApiError("bad_request", "Idempotency-Key must be a UUID", {
      fields: [{ field: "Idempotency-Key", message: "expected a UUID" }],
    });
  return parsed.data;
}

function sceneNameParam(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const parsed = nameSchema.safeParse(raw);
  if (!parsed.success)
    throw new ApiError("bad_request", "name must be 1 to 200 characters", { fields: [{ field: "name", message: "1-200 characters" }] });
  return parsed.data;
}

/**
 * Entity and op ids of an import. With an Idempotency-Key they are derived from it (and the
 * session and user), the same on every attempt: a retry replays the chunks that landed (the
 * object answers an applied op id with its first result) and applies the rest, so an interrupted
 * import resumes and a repeated one never makes a second copy. Without a key, fresh ones.
 */
async function importIds(sessionId: string, userId: string, key: string | undefined) {
  if (key === undefined) return { entity: () => crypto.randomUUID(), op: () => crypto.randomUUID() };
  const seed = (await sha256Hex(encoder.encode(`vtt-import-v1\n${sessionId}\n${userId}\n${key}`))).slice(0, 32);
  let entities = 0;
  let ops = 0;
  return { entity: () => `imp${seed}e${(entities++).toString(36)}`, op: () => `imp${seed}o${(ops++).toString(36)}` };
}

/** Stores what the pipeline made; answers the hashes whose manifest rows this call created. */
async function storePrepared(env: Env, sessionId: string, userId: string, prepared: ReadonlyMap<string, PreparedAsset>) {
  const toStore = [...prepared.entries()].flatMap(([key, p]) =>
    p.existing ? [] : [{ kind: key.slice(0, key.indexOf(":")) as AssetKind, p }],
  );
  const hashes = [...new Set(toStore.map((s) => (s.p.existing ? "" : s.p.hash)))];
  const had = new Set<string>();
  const db = await sessionDb(env, sessionId);
  for (const part of chunk(hashes, 90)) {
    const rows = await db
      .select({ hash: assets.hash })
      .from(assets)
      .where(and(eq(assets.session_id, sessionId), inArray(assets.hash, part)));
    for (const r of rows) had.add(r.hash);
  }
  for (const { kind, p } of toStore) {
    if (p.existing) continue;
    try {
      await storeAsset(env, { sessionId, userId, kind, hash: p.hash, originalHash: p.originalHash, ...p.stored });
    } catch (error) {
      if (error instanceof StorageError) throw new ApiError("unavailable", "the asset store is unavailable; try again");
      throw error;
    }
  }
  return {
    inserted: hashes.filter((h) => !had.has(h)),
    count: new Set([...prepared.values()].map((p) => (p.existing ? p.existing.hash : p.hash))).size,
  };
}

/**
 * Lets requests that arrived meanwhile start before the import goes on (between its steps and
 * before each chunk). Where the session object and D1 answer in-process (wrangler dev), each
 * answer queues the import's next work at once and the runtime only looks for new connections
 * once nothing is left to run: a timer gives it that moment. In production the object and D1 are
 * reached over the network and this costs nothing.
 */
function yieldToOtherRequests(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** An import stopped after `chunksDone` chunks (0: nothing of it landed). */
class ImportInterrupted extends Error {
  readonly chunksDone: number;
  readonly sceneId: string | undefined;

  constructor(cause: unknown, chunksDone: number, sceneId: string | undefined) {
    super("import interrupted", { cause });
    this.chunksDone = chunksDone;
    this.sceneId = sceneId;
  }
}

/**
 * Commits the import's entities through the session object. Up to one chunk: one atomic batch.
 * More: staged (see `planImportChunks`), one trip through the write queue per chunk so other
 * writes of the session go in between, the scene archived until the last one restores it.
 */
async function commitImport(
  env: Env,
  sessionId: string,
  actor: { userId: string; role: "gm" },
  entities: NewEntity[],
  chunkOps: number,
  opId: () => string,
  fresh: boolean,
) {
  const chunks = planImportChunks(entities, chunkOps, opId);
  let scene: AnyEntity | undefined;
  let seq = 0;
  for (const [i, part] of chunks.entries()) {
    if (i > 0) await yieldToOtherRequests();
    const ops: InternalOp[] = part.map((op) => ({ ...op, ...(fresh ? { fresh: true } : {}) }) as InternalOp);
    try {
      const result = await applyOps(env, sessionId, actor, ops);
      seq = result.seq;
      // The scene as it ends: its create (one chunk) or the restore that ends a staged import.
      const sceneResults = result.results.filter((r, k) => ops[k]?.entity_type === "scene" && r.entity);
      scene = sceneResults[sceneResults.length - 1]?.entity ?? scene;
    } catch (error) {
      throw new ImportInterrupted(error, i, entities[0]?.id);
    }
  }
  return { scene, seq, chunks: chunks.length };
}
