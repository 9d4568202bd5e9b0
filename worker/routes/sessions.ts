import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { joinSchema, memberSchema, sessionCreateSchema, userIdSchema } from "../../domain/api";
import { ApiError } from "../api-error";
import type { Db } from "../db/client";
import { gameSessions, sessionDirectory, sessionMembers, users } from "../db/schema";
import { directoryDb, placeSession, sessionDb } from "../db/shards";
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
    // On a shard of the GM's region (worker/db/shards.ts), by the session's own object, placed near it.
    const shard = await placeSession(c.env, (c.req.raw.cf ?? {}) as { continent?: string; longitude?: string });
    const { created_at } = await createSession(c.env, sessionId, shard, user.id, name, inviteCode);
    const session = { id: sessionId, name, created_at };
    return c.json({ session, invite_code: inviteCode }, 201);
  })
  .get("/", requireUser, async (c) => {
    const rows = await directoryDb(c.env)
      .select({ id: sessionDirectory.session_id, name: sessionDirectory.name, role: sessionMembers.role })
      .from(sessionMembers)
      .innerJoin(sessionDirectory, eq(sessionDirectory.session_id, sessionMembers.session_id))
      .where(eq(sessionMembers.user_id, c.get("user").id))
      .orderBy(sessionDirectory.created_at);
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
    const session = await directoryDb(c.env)
      .select({ id: sessionDirectory.session_id, name: sessionDirectory.name, created_at: sessionDirectory.created_at })
      .from(sessionDirectory)
      .where(eq(sessionDirectory.invite_code, invite_code))
      .get();
    if (!session) throw new ApiError("not_found", "no session has that invite code");
    const role = await joinSession(c.env, session.id, c.get("user").id);
    return c.json({ session, role });
  },
);

/** One session, for its members (mounted under the per-session routes). */
export const sessionDetailRoutes = new Hono<AppEnv>()
  .get("/", async (c) => {
    const { sessionId, role, reader } = c.get("member");
    const directory = directoryDb(c.env);
    // The head from a replica consistent with the client's bookmark (db/replicas.ts).
    const readHeadRow = (db: Db) =>
      db.select({ seq: gameSessions.seq, settings: gameSessions.settings }).from(gameSessions).where(eq(gameSessions.id, sessionId)).get();
    const [entry, members, head] = await Promise.all([
      directory.select().from(sessionDirectory).where(eq(sessionDirectory.session_id, sessionId)).get(),
      directory
        .select({ user_id: sessionMembers.user_id, username: users.username, role: sessionMembers.role })
        .from(sessionMembers)
        .innerJoin(users, eq(users.id, sessionMembers.user_id))
        .where(eq(sessionMembers.session_id, sessionId)),
      reader ? reader().run(readHeadRow) : sessionDb(c.env, sessionId).then(readHeadRow),
    ]);
    if (!entry || !head) throw new ApiError("not_found", "no such session");
    const row = { ...entry, ...head };
    return c.json({
      session: { id: sessionId, name: row.name, created_at: row.created_at },
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
    const user = await directoryDb(c.env)
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
  // The directory's code is the one joining looks up; the shard's copy follows it.
  await directoryDb(c.env).update(sessionDirectory).set({ invite_code: inviteCode }).where(eq(sessionDirectory.session_id, sessionId));
  await (await sessionDb(c.env, sessionId)).update(gameSessions).set({ invite_code: inviteCode }).where(eq(gameSessions.id, sessionId));
  return c.json({ invite_code: inviteCode });
});
