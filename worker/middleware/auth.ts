import { and, eq, gt, isNull, lt, or, sql } from "drizzle-orm";
import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import type { Role } from "../../domain/permissions";
import { retryAfterSeconds } from "../../domain/rate-limit";
import { ApiError } from "../api-error";
import { type Db, nowIso } from "../db/client";
import { BOOKMARK_HEADER, ShardReader } from "../db/replicas";
import { apiTokens, loginSessions, sessionDirectory, sessionMembers, users } from "../db/schema";
import { directoryDb, peekShard, readHead, rememberShard } from "../db/shards";
import { safeEqual, sha256Hex } from "../lib/crypto";
import { MOVING_RETRY_MS, movingFailure } from "../session/move";
import { sessionStub } from "../session/stub";
import type { AppEnv, AuthedUser } from "../types";

export const SESSION_COOKIE = "vtt_session";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;

export interface Authentication {
  user: AuthedUser;
  kind: "cookie" | "bearer";
  /** The login's id (hash of the cookie) or the API token's id: what a socket remembers it by. */
  credentialId: string;
  /** When the credential stops working, or null (a token without expiry). */
  expiresAt: string | null;
  loginId?: string;
  csrfToken?: string;
  /** With a session id: the caller's role and where the session lives, or null for a non-member. */
  membership?: { role: Role; shard: string; region: string; state: "active" | "moving" } | null;
}

const member = {
  role: sessionMembers.role,
  shard: sessionDirectory.shard,
  region: sessionDirectory.region,
  state: sessionDirectory.state,
};

/**
 * The two admission queries, prepared once per database instance: every request runs one of them,
 * so the SQL is built once instead of on each request.
 */
function admissionQueries(db: Db) {
  const bearer = db
    .select({
      id: users.id,
      username: users.username,
      token_id: apiTokens.id,
      expires_at: apiTokens.expires_at,
      last_used_at: apiTokens.last_used_at,
      ...member,
    })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.user_id))
    .leftJoin(sessionMembers, and(eq(sessionMembers.user_id, users.id), eq(sessionMembers.session_id, sql.placeholder("sid"))))
    .leftJoin(sessionDirectory, eq(sessionDirectory.session_id, sessionMembers.session_id))
    .where(
      and(
        eq(apiTokens.token_hash, sql.placeholder("hash")),
        or(isNull(apiTokens.expires_at), gt(apiTokens.expires_at, sql.placeholder("now"))),
      ),
    )
    .prepare();
  const cookie = db
    .select({ id: users.id, username: users.username, csrf: loginSessions.csrf_token, expires_at: loginSessions.expires_at, ...member })
    .from(loginSessions)
    .innerJoin(users, eq(users.id, loginSessions.user_id))
    .leftJoin(sessionMembers, and(eq(sessionMembers.user_id, users.id), eq(sessionMembers.session_id, sql.placeholder("sid"))))
    .leftJoin(sessionDirectory, eq(sessionDirectory.session_id, sessionMembers.session_id))
    .where(and(eq(loginSessions.id, sql.placeholder("login")), gt(loginSessions.expires_at, sql.placeholder("now"))))
    .prepare();
  return { bearer, cookie };
}
const prepared = new WeakMap<Db, ReturnType<typeof admissionQueries>>();

function queriesFor(db: Db) {
  let q = prepared.get(db);
  if (!q) {
    q = admissionQueries(db);
    prepared.set(db, q);
  }
  return q;
}

/** `last_used_at` of an API token is written at most this often, not on every request. */
export const TOKEN_LAST_USED_RESOLUTION_MS = 60_000;

/** Records that a token was used, unless that was already recorded within the last minute. */
async function touchToken(env: Env, tokenId: string, lastUsedAt: string | null, now: number): Promise<void> {
  const staleBefore = new Date(now - TOKEN_LAST_USED_RESOLUTION_MS).toISOString();
  if (lastUsedAt !== null && lastUsedAt >= staleBefore) return;
  await directoryDb(env)
    .update(apiTokens)
    .set({ last_used_at: new Date(now).toISOString() })
    .where(and(eq(apiTokens.id, tokenId), or(isNull(apiTokens.last_used_at), lt(apiTokens.last_used_at, staleBefore))));
}

/**
 * Resolves the caller from a bearer API token or the session cookie; undefined when neither is
 * valid. Given a session id, the same single directory query also returns the caller's role in it
 * and the shard holding the session (worker/db/shards.ts).
 */
export async function authenticate(
  env: Env,
  authorization: string | undefined,
  cookie: string | undefined,
  sessionId?: string,
): Promise<Authentication | undefined> {
  const queries = queriesFor(directoryDb(env));
  const sid = sessionId ?? "";
  const withMembership = <T extends { role: Role | null; shard: string | null; region: string | null; state: "active" | "moving" | null }>(
    row: T,
  ) =>
    sessionId === undefined
      ? {}
      : {
          membership:
            row.role !== null && row.shard !== null
              ? { role: row.role, shard: row.shard, region: row.region ?? "", state: row.state ?? "active" }
              : null,
        };

  if (authorization !== undefined) {
    const match = /^Bearer ([A-Za-z0-9_-]{16,200})$/.exec(authorization);
    if (!match?.[1]) return undefined;
    const now = Date.now();
    const row = await queries.bearer.get({ sid, hash: await sha256Hex(match[1]), now: new Date(now).toISOString() });
    if (!row) return undefined;
    await touchToken(env, row.token_id, row.last_used_at, now);
    return {
      user: { id: row.id, username: row.username },
      kind: "bearer",
      credentialId: row.token_id,
      expiresAt: row.expires_at,
      ...withMembership(row),
    };
  }
  if (!cookie || cookie.length > 200) return undefined;
  const loginId = await sha256Hex(cookie);
  const row = await queries.cookie.get({ sid, login: loginId, now: nowIso() });
  return row
    ? {
        user: { id: row.id, username: row.username },
        kind: "cookie",
        credentialId: loginId,
        expiresAt: row.expires_at,
        loginId,
        csrfToken: row.csrf,
        ...withMembership(row),
      }
    : undefined;
}

