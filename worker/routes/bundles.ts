/**
 * Scene export and import as zip bundles (domain/bundle.ts). An import is checked whole — names,
 * sizes, checksums, schema, references, images — before anything is written, then lands as one
 * atomic batch of new entities with new ids through the session object.
 */
import { and, eq, inArray } from "drizzle-orm";
import { unzipSync, Zip, ZipDeflate, ZipPassThrough } from "fflate";
import { Hono } from "hono";
import { fileExtensionOf } from "../../domain/assets";
import { BUNDLE_FORMAT, bundleLimits, checkBundle, entitiesToImport, type SceneBundle, unpackBundle } from "../../domain/bundle";
import { type AnyEntity, entityTypes, idSchema, moduleEntity } from "../../domain/entities";
import { ApiError } from "../api-error";
import { storeAsset } from "../assets/store";
import { chunk, getDb } from "../db/client";
import { listEntities, loadEntity } from "../db/entities";
import { assets, sceneLayers, sessionMembers, tokens } from "../db/schema";
import { sha256Hex } from "../lib/crypto";
import { requireGm } from "../middleware/auth";
import { readBodyLimited } from "../middleware/body";
import { limitPerUser } from "../middleware/rate-limit";
import { applyOps } from "../session/stub";
import type { InternalOp } from "../session/write-plan";
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
    const db = getDb(c.env.DB);
    const scene = id.success ? await loadEntity(db, sessionId, "scene", id.data) : undefined;
    if (!scene || !id.success) throw new ApiError("not_found", "no such scene");
    const layers = await listEntities(db, sessionId, "layer", { where: eq(sceneLayers.scene_id, id.data) });
    const sceneTokens = await listEntities(db, sessionId, "token", { where: eq(tokens.scene_id, id.data) });
    const tokenIds = new Set(sceneTokens.map((t) => t.id));
    const art = (await listEntities(db, sessionId, "token_art")).filter((a) => tokenIds.has(String(a.token_id)));
    // Module entities that live on the scene or on its tokens travel with it.
    const modules: Record<string, AnyEntity[]> = {};
    for (const type of entityTypes) {
      const home = moduleEntity(type)?.scene;
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
    const zip = await readBodyLimited(c.req.raw, bundleLimits.zipBytes);
    const unpacked = unpackBundle(zip, unzipSync);
    if (!unpacked.ok) throw new ApiError("bad_request", "the bundle is not acceptable", { problems: unpacked.problems });
    const checked = await checkBundle(unpacked.files, sha256Hex);
    if (!checked.ok) throw new ApiError("bad_request", "the bundle is not acceptable", { problems: checked.problems });
    const { bundle } = checked;

    // Owners are kept only when they are members here; folders belong to the source session.
    const db = getDb(c.env.DB);
    const members = new Set(
      (await db.select({ id: sessionMembers.user_id }).from(sessionMembers).where(eq(sessionMembers.session_id, sessionId))).map(
        (m) => m.id,
      ),
    );
    for (const asset of bundle.assets) {
      const bytes = unpacked.files.get(asset.path);
      if (!bytes) throw new Error(`checked bundle lost ${asset.path}`);
      await storeAsset(c.env, {
        sessionId,
        userId,
        kind: asset.kind,
        bytes,
        hash: asset.hash,
        originalHash: asset.hash,
        mime: asset.mime,
        width: asset.width,
        height: asset.height,
      });
    }
    const ops: InternalOp[] = entitiesToImport(
      bundle,
      () => crypto.randomUUID(),
      (u) => members.has(u),
    ).map((e) => ({
      op_id: crypto.randomUUID(),
      fresh: true,
      op: "create",
      ...e,
    }));
    const result = await applyOps(c.env, sessionId, { userId, role: "gm" }, ops);
    const scene = result.results[0]?.entity;
    c.set("log", { imported_scene: scene?.id, ops: ops.length, seq: result.seq });
    return c.json(
      {
        scene,
        created: {
          layers: bundle.layers.length,
          tokens: bundle.tokens.length,
          token_art: bundle.token_art.length,
          assets: bundle.assets.length,
          ...(Object.keys(bundle.modules).length > 0
            ? { modules: Object.fromEntries(Object.entries(bundle.modules).map(([type, items]) => [type, items.length])) }
            : {}),
        },
      },
      201,
    );
  });
