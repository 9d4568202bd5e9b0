import type { Failure } from "../../domain/errors";
import type { Actor, Role } from "../../domain/permissions";
import { ApiError } from "../api-error";
import type { SessionObject, WriteResult } from "./session-object";
import type { InternalOp } from "./write-plan";

export function sessionStub(env: Env, sessionId: string): DurableObjectStub<SessionObject> {
  return env.SESSION.get(env.SESSION.idFromName(sessionId));
}

/** Unwraps an RPC result: failures become the ApiError the route answers with. */
export function orThrow<T extends { ok: boolean }>(result: T): Exclude<T, { ok: false }> {
  if (!result.ok) throw ApiError.from(result as unknown as Failure);
  return result as Exclude<T, { ok: false }>;
}

// The RPC stub's types cannot represent free JSON (`unknown` fields) and collapse the result to
// `never`; the values themselves are structured-cloned intact, so the typed wrappers restore them.

export async function applyOps(env: Env, sessionId: string, actor: Actor, ops: InternalOp[]) {
  return orThrow((await sessionStub(env, sessionId).applyOps(sessionId, actor, ops)) as unknown as WriteResult);
}

export async function setMember(env: Env, sessionId: string, actor: Actor, userId: string, role: Role) {
  return orThrow((await sessionStub(env, sessionId).setMember(sessionId, actor, userId, role)) as unknown as WriteResult);
}
