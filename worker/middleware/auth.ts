import { and, eq, gt } from "drizzle-orm";
import { getCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { ApiError } from "../api-error";
import { getDb, nowIso } from "../db/client";
import { apiTokens, loginSessions, sessionMembers, users } from "../db/schema";
import { safeEqual, sha256Hex } from "../lib/crypto";
import type { AppEnv, AuthedUser } from "../types";

export const SESSION_COOKIE = "vtt_session";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export interface Authentication {
  user: AuthedUser;
  kind: "cookie" | "bearer";
  loginId?: string;
  csrfToken?: string;
}

/** Resolves the caller from a bearer API token or the session cookie; undefined when neither is valid. */
export async function authenticate(
  env: Env,
  authorization: string | undefined,
  cookie: string | undefined,
): Promise<Authentication | undefined> {
  const db = getDb(env.DB);
  if (authorization !== undefined) {
    const match = /^Bearer ([A-Za-z0-9_-]{16,200})$/.exec(authorization);
    if (!match?.[1]) return undefined;
    const hash = await sha256Hex(match[1]);
    const row = await db
      .select({ id: users.id, username: users.username })
      .from(apiTokens)
      .innerJoin(users, eq(users.id, apiTokens.user_id))
      .where(eq(apiTokens.token_hash, hash))
      .get();
    return row ? { user: row, kind: "bearer" } : undefined;
  }
  if (!cookie || cookie.length > 200) return undefined;
  const loginId = await sha256Hex(cookie);
  const row = await db
    .select({ id: users.id, username: users.username, csrf: loginSessions.csrf_token })
    .from(loginSessions)
    .innerJoin(users, eq(users.id, loginSessions.user_id))
    .where(and(eq(loginSessions.id, loginId), gt(loginSessions.expires_at, nowIso())))
    .get();
  return row ? { user: { id: row.id, username: row.username }, kind: "cookie", loginId, csrfToken: row.csrf } : undefined;
}

/**
 * Requires a logged-in caller. A bearer token that is present but wrong is a 401 (no fallback to
 * the cookie). Cookie-authenticated mutations must carry the login's CSRF token.
 */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const auth = await authenticate(c.env, c.req.header("authorization"), getCookie(c, SESSION_COOKIE));
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
  await next();
});

/** Requires membership of the session in the `sid` path parameter; non-members get 404. */
export const requireMember = createMiddleware<AppEnv>(async (c, next) => {
  const sessionId = c.req.param("sid");
  if (!sessionId || !/^[A-Za-z0-9_-]{1,64}$/.test(sessionId)) throw new ApiError("not_found", "no such session");
  const row = await getDb(c.env.DB)
    .select({ role: sessionMembers.role })
    .from(sessionMembers)
    .where(and(eq(sessionMembers.session_id, sessionId), eq(sessionMembers.user_id, c.get("user").id)))
    .get();
  if (!row) throw new ApiError("not_found", "no such session");
  c.set("member", { sessionId, role: row.role });
  await next();
});

export const requireGm = createMiddleware<AppEnv>(async (c, next) => {
  if (c.get("member").role !== "gm") throw new ApiError("forbidden", "only a GM may do this");
  await next();
});
