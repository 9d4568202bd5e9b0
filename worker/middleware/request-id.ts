import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../types";

const VALID = /^[A-Za-z0-9._-]{1,128}$/;

/** Accepts a sane `X-Request-Id` from the caller or makes one, and returns it on every response. */
export const requestId = createMiddleware<AppEnv>(async (c, next) => {
  const given = c.req.header("x-request-id");
  const id = given && VALID.test(given) ? given : crypto.randomUUID();
  c.set("requestId", id);
  await next();
  // A WebSocket upgrade's 101 response has immutable headers.
  if (c.res.status !== 101) c.res.headers.set("X-Request-Id", id);
});
