import { describe, expect, it } from "vitest";
import { create, newTable, seqOf } from "../helpers/client";
import { shardOf } from "../helpers/shards";

/** A world with an active scene (visible token, hidden token, notes and fog layers) and another scene. */
async function world() {
  const t = await newTable();
  const { gm, base } = t;
  const folder = await create(gm, base, "folders", { name: "Library", kind: "token" });
  const active = await create(gm, base, "scenes", { name: "Crypt", metadata: { gm_notes: "trap at the door", mood: "grim" } });
  const other = await create(gm, base, "scenes", { name: "Tower" });
  const visible = await create(gm, base, "tokens", {
    name: "Hero",
    scene_id: active.id,
    owner_user_ids: [t.player.id],
    stats: { hp: 9, gm_notes: "cursed" },
  });
  const hidden = await create(gm, base, "tokens", { name: "Lurker", scene_id: active.id, hidden: true });
  const elsewhere = await create(gm, base, "tokens", { name: "Guard", scene_id: other.id });
  const library = await create(gm, base, "tokens", { name: "Goblin", folder_id: folder.id });
  const drawings = await create(gm, base, "layers", { scene_id: active.id, layer_type: "drawings", payload: { lines: [1] } });
  const notes = await create(gm, base, "layers", { scene_id: active.id, layer_type: "notes", payload: { text: "secret door" } });
  const fog = await create(gm, base, "layers", { scene_id: active.id, layer_type: "fog", payload: { mask: "rle:..." } });
  const otherLayer = await create(gm, base, "layers", { scene_id: other.id, layer_type: "map" });
  await gm.req("POST", `${base}/scenes/${active.id}/activate`, {});
  return { ...t, folder, active, other, visible, hidden, elsewhere, library, drawings, notes, fog, otherLayer };
}

const ids = (items: { id: string }[]) => items.map((i) => i.id).sort();

describe("GET state", () => {
  it("gives a GM everything live, with only the active scene's layers", async () => {
    const w = await world();
    const r = await w.gm.req("GET", `${w.base}/state`);
    expect(r.status).toBe(200);
    expect(r.headers.get("etag")).toBe(`"${r.body.seq}"`);
    expect(r.body.session).toMatchObject({ id: w.sid, name: "Table" });
    expect(r.body.session_state.active_scene_id).toBe(w.active.id);
    expect(ids(r.body.scenes)).toEqual(ids([w.active, w.other]));
    expect(ids(r.body.tokens)).toEqual(ids([w.visible, w.hidden, w.elsewhere, w.library]));
    expect(ids(r.body.folders)).toEqual([w.folder.id]);
    expect(ids(r.body.layers)).toEqual(ids([w.drawings, w.notes, w.fog]));
    expect(r.body.timeline[0]).toMatchObject({ kind: "activate", scene_id: w.active.id });
  });

  it("gives a player only the active scene, its visible tokens and its non-note layers, without GM notes", async () => {
    const w = await world();
    const r = await w.player.req("GET", `${w.base}/state`);
    expect(r.status).toBe(200);
    expect(ids(r.body.scenes)).toEqual([w.active.id]);
    expect(r.body.scenes[0].metadata).toEqual({ mood: "grim" });
    expect(ids(r.body.tokens)).toEqual([w.visible.id]);
    expect(r.body.tokens[0].stats).toEqual({ hp: 9 });
    expect(r.body.folders).toEqual([]);
    expect(ids(r.body.layers)).toEqual(ids([w.drawings, w.fog]));
    expect(r.body.timeline).toHaveLength(1);
    const text = JSON.stringify(r.body);
    for (const secret of ["Lurker", "Guard", "Goblin", "Tower", "secret door", "trap at the door", "cursed"])
      expect(text).not.toContain(secret);
  });

  it("answers 304 with no body to If-None-Match of the current seq, 200 after a change", async () => {
    const w = await world();
    const first = await w.player.req("GET", `${w.base}/state`);
    const etag = first.headers.get("etag") ?? "";
    const again = await w.player.req("GET", `${w.base}/state`, undefined, { "if-none-match": etag });
    expect(again.status).toBe(304);
    expect(again.body).toBeNull();
    await w.gm.req("PATCH", `${w.base}/tokens/${w.visible.id}`, { x: 3 }, { "if-match": '"1"' });
    const changed = await w.player.req("GET", `${w.base}/state`, undefined, { "if-none-match": etag });
    expect(changed.status).toBe(200);
    expect(changed.body.seq).toBe(first.body.seq + 1);
  });

  it("shows a player only the session state before any scene is active", async () => {
    const { gm, player, base } = await newTable();
    await create(gm, base, "scenes", { name: "A" });
    const r = await player.req("GET", `${base}/state`);
    expect(r.body.scenes).toEqual([]);
    expect(r.body.tokens).toEqual([]);
    expect(r.body.session_state.active_scene_id).toBeNull();
  });
});

