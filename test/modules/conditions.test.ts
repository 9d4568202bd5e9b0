import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hasExpired, iconOf, labelOf } from "../../modules/conditions/domain";
import { create, newTable, ORIGIN, type Reply, type TestUser } from "../helpers/client";
import { runCron } from "../helpers/jobs";
import { TestSocket } from "../helpers/socket";

function expectError(r: Reply, status: number, code: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body?.error?.code).toBe(code);
}

const next = (user: TestUser, base: string, id: string) => user.req("POST", `${base}/modules/initiative/encounters/${id}/next`, {});
const ids = (items: { id: string }[]) => items.map((i) => i.id).sort();

/**
 * A table with an active scene, a visible token (Hero) and a hidden one (Lurker), and a running
 * encounter of two on it.
 */
async function conditionTable() {
  const t = await newTable();
  const scene = await create(t.gm, t.base, "scenes", { name: "Crypt" });
  const hero = await create(t.gm, t.base, "tokens", { name: "Hero", scene_id: scene.id });
  const lurker = await create(t.gm, t.base, "tokens", { name: "Lurker", scene_id: scene.id, hidden: true });
  await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {});
  const encounter = await create(t.gm, t.base, "encounters", {
    scene_id: scene.id,
    active: true,
    combatants: { hero: { name: "Hero", token_id: hero.id, initiative: 15 }, orc: { name: "Orc", initiative: 12 } },
  });
  return { ...t, scene, hero, lurker, encounter };
}

describe("condition rules", () => {
  it.each([
    [null, 99, false],
    [3, 2, false],
    [3, 3, true],
    [3, 4, true],
  ] as const)("until round %s has expired at round %s: %s", (until, round, expired) => {
    expect(hasExpired({ until_round: until }, round)).toBe(expired);
  });

  it("shows the kind's icon and name unless the condition has its own", () => {
    expect(iconOf({ kind: "prone", icon: "" })).toBe("🛌");
    expect(iconOf({ kind: "custom", icon: "🔥" })).toBe("🔥");
    expect(labelOf({ kind: "prone", label: "" })).toBe("Prone");
    expect(labelOf({ kind: "custom", label: "Burning" })).toBe("Burning");
  });
});

