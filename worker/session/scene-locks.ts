/**
 * The scene locks of a session as its object runs them: taking, extending and releasing a lock
 * inside the write queue, activity extending the holder's locks, expiry on the alarm, and the
 * `lock` messages every GM socket gets. The table itself (loaded from D1 on first use after every
 * wake-up, written through) is lock-table.ts; the rules are the pure functions of domain/locks.ts.
 */
import { type Failure, fail } from "../../domain/errors";
import type { SceneLock } from "../../domain/locks";
import type { Actor } from "../../domain/permissions";
import type { ServerMessage } from "../../domain/protocol";
import type { Db } from "../db/client";
import { loadEntity } from "../db/entities";
import type { EntityCache } from "./entity-cache";
import { LockTable } from "./lock-table";

export type LockResult = { ok: true; lock: SceneLock; refresh: boolean } | Failure;
export type ReleaseResult = { ok: true } | Failure;

/** What the locks need of the object. */
export interface SceneLocksHost {
  db(): Db;
  /** Entities as the object last wrote them (a scene logged but not yet in D1 is there). */
  entities: EntityCache;
  /** Takes from the actor's mutation buckets: a failure when empty. */
  admit(sessionId: string, actor: Actor, cost: number): Promise<Failure | undefined>;
  serial<T>(work: () => Promise<T>): Promise<T>;
  scheduleAlarm(at: number): Promise<void>;
  sendToGms(message: ServerMessage): void;
}

export class SceneLocks {
  readonly #host: SceneLocksHost;
  #table: Promise<LockTable> | undefined;

  constructor(host: SceneLocksHost) {
    this.#host = host;
  }

  /** The session's lock table, loaded once after a wake-up (again after a failed load). */
  table(sessionId: string): Promise<LockTable> {
    this.#table ??= LockTable.load(this.#host.db(), sessionId);
    this.#table.catch(() => {
      this.#table = undefined;
    });
    return this.#table;
  }

  /** Takes the lock of a scene for `actor` (a GM), or takes it again to extend it. */
  async acquire(sessionId: string, actor: Actor, sceneId: string): Promise<LockResult> {
    if (actor.role !== "gm") return fail("forbidden", "only a GM may lock a scene");
    const limited = await this.#host.admit(sessionId, actor, 1);
    if (limited) return limited;
    return this.#host.serial(async () => {
      // A scene logged but not yet in D1 is in the entity cache (pinned).
      const scene = this.#host.entities.get("scene", sceneId) ?? (await loadEntity(this.#host.db(), sessionId, "scene", sceneId));
      if (!scene) return fail("not_found", `no scene ${sceneId} in this session`);
      const locks = await this.table(sessionId);
      const now = Date.now();
      // Taking a lock is activity: the caller's other locks are extended too.
      await locks.touch(actor.userId, now);
      const result = await locks.acquire(actor, sceneId, now);
      if (!result.ok)
        return fail("conflict", `scene ${sceneId} is locked by another GM until ${result.heldBy.expires_at}`, { lock: result.heldBy });
      if (!result.lock) throw new Error("an acquired lock has no lock");
      this.#host.sendToGms({ type: "lock", scene_id: sceneId, lock: result.lock, reason: result.refresh ? "refreshed" : "acquired" });
      await this.#host.scheduleAlarm(Date.parse(result.lock.expires_at));
      return { ok: true, lock: result.lock, refresh: result.refresh };
    });
  }

  /** Releases the caller's lock of a scene; nothing to release is fine, another GM's lock is a conflict. */
  async release(sessionId: string, actor: Actor, sceneId: string): Promise<ReleaseResult> {
    if (actor.role !== "gm") return fail("forbidden", "only a GM may unlock a scene");
    const limited = await this.#host.admit(sessionId, actor, 1);
    if (limited) return limited;
    return this.#host.serial(async () => {
      const locks = await this.table(sessionId);
      const result = await locks.release(actor, sceneId, Date.now());
      if (typeof result === "object") {
        return fail("conflict", `scene ${sceneId} is locked by another GM until ${result.heldBy.expires_at}`, { lock: result.heldBy });
      }
      if (result === "release") this.#host.sendToGms({ type: "lock", scene_id: sceneId, lock: null, reason: "released" });
      return { ok: true };
    });
  }

  /** Forgets the loaded lock table (it holds the shard it was read from): a move flipped the session's shard. */
  forget(): void {
    this.#table = undefined;
  }

  /** The locks that hold now. */
  async list(sessionId: string): Promise<SceneLock[]> {
    return (await this.table(sessionId)).active(Date.now());
  }

  /** A GM's activity on their socket: the locks they hold start their TTL again. */
  async touch(sessionId: string, userId: string, now: number): Promise<void> {
    const locks = await this.table(sessionId);
    if (locks.holds(userId)) await locks.touch(userId, now);
  }

  /** The alarm's turn: expired locks go (GMs are told), inside the queue; when the next one expires. */
  async expire(sessionId: string): Promise<number | undefined> {
    const table = await this.#host.serial(async () => {
      const locks = await this.table(sessionId);
      for (const lock of await locks.expire(Date.now())) {
        this.#host.sendToGms({ type: "lock", scene_id: lock.scene_id, lock: null, reason: "expired" });
      }
      return locks;
    });
    return table.nextExpiry();
  }
}
