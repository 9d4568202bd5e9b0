/**
 * What a big batch costs D1: rows go as a few multi-row statements (json_each), the entities its
 * ops read are looked up in a few IN queries, and the batch stays one atomic, idempotent write.
 */
import { describe, expect, it } from "vitest";
import type { AnyEntity } from "../../domain/entities";
import type { InternalOp } from "../../domain/plan";
import { type Db, getDb } from "../../worker/db/client";
import { insertStatements, JSON_ROWS_CHARS, loadEntities, upsertStatements } from "../../worker/db/entities";
import { appliedOps } from "../../worker/db/schema";
import { planBatch } from "../../worker/session/write-plan";
import { newTable } from "../helpers/client";
import { shardOf } from "../helpers/shards";

const uuid = () => crypto.randomUUID();

async function count(table: string, sid: string): Promise<number> {
  const row = await (await shardOf(sid))
    .prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE session_id = ?`)
    .bind(sid)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

async function run(db: Db, statements: ReturnType<typeof insertStatements>): Promise<void> {
  const [first, ...rest] = statements;
  if (first) await db.batch([first, ...rest]);
}

function token(id: string, fields: Partial<AnyEntity> = {}): AnyEntity {
  return {
    id,
    version: 1,
    created_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
    updated_by: "u1",
    archived_at: null,
    scene_id: null,
    name: id,
    folder_id: null,
    stats: {},
    width: 1,
    height: 1,
    x: 0,
    y: 0,
    rotation: 0,
    hidden: false,
    stamina: null,
    school: null,
    owner_user_ids: [],
    created_by: "u1",
    ...fields,
  } as AnyEntity;
}

describe("multi-row statements", () => {
  it("write 500 entities in one statement and read every value back exactly", async () => {
    const { sid } = await newTable();
    const db = getDb(await shardOf(sid));
    // Doubles that need all 17 digits, tiny and huge ones, text that JSON must escape, nested JSON.
    const tricky = [0.1 + 0.2, 1 / 3, -2 / 7, Math.PI * 1e10, 1e-7, 123456.789, 5e-324, 2 ** 53 - 1, -0.000123456789012345];
    const entities = Array.from({ length: 500 }, (_, i) =>
      token(`t${i}`, {
        x: tricky[i % tricky.length] ?? 0,
        y: i * 1.1,
        // (-0 would come back as 0, as it does from any JSON answer.)
        rotation: -(i + 1) / 7,
        hidden: i % 2 === 0,
        stamina: i % 3 === 0 ? null : i / 3,
        name: `Tök "${i}" \\ ' 🐉 \u0000 \u0001 line\nbreak`,
        school: i % 5 === 0 ? null : `s${i}`,
        stats: { hp: i, nested: { list: [1, "two", null, true, 0.1 + 0.2] }, quote: '"' },
        owner_user_ids: [`u${i}`, "u'x"],
      }),
    );
    const statements = upsertStatements(db, sid, "token", entities);
    expect(statements).toHaveLength(1);
    await run(db, statements);
    const stored = await loadEntities(
      db,
      sid,
      "token",
      entities.map((e) => e.id),
    );
    expect(stored.size).toBe(500);
    for (const e of entities) expect(stored.get(e.id)).toStrictEqual(e);

    // An upsert overwrites every column but the key.
    const moved = entities.map((e) => ({ ...e, version: 2, x: 7.25, hidden: !e.hidden, stats: { hp: 0 } }));
    await run(db, upsertStatements(db, sid, "token", moved));
    const again = await loadEntities(
      db,
      sid,
      "token",
      moved.map((e) => e.id),
    );
    for (const e of moved) expect(again.get(e.id)).toStrictEqual(e);
    expect(await count("tokens", sid)).toBe(500);
  });

  it("splits rows over several statements when their JSON is long, and all of them land", async () => {
    const { sid } = await newTable();
    const db = getDb(await shardOf(sid));
    const big = "x".repeat(100_000);
    const entities = Array.from({ length: 14 }, (_, i) => token(`big${i}`, { stats: { big } }));
    const statements = upsertStatements(db, sid, "token", entities);
    expect(statements.length).toBeGreaterThanOrEqual(Math.ceil((14 * 100_000) / JSON_ROWS_CHARS));
    await run(db, statements);
    const stored = await loadEntities(
      db,
      sid,
      "token",
      entities.map((e) => e.id),
    );
    expect(stored.size).toBe(14);
    expect(stored.get("big13")?.stats).toEqual({ big });
  });

  it("inserts plain rows, nullable columns left out, in one statement", async () => {
    const { sid } = await newTable();
    const db = getDb(await shardOf(sid));
    const rows = Array.from({ length: 300 }, (_, i) => ({
      session_id: sid,
      op_id: uuid(),
      seq: i + 100,
      entity_type: "token",
      entity_id: `t${i}`,
      result: { id: `t${i}`, n: i },
      created_at: "2026-01-01T00:00:00.000Z",
      ...(i % 2 === 0 ? { user_id: "u1", op: "create" } : {}),
    }));
    const statements = insertStatements(db, appliedOps, rows);
    expect(statements).toHaveLength(1);
    await run(db, statements);
    const stored = await (await shardOf(sid))
      .prepare("SELECT * FROM applied_ops WHERE session_id = ? ORDER BY seq")
      .bind(sid)
      .all<Record<string, unknown>>();
    expect(stored.results).toHaveLength(300);
    expect(stored.results[0]).toMatchObject({ seq: 100, user_id: "u1", op: "create", result: JSON.stringify({ id: "t0", n: 0 }) });
    expect(stored.results[1]).toMatchObject({ seq: 101, user_id: null, op: null });
  });
});

