import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { countSave, SAVE_HISTOGRAM } from "../../worker/metrics/recorder";
import { SaveAggregate } from "../../worker/metrics/save-aggregate";
import type { SessionObject } from "../../worker/session/session-object";
import { create, newTable } from "../helpers/client";
import { TestSocket } from "../helpers/socket";

/** Saves are summed in the session object and reach D1 in one statement when it flushes. */

interface Row {
  name: string;
  labels: string;
  bucket: string;
  value: number;
}

async function counters(): Promise<Row[]> {
  return (await env.DB.prepare("SELECT name, labels, bucket, value FROM metric_counters ORDER BY name, labels, bucket").all<Row>()).results;
}

/** The value of a row, 0 when absent. */
function counterValue(rows: Row[], name: string, labels: Record<string, string>, bucket = ""): number {
  return rows.find((r) => r.name === name && r.labels === JSON.stringify(labels) && r.bucket === bucket)?.value ?? 0;
}

/** A D1 binding that counts the statements prepared on `metric_counters`, and can be made to fail. */
function countingDb(real: D1Database, fail = false) {
  const seen: string[] = [];
  const db = new Proxy(real, {
    get(target, key) {
      if (key === "prepare") {
        return (query: string) => {
          if (query.includes("metric_counters")) {
            seen.push(query);
            if (fail) throw new Error("D1 is down");
          }
          return target.prepare(query);
        };
      }
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db, seen };
}

const stubOf = (sid: string) => env.SESSION.get(env.SESSION.idFromName(sid));

describe("the save aggregate", () => {
  it("writes N saves to D1 as one statement with the right totals, and nothing until then", async () => {
    const aggregate = new SaveAggregate();
    const before = await counters();
    const durations = [1, 3, 7, 30, 30, 2000];
    expect(aggregate.add(durations[0] ?? 0, "ok", "rest")).toBe(true);
    for (const ms of durations.slice(1)) expect(aggregate.add(ms, "ok", "rest")).toBe(false);
    aggregate.add(12, "conflict", "batch");
    aggregate.add(12, "conflict", "batch");
    aggregate.add(4, "rejected", "rest");
    expect(await counters()).toEqual(before);

    const { db, seen } = countingDb(env.DB);
    // 4 buckets and a sum (rest, ok); a bucket, a sum and the conflicts (batch, conflict); a bucket and a sum (rest, rejected).
    expect(await aggregate.flush(db)).toBe(10);
    expect(aggregate.isEmpty()).toBe(true);
    expect(seen).toHaveLength(1);
    const after = await counters();
    const delta = (name: string, labels: Record<string, string>, bucket = "") =>
      counterValue(after, name, labels, bucket) - counterValue(before, name, labels, bucket);
    const ok = { route: "rest", outcome: "ok" };
    expect(delta(SAVE_HISTOGRAM, ok, "5")).toBe(2);
    expect(delta(SAVE_HISTOGRAM, ok, "10")).toBe(1);
    expect(delta(SAVE_HISTOGRAM, ok, "50")).toBe(2);
    expect(delta(SAVE_HISTOGRAM, ok, "+Inf")).toBe(1);
    expect(delta(`${SAVE_HISTOGRAM}_sum`, ok)).toBe(2071);
    expect(delta(SAVE_HISTOGRAM, { route: "batch", outcome: "conflict" }, "25")).toBe(2);
    expect(delta(`${SAVE_HISTOGRAM}_sum`, { route: "batch", outcome: "conflict" })).toBe(24);
    expect(delta("vtt_conflicts_total", { route: "batch" })).toBe(2);
    expect(delta(SAVE_HISTOGRAM, { route: "rest", outcome: "rejected" }, "5")).toBe(1);

    // Flushed: a second flush writes nothing.
    expect(await aggregate.flush(db)).toBe(0);
    expect(seen).toHaveLength(1);
  });

  it("keeps the rows of a flush D1 refused and writes them, with newer saves, in the next one", async () => {
    const aggregate = new SaveAggregate();
    const before = await counters();
    aggregate.add(8, "ok", "batch");
    const failing = countingDb(env.DB, true);
    await expect(aggregate.flush(failing.db)).rejects.toThrow("D1 is down");
    expect(aggregate.isEmpty()).toBe(false);
    expect(await counters()).toEqual(before);
    aggregate.add(9, "ok", "batch");
    const { db, seen } = countingDb(env.DB);
    expect(await aggregate.flush(db)).toBe(2);
    expect(seen).toHaveLength(1);
    const after = await counters();
    const labels = { route: "batch", outcome: "ok" };
    expect(counterValue(after, SAVE_HISTOGRAM, labels, "10") - counterValue(before, SAVE_HISTOGRAM, labels, "10")).toBe(2);
    expect(counterValue(after, `${SAVE_HISTOGRAM}_sum`, labels) - counterValue(before, `${SAVE_HISTOGRAM}_sum`, labels)).toBe(17);
  });
});

describe("saves of a session", () => {
  it("are counted by its object, REST and socket alike, and written by its alarm in one statement", async () => {
    const { gm, base, sid } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const socket = await TestSocket.open(gm, base);
    let version = token.version as number;
    const N = 4;
    for (let i = 0; i < N; i++) {
      const id = `w${i}`;
      socket.send({
        type: "ops",
        id,
        ops: [{ op_id: crypto.randomUUID(), entity_type: "token", op: "update", id: token.id, base_version: version, data: { x: i } }],
      });
      const reply = await socket.next((m) => m.id === id, `the answer to ${id}`);
      expect(reply.type).toBe("result");
      version = reply.results[0].entity.version;
    }
    for (let i = 0; i < N; i++) {
      const r = await gm.req("PATCH", `${base}/tokens/${token.id}`, { y: i }, { "if-match": `"${version}"` });
      expect(r.status).toBe(200);
      version = r.body.version;
    }
    const stale = await gm.req("PATCH", `${base}/tokens/${token.id}`, { y: 99 }, { "if-match": '"1"' });
    expect(stale.status).toBe(409);

    // The REST saves reach the object after their answers: wait (bounded) until it holds them all.
    const held = () =>
      runInDurableObject(stubOf(sid), (instance: SessionObject) =>
        instance.saveMetrics.rows().reduce((n, r) => n + (r.name === SAVE_HISTOGRAM ? r.value : 0), 0),
      );
    for (let i = 0; i < 100 && (await held()) < 2 * N + 2; i++) await new Promise((r) => setTimeout(r, 10));

    const before = await counters();
    const written = await runInDurableObject(stubOf(sid), async (instance: SessionObject) => {
      const saves = instance.saveMetrics.rows();
      const self = instance as unknown as { env: Env };
      const real = self.env.DB;
      const { db, seen } = countingDb(real);
      self.env = { ...self.env, DB: db };
      try {
        await instance.alarm();
      } finally {
        self.env = { ...self.env, DB: real };
      }
      return { saves, statements: seen.length, left: instance.saveMetrics.isEmpty() };
    });
    // The create, N socket writes, N PATCHes and the stale PATCH: one statement wrote them all.
    const count = (rows: { name: string; labels: Record<string, string>; value: number }[], route: string, outcome: string) =>
      rows
        .filter((r) => r.name === SAVE_HISTOGRAM && r.labels.route === route && r.labels.outcome === outcome)
        .reduce((n, r) => n + r.value, 0);
    expect(count(written.saves, "batch", "ok")).toBe(N);
    expect(count(written.saves, "rest", "ok")).toBe(N + 1);
    expect(count(written.saves, "rest", "conflict")).toBe(1);
    expect(written.statements).toBe(1);
    expect(written.left).toBe(true);
    const after = await counters();
    const delta = (labels: Record<string, string>) =>
      after.filter((r) => r.name === SAVE_HISTOGRAM && r.labels === JSON.stringify(labels)).reduce((n, r) => n + r.value, 0) -
      before.filter((r) => r.name === SAVE_HISTOGRAM && r.labels === JSON.stringify(labels)).reduce((n, r) => n + r.value, 0);
    expect(delta({ route: "batch", outcome: "ok" })).toBe(N);
    expect(delta({ route: "rest", outcome: "ok" })).toBe(N + 1);
    expect(delta({ route: "rest", outcome: "conflict" })).toBe(1);
    expect(
      counterValue(after, "vtt_conflicts_total", { route: "rest" }) - counterValue(before, "vtt_conflicts_total", { route: "rest" }),
    ).toBe(1);
    socket.close();
  });

  it("reach D1 on their own: the first save sets the alarm that flushes them", async () => {
    const { gm, base, sid } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const socket = await TestSocket.open(gm, base);
    const labels = JSON.stringify({ route: "batch", outcome: "ok" });
    const batchSaves = async () =>
      Number(
        await env.DB.prepare("SELECT COALESCE(SUM(value), 0) AS n FROM metric_counters WHERE name = ? AND labels = ?")
          .bind(SAVE_HISTOGRAM, labels)
          .first("n"),
      );
    const before = await batchSaves();
    socket.send({
      type: "ops",
      id: "one",
      ops: [{ op_id: crypto.randomUUID(), entity_type: "token", op: "update", id: token.id, base_version: 1, data: { x: 5 } }],
    });
    expect((await socket.next((m) => m.id === "one", "the answer")).type).toBe("result");
    // No flush forced: the object's alarm writes it a couple of seconds later (polled, bounded).
    let n = before;
    for (let i = 0; i < 100 && n < before + 1; i++) {
      await new Promise((r) => setTimeout(r, 100));
      n = await batchSaves();
    }
    expect(n).toBe(before + 1);
    expect(await runInDurableObject(stubOf(sid), (instance: SessionObject) => instance.saveMetrics.isEmpty())).toBe(true);
    socket.close();
  });

  it("are upserted in D1 directly when the worker cannot reach the object to count one", async () => {
    const down = {
      ...env,
      SESSION: { idFromName: () => ({}), get: () => ({ countSave: () => Promise.reject(new Error("object unreachable")) }) },
    } as unknown as Env;
    const labels = { route: "rest", outcome: "error" };
    const before = counterValue(await counters(), `${SAVE_HISTOGRAM}_sum`, labels);
    await countSave(down, "no-such-session", 77, "error", "rest");
    expect(counterValue(await counters(), `${SAVE_HISTOGRAM}_sum`, labels) - before).toBe(77);
  });
});
