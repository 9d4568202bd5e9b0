import { Hono } from "hono";
import { z } from "zod";
import { ApiError } from "../api-error";
import { writeFullBackup } from "../backup/backup";
import { listBackups } from "../backup/layout";
import { restoreSession } from "../backup/restore";
import { requireGm } from "../middleware/auth";
import { jsonBody } from "../middleware/body";
import { limitPerUser } from "../middleware/rate-limit";
import type { AppEnv } from "../types";

export const restoreBody = z.strictObject({ at: z.iso.datetime({ offset: true }).optional() });

/** Backups of a session (GM): list them, take one now, restore to a point in time. */
export const backupRoutes = new Hono<AppEnv>()
  .use("/backups", requireGm)
  .use("/restore", requireGm)
  .get("/backups", async (c) => {
    const refs = await listBackups(c.env.ASSETS, c.get("member").sessionId);
    return c.json({
      backups: refs.map((r) => ({
        id: r.prefix.split("/").at(-2),
        kind: r.kind,
        created_at: r.createdAt,
        from_seq: r.fromSeq,
        to_seq: r.toSeq,
      })),
    });
  })
  .post("/backups", limitPerUser("backup"), async (c) => {
    const manifest = await writeFullBackup(c.env, c.get("member").sessionId, new Date());
    if (!manifest) throw new ApiError("not_found", "no such session");
    return c.json({ backup: manifest }, 201);
  })
  .post("/restore", limitPerUser("restore"), ...jsonBody(restoreBody, 1024), async (c) => {
    const { at } = c.req.valid("json");
    const when = at ? new Date(at) : new Date();
    // The restored session is placed as a new one is: near the GM restoring it (worker/db/shards.ts).
    const origin = (c.req.raw.cf ?? {}) as { continent?: string; longitude?: string };
    const result = await restoreSession(c.env, c.get("member").sessionId, when, c.get("user").id, origin);
    if (!result.ok) throw ApiError.from(result);
    const { ok: _ok, ...body } = result;
    return c.json(body, 201);
  });
