import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../types";

/**
 * One structured JSON line per API request: request id, method, route, status, latency, user,
 * session, and whatever a handler added with `c.set("log", {...})` (entity, version, op count).
 * Workers Logs (and `wrangler tail`) index these fields.
 */
export const logRequests = createMiddleware<AppEnv>(async (c, next) => {
  const start = performance.now();
  let failed: unknown;
  try {
    await next();
  } catch (error) {
    failed = error;
    throw error;
  } finally {
    const line = {
      level: failed || c.res.status >= 500 ? "error" : c.res.status >= 400 ? "warn" : "info",
      msg: "request",
      request_id: c.get("requestId"),
      method: c.req.method,
      path: c.req.path,
      status: failed ? 500 : c.res.status,
      latency_ms: Math.round((performance.now() - start) * 10) / 10,
      user_id: c.get("user")?.id,
      session_id: c.get("member")?.sessionId,
      ...c.get("log"),
    };
    console.log(JSON.stringify(line));
  }
});