describe("conditions as entities", () => {
  it("creates a condition with its defaults at version 1 and patches it with If-Match", async () => {
    const { gm, base, hero } = await conditionTable();
    const condition = await create(gm, base, "conditions", { token_id: hero.id, kind: "prone" });
    expect(condition).toMatchObject({
      version: 1,
      kind: "prone",
      label: "",
      icon: "",
      encounter_id: null,
      until_round: null,
      hidden: false,
    });
    expectError(await gm.req("PATCH", `${base}/conditions/${condition.id}`, { icon: "🪨" }), 428, "precondition_required");
    const r = await gm.req("PATCH", `${base}/conditions/${condition.id}`, { icon: "🪨" }, { "if-match": '"1"' });
    expect(r.body).toMatchObject({ version: 2, icon: "🪨" });
    const stale = await gm.req("PATCH", `${base}/conditions/${condition.id}`, { icon: "x" }, { "if-match": '"1"' });
    expectError(stale, 409, "conflict");
    expect(stale.body.error.details.current).toMatchObject({ version: 2, icon: "🪨" });
  });

  it.each([
    ["a custom condition without a label", { kind: "custom" }, "label"],
    ["a custom condition with a blank label", { kind: "custom", label: "   " }, "label"],
    ["a duration without the encounter that counts it", { kind: "stunned", until_round: 3 }, "until_round"],
    ["an unknown kind", { kind: "sleepy" }, "kind"],
    ["a label over 40 characters", { kind: "custom", label: "x".repeat(41) }, "label"],
    ["an icon over 16 characters", { kind: "prone", icon: "x".repeat(17) }, "icon"],
    ["a round below 1", { kind: "prone", until_round: 0, encounter_id: "ENCOUNTER" }, "until_round"],
    ["an unknown field", { kind: "prone", colour: "red" }, "colour"],
  ])("refuses %s with 400 naming the field", async (_name, data, field) => {
    const { gm, base, hero, encounter } = await conditionTable();
    const body = { token_id: hero.id, ...data, ...("encounter_id" in data ? { encounter_id: encounter.id } : {}) };
    const r = await gm.req("POST", `${base}/conditions`, body);
    expectError(r, 400, "bad_request");
    expect(r.body.error.details.fields.map((f: { field: string }) => f.field)).toContain(field);
  });

  it("refuses a patch that would leave a duration without its encounter", async () => {
    const { gm, base, hero, encounter } = await conditionTable();
    const timed = await create(gm, base, "conditions", { token_id: hero.id, kind: "stunned", encounter_id: encounter.id, until_round: 2 });
    const r = await gm.req("PATCH", `${base}/conditions/${timed.id}`, { encounter_id: null }, { "if-match": '"1"' });
    expectError(r, 400, "bad_request");
    expect(r.body.error.details.fields).toEqual([expect.objectContaining({ field: "until_round" })]);
  });

  it("refuses a token of another session, an unknown or archived token and an unknown encounter with 400", async () => {
    const { gm, base, scene } = await conditionTable();
    const other = await newTable();
    const foreign = await create(other.gm, other.base, "tokens", { name: "Stranger" });
    const gone = await create(gm, base, "tokens", { name: "Gone", scene_id: scene.id });
    await gm.req("DELETE", `${base}/tokens/${gone.id}`);
    for (const tokenId of [foreign.id, "no-such-token", gone.id]) {
      const r = await gm.req("POST", `${base}/conditions`, { token_id: tokenId, kind: "prone" });
      expectError(r, 400, "bad_request");
      expect(r.body.error.details.fields).toEqual([expect.objectContaining({ field: "token_id" })]);
    }
    const live = await create(gm, base, "tokens", { name: "Live", scene_id: scene.id });
    const r = await gm.req("POST", `${base}/conditions`, { token_id: live.id, kind: "prone", encounter_id: "no-such", until_round: 2 });
    expectError(r, 400, "bad_request");
    expect(r.body.error.details.fields).toEqual([{ field: "encounter_id", message: "no such encounter" }]);
  });

  it("lets players neither add, change nor remove conditions, even on their own token", async () => {
    const { gm, player, base, scene } = await conditionTable();
    const mine = await create(gm, base, "tokens", { name: "Mine", scene_id: scene.id, owner_user_ids: [player.id] });
    expectError(await player.req("POST", `${base}/conditions`, { token_id: mine.id, kind: "prone" }), 403, "forbidden");
    const condition = await create(gm, base, "conditions", { token_id: mine.id, kind: "prone" });
    expectError(
      await player.req("PATCH", `${base}/conditions/${condition.id}`, { kind: "stunned" }, { "if-match": '"1"' }),
      403,
      "forbidden",
    );
    expectError(await player.req("DELETE", `${base}/conditions/${condition.id}`), 403, "forbidden");
    expect((await gm.req("GET", `${base}/conditions/${condition.id}`)).body.version).toBe(1);
  });
});

