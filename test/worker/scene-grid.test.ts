import { SELF } from "cloudflare:test";
import { strToU8, unzipSync, zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { BUNDLE_FORMAT } from "../../domain/bundle";
import { sha256Hex } from "../../worker/lib/crypto";
import { create, newTable, ORIGIN, type TestUser } from "../helpers/client";
import { shardOf } from "../helpers/shards";

const GRID = { grid_type: "square", grid_size: 100, grid_offset_x: 30, grid_offset_y: 20 };

async function storedScene(sid: string, id: string) {
  return (await shardOf(sid))
    .prepare("SELECT version, grid_type, grid_size, grid_offset_x, grid_offset_y FROM scenes WHERE session_id = ? AND id = ?")
    .bind(sid, id)
    .first<Record<string, unknown>>();
}

async function patchScene(user: TestUser, base: string, scene: { id: string; version: number }, data: Record<string, unknown>) {
  return user.req("PATCH", `${base}/scenes/${scene.id}`, data, { "if-match": `"${scene.version}"` });
}

describe("a scene's grid fields", () => {
  it("gives a new scene the table's 64-px square grid, on every read", async () => {
    const { gm, base } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "Crypt" });
    expect(scene).toMatchObject({ grid_type: "square", grid_size: 64, grid_offset_x: 0, grid_offset_y: 0 });
    const single = await gm.req("GET", `${base}/scenes/${scene.id}`);
    expect(single.body).toMatchObject({ grid_size: 64, grid_offset_x: 0, grid_offset_y: 0, grid_type: "square" });
    const list = await gm.req("GET", `${base}/scenes`);
    expect(list.body.items.find((s: { id: string }) => s.id === scene.id)).toMatchObject({ grid_size: 64 });
    const state = await gm.req("GET", `${base}/state`);
    expect(state.body.scenes.find((s: { id: string }) => s.id === scene.id)).toMatchObject({ grid_size: 64, grid_offset_x: 0 });
  });

  it("saves a fitted grid with If-Match as a new version, in the change log", async () => {
    const { gm, base, sid } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "Crypt" });
    const r = await patchScene(gm, base, scene, { grid_size: 100, grid_offset_x: 30, grid_offset_y: 20 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ...GRID, version: 2 });
    expect(await storedScene(sid, scene.id)).toEqual({ version: 2, ...GRID });
    const log = await (await shardOf(sid))
      .prepare("SELECT diff FROM change_log WHERE session_id = ? AND entity_id = ? AND version = 2")
      .bind(sid, scene.id)
      .first<{ diff: string }>();
    expect(JSON.parse(log?.diff ?? "{}")).toMatchObject({ grid_size: 100, grid_offset_x: 30, grid_offset_y: 20 });
  });

  it("answers 409 to a stale If-Match and keeps the grid", async () => {
    const { gm, base, sid } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "Crypt" });
    await patchScene(gm, base, scene, { grid_size: 100 });
    const r = await patchScene(gm, base, scene, { grid_size: 50 });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("conflict");
    expect(r.body.error.details.current).toMatchObject({ grid_size: 100, version: 2 });
    expect(await storedScene(sid, scene.id)).toMatchObject({ version: 2, grid_size: 100 });
  });

  it.each([
    ["a size below 8", { grid_size: 4 }, "grid_size"],
    ["a size above 1024", { grid_size: 5000 }, "grid_size"],
    ["a size that is text", { grid_size: "100" }, "grid_size"],
    ["a negative offset", { grid_offset_x: -3 }, "grid_offset_x"],
    ["an offset of a whole cell", { grid_offset_y: 64 }, "grid_offset_y"],
    ["a hex grid, not drawn yet", { grid_type: "hex" }, "grid_type"],
  ])("refuses %s with 400 and the envelope, changing nothing", async (_name, data, field) => {
    const { gm, base, sid } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "Crypt" });
    const seqBefore = (await gm.req("GET", `${base}/state`)).body.seq;
    const r = await patchScene(gm, base, scene, data);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("bad_request");
    expect(r.body.error.details.fields.map((f: { field: string }) => f.field)).toContain(field);
    expect(await storedScene(sid, scene.id)).toEqual({
      version: 1,
      grid_type: "square",
      grid_size: 64,
      grid_offset_x: 0,
      grid_offset_y: 0,
    });
    expect((await gm.req("GET", `${base}/state`)).body.seq).toBe(seqBefore);
  });

  it("refuses a smaller size that would leave the saved offset beyond one cell", async () => {
    const { gm, base, sid } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "Crypt", grid_size: 100, grid_offset_x: 80 });
    const r = await patchScene(gm, base, scene, { grid_size: 50 });
    expect(r.status).toBe(400);
    expect(r.body.error.details.fields).toContainEqual({ field: "grid_offset_x", message: expect.any(String) });
    expect(await storedScene(sid, scene.id)).toMatchObject({ version: 1, grid_size: 100, grid_offset_x: 80 });
  });

  it("lets players read the grid but not change it", async () => {
    const { gm, player, base, sid } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "Crypt" });
    expect((await gm.req("POST", `${base}/scenes/${scene.id}/activate`)).status).toBe(200);
    const since = (await player.req("GET", `${base}/state`)).body.seq;
    const fitted = await patchScene(gm, base, scene, { grid_size: 100, grid_offset_x: 30, grid_offset_y: 20 });
    expect(fitted.status).toBe(200);

    const state = await player.req("GET", `${base}/state`);
    expect(state.body.scenes).toEqual([expect.objectContaining({ id: scene.id, ...GRID })]);
    const changes = await player.req("GET", `${base}/changes?since=${since}`);
    expect(changes.body.changes).toContainEqual(expect.objectContaining({ entity_id: scene.id, entity: expect.objectContaining(GRID) }));

    const refused = await patchScene(player, base, fitted.body, { grid_size: 50 });
    expect(refused.status).toBe(403);
    expect(await storedScene(sid, scene.id)).toMatchObject({ version: 2, grid_size: 100 });
  });

  it("gives scenes stored before the grid fields the 64-px grid (the migration's defaults)", async () => {
    const { gm, base, sid } = await newTable();
    const now = new Date().toISOString();
    // A row as written before the grid columns existed: they are left to their defaults.
    await (await shardOf(sid))
      .prepare(
        "INSERT INTO scenes (session_id, id, version, created_at, updated_at, updated_by, archived_at, name, description, map_asset, grid_scale, grid_units, accent_color, folder_id, sort, metadata) VALUES (?, 'old-scene', 1, ?, ?, ?, NULL, 'Old', '', NULL, 5, 'ft', NULL, NULL, 0, '{}')",
      )
      .bind(sid, now, now, gm.id)
      .run();
    const r = await gm.req("GET", `${base}/scenes/old-scene`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ grid_type: "square", grid_size: 64, grid_offset_x: 0, grid_offset_y: 0 });
    const patched = await patchScene(gm, base, r.body, { grid_offset_x: 10 });
    expect(patched.status).toBe(200);
    expect(await storedScene(sid, "old-scene")).toEqual({
      version: 2,
      grid_type: "square",
      grid_size: 64,
      grid_offset_x: 10,
      grid_offset_y: 0,
    });
  });
});

