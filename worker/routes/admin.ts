/**
 * Operator routes under `/api/vtt/admin`, behind the secret ADMIN_TOKEN sent as
 * `Authorization: Bearer <token>`: an operator reads and switches any session's settings (the
 * rollout flags of domain/settings.ts) without being a member of it and without a deploy.
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
import { idSchema } from "../../domain/fields";
import type { Actor } from "../../domain/permissions";
import { resolveSettings, settingsPatchSchema } from "../../domain/settings";
import { ApiError } from "../api-error";
import { getDb } from "../db/client";
import { gameSessions } from "../db/schema";
import { assertBearerSecret } from "../middleware/auth";
import { jsonBody, KiB } from "../middleware/body";
import { updateSettings } from "../session/stub";
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

/** The session named by the path, with its stored settings; 404 when there is none. */
async function findSession(env: Env, sid: string) {
  if (!idSchema.safeParse(sid).success) throw new ApiError("not_found", "no such session");
  const row = await getDb(env.DB)
    .select({ id: gameSessions.id, settings: gameSessions.settings })
    .from(gameSessions)
    .where(eq(gameSessions.id, sid))
    .get();
  if (!row) throw new ApiError("not_found", "no such session");
  return row;
}

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
  });
