import { Hono } from "hono";
import { ApiError } from "../api-error";
import { getDb, nowIso } from "../db/client";
import { acknowledgements } from "../db/schema";
import type { AppEnv } from "../types";

/**
 * Baselines for `npm run bench`, measured in the same run as the real routes: a bare D1 write
 * and a bare 304. Mounted only when the BENCH_ROUTES variable is "1" (never in production).
 */
export const benchRoutes = new Hono<AppEnv>()
  .use(async (c, next) => {
    if (c.env.BENCH_ROUTES !== "1") throw new ApiError("not_found", "no such route");
    await next();
  })
  .post("/d1-write", async (c) => {
    // One plain INSERT into an existing table: what a single D1 write costs, nothing more.
    await getDb(c.env.DB)
      .insert(acknowledgements)
      .values({
        session_id: "bench",
        client_id: "bench",
        event_id: Date.now() * 1000 + Math.floor(Math.random() * 1000),
        user_id: "bench",
        acked_at: nowIso(),
      });
    return c.json({ ok: true }, 201);
  })
  .get("/static", (c) => {
    c.header("ETag", '"1"');
    if (c.req.header("if-none-match") === '"1"') return c.body(null, 304);
    return c.json({ ok: true });
  });
