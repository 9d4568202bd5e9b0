import { describe, expect, it } from "vitest";
import { create, newTable, seqOf } from "../helpers/client";
import { shardOf } from "../helpers/shards";

const uuid = () => crypto.randomUUID();

async function count(table: string, sid: string): Promise<number> {
  const row = await (await shardOf(sid))
    .prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE session_id = ?`)
    .bind(sid)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

describe("POST batch", () => {
  it("applies ops in order, later ops seeing earlier ones, one seq each", async () => {
    const { gm, base } = await newTable();
    const before = await seqOf(gm, base);
    const r = await gm.req("POST", `${base}/batch`, {
      ops: [
        { op_id: uuid(), entity_type: "scene", op: "create", id: "s1", data: { name: "Crypt" } },
        { op_id: uuid(), entity_type: "token", op: "create", id: "t1", data: { name: "Hero", scene_id: "s1" } },
        { op_id: uuid(), entity_type: "token", op: "update", id: "t1", base_version: 1, data: { x: 4 } },
        { op_id: uuid(), entity_type: "token", op: "update", id: "t1", base_version: 2, data: { y: 2 } },
        { op_id: uuid(), entity_type: "scene", op: "archive", id: "s1", base_version: 1 },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.seq).toBe(before + 5);
    expect(r.body.results.map((x: any) => [x.entity.id, x.entity.version])).toEqual([
      ["s1", 1],
      ["t1", 1],
      ["t1", 2],
      ["t1", 3],
      ["s1", 2],
    ]);
    expect((await gm.req("GET", `${base}/tokens/t1`)).body).toMatchObject({ x: 4, y: 2, version: 3 });
  });

  it("is atomic: a failing op leaves nothing of the batch applied", async () => {
    const { gm, base, sid } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const before = await seqOf(gm, base);
    const logBefore = await count("change_log", sid);
    const r = await gm.req("POST", `${base}/batch`, {
      ops: [
        { op_id: uuid(), entity_type: "scene", op: "create", id: "new-scene", data: { name: "A" } },
        { op_id: uuid(), entity_type: "token", op: "update", id: token.id, base_version: 1, data: { x: 9 } },
        { op_id: uuid(), entity_type: "token", op: "update", id: token.id, base_version: 1, data: { x: 10 } },
      ],
    });
    expect(r.status).toBe(409);
    expect(r.body.error.details.op_id).toBeDefined();
    expect(r.body.error.details.current).toMatchObject({ id: token.id, version: 1 });
    expect(await seqOf(gm, base)).toBe(before);
    expect(await count("change_log", sid)).toBe(logBefore);
    expect((await gm.req("GET", `${base}/scenes/new-scene`)).status).toBe(404);
    expect((await gm.req("GET", `${base}/tokens/${token.id}`)).body.x).toBe(0);
  });

  it("rolls back a batch whose last op breaks a referential rule", async () => {
    const { gm, base, sid } = await newTable();
    const r = await gm.req("POST", `${base}/batch`, {
      ops: [
        { op_id: uuid(), entity_type: "scene", op: "create", id: "ok", data: { name: "A" } },
        { op_id: uuid(), entity_type: "token", op: "create", data: { name: "T", scene_id: "missing" } },
      ],
    });
    expect(r.status).toBe(400);
    expect(await count("scenes", sid)).toBe(0);
    expect(await count("applied_ops", sid)).toBe(0);
  });

  it("answers a stale base_version with 409 naming the op", async () => {
    const { gm, base } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const opId = uuid();
    const r = await gm.req("POST", `${base}/batch`, {
      ops: [{ op_id: opId, entity_type: "token", op: "update", id: token.id, base_version: 5, data: { x: 1 } }],
    });
    expect(r.status).toBe(409);
    expect(r.body.error.details).toMatchObject({ op_id: opId, current: { id: token.id, version: 1 } });
  });

  it("refuses more than 500 ops with 413", async () => {
    const { gm, base } = await newTable();
    const ops = Array.from({ length: 501 }, () => ({ op_id: uuid(), entity_type: "scene", op: "create", data: { name: "x" } }));
    const r = await gm.req("POST", `${base}/batch`, { ops });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe("payload_too_large");
  });

  it("applies 500 ops in one batch", async () => {
    const { gm, base } = await newTable();
    const before = await seqOf(gm, base);
    const ops = Array.from({ length: 500 }, (_, i) => ({
      op_id: uuid(),
      entity_type: "token",
      op: "create",
      data: { name: `T${i}`, x: i },
    }));
    const r = await gm.req("POST", `${base}/batch`, { ops });
    expect(r.status).toBe(200);
    expect(r.body.seq).toBe(before + 500);
    expect((await gm.req("GET", `${base}/tokens`)).body.items).toHaveLength(500);
  });
});

describe("idempotent op ids", () => {
  it("returns the first result for a replayed op and applies nothing again", async () => {
    const { gm, base, sid } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const ops = [{ op_id: uuid(), entity_type: "token", op: "update", id: token.id, base_version: 1, data: { x: 3 } }];
    const first = await gm.req("POST", `${base}/batch`, { ops });
    const logAfterFirst = await count("change_log", sid);
    const replay = await gm.req("POST", `${base}/batch`, { ops });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(first.body);
    expect(await count("change_log", sid)).toBe(logAfterFirst);
  });

  it("returns the first result even after the entity moved on (no false 409)", async () => {
    const { gm, base } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const op = { op_id: uuid(), entity_type: "token", op: "update", id: token.id, base_version: 1, data: { x: 3 } };
    const first = await gm.req("POST", `${base}/batch`, { ops: [op] });
    await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 50 }, { "if-match": '"2"' });
    const replay = await gm.req("POST", `${base}/batch`, { ops: [op] });
    expect(replay.status).toBe(200);
    expect(replay.body.results[0]).toEqual(first.body.results[0]);
    expect((await gm.req("GET", `${base}/tokens/${token.id}`)).body).toMatchObject({ x: 50, version: 3 });
  });

  it("skips an already applied op inside a later batch and applies the rest", async () => {
    const { gm, base } = await newTable();
    const create1 = { op_id: uuid(), entity_type: "scene", op: "create", id: "s1", data: { name: "A" } };
    await gm.req("POST", `${base}/batch`, { ops: [create1] });
    const before = await seqOf(gm, base);
    const r = await gm.req("POST", `${base}/batch`, {
      ops: [create1, { op_id: uuid(), entity_type: "scene", op: "update", id: "s1", base_version: 1, data: { name: "B" } }],
    });
    expect(r.status).toBe(200);
    expect(r.body.seq).toBe(before + 1);
    expect(r.body.results.map((x: any) => x.entity.version)).toEqual([1, 2]);
  });

  it("makes a REST write idempotent with Idempotency-Key", async () => {
    const { gm, base } = await newTable();
    const key = uuid();
    const a = await gm.req("POST", `${base}/scenes`, { name: "Once" }, { "idempotency-key": key });
    const b = await gm.req("POST", `${base}/scenes`, { name: "Once" }, { "idempotency-key": key });
    expect(a.status).toBe(201);
    expect(b.body).toEqual(a.body);
    expect((await gm.req("GET", `${base}/scenes`)).body.items).toHaveLength(1);
  });

  it("keeps op ids per session", async () => {
    const one = await newTable();
    const two = await newTable();
    const op = { op_id: uuid(), entity_type: "scene", op: "create", data: { name: "A" } };
    await one.gm.req("POST", `${one.base}/batch`, { ops: [op] });
    const r = await two.gm.req("POST", `${two.base}/batch`, { ops: [op] });
    expect(r.status).toBe(200);
    expect((await two.gm.req("GET", `${two.base}/scenes`)).body.items).toHaveLength(1);
  });
});

describe("a player's replayed op", () => {
  it("returns the first result as the player may see it now: the removed form once the token is hidden", async () => {
    const { gm, player, base } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "A" });
    const token = await create(gm, base, "tokens", {
      name: "Hero",
      scene_id: scene.id,
      owner_user_ids: [player.id],
      stats: { gm_notes: "cursed" },
    });
    await gm.req("POST", `${base}/scenes/${scene.id}/activate`, {});
    const ops = [{ op_id: uuid(), entity_type: "token", op: "update", id: token.id, base_version: 1, data: { x: 4 } }];
    const first = await player.req("POST", `${base}/batch`, { ops });
    expect(first.status).toBe(200);
    expect(first.body.results[0].entity).toMatchObject({ x: 4, stats: {} });
    await gm.req("PATCH", `${base}/tokens/${token.id}`, { hidden: true, name: "Secret" }, { "if-match": '"2"' });
    const replay = await player.req("POST", `${base}/batch`, { ops });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({
      seq: first.body.seq,
      results: [{ op_id: ops[0]?.op_id, entity: { id: token.id, version: 2, removed: true } }],
    });
    expect(JSON.stringify(replay.body)).not.toContain("cursed");
    expect(JSON.stringify(replay.body)).not.toContain("Secret");
  });

  it("reveals nothing of what a GM's op with the same id made", async () => {
    const { gm, player, base } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "A" });
    await gm.req("POST", `${base}/scenes/${scene.id}/activate`, {});
    const opId = uuid();
    const made = await gm.req("POST", `${base}/batch`, {
      ops: [{ op_id: opId, entity_type: "token", op: "create", data: { name: "Ambush", scene_id: scene.id, hidden: true } }],
    });
    const tokenId = made.body.results[0].entity.id;
    const r = await player.req("POST", `${base}/batch`, {
      ops: [{ op_id: opId, entity_type: "token", op: "update", id: tokenId, base_version: 1, data: { x: 1 } }],
    });
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: "conflict", details: { op_id: opId, reason: "op_id_reused" } });
    expect(JSON.stringify(r.body)).not.toContain("Ambush");
  });
});
