/**
 * Scene locks: a GM reserves a scene for editing so co-GMs do not edit it at the same time.
 *
 * - A lock binds GMs only. While it holds, another GM's writes to the scene or anything on it
 *   (its layers, its tokens, their art) are refused with 423 `locked`. Players are never blocked:
 *   they only move their own tokens, and a GM preparing a scene must not freeze the table.
 * - A lock expires LOCK_TTL_MS after the last activity of its holder: a write anywhere in the
 *   session, taking the lock again (POST), or a socket message other than an ack or a resume
 *   (acks are sent by the client on its own and would keep an abandoned tab's lock alive forever).
 * - Only the holder releases a lock; another GM waits for it to expire.
 */
import type { Actor } from "./permissions";

export const LOCK_TTL_MS = 5 * 60 * 1000;

/**
 * Activity extends a lock in memory at once, but is written to D1 only when it moves the stored
 * expiry by this much: a GM dragging tokens would otherwise cost a write per message. So the
 * stored expiry may be up to this much early, which only matters if the object restarts.
 */
export const LOCK_PERSIST_SLACK_MS = 30 * 1000;

export interface SceneLock {
  scene_id: string;
  holder_user_id: string;
  /** ISO-8601 UTC. */
  expires_at: string;
}

export function lockExpiry(now: number): string {
  return new Date(now + LOCK_TTL_MS).toISOString();
}

export function isLockHeld(lock: Pick<SceneLock, "expires_at">, now: number): boolean {
  return Date.parse(lock.expires_at) > now;
}

/** The lock that stops `actor` from writing to its scene, if any. */
export function blockingLock<L extends SceneLock>(lock: L | undefined, actor: Actor, now: number): L | undefined {
  if (!lock || actor.role !== "gm" || lock.holder_user_id === actor.userId || !isLockHeld(lock, now)) return undefined;
  return lock;
}

export type AcquireDecision = { ok: true; refresh: boolean } | { ok: false; heldBy: SceneLock };

/** Whether `actor` may take (or take again, extending it) the lock of a scene that holds `current`. */
export function decideAcquire(current: SceneLock | undefined, actor: Actor, now: number): AcquireDecision {
  if (!current || !isLockHeld(current, now)) return { ok: true, refresh: false };
  if (current.holder_user_id === actor.userId) return { ok: true, refresh: true };
  return { ok: false, heldBy: current };
}

export type ReleaseDecision = "release" | "absent" | { heldBy: SceneLock };

export function decideRelease(current: SceneLock | undefined, actor: Actor, now: number): ReleaseDecision {
  if (!current || !isLockHeld(current, now)) return "absent";
  if (current.holder_user_id === actor.userId) return "release";
  return { heldBy: current };
}

/** Whether an extension to `next` must be written, given what storage holds. */
export function mustPersistExtension(storedExpiresAt: string, next: string): boolean {
  return Date.parse(next) - Date.parse(storedExpiresAt) >= LOCK_PERSIST_SLACK_MS;
}

/** The earliest expiry among locks, in ms; undefined when there are none. */
export function earliestExpiry(locks: Iterable<Pick<SceneLock, "expires_at">>): number | undefined {
  let earliest: number | undefined;
  for (const l of locks) {
    const t = Date.parse(l.expires_at);
    if (earliest === undefined || t < earliest) earliest = t;
  }
  return earliest;
}

/** The lock as the API shows it. */
export function publicLock(lock: SceneLock): SceneLock {
  return { scene_id: lock.scene_id, holder_user_id: lock.holder_user_id, expires_at: lock.expires_at };
}