describe("single and list GETs", () => {
  it("returns a scene with its layers (players without notes)", async () => {
    const w = await world();
    const gmView = await w.gm.req("GET", `${w.base}/scenes/${w.active.id}`);
    expect(ids(gmView.body.layers)).toEqual(ids([w.drawings, w.notes, w.fog]));
    const playerView = await w.player.req("GET", `${w.base}/scenes/${w.active.id}`);
    expect(ids(playerView.body.layers)).toEqual(ids([w.drawings, w.fog]));
  });

  it.each([
    ["a hidden token", "tokens", "hidden"],
    ["a token on another scene", "tokens", "elsewhere"],
    ["a library token", "tokens", "library"],
    ["another scene", "scenes", "other"],
    ["the notes layer", "layers", "notes"],
    ["another scene's layer", "layers", "otherLayer"],
    ["a folder", "folders", "folder"],
  ] as const)("answers a player 404 for %s", async (_what, path, key) => {
    const w = await world();
    const r = await w.player.req("GET", `${w.base}/${path}/${(w[key] as { id: string }).id}`);
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe("not_found");
  });

  it("filters lists for a player", async () => {
    const w = await world();
    expect(ids((await w.player.req("GET", `${w.base}/tokens`)).body.items)).toEqual([w.visible.id]);
    expect(ids((await w.player.req("GET", `${w.base}/layers`)).body.items)).toEqual(ids([w.drawings, w.fog]));
    expect((await w.player.req("GET", `${w.base}/folders`)).body.items).toEqual([]);
    expect((await w.player.req("GET", `${w.base}/tokens?archived=true`)).body.items).toEqual([]);
  });

  it("answers a player's write to a token they cannot see with 404, not 403", async () => {
    const w = await world();
    const r = await w.player.req("PATCH", `${w.base}/tokens/${w.hidden.id}`, { x: 1 }, { "if-match": '"1"' });
    expect(r.status).toBe(404);
  });

  it("lets a player move their own token and returns it without GM notes", async () => {
    const w = await world();
    const r = await w.player.req("PATCH", `${w.base}/tokens/${w.visible.id}`, { x: 2, y: 3, rotation: 45 }, { "if-match": '"1"' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ x: 2, y: 3, rotation: 45, version: 2 });
    expect(r.body.stats).toEqual({ hp: 9 });
  });
});

