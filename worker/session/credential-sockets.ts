/**
 * Sockets and the credentials that opened them (docs/realtime.md, "When a login ends").
 *
 * Each socket's attachment carries the id of the login or API token it was opened with and when
 * that credential expires. A logout, a revoked token or a password change ends credentials
 * explicitly: the worker then asks the session object of every session the user belongs to
 * (their memberships in the directory: a socket can only be open where the user is a member) to close the sockets
 * opened with them. Expiry needs no one to ask: the object's alarm closes sockets whose
 * credential has expired.
 */
import { eq } from "drizzle-orm";
import { sessionMembers } from "../db/schema";
import { directoryDb } from "../db/shards";
import { sessionStub } from "./stub";

/** Which of a user's sockets to close: those opened with one of `only`, or all but `except`. */
export interface CredentialFilter {
  only?: string[];
  except?: string;
}

/** What a socket remembers of its credential. */
export interface SocketCredential {
  credentialId?: string;
  /** Milliseconds since the epoch; absent: no expiry. */
  credentialExpiresAt?: number;
}

export function matchesCredential(socket: SocketCredential, filter: CredentialFilter): boolean {
  if (filter.only !== undefined) return socket.credentialId !== undefined && filter.only.includes(socket.credentialId);
  return filter.except === undefined || socket.credentialId !== filter.except;
}

export function isExpired(socket: SocketCredential, nowMs: number): boolean {
  return socket.credentialExpiresAt !== undefined && socket.credentialExpiresAt <= nowMs;
}

/** Session objects asked at once; a user in hundreds of sessions is asked in waves. */
const FAN_OUT = 16;

/**
 * Closes every socket of `userId` the filter matches, in every session the user belongs to.
 * Returns how many sockets were closed. A session object that fails is logged, not fatal: the
 * credential is already gone from the directory, so the socket's next reconnect is refused anyway.
 */
export async function closeCredentialSockets(env: Env, userId: string, filter: CredentialFilter, reason: string): Promise<number> {
  const sessions = await directoryDb(env)
    .select({ session_id: sessionMembers.session_id })
    .from(sessionMembers)
    .where(eq(sessionMembers.user_id, userId));
  let closed = 0;
  for (let i = 0; i < sessions.length; i += FAN_OUT) {
    const wave = sessions.slice(i, i + FAN_OUT).map(async ({ session_id }) => {
      try {
        return await sessionStub(env, session_id).closeCredentialSockets(session_id, userId, filter, reason);
      } catch (error) {
        console.error(JSON.stringify({ level: "error", msg: "closing sockets failed", session_id, error: String(error) }));
        return 0;
      }
    });
    for (const n of await Promise.all(wave)) closed += n;
  }
  return closed;
}