describe("what players see of conditions", () => {
  it("shows players the conditions of visible tokens, never hidden ones nor those of hidden tokens, on every read path", async () => {
    const { gm, player, base, hero, lurker } = await conditionTable();
    const since = (await player.req("GET", `${base}/state`)).body.seq;
    const shown = await create(gm, base, "conditions", { token_id: hero.id, kind: "prone" });
    const secret = await create(gm, base, "conditions", { token_id: hero.id, kind: "custom", label: "Marked for death", hidden: true });
    const lurking = await create(gm, base, "conditions", { token_id: lurker.id, kind: "custom", label: "Invisible stalker" });

    expect(ids((await player.req("GET", `${base}/state`)).body.modules.condition)).toEqual([shown.id]);
    expect(ids((await player.req("GET", `${base}/conditions`)).body.items)).toEqual([shown.id]);
    expect((await player.req("GET", `${base}/conditions/${shown.id}`)).status).toBe(200);
    expectError(await player.req("GET", `${base}/conditions/${secret.id}`), 404, "not_found");
    expectError(await player.req("GET", `${base}/conditions/${lurking.id}`), 404, "not_found");
    const changes = await player.req("GET", `${base}/changes?since=${since}`);
    expect(changes.body.changes.map((c: { entity_id: string }) => c.entity_id)).toEqual([shown.id]);
    for (const r of [await player.req("GET", `${base}/state`), changes]) {
      expect(JSON.stringify(r.body)).not.toMatch(/Marked for death|Invisible stalker/);
    }
    expect(ids((await gm.req("GET", `${base}/state`)).body.modules.condition)).toEqual(ids([shown, secret, lurking]));
  });

  it("broadcasts conditions of visible tokens to players, and a condition that becomes hidden as a removal", async () => {
    const { gm, player, base, hero, lurker } = await conditionTable();
    const gmSocket = await TestSocket.open(gm, base);
    const playerSocket = await TestSocket.open(player, base);
    await create(gm, base, "conditions", { token_id: lurker.id, kind: "custom", label: "Invisible stalker" });
    await create(gm, base, "conditions", { token_id: hero.id, kind: "custom", label: "Marked for death", hidden: true });
    const shown = await create(gm, base, "conditions", { token_id: hero.id, kind: "prone" });
    const arrived = await playerSocket.next((m) => m.type === "change" && m.entity_type === "condition", "a condition");
    expect(arrived).toMatchObject({ entity_id: shown.id, op: "create", entity: { kind: "prone", token_id: hero.id } });

    await gm.req("PATCH", `${base}/conditions/${shown.id}`, { hidden: true }, { "if-match": '"1"' });
    const removal = await playerSocket.next((m) => m.type === "change" && m.entity_id === shown.id, "the removal");
    expect(removal).toMatchObject({ version: 2, removed: true });
    await gmSocket.next((m) => m.type === "change" && m.entity_id === shown.id && m.version === 2, "the GM's copy");
    expect(gmSocket.raw.join("\n")).toMatch(/Invisible stalker[\s\S]*Marked for death/);
    expect(playerSocket.raw.join("\n")).not.toMatch(/Invisible stalker|Marked for death/);
    gmSocket.close();
    playerSocket.close();
  });

  it("removes a token that becomes hidden from players' view; its conditions get no message of their own but leave every read", async () => {
    const { gm, player, base, scene, hero } = await conditionTable();
    const condition = await create(gm, base, "conditions", { token_id: hero.id, kind: "poisoned" });
    const playerSocket = await TestSocket.open(player, base);
    const since = (await player.req("GET", `${base}/state`)).body.seq;
    await gm.req("PATCH", `${base}/tokens/${hero.id}`, { hidden: true }, { "if-match": '"1"' });
    const removal = await playerSocket.next((m) => m.type === "change" && m.entity_id === hero.id, "the token's removal");
    expect(removal).toMatchObject({ entity_type: "token", removed: true });
    // The core sends only what changed: the condition did not, so no removal of it is sent, by
    // socket or by changes?since. The web app draws badges on the tokens it has, so it vanishes
    // with its token; every read from now on leaves it out.
    const sentinel = await create(gm, base, "conditions", { token_id: hero.id, kind: "prone" });
    const visibleToken = await create(gm, base, "tokens", { name: "Sentinel", scene_id: scene.id });
    await playerSocket.next((m) => m.type === "change" && m.entity_id === visibleToken.id, "the sentinel token");
    expect(playerSocket.all("change").some((m) => m.entity_id === condition.id || m.entity_id === sentinel.id)).toBe(false);
    const changes = await player.req("GET", `${base}/changes?since=${since}`);
    expect(changes.body.changes.map((c: { entity_id: string }) => c.entity_id)).toEqual([hero.id, visibleToken.id]);
    expect(changes.body.changes[0].removed).toBe(true);
    expect((await player.req("GET", `${base}/state`)).body.modules.condition).toEqual([]);
    expectError(await player.req("GET", `${base}/conditions/${condition.id}`), 404, "not_found");

    // Shown again: the token comes back to players; its conditions come with the next state load.
    await gm.req("PATCH", `${base}/tokens/${hero.id}`, { hidden: false }, { "if-match": '"2"' });
    await playerSocket.next((m) => m.type === "change" && m.entity_id === hero.id && m.entity, "the token again");
    expect(ids((await player.req("GET", `${base}/state`)).body.modules.condition)).toEqual(ids([condition, sentinel]));
    playerSocket.close();
  });
});

