/**
 * Planning does not rest on the prefetch guessing right: started from a snapshot holding only the
 * session state, the planner asks for what it lacks, the worker loads it, and the plan comes out
 * the same as with the prefetch.
 */
import { describe, expect, it } from "vitest";
import type { Change, InternalOp, Plan } from "../../domain/plan";
import { chunkId, fogIdFor } from "../../modules/fog/ids";
import { CELLS_PER_CHUNK, CHUNK_CELLS, encodeChunk } from "../../modules/fog/mask";
import { getDb } from "../../worker/db/client";
import { emptySnapshot, prefetch } from "../../worker/session/prefetch";
import { planBatch, planOnSnapshot } from "../../worker/session/write-plan";
import { create, newTable } from "../helpers/client";
import { shardOf } from "../helpers/shards";

const ALL_HIDDEN = encodeChunk(new Uint8Array(CELLS_PER_CHUNK));

function revealedAll(): string {
  const cells = new Uint8Array(CELLS_PER_CHUNK);
  for (let i = 0; i < CHUNK_CELLS * CHUNK_CELLS; i++) cells[i] = 1;
  return encodeChunk(cells);
}

/** What a plan decided, without the views its changes carry (functions). */
function decided(plan: Plan) {
  return {
    results: plan.results,
    applied: plan.applied,
    lastSeq: plan.lastSeq,
    changes: plan.changes.map(({ playerView: _view, ...c }: Change) => c),
  };
}

async function seqOf(sid: string): Promise<number> {
  return (await (await shardOf(sid)).prepare("SELECT seq FROM game_sessions WHERE id = ?").bind(sid).first<{ seq: number }>())?.seq ?? -1;
}

describe("planning with a snapshot that lacks what the ops read", () => {
  it("loads what the planner asks for and plans what the prefetch would have planned", async () => {
    const t = await newTable();
    const scene = await create(t.gm, t.base, "scenes", { name: "Mines" });
    expect((await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {})).status).toBe(200);
    const fog = await create(t.gm, t.base, "fog", {
      id: fogIdFor(scene.id),
      scene_id: scene.id,
      cell_px: 8,
      width_px: 512,
      height_px: 512,
    });
    const chunk = await create(t.gm, t.base, "fog-chunks", {
      id: chunkId(fog.id, 0, 0),
      scene_id: scene.id,
      fog_id: fog.id,
      cx: 0,
      cy: 0,
      bits: ALL_HIDDEN,
    });
    const ghoul = await create(t.gm, t.base, "tokens", { name: "Ghoul", scene_id: scene.id, x: 128, y: 128 });
    const outer = await create(t.gm, t.base, "folders", { name: "Outer", kind: "token" });
    const inner = await create(t.gm, t.base, "folders", { name: "Inner", kind: "token", parent_id: outer.id });

    const ops: InternalOp[] = [
      // The fog reveals the Ghoul: its cover, the scene's tokens and their flips.
      { op_id: crypto.randomUUID(), entity_type: "fog_chunk", op: "update", id: chunk.id, base_version: 1, data: { bits: revealedAll() } },
      // A folder moved under its own child: the walk up its parents finds the cycle only if it reads them.
      {
        op_id: crypto.randomUUID(),
        entity_type: "folder",
        op: "create",
        id: crypto.randomUUID(),
        data: { name: "New", kind: "token", parent_id: inner.id },
      },
      { op_id: crypto.randomUUID(), entity_type: "token", op: "update", id: ghoul.id, base_version: 1, data: { x: 136 } },
    ];
    const db = getDb(await shardOf(t.sid));
    const actor = { userId: t.gm.id, role: "gm" as const };
    const now = new Date().toISOString();
    const seq = await seqOf(t.sid);

    const prefetched = await planBatch(db, t.sid, actor, ops, seq, now);
    if (!prefetched.ok) throw new Error(prefetched.message);
    const source = { db, sessionId: t.sid };
    // With the prefetch, the planner needs nothing more: one round.
    const once = await planOnSnapshot(source, await prefetch(source, ops, false), actor, ops, seq, now);
    expect(once).toMatchObject({ ok: true, rounds: 1 });

    const bare = await emptySnapshot(source);
    const asked = await planOnSnapshot(source, bare, actor, ops, seq, now);
    if (!asked.ok) throw new Error(asked.message);
    expect(asked.rounds).toBeGreaterThan(3);
    expect(decided(asked.plan)).toEqual(decided(prefetched.plan));
    expect(asked.plan.changes.map((c) => [c.type, c.id, c.visibleBefore, c.visibleAfter])).toEqual([
      ["fog_chunk", chunk.id, true, true],
      ["token", ghoul.id, false, true],
      ["folder", ops[1]?.id, false, false],
      ["token", ghoul.id, true, true],
    ]);
    // What the planner asked for is in the snapshot now.
    expect(bare.covers.has(scene.id)).toBe(true);
    expect(bare.sceneTokens.get(scene.id)).toEqual([ghoul.id]);
    expect(bare.entities.get(`folder:${outer.id}`)).toMatchObject({ id: outer.id });
    // Nothing was written: planning only reads.
    expect(await seqOf(t.sid)).toBe(seq);
  });

  it("finds a folder cycle through parents the prefetch did not load", async () => {
    const t = await newTable();
    const a = await create(t.gm, t.base, "folders", { name: "A", kind: "token" });
    const b = await create(t.gm, t.base, "folders", { name: "B", kind: "token", parent_id: a.id });
    const c = await create(t.gm, t.base, "folders", { name: "C", kind: "token", parent_id: b.id });
    const db = getDb(await shardOf(t.sid));
    const source = { db, sessionId: t.sid };
    const op: InternalOp = {
      op_id: crypto.randomUUID(),
      entity_type: "folder",
      op: "update",
      id: a.id,
      base_version: 1,
      data: { parent_id: c.id },
    };
    const planned = await planOnSnapshot(
      source,
      await emptySnapshot(source),
      { userId: t.gm.id, role: "gm" },
      [op],
      await seqOf(t.sid),
      new Date().toISOString(),
    );
    expect(planned).toMatchObject({
      ok: false,
      code: "bad_request",
      details: { op_id: op.op_id, fields: [{ field: "parent_id", message: "cycle" }] },
    });
  });
});
