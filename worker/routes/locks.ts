/**
 * Scene locks (the contract's "Locks"): a GM reserves a scene for editing. The rules are in
 * domain/locks.ts; the session object holds and expires the locks and refuses other GMs' writes.
 */
import { Hono } from "hono";
import { z } from "zod";
import { idSchema } from "../../domain/entities";
import { ApiError } from "../api-error";
import { requireGm } from "../middleware/auth";
import { jsonBody, KiB } from "../middleware/body";
import { acquireLock, listLocks, releaseLock } from "../session/stub";
import type { AppEnv } from "../types";

export const lockBodySchema = z.strictObject({ scene_id: idSchema });

export const lockRoutes = new Hono<AppEnv>()
  .get("/locks", requireGm, async (c) => {
    const { sessionId } = c.get("member");
    return c.json({ locks: await listLocks(c.env, sessionId) });
  })
  .post("/locks", requireGm, ...jsonBody(lockBodySchema, 1 * KiB), async (c) => {
    const { sessionId } = c.get("member");
    const { scene_id } = c.req.valid("json");
    const result = await acquireLock(c.env, sessionId, { userId: c.get("user").id, role: "gm" }, scene_id);
    return c.json({ lock: result.lock }, 201);
  })
  .delete("/locks/:scene_id", requireGm, async (c) => {
    const sceneId = idSchema.safeParse(c.req.param("scene_id"));
    if (!sceneId.success) throw new ApiError("not_found", "no such scene");
    const { sessionId } = c.get("member");
    await releaseLock(c.env, sessionId, { userId: c.get("user").id, role: "gm" }, sceneId.data);
    return c.body(null, 204);
  });
