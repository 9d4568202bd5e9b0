/**
 * Scene locks on the GM's client (rules in `domain/locks.ts`, messages in docs/realtime.md):
 *
 * - the locks that hold, from `GET {S}/locks`, kept current by the socket's `lock` messages
 *   (`acquired`, `refreshed`, `released`, `expired`) and read again after every (re)connection,
 *   since messages sent while the socket was down are not replayed, and when a lock outlives the
 *   expiry we know of (its holder's activity extends it without a message);
 * - taking (`POST {S}/locks`, which also extends a lock one holds) and releasing;
 * - keeping a held lock alive: the server lets a lock expire five minutes after its holder's
 *   last activity. A GM working on the page (pointer, keys) re-takes their locks shortly before
 *   they would expire; a GM who walked away lets them lapse, as the server intends;
 * - writes refused with 423 `locked`: the queue keeps and retries them, and the refusal is kept
 *   here for the UI until a send goes through. When that scene's lock goes away the queue is
 *   woken so the waiting changes leave at once instead of after their backoff.
 */
import { createSignal } from "solid-js";
import { ApiError, describeError, type GmApi } from "./api";
import type { SessionSync } from "./sync";
import { defaultTimers, type InboundMessage, type Timers } from "./transport";
import type { SceneLock } from "./types";

export type LockMap = Readonly<Record<string, SceneLock>>;

/** How often held locks are checked, and how long before its expiry an active GM's lock is taken again. */
export const KEEPALIVE_CHECK_MS = 30_000;
export const LOCK_REFRESH_MARGIN_MS = 2 * 60_000;

export function isSceneLock(value: unknown): value is SceneLock {
  if (typeof value !== "object" || value === null) return false;
  const { scene_id, holder_user_id, expires_at } = value as Record<string, unknown>;
  return typeof scene_id === "string" && typeof holder_user_id === "string" && typeof expires_at === "string";
}

/** The locks after a socket message (any other message leaves them as they are). */
export function applyLockMessage(locks: LockMap, message: InboundMessage): LockMap {
  if (message.type !== "lock") return locks;
  const { scene_id: sceneId, lock } = message as { scene_id?: unknown; lock?: unknown };
  if (typeof sceneId !== "string") return locks;
  if (isSceneLock(lock)) return { ...locks, [sceneId]: { ...lock, scene_id: sceneId } };
  if (lock !== null || !(sceneId in locks)) return locks;
  const { [sceneId]: _gone, ...rest } = locks;
  return rest;
}

export function locksFromList(list: readonly unknown[]): LockMap {
  const out: Record<string, SceneLock> = {};
  for (const lock of list) if (isSceneLock(lock)) out[lock.scene_id] = lock;
  return out;
}

/** The locks still held at `now`: an expiry whose message was missed does not linger. */
export function dropExpired(locks: LockMap, now: number): LockMap {
  const expired = Object.values(locks).filter((l) => !(Date.parse(l.expires_at) > now));
  if (expired.length === 0) return locks;
  const out = { ...locks };
  for (const l of expired) delete out[l.scene_id];
  return out;
}

/** The lock named by a 409 (taking a lock another GM holds) or a 423 (a write to a locked scene). */
export function lockFromError(error: unknown): SceneLock | null {
  if (!(error instanceof ApiError) || (error.status !== 409 && error.status !== 423)) return null;
  const lock = error.details?.lock;
  return isSceneLock(lock) ? lock : null;
}

/** A queued write the server refused because another GM holds the scene's lock. */
export interface LockRefusal {
  lock: SceneLock;
  /** The batch op that was refused, when the server named it. */
  opId: string | null;
}

export interface LockError {
  sceneId: string;
  message: string;
  /** The lock that stood in the way (another GM's). */
  lock: SceneLock | null;
}

export interface SceneLocksDeps {
  api: Pick<GmApi, "listLocks" | "acquireLock" | "releaseLock">;
  sync: Pick<SessionSync, "listen" | "onSendError" | "wake" | "view">;
  userId: string;
  timers?: Timers;
  now?: () => number;
  /** Subscribes to signs that the GM is at work on the page (defaults to pointer and key events). */
  onActivity?: (callback: () => void) => () => void;
}

export interface SceneLocks {
  locks(): LockMap;
  lockOf(sceneId: string): SceneLock | undefined;
  heldByMe(sceneId: string): boolean;
  /** Another GM's lock on the scene: my writes to it would be refused. */
  heldByOther(sceneId: string): SceneLock | undefined;
  /** The latest 423, while the queue is still failing to send. */
  refusal(): LockRefusal | null;
  error(): LockError | null;
  clearError(): void;
  busy(sceneId: string): boolean;
  take(sceneId: string): Promise<boolean>;
  release(sceneId: string): Promise<boolean>;
  /** Reads the current locks again. */
  refresh(): Promise<void>;
  /** Listens to the socket, the queue and the GM's activity, and loads the locks; returns the stop. */
  start(): () => void;
}

