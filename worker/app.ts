import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { RegExpRouter } from "hono/router/reg-exp-router";
import { type ErrorCode, errorBody, errorStatus } from "../domain/errors";
import { moduleRoutes } from "../modules/worker";
import { ApiError } from "./api-error";
import { UnknownSession } from "./db/shards";
import { requireMember } from "./middleware/auth";
import { logRequests } from "./middleware/log";
import { requestId } from "./middleware/request-id";
import { adminRoutes } from "./routes/admin";
import { assetFileRoutes, assetRoutes } from "./routes/assets";
import { authRoutes } from "./routes/auth";
import { backupRoutes } from "./routes/backups";
import { batchRoutes } from "./routes/batch";
import { benchRoutes } from "./routes/bench";
import { bundleRoutes } from "./routes/bundles";
import { docsRoutes } from "./routes/docs";
import { entityRoutes } from "./routes/entities";
import { healthRoutes } from "./routes/health";
import { integrityRoutes } from "./routes/integrity";
import { lockRoutes } from "./routes/locks";
import { metricsRoutes } from "./routes/metrics";
import { readRoutes } from "./routes/reads";
import { realtimeRoutes } from "./routes/realtime";
import { inviteRoutes, JOIN_SEGMENT, joinRoutes, sessionDetailRoutes, sessionRoutes } from "./routes/sessions";
import type { AppEnv } from "./types";

const statusCodes = Object.fromEntries(Object.entries(errorStatus).map(([code, status]) => [status, code])) as Record<number, ErrorCode>;

/**
 * Routed by RegExpRouter alone (one compiled regular expression a method), not the default
 * SmartRouter that would fall back to the slower TrieRouter on a pattern RegExpRouter cannot
 * compile. Such a pattern (a parameter beside a static sibling, e.g. `{S}/:type` next to
 * `{S}/state`) now fails every request in the tests instead of silently slowing routing.
 */
export const app = new Hono<AppEnv>({ router: new RegExpRouter() });

app.use(requestId);
app.use("/api/*", logRequests);

app.route("/", docsRoutes);
app.route("/api/auth", authRoutes);
app.route("/api/vtt/health", healthRoutes);
app.route("/api/vtt/metrics", metricsRoutes);
app.route("/api/vtt/admin", adminRoutes);
app.route("/api/bench", benchRoutes);
// Signed asset URLs need no login: the signature is the capability.
app.route("/api/vtt/assets", assetFileRoutes);

/** Each game module's own routes (modules/worker.ts), at `{S}/modules/<name>/...`. */
const modulesApp = new Hono<AppEnv>();
for (const module of moduleRoutes) modulesApp.route(`/${module.name}`, module.routes);

const JOIN_PATH = `/api/vtt/sessions/${JOIN_SEGMENT}`;

const perSession = new Hono<AppEnv>()
  // `POST /api/vtt/sessions/join` shares the session id's segment (joinRoutes, below): not a session.
  .use((c, next) => (c.req.method === "POST" && c.req.path === JOIN_PATH ? next() : requireMember(c, next)))
  .route("/", sessionDetailRoutes)
  .route("/", inviteRoutes)
  .route("/", readRoutes)
  .route("/", batchRoutes)
  .route("/", backupRoutes)
  .route("/", bundleRoutes)
  .route("/", realtimeRoutes)
  .route("/", lockRoutes)
  .route("/", integrityRoutes)
  .route("/", assetRoutes)
  .route("/modules", modulesApp)
  .route("/", entityRoutes);

app.route("/api/vtt/sessions", sessionRoutes);
app.route("/api/vtt/sessions/:sid", perSession);
app.route("/api/vtt/sessions", joinRoutes);

app.notFound((c) => c.json(errorBody({ code: "not_found", message: "no such route" }), 404));

app.onError((error, c) => {
  if (error instanceof ApiError) {
    for (const [k, v] of Object.entries(error.headers ?? {})) c.header(k, v);
    return c.json(errorBody(error), error.status);
  }
  if (error instanceof UnknownSession) {
    // The directory lost the session between admission and a later lookup (removed meanwhile).
    return c.json(errorBody({ code: "not_found", message: "no such session" }), 404);
  }
  if (error instanceof HTTPException && error.status < 500) {
    const code = statusCodes[error.status] ?? "bad_request";
    return c.json(errorBody({ code, message: error.message || code }), errorStatus[code]);
  }
  console.error(
    JSON.stringify({
      level: "error",
      request_id: c.get("requestId"),
      path: c.req.path,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      cause: error instanceof Error && error.cause !== undefined ? String(error.cause) : undefined,
    }),
  );
  return c.json(errorBody({ code: "internal", message: `internal error (request ${c.get("requestId")})` }), 500);
});
