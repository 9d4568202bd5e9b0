import { describe, expect, it } from "vitest";
import { create, newTable, S, seqOf, TestUser } from "../helpers/client";
import { shardOf } from "../helpers/shards";

const HASH = "a".repeat(64);

async function changeLog(sid: string): Promise<Record<string, any>[]> {
  const { results } = await (await shardOf(sid))
    .prepare("SELECT * FROM change_log WHERE session_id = ? ORDER BY seq")
    .bind(sid)
    .all<Record<string, any>>();
  return results.map((r) => ({ ...r, diff: JSON.parse(r.diff) }));
}

async function plantAsset(sid: string, hash = HASH) {
  await (await shardOf(sid))
    .prepare(
      "INSERT INTO assets (session_id, hash, kind, mime, size, width, height, r2_key, uploaded_by, created_at) VALUES (?, ?, 'token', 'image/png', 10, 1, 1, ?, 'u', ?)",
    )
    .bind(sid, hash, `assets/${hash}`, new Date().toISOString())
    .run();
}

describe("creating entities", () => {
  it("creates every type at version 1 with a change_log row each", async () => {
    const { gm, base, sid } = await newTable();
    await plantAsset(sid);
    const before = await seqOf(gm, base);
    const folder = await create(gm, base, "folders", { name: "Dungeons", kind: "scene" });
    const scene = await create(gm, base, "scenes", { name: "Crypt", folder_id: folder.id, map_asset: HASH, metadata: { mood: "grim" } });
    const layer = await create(gm, base, "layers", { scene_id: scene.id, layer_type: "drawings", payload: { lines: [] } });
    const token = await create(gm, base, "tokens", { name: "Hero", scene_id: scene.id });
    const art = await create(gm, base, "token-art", {
      token_id: token.id,
      image_asset: HASH,
      crop: { scale: 1.5, translate_x: 10, translate_y: -4, stage_size: 512, base_scale: 0.8 },
    });
    for (const e of [folder, scene, layer, token, art]) {
      expect(e).toMatchObject({ version: 1, archived_at: null, updated_by: gm.id });
      expect(typeof e.created_at).toBe("string");
    }
    expect(token).toMatchObject({ created_by: gm.id, x: 0, y: 0, hidden: false, owner_user_ids: [] });
    const log = await changeLog(sid);
    const mine = log.filter((r) => r.seq > before);
    expect(mine.map((r) => [r.entity_type, r.op, r.version])).toEqual([
      ["folder", "create", 1],
      ["scene", "create", 1],
      ["layer", "create", 1],
      ["token", "create", 1],
      ["token_art", "create", 1],
    ]);
    expect(mine.map((r) => r.seq)).toEqual([before + 1, before + 2, before + 3, before + 4, before + 5]);
    expect(mine[1]?.diff).toMatchObject({ name: "Crypt", metadata: { mood: "grim" } });
    expect(await seqOf(gm, base)).toBe(before + 5);
  });

  it("answers a single GET with the entity and its version as ETag", async () => {
    const { gm, base } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const r = await gm.req("GET", `${base}/tokens/${token.id}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual(token);
    expect(r.headers.get("etag")).toBe('"1"');
  });

  it("lists live entities and archived ones apart", async () => {
    const { gm, base } = await newTable();
    const a = await create(gm, base, "scenes", { name: "A" });
    const b = await create(gm, base, "scenes", { name: "B" });
    await gm.req("DELETE", `${base}/scenes/${b.id}`);
    const live = await gm.req("GET", `${base}/scenes`);
    const archived = await gm.req("GET", `${base}/scenes?archived=true`);
    expect(live.body.items.map((s: any) => s.id)).toEqual([a.id]);
    expect(archived.body.items.map((s: any) => s.id)).toEqual([b.id]);
  });

  it("validates a create with the fields named", async () => {
    const { gm, base } = await newTable();
    const r = await gm.req("POST", `${base}/tokens`, { name: "", width: -1 });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("bad_request");
    expect(r.body.error.details.fields.map((f: any) => f.field).sort()).toEqual(["name", "width"]);
  });

  it("accepts a client-chosen id and refuses it twice with 409", async () => {
    const { gm, base } = await newTable();
    const first = await gm.req("POST", `${base}/scenes`, { id: "scene-1", name: "A" });
    expect(first.status).toBe(201);
    expect(first.body.id).toBe("scene-1");
    const again = await gm.req("POST", `${base}/scenes`, { id: "scene-1", name: "B" });
    expect(again.status).toBe(409);
    expect(again.body.error.details.current.name).toBe("A");
  });

  it("keeps the same client id apart in two sessions", async () => {
    const one = await newTable();
    const two = await newTable();
    expect((await one.gm.req("POST", `${one.base}/scenes`, { id: "shared", name: "One" })).status).toBe(201);
    expect((await two.gm.req("POST", `${two.base}/scenes`, { id: "shared", name: "Two" })).status).toBe(201);
    expect((await one.gm.req("GET", `${one.base}/scenes/shared`)).body.name).toBe("One");
  });
});

describe("updating with PATCH", () => {
  it("applies a merge patch at version+1 and logs the diff", async () => {
    const { gm, base, sid } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero", stats: { hp: 10, ac: 14, notes: "x" } });
    const r = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 5, stats: { hp: 7, notes: null } }, { "if-match": '"1"' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ version: 2, x: 5, stats: { hp: 7, ac: 14 } });
    expect(r.body.stats).not.toHaveProperty("notes");
    expect(r.headers.get("etag")).toBe('"2"');
    const last = (await changeLog(sid)).at(-1);
    expect(last).toMatchObject({ entity_type: "token", entity_id: token.id, version: 2, op: "update", updated_by: gm.id });
    expect(last?.diff).toMatchObject({ x: 5, stats: { hp: 7, notes: null }, version: 2 });
  });

  it("answers 409 with the current entity when If-Match is stale", async () => {
    const { gm, base } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": '"1"' });
    const before = await seqOf(gm, base);
    const r = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 2 }, { "if-match": '"1"' });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("conflict");
    expect(r.body.error.details.current).toMatchObject({ id: token.id, version: 2, x: 1 });
    expect(await seqOf(gm, base)).toBe(before);
  });

  it("answers 428 without If-Match", async () => {
    const { gm, base } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const r = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 });
    expect(r.status).toBe(428);
    expect(r.body.error.code).toBe("precondition_required");
  });

  it("accepts a weak or bare If-Match", async () => {
    const { gm, base } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    expect((await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": 'W/"1"' })).status).toBe(200);
    expect((await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 2 }, { "if-match": "2" })).status).toBe(200);
  });

  it("answers 404 for an unknown id", async () => {
    const { gm, base } = await newTable();
    const r = await gm.req("PATCH", `${base}/tokens/nope`, { x: 1 }, { "if-match": '"1"' });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe("not_found");
  });

  it("updates the session state through its own path", async () => {
    const { gm, base } = await newTable();
    const state = (await gm.req("GET", `${base}/session-state`)).body;
    const r = await gm.req("PATCH", `${base}/session-state`, { flags: { lighting: true } }, { "if-match": `"${state.version}"` });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ version: state.version + 1, flags: { lighting: true, grid_opacity: 0.5 }, gm_user_ids: [gm.id] });
  });
});

describe("archive and restore", () => {
  it("archives softly and restores, each a new version with a log row", async () => {
    const { gm, base, sid } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "A" });
    const archived = await gm.req("DELETE", `${base}/scenes/${scene.id}`);
    expect(archived.status).toBe(200);
    expect(archived.body).toMatchObject({ version: 2 });
    expect(archived.body.archived_at).not.toBeNull();
    const stillThere = await gm.req("GET", `${base}/scenes/${scene.id}`);
    expect(stillThere.status).toBe(200);
    const restored = await gm.req("POST", `${base}/scenes/${scene.id}/restore`);
    expect(restored.status).toBe(200);
    expect(restored.body).toMatchObject({ version: 3, archived_at: null, name: "A" });
    const ops = (await changeLog(sid)).filter((r) => r.entity_id === scene.id).map((r) => [r.op, r.version]);
    expect(ops).toEqual([
      ["create", 1],
      ["archive", 2],
      ["restore", 3],
    ]);
  });

  it("checks If-Match on DELETE when it is sent", async () => {
    const { gm, base } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "A" });
    const r = await gm.req("DELETE", `${base}/scenes/${scene.id}`, undefined, { "if-match": '"7"' });
    expect(r.status).toBe(409);
  });

  it("changes nothing when archiving what is archived", async () => {
    const { gm, base } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "A" });
    await gm.req("DELETE", `${base}/scenes/${scene.id}`);
    const seq = await seqOf(gm, base);
    const again = await gm.req("DELETE", `${base}/scenes/${scene.id}`);
    expect(again.status).toBe(200);
    expect(again.body.version).toBe(2);
    expect(await seqOf(gm, base)).toBe(seq);
  });

  it("refuses to archive the session state", async () => {
    const { gm, base } = await newTable();
    const state = (await gm.req("GET", `${base}/session-state`)).body;
    expect((await gm.req("DELETE", `${base}/session-state/${state.id}`)).status).toBe(400);
  });
});

describe("activation", () => {
  it("sets the active scene, bumps the session state and records the timeline", async () => {
    const { gm, base } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "A" });
    const r = await gm.req("POST", `${base}/scenes/${scene.id}/activate`, {});
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ active_scene_id: scene.id, version: 2 });
    const state = await gm.req("GET", `${base}/state`);
    expect(state.body.timeline[0]).toMatchObject({ kind: "activate", scene_id: scene.id, user_id: gm.id, seq: state.body.seq });
  });

  it("refuses an unknown or archived scene with 400", async () => {
    const { gm, base } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "A" });
    await gm.req("DELETE", `${base}/scenes/${scene.id}`);
    expect((await gm.req("POST", `${base}/scenes/${scene.id}/activate`, {})).status).toBe(400);
    expect((await gm.req("POST", `${base}/scenes/nope/activate`, {})).status).toBe(400);
  });

  it("is for GMs only", async () => {
    const { gm, player, base } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "A" });
    const r = await player.req("POST", `${base}/scenes/${scene.id}/activate`, {});
    expect(r.status).toBe(403);
  });
});

describe("referential rules", () => {
  it("refuses references to entities of another session", async () => {
    const mine = await newTable();
    const theirs = await newTable();
    const foreignScene = await create(theirs.gm, theirs.base, "scenes", { name: "Theirs" });
    const foreignFolder = await create(theirs.gm, theirs.base, "folders", { name: "F", kind: "token" });
    const foreignToken = await create(theirs.gm, theirs.base, "tokens", { name: "T" });
    await plantAsset(theirs.sid);
    const cases: [string, Record<string, unknown>][] = [
      ["tokens", { name: "X", scene_id: foreignScene.id }],
      ["tokens", { name: "X", folder_id: foreignFolder.id }],
      ["layers", { scene_id: foreignScene.id, layer_type: "map" }],
      ["token-art", { token_id: foreignToken.id, image_asset: HASH }],
      ["scenes", { name: "X", map_asset: HASH }],
    ];
    for (const [path, data] of cases) {
      const r = await mine.gm.req("POST", `${mine.base}/${path}`, data);
      expect([path, r.status, r.body.error?.code]).toEqual([path, 400, "bad_request"]);
    }
    expect((await mine.gm.req("GET", `${mine.base}/tokens`)).body.items).toEqual([]);
  });

  it("accepts references inside the session, including an archived scene", async () => {
    const { gm, base } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "A" });
    await gm.req("DELETE", `${base}/scenes/${scene.id}`);
    const r = await gm.req("POST", `${base}/tokens`, { name: "T", scene_id: scene.id });
    expect(r.status).toBe(201);
  });

  it("requires a folder of the matching kind", async () => {
    const { gm, base } = await newTable();
    const sceneFolder = await create(gm, base, "folders", { name: "Maps", kind: "scene" });
    expect((await gm.req("POST", `${base}/tokens`, { name: "T", folder_id: sceneFolder.id })).status).toBe(400);
    expect((await gm.req("POST", `${base}/scenes`, { name: "S", folder_id: sceneFolder.id })).status).toBe(201);
  });

  it("refuses a folder cycle", async () => {
    const { gm, base } = await newTable();
    const a = await create(gm, base, "folders", { name: "A", kind: "token" });
    const b = await create(gm, base, "folders", { name: "B", kind: "token", parent_id: a.id });
    const r = await gm.req("PATCH", `${base}/folders/${a.id}`, { parent_id: b.id }, { "if-match": '"1"' });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body.error.details)).toContain("parent_id");
  });

  it("does not see entities of another session by id", async () => {
    const mine = await newTable();
    const theirs = await newTable();
    const foreign = await create(theirs.gm, theirs.base, "tokens", { name: "T" });
    expect((await mine.gm.req("GET", `${mine.base}/tokens/${foreign.id}`)).status).toBe(404);
    expect((await mine.gm.req("PATCH", `${mine.base}/tokens/${foreign.id}`, { x: 1 }, { "if-match": '"1"' })).status).toBe(404);
    expect((await mine.gm.req("DELETE", `${mine.base}/tokens/${foreign.id}`)).status).toBe(404);
  });
});

describe("a co-GM", () => {
  it("can author once promoted, and is listed in the session state", async () => {
    const { gm, player, base, sid } = await newTable();
    expect((await player.req("POST", `${base}/scenes`, { name: "Mine" })).status).toBe(403);
    const promoted = await gm.req("PUT", `${S(sid)}/members/${player.id}`, { role: "gm" });
    expect(promoted.status).toBe(200);
    expect((await player.req("POST", `${base}/scenes`, { name: "Mine" })).status).toBe(201);
    const state = (await gm.req("GET", `${base}/session-state`)).body;
    expect([...state.gm_user_ids].sort()).toEqual([gm.id, player.id].sort());
  });

  it("can add a user who never joined", async () => {
    const { gm, sid } = await newTable();
    const stranger = await TestUser.register("st");
    expect((await stranger.req("GET", `${S(sid)}/state`)).status).toBe(404);
    expect((await gm.req("PUT", `${S(sid)}/members/${stranger.id}`, { role: "player" })).status).toBe(200);
    expect((await stranger.req("GET", `${S(sid)}/state`)).status).toBe(200);
  });
});
