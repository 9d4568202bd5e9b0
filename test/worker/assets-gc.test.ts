import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { collectAssetGarbage, mirrorAssets, TOMBSTONE_DELAY_MS, UPLOAD_GRACE_MS } from "../../worker/assets/gc";
import { create, newTable } from "../helpers/client";
import { makePng } from "../helpers/images";
import { runCron } from "../helpers/jobs";
import { shardOf } from "../helpers/shards";
import { upload } from "../helpers/uploads";

const DAY = 24 * 3600 * 1000;
const mirror = () => (env as unknown as { ASSETS_MIRROR: R2Bucket }).ASSETS_MIRROR;
let seed = 0;

/** A distinct small PNG per call, so every upload is its own content. */
async function distinctPng(): Promise<Uint8Array> {
  seed++;
  return makePng(6, 6, { pixel: (x, y) => [seed & 255, (seed >> 8) & 255, x * 40 + y, 255] });
}

async function uploadMap(gm: Awaited<ReturnType<typeof newTable>>["gm"], base: string, bytes?: Uint8Array): Promise<string> {
  const r = await upload(gm, base, bytes ?? (await distinctPng()));
  if (r.status !== 201) throw new Error(`upload failed: ${JSON.stringify(r.body)}`);
  return r.body.asset.hash;
}

/** Moves an asset's manifest times into the past: created and last referenced `ago` ms before now. */
async function age(sid: string, hash: string, createdAgo: number, referencedAgo = createdAgo) {
  const now = Date.now();
  await (await shardOf(sid))
    .prepare("UPDATE assets SET created_at = ?, last_referenced_at = ? WHERE session_id = ? AND hash = ?")
    .bind(new Date(now - createdAgo).toISOString(), new Date(now - referencedAgo).toISOString(), sid, hash)
    .run();
}

async function inManifest(sid: string, hash: string): Promise<boolean> {
  return (await (await shardOf(sid)).prepare("SELECT 1 FROM assets WHERE session_id = ? AND hash = ?").bind(sid, hash).first()) !== null;
}
async function stored(hash: string): Promise<boolean> {
  return (await env.ASSETS.head(`assets/${hash}`)) !== null;
}
async function mirrored(hash: string): Promise<boolean> {
  return (await mirror().head(`assets/${hash}`)) !== null;
}

/** Two runs of the job, the second after the tombstone delay: what an hourly cron does. */
async function collectTwice(at = Date.now(), e: Env = env) {
  const first = await collectAssetGarbage(e, new Date(at));
  const second = await collectAssetGarbage(e, new Date(at + TOMBSTONE_DELAY_MS + 60_000));
  return { first, second };
}

