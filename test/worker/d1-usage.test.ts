import { env, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../../worker/app";
import { batchUsage, D1_ROWS_WRITTEN, D1_STATEMENTS, type D1Usage, usageFrom } from "../../worker/metrics/d1-usage";
import type { SessionObject } from "../../worker/session/session-object";
import { create, newTable, ORIGIN } from "../helpers/client";
import { TestSocket } from "../helpers/socket";

/** What D1 reports for a session's commits is summed in its object and flushed with its saves. */

const stubOf = (sid: string) => env.SESSION.get(env.SESSION.idFromName(sid));

/** Everything counted so far: flushed to D1 (any session) plus what the object still holds. */
async function usage(sid: string): Promise<D1Usage> {
  const flushed = (await env.DB.prepare("SELECT name, value FROM metric_counters").all<{ name: string; value: number }>()).results;
  const held = await runInDurableObject(stubOf(sid), (instance: SessionObject) => instance.saveMetrics.rows());
  return usageFrom([...flushed, ...held]);
}

function minus(a: D1Usage, b: D1Usage): D1Usage {
  return {
    batches: a.batches - b.batches,
    statements: a.statements - b.statements,
    rowsRead: a.rowsRead - b.rowsRead,
    rowsWritten: a.rowsWritten - b.rowsWritten,
    durationMs: a.durationMs - b.durationMs,
  };
}

/** Rows of a session in the tables a commit writes. */
async function rowsOf(sid: string) {
  const count = async (table: string) =>
    Number(await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE session_id = ?`).bind(sid).first("n"));
  return { changes: await count("change_log"), applied: await count("applied_ops"), tokens: await count("tokens") };
}

describe("batchUsage", () => {
  it("sums each result's meta and counts the statements; a missing or odd meta counts 0", () => {
    const u = batchUsage([
      { meta: { rows_read: 2, rows_written: 3, duration: 0.5, changes: 1 } },
      { meta: { rows_read: 1, rows_written: 4, duration: 0.25 } },
      { meta: { rows_read: "x", rows_written: Number.NaN } },
      {},
      null,
    ]);
    expect(u).toEqual({ batches: 1, statements: 5, rowsRead: 3, rowsWritten: 7, durationMs: 0.75 });
  });
});

describe("D1 usage of a session's commits", () => {
  it("one PATCH adds one batch, one statement a table written and at least the rows it stored", async () => {
    const { gm, base, sid } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const before = await usage(sid);
    const rowsBefore = await rowsOf(sid);
    const r = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 7 }, { "if-match": `"${token.version}"` });
    expect(r.status).toBe(200);
    expect(r.body.x).toBe(7);
    // Answered once D1 holds it: the commit is counted by then.
    const d = minus(await usage(sid), before);
    const rowsAfter = await rowsOf(sid);
    const logged = rowsAfter.changes - rowsBefore.changes;
    const recorded = rowsAfter.applied - rowsBefore.applied;
    expect(logged).toBe(1);
    expect(rowsAfter.tokens).toBe(rowsBefore.tokens);
    expect(d.batches).toBe(1);
    // The token upsert, the change log, the idempotency records (when any), the seq update.
    expect(d.statements).toBe(3 + (recorded > 0 ? 1 : 0));
    // Each of those rows, plus the token overwritten and the session's seq: index entries come on top.
    expect(d.rowsWritten).toBeGreaterThanOrEqual(logged + recorded + 1 + 1);
    expect(d.rowsRead).toBeGreaterThanOrEqual(1);
    expect(d.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("a 50-op batch of creates over the socket writes at least 50 rows into each table, in a few statements", async () => {
    const { gm, base, sid } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "Hall" });
    const socket = await TestSocket.open(gm, base);
    const before = await usage(sid);
    const rowsBefore = await rowsOf(sid);
    const ops = Array.from({ length: 50 }, (_, i) => ({
      op_id: crypto.randomUUID(),
      entity_type: "token",
      op: "create",
      data: { name: `T${i}`, scene_id: scene.id, x: i, y: 0 },
    }));
    socket.send({ type: "ops", id: "fifty", ops });
    const reply = await socket.next((m) => m.id === "fifty", "the answer");
    expect(reply.type).toBe("result");
    expect(reply.results).toHaveLength(50);
    // The socket's answer may come before D1 holds it: wait (bounded) until the commit is counted.
    let d = minus(await usage(sid), before);
    for (let i = 0; i < 100 && d.batches < 1; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      d = minus(await usage(sid), before);
    }
    const rowsAfter = await rowsOf(sid);
    expect(rowsAfter.tokens - rowsBefore.tokens).toBe(50);
    expect(rowsAfter.changes - rowsBefore.changes).toBe(50);
    expect(rowsAfter.applied - rowsBefore.applied).toBe(50);
    expect(d.batches).toBe(1);
    // Many rows a statement (json_each): far fewer statements than rows.
    expect(d.statements).toBeGreaterThanOrEqual(4);
    expect(d.statements).toBeLessThan(20);
    expect(d.rowsWritten).toBeGreaterThanOrEqual(3 * 50 + 1);
    socket.close();
  });

  it("reaches D1 with the saves, shows on the metrics endpoint and the bench route", async () => {
    const { gm, base, sid } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const r = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": `"${token.version}"` });
    expect(r.status).toBe(200);
    const held = usageFrom(await runInDurableObject(stubOf(sid), (instance: SessionObject) => instance.saveMetrics.rows()));
    expect(held.batches).toBeGreaterThanOrEqual(2);
    const flushedBefore = usageFrom(
      (await env.DB.prepare("SELECT name, value FROM metric_counters").all<{ name: string; value: number }>()).results,
    );
    await runInDurableObject(stubOf(sid), (instance: SessionObject) => instance.saveMetrics.flush(env.DB));
    const stored = usageFrom((await env.DB.prepare("SELECT name, value FROM metric_counters").all<{ name: string; value: number }>()).results);
    expect(minus(stored, flushedBefore)).toEqual(minus(held, usageFrom([])));

    const scrape = await SELF.fetch(`${ORIGIN}/api/vtt/metrics`, { headers: { authorization: "Bearer test-metrics-token" } });
    expect(scrape.status).toBe(200);
    const text = await scrape.text();
    expect(text).toContain("# TYPE vtt_d1_commit_statements_total counter");
    const sample = (name: string) => Number(text.match(new RegExp(`^${name} (\\S+)$`, "m"))?.[1]);
    expect(sample(D1_STATEMENTS)).toBe(stored.statements);
    expect(sample(D1_ROWS_WRITTEN)).toBe(stored.rowsWritten);

    // The bench's view of the same sums, only where BENCH_ROUTES is "1".
    const hidden = await app.request("/api/bench/d1-usage", {}, env);
    expect(hidden.status).toBe(404);
    const bench = await app.request("/api/bench/d1-usage", {}, { ...env, BENCH_ROUTES: "1" });
    expect(bench.status).toBe(200);
    expect(await bench.json()).toEqual({
      batches: stored.batches,
      statements: stored.statements,
      rows_read: stored.rowsRead,
      rows_written: stored.rowsWritten,
      duration_ms: stored.durationMs,
    });
  });
});
