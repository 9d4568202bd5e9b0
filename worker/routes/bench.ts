import { Hono } from "hono";
import { z } from "zod";
import { ApiError } from "../api-error";
import { getDb, nowIso } from "../db/client";
import { acknowledgements } from "../db/schema";
import { jsonBody, KiB } from "../middleware/body";
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
    // One plain INSERT into an existing table: what a single D1 write costs, nothing more.
    await getDb(c.env.DB).insert(acknowledgements).values({
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
  });
