/**
 * Fog on the wire on a fitted grid: a token's box is `width` × the active scene's `grid_size`
 * map pixels, as the table draws it, on every path (reads, writes, socket, previews); a change
 * of the scene's grid_size brings tokens into or out of players' view like a fog write.
 */
import { describe, expect, it } from "vitest";
import { chunkId, fogIdFor } from "../../modules/fog/ids";
import { CELLS_PER_CHUNK, CHUNK_CELLS, encodeChunk } from "../../modules/fog/mask";
import { create, newTable } from "../helpers/client";
import { makePng } from "../helpers/images";
import { shardOf } from "../helpers/shards";
import { TestSocket } from "../helpers/socket";
import { upload } from "../helpers/uploads";

/** A chunk with the cells of [c0, c1) × [r0, r1) revealed. */
function revealed(c0: number, r0: number, c1: number, r1: number): string {
  const cells = new Uint8Array(CELLS_PER_CHUNK);
  for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) cells[r * CHUNK_CELLS + c] = 1;
  return encodeChunk(cells);
}

/**
 * An active scene with the given grid under fog of 8-px cells over 512 px (one chunk), hidden but
 * for the square 320–383 px (cells 40–47). A Lamp stands in that square.
 */
async function foggedScene(grid: Record<string, unknown>) {
  const t = await newTable();
  const scene = await create(t.gm, t.base, "scenes", { name: "Mines", ...grid });
  await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {});
  const fog = await create(t.gm, t.base, "fog", { id: fogIdFor(scene.id), scene_id: scene.id, cell_px: 8, width_px: 512, height_px: 512 });
  await create(t.gm, t.base, "fog-chunks", {
    id: chunkId(fog.id, 0, 0),
    scene_id: scene.id,
    fog_id: fog.id,
    cx: 0,
    cy: 0,
    bits: revealed(40, 40, 48, 48),
  });
  const lamp = await create(t.gm, t.base, "tokens", { name: "Lamp", scene_id: scene.id, x: 320, y: 320 });
  const since: number = (await t.gm.req("GET", `${t.base}/state`)).body.seq;
  return { ...t, scene, fog, lamp, since };
}

const ids = (items: { id: string }[]) => items.map((i) => i.id).sort();

async function tokenLog(sid: string, tokenId: string) {
  const rows = await (await shardOf(sid))
    .prepare("SELECT version, op, visible_before, visible_after, diff FROM change_log WHERE session_id = ? AND entity_id = ? ORDER BY seq")
    .bind(sid, tokenId)
    .all<{ version: number; op: string; visible_before: number; visible_after: number; diff: string }>();
  return rows.results.map((r) => ({ ...r, diff: JSON.parse(r.diff) }));
}