describe("asset cleanup", () => {
  it("deletes exactly the assets unreferenced past the retention period, and nothing else", async () => {
    const { gm, base, sid } = await newTable();
    const orphanOld = await uploadMap(gm, base);
    const orphanFresh = await uploadMap(gm, base);
    const orphanWithinRetention = await uploadMap(gm, base);
    const dereferencedLongAgo = await uploadMap(gm, base);
    const liveMap = await uploadMap(gm, base);
    const archivedMap = await uploadMap(gm, base);
    const archivedArt = await uploadMap(gm, base);

    const live = await create(gm, base, "scenes", { name: "Live", map_asset: liveMap });
    const gone = await create(gm, base, "scenes", { name: "Archived", map_asset: archivedMap });
    expect((await gm.req("DELETE", `${base}/scenes/${gone.id}`)).status).toBe(200);
    const token = await create(gm, base, "tokens", { name: "Hero", scene_id: live.id });
    const art = await create(gm, base, "token-art", {
      token_id: token.id,
      image_asset: archivedArt,
      crop: { scale: 1, translate_x: 0, translate_y: 0, stage_size: 512, base_scale: 1 },
    });
    expect((await gm.req("DELETE", `${base}/token-art/${art.id}`)).status).toBe(200);

    await age(sid, orphanOld, 10 * DAY);
    await age(sid, orphanFresh, 3600_000);
    await age(sid, orphanWithinRetention, 30 * DAY, 6 * DAY);
    await age(sid, dereferencedLongAgo, 30 * DAY, 8 * DAY);
    for (const h of [liveMap, archivedMap, archivedArt]) await age(sid, h, 60 * DAY);

    const { first } = await collectTwice();
    expect(first.queued).toBeGreaterThanOrEqual(2);

    const expectDeleted = [orphanOld, dereferencedLongAgo];
    const expectKept = [orphanFresh, orphanWithinRetention, liveMap, archivedMap, archivedArt];
    for (const h of expectDeleted) {
      expect(await inManifest(sid, h), `manifest ${h}`).toBe(false);
      expect(await stored(h), `object ${h}`).toBe(false);
      expect(await mirrored(h), `mirror ${h}`).toBe(false);
    }
    for (const h of expectKept) {
      expect(await inManifest(sid, h), `manifest ${h}`).toBe(true);
      expect(await stored(h), `object ${h}`).toBe(true);
    }
    // The archived scene and art can still be restored, their images intact.
    expect((await gm.req("POST", `${base}/scenes/${gone.id}/restore`)).status).toBe(200);
    expect((await gm.req("POST", `${base}/token-art/${art.id}/restore`)).status).toBe(200);
  });

  it("counts the retention from the last time an entity referenced the asset", async () => {
    const { gm, base, sid } = await newTable();
    const hash = await uploadMap(gm, base);
    const scene = await create(gm, base, "scenes", { name: "A", map_asset: hash });
    await age(sid, hash, 20 * DAY);
    // The job sees the reference and records it...
    await collectAssetGarbage(env, new Date());
    const row = await (await shardOf(sid))
      .prepare("SELECT last_referenced_at FROM assets WHERE session_id = ? AND hash = ?")
      .bind(sid, hash)
      .first<{ last_referenced_at: string }>();
    expect(Date.now() - Date.parse(row?.last_referenced_at ?? "")).toBeLessThan(60_000);
    // ...so once the scene drops the map, the asset stays for the full retention period.
    expect((await gm.req("PATCH", `${base}/scenes/${scene.id}`, { map_asset: null }, { "if-match": '"1"' })).status).toBe(200);
    await collectTwice(Date.now() + 6 * DAY);
    expect(await inManifest(sid, hash)).toBe(true);
    await collectTwice(Date.now() + 8 * DAY);
    expect(await inManifest(sid, hash)).toBe(false);
    expect(await stored(hash)).toBe(false);
  });

  it("never collects a fresh upload, even with a retention of zero days", async () => {
    const { gm, base, sid } = await newTable();
    const fresh = await uploadMap(gm, base);
    const dayOld = await uploadMap(gm, base);
    await age(sid, fresh, UPLOAD_GRACE_MS - 3600_000);
    await age(sid, dayOld, UPLOAD_GRACE_MS + 3600_000);
    await collectTwice(Date.now(), { ...env, ASSET_RETENTION_DAYS: "0" } as Env);
    expect(await inManifest(sid, fresh)).toBe(true);
    expect(await stored(fresh)).toBe(true);
    expect(await inManifest(sid, dayOld)).toBe(false);
    expect(await stored(dayOld)).toBe(false);
  });

  it("keeps the object while another session still has the same bytes", async () => {
    const one = await newTable();
    const two = await newTable();
    const bytes = await distinctPng();
    const hash = await uploadMap(one.gm, one.base, bytes);
    expect(await uploadMap(two.gm, two.base, bytes)).toBe(hash);
    await age(one.sid, hash, 10 * DAY);
    const { second } = await collectTwice();
    expect(await inManifest(one.sid, hash)).toBe(false);
    expect(await inManifest(two.sid, hash)).toBe(true);
    expect(await stored(hash)).toBe(true);
    expect(second.keptObjects).toBeGreaterThanOrEqual(1);
  });

  it("deletes in two runs: the object stays until a later run", async () => {
    const { gm, base, sid } = await newTable();
    const hash = await uploadMap(gm, base);
    await age(sid, hash, 10 * DAY);
    await collectAssetGarbage(env, new Date());
    expect(await inManifest(sid, hash)).toBe(false);
    expect(await stored(hash)).toBe(true);
    // A reference to it is now refused by the write path.
    expect((await gm.req("POST", `${base}/scenes`, { name: "Late", map_asset: hash })).status).toBe(400);
    await collectAssetGarbage(env, new Date(Date.now() + TOMBSTONE_DELAY_MS + 60_000));
    expect(await stored(hash)).toBe(false);
  });

  it("puts the manifest row back when a write referenced the asset while it was being removed", async () => {
    const { gm, base, sid } = await newTable();
    const hash = await uploadMap(gm, base);
    const scene = await create(gm, base, "scenes", { name: "Racing" });
    await age(sid, hash, 10 * DAY);
    await collectAssetGarbage(env, new Date());
    expect(await inManifest(sid, hash)).toBe(false);
    // A write that passed its referential check just before the row left lands now.
    await (await shardOf(sid)).prepare("UPDATE scenes SET map_asset = ? WHERE session_id = ? AND id = ?").bind(hash, sid, scene.id).run();
    const report = await collectAssetGarbage(env, new Date(Date.now() + TOMBSTONE_DELAY_MS + 60_000));
    expect(report.restored).toBeGreaterThanOrEqual(1);
    expect(await inManifest(sid, hash)).toBe(true);
    expect(await stored(hash)).toBe(true);
  });

  it("keeps the object when the same bytes are uploaded again between the two runs", async () => {
    const { gm, base, sid } = await newTable();
    const bytes = await distinctPng();
    const hash = await uploadMap(gm, base, bytes);
    await age(sid, hash, 10 * DAY);
    await collectAssetGarbage(env, new Date());
    expect(await inManifest(sid, hash)).toBe(false);
    expect(await uploadMap(gm, base, bytes)).toBe(hash);
    await collectAssetGarbage(env, new Date(Date.now() + TOMBSTONE_DELAY_MS + 60_000));
    expect(await inManifest(sid, hash)).toBe(true);
    expect(await stored(hash)).toBe(true);
  });

  it("runs from the cron trigger", async () => {
    const { gm, base, sid } = await newTable();
    const hash = await uploadMap(gm, base);
    await age(sid, hash, 10 * DAY);
    await runCron(new Date());
    await runCron(new Date(Date.now() + TOMBSTONE_DELAY_MS + 60_000));
    expect(await inManifest(sid, hash)).toBe(false);
    expect(await stored(hash)).toBe(false);
  });
});

