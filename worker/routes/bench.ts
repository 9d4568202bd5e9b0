import { Hono } from "hono";
import { z } from "zod";
import { ApiError } from "../api-error";
import { nowIso } from "../db/client";
import { acknowledgements } from "../db/schema";
import { allDatabases, configuredShards, shardDb } from "../db/shards";
import { usageFrom } from "../metrics/d1-usage";
import { jsonBody, KiB } from "../middleware/body";
import { runAllJobsNow } from "../scheduled";
import type { AppEnv } from "../types";

const relayRoom = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const relaySendSchema = z.strictObject({ room: relayRoom, text: z.string().max(64 * KiB) });

function relayStub(env: Env, room: string) {
  return env.RELAY.get(env.RELAY.idFromName(room));
}

/**
 * Baselines for `npm run bench`, measured in the same run as the real routes: a bare D1 write,
 * a bare 304, and a bare relay Durable Object (the floor of the WebSocket fan-out). Mounted only
 * when the BENCH_ROUTES variable is "1" (never in production).
 */
export const benchRoutes = new Hono<AppEnv>()
  .use(async (c, next) => {
    if (c.env.BENCH_ROUTES !== "1") throw new ApiError("not_found", "no such route");
    await next();
  })
  .post("/d1-write", async (c) => {
    // One plain INSERT into an existing table of a session shard: what a single D1 write costs, nothing more.
    await shardDb(c.env, configuredShards(c.env)[0]?.name ?? "DB")
      .insert(acknowledgements)
      .values({
        session_id: "bench",
        client_id: crypto.randomUUID(),
        event_id: 1,
        user_id: "bench",
        acked_at: nowIso(),
      });
    return c.json({ ok: true }, 201);
  })
  .get("/relay/ws", async (c) => {
    // The floor of the fan-out: no auth, no membership, no origin check; one relay object per room.
    const room = relayRoom.safeParse(c.req.query("room"));
    if (!room.success) throw new ApiError("bad_request", "send ?room=<name>");
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new ApiError("bad_request", "expects a WebSocket upgrade");
    // As GET {S}/ws does: no per-message compression on the object's side (see realtime.ts).
    // `?deflate=1` keeps the client's offer, to measure what compression costs.
    const headers = new Headers(c.req.raw.headers);
    if (c.req.query("deflate") !== "1") headers.delete("sec-websocket-extensions");
    return relayStub(c.env, room.data).fetch(new Request(c.req.raw.url, { headers }));
  })
  .post("/relay/send", ...jsonBody(relaySendSchema, 72 * KiB), async (c) => {
    const { room, text } = c.req.valid("json");
    return c.json({ sent: await relayStub(c.env, room).relay(text) });
  })
  .post("/relay/close", ...jsonBody(z.strictObject({ room: relayRoom }), 1 * KiB), async (c) => {
    return c.json({ closed: await relayStub(c.env, c.req.valid("json").room).closeAll() });
  })
  .get("/static", (c) => {
    c.header("ETag", '"1"');
    if (c.req.header("if-none-match") === '"1"') return c.body(null, 304);
    return c.json({ ok: true });
  })
  // ---- uploads (bench/uploads.mjs) -----------------------------------------------------------
  .put("/r2-put", async (c) => {
    // The floor of an upload: the request body streamed into R2 as it is. No auth, no multipart,
    // no hashing, no checks, no manifest. Objects go under bench/ in the dev bucket.
    const length = Number(c.req.header("content-length"));
    if (!Number.isInteger(length) || length <= 0 || length > 32 * 1024 * 1024 || !c.req.raw.body) {
      throw new ApiError("bad_request", "send a body of at most 32 MiB with a Content-Length");
    }
    const key = `bench/r2-put/${crypto.randomUUID()}`;
    const object = await c.env.ASSETS.put(key, c.req.raw.body);
    return c.json({ key, size: object?.size ?? 0 }, 201);
  })
  // ---- storage (bench/storage.mjs) ----------------------------------------------------------
  .post("/scheduled", ...jsonBody(z.strictObject({ at: z.iso.datetime() }), 1 * KiB), async (c) => {
    // Every maintenance job of every session at a chosen time, without the queue (a later time ages everything past its window).
    await runAllJobsNow(c.env, Date.parse(c.req.valid("json").at));
    return c.json({ ok: true });
  })
  // ---- capacity (bench/capacity.mjs) --------------------------------------------------------
  .get("/d1-usage", async (c) => {
    // What D1 reported for the sessions' commits so far, as flushed by their objects (d1-usage.ts):
    // the service's counters, in the directory, summed over every shard's commits.
    const rows = await c.env.DB.prepare("SELECT name, value FROM metric_counters WHERE name LIKE 'vtt_d1_commit_%'").all<{
      name: string;
      value: number;
    }>();
    const u = usageFrom(rows.results);
    return c.json({
      batches: u.batches,
      statements: u.statements,
      rows_read: u.rowsRead,
      rows_written: u.rowsWritten,
      duration_ms: u.durationMs,
      round_trip_ms: u.roundTripMs,
    });
  })
  .get("/table-bytes", async (c) => {
    // D1 has no dbstat: each table's rows and the bytes of their values (text and blobs as
    // stored, numbers as their decimal text), without page or index overhead. Per database (the
    // directory DB, then each shard: worker/db/shards.ts) and summed over them in `tables`.
    const tables: Record<string, { rows: number; bytes: number }> = {};
    const databases: Record<string, { region: string; tables: Record<string, { rows: number; bytes: number }> }> = {};
    for (const { name, region, d1 } of allDatabases(c.env)) {
      const own = await tableBytes(d1);
      databases[name] = { region, tables: own };
      for (const [table, size] of Object.entries(own)) {
        const sum = tables[table] ?? { rows: 0, bytes: 0 };
        tables[table] = { rows: sum.rows + size.rows, bytes: sum.bytes + size.bytes };
      }
    }
    return c.json({ tables, databases });
  });

async function tableBytes(db: D1Database): Promise<Record<string, { rows: number; bytes: number }>> {
  const tables = await db
    .prepare(
      "SELECT name FROM pragma_table_list WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> 'd1_migrations' ORDER BY name",
    )
    .all<{ name: string }>();
  const out: Record<string, { rows: number; bytes: number }> = {};
  for (const { name } of tables.results) {
    // Names come from the database's own table list, quoted as identifiers.
    const columns = await db.prepare("SELECT name FROM pragma_table_info(?)").bind(name).all<{ name: string }>();
    const size = columns.results.map((col) => `COALESCE(length(CAST("${col.name}" AS BLOB)), 0)`).join(" + ");
    const row = await db.prepare(`SELECT COUNT(*) AS n, COALESCE(SUM(${size}), 0) AS b FROM "${name}"`).first<{
      n: number;
      b: number;
    }>();
    out[name] = { rows: row?.n ?? 0, bytes: row?.b ?? 0 };
  }
  return out;
}
