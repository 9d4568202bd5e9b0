/**
 * The planner as a pure function: a snapshot of plain objects in, a plan (or a failure, or what
 * it still needs) out.
 */
import { describe, expect, it } from "vitest";
import type { AnyEntity, EntityType } from "../../domain/entities";
import { planCreate } from "../../domain/ops";
import type { Actor } from "../../domain/permissions";
import {
  type InternalOp,
  initialSessionState,
  type PlanOptions,
  type PlanOutcome,
  type PlanSnapshot,
  planOps,
  type StoredOp,
} from "../../domain/plan";
import { sceneCellPx } from "../../domain/visibility";
import { chunkId, fogIdFor } from "../../modules/fog/ids";
import { CELLS_PER_CHUNK, CHUNK_CELLS, encodeChunk } from "../../modules/fog/mask";
import { registry } from "../helpers/registry";

const gm = { userId: "gm1", role: "gm" as const };
const player = { userId: "p1", role: "player" as const };
const now = "2026-01-01T00:00:00.000Z";
const later = "2026-01-02T00:00:00.000Z";

/** An entity as the rules make it. */
function made(type: EntityType, id: string, data: Record<string, unknown>): AnyEntity {
  const planned = planCreate(registry, type, id, data, gm, now);
  if (!planned.ok) throw new Error(planned.message);
  return planned.entity;
}

const scene = made("scene", "s1", { name: "Mines" });
const state = { ...initialSessionState("gm1", now), active_scene_id: "s1" };

/** The snapshot of a session whose active scene is `s1`, holding `entities` (null: looked up, none). */
function snapshotOf(entities: [EntityType, string, AnyEntity | null][], extra: Partial<PlanSnapshot> = {}): PlanSnapshot {
  return {
    entities: new Map<string, AnyEntity | null>([
      [`session_state:${state.id}`, state],
      ["scene:s1", scene],
      ...entities.map(([type, id, entity]): [string, AnyEntity | null] => [`${type}:${id}`, entity]),
    ]),
    sessionState: state,
    covers: new Map([["s1", { entities: [], cellPx: sceneCellPx(scene) }]]),
    sceneTokens: new Map(),
    assets: new Map(),
    applied: new Map(),
    ...extra,
  };
}

/** `planOps` on a snapshot that also knows the batch's op ids to be new (no earlier op). */
function known(snapshot: PlanSnapshot, ops: InternalOp[], actor: Actor, at: string, options: PlanOptions): PlanOutcome {
  const applied = new Map(snapshot.applied);
  for (const op of ops) if (!applied.has(op.op_id)) applied.set(op.op_id, null);
  return planOps({ ...snapshot, applied }, ops, actor, at, options);
}

function planned(outcome: PlanOutcome) {
  if (outcome.ok !== true) throw new Error(`expected a plan, got ${JSON.stringify(outcome)}`);
  return outcome.plan;
}

const update = (id: string, base_version: number, data: Record<string, unknown>, op_id = crypto.randomUUID()): InternalOp => ({
  op_id,
  entity_type: "token",
  op: "update",
  id,
  base_version,
  data,
});

