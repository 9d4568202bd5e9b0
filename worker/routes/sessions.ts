import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { joinSchema, memberSchema, sessionCreateSchema, userIdSchema } from "../../domain/api";
import { ApiError } from "../api-error";
import { getDb } from "../db/client";
import { gameSessions, sessionMembers, users } from "../db/schema";
import { randomToken } from "../lib/crypto";
import { conflictReportSchema, recordConflictReport } from "../metrics/client-reports";
import { requireGm, requireUser } from "../middleware/auth";
import { jsonBody, KiB } from "../middleware/body";
import { limitPerUser } from "../middleware/rate-limit";
import { createSession, joinSession, setMember } from "../session/stub";
import type { AppEnv } from "../types";

/** Sessions of the caller: create, list (join is `joinRoutes`). */
export const sessionRoutes = new Hono<AppEnv>()
  .post("/", requireUser, limitPerUser("session_create"), ...jsonBody(sessionCreateSchema, 4096), async (c) => {
    const { name } = c.req.valid("json");
    const user = c.get("user");
    const sessionId = crypto.randomUUID();
    const inviteCode = randomToken(12);
    // Written by the session's own object, like every change of the session.
    const { created_at } = await createSession(c.env, sessionId, user.id, name, inviteCode);
    const session = { id: sessionId, name, created_at };
    return c.json({ session, invite_code: inviteCode }, 201);
  })
  .get("/", requireUser, async (c) => {
    const rows = await getDb(c.env.DB)
      .select({ id: gameSessions.id, name: gameSessions.name, role: sessionMembers.role })
      .from(sessionMembers)
      .innerJoin(gameSessions, eq(gameSessions.id, sessionMembers.session_id))
      .where(eq(sessionMembers.user_id, c.get("user").id))
      .orderBy(gameSessions.created_at);
    return c.json({ sessions: rows });
  });

/** The segment after `/api/vtt/sessions/` that names the join route rather than a session. */
export const JOIN_SEGMENT = "join";

/**
 * `POST /api/vtt/sessions/join`, registered as `/:sid` with `sid` = "join": the router serves a
 * path segment either as a parameter or as static text, never both (see worker/app.ts). Any other
 * `sid` here is a POST to a session's own path, which has no route.
 */
export const joinRoutes = new Hono<AppEnv>().post(
  "/:sid",
  async (c, next) => {
    if (c.req.param("sid") !== JOIN_SEGMENT) throw new ApiError("not_found", "no such route");
    await next();
  },
  requireUser,
  ...jsonBody(joinSchema, 4096),
  async (c) => {
    const { invite_code } = c.req.valid("json");
    const db = getDb(c.env.DB);
    const session = await db
      .select({ id: gameSessions.id, name: gameSessions.name, created_at: gameSessions.created_at })
      .from(gameSessions)
      .where(eq(gameSessions.invite_code, invite_code))
      .get();
    if (!session) throw new ApiError("not_found", "no session has that invite code");
    const role = await joinSession(c.env, session.id, c.get("user").id);
    return c.json({ session, role });
  },
);

/** One session, for its members (mounted under the per-session routes). */
export const sessionDetailRoutes = new Hono<AppEnv>()
  .get("/", async (c) => {
    const { sessionId, role } = c.get("member");
    const db = getDb(c.env.DB);
    const row = await db.select().from(gameSessions).where(eq(gameSessions.id, sessionId)).get();
    if (!row) throw new ApiError("not_found", "no such session");
    const members = await db
      .select({ user_id: sessionMembers.user_id, username: users.username, role: sessionMembers.role })
      .from(sessionMembers)
      .innerJoin(users, eq(users.id, sessionMembers.user_id))
      .where(eq(sessionMembers.session_id, sessionId));
    return c.json({
      session: { id: row.id, name: row.name, created_at: row.created_at },
      role,
      seq: row.seq,
      settings: row.settings,
      members,
      ...(role === "gm" ? { invite_code: row.invite_code } : {}),
    });
  })
  .post("/metrics/conflicts", ...jsonBody(conflictReportSchema, 16 * KiB), async (c) => {
    // Any member: players' queues meet conflicts too. Aggregated at once (client-reports.ts).
    await recordConflictReport(c.env, c.req.valid("json"));
    return c.body(null, 204);
  })
  .put("/members/:user_id", requireGm, ...jsonBody(memberSchema, 4096), async (c) => {
    const { role } = c.req.valid("json");
    const userId = userIdSchema.safeParse(c.req.param("user_id"));
    if (!userId.success) throw new ApiError("not_found", "no such user");
    const { sessionId } = c.get("member");
    const user = await getDb(c.env.DB)
      .select({ id: users.id, username: users.username })
      .from(users)
      .where(eq(users.id, userId.data))
      .get();
    if (!user) throw new ApiError("not_found", "no such user");
    await setMember(c.env, sessionId, { userId: c.get("user").id, role: "gm" }, user.id, role);
    return c.json({ member: { user_id: user.id, username: user.username, role } });
  })
  .delete("/members/:user_id", requireGm, async (c) => {
    const userId = userIdSchema.safeParse(c.req.param("user_id"));
    if (!userId.success) throw new ApiError("not_found", "no such member");
    await setMember(c.env, c.get("member").sessionId, { userId: c.get("user").id, role: "gm" }, userId.data, null);
    return c.body(null, 204);
  });

/**
 * A new invite code for the session (GM): the old one stops working at once, and joining with it
 * answers like an unknown code. Members stay members.
 */
export const inviteRoutes = new Hono<AppEnv>().post("/invite", requireGm, async (c) => {
  const { sessionId } = c.get("member");
  const inviteCode = randomToken(12);
  await getDb(c.env.DB).update(gameSessions).set({ invite_code: inviteCode }).where(eq(gameSessions.id, sessionId));
  return c.json({ invite_code: inviteCode });
});
