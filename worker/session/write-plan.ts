/**
 * Plans a batch for the session object: load what the ops read (prefetch.ts), decide in the pure
 * planner (domain/plan.ts), and when it finds something missing, load that and decide again.
 * Committing is worker/db/commit.ts.
 */
import type { Failure } from "../../domain/errors";
import type { Actor } from "../../domain/permissions";
import { type InternalOp, type Plan, planOps, type SceneGuard } from "../../domain/plan";
import type { Db } from "../db/client";
import { registry } from "../registry";
import type { EntityCache } from "./entity-cache";
import { type LoadedSnapshot, loadNeeds, prefetch, type SnapshotSource } from "./prefetch";

/**
 * Rounds of "load what is missing, plan again" at most. Each round adds to the snapshot what the
 * planner asked for, so the loop ends; the bound turns a bug into an error instead of a hang.
 */
const MAX_ROUNDS = 64;

/** Plans the ops on the snapshot, loading what the planner finds missing until it can decide. */
export async function planOnSnapshot(
  source: SnapshotSource,
  snapshot: LoadedSnapshot,
  actor: Actor,
  ops: readonly InternalOp[],
  seq: number,
  now: string,
  guardScene?: SceneGuard,
): Promise<{ ok: true; plan: Plan; rounds: number } | Failure> {
  for (let rounds = 1; ; rounds++) {
    const planned = planOps(snapshot, ops, actor, now, { registry, seq, guardScene });
    if (planned.ok === true) return { ...planned, rounds };
    if (planned.ok === false) return planned;
    if (rounds >= MAX_ROUNDS) throw new Error(`planning still lacked ${JSON.stringify(planned.needs)} after ${rounds} rounds`);
    await loadNeeds(source, snapshot, planned.needs);
  }
}

/** Plans a batch of ops on what the object and D1 hold. Nothing is written; a failure means nothing applies. */
export async function planBatch(
  db: Db,
  sessionId: string,
  actor: Actor,
  ops: InternalOp[],
  seq: number,
  now: string,
  guardScene?: SceneGuard,
  cache?: EntityCache,
): Promise<{ ok: true; plan: Plan } | Failure> {
  const source = { db, sessionId, cache };
  const snapshot = await prefetch(source, ops, actor.role === "player");
  const planned = await planOnSnapshot(source, snapshot, actor, ops, seq, now, guardScene);
  return planned.ok ? { ok: true, plan: planned.plan } : planned;
}
