import { describe, expect, it } from "vitest";
import { onNewRound } from "../../modules/initiative/worker";
import { create, newTable, type Reply } from "../helpers/client";
import { shardOf } from "../helpers/shards";

const turnUrl = (base: string, id: string, direction: "next" | "previous") => `${base}/modules/initiative/encounters/${id}/${direction}`;

function expectError(r: Reply, status: number, code: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body?.error?.code).toBe(code);
}

async function encounterTable() {
  const t = await newTable();
  const scene = await create(t.gm, t.base, "scenes", { name: "Crypt" });
  await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {});
  const encounter = await create(t.gm, t.base, "encounters", {
    name: "Ambush",
    scene_id: scene.id,
    combatants: { a: { name: "A", initiative: 20 }, b: { name: "B", initiative: 10 } },
  });
  return { ...t, scene, encounter };
}

async function logRowsOf(sid: string, entityId: string): Promise<number> {
  const row = await (await shardOf(sid))
    .prepare("SELECT COUNT(*) AS n FROM change_log WHERE session_id = ? AND entity_id = ?")
    .bind(sid, entityId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

describe("Idempotency-Key on next and previous", () => {
  it("answers a retried turn with the first result and moves the turn once", async () => {
    const { gm, sid, base, encounter } = await encounterTable();
    const key = crypto.randomUUID();
    await gm.req("POST", turnUrl(base, encounter.id, "next"), {});
    const first = await gm.req("POST", turnUrl(base, encounter.id, "next"), {}, { "idempotency-key": key });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.encounter).toMatchObject({ round: 1, turn: "b", version: 3 });
    const again = await gm.req("POST", turnUrl(base, encounter.id, "next"), {}, { "idempotency-key": key });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("etag")).toBe('"3"');
    expect((await gm.req("GET", `${base}/encounters/${encounter.id}`)).body).toMatchObject({ round: 1, turn: "b", version: 3 });
    expect(await logRowsOf(sid, encounter.id)).toBe(3);
  });

  it("answers a retried turn that carried base_version with its first result, not a conflict", async () => {
    const { gm, base, encounter } = await encounterTable();
    const key = crypto.randomUUID();
    const first = await gm.req("POST", turnUrl(base, encounter.id, "next"), { base_version: 1 }, { "idempotency-key": key });
    expect(first.status).toBe(200);
    const again = await gm.req("POST", turnUrl(base, encounter.id, "next"), { base_version: 1 }, { "idempotency-key": key });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect((await gm.req("GET", `${base}/encounters/${encounter.id}`)).body).toMatchObject({ round: 1, turn: "a", version: 2 });
  });

  it("answers a retried previous with its first result, even after later turns", async () => {
    const { gm, base, encounter } = await encounterTable();
    for (let i = 0; i < 2; i++) await gm.req("POST", turnUrl(base, encounter.id, "next"), {});
    const key = crypto.randomUUID();
    const first = await gm.req("POST", turnUrl(base, encounter.id, "previous"), {}, { "idempotency-key": key });
    expect(first.body.encounter).toMatchObject({ round: 1, turn: "a", version: 4 });
    await gm.req("POST", turnUrl(base, encounter.id, "next"), {});
    const again = await gm.req("POST", turnUrl(base, encounter.id, "previous"), {}, { "idempotency-key": key });
    expect(again.body).toEqual(first.body);
    expect((await gm.req("GET", `${base}/encounters/${encounter.id}`)).body).toMatchObject({ round: 1, turn: "b", version: 5 });
  });

  it("moves the turn once when the same key arrives twice at the same time", async () => {
    const { gm, sid, base, encounter } = await encounterTable();
    const key = crypto.randomUUID();
    const [a, b] = await Promise.all([
      gm.req("POST", turnUrl(base, encounter.id, "next"), {}, { "idempotency-key": key }),
      gm.req("POST", turnUrl(base, encounter.id, "next"), {}, { "idempotency-key": key }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.encounter).toEqual(b.body.encounter);
    expect((await gm.req("GET", `${base}/encounters/${encounter.id}`)).body).toMatchObject({ round: 1, turn: "a", version: 2 });
    expect(await logRowsOf(sid, encounter.id)).toBe(2);
  });

  it("does not run the round hooks again for a retried turn that began a round, and answers their effects", async () => {
    const { gm, sid, base, encounter } = await encounterTable();
    let calls = 0;
    const stop = onNewRound(async () => {
      calls += 1;
      return [{ op_id: crypto.randomUUID(), fresh: true, entity_type: "token", op: "create", data: { name: `Round marker ${calls}` } }];
    });
    try {
      const key = crypto.randomUUID();
      const first = await gm.req("POST", turnUrl(base, encounter.id, "next"), {}, { "idempotency-key": key });
      expect(first.body.effects).toHaveLength(1);
      expect(first.body.effects[0]).toMatchObject({ entity_type: "token", op: "create", version: 1 });
      const again = await gm.req("POST", turnUrl(base, encounter.id, "next"), {}, { "idempotency-key": key });
      expect(again.body).toEqual(first.body);
      expect(calls).toBe(1);
      const tokens = await (await shardOf(sid))
        .prepare("SELECT COUNT(*) AS n FROM tokens WHERE session_id = ? AND name LIKE 'Round marker%'")
        .bind(sid)
        .first<{ n: number }>();
      expect(tokens?.n).toBe(1);
      expect((await gm.req("GET", `${base}/encounters/${encounter.id}`)).body).toMatchObject({ round: 1, turn: "a" });
    } finally {
      stop();
    }
  });

  it("refuses a key that was used for another write, changing nothing", async () => {
    const { gm, base, scene, encounter } = await encounterTable();
    const key = crypto.randomUUID();
    const patched = await gm.req("PATCH", `${base}/scenes/${scene.id}`, { name: "Vault" }, { "if-match": '"1"', "idempotency-key": key });
    expect(patched.status).toBe(200);
    expectError(await gm.req("POST", turnUrl(base, encounter.id, "next"), {}, { "idempotency-key": key }), 400, "bad_request");
    expect((await gm.req("GET", `${base}/encounters/${encounter.id}`)).body).toMatchObject({ round: 0, version: 1 });
  });

  it("refuses a key that is not a UUID", async () => {
    const { gm, base, encounter } = await encounterTable();
    expectError(await gm.req("POST", turnUrl(base, encounter.id, "next"), {}, { "idempotency-key": "again" }), 400, "bad_request");
    expect((await gm.req("GET", `${base}/encounters/${encounter.id}`)).body).toMatchObject({ round: 0, version: 1 });
  });

  it("still refuses players, key or not", async () => {
    const { player, base, encounter } = await encounterTable();
    const r = await player.req("POST", turnUrl(base, encounter.id, "next"), {}, { "idempotency-key": crypto.randomUUID() });
    expectError(r, 403, "forbidden");
  });
});
