import { env, runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { app } from "../../worker/app";
import { batchUsage, D1_BATCHES, D1_ROWS_WRITTEN, D1_STATEMENTS, type D1Usage, usageFrom } from "../../worker/metrics/d1-usage";
import type { SessionObject } from "../../worker/session/session-object";
import { create, newTable, ORIGIN } from "../helpers/client";
import { jsonLines } from "../helpers/log-lines";
import { shardOf } from "../helpers/shards";
import { TestSocket } from "../helpers/socket";

/** What D1 reports for a session's commits is summed in its object and flushed with its saves. */

const stubOf = (sid: string) => env.SESSION.get(env.SESSION.idFromName(sid));

/** The sessions of this file: each test ends with their counters flushed, so no alarm of theirs moves D1's sums later. */
const sessions: string[] = [];
afterEach(async () => {
  for (const sid of sessions) await runInDurableObject(stubOf(sid), (instance: SessionObject) => instance.saveMetrics.flush(env.DB));
});

/** The counter rows in D1 (every session's flushes). */
async function flushedRows(): Promise<{ name: string; value: number }[]> {
  return (await env.DB.prepare("SELECT name, value FROM metric_counters").all<{ name: string; value: number }>()).results;
}

/**
 * Watches what the session's object adds to its aggregate for its commits from now on (the
 * object runs in this isolate: the list is shared). Exact whatever its alarm flushes meanwhile.
 */
async function watchCommits(sid: string): Promise<D1Usage[]> {
  const seen: D1Usage[] = [];
  await runInDurableObject(stubOf(sid), (instance: SessionObject) => {
    const aggregate = instance.saveMetrics;
    const add = aggregate.addCommit.bind(aggregate);
    aggregate.addCommit = (u: D1Usage) => {
      seen.push(u);
      return add(u);
    };
  });
  return seen;
}

/** The sum of the commits watched. */
function total(seen: readonly D1Usage[]): D1Usage {
  const sum = (key: keyof D1Usage) => seen.reduce((n, u) => n + u[key], 0);
  return {
    batches: sum("batches"),
    statements: sum("statements"),
    rowsRead: sum("rowsRead"),
    rowsWritten: sum("rowsWritten"),
    durationMs: sum("durationMs"),
    roundTripMs: sum("roundTripMs"),
  };
}

function minus(a: D1Usage, b: D1Usage): D1Usage {
  return {
    batches: a.batches - b.batches,
    statements: a.statements - b.statements,
    rowsRead: a.rowsRead - b.rowsRead,
    rowsWritten: a.rowsWritten - b.rowsWritten,
    durationMs: a.durationMs - b.durationMs,
    roundTripMs: a.roundTripMs - b.roundTripMs,
  };
}

/** Rows of a session in the tables a commit writes. */
async function rowsOf(sid: string) {
  const count = async (table: string) =>
    Number(await (await shardOf(sid)).prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE session_id = ?`).bind(sid).first("n"));
  return { changes: await count("change_log"), applied: await count("applied_ops"), tokens: await count("tokens") };
}

describe("batchUsage", () => {
  it("sums each result's meta and counts the statements; a missing or odd meta counts 0", () => {
    const u = batchUsage(
      [
        { meta: { rows_read: 2, rows_written: 3, duration: 0.5, changes: 1 } },
        { meta: { rows_read: 1, rows_written: 4, duration: 0.25 } },
        { meta: { rows_read: "x", rows_written: Number.NaN } },
        {},
        null,
      ],
      4.5,
    );
    expect(u).toEqual({ batches: 1, statements: 5, rowsRead: 3, rowsWritten: 7, durationMs: 0.75, roundTripMs: 4.5 });
  });
});

describe("D1 usage of a session's commits", () => {
  it("one PATCH adds one batch, one statement a table written and at least the rows it stored", async () => {
    const { gm, base, sid } = await newTable();
    sessions.push(sid);
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const seen = await watchCommits(sid);
    const rowsBefore = await rowsOf(sid);
    const r = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 7 }, { "if-match": `"${token.version}"` });
    expect(r.status).toBe(200);
    expect(r.body.x).toBe(7);
    // Answered once D1 holds it: the commit is counted by then.
    const d = total(seen);
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
    expect(d.roundTripMs).toBeGreaterThanOrEqual(0);
  });

  it("a 50-op batch of creates over the socket writes at least 50 rows into each table, in a few statements", async () => {
    const { gm, base, sid } = await newTable();
    sessions.push(sid);
    const scene = await create(gm, base, "scenes", { name: "Hall" });
    const socket = await TestSocket.open(gm, base);
    const seen = await watchCommits(sid);
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
    for (let i = 0; i < 100 && seen.length < 1; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    const d = total(seen);
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

  it("goes to Analytics Engine when bound, one data point a batch; a failing dataset never fails the write", async () => {
    const { gm, base, sid } = await newTable();
    sessions.push(sid);
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const points: AnalyticsEngineDataPoint[] = [];
    let failing = false;
    const dataset = {
      writeDataPoint(point: AnalyticsEngineDataPoint) {
        if (failing && point.indexes?.[0] === "d1_commit") throw new Error("Analytics Engine refused the point");
        points.push(point);
      },
    };
    const commitsBefore = await runInDurableObject(stubOf(sid), async (instance: SessionObject) => {
      await instance.saveMetrics.flush(env.DB);
      const self = instance as unknown as { env: Env };
      self.env = { ...self.env, METRICS_AE: dataset } as Env;
      return instance.writeLog.commits;
    });
    try {
      const r = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 3 }, { "if-match": `"${token.version}"` });
      expect(r.status).toBe(200);
      const commitPoints = points.filter((p) => p.indexes?.[0] === "d1_commit");
      expect(commitPoints).toHaveLength(1);
      const [statements, , rowsWritten] = commitPoints[0]?.doubles ?? [];
      expect(statements).toBeGreaterThanOrEqual(3);
      expect(rowsWritten).toBeGreaterThanOrEqual(3);
      // Nothing of it waits for D1's counters.
      const held = await runInDurableObject(stubOf(sid), (instance: SessionObject) => instance.saveMetrics.rows());
      expect(usageFrom(held)).toEqual(usageFrom([]));

      failing = true;
      const errors = vi.spyOn(console, "error");
      const again = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 4 }, { "if-match": `"${r.body.version}"` });
      expect(again.status).toBe(200);
      expect(again.body.x).toBe(4);
      // The counting's failure is logged as such; the commit is not taken for failed (no check, no retry).
      const messages = jsonLines(errors).map((l) => l.msg);
      errors.mockRestore();
      expect(messages).toContain("counting a D1 commit failed");
      expect(messages).not.toContain("committing logged batches to D1 failed; they stay logged");
      // Landed once: one commit each, no retry taken for a failure of the counting.
      expect(await runInDurableObject(stubOf(sid), (instance: SessionObject) => instance.writeLog.commits)).toBe(commitsBefore + 2);
      const stored = await (await shardOf(sid))
        .prepare("SELECT x, version FROM tokens WHERE session_id = ? AND id = ?")
        .bind(sid, token.id)
        .first<{ x: number; version: number }>();
      expect(stored).toEqual({ x: 4, version: again.body.version });
    } finally {
      await runInDurableObject(stubOf(sid), (instance: SessionObject) => {
        const self = instance as unknown as { env: Env };
        const { METRICS_AE: _ae, ...rest } = self.env as Env & { METRICS_AE?: unknown };
        self.env = rest as Env;
      });
    }
  });

  it("reaches D1 with the saves, shows on the metrics endpoint and the bench route", async () => {
    const before = usageFrom(await flushedRows());
    const { gm, base, sid } = await newTable();
    sessions.push(sid);
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const r = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": `"${token.version}"` });
    expect(r.status).toBe(200);
    // Flushed now (its alarm may have flushed part already): D1 then holds both commits, the create and the PATCH.
    await runInDurableObject(stubOf(sid), (instance: SessionObject) => instance.saveMetrics.flush(env.DB));
    expect(usageFrom(await runInDurableObject(stubOf(sid), (instance: SessionObject) => instance.saveMetrics.rows()))).toEqual(
      usageFrom([]),
    );
    // An alarm's flush may still be on its way: wait (bounded) until D1 holds both.
    let stored = usageFrom(await flushedRows());
    for (let i = 0; i < 100 && stored.batches - before.batches < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      stored = usageFrom(await flushedRows());
    }
    const d = minus(stored, before);
    expect(d.batches).toBe(2);
    expect(d.statements).toBeGreaterThanOrEqual(6);
    expect(d.rowsWritten).toBeGreaterThanOrEqual(6);

    const scrape = await SELF.fetch(`${ORIGIN}/api/vtt/metrics`, { headers: { authorization: "Bearer test-metrics-token" } });
    expect(scrape.status).toBe(200);
    const text = await scrape.text();
    expect(text).toContain("# TYPE vtt_d1_commit_statements_total counter");
    const sample = (name: string) => Number(text.match(new RegExp(`^${name} (\\S+)$`, "m"))?.[1]);
    expect(sample(D1_BATCHES)).toBe(stored.batches);
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
      round_trip_ms: stored.roundTripMs,
    });
  });
});
