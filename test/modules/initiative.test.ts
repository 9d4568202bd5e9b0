import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { advanceTurn, type Combatant, MAX_COMBATANTS, turnOrder, withoutHiddenCombatants } from "../../modules/initiative/domain";
import { rollD20, rollInitiative } from "../../modules/initiative/rules";
import { onNewRound } from "../../modules/initiative/worker";
import { applyOps } from "../../worker/session/stub";
import { create, newTable, type Reply, type TestUser } from "../helpers/client";
import { runCron } from "../helpers/jobs";
import { TestSocket } from "../helpers/socket";

const fighter = (name: string, initiative: number | null, fields: Partial<Combatant> = {}): Combatant => ({
  name,
  token_id: null,
  initiative,
  tiebreak: 0,
  hidden: false,
  ...fields,
});

function expectError(r: Reply, status: number, code: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body?.error?.code).toBe(code);
}

const turnUrl = (base: string, id: string, direction: "next" | "previous") => `${base}/modules/initiative/encounters/${id}/${direction}`;

/** A table with an active scene, a token on it, and an encounter (inactive unless said) of three. */
async function encounterTable(encounter: Record<string, unknown> = {}) {
  const t = await newTable();
  const scene = await create(t.gm, t.base, "scenes", { name: "Crypt" });
  const hero = await create(t.gm, t.base, "tokens", { name: "Hero", scene_id: scene.id });
  await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {});
  const created = await create(t.gm, t.base, "encounters", {
    name: "Ambush",
    scene_id: scene.id,
    combatants: {
      hero: { name: "Hero", token_id: hero.id, initiative: 15 },
      orc: { name: "Orc", initiative: 12 },
      spy: { name: "Spy in the rafters", initiative: 18, hidden: true },
    },
    ...encounter,
  });
  return { ...t, scene, hero, encounter: created };
}

async function patch(user: TestUser, url: string, body: Record<string, unknown>, version: number) {
  return user.req("PATCH", url, body, { "if-match": `"${version}"` });
}

describe("turn order", () => {
  it.each([
    ["initiative high to low", { a: fighter("A", 5), b: fighter("B", 20), c: fighter("C", 12) }, ["b", "c", "a"]],
    ["unrolled combatants last", { a: fighter("A", null), b: fighter("B", -3), c: fighter("C", 1) }, ["c", "b", "a"]],
    ["ties: higher tiebreak first", { a: fighter("A", 10, { tiebreak: 1 }), b: fighter("B", 10, { tiebreak: 4 }) }, ["b", "a"]],
    ["ties on both: by name", { x: fighter("Zed", 10), y: fighter("Abe", 10) }, ["y", "x"]],
    ["ties on everything: by id", { b2: fighter("Orc", 10), a1: fighter("Orc", 10) }, ["a1", "b2"]],
    ["no combatants", {}, []],
  ] as const)("sorts %s", (_name, combatants, order) => {
    expect(turnOrder(combatants)).toEqual(order);
  });
});

