/**
 * A commit whose answer is lost: the session object asks D1 whether the plan landed before it
 * plans the writes again, so server-made ops are never applied twice.
 */
import { describe, expect, it } from "vitest";
import { getDb } from "../../worker/db/client";
import { commitPlan, planLanded } from "../../worker/db/commit";
import { planBatch } from "../../worker/session/write-plan";
import { newTable } from "../helpers/client";
import { shardOf } from "../helpers/shards";

describe("planLanded", () => {
  it("is false before the plan's commit and true after it, and false for a plan of only replays", async () => {
    const t = await newTable();
    const db = getDb(await shardOf(t.sid));
    const seqOf = async () =>
      (await (await shardOf(t.sid)).prepare("SELECT seq FROM game_sessions WHERE id = ?").bind(t.sid).first<{ seq: number }>())?.seq ?? -1;
    const seq = await seqOf();
    const op = { op_id: crypto.randomUUID(), entity_type: "scene" as const, op: "create" as const, data: { name: "Keep" }, fresh: true };
    const now = new Date().toISOString();
    const planned = await planBatch(db, t.sid, { userId: t.gm.id, role: "gm" }, [op], seq, now);
    if (!planned.ok) throw new Error(planned.message);
    expect(await planLanded(db, t.sid, planned.plan)).toBe(false);
    await commitPlan(db, t.sid, planned.plan, seq, now);
    expect(await planLanded(db, t.sid, planned.plan)).toBe(true);

    const replay = await planBatch(db, t.sid, { userId: t.gm.id, role: "gm" }, [{ ...op, fresh: false }], await seqOf(), now);
    if (!replay.ok) throw new Error(replay.message);
    expect(replay.plan.applied).toEqual([]);
    expect(await planLanded(db, t.sid, replay.plan)).toBe(false);
  });
});