describe("planOps", () => {
  it("plans an update as the next version at the next seq, visible to players before and after", () => {
    const orc = made("token", "t1", { name: "Orc", scene_id: "s1" });
    const plan = planned(known(snapshotOf([["token", "t1", orc]]), [update("t1", 1, { x: 70 })], gm, later, { registry, seq: 10 }));
    expect(plan.lastSeq).toBe(11);
    expect(plan.changes).toHaveLength(1);
    expect(plan.changes[0]).toMatchObject({
      seq: 11,
      type: "token",
      id: "t1",
      op: "update",
      visibleBefore: true,
      visibleAfter: true,
    });
    expect(plan.changes[0]?.entity).toMatchObject({ version: 2, x: 70, updated_at: later });
    expect(plan.applied).toEqual([expect.objectContaining({ seq: 11, entity_id: "t1", user_id: "gm1", op: "update" })]);
  });

  it("answers a conflict with the stored entity when the base version is stale", () => {
    const orc = { ...made("token", "t1", { name: "Orc", scene_id: "s1" }), version: 3 };
    const op = update("t1", 2, { x: 70 });
    const outcome = known(snapshotOf([["token", "t1", orc]]), [op], gm, later, { registry, seq: 10 });
    expect(outcome).toMatchObject({ ok: false, code: "conflict", details: { op_id: op.op_id, current: orc } });
  });

  it("forbids a player to rename a token, even their own, and to create anything", () => {
    const hero = made("token", "t1", { name: "Hero", scene_id: "s1", owner_user_ids: ["p1"] });
    const snapshot = snapshotOf([["token", "t1", hero]]);
    expect(known(snapshot, [update("t1", 1, { name: "Zero" })], player, later, { registry, seq: 10 })).toMatchObject({
      ok: false,
      code: "forbidden",
    });
    const create: InternalOp = { op_id: "o1", entity_type: "token", op: "create", data: { name: "Mine" }, fresh: true };
    expect(known(snapshot, [create], player, later, { registry, seq: 10 })).toMatchObject({ ok: false, code: "forbidden" });
    // Their own move is theirs to make.
    expect(planned(known(snapshot, [update("t1", 1, { x: 10 })], player, later, { registry, seq: 10 })).changes).toHaveLength(1);
  });

  it("tells a player a token they cannot see does not exist", () => {
    const ghost = made("token", "t1", { name: "Ghost", scene_id: "s1", hidden: true });
    const op = update("t1", 1, { x: 10 });
    expect(known(snapshotOf([["token", "t1", ghost]]), [op], player, later, { registry, seq: 10 })).toMatchObject({
      ok: false,
      code: "not_found",
      details: { op_id: op.op_id },
    });
  });

  it("refuses a reference to an entity the session does not have", () => {
    const op: InternalOp = { op_id: "o1", entity_type: "token", op: "create", id: "t9", data: { name: "Lost", scene_id: "nowhere" } };
    const outcome = known(
      snapshotOf([
        ["token", "t9", null],
        ["scene", "nowhere", null],
      ]),
      [op],
      gm,
      later,
      { registry, seq: 10 },
    );
    expect(outcome).toMatchObject({ ok: false, code: "bad_request", details: { op_id: "o1", fields: [{ field: "scene_id" }] } });
  });

  it("brings a token under the fog into view when a fog write reveals it, as a change of its own", () => {
    const cells = (revealed: boolean) => {
      const out = new Uint8Array(CELLS_PER_CHUNK);
      // The token's box: 1 cell of the scene at (128, 128), fog cells of 8 px from 16 on.
      const last = 16 + Math.ceil(sceneCellPx(scene) / 8);
      if (revealed) for (let r = 16; r < last; r++) for (let c = 16; c < last; c++) out[r * CHUNK_CELLS + c] = 1;
      return encodeChunk(out);
    };
    const fog = made("fog", fogIdFor("s1"), { scene_id: "s1", cell_px: 8, width_px: 512, height_px: 512 });
    const chunk = made("fog_chunk", chunkId(fog.id, 0, 0), { scene_id: "s1", fog_id: fog.id, cx: 0, cy: 0, bits: cells(false) });
    const ghoul = made("token", "t1", { name: "Ghoul", scene_id: "s1", x: 128, y: 128 });
    const hero = made("token", "t2", { name: "Hero", scene_id: "s1", x: 0, y: 0, owner_user_ids: ["p1"] });
    const snapshot = snapshotOf(
      [
        ["fog", fog.id, fog],
        ["fog_chunk", chunk.id, chunk],
        ["token", "t1", ghoul],
        ["token", "t2", hero],
      ],
      {
        covers: new Map([
          [
            "s1",
            {
              entities: [
                { type: "fog", entity: fog },
                { type: "fog_chunk", entity: chunk },
              ],
              cellPx: sceneCellPx(scene),
            },
          ],
        ]),
        sceneTokens: new Map([["s1", ["t1", "t2"]]]),
      },
    );
    const op: InternalOp = {
      op_id: "o1",
      entity_type: "fog_chunk",
      op: "update",
      id: chunk.id,
      base_version: 1,
      data: { bits: cells(true) },
    };
    const plan = planned(known(snapshot, [op], gm, later, { registry, seq: 10 }));
    expect(plan.changes.map((c) => ({ seq: c.seq, type: c.type, id: c.id, before: c.visibleBefore, after: c.visibleAfter }))).toEqual([
      { seq: 11, type: "fog_chunk", id: chunk.id, before: true, after: true },
      { seq: 12, type: "token", id: "t1", before: false, after: true },
    ]);
    // The token itself did not change: same version, not rewritten.
    expect(plan.changes[1]).toMatchObject({ coverOnly: true, entity: ghoul, previous: ghoul });
    // The Hero stays under fog for other players, but never for their owner.
    expect(plan.changes.some((c) => c.id === "t2")).toBe(false);
    expect(plan.applied).toEqual([expect.objectContaining({ op_id: "o1", seq: 12 })]);
  });

  it("answers a replay with its first result and plans nothing, and refuses an op id reused for another op", () => {
    const orc = { ...made("token", "t1", { name: "Orc", scene_id: "s1", x: 70 }), version: 2 };
    const stored: StoredOp = { seq: 7, entity_type: "token", entity_id: "t1", user_id: "gm1", op: "update", result: orc };
    const snapshot = snapshotOf([["token", "t1", { ...orc, version: 5 }]], { applied: new Map([["o1", stored]]) });
    const replay = update("t1", 1, { x: 70 }, "o1");
    const plan = planned(known(snapshot, [replay], gm, later, { registry, seq: 20 }));
    expect(plan).toEqual({ results: [{ op_id: "o1", entity: orc }], changes: [], applied: [], replayedSeq: 7, lastSeq: 20 });
    const reused = { ...replay, data: { name: "Other" }, entity_type: "scene" as const, id: "s1" };
    expect(known(snapshot, [reused], gm, later, { registry, seq: 20 })).toMatchObject({
      ok: false,
      code: "conflict",
      details: { op_id: "o1", reason: "op_id_reused" },
    });
  });

  it("gives a player the removed form when replaying a write to a token they can no longer see", () => {
    const hero = made("token", "t1", { name: "Hero", scene_id: "s1", owner_user_ids: ["p1"] });
    const moved = { ...hero, version: 2, x: 10 };
    const stored: StoredOp = { seq: 7, entity_type: "token", entity_id: "t1", user_id: "p1", op: "update", result: moved };
    const hidden = { ...moved, version: 3, hidden: true };
    const snapshot = snapshotOf([["token", "t1", hidden]], { applied: new Map([["o1", stored]]) });
    const plan = planned(known(snapshot, [update("t1", 1, { x: 10 }, "o1")], player, later, { registry, seq: 20 }));
    expect(plan.results).toEqual([{ op_id: "o1", entity: { id: "t1", version: 2, removed: true } }]);
  });

  it("asks for what the snapshot lacks instead of guessing, and plans once it is there", () => {
    const orc = made("token", "t1", { name: "Orc", scene_id: "s1" });
    const ops = [update("t1", 1, { x: 70 }, "o1")];
    const bare = snapshotOf([]);
    expect(planOps(bare, ops, gm, later, { registry, seq: 10 })).toEqual({ ok: "need", needs: [{ kind: "op", opId: "o1" }] });
    const withOps = { ...bare, applied: new Map([["o1", null]]) };
    expect(planOps(withOps, ops, gm, later, { registry, seq: 10 })).toEqual({
      ok: "need",
      needs: [{ kind: "entity", type: "token", id: "t1" }],
    });
    const noCover = { ...withOps, entities: new Map([...withOps.entities, ["token:t1", orc]]), covers: new Map() };
    expect(planOps(noCover, ops, gm, later, { registry, seq: 10 })).toEqual({ ok: "need", needs: [{ kind: "cover", sceneId: "s1" }] });
    const complete = { ...noCover, covers: bare.covers };
    expect(planned(planOps(complete, ops, gm, later, { registry, seq: 10 })).changes[0]?.entity).toMatchObject({ x: 70, version: 2 });
  });
});
