import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../types";

/** With the var `LOG_LEVEL = "info"` every API request is logged; otherwise only 4xx and 5xx answers. */
function logsEveryRequest(env: unknown): boolean {
  return (env as { LOG_LEVEL?: string } | undefined)?.LOG_LEVEL === "info";
}

/**
 * One structured JSON line per API request that failed (level "warn" for a 4xx, "error" for a 5xx
 * or a thrown error), and with `LOG_LEVEL = "info"` per successful request too (level "info"):
 * request id, method, route, status, latency, user, session, and whatever a handler added with
 * `c.set("log", {...})` (entity, version, op count). Workers Logs (and `wrangler tail`) index these
 * fields. A successful request is not logged by default: its line cost more CPU than routing it.
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
    const status = failed ? 500 : c.res.status;
    if (status >= 400 || logsEveryRequest(c.env)) {
      const line = {
        level: status >= 500 ? "error" : status >= 400 ? "warn" : "info",
        msg: "request",
        request_id: c.get("requestId"),
        method: c.req.method,
        path: c.req.path,
        status,
        latency_ms: Math.round((performance.now() - start) * 10) / 10,
        user_id: c.get("user")?.id,
        session_id: c.get("member")?.sessionId,
        ...c.get("log"),
      };
      console.log(JSON.stringify(line));
    }
  }
});
