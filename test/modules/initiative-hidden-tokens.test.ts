/**
 * A combatant standing for a token players cannot see is left out of what players receive, even
 * when the combatant itself is not marked hidden (the GM hid the token after it joined the order).
 */
import { describe, expect, it } from "vitest";
import { create, newTable } from "../helpers/client";
import { TestSocket } from "../helpers/socket";

async function table() {
  const t = await newTable();
  const scene = await create(t.gm, t.base, "scenes", { name: "Crypt" });
  const hero = await create(t.gm, t.base, "tokens", { name: "Hero", scene_id: scene.id });
  const lurker = await create(t.gm, t.base, "tokens", { name: "Lurker", scene_id: scene.id });
  await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {});
  const encounter = await create(t.gm, t.base, "encounters", {
    scene_id: scene.id,
    active: true,
    combatants: {
      hero: { name: "Hero", token_id: hero.id, initiative: 15 },
      lurker: { name: "Lurker the assassin", token_id: lurker.id, initiative: 12 },
    },
  });
  return { ...t, scene, hero, lurker, encounter };
}

describe("combatants of hidden tokens", () => {
  it("are left out on every read path once their token is hidden", async () => {
    const t = await table();
    const since = (await t.player.req("GET", `${t.base}/state`)).body.seq;
    await t.gm.req("PATCH", `${t.base}/tokens/${t.lurker.id}`, { hidden: true }, { "if-match": '"1"' });
    await t.gm.req("PATCH", `${t.base}/encounters/${t.encounter.id}`, { round: 1, turn: "hero" }, { "if-match": '"1"' });
    const state = await t.player.req("GET", `${t.base}/state`);
    const list = await t.player.req("GET", `${t.base}/encounters`);
    const one = await t.player.req("GET", `${t.base}/encounters/${t.encounter.id}`);
    const changes = await t.player.req("GET", `${t.base}/changes?since=${since}`);
    const row = changes.body.changes.find((c: { entity_id: string }) => c.entity_id === t.encounter.id);
    for (const seen of [state.body.modules.encounter[0], list.body.items[0], one.body, row.entity]) {
      expect(Object.keys(seen.combatants)).toEqual(["hero"]);
    }
    for (const r of [state, list, one, changes]) expect(JSON.stringify(r.body)).not.toContain("assassin");
    // The GM still sees both.
    const gm = await t.gm.req("GET", `${t.base}/encounters/${t.encounter.id}`);
    expect(Object.keys(gm.body.combatants).sort()).toEqual(["hero", "lurker"]);
  });

  it("are left out of what the socket brings players", async () => {
    const t = await table();
    await t.gm.req("PATCH", `${t.base}/tokens/${t.lurker.id}`, { hidden: true }, { "if-match": '"1"' });
    const socket = await TestSocket.open(t.player, t.base);
    await t.gm.req("PATCH", `${t.base}/encounters/${t.encounter.id}`, { round: 1, turn: "hero" }, { "if-match": '"1"' });
    const change = await socket.next((m) => m.type === "change" && m.entity_id === t.encounter.id, "the turn");
    expect(Object.keys(change.entity.combatants)).toEqual(["hero"]);
    expect(socket.raw.join("\n")).not.toContain("assassin");
    socket.close();
  });
});