describe("asset mirror", () => {
  it("copies every upload to the mirror bucket and records it in the manifest", async () => {
    const { gm, base, sid } = await newTable();
    const hash = await uploadMap(gm, base);
    expect(await mirrored(hash)).toBe(true);
    const row = await (await shardOf(sid))
      .prepare("SELECT mirrored_at FROM assets WHERE session_id = ? AND hash = ?")
      .bind(sid, hash)
      .first<{ mirrored_at: string | null }>();
    expect(row?.mirrored_at).toEqual(expect.any(String));
    const copy = await mirror().get(`assets/${hash}`);
    const original = await env.ASSETS.get(`assets/${hash}`);
    expect(new Uint8Array((await copy?.arrayBuffer()) ?? new ArrayBuffer(0))).toEqual(
      new Uint8Array((await original?.arrayBuffer()) ?? new ArrayBuffer(1)),
    );
  });

  it("copies what the upload missed on the next cron run", async () => {
    const { gm, base, sid } = await newTable();
    const hash = await uploadMap(gm, base);
    await mirror().delete(`assets/${hash}`);
    await (await shardOf(sid)).prepare("UPDATE assets SET mirrored_at = NULL WHERE session_id = ? AND hash = ?").bind(sid, hash).run();
    expect(await mirrorAssets(env)).toBeGreaterThanOrEqual(1);
    expect(await mirrored(hash)).toBe(true);
    const row = await (await shardOf(sid))
      .prepare("SELECT mirrored_at FROM assets WHERE session_id = ? AND hash = ?")
      .bind(sid, hash)
      .first<{ mirrored_at: string | null }>();
    expect(row?.mirrored_at).toEqual(expect.any(String));
  });

  it("works without a mirror binding", async () => {
    const { gm, base, sid } = await newTable();
    const hash = await uploadMap(gm, base);
    await (await shardOf(sid)).prepare("UPDATE assets SET mirrored_at = NULL WHERE session_id = ? AND hash = ?").bind(sid, hash).run();
    const withoutMirror = { ...env, ASSETS_MIRROR: undefined } as unknown as Env;
    expect(await mirrorAssets(withoutMirror)).toBe(0);
    await age(sid, hash, 10 * DAY);
    await collectTwice(Date.now(), withoutMirror);
    expect(await stored(hash)).toBe(false);
  });
});
