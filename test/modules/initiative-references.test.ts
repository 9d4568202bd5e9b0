/**
 * The token of each combatant is a declared reference (`combatants.*.token_id`): a write naming a
 * token that is not in the session is refused, and the integrity job reports one that vanished.
 */
import { env, evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { create, newTable } from "../helpers/client";
import { shardOf } from "../helpers/shards";

async function table() {
  const t = await newTable();
  const scene = await create(t.gm, t.base, "scenes", { name: "Bridge" });
  const hero = await create(t.gm, t.base, "tokens", { name: "Hero", scene_id: scene.id });
  return { ...t, scene, hero };
}

describe("combatants' tokens", () => {
  it("refuses a combatant naming a token of another session, on create and in a patch", async () => {
    const t = await table();
    const other = await table();
    const bad = await t.gm.req("POST", `${t.base}/encounters`, {
      scene_id: t.scene.id,
      combatants: { c1: { name: "Spy", token_id: other.hero.id } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.fields).toEqual([{ field: "combatants.c1.token_id", message: "no such token" }]);

    const ok = await create(t.gm, t.base, "encounters", {
      scene_id: t.scene.id,
      combatants: { c1: { name: "Hero", token_id: t.hero.id } },
    });
    const patch = await t.gm.req(
      "PATCH",
      `${t.base}/encounters/${ok.id}`,
      { combatants: { c2: { name: "Ghost", token_id: "no-such-token" } } },
      { "if-match": '"1"' },
    );
    expect(patch.status).toBe(400);
    expect(patch.body.error.details.fields[0].field).toBe("combatants.c2.token_id");
    // Unchanged combatants are not checked again: with the token row gone behind the save
    // system's back, a patch of another field still applies (a new check would refuse it).
    await (await shardOf(t.sid)).prepare("DELETE FROM tokens WHERE session_id = ? AND id = ?").bind(t.sid, t.hero.id).run();
    // The session object caches what it committed: start it afresh so it reads D1.
    await evictDurableObject(env.SESSION.get(env.SESSION.idFromName(t.sid)));
    const renamed = await t.gm.req("PATCH", `${t.base}/encounters/${ok.id}`, { name: "Ambush" }, { "if-match": '"1"' });
    expect(renamed.status).toBe(200);
    expect(renamed.body.version).toBe(2);
  });

  it("is reported by the integrity job when the token row vanished", async () => {
    const t = await table();
    const encounter = await create(t.gm, t.base, "encounters", {
      scene_id: t.scene.id,
      combatants: { c1: { name: "Hero", token_id: t.hero.id }, c2: { name: "Free entry" } },
    });
    await (await shardOf(t.sid)).prepare("DELETE FROM tokens WHERE session_id = ? AND id = ?").bind(t.sid, t.hero.id).run();
    const r = await t.gm.req("POST", `${t.base}/integrity/check`);
    expect(r.body.findings).toHaveLength(1);
    expect(r.body.findings[0]).toMatchObject({
      kind: "dangling_reference",
      entity_type: "encounter",
      entity_id: encounter.id,
      field: "combatants.c1.token_id",
      detail: { references: "token", missing_id: t.hero.id },
    });
  });
});
