import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { checkSession } from "../../worker/jobs/integrity";
import { create, newTable, S, TestUser } from "../helpers/client";
import { makePng } from "../helpers/images";
import { runCron } from "../helpers/jobs";
import { shardOf } from "../helpers/shards";
import { exec } from "../helpers/sql";
import { upload } from "../helpers/uploads";

let seed = 0;
async function distinctPng(): Promise<Uint8Array> {
  seed++;
  return makePng(6, 6, { pixel: (x, y) => [seed & 255, (seed >> 8) & 255, x * 40 + y, 255] });
}

/** A session where every kind of reference is used once, all of them valid. */
async function world() {
  const table = await newTable();
  const { gm, base } = table;
  const mapUpload = await upload(gm, base, await distinctPng());
  const artUpload = await upload(gm, base, await distinctPng(), { kind: "token" });
  if (mapUpload.status !== 201 || artUpload.status !== 201) throw new Error("upload failed");
  const map: string = mapUpload.body.asset.hash;
  const image: string = artUpload.body.asset.hash;
  const parent = await create(gm, base, "folders", { name: "Dungeons", kind: "scene" });
  const folder = await create(gm, base, "folders", { name: "Crypts", kind: "scene", parent_id: parent.id });
  const scene = await create(gm, base, "scenes", { name: "Crypt", folder_id: folder.id, map_asset: map });
  const layer = await create(gm, base, "layers", { scene_id: scene.id, layer_type: "fog", payload: {} });
  const tokenFolder = await create(gm, base, "folders", { name: "Heroes", kind: "token" });
  const token = await create(gm, base, "tokens", { name: "Hero", scene_id: scene.id, folder_id: tokenFolder.id });
  const art = await create(gm, base, "token-art", { token_id: token.id, image_asset: image });
  await gm.req("POST", `${base}/scenes/${scene.id}/activate`, {});
  return { ...table, map, image, folder, scene, layer, token, art };
}

type World = Awaited<ReturnType<typeof world>>;