describe("advancing the turn", () => {
  const three = { a: fighter("A", 20), b: fighter("B", 10), c: fighter("C", 5) };
  it.each([
    ["the first next starts round 1 at the top", 0, null, "next", { round: 1, turn: "a" }],
    ["next moves down the order", 1, "a", "next", { round: 1, turn: "b" }],
    ["next past the end wraps to the next round", 1, "c", "next", { round: 2, turn: "a" }],
    ["previous moves up the order", 2, "b", "previous", { round: 2, turn: "a" }],
    ["previous at the top goes to the end of the round before", 2, "a", "previous", { round: 1, turn: "c" }],
    ["previous at the top of round 1 stays", 1, "a", "previous", { round: 1, turn: "a" }],
    ["previous before the first round changes nothing", 0, null, "previous", { round: 0, turn: null }],
    ["next after a removed combatant restarts the round", 3, "gone", "next", { round: 3, turn: "a" }],
    ["previous after a removed combatant restarts the round", 3, "gone", "previous", { round: 3, turn: "a" }],
    ["next in a running round without a turn starts at the top", 2, null, "next", { round: 2, turn: "a" }],
  ] as const)("%s", (_name, round, turn, direction, expected) => {
    expect(advanceTurn({ round, turn, combatants: three }, direction)).toEqual(expected);
  });

  it("changes nothing without combatants", () => {
    expect(advanceTurn({ round: 0, turn: null, combatants: {} }, "next")).toEqual({ round: 0, turn: null });
    expect(advanceTurn({ round: 4, turn: "x", combatants: {} }, "previous")).toEqual({ round: 4, turn: "x" });
  });

  it("follows a changed initiative: the order is computed at each turn", () => {
    const reordered = { ...three, c: fighter("C", 30) };
    expect(advanceTurn({ round: 1, turn: "a", combatants: reordered }, "next")).toEqual({ round: 1, turn: "b" });
    expect(advanceTurn({ round: 1, turn: "b", combatants: reordered }, "next")).toEqual({ round: 2, turn: "c" });
  });
});

describe("player projection and rolls", () => {
  it("leaves hidden combatants out and keeps the same object when none is hidden", () => {
    const open = { round: 1, combatants: { a: fighter("A", 3) } };
    expect(withoutHiddenCombatants(open)).toBe(open);
    const secret = { round: 1, turn: "s", combatants: { a: fighter("A", 3), s: fighter("S", 9, { hidden: true }) } };
    expect(withoutHiddenCombatants(secret)).toEqual({ round: 1, turn: "s", combatants: { a: fighter("A", 3) } });
  });

  it("rolls a d20 from 1 to 20 and adds the tiebreak as the modifier", () => {
    expect(rollD20(() => 0)).toBe(1);
    expect(rollD20(() => 0.999_999)).toBe(20);
    expect(rollInitiative({ tiebreak: 3 }, () => 0.5)).toBe(14);
  });
});