describe("conditions that run out with the rounds of an encounter", () => {
  it("archives the conditions whose round is reached in the same batch as the turn that begins it", async () => {
    const { gm, player, base, scene, hero, lurker, encounter } = await conditionTable();
    const other = await create(gm, base, "encounters", { scene_id: scene.id, combatants: { x: { name: "X" } } });
    const endsRound2 = await create(gm, base, "conditions", {
      token_id: hero.id,
      kind: "stunned",
      encounter_id: encounter.id,
      until_round: 2,
    });
    const hiddenEndsRound2 = await create(gm, base, "conditions", {
      token_id: lurker.id,
      kind: "custom",
      label: "Shrouded",
      encounter_id: encounter.id,
      until_round: 2,
    });
    const endsRound3 = await create(gm, base, "conditions", {
      token_id: hero.id,
      kind: "prone",
      encounter_id: encounter.id,
      until_round: 3,
    });
    const otherEncounter = await create(gm, base, "conditions", {
      token_id: hero.id,
      kind: "charmed",
      encounter_id: other.id,
      until_round: 2,
    });
    const lasting = await create(gm, base, "conditions", { token_id: hero.id, kind: "poisoned" });
    const gmSocket = await TestSocket.open(gm, base);
    const playerSocket = await TestSocket.open(player, base);

    // Round 1 (hero, orc): nothing has run out yet.
    const first = await next(gm, base, encounter.id);
    expect(first.body).toMatchObject({ encounter: { round: 1, turn: "hero" }, effects: [] });
    await next(gm, base, encounter.id);
    // Round 2 begins.
    const r = await next(gm, base, encounter.id);
    expect(r.status).toBe(200);
    expect(r.body.encounter).toMatchObject({ round: 2, turn: "hero" });
    expect(r.body.effects).toHaveLength(2);
    expect(r.body.effects).toEqual(
      expect.arrayContaining([
        { entity_type: "condition", id: endsRound2.id, op: "archive", version: 2 },
        { entity_type: "condition", id: hiddenEndsRound2.id, op: "archive", version: 2 },
      ]),
    );
    const turnSeq = r.body.seq - 2;

    const live = ids((await gm.req("GET", `${base}/conditions`)).body.items);
    expect(live).toEqual(ids([endsRound3, otherEncounter, lasting]));
    const archived = (await gm.req("GET", `${base}/conditions?archived=true`)).body.items;
    expect(ids(archived)).toEqual(ids([endsRound2, hiddenEndsRound2]));

    // One batch: the turn, then the archives, at consecutive seqs; players get the turn and the
    // removal of the condition they saw, nothing of the hidden token's.
    const gmChanges = (await gm.req("GET", `${base}/changes?since=${turnSeq - 1}`)).body.changes;
    expect(gmChanges.map((c: { seq: number; entity_type: string; op: string }) => [c.seq, c.entity_type, c.op])).toEqual([
      [turnSeq, "encounter", "update"],
      [turnSeq + 1, "condition", "archive"],
      [turnSeq + 2, "condition", "archive"],
    ]);
    const turn = await playerSocket.next((m) => m.type === "change" && m.seq === turnSeq, "the turn");
    expect(turn).toMatchObject({ entity_type: "encounter", entity: { round: 2 } });
    const expired = await playerSocket.next((m) => m.type === "change" && m.entity_type === "condition", "the expiry");
    expect(expired).toMatchObject({ entity_id: endsRound2.id, op: "archive", removed: true });
    expect(expired.seq).toBeGreaterThan(turnSeq);
    await gmSocket.next((m) => m.type === "change" && m.seq === turnSeq + 2, "the GM's last change");
    expect(playerSocket.raw.join("\n")).not.toContain(hiddenEndsRound2.id);
    expect(ids((await player.req("GET", `${base}/state`)).body.modules.condition)).toEqual(ids([endsRound3, otherEncounter, lasting]));

    // Going back does not bring them back.
    const back = await gm.req("POST", `${base}/modules/initiative/encounters/${encounter.id}/previous`, {});
    expect(back.body).toMatchObject({ encounter: { round: 1, turn: "orc" }, effects: [] });
    expect(ids((await gm.req("GET", `${base}/conditions`)).body.items)).toEqual(ids([endsRound3, otherEncounter, lasting]));
    gmSocket.close();
    playerSocket.close();
  });

  it("expires a condition already past its round at the next round, and leaves it when moving within a round", async () => {
    const { gm, base, hero, encounter } = await conditionTable();
    await next(gm, base, encounter.id);
    const late = await create(gm, base, "conditions", { token_id: hero.id, kind: "prone", encounter_id: encounter.id, until_round: 1 });
    expect((await next(gm, base, encounter.id)).body.effects).toEqual([]);
    expect((await gm.req("GET", `${base}/conditions/${late.id}`)).body.archived_at).toBeNull();
    const r = await next(gm, base, encounter.id);
    expect(r.body.effects).toEqual([{ entity_type: "condition", id: late.id, op: "archive", version: 2 }]);
  });
});

