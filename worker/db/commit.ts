/**
 * Committing a plan (domain/plan.ts): entity rows, change log, op records, timeline and the
 * session's seq in one atomic D1 batch.
 */
import { and, eq } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { AnyEntity, EntityType } from "../../domain/entities";
import { createMergePatch, type Json } from "../../domain/merge-patch";
import type { Change, Plan } from "../../domain/plan";
import { sha256Hex } from "../lib/crypto";
import type { Db } from "./client";
import { insertStatements, upsertStatements } from "./entities";
import { activationTimeline, appliedOps, changeLog, gameSessions } from "./schema";

/** The change_log row of one change: its merge-patch diff (the whole entity on create) and payload hash. */
export async function changeLogRow(sessionId: string, c: Change, now: string): Promise<typeof changeLog.$inferInsert> {
  return {
    session_id: sessionId,
    seq: c.seq,
    entity_type: c.type,
    entity_id: c.id,
    version: c.entity.version,
    op: c.op,
    diff: (c.op === "create" ? c.entity : createMergePatch(c.previous as Json, c.entity as Json)) as Json,
    payload_hash: await sha256Hex(JSON.stringify(c.entity)),
    visible_before: c.visibleBefore,
    visible_after: c.visibleAfter,
    updated_by: String(c.entity.updated_by),
    created_at: now,
  };
}

/**
 * Writes a plan in one atomic D1 batch: entities, change log, applied ops, timeline, seq.
 * `alongside` are rows the change stands with (a member row, a new session's rows): written
 * first, in the same batch, so they land or fail with it.
 */
export async function commitPlan(
  db: Db,
  sessionId: string,
  plan: Plan,
  previousSeq: number,
  now: string,
  alongside: BatchItem<"sqlite">[] = [],
): Promise<void> {
  const [first, ...rest] = await commitStatements(db, sessionId, plan, previousSeq, now, alongside);
  if (!first) return;
  await db.batch([first, ...rest]);
}

/** The statements of `commitPlan`, for a caller that puts several plans in one D1 batch (write-behind.ts). */
export async function commitStatements(
  db: Db,
  sessionId: string,
  plan: Pick<Plan, "changes" | "applied" | "lastSeq">,
  previousSeq: number,
  now: string,
  alongside: BatchItem<"sqlite">[] = [],
): Promise<BatchItem<"sqlite">[]> {
  const latest = new Map<string, { type: EntityType; entity: AnyEntity }>();
  for (const c of plan.changes) if (!c.coverOnly) latest.set(`${c.type}:${c.id}`, { type: c.type, entity: c.entity });
  const byType = new Map<EntityType, AnyEntity[]>();
  for (const { type, entity } of latest.values()) {
    const list = byType.get(type);
    if (list) list.push(entity);
    else byType.set(type, [entity]);
  }

  const logRows = await Promise.all(plan.changes.map((c) => changeLogRow(sessionId, c, now)));
  const timelineRows = plan.changes.flatMap((c): (typeof activationTimeline.$inferInsert)[] => {
    if (c.activation) {
      return [
        {
          session_id: sessionId,
          seq: c.seq,
          kind: "activate" as const,
          scene_id: (c.entity.active_scene_id as string | null) ?? null,
          map_asset: null,
          user_id: String(c.entity.updated_by),
          created_at: now,
        },
      ];
    }
    if (c.type === "scene" && c.previous && c.previous.map_asset !== c.entity.map_asset) {
      return [
        {
          session_id: sessionId,
          seq: c.seq,
          kind: "map" as const,
          scene_id: c.id,
          map_asset: (c.entity.map_asset as string | null) ?? null,
          user_id: String(c.entity.updated_by),
          created_at: now,
        },
      ];
    }
    return [];
  });

  const statements: BatchItem<"sqlite">[] = [
    ...alongside,
    ...[...byType].flatMap(([type, entities]) => upsertStatements(db, sessionId, type, entities)),
    ...insertStatements(db, changeLog, logRows),
    ...insertStatements(
      db,
      appliedOps,
      plan.applied.map((a) => ({ session_id: sessionId, ...a, result: a.result as Json, created_at: now })),
    ),
    ...insertStatements(db, activationTimeline, timelineRows),
  ];
  if (plan.lastSeq !== previousSeq) {
    // The change_log key (session_id, seq) already makes a stale counter fail the whole batch;
    // the guard keeps the stored seq from ever moving backwards.
    statements.push(
      db
        .update(gameSessions)
        .set({ seq: plan.lastSeq })
        .where(and(eq(gameSessions.id, sessionId), eq(gameSessions.seq, previousSeq))),
    );
  }
  return statements;
}

/**
 * Whether a plan is in D1 after all: its commit reported an error, but a D1 batch is atomic, so
 * its last applied op id (fresh ones are new; replays are not in `applied`) stored at the seq
 * the plan gave it means the whole batch landed and only the answer was lost.
 */
export async function planLanded(db: Db, sessionId: string, plan: Plan): Promise<boolean> {
  const last = plan.applied.at(-1);
  if (!last) return false;
  const row = await db
    .select({ seq: appliedOps.seq })
    .from(appliedOps)
    .where(and(eq(appliedOps.session_id, sessionId), eq(appliedOps.op_id, last.op_id)))
    .get();
  return row?.seq === last.seq;
}
