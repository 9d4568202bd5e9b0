import { Hono } from "hono";
import { allDatabases, DIRECTORY } from "../db/shards";
import { serviceBacklog } from "../metrics/backlog";
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

/** One database's probe: its binding name, what it serves, its region, and a real query's outcome. */
export type DatabaseCheck = { name: string; role: "directory" | "shard"; region: string } & Check;

/** A real query on every database of the service: the directory, then each shard (worker/db/shards.ts). */
export async function pingDatabases(env: Env): Promise<DatabaseCheck[]> {
  return Promise.all(
    allDatabases(env).map(async ({ name, region, d1 }) => ({
      name,
      role: name === DIRECTORY ? ("directory" as const) : ("shard" as const),
      region,
      ...(await timed(async () => {
        await d1.prepare("SELECT 1 AS one").first();
        return undefined;
      })),
    })),
  );
}

/**
 * Health: a real query on each database (`databases`: the directory and every shard; `checks.db`
 * passes when all do), an R2 write/read/delete probe, and the unsynced backlog. Any failing check
 * answers 503 naming it; the status is "degraded" when only session shards fail (sessions on the
 * others are served), else "unavailable".
 */
export const healthRoutes = new Hono<AppEnv>().get("/", async (c) => {
  const [databases, storage, backlog] = await Promise.all([
    pingDatabases(c.env),
    timed(async () => {
      const key = `health/${crypto.randomUUID()}`;
      await c.env.ASSETS.put(key, "ok");
      const back = await c.env.ASSETS.get(key);
      await c.env.ASSETS.delete(key);
      if ((await back?.text()) !== "ok") throw new Error("R2 did not return what was written");
      return undefined;
    }),
    // The unsynced backlog of the clients connected now, over every database (worker/metrics/backlog.ts).
    timed(async () => ({ ...(await serviceBacklog(c.env)) })),
  ]);
  const down = databases.filter((d) => !d.ok);
  const dbCheck: Check =
    down.length === 0
      ? { ok: true, ms: Math.max(...databases.map((d) => (d.ok ? d.ms : 0))) }
      : { ok: false, error: down.map((d) => `${d.name}: ${d.ok ? "" : d.error}`).join("; ") };
  const checks = { db: dbCheck, storage, backlog };
  const failing = Object.entries(checks)
    .filter(([, v]) => !v.ok)
    .map(([k]) => (k === "db" ? `db (${down.map((d) => d.name).join(", ")})` : k));
  c.header("Cache-Control", "no-store");
  if (failing.length > 0) {
    const onlyShards = storage.ok && down.length > 0 && down.every((d) => d.role === "shard");
    return c.json(
      {
        status: onlyShards ? "degraded" : "unavailable",
        checks,
        databases,
        error: { code: "unavailable", message: `failing: ${failing.join(", ")}` },
      },
      503,
    );
  }
  return c.json({ status: "ok", checks, databases });
});
