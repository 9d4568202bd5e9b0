/**
 * Operator routes under `/api/vtt/admin`, behind the secret ADMIN_TOKEN sent as
 * `Authorization: Bearer <token>`: an operator reads and switches any session's settings (the
 * rollout flags of domain/settings.ts) without being a member of it and without a deploy, and
 * moves a session to another shard (worker/session/move.ts).
 *
 * Without the secret configured these routes do not exist (404 `not_found`); a missing or wrong
 * bearer is 401 `unauthorized`, checked before anything else, so a stranger learns nothing about
 * sessions. A change goes through the same call to the session object as a GM's
 * `PATCH {S}/settings`: connected sockets get the same `settings` message, and turning real time
 * off closes them the same way.
 */
import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import { idSchema } from "../../domain/fields";
import type { Actor } from "../../domain/permissions";
import { resolveSettings, settingsPatchSchema } from "../../domain/settings";
import { ApiError } from "../api-error";
import { gameSessions, sessionDirectory } from "../db/schema";
import { directoryDb, isShard, shardDb } from "../db/shards";
import { assertBearerSecret } from "../middleware/auth";
import { jsonBody, KiB } from "../middleware/body";
import { moveSession, updateSettings } from "../session/stub";
import type { AppEnv } from "../types";

/** How the session object sees an operator: allowed what a GM is, rate-limited as one user. */
const ADMIN_ACTOR: Actor = { userId: "admin", role: "gm" };

const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
  const expected = (c.env as Partial<{ ADMIN_TOKEN: string }>).ADMIN_TOKEN;
  if (!expected) throw new ApiError("not_found", "no such route");
  assertBearerSecret(c.req.header("authorization"), expected, "ADMIN_TOKEN", "admin");
  c.set("log", { ...c.get("log"), admin: true });
  await next();
});

/** The directory's entry of the session named by the path, read fresh (never the isolate's cache); 404 when there is none. */
async function directoryEntry(env: Env, sid: string) {
  if (!idSchema.safeParse(sid).success) throw new ApiError("not_found", "no such session");
  const entry = await directoryDb(env)
    .select({ shard: sessionDirectory.shard })
    .from(sessionDirectory)
    .where(eq(sessionDirectory.session_id, sid))
    .get();
  if (!entry) throw new ApiError("not_found", "no such session");
  return entry;
}

/** The session named by the path, with its stored settings from its shard; 404 when there is none. */
async function findSession(env: Env, sid: string) {
  const entry = await directoryEntry(env, sid);
  const row = await shardDb(env, entry.shard)
    .select({ id: gameSessions.id, settings: gameSessions.settings })
    .from(gameSessions)
    .where(eq(gameSessions.id, sid))
    .get();
  if (!row) throw new ApiError("not_found", "no such session");
  return row;
}

export const moveSchema = z.strictObject({ shard: z.string().min(1).max(64) });

export const adminRoutes = new Hono<AppEnv>()
  .use(requireAdmin)
  .get("/sessions/:sid/settings", async (c) => {
    const session = await findSession(c.env, c.req.param("sid"));
    return c.json({ settings: resolveSettings(session.settings) });
  })
  .patch("/sessions/:sid/settings", ...jsonBody(settingsPatchSchema, 4 * KiB), async (c) => {
    const session = await findSession(c.env, c.req.param("sid"));
    const result = await updateSettings(c.env, session.id, ADMIN_ACTOR, c.req.valid("json"));
    return c.json({ settings: result.settings });
  })
  .post("/sessions/:sid/move", ...jsonBody(moveSchema, 1 * KiB), async (c) => {
    const sid = c.req.param("sid");
    const entry = await directoryEntry(c.env, sid);
    const { shard } = c.req.valid("json");
    if (!isShard(c.env, shard)) {
      throw new ApiError("bad_request", `no shard ${shard}`, { fields: [{ field: "shard", message: "not a configured shard" }] });
    }
    if (entry.shard === shard) throw new ApiError("conflict", `the session is already on ${shard}`, { shard });
    // A move in progress is the object's word (409): a "moving" left by a move that died is taken over.
    const { ok: _ok, ...report } = await moveSession(c.env, sid, shard);
    return c.json(report);
  });