describe("a scene bundle's grid", () => {
  async function exportScene(gm: TestUser, base: string, sceneId: string) {
    const res = await SELF.fetch(`${ORIGIN}${base}/scenes/${sceneId}/export`, { headers: { cookie: gm.cookie } });
    expect(res.status).toBe(200);
    return unzipSync(new Uint8Array(await res.arrayBuffer()));
  }

  async function importFiles(gm: TestUser, base: string, files: Record<string, Uint8Array>) {
    const manifest = {
      format: BUNDLE_FORMAT,
      created_at: new Date().toISOString(),
      files: await Promise.all(
        Object.entries(files)
          .filter(([n]) => n !== "manifest.json")
          .map(async ([path, bytes]) => ({ path, sha256: await sha256Hex(bytes), size: bytes.byteLength })),
      ),
    };
    const res = await SELF.fetch(`${ORIGIN}${base}/import`, {
      method: "POST",
      headers: { cookie: gm.cookie, "x-csrf-token": gm.csrf, "content-type": "application/zip" },
      body: zipSync({ ...files, "manifest.json": strToU8(JSON.stringify(manifest)) }),
    });
    return { status: res.status, body: (await res.json()) as any };
  }

  it("carries the fitted grid through an export and import", async () => {
    const { gm, base, sid } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "Crypt", ...GRID });
    const files = await exportScene(gm, base, scene.id);
    expect(JSON.parse(new TextDecoder().decode(files["scene.json"])).scene).toMatchObject(GRID);
    const imported = await importFiles(gm, base, files);
    expect(imported.status).toBe(201);
    expect(imported.body.scene).toMatchObject(GRID);
    expect(await storedScene(sid, imported.body.scene.id)).toMatchObject(GRID);
  });

  it("imports a bundle exported before grids were fitted with the 64-px grid", async () => {
    const { gm, base, sid } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "Crypt" });
    const files = await exportScene(gm, base, scene.id);
    const bundle = JSON.parse(new TextDecoder().decode(files["scene.json"]));
    for (const field of Object.keys(GRID)) delete bundle.scene[field];
    const imported = await importFiles(gm, base, { ...files, "scene.json": strToU8(JSON.stringify(bundle)) });
    expect(imported.status).toBe(201);
    expect(await storedScene(sid, imported.body.scene.id)).toMatchObject({ grid_type: "square", grid_size: 64, grid_offset_x: 0 });
  });

  it("refuses a bundle whose grid is out of range and creates nothing", async () => {
    const { gm, base, sid } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "Crypt" });
    const files = await exportScene(gm, base, scene.id);
    const bundle = JSON.parse(new TextDecoder().decode(files["scene.json"]));
    bundle.scene.grid_size = 2;
    const count = async () =>
      (await (await shardOf(sid)).prepare("SELECT COUNT(*) AS n FROM scenes WHERE session_id = ?").bind(sid).first<{ n: number }>())?.n;
    const before = await count();
    const imported = await importFiles(gm, base, { ...files, "scene.json": strToU8(JSON.stringify(bundle)) });
    expect(imported.status).toBe(400);
    expect(imported.body.error.code).toBe("bad_request");
    expect(await count()).toBe(before);
  });
});
