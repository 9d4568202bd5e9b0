import type { Failure } from "../../domain/errors";
import type { SceneLock } from "../../domain/locks";
import type { Actor, Role } from "../../domain/permissions";
import type { InternalOp } from "../../domain/plan";
import { retryAfterSeconds } from "../../domain/rate-limit";
import type { SettingsPatch } from "../../domain/settings";
import { ApiError } from "../api-error";
import type { ShardInfo } from "../db/shards";
import type { LogRows } from "./log-reads";
import type { MoveResult } from "./move";
import type { ClientRecord, LockResult, ReleaseResult, SessionObject, SettingsResult, WriteResult } from "./session-object";

export function sessionStub(env: Env, sessionId: string): DurableObjectStub<SessionObject> {
  return env.SESSION.get(env.SESSION.idFromName(sessionId));
}

/** Unwraps an RPC result: failures become the ApiError the route answers with. */
export function orThrow<T extends { ok: boolean }>(result: T): Exclude<T, { ok: false }> {
  if (!result.ok) {
    const failure = result as unknown as Failure;
    const retryAfterMs = failure.details?.retry_after_ms;
    const headers =
      (failure.code === "rate_limited" || failure.code === "unavailable") && typeof retryAfterMs === "number"
        ? { "Retry-After": String(retryAfterSeconds(retryAfterMs)) }
        : undefined;
    throw ApiError.from(failure, headers);
  }
  return result as Exclude<T, { ok: false }>;
}

// The RPC stub's types cannot represent free JSON (`unknown` fields) and collapse the result to
// `never`; the values themselves are structured-cloned intact, so the typed wrappers restore them.

export async function applyOps(env: Env, sessionId: string, actor: Actor, ops: InternalOp[]) {
  return orThrow((await sessionStub(env, sessionId).applyOps(sessionId, actor, ops)) as unknown as WriteResult);
}

/** Sets a member's role, or removes the member when `role` is null. */
export async function setMember(env: Env, sessionId: string, actor: Actor, userId: string, role: Role | null) {
  return orThrow((await sessionStub(env, sessionId).setMember(sessionId, actor, userId, role)) as unknown as WriteResult);
}

/** Adds the caller to a session as a player (or keeps the role they have); returns the role. */
export async function joinSession(env: Env, sessionId: string, userId: string): Promise<Role> {
  return (await sessionStub(env, sessionId).join(sessionId, userId)).role;
}

/**
 * Creates a session through its object, on `shard`: its row and session state at seq 1 there, its
 * directory entry and its creator as GM. The object is created near the shard (`locationHint`):
 * it is the session's writer, and every commit crosses to the shard.
 */
export async function createSession(env: Env, sessionId: string, shard: ShardInfo, userId: string, name: string, inviteCode: string) {
  const id = env.SESSION.idFromName(sessionId);
  const stub = shard.region ? env.SESSION.get(id, { locationHint: shard.region }) : env.SESSION.get(id);
  return stub.createSession(sessionId, shard, userId, name, inviteCode);
}

export async function acquireLock(env: Env, sessionId: string, actor: Actor, sceneId: string) {
  return orThrow((await sessionStub(env, sessionId).acquireLock(sessionId, actor, sceneId)) as unknown as LockResult);
}

export async function releaseLock(env: Env, sessionId: string, actor: Actor, sceneId: string) {
  return orThrow((await sessionStub(env, sessionId).releaseLock(sessionId, actor, sceneId)) as unknown as ReleaseResult);
}

export async function listLocks(env: Env, sessionId: string): Promise<SceneLock[]> {
  return (await sessionStub(env, sessionId).listLocks(sessionId)) as unknown as SceneLock[];
}

/** The changes after `since` still in the session's write log, as `role`/`userId` were sent them (log-reads.ts). */
export async function readLog(env: Env, sessionId: string, since: number, role: Role, userId: string): Promise<LogRows> {
  return (await sessionStub(env, sessionId).readLog(sessionId, since, role, userId)) as unknown as LogRows;
}

export async function listClients(env: Env, sessionId: string): Promise<ClientRecord[]> {
  // Seen through the class's own signature: the stub's type of free JSON is too deep for tsc.
  const stub = sessionStub(env, sessionId) as unknown as Pick<SessionObject, "listClients">;
  return stub.listClients(sessionId);
}

export async function updateSettings(env: Env, sessionId: string, actor: Actor, patch: SettingsPatch) {
  return orThrow((await sessionStub(env, sessionId).updateSettings(sessionId, actor, patch)) as unknown as SettingsResult);
}

/**
 * Moves a session to the shard `target` through its object (worker/session/move.ts): what was
 * copied, or the failure as an ApiError (409 already there or moving, 503 nothing moved).
 * Operators call it through `POST /api/vtt/admin/sessions/{sid}/move`; benchmarks may call it directly.
 */
export async function moveSession(env: Env, sessionId: string, target: string) {
  return orThrow((await sessionStub(env, sessionId).move(sessionId, target)) as unknown as MoveResult);
}