describe("tokens under fog on a fitted grid", () => {
  it("keeps a one-cell token on a 32-px grid from players although a 64-px box would reach a revealed cell", async () => {
    // The grid's offset does not move a token: its box is 280–311 px whatever the lines.
    const t = await foggedScene({ grid_size: 32, grid_offset_x: 10, grid_offset_y: 10 });
    const scout = await create(t.gm, t.base, "tokens", { name: "Scout", scene_id: t.scene.id, x: 280, y: 280 });

    const state = await t.player.req("GET", `${t.base}/state`);
    expect(state.status).toBe(200);
    expect(ids(state.body.tokens)).toEqual([t.lamp.id]);
    expect(JSON.stringify(state.body)).not.toContain("Scout");
    expect(ids((await t.player.req("GET", `${t.base}/tokens`)).body.items)).toEqual([t.lamp.id]);
    expect((await t.player.req("GET", `${t.base}/tokens/${scout.id}`)).status).toBe(404);
    const delta = await t.player.req("GET", `${t.base}/changes?since=${t.since}`);
    expect(delta.status).toBe(200);
    expect(JSON.stringify(delta.body)).not.toContain(scout.id);
    // The GM sees it, and the log records it as never visible to players.
    expect(ids((await t.gm.req("GET", `${t.base}/state`)).body.tokens)).toEqual(ids([t.lamp, scout]));
    expect(await tokenLog(t.sid, scout.id)).toMatchObject([{ version: 1, op: "create", visible_before: 0, visible_after: 0 }]);
  });

  it("takes a token moved under the fog of a 32-px grid out of players' view, and relays no drag there", async () => {
    const t = await foggedScene({ grid_size: 32 });
    const player = await TestSocket.open(t.player, t.base);
    const gm = await TestSocket.open(t.gm, t.base);
    gm.send({ type: "preview", entity_id: t.lamp.id, x: 280, y: 280 });
    gm.send({ type: "preview", entity_id: t.lamp.id, x: 296, y: 296 });
    const seen = await player.next((m) => m.type === "preview", "a preview");
    expect(seen).toMatchObject({ entity_id: t.lamp.id, x: 296, y: 296 });
    expect(player.all("preview")).toHaveLength(1);

    const moved = await t.gm.req("PATCH", `${t.base}/tokens/${t.lamp.id}`, { x: 280, y: 280 }, { "if-match": '"1"' });
    expect(moved.status).toBe(200);
    const gone = await player.next((m) => m.type === "change" && m.entity_id === t.lamp.id, "the lamp leaving");
    expect(gone).toMatchObject({ removed: true, version: 2 });
    expect(gone.entity).toBeUndefined();
    expect(await tokenLog(t.sid, t.lamp.id)).toMatchObject([
      { version: 1, visible_after: 1 },
      { version: 2, visible_before: 1, visible_after: 0 },
    ]);
    expect((await t.player.req("GET", `${t.base}/tokens/${t.lamp.id}`)).status).toBe(404);
    for (const s of [player, gm]) s.close();
  });

  it("sends players a token on a 128-px grid whose box reaches a revealed cell", async () => {
    const t = await foggedScene({ grid_size: 128 });
    const player = await TestSocket.open(t.player, t.base);
    // 200–327 px: its last cells are revealed; a 64-px box (200–263 px) would be all hidden.
    const giant = await create(t.gm, t.base, "tokens", { name: "Giant", scene_id: t.scene.id, x: 200, y: 200 });
    const shown = await player.next((m) => m.type === "change" && m.entity_id === giant.id, "the giant");
    expect(shown.entity).toMatchObject({ id: giant.id, name: "Giant" });

    const state = await t.player.req("GET", `${t.base}/state`);
    expect(ids(state.body.tokens)).toEqual(ids([t.lamp, giant]));
    const single = await t.player.req("GET", `${t.base}/tokens/${giant.id}`);
    expect(single.status).toBe(200);
    expect(single.body).toMatchObject({ id: giant.id, x: 200 });
    const delta = await t.player.req("GET", `${t.base}/changes?since=${t.since}`);
    expect(delta.body.changes.find((c: { entity_id: string }) => c.entity_id === giant.id)?.entity).toMatchObject({ name: "Giant" });
    expect(await tokenLog(t.sid, giant.id)).toMatchObject([{ version: 1, op: "create", visible_after: 1 }]);
    // Still covered: a one-cell token wholly in the fog.
    const deep = await create(t.gm, t.base, "tokens", { name: "Deep", scene_id: t.scene.id, x: 0, y: 0 });
    expect((await t.player.req("GET", `${t.base}/tokens/${deep.id}`)).status).toBe(404);
    player.close();
  });

  it("covers and reveals tokens for players when the active scene's grid_size changes, on the socket and in changes?since", async () => {
    const t = await foggedScene({});
    // On the 64-px grid its box (280–343 px) reaches the revealed square.
    const scout = await create(t.gm, t.base, "tokens", { name: "Scout", scene_id: t.scene.id, x: 280, y: 280 });
    const face = await upload(t.gm, t.base, await makePng(30, 30), { filename: "scout.png", kind: "token" });
    const art = await create(t.gm, t.base, "token-art", { token_id: scout.id, image_asset: face.body.asset.hash });
    expect((await t.player.req("GET", `${t.base}/tokens/${scout.id}`)).status).toBe(200);
    const before: number = (await t.player.req("GET", `${t.base}/state`)).body.seq;
    const player = await TestSocket.open(t.player, t.base);
    const gm = await TestSocket.open(t.gm, t.base);

    const smaller = await t.gm.req("PATCH", `${t.base}/scenes/${t.scene.id}`, { grid_size: 32 }, { "if-match": '"1"' });
    expect(smaller.status).toBe(200);
    expect(smaller.body).toMatchObject({ grid_size: 32, version: 2 });
    const gone = await player.next((m) => m.type === "change" && m.entity_id === scout.id, "the scout covered");
    expect(gone).toMatchObject({ removed: true, version: 1 });
    expect(gone.entity).toBeUndefined();
    expect((await t.player.req("GET", `${t.base}/tokens/${scout.id}`)).status).toBe(404);
    expect((await t.player.req("GET", `${t.base}/assets/${face.body.asset.hash}`)).status).toBe(404);
    const delta = await t.player.req("GET", `${t.base}/changes?since=${before}`);
    expect(delta.body.changes.find((c: { entity_id: string }) => c.entity_id === scout.id)).toMatchObject({ removed: true });
    // A drag onto the same spot is judged on the new cells too (the object's cached cover follows the grid).
    gm.send({ type: "preview", entity_id: t.lamp.id, x: 280, y: 280 });
    gm.send({ type: "preview", entity_id: t.lamp.id, x: 300, y: 300 });
    expect(await player.next((m) => m.type === "preview", "a preview")).toMatchObject({ x: 300, y: 300 });
    expect(player.all("preview")).toHaveLength(1);

    const mid: number = (await t.player.req("GET", `${t.base}/state`)).body.seq;
    const larger = await t.gm.req("PATCH", `${t.base}/scenes/${t.scene.id}`, { grid_size: 128 }, { "if-match": '"2"' });
    expect(larger.status).toBe(200);
    const shown = await player.next((m) => m.type === "change" && m.entity_id === scout.id, "the scout shown");
    expect(shown.entity).toMatchObject({ id: scout.id, name: "Scout", version: 1 });
    expect(shown.related).toEqual([{ entity_type: "token_art", entity: expect.objectContaining({ id: art.id }) }]);
    const back = await t.player.req("GET", `${t.base}/changes?since=${mid}`);
    const row = back.body.changes.find((c: { entity_id: string }) => c.entity_id === scout.id);
    expect(row.entity).toMatchObject({ id: scout.id, version: 1 });
    expect(row.related).toEqual([{ entity_type: "token_art", entity: expect.objectContaining({ id: art.id }) }]);
    expect((await t.player.req("GET", `${t.base}/tokens/${scout.id}`)).status).toBe(200);

    // The token itself never changed: same version, logged rows with an empty diff.
    expect((await t.gm.req("GET", `${t.base}/tokens/${scout.id}`)).body.version).toBe(1);
    expect(await tokenLog(t.sid, scout.id)).toEqual([
      expect.objectContaining({ version: 1, op: "create", visible_after: 1 }),
      { version: 1, op: "update", visible_before: 1, visible_after: 0, diff: {} },
      { version: 1, op: "update", visible_before: 0, visible_after: 1, diff: {} },
    ]);
    for (const s of [player, gm]) s.close();
  });

  it("logs nothing for tokens when the grid of a scene without fog, or of a scene players do not see, changes", async () => {
    const t = await foggedScene({});
    const scout = await create(t.gm, t.base, "tokens", { name: "Scout", scene_id: t.scene.id, x: 280, y: 280 });
    await t.gm.req("PATCH", `${t.base}/fog/${t.fog.id}`, { enabled: false }, { "if-match": '"1"' });
    const off = await t.gm.req("PATCH", `${t.base}/scenes/${t.scene.id}`, { grid_size: 32 }, { "if-match": '"1"' });
    expect(off.status).toBe(200);
    expect((await t.player.req("GET", `${t.base}/tokens/${scout.id}`)).status).toBe(200);

    const other = await create(t.gm, t.base, "scenes", { name: "Cellar" });
    const otherFog = await create(t.gm, t.base, "fog", {
      id: fogIdFor(other.id),
      scene_id: other.id,
      cell_px: 8,
      width_px: 512,
      height_px: 512,
    });
    await create(t.gm, t.base, "fog-chunks", {
      id: chunkId(otherFog.id, 0, 0),
      scene_id: other.id,
      fog_id: otherFog.id,
      cx: 0,
      cy: 0,
      bits: revealed(40, 40, 48, 48),
    });
    // Covered by a 64-px box (cells 32–39), not by a 128-px one (reaches cell 40): only the
    // scene not being the active one keeps the grid change from logging a cover change.
    const rat = await create(t.gm, t.base, "tokens", { name: "Rat", scene_id: other.id, x: 256, y: 256 });
    const inactive = await t.gm.req("PATCH", `${t.base}/scenes/${other.id}`, { grid_size: 128 }, { "if-match": '"1"' });
    expect(inactive.status).toBe(200);
    expect(await tokenLog(t.sid, scout.id)).toMatchObject([{ version: 1, op: "create" }]);
    expect(await tokenLog(t.sid, rat.id)).toMatchObject([{ version: 1, op: "create" }]);
  });
});