describe("GET changes", () => {
  it("lists the latest state of each entity changed after a seq, in seq order", async () => {
    const { gm, base } = await newTable();
    const a = await create(gm, base, "tokens", { name: "A" });
    const since = await seqOf(gm, base);
    const b = await create(gm, base, "tokens", { name: "B" });
    await gm.req("PATCH", `${base}/tokens/${a.id}`, { x: 1 }, { "if-match": '"1"' });
    await gm.req("PATCH", `${base}/tokens/${a.id}`, { x: 2 }, { "if-match": '"2"' });
    const r = await gm.req("GET", `${base}/changes?since=${since}`);
    expect(r.status).toBe(200);
    expect(r.body.seq).toBe(since + 3);
    expect(r.body.changes.map((c: any) => [c.entity_id, c.op, c.version, c.seq])).toEqual([
      [b.id, "create", 1, since + 1],
      [a.id, "update", 3, since + 3],
    ]);
    expect(r.body.changes[1].entity).toMatchObject({ x: 2, version: 3 });
  });

  it("answers empty changes when nothing changed, and 304 with If-None-Match", async () => {
    const { gm, base } = await newTable();
    const seq = await seqOf(gm, base);
    const r = await gm.req("GET", `${base}/changes?since=${seq}`);
    expect(r.body).toEqual({ seq, changes: [] });
    const cached = await gm.req("GET", `${base}/changes?since=${seq}`, undefined, { "if-none-match": `"${seq}"` });
    expect(cached.status).toBe(304);
  });

  it("answers 410 below the retained log and beyond the current seq", async () => {
    const { gm, base, sid } = await newTable();
    await create(gm, base, "scenes", { name: "A" });
    await (await shardOf(sid)).prepare("UPDATE game_sessions SET log_floor = 2 WHERE id = ?").bind(sid).run();
    const old = await gm.req("GET", `${base}/changes?since=1`);
    expect(old.status).toBe(410);
    expect(old.body.error.code).toBe("gone");
    expect((await gm.req("GET", `${base}/changes?since=2`)).status).toBe(200);
    expect((await gm.req("GET", `${base}/changes?since=999`)).status).toBe(410);
  });

  it("shows a player a hidden token as a removal, never its content", async () => {
    const w = await world();
    const since = await seqOf(w.gm, w.base);
    await w.gm.req("PATCH", `${w.base}/tokens/${w.visible.id}`, { hidden: true, name: "Secretly Evil" }, { "if-match": '"1"' });
    const r = await w.player.req("GET", `${w.base}/changes?since=${since}`);
    expect(r.body.changes).toEqual([
      { seq: since + 1, entity_type: "token", entity_id: w.visible.id, version: 2, op: "update", removed: true },
    ]);
    expect(JSON.stringify(r.body)).not.toContain("Secretly Evil");
  });

  it("tells a player nothing of changes to what they never saw", async () => {
    const w = await world();
    const since = await seqOf(w.gm, w.base);
    await w.gm.req("PATCH", `${w.base}/tokens/${w.hidden.id}`, { x: 5 }, { "if-match": '"1"' });
    await create(w.gm, w.base, "tokens", { name: "Ambush", scene_id: w.active.id, hidden: true });
    await w.gm.req("PATCH", `${w.base}/layers/${w.notes.id}`, { payload: { text: "more secrets" } }, { "if-match": '"1"' });
    const r = await w.player.req("GET", `${w.base}/changes?since=${since}`);
    expect(r.body).toEqual({ seq: since + 3, changes: [] });
  });

  it("shows a player a token revealed to them", async () => {
    const w = await world();
    const since = await seqOf(w.gm, w.base);
    await w.gm.req("PATCH", `${w.base}/tokens/${w.hidden.id}`, { hidden: false }, { "if-match": '"1"' });
    const r = await w.player.req("GET", `${w.base}/changes?since=${since}`);
    expect(r.body.changes).toHaveLength(1);
    expect(r.body.changes[0].entity).toMatchObject({ id: w.hidden.id, name: "Lurker", hidden: false });
  });

  it("tells a player to reload when the active scene changed", async () => {
    const w = await world();
    const since = await seqOf(w.gm, w.base);
    await w.gm.req("POST", `${w.base}/scenes/${w.other.id}/activate`, {});
    const r = await w.player.req("GET", `${w.base}/changes?since=${since}`);
    expect(r.body).toEqual({ seq: since + 1, reload: true, changes: [] });
  });

  it("refuses a missing or malformed since with 400", async () => {
    const { gm, base } = await newTable();
    for (const q of ["", "?since=", "?since=-1", "?since=abc", "?since=1.5"]) {
      expect((await gm.req("GET", `${base}/changes${q}`)).status).toBe(400);
    }
  });
});
