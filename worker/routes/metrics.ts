/**
 * `GET /api/vtt/metrics`: Prometheus text for an operator's scraper, behind the admin token
 * `METRICS_TOKEN` (a secret) sent as `Authorization: Bearer <token>`. Gauges are computed from D1
 * at scrape time; the save-latency histogram and the conflict counter come from the recorder's D1
 * aggregates (worker/metrics/recorder.ts), which stay empty when the Analytics Engine dataset
 * METRICS_AE is bound (those figures are then in Analytics Engine).
 */
import { Hono } from "hono";
import { ApiError } from "../api-error";
import { collectFamilies } from "../metrics/collect";
import { CONTENT_TYPE, render } from "../metrics/prometheus";
import { assertBearerSecret } from "../middleware/auth";
import type { AppEnv } from "../types";

export const metricsRoutes = new Hono<AppEnv>().get("/", async (c) => {
  const expected = (c.env as Partial<{ METRICS_TOKEN: string }>).METRICS_TOKEN;
  if (!expected) {
    throw new ApiError("unavailable", "metrics are disabled: set the METRICS_TOKEN secret (`wrangler secret put METRICS_TOKEN`)");
  }
  assertBearerSecret(c.req.header("authorization"), expected, "METRICS_TOKEN", "metrics");
  const body = render(await collectFamilies(c.env));
  return c.body(body, 200, { "Content-Type": CONTENT_TYPE, "Cache-Control": "no-store" });
});
