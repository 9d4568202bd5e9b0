/**
 * Fog on the wire: a token wholly under the active scene's fog is not sent to players (state,
 * changes, lists, GET, socket), except to its owners; a fog write that reveals it brings it (and
 * its art) into view, one that covers it takes it out, as does moving under fog.
 */
import { describe, expect, it } from "vitest";
import { chunkId, fogIdFor } from "../../modules/fog/ids";
import { CELLS_PER_CHUNK, CHUNK_CELLS, encodeChunk } from "../../modules/fog/mask";
import { create, newTable, TestUser } from "../helpers/client";
import { makePng } from "../helpers/images";
import { TestSocket } from "../helpers/socket";
import { upload } from "../helpers/uploads";

/** A chunk with the cells of [c0, c1) × [r0, r1) revealed. */
function revealed(c0: number, r0: number, c1: number, r1: number): string {
  const cells = new Uint8Array(CELLS_PER_CHUNK);
  for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) cells[r * CHUNK_CELLS + c] = 1;
  return encodeChunk(cells);
}

const ALL_HIDDEN = encodeChunk(new Uint8Array(CELLS_PER_CHUNK));

/**
 * A scene under fog (8 px cells, 512 px: one chunk, all hidden) with the player's Hero at (0, 0),
 * a GM's Ghoul with art at (128, 128) (cells 16–23) and a Lamp at (320, 320) in a revealed square.
 */
async function foggedTable() {
  const t = await newTable();
  const other = await TestUser.register("pl2");
  const invite = (await t.gm.req("GET", t.base)).body.invite_code;
  expect((await other.req("POST", "/api/vtt/sessions/join", { invite_code: invite })).status).toBe(200);
  const scene = await create(t.gm, t.base, "scenes", { name: "Mines" });
  await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {});
  const activatedAt: number = (await t.gm.req("GET", `${t.base}/state`)).body.seq;
  const fog = await create(t.gm, t.base, "fog", { id: fogIdFor(scene.id), scene_id: scene.id, cell_px: 8, width_px: 512, height_px: 512 });
  const chunk = await create(t.gm, t.base, "fog-chunks", {
    id: chunkId(fog.id, 0, 0),
    scene_id: scene.id,
    fog_id: fog.id,
    cx: 0,
    cy: 0,
    bits: revealed(40, 40, 48, 48),
  });
  const hero = await create(t.gm, t.base, "tokens", { name: "Hero", scene_id: scene.id, owner_user_ids: [t.player.id], x: 0, y: 0 });
  const ghoul = await create(t.gm, t.base, "tokens", { name: "Ghoul", scene_id: scene.id, x: 128, y: 128 });
  const lamp = await create(t.gm, t.base, "tokens", { name: "Lamp", scene_id: scene.id, x: 320, y: 320 });
  const face = await upload(t.gm, t.base, await makePng(30, 30), { filename: "ghoul.png", kind: "token" });
  const art = await create(t.gm, t.base, "token-art", { token_id: ghoul.id, image_asset: face.body.asset.hash });
  return { ...t, other, scene, activatedAt, fog, chunk, hero, ghoul, lamp, art, artHash: face.body.asset.hash as string };
}

const ids = (items: { id: string }[]) => items.map((i) => i.id).sort();

