import { and, desc, eq, getTableColumns, isNull } from "drizzle-orm";
import { Hono } from "hono";
import { ackSchema } from "../../domain/api";
import { resolveSettings, settingsPatchSchema } from "../../domain/settings";
import { ApiError } from "../api-error";
import { chunk, MAX_BOUND_PARAMS, nowIso } from "../db/client";
import { loadHead } from "../db/reads";
import { acknowledgements, sessionClients } from "../db/schema";
import { sessionDb } from "../db/shards";
import { requireGm } from "../middleware/auth";
import { jsonBody, KiB } from "../middleware/body";
import { IDENTITY_HEADERS } from "../session/session-object";
import { listClients, sessionStub, updateSettings } from "../session/stub";
import type { AppEnv } from "../types";

/** The app's own origin: the configured one, else the origin the request was made to. */
export function allowedOrigin(env: Env, requestUrl: string): string {
  return env.APP_ORIGIN || new URL(requestUrl).origin;
}

export const realtimeRoutes = new Hono<AppEnv>()
  .get("/ws", async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new ApiError("bad_request", "this endpoint expects a WebSocket upgrade");
    }
    // Browsers always send Origin on WebSocket handshakes: refuse other sites (cross-site
    // WebSocket hijacking rides on the cookie). Non-browser clients may omit it.
    const origin = c.req.header("origin");
    if (origin !== undefined && origin !== allowedOrigin(c.env, c.req.url)) {
      throw new ApiError("forbidden", "cross-origin WebSocket refused");
    }
    const { sessionId, role } = c.get("member");
    const headers = new Headers(c.req.raw.headers);
    // No permessage-deflate: with it the runtime compresses every message once per socket, so a
    // broadcast to 500 players costs 500 compressions of the same bytes. Messages are small JSON,
    // serialized once per role; the bandwidth saved is not worth the object's CPU.
    headers.delete("sec-websocket-extensions");
    headers.set(IDENTITY_HEADERS.user, c.get("user").id);
    headers.set(IDENTITY_HEADERS.role, role);
    headers.set(IDENTITY_HEADERS.session, sessionId);
    // The socket remembers its login or token, so ending that credential closes it (docs/realtime.md).
    const credential = c.get("credential");
    headers.set(IDENTITY_HEADERS.credential, credential.id);
    headers.delete(IDENTITY_HEADERS.credentialExpires);
    if (credential.expiresAt !== null) headers.set(IDENTITY_HEADERS.credentialExpires, String(Date.parse(credential.expiresAt)));
    // The object answers 101, or 409 when real time is off for the session (its settings).
    const res = await sessionStub(c.env, sessionId).fetch(new Request(c.req.raw.url, { headers }));
    // A response from another object has immutable headers; the middleware adds its own to a refusal.
    return res.status === 101 ? res : new Response(res.body, res);
  })
  .post("/ack", ...jsonBody(ackSchema, 16 * KiB), async (c) => {
    const { event_ids } = c.req.valid("json");
    const { sessionId } = c.get("member");
    const userId = c.get("user").id;
    const db = await sessionDb(c.env, sessionId);
    const now = nowIso();
    // HTTP acks belong to the caller's most recent client, or to a per-user HTTP client id.
    const client = await db
      .select({ client_id: sessionClients.client_id })
      .from(sessionClients)
      .where(and(eq(sessionClients.session_id, sessionId), eq(sessionClients.user_id, userId), isNull(sessionClients.disconnected_at)))
      .orderBy(desc(sessionClients.connected_at))
      .get();
    const clientId = client?.client_id ?? `http:${userId}`;
    // Several rows a statement within D1's bound-parameter limit (1,000 ids are allowed).
    const rows = event_ids.map((event_id) => ({ session_id: sessionId, client_id: clientId, event_id, user_id: userId, acked_at: now }));
    const perStatement = Math.floor(MAX_BOUND_PARAMS / Object.keys(getTableColumns(acknowledgements)).length);
    await db.batch([
      db
        .update(sessionClients)
        .set({ last_seen: now })
        .where(and(eq(sessionClients.session_id, sessionId), eq(sessionClients.client_id, clientId))),
      ...chunk(rows, perStatement).map((part) => db.insert(acknowledgements).values(part).onConflictDoNothing()),
    ]);
    return c.body(null, 204);
  })
  .get("/clients", requireGm, async (c) => {
    const { sessionId } = c.get("member");
    return c.json({ clients: await listClients(c.env, sessionId) });
  })
  .get("/settings", async (c) => {
    const { sessionId } = c.get("member");
    const head = await loadHead(await sessionDb(c.env, sessionId), sessionId);
    return c.json({ settings: resolveSettings(head.settings) });
  })
  .patch("/settings", requireGm, ...jsonBody(settingsPatchSchema, 4 * KiB), async (c) => {
    const { sessionId } = c.get("member");
    const result = await updateSettings(c.env, sessionId, { userId: c.get("user").id, role: "gm" }, c.req.valid("json"));
    return c.json({ settings: result.settings });
  });