/**
 * Authenticates the request into the context. A bearer token that is present but wrong is a 401
 * (no fallback to the cookie). Cookie-authenticated mutations must carry the login's CSRF token.
 */
async function admit(c: Context<AppEnv>, sessionId?: string): Promise<Authentication> {
  const auth = await authenticate(c.env, c.req.header("authorization"), getCookie(c, SESSION_COOKIE), sessionId);
  if (!auth) throw new ApiError("unauthorized", "log in or send a valid API token");
  if (auth.kind === "cookie" && !SAFE_METHODS.has(c.req.method)) {
    const sent = c.req.header("x-csrf-token") ?? "";
    if (!auth.csrfToken || !safeEqual(sent, auth.csrfToken)) {
      throw new ApiError("csrf", "missing or wrong X-CSRF-Token");
    }
  }
  c.set("user", auth.user);
  c.set("authKind", auth.kind);
  c.set("loginId", auth.loginId);
  c.set("csrfToken", auth.csrfToken);
  c.set("credential", { id: auth.credentialId, expiresAt: auth.expiresAt });
  return auth;
}

/** Requires a logged-in caller. */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  await admit(c);
  await next();
});

/**
 * Requires a logged-in member of the session in the `sid` path parameter; non-members get 404,
 * exactly like a session that does not exist. The session's head (seq, log floor) is read from its
 * shard: at the same time as admission when this isolate already knows the shard, so a poll
 * answered with 304 still waits for one round trip.
 */
export const requireMember = createMiddleware<AppEnv>(async (c, next) => {
  const sessionId = c.req.param("sid") ?? "";
  const valid = SESSION_ID.test(sessionId);
  const isRead = c.req.method === "GET";
  const known = valid && isRead ? peekShard(sessionId) : undefined;
  // A read goes to the nearest replica consistent with the client's bookmark (db/replicas.ts).
  const wanted = isRead ? c.req.header(BOOKMARK_HEADER) : undefined;
  const earlyReader = known ? new ShardReader(c.env, known.shard, sessionId, wanted) : undefined;
  const early = earlyReader ? earlyReader.head().catch(() => null) : undefined;
  const auth = await admit(c, valid ? sessionId : "");
  if (!valid || !auth.membership) throw new ApiError("not_found", "no such session");
  const { role, shard, region, state } = auth.membership;
  rememberShard(sessionId, { shard, region, state });
  if (state === "moving" && !SAFE_METHODS.has(c.req.method) && (await sessionStub(c.env, sessionId).isMoving(sessionId))) {
    // Writes the worker makes to the shard itself would miss the copy: refused like the object's own.
    throw ApiError.from(movingFailure(), { "Retry-After": String(retryAfterSeconds(MOVING_RETRY_MS)) });
  }
  let reader = known?.shard === shard ? earlyReader : undefined;
  const readerOf = () => (reader ??= new ShardReader(c.env, shard, sessionId, wanted));
  const head = isRead
    ? async () => (reader !== undefined && reader === earlyReader ? await early : null) ?? (await readerOf().head())
    : async () => readHead(c.env, shard, sessionId);
  let loaded: ReturnType<typeof head> | undefined;
  c.set("member", { sessionId, role, shard, head: () => (loaded ??= head()), ...(isRead ? { reader: readerOf } : {}) });
  await next();
  // The answer carries the newest bookmark its reads saw: the client keeps it for its next read.
  const bookmark = reader?.bookmark();
  if (bookmark && c.res.status < 400) {
    try {
      c.res.headers.set(BOOKMARK_HEADER, bookmark);
    } catch {
      // An answer with immutable headers (a socket's upgrade): it carries no bookmark.
    }
  }
});

/** The session's head as its shard holds it; a session the directory lists but its shard lacks is not found. */
export async function headOf(member: { head: () => Promise<{ seq: number; logFloor: number } | null> }) {
  const head = await member.head();
  if (!head) throw new ApiError("not_found", "no such session");
  return head;
}

export const requireGm = createMiddleware<AppEnv>(async (c, next) => {
  if (c.get("member").role !== "gm") throw new ApiError("forbidden", "only a GM may do this");
  await next();
});

/**
 * An operator route's check: `Authorization: Bearer <secret>` must carry `expected` (compared in
 * constant time), else 401 naming the secret (`name`), with a `WWW-Authenticate` challenge.
 */
export function assertBearerSecret(header: string | undefined, expected: string, name: string, realm: string): void {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!match?.[1] || !safeEqual(match[1], expected)) {
    throw new ApiError("unauthorized", `send Authorization: Bearer <${name}>`, undefined, {
      "WWW-Authenticate": `Bearer realm="${realm}"`,
    });
  }
}