describe("tokens under fog", () => {
  it("are absent from a player's state, list and GET, present for the GM; a player's own token stays theirs", async () => {
    const t = await foggedTable();
    const state = await t.player.req("GET", `${t.base}/state`);
    expect(ids(state.body.tokens)).toEqual(ids([t.hero, t.lamp]));
    expect(state.body.token_art).toEqual([]);
    expect(JSON.stringify(state.body)).not.toContain("Ghoul");
    const otherState = await t.other.req("GET", `${t.base}/state`);
    expect(ids(otherState.body.tokens)).toEqual([t.lamp.id]);
    const gmState = await t.gm.req("GET", `${t.base}/state`);
    expect(ids(gmState.body.tokens)).toEqual(ids([t.hero, t.ghoul, t.lamp]));

    expect(ids((await t.player.req("GET", `${t.base}/tokens`)).body.items)).toEqual(ids([t.hero, t.lamp]));
    expect((await t.player.req("GET", `${t.base}/tokens/${t.ghoul.id}`)).status).toBe(404);
    expect((await t.player.req("GET", `${t.base}/token-art/${t.art.id}`)).status).toBe(404);
    expect((await t.player.req("GET", `${t.base}/assets/${t.artHash}`)).status).toBe(404);
    expect((await t.player.req("GET", `${t.base}/tokens/${t.hero.id}`)).status).toBe(200);
    expect((await t.other.req("GET", `${t.base}/tokens/${t.hero.id}`)).status).toBe(404);
    expect((await t.gm.req("GET", `${t.base}/tokens/${t.ghoul.id}`)).status).toBe(200);
  });

  it("are absent from a player's changes?since", async () => {
    const t = await foggedTable();
    const delta = await t.player.req("GET", `${t.base}/changes?since=${t.activatedAt}`);
    expect(delta.status).toBe(200);
    expect(delta.body.reload).toBeUndefined();
    const tokenRows = delta.body.changes.filter((c: { entity_type: string }) => c.entity_type === "token");
    expect(ids(tokenRows.map((r: { entity_id: string }) => ({ id: r.entity_id })))).toEqual(ids([t.hero, t.lamp]));
    expect(JSON.stringify(delta.body)).not.toContain("Ghoul");
    expect(JSON.stringify(delta.body)).not.toContain(t.ghoul.id);
  });

  it("never reach a player's socket, while the GM gets them and the owner gets their own moves", async () => {
    const t = await foggedTable();
    const player = await TestSocket.open(t.player, t.base);
    const other = await TestSocket.open(t.other, t.base);
    const gm = await TestSocket.open(t.gm, t.base);
    await t.gm.req("PATCH", `${t.base}/tokens/${t.ghoul.id}`, { x: 136, stats: { hp: 3 } }, { "if-match": '"1"' });
    const moved = await t.player.req("PATCH", `${t.base}/tokens/${t.hero.id}`, { x: 8 }, { "if-match": '"1"' });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ id: t.hero.id, x: 8 });
    await t.gm.req("PATCH", `${t.base}/tokens/${t.lamp.id}`, { rotation: 90 }, { "if-match": '"1"' });
    await gm.next((m) => m.type === "change" && m.entity_id === t.ghoul.id, "the GM's ghoul change");
    await player.next((m) => m.type === "change" && m.entity_id === t.hero.id && m.entity?.x === 8, "the owner's own move");
    await player.next((m) => m.type === "change" && m.entity_id === t.lamp.id, "the lamp");
    await other.next((m) => m.type === "change" && m.entity_id === t.lamp.id, "the lamp");
    expect(player.raw.filter((text) => text.includes(t.ghoul.id))).toEqual([]);
    expect(other.raw.filter((text) => text.includes(t.ghoul.id) || text.includes(t.hero.id))).toEqual([]);
    for (const s of [player, other, gm]) s.close();
  });

  it("come into view with their art when a fog write reveals them, on the socket and in changes?since", async () => {
    const t = await foggedTable();
    const since = (await t.player.req("GET", `${t.base}/state`)).body.seq;
    const player = await TestSocket.open(t.player, t.base);
    const reveal = await t.gm.req("PATCH", `${t.base}/fog-chunks/${t.chunk.id}`, { bits: revealed(16, 16, 20, 20) }, { "if-match": '"1"' });
    expect(reveal.status).toBe(200);

    const shown = await player.next((m) => m.type === "change" && m.entity_id === t.ghoul.id, "the ghoul coming into view");
    expect(shown.entity).toMatchObject({ id: t.ghoul.id, name: "Ghoul", version: 1 });
    expect(shown.related).toEqual([
      { entity_type: "token_art", entity: expect.objectContaining({ id: t.art.id, image_asset: t.artHash }) },
    ]);
    // The lamp left the view: its square is fogged again.
    const gone = await player.next((m) => m.type === "change" && m.entity_id === t.lamp.id, "the lamp leaving");
    expect(gone).toMatchObject({ removed: true });
    expect(gone.entity).toBeUndefined();
    player.close();

    const delta = await t.player.req("GET", `${t.base}/changes?since=${since}`);
    const row = delta.body.changes.find((c: { entity_id: string }) => c.entity_id === t.ghoul.id);
    expect(row.entity).toMatchObject({ id: t.ghoul.id, version: 1 });
    expect(row.related).toEqual([{ entity_type: "token_art", entity: expect.objectContaining({ id: t.art.id }) }]);
    const lampRow = delta.body.changes.find((c: { entity_id: string }) => c.entity_id === t.lamp.id);
    expect(lampRow).toMatchObject({ removed: true });
    expect((await t.player.req("GET", `${t.base}/tokens/${t.ghoul.id}`)).status).toBe(200);
    expect((await t.player.req("GET", `${t.base}/assets/${t.artHash}`)).status).toBe(200);
    // The tokens themselves did not change: same version, their rows not rewritten.
    expect((await t.gm.req("GET", `${t.base}/tokens/${t.ghoul.id}`)).body.version).toBe(1);
  });

  it("leave a player's view when the fog covers them again or they move under it, but never their owner's", async () => {
    const t = await foggedTable();
    const player = await TestSocket.open(t.player, t.base);
    const other = await TestSocket.open(t.other, t.base);
    // The lamp walks from its revealed square into the fog.
    await t.gm.req("PATCH", `${t.base}/tokens/${t.lamp.id}`, { x: 0, y: 256 }, { "if-match": '"1"' });
    const left = await other.next((m) => m.type === "change" && m.entity_id === t.lamp.id, "the lamp leaving");
    expect(left).toMatchObject({ removed: true, version: 2 });
    expect(left.entity).toBeUndefined();
    // Hide all: the hero is covered for others, never for its owner.
    await t.gm.req("PATCH", `${t.base}/tokens/${t.hero.id}`, { x: 320, y: 320 }, { "if-match": '"1"' });
    const heroShown = await other.next((m) => m.type === "change" && m.entity_id === t.hero.id, "the hero in the revealed square");
    expect(heroShown.entity).toMatchObject({ id: t.hero.id, x: 320 });
    await t.gm.req("PATCH", `${t.base}/fog-chunks/${t.chunk.id}`, { bits: ALL_HIDDEN }, { "if-match": '"1"' });
    const heroGone = await other.next((m) => m.type === "change" && m.entity_id === t.hero.id, "the hero covered");
    expect(heroGone).toMatchObject({ removed: true });
    const own = await player.next(
      (m) => m.type === "change" && m.entity_id === t.hero.id && m.version === 2 && m.seq > heroShown.seq,
      "the owner's view",
    );
    expect(own.removed).toBeUndefined();
    expect(player.raw.some((text) => text.includes(t.hero.id) && text.includes('"removed":true'))).toBe(false);
    const state = await t.other.req("GET", `${t.base}/state`);
    expect(state.body.tokens).toEqual([]);
    for (const s of [player, other]) s.close();
  });

  it("are all shown when the fog is turned off", async () => {
    const t = await foggedTable();
    expect(ids((await t.other.req("GET", `${t.base}/state`)).body.tokens)).toEqual([t.lamp.id]);
    const other = await TestSocket.open(t.other, t.base);
    await t.gm.req("PATCH", `${t.base}/fog/${t.fog.id}`, { enabled: false }, { "if-match": '"1"' });
    const shown = await other.next((m) => m.type === "change" && m.entity_id === t.ghoul.id, "the ghoul shown");
    expect(shown.related).toEqual([{ entity_type: "token_art", entity: expect.objectContaining({ id: t.art.id }) }]);
    other.close();
    const state = await t.other.req("GET", `${t.base}/state`);
    expect(ids(state.body.tokens)).toEqual(ids([t.hero, t.ghoul, t.lamp]));
  });

  it("are not relayed to players while a GM drags them, nor dragged into the fog", async () => {
    const t = await foggedTable();
    const gm = await TestSocket.open(t.gm, t.base);
    const other = await TestSocket.open(t.other, t.base);
    gm.send({ type: "preview", entity_id: t.ghoul.id, x: 140, y: 140 });
    gm.send({ type: "preview", entity_id: t.lamp.id, x: 0, y: 200 });
    gm.send({ type: "preview", entity_id: t.lamp.id, x: 324, y: 324 });
    const seen = await other.next((m) => m.type === "preview", "a preview");
    expect(seen).toMatchObject({ entity_id: t.lamp.id, x: 324, y: 324 });
    expect(other.all("preview")).toHaveLength(1);
    expect(other.raw.filter((text) => text.includes(t.ghoul.id))).toEqual([]);
    for (const s of [gm, other]) s.close();
  });
});
