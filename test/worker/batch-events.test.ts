/**
 * The token_created event of a save: one however many tokens it created, so a 500-op batch is one
 * log line (or one Analytics Engine data point, of the 250 an invocation may write), not 500.
 */
import { env } from "cloudflare:test";
import type { Context } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import { timeSave } from "../../worker/metrics/recorder";
import type { AppEnv } from "../../worker/types";
import { create, newTable } from "../helpers/client";
import { eventLines } from "../helpers/log-lines";
import { shardOf } from "../helpers/shards";

afterEach(() => {
  vi.restoreAllMocks();
});

const events = eventLines;

describe("token_created", () => {
  it("is one log line for a batch of creates, with their count and ids, and keeps its token_id for one", async () => {
    const { gm, base, sid } = await newTable();
    const spy = vi.spyOn(console, "log");
    const ops = Array.from({ length: 300 }, (_, i) => ({
      op_id: crypto.randomUUID(),
      entity_type: "token",
      op: "create",
      data: { name: `T${i}` },
    }));
    const r = await gm.req("POST", `${base}/batch`, {
      ops: [...ops, { op_id: crypto.randomUUID(), entity_type: "scene", op: "create", data: { name: "Not a token" } }],
    });
    expect(r.status).toBe(200);
    const ids = r.body.results.slice(0, 300).map((x: any) => x.entity.id);
    expect(events(spy, "token_created")).toEqual([
      expect.objectContaining({ session_id: sid, user_id: gm.id, count: 300, token_ids: ids }),
    ]);
    const stored = await (await shardOf(sid))
      .prepare("SELECT COUNT(*) AS n FROM tokens WHERE session_id = ?")
      .bind(sid)
      .first<{ n: number }>();
    expect(stored?.n).toBe(300);

    spy.mockClear();
    const one = await create(gm, base, "tokens", { name: "Alone" });
    const [event] = events(spy, "token_created");
    expect(event).toMatchObject({ session_id: sid, token_id: one.id, user_id: gm.id });
    expect(event).not.toHaveProperty("count");
  });

  it("is one Analytics Engine data point counting the tokens when a dataset is bound", async () => {
    const writeDataPoint = vi.fn();
    const bound = { ...env, METRICS_AE: { writeDataPoint } } as unknown as Env;
    const c = {
      env: bound,
      get: (key: string) => (key === "member" ? { sessionId: "s1" } : key === "user" ? { id: "u1" } : undefined),
      executionCtx: { waitUntil: () => undefined },
    } as unknown as Context<AppEnv>;
    const ops = Array.from({ length: 500 }, (_, i) => ({ op_id: `o${i}`, entity_type: "token", op: "create", data: {} }));
    const results = ops.map((_, i) => ({ op_id: `o${i}`, entity: { id: `t${i}` } }));
    await timeSave(c, "batch", ops, async () => ({ seq: 1, results }));
    const created = writeDataPoint.mock.calls.filter(([point]) => point.indexes[0] === "token_created");
    expect(created).toEqual([[{ indexes: ["token_created"], blobs: ["token_created", "s1", expect.any(String)], doubles: [500] }]]);
    expect(writeDataPoint).toHaveBeenCalledTimes(2); // and the save itself
  });
});