describe("encounters as entities", () => {
  it("creates an encounter with its defaults at version 1, and patches one combatant at version 2", async () => {
    const { gm, base, scene, encounter } = await encounterTable();
    expect(encounter).toMatchObject({ version: 1, scene_id: scene.id, active: false, round: 0, turn: null, archived_at: null });
    expect(encounter.combatants.orc).toEqual({ name: "Orc", token_id: null, initiative: 12, tiebreak: 0, hidden: false });
    const r = await patch(gm, `${base}/encounters/${encounter.id}`, { combatants: { orc: { initiative: 19 } } }, 1);
    expect(r.status).toBe(200);
    expect(r.body.version).toBe(2);
    expect(r.body.combatants.orc.initiative).toBe(19);
    expect(r.body.combatants.hero).toEqual(encounter.combatants.hero);
    const stored = await gm.req("GET", `${base}/encounters/${encounter.id}`);
    expect(stored.headers.get("etag")).toBe('"2"');
    expect(stored.body.combatants.orc.initiative).toBe(19);
  });

  it("removes a combatant with a null in the merge patch", async () => {
    const { gm, base, encounter } = await encounterTable();
    const r = await patch(gm, `${base}/encounters/${encounter.id}`, { combatants: { orc: null } }, 1);
    expect(Object.keys(r.body.combatants).sort()).toEqual(["hero", "spy"]);
  });

  it("answers 428 without If-Match and 409 with the server's encounter when it is stale", async () => {
    const { gm, base, encounter } = await encounterTable();
    expectError(await gm.req("PATCH", `${base}/encounters/${encounter.id}`, { name: "X" }), 428, "precondition_required");
    await patch(gm, `${base}/encounters/${encounter.id}`, { name: "Second" }, 1);
    const stale = await patch(gm, `${base}/encounters/${encounter.id}`, { name: "Third" }, 1);
    expectError(stale, 409, "conflict");
    expect(stale.body.error.details.current).toMatchObject({ id: encounter.id, version: 2, name: "Second" });
  });

  it("refuses invalid fields with 400 naming each of them", async () => {
    const { gm, base, scene } = await encounterTable();
    const r = await gm.req("POST", `${base}/encounters`, {
      scene_id: scene.id,
      round: -1,
      colour: "red",
      combatants: { ok: { name: "Ok" }, bad: { name: "", initiative: "high" } },
    });
    expectError(r, 400, "bad_request");
    const fields = r.body.error.details.fields.map((f: { field: string }) => f.field);
    expect(fields).toEqual(expect.arrayContaining(["round", "colour", "combatants.bad.name", "combatants.bad.initiative"]));
  });

  it("refuses combatant ids that are not ids and an encounter without a scene", async () => {
    const { gm, base, scene } = await encounterTable();
    expectError(
      await gm.req("POST", `${base}/encounters`, { scene_id: scene.id, combatants: { "a b": { name: "A" } } }),
      400,
      "bad_request",
    );
    const r = await gm.req("POST", `${base}/encounters`, { name: "Nowhere" });
    expectError(r, 400, "bad_request");
    expect(r.body.error.details.fields).toEqual([expect.objectContaining({ field: "scene_id" })]);
  });

  it(`refuses more than ${MAX_COMBATANTS} combatants, on create and through a patch`, async () => {
    const { gm, base, scene, encounter } = await encounterTable();
    const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`c${i}`, { name: `Goblin ${i}` }]));
    const r = await gm.req("POST", `${base}/encounters`, { scene_id: scene.id, combatants: many(MAX_COMBATANTS + 1) });
    expectError(r, 400, "bad_request");
    expect(r.body.error.details.fields[0]).toMatchObject({ field: "combatants", message: `at most ${MAX_COMBATANTS} combatants` });
    expect((await gm.req("POST", `${base}/encounters`, { scene_id: scene.id, combatants: many(MAX_COMBATANTS) })).status).toBe(201);
    // The existing three plus 198 more is one too many.
    expectError(await patch(gm, `${base}/encounters/${encounter.id}`, { combatants: many(MAX_COMBATANTS - 2) }, 1), 400, "bad_request");
  });

  it("refuses a scene of another session or none with 400", async () => {
    const { gm, base } = await encounterTable();
    const other = await newTable();
    const foreign = await create(other.gm, other.base, "scenes", { name: "Elsewhere" });
    const r = await gm.req("POST", `${base}/encounters`, { scene_id: foreign.id });
    expectError(r, 400, "bad_request");
    expect(r.body.error.details.fields).toEqual([{ field: "scene_id", message: "no such scene" }]);
    expectError(await gm.req("POST", `${base}/encounters`, { scene_id: "no-such-scene" }), 400, "bad_request");
  });

  it("lets players neither create nor patch nor archive encounters", async () => {
    const { player, gm, base, scene, encounter } = await encounterTable();
    expectError(await player.req("POST", `${base}/encounters`, { scene_id: scene.id }), 403, "forbidden");
    // Not running: players are not told it exists.
    expectError(await patch(player, `${base}/encounters/${encounter.id}`, { name: "Mine" }, 1), 404, "not_found");
    await patch(gm, `${base}/encounters/${encounter.id}`, { active: true }, 1);
    expectError(await patch(player, `${base}/encounters/${encounter.id}`, { round: 9 }, 2), 403, "forbidden");
    expectError(await player.req("DELETE", `${base}/encounters/${encounter.id}`), 403, "forbidden");
    const batch = await player.req("POST", `${base}/batch`, {
      ops: [{ op_id: crypto.randomUUID(), entity_type: "encounter", op: "update", id: encounter.id, base_version: 2, data: { round: 9 } }],
    });
    expectError(batch, 403, "forbidden");
    expect((await gm.req("GET", `${base}/encounters/${encounter.id}`)).body.round).toBe(0);
  });

  it("applies a batch of encounter ops atomically and replays an op id without applying it again", async () => {
    const { gm, base, scene, encounter } = await encounterTable();
    const seq = (await gm.req("GET", `${base}/state`)).body.seq;
    const failing = await gm.req("POST", `${base}/batch`, {
      ops: [
        { op_id: crypto.randomUUID(), entity_type: "encounter", op: "create", id: "enc-batch", data: { scene_id: scene.id } },
        { op_id: crypto.randomUUID(), entity_type: "encounter", op: "update", id: encounter.id, base_version: 1, data: { round: "x" } },
      ],
    });
    expectError(failing, 400, "bad_request");
    expectError(await gm.req("GET", `${base}/encounters/enc-batch`), 404, "not_found");
    expect((await gm.req("GET", `${base}/state`)).body.seq).toBe(seq);

    const ops = [
      { op_id: crypto.randomUUID(), entity_type: "encounter", op: "create", id: "enc-batch", data: { scene_id: scene.id, name: "Batch" } },
      { op_id: crypto.randomUUID(), entity_type: "encounter", op: "update", id: encounter.id, base_version: 1, data: { name: "Renamed" } },
    ];
    const first = await gm.req("POST", `${base}/batch`, { ops });
    expect(first.status).toBe(200);
    expect(first.body.seq).toBe(seq + 2);
    const again = await gm.req("POST", `${base}/batch`, { ops });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect((await gm.req("GET", `${base}/encounters/${encounter.id}`)).body.version).toBe(2);
    expect((await gm.req("GET", `${base}/state`)).body.seq).toBe(seq + 2);
  });

  it("keeps the history of an encounter and reverts it to an earlier version", async () => {
    const { gm, base, encounter } = await encounterTable({ active: true });
    await gm.req("POST", turnUrl(base, encounter.id, "next"), {});
    await gm.req("POST", turnUrl(base, encounter.id, "next"), {});
    const history = await gm.req("GET", `${base}/encounters/${encounter.id}/history`);
    expect(history.status).toBe(200);
    expect(history.body.items.map((i: { version: number; op: string }) => [i.version, i.op])).toEqual([
      [3, "update"],
      [2, "update"],
      [1, "create"],
    ]);
    expect(history.body.items[0].diff).toMatchObject({ turn: "hero" });
    const r = await gm.req("POST", `${base}/encounters/${encounter.id}/revert`, { version: 1, base_version: 3 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ version: 4, round: 0, turn: null });
  });
});

