import { and, desc, eq, ne } from "drizzle-orm";
import type { Context } from "hono";
import { Hono } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import { type ApiTokenCreated, type ApiTokenInfo, apiTokenCreateSchema, passwordChangeSchema, tokenExpiry } from "../../domain/accounts";
import { credentialsSchema, loginSchema } from "../../domain/api";
import { idSchema } from "../../domain/fields";
import { ApiError } from "../api-error";
import { nowIso } from "../db/client";
import { apiTokens, loginSessions, users } from "../db/schema";
import { directoryDb } from "../db/shards";
import { hashPassword, randomToken, sha256Hex, verifyPassword } from "../lib/crypto";
import { requireUser, SESSION_COOKIE } from "../middleware/auth";
import { jsonBody } from "../middleware/body";
import { assertLoginAllowed, clearLoginFailures, recordLoginFailure } from "../middleware/login-throttle";
import { limitPerAddress } from "../middleware/rate-limit";
import { closeCredentialSockets } from "../session/credential-sockets";
import type { AppEnv } from "../types";

const LOGIN_DAYS = 30;

/** Starts a cookie login for `userId` and returns its CSRF token. */
async function startLogin(c: Context<AppEnv>, userId: string): Promise<string> {
  const cookie = randomToken();
  const csrf = randomToken();
  const now = new Date();
  await directoryDb(c.env)
    .insert(loginSessions)
    .values({
      id: await sha256Hex(cookie),
      user_id: userId,
      csrf_token: csrf,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + LOGIN_DAYS * 86_400_000).toISOString(),
    });
  setCookie(c, SESSION_COOKIE, cookie, {
    httpOnly: true,
    secure: true,
    sameSite: "Lax",
    path: "/",
    maxAge: LOGIN_DAYS * 86_400,
  });
  return csrf;
}

const tokenInfo = {
  id: apiTokens.id,
  name: apiTokens.name,
  created_at: apiTokens.created_at,
  last_used_at: apiTokens.last_used_at,
  expires_at: apiTokens.expires_at,
};

export const authRoutes = new Hono<AppEnv>()
  .post("/register", limitPerAddress("register"), ...jsonBody(credentialsSchema, 4096), async (c) => {
    const { username, password } = c.req.valid("json");
    const db = directoryDb(c.env);
    const user = { id: crypto.randomUUID(), username };
    const inserted = await db
      .insert(users)
      .values({ ...user, password_hash: await hashPassword(password), created_at: nowIso() })
      .onConflictDoNothing()
      .returning({ id: users.id });
    if (inserted.length === 0) throw new ApiError("conflict", "that username is taken");
    const csrf = await startLogin(c, user.id);
    return c.json({ user, csrf_token: csrf }, 201);
  })
  .post("/login", limitPerAddress("login"), ...jsonBody(loginSchema, 4096), async (c) => {
    const { username, password } = c.req.valid("json");
    // Refused while the username is backing off: not even the right password is checked then.
    await assertLoginAllowed(c.env, username);
    const row = await directoryDb(c.env).select().from(users).where(eq(users.username, username)).get();
    // Always derive a hash, so an unknown user and a wrong password take the same time.
    const ok = await verifyPassword(password, row?.password_hash);
    if (!row || !ok) {
      await recordLoginFailure(c.env, username);
      throw new ApiError("unauthorized", "wrong username or password");
    }
    await clearLoginFailures(c.env, username);
    const csrf = await startLogin(c, row.id);
    return c.json({ user: { id: row.id, username: row.username }, csrf_token: csrf });
  })
  .use(requireUser)
  .get("/me", (c) => c.json({ user: c.get("user"), csrf_token: c.get("csrfToken") ?? null }))
  .post("/logout", async (c) => {
    const loginId = c.get("loginId");
    if (loginId) {
      await directoryDb(c.env).delete(loginSessions).where(eq(loginSessions.id, loginId));
      await closeCredentialSockets(c.env, c.get("user").id, { only: [loginId] }, "logged out");
    }
    deleteCookie(c, SESSION_COOKIE, { path: "/", secure: true, httpOnly: true, sameSite: "Lax" });
    return c.body(null, 204);
  })
  /**
   * Changes the password. Every other way in ends with it: the other cookie logins, every API
   * token (the one making this request too), and the sockets they opened.
   */
  .post("/password", ...jsonBody(passwordChangeSchema, 4096), async (c) => {
    const { current_password, new_password } = c.req.valid("json");
    const user = c.get("user");
    await assertLoginAllowed(c.env, user.username);
    const db = directoryDb(c.env);
    const row = await db.select({ password_hash: users.password_hash }).from(users).where(eq(users.id, user.id)).get();
    if (!row || !(await verifyPassword(current_password, row.password_hash))) {
      // A wrong current password counts like a failed login: a stolen cookie cannot guess at leisure.
      await recordLoginFailure(c.env, user.username);
      throw new ApiError("forbidden", "the current password is wrong");
    }
    const keep = c.get("loginId");
    await db.batch([
      db
        .update(users)
        .set({ password_hash: await hashPassword(new_password) })
        .where(eq(users.id, user.id)),
      db
        .delete(loginSessions)
        .where(keep ? and(eq(loginSessions.user_id, user.id), ne(loginSessions.id, keep)) : eq(loginSessions.user_id, user.id)),
      db.delete(apiTokens).where(eq(apiTokens.user_id, user.id)),
    ]);
    await clearLoginFailures(c.env, user.username);
    await closeCredentialSockets(c.env, user.id, keep ? { except: keep } : {}, "the password changed");
    return c.body(null, 204);
  })
  .post("/tokens", ...jsonBody(apiTokenCreateSchema, 4096), async (c) => {
    const body = c.req.valid("json");
    const now = new Date();
    const expiry = tokenExpiry(body, now);
    if ("error" in expiry) throw new ApiError("bad_request", expiry.error, { field: "expires_at" });
    const token = `vtt_${randomToken()}`;
    const info: ApiTokenInfo = {
      id: crypto.randomUUID(),
      name: body.name,
      created_at: now.toISOString(),
      last_used_at: null,
      expires_at: expiry.expires_at,
    };
    await directoryDb(c.env)
      .insert(apiTokens)
      .values({ ...info, user_id: c.get("user").id, token_hash: await sha256Hex(token) });
    return c.json({ token, ...info } satisfies ApiTokenCreated, 201);
  })
  .get("/tokens", async (c) => {
    const tokens: ApiTokenInfo[] = await directoryDb(c.env)
      .select(tokenInfo)
      .from(apiTokens)
      .where(eq(apiTokens.user_id, c.get("user").id))
      .orderBy(desc(apiTokens.created_at), apiTokens.id);
    return c.json({ tokens });
  })
  .delete("/tokens/:id", async (c) => {
    const id = c.req.param("id");
    const userId = c.get("user").id;
    // Another user's token, a malformed id and no token at all answer the same.
    const deleted = idSchema.safeParse(id).success
      ? await directoryDb(c.env)
          .delete(apiTokens)
          .where(and(eq(apiTokens.id, id), eq(apiTokens.user_id, userId)))
          .returning({ id: apiTokens.id })
      : [];
    if (deleted.length === 0) throw new ApiError("not_found", "no such token");
    await closeCredentialSockets(c.env, userId, { only: [id] }, "the token was revoked");
    return c.body(null, 204);
  });
