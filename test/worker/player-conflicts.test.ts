/**
 * A player's refused write tells them nothing they may not see: permission comes before the
 * "id exists" and version checks, and a player's 409 carries the entity as players see it.
 */
import { describe, expect, it } from "vitest";
import { create, newTable } from "../helpers/client";

async function table() {
  const t = await newTable();
  const scene = await create(t.gm, t.base, "scenes", { name: "Crypt" });
  await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {});
  const lurker = await create(t.gm, t.base, "tokens", { name: "Lurker", scene_id: scene.id, hidden: true, stats: { gm_notes: "ambush" } });
  const hero = await create(t.gm, t.base, "tokens", {
    name: "Hero",
    scene_id: scene.id,
    owner_user_ids: [t.player.id],
    stats: { gm_notes: "secret past", hp: 10 },
  });
  const ally = await create(t.gm, t.base, "tokens", { name: "Ally", scene_id: scene.id, stats: { gm_notes: "traitor" } });
  return { ...t, scene, lurker, hero, ally };
}

describe("a player's refused writes", () => {
  it("are 403 for a create naming an existing hidden entity's id, by REST and in a batch, without the entity", async () => {
    const t = await table();
    const rest = await t.player.req("POST", `${t.base}/tokens`, { id: t.lurker.id, name: "x" });
    expect(rest.status).toBe(403);
    expect(JSON.stringify(rest.body)).not.toContain("ambush");
    const batch = await t.player.req("POST", `${t.base}/batch`, {
      ops: [{ op_id: crypto.randomUUID(), entity_type: "token", op: "create", id: t.lurker.id, data: { name: "x" } }],
    });
    expect(batch.status).toBe(403);
    expect(JSON.stringify(batch.body)).not.toContain("Lurker");
  });

  it("are 403 before any version check for a token the player does not own", async () => {
    const t = await table();
    const r = await t.player.req("PATCH", `${t.base}/tokens/${t.ally.id}`, { x: 3 }, { "if-match": '"9"' });
    expect(r.status).toBe(403);
    expect(JSON.stringify(r.body)).not.toContain("traitor");
  });

  it("give a player's stale move of their own token the 409 with the token as players see it", async () => {
    const t = await table();
    await t.gm.req("PATCH", `${t.base}/tokens/${t.hero.id}`, { x: 5 }, { "if-match": '"1"' });
    const r = await t.player.req("PATCH", `${t.base}/tokens/${t.hero.id}`, { x: 3 }, { "if-match": '"1"' });
    expect(r.status).toBe(409);
    expect(r.body.error.details.current).toMatchObject({ id: t.hero.id, version: 2, x: 5, stats: { hp: 10 } });
    expect(r.body.error.details.current.stats.gm_notes).toBeUndefined();
  });
});
