/**
 * The scene locks of one session as its object sees them. D1 (`session_locks`) is the source of
 * truth; this table is loaded from it on first use after every wake-up and written through on
 * every acquire, release and expiry. Activity extends a lock in memory at once and in D1 only
 * when the stored expiry lags by LOCK_PERSIST_SLACK_MS (see domain/locks.ts).
 *
 * The rules (who may take, release, be blocked) are the pure functions of domain/locks.ts.
 */
import { and, eq } from "drizzle-orm";
import { fail } from "../../domain/errors";
import {
  type AcquireDecision,
  blockingLock,
  decideAcquire,
  decideRelease,
  earliestExpiry,
  isLockHeld,
  lockExpiry,
  mustPersistExtension,
  publicLock,
  type ReleaseDecision,
  type SceneLock,
} from "../../domain/locks";
import type { Actor } from "../../domain/permissions";
import type { SceneGuard } from "../../domain/plan";
import type { Db } from "../db/client";
import { sessionLocks } from "../db/schema";

interface HeldLock extends SceneLock {
  acquired_at: string;
  /** The expiry D1 holds (may lag `expires_at` by less than the slack). */
  stored_expires_at: string;
}

export class LockTable {
  readonly #db: Db;
  readonly #sessionId: string;
  readonly #locks = new Map<string, HeldLock>();

  private constructor(db: Db, sessionId: string) {
    this.#db = db;
    this.#sessionId = sessionId;
  }

  static async load(db: Db, sessionId: string): Promise<LockTable> {
    const table = new LockTable(db, sessionId);
    const rows = await db.select().from(sessionLocks).where(eq(sessionLocks.session_id, sessionId));
    for (const r of rows) {
      table.#locks.set(r.scene_id, {
        scene_id: r.scene_id,
        holder_user_id: r.holder_user_id,
        acquired_at: r.acquired_at,
        expires_at: r.expires_at,
        stored_expires_at: r.expires_at,
      });
    }
    return table;
  }

  /** Locks that hold at `now` (expired ones linger until the alarm removes them). */
  active(now: number): SceneLock[] {
    return [...this.#locks.values()].filter((l) => isLockHeld(l, now)).map(publicLock);
  }

  /** The hook planBatch calls for every scene a write touches. */
  guard(actor: Actor, now: number): SceneGuard {
    return (sceneId, opId) => {
      const lock = blockingLock(this.#locks.get(sceneId), actor, now);
      if (!lock) return undefined;
      return fail("locked", `scene ${sceneId} is locked for editing by another GM until ${lock.expires_at}`, {
        op_id: opId,
        lock: publicLock(lock),
      });
    };
  }

  async acquire(actor: Actor, sceneId: string, now: number): Promise<AcquireDecision & { lock?: SceneLock }> {
    const current = this.#locks.get(sceneId);
    const decision = decideAcquire(current, actor, now);
    if (!decision.ok) return { ...decision, heldBy: publicLock(decision.heldBy) };
    const expiresAt = lockExpiry(now);
    const acquiredAt = decision.refresh && current ? current.acquired_at : new Date(now).toISOString();
    await this.#db
      .insert(sessionLocks)
      .values({
        session_id: this.#sessionId,
        scene_id: sceneId,
        holder_user_id: actor.userId,
        acquired_at: acquiredAt,
        expires_at: expiresAt,
      })
      .onConflictDoUpdate({
        target: [sessionLocks.session_id, sessionLocks.scene_id],
        set: { holder_user_id: actor.userId, acquired_at: acquiredAt, expires_at: expiresAt },
      });
    const lock: HeldLock = {
      scene_id: sceneId,
      holder_user_id: actor.userId,
      acquired_at: acquiredAt,
      expires_at: expiresAt,
      stored_expires_at: expiresAt,
    };
    this.#locks.set(sceneId, lock);
    return { ...decision, lock: publicLock(lock) };
  }

  async release(actor: Actor, sceneId: string, now: number): Promise<ReleaseDecision> {
    const current = this.#locks.get(sceneId);
    const decision = decideRelease(current, actor, now);
    if (typeof decision === "object") return { heldBy: publicLock(decision.heldBy) };
    if (current) {
      // An expired lock of anyone, or the caller's own: either way it goes.
      await this.#delete(current);
    }
    return decision;
  }

  /**
   * Activity of `userId`: every lock they hold starts its TTL again. Written to D1 only when the
   * stored expiry lags by the slack; the caller awaits the writes (if any).
   */
  async touch(userId: string, now: number): Promise<void> {
    const next = lockExpiry(now);
    const writes: Promise<unknown>[] = [];
    for (const lock of this.#locks.values()) {
      if (lock.holder_user_id !== userId || !isLockHeld(lock, now)) continue;
      lock.expires_at = next;
      if (!mustPersistExtension(lock.stored_expires_at, next)) continue;
      lock.stored_expires_at = next;
      writes.push(
        this.#db
          .update(sessionLocks)
          .set({ expires_at: next })
          .where(
            and(
              eq(sessionLocks.session_id, this.#sessionId),
              eq(sessionLocks.scene_id, lock.scene_id),
              eq(sessionLocks.holder_user_id, userId),
            ),
          ),
      );
    }
    await Promise.all(writes);
  }

  holds(userId: string): boolean {
    for (const lock of this.#locks.values()) if (lock.holder_user_id === userId) return true;
    return false;
  }

  /** Removes the locks expired at `now`; returns them. */
  async expire(now: number): Promise<SceneLock[]> {
    const expired = [...this.#locks.values()].filter((l) => !isLockHeld(l, now));
    for (const lock of expired) await this.#delete(lock);
    return expired.map(publicLock);
  }

  /** When the next lock expires (ms), for the alarm. */
  nextExpiry(): number | undefined {
    return earliestExpiry(this.#locks.values());
  }

  async #delete(lock: HeldLock): Promise<void> {
    await this.#db
      .delete(sessionLocks)
      .where(
        and(
          eq(sessionLocks.session_id, this.#sessionId),
          eq(sessionLocks.scene_id, lock.scene_id),
          eq(sessionLocks.holder_user_id, lock.holder_user_id),
        ),
      );
    if (this.#locks.get(lock.scene_id) === lock) this.#locks.delete(lock.scene_id);
  }
}