describe("what players see of encounters", () => {
  it("shows players no encounter that is not running, on any read path", async () => {
    const { player, gm, base, encounter } = await encounterTable();
    const since = (await player.req("GET", `${base}/state`)).body.seq - 1;
    await patch(gm, `${base}/encounters/${encounter.id}`, { name: "Still secret" }, 1);
    const state = await player.req("GET", `${base}/state`);
    expect(state.body.modules.encounter).toEqual([]);
    expect((await player.req("GET", `${base}/encounters`)).body.items).toEqual([]);
    expectError(await player.req("GET", `${base}/encounters/${encounter.id}`), 404, "not_found");
    const changes = await player.req("GET", `${base}/changes?since=${since}`);
    expect(JSON.stringify(changes.body)).not.toContain(encounter.id);
    // GMs see it everywhere.
    expect((await gm.req("GET", `${base}/state`)).body.modules.encounter.map((e: { id: string }) => e.id)).toEqual([encounter.id]);
  });

  it("shows a running encounter without its hidden combatants on every read path", async () => {
    const { player, gm, base, encounter } = await encounterTable();
    const since = (await player.req("GET", `${base}/state`)).body.seq;
    await patch(gm, `${base}/encounters/${encounter.id}`, { active: true }, 1);
    const state = await player.req("GET", `${base}/state`);
    const list = await player.req("GET", `${base}/encounters`);
    const one = await player.req("GET", `${base}/encounters/${encounter.id}`);
    const changes = await player.req("GET", `${base}/changes?since=${since}`);
    const views = [state.body.modules.encounter[0], list.body.items[0], one.body, changes.body.changes[0].entity];
    for (const seen of views) {
      expect(seen).toMatchObject({ id: encounter.id, active: true, version: 2 });
      expect(Object.keys(seen.combatants).sort()).toEqual(["hero", "orc"]);
    }
    for (const text of [state, list, one, changes].map((r) => JSON.stringify(r.body))) expect(text).not.toContain("rafters");
  });

  it("hides a running encounter of a scene that is not the active one", async () => {
    const { player, gm, base } = await encounterTable();
    const tower = await create(gm, base, "scenes", { name: "Tower" });
    const elsewhere = await create(gm, base, "encounters", { scene_id: tower.id, active: true });
    expect((await player.req("GET", `${base}/encounters`)).body.items).toEqual([]);
    expectError(await player.req("GET", `${base}/encounters/${elsewhere.id}`), 404, "not_found");
    // GMs list another scene's encounters with ?scene_id= (the state holds the active scene's).
    expect((await gm.req("GET", `${base}/state`)).body.modules.encounter.map((e: { id: string }) => e.id)).not.toContain(elsewhere.id);
    const listed = await gm.req("GET", `${base}/encounters?scene_id=${tower.id}`);
    expect(listed.body.items.map((e: { id: string }) => e.id)).toEqual([elsewhere.id]);
  });

  it("broadcasts to players only what they may see: the start, the turns without hidden combatants, the stop as a removal", async () => {
    const { player, gm, base, encounter } = await encounterTable();
    const gmSocket = await TestSocket.open(gm, base);
    const playerSocket = await TestSocket.open(player, base);
    await patch(gm, `${base}/encounters/${encounter.id}`, { combatants: { spy: { initiative: 19 } } }, 1);
    await patch(gm, `${base}/encounters/${encounter.id}`, { active: true }, 2);
    const started = await playerSocket.next((m) => m.type === "change" && m.entity_id === encounter.id, "the start");
    expect(started).toMatchObject({ entity_type: "encounter", version: 3, op: "update" });
    expect(Object.keys(started.entity.combatants).sort()).toEqual(["hero", "orc"]);

    // The spy (18) acts first: players learn it is a hidden combatant's turn, nothing more.
    await gm.req("POST", turnUrl(base, encounter.id, "next"), {});
    const turn = await playerSocket.next((m) => m.type === "change" && m.entity_id === encounter.id, "the turn");
    expect(turn.entity).toMatchObject({ round: 1, turn: "spy" });
    expect(turn.entity.combatants.spy).toBeUndefined();

    await patch(gm, `${base}/encounters/${encounter.id}`, { active: false }, 4);
    const stopped = await playerSocket.next((m) => m.type === "change" && m.entity_id === encounter.id, "the stop");
    expect(stopped).toMatchObject({ version: 5, removed: true });
    expect(stopped.entity).toBeUndefined();

    await gmSocket.next((m) => m.type === "change" && m.entity_id === encounter.id && m.version === 5, "the GM's copy");
    expect(gmSocket.raw.join("\n")).toContain("rafters");
    expect(playerSocket.raw.join("\n")).not.toContain("rafters");
    // Version 2 (the prep while not running) never reached players.
    expect(playerSocket.all("change").map((m) => m.version)).toEqual([3, 4, 5]);
    gmSocket.close();
    playerSocket.close();
  });
});

