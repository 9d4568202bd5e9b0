/**
 * A token that comes into players' view brings what hangs on it: art (and module entities naming
 * it) created or changed while it was hidden never reached players, so it travels with the reveal,
 * live and in `changes?since`.
 */
import { describe, expect, it } from "vitest";
import { create, newTable } from "../helpers/client";
import { makePng } from "../helpers/images";
import { TestSocket } from "../helpers/socket";
import { upload } from "../helpers/uploads";
import { failD1, recover, withLog } from "../helpers/write-log";

async function tableWithHiddenArt() {
  const t = await newTable();
  const scene = await create(t.gm, t.base, "scenes", { name: "Lair" });
  await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {});
  const lurker = await create(t.gm, t.base, "tokens", { name: "Lurker", scene_id: scene.id, hidden: true });
  const face = await upload(t.gm, t.base, await makePng(40, 40), { filename: "face.png", kind: "token" });
  expect(face.status).toBe(201);
  return { ...t, scene, lurker, hash: face.body.asset.hash as string };
}

describe("revealing a token", () => {
  it("sends a player the art made while the token was hidden, with the change that shows it", async () => {
    const t = await tableWithHiddenArt();
    const playerSocket = await TestSocket.open(t.player, t.base);
    const art = await create(t.gm, t.base, "token-art", { token_id: t.lurker.id, image_asset: t.hash });
    const shown = await t.gm.req("PATCH", `${t.base}/tokens/${t.lurker.id}`, { hidden: false }, { "if-match": '"1"' });
    expect(shown.status).toBe(200);

    const reveal = await playerSocket.next((m) => m.type === "change" && m.entity_id === t.lurker.id, "the reveal");
    expect(reveal.entity).toMatchObject({ id: t.lurker.id, hidden: false });
    expect(reveal.related).toEqual([{ entity_type: "token_art", entity: expect.objectContaining({ id: art.id, image_asset: t.hash }) }]);
    // The art's own change, while hidden, never reached the player.
    expect(playerSocket.raw.filter((text) => text.includes(art.id))).toHaveLength(1);
    playerSocket.close();
  });

  it("adds nothing to changes of tokens a player already saw", async () => {
    const t = await tableWithHiddenArt();
    await t.gm.req("PATCH", `${t.base}/tokens/${t.lurker.id}`, { hidden: false }, { "if-match": '"1"' });
    await create(t.gm, t.base, "token-art", { token_id: t.lurker.id, image_asset: t.hash });
    const playerSocket = await TestSocket.open(t.player, t.base);
    await t.gm.req("PATCH", `${t.base}/tokens/${t.lurker.id}`, { x: 3 }, { "if-match": '"2"' });
    const moved = await playerSocket.next((m) => m.type === "change" && m.entity_id === t.lurker.id, "the move");
    expect(moved.related).toBeUndefined();
    playerSocket.close();
  });

  it("answers changes?since with the art of a token shown after that seq, art that changed before it", async () => {
    const t = await tableWithHiddenArt();
    const art = await create(t.gm, t.base, "token-art", { token_id: t.lurker.id, image_asset: t.hash });
    const since = (await t.player.req("GET", `${t.base}/state`)).body.seq;
    await t.gm.req("PATCH", `${t.base}/tokens/${t.lurker.id}`, { hidden: false }, { "if-match": '"1"' });

    const delta = await t.player.req("GET", `${t.base}/changes?since=${since}`);
    expect(delta.status).toBe(200);
    const row = delta.body.changes.find((c: { entity_id: string }) => c.entity_id === t.lurker.id);
    expect(row.related).toEqual([{ entity_type: "token_art", entity: expect.objectContaining({ id: art.id }) }]);
    // A GM saw everything all along: nothing is added for them.
    const gmDelta = await t.gm.req("GET", `${t.base}/changes?since=${since}`);
    expect(gmDelta.body.changes.every((c: { related?: unknown }) => c.related === undefined)).toBe(true);
  });

  it("sends nothing of what hangs on a token a player still cannot see", async () => {
    const t = await tableWithHiddenArt();
    const art = await create(t.gm, t.base, "token-art", { token_id: t.lurker.id, image_asset: t.hash });
    const since = (await t.player.req("GET", `${t.base}/state`)).body.seq;
    await t.gm.req("PATCH", `${t.base}/tokens/${t.lurker.id}`, { name: "Still lurking" }, { "if-match": '"1"' });
    const delta = await t.player.req("GET", `${t.base}/changes?since=${since}`);
    expect(JSON.stringify(delta.body)).not.toContain(art.id);
  });

  it("sends with the reveal the art made while the token was hidden that D1 does not hold yet", async () => {
    const t = await tableWithHiddenArt();
    // D1 refuses the log's commits: both writes stay in the session's write log (their writers get 503).
    await failD1(t.sid);
    await withLog(t.sid, (log) => {
      log.answerTimeoutMs = 100;
    });
    const artId = crypto.randomUUID();
    const made = await t.gm.req("POST", `${t.base}/token-art`, { id: artId, token_id: t.lurker.id, image_asset: t.hash });
    expect(made.status).toBe(503);
    const playerSocket = await TestSocket.open(t.player, t.base);
    const shown = await t.gm.req("PATCH", `${t.base}/tokens/${t.lurker.id}`, { hidden: false }, { "if-match": '"1"' });
    expect(shown.status).toBe(503);
    expect(await withLog(t.sid, (log) => log.size)).toBe(2);

    const reveal = await playerSocket.next((m) => m.type === "change" && m.entity_id === t.lurker.id, "the reveal");
    expect(reveal.related).toEqual([{ entity_type: "token_art", entity: expect.objectContaining({ id: artId, image_asset: t.hash }) }]);
    playerSocket.close();
    expect(await recover(t.sid)).toBe(0);
    const art = await t.gm.req("GET", `${t.base}/token-art/${artId}`);
    expect(art.body).toMatchObject({ id: artId, token_id: t.lurker.id });
  });
});
