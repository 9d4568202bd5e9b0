import { describe, expect, it } from "vitest";
import { create, newTable, type TestUser } from "../helpers/client";

async function patch(gm: TestUser, url: string, body: Record<string, unknown>, version: number) {
  const r = await gm.req("PATCH", url, body, { "if-match": `"${version}"` });
  if (r.status !== 200) throw new Error(`patch failed: ${JSON.stringify(r.body)}`);
  return r.body;
}

const fields = ({ version: _v, updated_at: _u, updated_by: _b, ...rest }: Record<string, unknown>) => rest;

describe("history", () => {
  it("lists every version newest first with its author, op and diff", async () => {
    const { gm, player, base, sid } = await newTable();
    await gm.req("PUT", `/api/vtt/sessions/${sid}/members/${player.id}`, { role: "gm" });
    const token = await create(gm, base, "tokens", { name: "Hero", stats: { hp: 10 } });
    await patch(gm, `${base}/tokens/${token.id}`, { x: 3 }, 1);
    await patch(player, `${base}/tokens/${token.id}`, { stats: { hp: 4 } }, 2);
    await gm.req("DELETE", `${base}/tokens/${token.id}`);
    const r = await gm.req("GET", `${base}/tokens/${token.id}/history`);
    expect(r.status).toBe(200);
    expect(r.body.items.map((i: any) => [i.version, i.op, i.updated_by])).toEqual([
      [4, "archive", gm.id],
      [3, "update", player.id],
      [2, "update", gm.id],
      [1, "create", gm.id],
    ]);
    expect(r.body.items[1].diff).toMatchObject({ stats: { hp: 4 }, version: 3 });
    expect(r.body.items[3].diff).toMatchObject({ name: "Hero", version: 1 });
    const seqs = r.body.items.map((i: any) => i.seq);
    expect([...seqs].sort((a, b) => b - a)).toEqual(seqs);
  });

  it("is for GMs only and 404 for unknown entities", async () => {
    const { gm, player, base } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "A" });
    expect((await player.req("GET", `${base}/scenes/${scene.id}/history`)).status).toBe(403);
    expect((await gm.req("GET", `${base}/scenes/nope/history`)).status).toBe(404);
  });
});

describe("revert", () => {
  it("brings version 2 back as version 8 of an entity at version 7", async () => {
    const { gm, base } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero", stats: { hp: 10 } });
    const v2 = await patch(gm, `${base}/tokens/${token.id}`, { x: 1, stats: { ac: 12 } }, 1);
    await patch(gm, `${base}/tokens/${token.id}`, { x: 2, stats: { hp: null, mp: 3 } }, 2);
    await patch(gm, `${base}/tokens/${token.id}`, { name: "Villain", school: "fire" }, 3);
    await patch(gm, `${base}/tokens/${token.id}`, { y: 7 }, 4);
    await patch(gm, `${base}/tokens/${token.id}`, { hidden: true }, 5);
    await patch(gm, `${base}/tokens/${token.id}`, { width: 2 }, 6);
    const r = await gm.req("POST", `${base}/tokens/${token.id}/revert`, { version: 2, base_version: 7 });
    expect(r.status).toBe(200);
    expect(r.body.version).toBe(8);
    expect(fields(r.body)).toEqual(fields(v2));
    const stored = await gm.req("GET", `${base}/tokens/${token.id}`);
    expect(fields(stored.body)).toEqual(fields(v2));
    const history = await gm.req("GET", `${base}/tokens/${token.id}/history`);
    expect(history.body.items).toHaveLength(8);
    expect(history.body.items[0]).toMatchObject({ version: 8, op: "update" });
  });

  it("brings back an archived entity's earlier live version", async () => {
    const { gm, base } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "Crypt" });
    await patch(gm, `${base}/scenes/${scene.id}`, { name: "Ruined crypt" }, 1);
    await gm.req("DELETE", `${base}/scenes/${scene.id}`);
    const r = await gm.req("POST", `${base}/scenes/${scene.id}/revert`, { version: 1, base_version: 3 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ version: 4, name: "Crypt", archived_at: null });
    const history = await gm.req("GET", `${base}/scenes/${scene.id}/history`);
    expect(history.body.items[0]).toMatchObject({ version: 4, op: "restore" });
  });

  it("answers 409 when base_version is stale", async () => {
    const { gm, base } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "A" });
    await patch(gm, `${base}/scenes/${scene.id}`, { name: "B" }, 1);
    const r = await gm.req("POST", `${base}/scenes/${scene.id}/revert`, { version: 1, base_version: 1 });
    expect(r.status).toBe(409);
    expect(r.body.error.details.current.version).toBe(2);
  });

  it("answers 404 for a version the entity never had, 400 for a bad body, 403 for a player", async () => {
    const { gm, player, base } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "A" });
    expect((await gm.req("POST", `${base}/scenes/${scene.id}/revert`, { version: 5, base_version: 1 })).status).toBe(404);
    expect((await gm.req("POST", `${base}/scenes/${scene.id}/revert`, { version: "1" })).status).toBe(400);
    expect((await player.req("POST", `${base}/scenes/${scene.id}/revert`, { version: 1, base_version: 1 })).status).toBe(403);
  });
});