describe("scene bundles and backups", () => {
  async function exportScene(gm: TestUser, base: string, sceneId: string) {
    const res = await SELF.fetch(`${ORIGIN}${base}/scenes/${sceneId}/export`, { headers: { cookie: gm.cookie } });
    expect(res.status).toBe(200);
    return new Uint8Array(await res.arrayBuffer());
  }

  async function importZip(gm: TestUser, base: string, zip: Uint8Array) {
    const res = await SELF.fetch(`${ORIGIN}${base}/import`, {
      method: "POST",
      headers: { cookie: gm.cookie, "x-csrf-token": gm.csrf, "content-type": "application/zip" },
      body: zip,
    });
    return { status: res.status, body: (await res.json()) as any };
  }

  it("carries a scene's encounters and its tokens' conditions into an import, with new ids and references", async () => {
    const source = await conditionTable();
    const { gm, base, scene, hero, lurker, encounter } = source;
    const timed = await create(gm, base, "conditions", { token_id: hero.id, kind: "stunned", encounter_id: encounter.id, until_round: 4 });
    const secret = await create(gm, base, "conditions", {
      token_id: lurker.id,
      kind: "custom",
      label: "Shrouded",
      icon: "🌫️",
      hidden: true,
    });
    const elsewhere = await create(gm, base, "scenes", { name: "Tower" });
    const guard = await create(gm, base, "tokens", { name: "Guard", scene_id: elsewhere.id });
    await create(gm, base, "conditions", { token_id: guard.id, kind: "prone" });

    const target = await newTable();
    const r = await importZip(target.gm, target.base, await exportScene(gm, base, scene.id));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const newScene = r.body.scene.id;
    const tokens = (await target.gm.req("GET", `${target.base}/tokens`)).body.items;
    const byName = new Map(tokens.map((t: { name: string; id: string }) => [t.name, t.id]));
    const encounters = (await target.gm.req("GET", `${target.base}/encounters?scene_id=${newScene}`)).body.items;
    expect(encounters).toHaveLength(1);
    const copy = encounters[0];
    expect(copy.id).not.toBe(encounter.id);
    expect(copy).toMatchObject({ scene_id: newScene, active: true, combatants: { orc: { name: "Orc" } } });
    // The token of each combatant is a declared reference (combatants.*.token_id): it follows the import.
    expect(copy.combatants.hero.token_id).toBe(byName.get("Hero"));

    const conditions = (await target.gm.req("GET", `${target.base}/conditions`)).body.items;
    expect(conditions).toHaveLength(2);
    const stunned = conditions.find((c: { kind: string }) => c.kind === "stunned");
    expect(stunned).toMatchObject({ token_id: byName.get("Hero"), encounter_id: copy.id, until_round: 4, version: 1 });
    const shrouded = conditions.find((c: { kind: string }) => c.kind === "custom");
    expect(shrouded).toMatchObject({ token_id: byName.get("Lurker"), label: "Shrouded", icon: "🌫️", hidden: true });
    for (const c of conditions) expect([timed.id, secret.id]).not.toContain(c.id);

    // The copy's timed condition runs out with the copy's encounter.
    for (let i = 0; i < 7; i++) await next(target.gm, target.base, copy.id);
    expect((await target.gm.req("GET", `${target.base}/conditions/${stunned.id}`)).body.archived_at).not.toBeNull();
  });

  it("fails an import as a whole when a timed condition counts the rounds of another scene's encounter (a known limit)", async () => {
    const { gm, base, scene, hero } = await conditionTable();
    const tower = await create(gm, base, "scenes", { name: "Tower" });
    const elsewhere = await create(gm, base, "encounters", { scene_id: tower.id });
    await create(gm, base, "conditions", { token_id: hero.id, kind: "stunned", encounter_id: elsewhere.id, until_round: 2 });
    const target = await newTable();
    const r = await importZip(target.gm, target.base, await exportScene(gm, base, scene.id));
    expect(r.status).toBe(400);
    expect((await target.gm.req("GET", `${target.base}/scenes`)).body.items).toEqual([]);
  });

  it("brings conditions back with a restore", async () => {
    const { gm, base, hero, encounter } = await conditionTable();
    const timed = await create(gm, base, "conditions", { token_id: hero.id, kind: "stunned", encounter_id: encounter.id, until_round: 4 });
    const gone = await create(gm, base, "conditions", { token_id: hero.id, kind: "prone" });
    await gm.req("DELETE", `${base}/conditions/${gone.id}`);
    await runCron(new Date());
    const restored = await gm.req("POST", `${base}/restore`, { at: new Date().toISOString() });
    expect(restored.status).toBe(201);
    const copyBase = `/api/vtt/sessions/${restored.body.session.id}`;
    expect((await gm.req("GET", `${copyBase}/conditions/${timed.id}`)).body).toEqual(
      (await gm.req("GET", `${base}/conditions/${timed.id}`)).body,
    );
    expect(ids((await gm.req("GET", `${copyBase}/conditions?archived=true`)).body.items)).toEqual([gone.id]);
    // The restored copy keeps counting: its encounter expires the condition at round 4.
    for (let i = 0; i < 7; i++) await next(gm, copyBase, encounter.id);
    expect((await gm.req("GET", `${copyBase}/conditions/${timed.id}`)).body.archived_at).not.toBeNull();
  });
});
