import { sql } from "drizzle-orm";
import { Hono } from "hono";
import { getDb } from "../db/client";
import { unsyncedBacklog } from "../metrics/backlog";
import type { AppEnv } from "../types";

type Check = { ok: true; ms: number; [k: string]: unknown } | { ok: false; error: string };

async function timed(run: () => Promise<Record<string, unknown> | undefined>): Promise<Check> {
  const start = Date.now();
  try {
    const extra = (await run()) ?? {};
    return { ok: true, ms: Date.now() - start, ...extra };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/** Health: a real D1 query, an R2 write/read/delete probe, and the unsynced backlog. */
export const healthRoutes = new Hono<AppEnv>().get("/", async (c) => {
  const db = getDb(c.env.DB);
  const [dbCheck, storage, backlog] = await Promise.all([
    timed(async () => {
      await db.get(sql`SELECT 1 AS one`);
      return undefined;
    }),
    timed(async () => {
      const key = `health/${crypto.randomUUID()}`;
      await c.env.ASSETS.put(key, "ok");
      const back = await c.env.ASSETS.get(key);
      await c.env.ASSETS.delete(key);
      if ((await back?.text()) !== "ok") throw new Error("R2 did not return what was written");
      return undefined;
    }),
    // The unsynced backlog of the clients connected now (defined in worker/metrics/backlog.ts).
    timed(async () => ({ ...(await unsyncedBacklog(c.env.DB)) })),
  ]);
  const checks = { db: dbCheck, storage, backlog };
  const failing = Object.entries(checks)
    .filter(([, v]) => !v.ok)
    .map(([k]) => k);
  c.header("Cache-Control", "no-store");
  if (failing.length > 0) {
    return c.json({ status: "unavailable", checks, error: { code: "unavailable", message: `failing: ${failing.join(", ")}` } }, 503);
  }
  return c.json({ status: "ok", checks });
});