describe("POST {S}/modules/initiative/encounters/{id}/next and /previous", () => {
  it("moves the turn down the order, one version and one seq each, and wraps into the next round", async () => {
    const { gm, base, encounter } = await encounterTable();
    const seq = (await gm.req("GET", `${base}/state`)).body.seq;
    const expected = [
      [1, "spy"],
      [1, "hero"],
      [1, "orc"],
      [2, "spy"],
    ];
    for (const [i, [round, turn]] of expected.entries()) {
      const r = await gm.req("POST", turnUrl(base, encounter.id, "next"), {});
      expect(r.status).toBe(200);
      expect(r.body.encounter).toMatchObject({ round, turn, version: i + 2 });
      expect(r.body.effects).toEqual([]);
      expect(r.body.seq).toBe(seq + i + 1);
      expect(r.headers.get("etag")).toBe(`"${i + 2}"`);
    }
    const back = await gm.req("POST", turnUrl(base, encounter.id, "previous"), {});
    expect(back.body.encounter).toMatchObject({ round: 1, turn: "orc", version: 6 });
    const stored = await gm.req("GET", `${base}/encounters/${encounter.id}`);
    expect(stored.body).toMatchObject({ round: 1, turn: "orc", version: 6 });
  });

  it("moves from the base_version sent, and answers 409 with the server's encounter when it is stale", async () => {
    const { gm, base, encounter } = await encounterTable();
    const ok = await gm.req("POST", turnUrl(base, encounter.id, "next"), { base_version: 1 });
    expect(ok.body.encounter).toMatchObject({ version: 2, round: 1 });
    // A second GM pressing "next" on the same version moves nothing.
    const stale = await gm.req("POST", turnUrl(base, encounter.id, "next"), { base_version: 1 });
    expectError(stale, 409, "conflict");
    expect(stale.body.error.details.current).toMatchObject({ id: encounter.id, version: 2, turn: "spy" });
    expect((await gm.req("GET", `${base}/encounters/${encounter.id}`)).body.version).toBe(2);
  });

  it("answers 404 for an unknown or archived encounter and 400 for a bad body", async () => {
    const { gm, base, encounter } = await encounterTable();
    expectError(await gm.req("POST", turnUrl(base, "no-such", "next"), {}), 404, "not_found");
    expectError(await gm.req("POST", turnUrl(base, "bad id!", "next"), {}), 404, "not_found");
    expectError(await gm.req("POST", turnUrl(base, encounter.id, "next"), { base_version: "1" }), 400, "bad_request");
    expectError(await gm.req("POST", turnUrl(base, encounter.id, "next"), { round: 3 }), 400, "bad_request");
    await gm.req("DELETE", `${base}/encounters/${encounter.id}`);
    expectError(await gm.req("POST", turnUrl(base, encounter.id, "previous"), {}), 404, "not_found");
  });

  it("accepts an empty body", async () => {
    const { gm, base, encounter } = await encounterTable();
    const r = await gm.req("POST", turnUrl(base, encounter.id, "next"));
    expect(r.status).toBe(200);
    expect(r.body.encounter.round).toBe(1);
  });

  it("is for GMs only: players get 403, non-members 404", async () => {
    const { player, gm, base, encounter } = await encounterTable({ active: true });
    expectError(await player.req("POST", turnUrl(base, encounter.id, "next"), {}), 403, "forbidden");
    expectError(await player.req("POST", turnUrl(base, encounter.id, "previous"), {}), 403, "forbidden");
    const stranger = await newTable();
    expectError(await stranger.gm.req("POST", turnUrl(base, encounter.id, "next"), {}), 404, "not_found");
    expect((await gm.req("GET", `${base}/encounters/${encounter.id}`)).body.version).toBe(1);
  });

  it("writes nothing when nothing moves: no combatants, or previous before the first round", async () => {
    const { gm, base, scene, encounter } = await encounterTable();
    const empty = await create(gm, base, "encounters", { scene_id: scene.id });
    const seq = (await gm.req("GET", `${base}/state`)).body.seq;
    const r = await gm.req("POST", turnUrl(base, empty.id, "next"), {});
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ encounter: { version: 1, round: 0 }, effects: [], seq });
    const back = await gm.req("POST", turnUrl(base, encounter.id, "previous"), {});
    expect(back.body.encounter.version).toBe(1);
    expect((await gm.req("GET", `${base}/state`)).body.seq).toBe(seq);
  });

  it("commits the ops of round hooks in the same batch, only when a new round begins", async () => {
    const { gm, base, scene, encounter } = await encounterTable();
    const calls: number[] = [];
    const stop = onNewRound(async ({ round, encounter: next }) => {
      calls.push(round);
      expect(next).toMatchObject({ id: encounter.id, round, turn: "spy" });
      return [
        {
          op_id: crypto.randomUUID(),
          fresh: true,
          entity_type: "scene",
          op: "update",
          id: scene.id,
          base_version: round,
          data: { sort: round },
        },
      ];
    });
    try {
      const first = await gm.req("POST", turnUrl(base, encounter.id, "next"), {});
      expect(first.body.effects).toEqual([{ entity_type: "scene", id: scene.id, op: "update", version: 2 }]);
      expect(first.body.seq).toBe((await gm.req("GET", `${base}/state`)).body.seq);
      for (let i = 0; i < 3; i++) await gm.req("POST", turnUrl(base, encounter.id, "next"), {});
      expect(calls).toEqual([1, 2]);
      // "previous" back into round 1 runs no hook.
      await gm.req("POST", turnUrl(base, encounter.id, "previous"), {});
      expect(calls).toEqual([1, 2]);
      expect((await gm.req("GET", `${base}/scenes/${scene.id}`)).body.sort).toBe(2);
    } finally {
      stop();
    }
  });

  it("applies nothing when a hook's op fails: the turn and the hook's ops are one atomic batch", async () => {
    const { gm, base, scene, encounter } = await encounterTable();
    const stop = onNewRound(async () => [
      {
        op_id: crypto.randomUUID(),
        fresh: true,
        entity_type: "scene",
        op: "update",
        id: scene.id,
        base_version: 1,
        data: { grid_scale: "x" },
      },
    ]);
    try {
      expectError(await gm.req("POST", turnUrl(base, encounter.id, "next"), {}), 400, "bad_request");
      expect((await gm.req("GET", `${base}/encounters/${encounter.id}`)).body).toMatchObject({ version: 1, round: 0 });
    } finally {
      stop();
    }
  });

  it("retries from fresh reads when a write overtakes the turn, unless the caller sent the version it read", async () => {
    const { gm, sid, base, encounter } = await encounterTable();
    let overtakes = 1;
    const stop = onNewRound(async ({ encounter: next }) => {
      if (overtakes > 0) {
        overtakes -= 1;
        // Another GM renames the encounter between the route's read and its write.
        await applyOps(env, sid, { userId: gm.id, role: "gm" }, [
          {
            op_id: crypto.randomUUID(),
            fresh: true,
            force: true,
            entity_type: "encounter",
            op: "update",
            id: next.id,
            base_version: 1,
            data: { name: "Renamed" },
          },
        ]);
      }
      return [];
    });
    try {
      const retried = await gm.req("POST", turnUrl(base, encounter.id, "next"), {});
      expect(retried.status).toBe(200);
      expect(retried.body.encounter).toMatchObject({ name: "Renamed", round: 1, turn: "spy", version: 3 });

      overtakes = 1;
      await patch(gm, `${base}/encounters/${encounter.id}`, { round: 4, turn: "orc" }, 3);
      const theirs = await gm.req("POST", turnUrl(base, encounter.id, "next"), { base_version: 4 });
      expectError(theirs, 409, "conflict");
      expect(theirs.body.error.details.current).toMatchObject({ version: 5 });
    } finally {
      stop();
    }
  });
});

describe("backups", () => {
  it("brings encounters back with a restore, at their version", async () => {
    const { gm, base, encounter } = await encounterTable({ active: true });
    await gm.req("POST", turnUrl(base, encounter.id, "next"), {});
    await runCron(new Date());
    const restored = await gm.req("POST", `${base}/restore`, { at: new Date().toISOString() });
    expect(restored.status).toBe(201);
    const copy = await gm.req("GET", `/api/vtt/sessions/${restored.body.session.id}/encounters/${encounter.id}`);
    expect(copy.status).toBe(200);
    const original = await gm.req("GET", `${base}/encounters/${encounter.id}`);
    expect(copy.body).toEqual(original.body);
    const state = await gm.req("GET", `/api/vtt/sessions/${restored.body.session.id}/state`);
    expect(state.body.modules.encounter.map((e: { id: string }) => e.id)).toEqual([encounter.id]);
  });
});
