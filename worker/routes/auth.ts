import { eq } from "drizzle-orm";
import type { Context } from "hono";
import { Hono } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import { apiTokenCreateSchema, credentialsSchema, loginSchema } from "../../domain/api";
import { ApiError } from "../api-error";
import { getDb, nowIso } from "../db/client";
import { apiTokens, loginSessions, users } from "../db/schema";
import { hashPassword, randomToken, sha256Hex, verifyPassword } from "../lib/crypto";
import { requireUser, SESSION_COOKIE } from "../middleware/auth";
import { jsonBody } from "../middleware/body";
import type { AppEnv } from "../types";

const LOGIN_DAYS = 30;

/** Starts a cookie login for `userId` and returns its CSRF token. */
async function startLogin(c: Context<AppEnv>, userId: string): Promise<string> {
  const cookie = randomToken();
  const csrf = randomToken();
  const now = new Date();
  await getDb(c.env.DB)
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

export const authRoutes = new Hono<AppEnv>()
  .post("/register", ...jsonBody(credentialsSchema, 4096), async (c) => {
    const { username, password } = c.req.valid("json");
    const db = getDb(c.env.DB);
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
  .post("/login", ...jsonBody(loginSchema, 4096), async (c) => {
    const { username, password } = c.req.valid("json");
    const row = await getDb(c.env.DB).select().from(users).where(eq(users.username, username)).get();
    // Always derive a hash, so an unknown user and a wrong password take the same time.
    const ok = await verifyPassword(password, row?.password_hash);
    if (!row || !ok) throw new ApiError("unauthorized", "wrong username or password");
    const csrf = await startLogin(c, row.id);
    return c.json({ user: { id: row.id, username: row.username }, csrf_token: csrf });
  })
  .use(requireUser)
  .get("/me", (c) => c.json({ user: c.get("user"), csrf_token: c.get("csrfToken") ?? null }))
  .post("/logout", async (c) => {
    const loginId = c.get("loginId");
    if (loginId) await getDb(c.env.DB).delete(loginSessions).where(eq(loginSessions.id, loginId));
    deleteCookie(c, SESSION_COOKIE, { path: "/", secure: true, httpOnly: true, sameSite: "Lax" });
    return c.body(null, 204);
  })
  .post("/tokens", ...jsonBody(apiTokenCreateSchema, 4096), async (c) => {
    const { name } = c.req.valid("json");
    const token = `vtt_${randomToken()}`;
    const id = crypto.randomUUID();
    await getDb(c.env.DB)
      .insert(apiTokens)
      .values({ id, user_id: c.get("user").id, name, token_hash: await sha256Hex(token), created_at: nowIso() });
    return c.json({ token, id, name }, 201);
  });
