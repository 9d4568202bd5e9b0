import { and, desc, eq, isNull } from "drizzle-orm";
import { Hono } from "hono";
import { ackSchema } from "../../domain/api";
import { ApiError } from "../api-error";
import { getDb, nowIso } from "../db/client";
import { acknowledgements, sessionClients } from "../db/schema";
import { requireGm } from "../middleware/auth";
import { jsonBody } from "../middleware/body";
import { IDENTITY_HEADERS } from "../session/session-object";
import { sessionStub } from "../session/stub";
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
    headers.set(IDENTITY_HEADERS.user, c.get("user").id);
    headers.set(IDENTITY_HEADERS.role, role);
    headers.set(IDENTITY_HEADERS.session, sessionId);
    return sessionStub(c.env, sessionId).fetch(new Request(c.req.raw.url, { headers }));
  })
  .post("/ack", ...jsonBody(ackSchema, 16 * 1024), async (c) => {
    const { event_ids } = c.req.valid("json");
    const { sessionId } = c.get("member");
    const userId = c.get("user").id;
    const db = getDb(c.env.DB);
    const now = nowIso();
    // HTTP acks belong to the caller's most recent client, or to a per-user HTTP client id.
    const client = await db
      .select({ client_id: sessionClients.client_id })
      .from(sessionClients)
      .where(and(eq(sessionClients.session_id, sessionId), eq(sessionClients.user_id, userId), isNull(sessionClients.disconnected_at)))
      .orderBy(desc(sessionClients.connected_at))
      .get();
    const clientId = client?.client_id ?? `http:${userId}`;
    await db
      .insert(acknowledgements)
      .values(event_ids.map((event_id) => ({ session_id: sessionId, client_id: clientId, event_id, user_id: userId, acked_at: now })))
      .onConflictDoNothing();
    return c.body(null, 204);
  })
  .get("/clients", requireGm, async (c) => {
    const { sessionId } = c.get("member");
    const rows = await getDb(c.env.DB)
      .select({
        client_id: sessionClients.client_id,
        user_id: sessionClients.user_id,
        role: sessionClients.role,
        connected_at: sessionClients.connected_at,
        last_seen: sessionClients.last_seen,
        capabilities: sessionClients.capabilities,
      })
      .from(sessionClients)
      .where(and(eq(sessionClients.session_id, sessionId), isNull(sessionClients.disconnected_at)))
      .orderBy(sessionClients.connected_at);
    return c.json({ clients: rows });
  });