export function createSceneLocks(deps: SceneLocksDeps): SceneLocks {
  const timers = deps.timers ?? defaultTimers;
  const now = deps.now ?? Date.now;
  const onActivity = deps.onActivity ?? documentActivity;
  const [locks, setLocks] = createSignal<LockMap>({});
  const [refusal, setRefusal] = createSignal<LockRefusal | null>(null);
  const [error, setError] = createSignal<LockError | null>(null);
  const [busy, setBusy] = createSignal<ReadonlySet<string>>(new Set());
  /** Scene id → when I last took (or took again) its lock. */
  const takenAt = new Map<string, number>();
  let lastActivity = Number.NEGATIVE_INFINITY;

  const update = (next: LockMap) => setLocks(next);
  const setLock = (lock: SceneLock) => update({ ...locks(), [lock.scene_id]: lock });
  const forget = (sceneId: string) => update(applyLockMessage(locks(), { type: "lock", scene_id: sceneId, lock: null }));
  const markBusy = (sceneId: string, on: boolean) => {
    const next = new Set(busy());
    if (on) next.add(sceneId);
    else next.delete(sceneId);
    setBusy(next);
  };

  async function refresh(): Promise<void> {
    try {
      const { locks: list } = await deps.api.listLocks();
      update(dropExpired(locksFromList(list), now()));
    } catch (cause) {
      console.warn(JSON.stringify({ level: "warn", msg: "locks could not be read", error: String(cause) }));
    }
  }

  function handle(message: InboundMessage) {
    if (message.type === "lock") {
      const next = applyLockMessage(locks(), message);
      update(next);
      const sceneId = (message as { scene_id?: unknown }).scene_id;
      const waiting = refusal();
      if (waiting && waiting.lock.scene_id === sceneId && !next[waiting.lock.scene_id]) {
        setRefusal(null);
        deps.sync.wake();
      }
    } else if (message.type === "presence" && "clients" in message) {
      // A full presence list follows every `hello`: the socket (re)connected, lock messages may have been missed.
      void refresh();
    }
  }

  function noteSendError(cause: unknown) {
    if (!(cause instanceof ApiError) || cause.status !== 423) return;
    const lock = lockFromError(cause);
    if (!lock) return;
    setLock(lock);
    const opId = cause.details?.op_id;
    setRefusal({ lock, opId: typeof opId === "string" ? opId : null });
  }

  async function take(sceneId: string): Promise<boolean> {
    if (busy().has(sceneId)) return false;
    markBusy(sceneId, true);
    setError(null);
    const at = now();
    try {
      const { lock } = await deps.api.acquireLock(sceneId);
      takenAt.set(sceneId, at);
      setLock(lock);
      return true;
    } catch (cause) {
      const other = lockFromError(cause);
      if (other) setLock(other);
      setError({ sceneId, message: describeError(cause), lock: other });
      return false;
    } finally {
      markBusy(sceneId, false);
    }
  }

  async function release(sceneId: string): Promise<boolean> {
    if (busy().has(sceneId)) return false;
    markBusy(sceneId, true);
    setError(null);
    try {
      await deps.api.releaseLock(sceneId);
      takenAt.delete(sceneId);
      forget(sceneId);
      return true;
    } catch (cause) {
      const other = lockFromError(cause);
      if (other) setLock(other);
      setError({ sceneId, message: describeError(cause), lock: other });
      return false;
    } finally {
      markBusy(sceneId, false);
    }
  }

  /** Takes my lock again if it expires soon and I have been at work since I last took it. */
  async function keepAlive(lock: SceneLock, at: number): Promise<void> {
    if (busy().has(lock.scene_id)) return;
    markBusy(lock.scene_id, true);
    try {
      const { lock: next } = await deps.api.acquireLock(lock.scene_id);
      takenAt.set(lock.scene_id, at);
      setLock(next);
    } catch (cause) {
      const other = lockFromError(cause);
      if (other) setLock(other);
      else if (cause instanceof ApiError && cause.status === 404) forget(lock.scene_id);
      // Anything else (offline): the next check tries again.
    } finally {
      markBusy(lock.scene_id, false);
    }
  }

  function check() {
    const at = now();
    // The holder's activity extends a lock without a message: one past its known expiry may
    // still hold. Ask the server rather than guess (an actual expiry also comes as a message).
    if (dropExpired(locks(), at) !== locks()) void refresh();
    for (const lock of Object.values(locks())) {
      if (lock.holder_user_id !== deps.userId) continue;
      const soon = Date.parse(lock.expires_at) - at <= LOCK_REFRESH_MARGIN_MS;
      const active = lastActivity > (takenAt.get(lock.scene_id) ?? Number.NEGATIVE_INFINITY);
      if (soon && active) void keepAlive(lock, at);
    }
  }

  let starts = 0;
  let stopAll: (() => void) | null = null;

  function start(): () => void {
    starts += 1;
    if (starts === 1) {
      let timer: unknown = null;
      const tick = () => {
        check();
        timer = timers.setTimeout(tick, KEEPALIVE_CHECK_MS);
      };
      const unlisten = deps.sync.listen(handle);
      const unSendError = deps.sync.onSendError(noteSendError);
      const unActivity = onActivity(() => {
        lastActivity = now();
      });
      timer = timers.setTimeout(tick, KEEPALIVE_CHECK_MS);
      void refresh();
      stopAll = () => {
        timers.clearTimeout(timer);
        unlisten();
        unSendError();
        unActivity();
      };
    }
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      starts -= 1;
      if (starts === 0) {
        stopAll?.();
        stopAll = null;
      }
    };
  }

  const lockOf = (sceneId: string) => locks()[sceneId];
  return {
    locks,
    lockOf,
    heldByMe: (sceneId) => lockOf(sceneId)?.holder_user_id === deps.userId,
    heldByOther: (sceneId) => {
      const lock = lockOf(sceneId);
      return lock && lock.holder_user_id !== deps.userId ? lock : undefined;
    },
    refusal: () => {
      const current = refusal();
      return current && deps.sync.view.sync.lastError !== null ? current : null;
    },
    error,
    clearError: () => setError(null),
    busy: (sceneId) => busy().has(sceneId),
    take,
    release,
    refresh,
    start,
  };
}

function documentActivity(callback: () => void): () => void {
  if (typeof document === "undefined") return () => undefined;
  const events = ["pointerdown", "keydown", "input"] as const;
  for (const name of events) document.addEventListener(name, callback, { capture: true, passive: true });
  return () => {
    for (const name of events) document.removeEventListener(name, callback, { capture: true });
  };
}