describe("planning a big batch", () => {
  it("looks up the entities of 200 creates named by their op ids in a few queries, not one each", async () => {
    const { gm, sid } = await newTable();
    const seq =
      (await (await shardOf(sid)).prepare("SELECT seq FROM game_sessions WHERE id = ?").bind(sid).first<{ seq: number }>())?.seq ?? 0;
    const real = getDb(await shardOf(sid));
    let selects = 0;
    const db = new Proxy(real, {
      get(target, key, receiver) {
        if (key === "select") selects += 1;
        return Reflect.get(target, key, receiver);
      },
    });
    const ops: InternalOp[] = Array.from({ length: 200 }, (_, i) => ({
      op_id: uuid(),
      entity_type: "token",
      op: "create",
      data: { name: `T${i}` },
    }));
    const planned = await planBatch(db, sid, { userId: gm.id, role: "gm" }, ops, seq, new Date().toISOString());
    expect(planned.ok).toBe(true);
    if (!planned.ok) return;
    expect(planned.plan.results.map((r) => r.entity.id)).toEqual(ops.map((op) => op.op_id));
    expect(selects).toBeLessThan(10);
  });
});

describe("a 500-op batch", () => {
  const creates = (n: number, extra: Record<string, unknown> = {}) =>
    Array.from({ length: n }, (_, i) => ({ op_id: uuid(), entity_type: "token", op: "create", data: { name: `T${i}`, x: i, ...extra } }));

  it("is atomic: its last op failing leaves none of the 500 applied", async () => {
    const { gm, base, sid } = await newTable();
    const before = { tokens: await count("tokens", sid), log: await count("change_log", sid), ops: await count("applied_ops", sid) };
    const ops = [...creates(499), { op_id: uuid(), entity_type: "token", op: "create", data: { name: "bad", scene_id: "no-such-scene" } }];
    const r = await gm.req("POST", `${base}/batch`, { ops });
    expect(r.status).toBe(400);
    expect(r.body.error.details.op_id).toBe(ops[499]?.op_id);
    expect({ tokens: await count("tokens", sid), log: await count("change_log", sid), ops: await count("applied_ops", sid) }).toEqual(
      before,
    );
  });

  it("is idempotent: sent again, it answers the first results and writes nothing more", async () => {
    const { gm, base, sid } = await newTable();
    const ops = creates(500);
    const first = await gm.req("POST", `${base}/batch`, { ops });
    expect(first.status).toBe(200);
    expect(first.body.results).toHaveLength(500);
    const stored = { tokens: await count("tokens", sid), log: await count("change_log", sid), ops: await count("applied_ops", sid) };
    expect(stored.tokens).toBe(500);
    expect(stored.ops).toBe(500);

    const again = await gm.req("POST", `${base}/batch`, { ops });
    expect(again.status).toBe(200);
    expect(again.body.seq).toBe(first.body.seq);
    expect(again.body.results).toEqual(first.body.results);
    expect({ tokens: await count("tokens", sid), log: await count("change_log", sid), ops: await count("applied_ops", sid) }).toEqual(
      stored,
    );
    const last = first.body.results[499].entity;
    expect((await gm.req("GET", `${base}/tokens/${last.id}`)).body).toMatchObject({ name: "T499", x: 499, version: 1 });
  });
});