async function rowCounts(sid: string) {
  const counts: Record<string, unknown> = {};
  for (const table of ["scenes", "folders", "scene_layers", "tokens", "token_art", "assets"]) {
    counts[table] = (await (
      await shardOf(sid)
    )
      .prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE session_id = ?`)
      .bind(sid)
      .first("n")) as number;
  }
  return counts;
}

const plants: {
  name: string;
  plant: (w: World) => Promise<void>;
  expected: (w: World) => Record<string, unknown>;
}[] = [
  {
    name: "a token on a missing scene",
    plant: (w) => exec(w.sid, "UPDATE tokens SET scene_id = 'missing' WHERE session_id = ? AND id = ?", w.sid, w.token.id),
    expected: (w) => ({
      kind: "dangling_reference",
      entity_type: "token",
      entity_id: w.token.id,
      field: "scene_id",
      detail: { references: "scene", missing_id: "missing" },
    }),
  },
  {
    name: "token art whose token is gone",
    plant: (w) => exec(w.sid, "DELETE FROM tokens WHERE session_id = ? AND id = ?", w.sid, w.token.id),
    expected: (w) => ({
      kind: "dangling_reference",
      entity_type: "token_art",
      entity_id: w.art.id,
      field: "token_id",
      detail: { references: "token", missing_id: w.token.id },
    }),
  },
  {
    name: "a layer on a missing scene",
    plant: (w) => exec(w.sid, "UPDATE scene_layers SET scene_id = 'missing' WHERE session_id = ? AND id = ?", w.sid, w.layer.id),
    expected: (w) => ({
      kind: "dangling_reference",
      entity_type: "layer",
      entity_id: w.layer.id,
      field: "scene_id",
      detail: { references: "scene", missing_id: "missing" },
    }),
  },
  {
    name: "a folder whose parent is missing",
    plant: (w) => exec(w.sid, "UPDATE folders SET parent_id = 'missing' WHERE session_id = ? AND id = ?", w.sid, w.folder.id),
    expected: (w) => ({
      kind: "dangling_reference",
      entity_type: "folder",
      entity_id: w.folder.id,
      field: "parent_id",
      detail: { references: "folder", missing_id: "missing" },
    }),
  },
  {
    name: "an asset whose R2 object is missing",
    plant: async (w) => {
      await env.ASSETS.delete(`assets/${w.map}`);
    },
    expected: (w) => ({
      kind: "missing_object",
      entity_type: "asset",
      entity_id: w.map,
      field: "r2_key",
      detail: { r2_key: `assets/${w.map}` },
    }),
  },
  {
    name: "an asset whose R2 object holds other bytes",
    plant: async (w) => {
      await env.ASSETS.put(`assets/${w.image}`, new TextEncoder().encode("not the image"));
    },
    expected: (w) => ({
      kind: "checksum_mismatch",
      entity_type: "asset",
      entity_id: w.image,
      field: "r2_key",
      detail: {
        r2_key: `assets/${w.image}`,
        expected_sha256: w.image,
        // SHA-256 of "not the image": R2 keeps no checksum for a put without one, so the job hashed the bytes.
        actual_sha256: "7c8d3dd2e675b10348b9c7a8db5f7aa59778b6ca032ed9ff070da186132add69",
      },
    }),
  },
];

describe("integrity", () => {
  it("finds nothing in a clean session", async () => {
    const { gm, base } = await world();
    const before = await gm.req("GET", `${base}/integrity`);
    expect(before.status).toBe(200);
    expect(before.body).toEqual({ findings: [], checked_at: null });
    const r = await gm.req("POST", `${base}/integrity/check`);
    expect(r.status).toBe(200);
    expect(r.body.findings).toEqual([]);
    expect(typeof r.body.checked_at).toBe("string");
    const after = await gm.req("GET", `${base}/integrity`);
    expect(after.body).toEqual({ findings: [], checked_at: r.body.checked_at });
  });

  for (const { name, plant, expected } of plants) {
    it(`reports ${name} as exactly one finding`, async () => {
      const w = await world();
      await plant(w);
      const r = await w.gm.req("POST", `${w.base}/integrity/check`);
      expect(r.status).toBe(200);
      expect(r.body.findings).toHaveLength(1);
      expect(r.body.findings[0]).toMatchObject({ ...expected(w), resolved_at: null });
      const listed = await w.gm.req("GET", `${w.base}/integrity`);
      expect(listed.body).toEqual(r.body);
    });
  }

  it("reports a checksum mismatch when the object was stored with another SHA-256", async () => {
    const w = await world();
    const other = await distinctPng();
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", other));
    const otherHash = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
    await env.ASSETS.put(`assets/${w.map}`, other, { sha256: otherHash });
    const { findings } = await checkSession(env, w.sid, new Date());
    expect(findings).toEqual([
      expect.objectContaining({
        kind: "checksum_mismatch",
        entity_id: w.map,
        detail: { r2_key: `assets/${w.map}`, expected_sha256: w.map, actual_sha256: otherHash },
      }),
    ]);
  });

  it("updates last_seen_at when a finding is seen again, and resolves it once fixed", async () => {
    const w = await world();
    await exec(w.sid, "UPDATE tokens SET scene_id = 'missing' WHERE session_id = ? AND id = ?", w.sid, w.token.id);
    const first = await checkSession(env, w.sid, new Date("2026-11-20T04:17:00Z"));
    const again = await checkSession(env, w.sid, new Date("2026-11-21T04:17:00Z"));
    expect(again.findings).toHaveLength(1);
    expect(again.findings[0]).toMatchObject({
      id: first.findings[0]?.id,
      first_seen_at: "2026-11-20T04:17:00.000Z",
      last_seen_at: "2026-11-21T04:17:00.000Z",
      resolved_at: null,
    });

    await exec(w.sid, "UPDATE tokens SET scene_id = ? WHERE session_id = ? AND id = ?", w.scene.id, w.sid, w.token.id);
    const fixed = await checkSession(env, w.sid, new Date("2026-11-22T04:17:00Z"));
    expect(fixed.findings).toEqual([]);
    expect((await w.gm.req("GET", `${w.base}/integrity`)).body).toEqual({ findings: [], checked_at: "2026-11-22T04:17:00.000Z" });
    const row = await (await shardOf(w.sid))
      .prepare("SELECT first_seen_at, last_seen_at, resolved_at FROM integrity_findings WHERE session_id = ?")
      .bind(w.sid)
      .first();
    expect(row).toEqual({
      first_seen_at: "2026-11-20T04:17:00.000Z",
      last_seen_at: "2026-11-21T04:17:00.000Z",
      resolved_at: "2026-11-22T04:17:00.000Z",
    });
  });

  it("reopens a resolved finding that comes back, as first seen again", async () => {
    const w = await world();
    const plant = () => exec(w.sid, "UPDATE folders SET parent_id = 'missing' WHERE session_id = ? AND id = ?", w.sid, w.folder.id);
    await plant();
    await checkSession(env, w.sid, new Date("2026-11-20T04:17:00Z"));
    await exec(w.sid, "UPDATE folders SET parent_id = NULL WHERE session_id = ? AND id = ?", w.sid, w.folder.id);
    await checkSession(env, w.sid, new Date("2026-11-21T04:17:00Z"));
    await plant();
    const back = await checkSession(env, w.sid, new Date("2026-11-22T04:17:00Z"));
    expect(back.findings).toEqual([
      expect.objectContaining({ first_seen_at: "2026-11-22T04:17:00.000Z", last_seen_at: "2026-11-22T04:17:00.000Z", resolved_at: null }),
    ]);
  });

  it("deletes and repairs nothing", async () => {
    const w = await world();
    await exec(w.sid, "DELETE FROM tokens WHERE session_id = ? AND id = ?", w.sid, w.token.id);
    await exec(w.sid, "UPDATE scene_layers SET scene_id = 'missing' WHERE session_id = ? AND id = ?", w.sid, w.layer.id);
    await env.ASSETS.delete(`assets/${w.map}`);
    const before = await rowCounts(w.sid);
    const r = await w.gm.req("POST", `${w.base}/integrity/check`);
    expect(r.body.findings.map((f: any) => f.kind).sort()).toEqual(["dangling_reference", "dangling_reference", "missing_object"]);
    expect(await rowCounts(w.sid)).toEqual(before);
    expect(
      await (await shardOf(w.sid))
        .prepare("SELECT scene_id FROM scene_layers WHERE session_id = ? AND id = ?")
        .bind(w.sid, w.layer.id)
        .first("scene_id"),
    ).toBe("missing");
    expect(await env.ASSETS.head(`assets/${w.image}`)).not.toBeNull();
  });

  it("keeps findings to their session", async () => {
    const w = await world();
    const other = await world();
    await exec(w.sid, "UPDATE tokens SET scene_id = 'missing' WHERE session_id = ? AND id = ?", w.sid, w.token.id);
    await w.gm.req("POST", `${w.base}/integrity/check`);
    const r = await other.gm.req("POST", `${other.base}/integrity/check`);
    expect(r.body.findings).toEqual([]);
  });

  it("checks from the cron trigger each session not checked for a day, and records what it finds", async () => {
    const w = await world();
    await exec(w.sid, "UPDATE folders SET parent_id = 'missing' WHERE session_id = ? AND id = ?", w.sid, w.folder.id);
    const first = new Date(Math.ceil(Date.now() / 3600_000) * 3600_000 + 17 * 60_000);
    await runCron(first);
    const found = await w.gm.req("GET", `${w.base}/integrity`);
    expect(found.body.checked_at).toBe(first.toISOString());
    expect(found.body.findings).toEqual([
      expect.objectContaining({ kind: "dangling_reference", entity_type: "folder", entity_id: w.folder.id }),
    ]);

    await exec(w.sid, "UPDATE folders SET parent_id = NULL WHERE session_id = ? AND id = ?", w.sid, w.folder.id);
    // An hour later the session is not due yet: nothing changes.
    await runCron(new Date(first.getTime() + 3600_000));
    expect((await w.gm.req("GET", `${w.base}/integrity`)).body).toEqual(found.body);
    // A day later it is checked again and the fixed reference is resolved.
    const later = new Date(first.getTime() + 24 * 3600_000);
    await runCron(later);
    expect((await w.gm.req("GET", `${w.base}/integrity`)).body).toEqual({ findings: [], checked_at: later.toISOString() });
  });

  it("answers players 403 and non-members 404", async () => {
    const { player, base, sid } = await newTable();
    for (const [method, path] of [
      ["GET", `${base}/integrity`],
      ["POST", `${base}/integrity/check`],
    ] as const) {
      const r = await player.req(method, path);
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe("forbidden");
    }
    const stranger = await TestUser.register("st");
    for (const [method, path] of [
      ["GET", `${S(sid)}/integrity`],
      ["POST", `${S(sid)}/integrity/check`],
    ] as const) {
      const r = await stranger.req(method, path);
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe("not_found");
    }
  });
});
