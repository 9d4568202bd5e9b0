/**
 * Counters, histograms and events recorded where writes pass: the worker's routes around the
 * session object's RPC (`timeSave`) and the object's socket writes (socket-writes.ts).
 *
 * Where they go: to the Workers Analytics Engine dataset bound as `METRICS_AE` when there is one
 * (an optional binding: query it with Analytics Engine's SQL API; one data point a save), else —
 * the local fallback — counters and histogram buckets are aggregated in D1 (`metric_counters`,
 * read by `GET /api/vtt/metrics`) and events are written as one structured log line each. Saves
 * are not written to D1 one by one: each session object sums its saves in memory and writes the
 * sum in one statement a couple of seconds after the first (save-aggregate.ts); a REST save,
 * timed by the worker, is handed to its session's object after the response (`countSave`).
 * Recording never adds latency to a save, and a failure to record is logged, never answered.
 */
import type { Context } from "hono";
import { ApiError } from "../api-error";
import { sessionStub } from "../session/stub";
import type { AppEnv } from "../types";
import { D1_USAGE_METRICS } from "./d1-usage";

/** Upper bounds (ms) of the save-latency histogram's buckets; `+Inf` follows. */
export const SAVE_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000] as const;

export const SAVE_HISTOGRAM = "vtt_save_duration_milliseconds";
export const CONFLICT_COUNTER = "vtt_conflicts_total";
/** Conflicts clients showed their users, and how long each took to resolve (client-reports.ts). */
export const CLIENT_CONFLICT_COUNTER = "vtt_client_conflicts_total";
export const CLIENT_RESOLVE_HISTOGRAM = "vtt_client_conflict_resolve_seconds";

/** Every name stored in `metric_counters`; rows of any other name are dropped by the retention job. */
export const KNOWN_METRICS = [
  SAVE_HISTOGRAM,
  `${SAVE_HISTOGRAM}_sum`,
  CONFLICT_COUNTER,
  CLIENT_CONFLICT_COUNTER,
  CLIENT_RESOLVE_HISTOGRAM,
  `${CLIENT_RESOLVE_HISTOGRAM}_sum`,
  ...D1_USAGE_METRICS,
] as const;

export type SaveRoute = "rest" | "batch";
/** `rejected`: any other expected refusal (validation, permission, lock, rate limit); `error`: a bug or an outage. */
export type SaveOutcome = "ok" | "conflict" | "rejected" | "error";
export type EventName = "scene_activated" | "token_created" | "asset_upload_failed" | "conflict";

export function analyticsOf(env: Env): AnalyticsEngineDataset | undefined {
  return (env as Partial<{ METRICS_AE: AnalyticsEngineDataset }>).METRICS_AE;
}

/** The bucket a duration falls in: the smallest upper bound not below it. */
export function bucketOf(ms: number): string {
  const le = SAVE_BUCKETS_MS.find((b) => ms <= b);
  return le === undefined ? "+Inf" : String(le);
}

export interface CounterRow {
  name: string;
  labels: Record<string, string>;
  bucket: string;
  value: number;
}

/**
 * Adds the rows to `metric_counters` in one statement, however many there are (they travel as one
 * JSON parameter: D1 binds at most 100 parameters a statement). A row may repeat: it adds twice.
 */
export async function writeCounters(db: D1Database, rows: readonly CounterRow[]): Promise<void> {
  if (rows.length === 0) return;
  const json = JSON.stringify(rows.map((r) => [r.name, JSON.stringify(r.labels), r.bucket, r.value]));
  await db
    .prepare(
      "INSERT INTO metric_counters (name, labels, bucket, value) " +
        "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]') " +
        "FROM json_each(?) WHERE true " +
        "ON CONFLICT (name, labels, bucket) DO UPDATE SET value = value + excluded.value",
    )
    .bind(json)
    .run();
}

export async function addToCounters(env: Env, rows: CounterRow[]) {
  await writeCounters(env.DB, rows);
}

/** The counter rows one save adds: its histogram bucket, its duration in the sum, a conflict. */
export function saveRows(ms: number, outcome: SaveOutcome, route: SaveRoute): CounterRow[] {
  const labels = { route, outcome };
  return [
    { name: SAVE_HISTOGRAM, labels, bucket: bucketOf(ms), value: 1 },
    { name: `${SAVE_HISTOGRAM}_sum`, labels, bucket: "", value: ms },
    ...(outcome === "conflict" ? [{ name: CONFLICT_COUNTER, labels: { route }, bucket: "", value: 1 }] : []),
  ];
}

/** With Analytics Engine bound: the save as one data point, and true. Else false (nothing done). */
export function writeSavePoint(env: Env, ms: number, outcome: SaveOutcome, route: SaveRoute): boolean {
  const analytics = analyticsOf(env);
  if (!analytics) return false;
  analytics.writeDataPoint({ indexes: ["save"], blobs: ["save", route, outcome], doubles: [ms] });
  return true;
}

/** One save written at once: a data point, else its rows upserted in D1 (a save no object can count). */
export async function recordSave(env: Env, ms: number, outcome: SaveOutcome, route: SaveRoute = "rest"): Promise<void> {
  if (writeSavePoint(env, ms, outcome, route)) return;
  await writeCounters(env.DB, saveRows(ms, outcome, route));
}

/**
 * A save timed by the worker: a data point, else handed to the session's object, which adds it to
 * the counters it flushes (`SessionObject.countSave`). If the object cannot be reached (the save
 * failed because it is down, say), the save is upserted in D1 directly rather than lost.
 */
export async function countSave(env: Env, sessionId: string, ms: number, outcome: SaveOutcome, route: SaveRoute): Promise<void> {
  if (writeSavePoint(env, ms, outcome, route)) return;
  try {
    await sessionStub(env, sessionId).countSave(ms, outcome, route);
  } catch {
    await writeCounters(env.DB, saveRows(ms, outcome, route));
  }
}

/**
 * A notable event. Fields are flat scalars (ids, names, counts); `count` is how many things it
 * stands for (one event for the tokens a batch created), the data point's double.
 */
export function recordEvent(
  env: Env,
  name: EventName,
  fields: Record<string, string | number | boolean | null | undefined>,
  count = 1,
  list?: Record<string, string[]>,
): void {
  const analytics = analyticsOf(env);
  if (analytics) {
    analytics.writeDataPoint({ indexes: [name], blobs: [name, String(fields.session_id ?? ""), JSON.stringify(fields)], doubles: [count] });
    return;
  }
  console.log(JSON.stringify({ level: "info", msg: "event", event: name, ...fields, ...(count === 1 ? {} : { count }), ...list }));
}

/** Runs `work` after the response when the platform allows it, and logs (never throws) its failure. */
export function afterResponse(c: Context<AppEnv>, work: Promise<unknown>): void {
  const logged = work.catch((error: unknown) => {
    console.error(
      JSON.stringify({ level: "error", msg: "recording metrics failed", request_id: c.get("requestId"), error: String(error) }),
    );
  });
  try {
    c.executionCtx.waitUntil(logged);
  } catch {
    // No execution context (a direct `app.request` call): the promise runs on its own.
  }
}

/** The part of an op the events are read from: the REST ops and the batch ops both have it. */
interface OpShape {
  op_id?: string;
  entity_type: string;
  op: string;
  data?: unknown;
}

function outcomeOf(error: unknown): SaveOutcome {
  if (!(error instanceof ApiError)) return "error";
  return error.code === "conflict" ? "conflict" : "rejected";
}

/**
 * Times a write handed to the session object, records it (and a conflict), and records the events
 * its ops stand for: a token created, a scene activated (session state given an active scene).
 */
export async function timeSave<T extends { results: { entity: { id: string } }[] }>(
  c: Context<AppEnv>,
  route: SaveRoute,
  ops: readonly OpShape[],
  run: () => Promise<T>,
): Promise<T> {
  const sessionId = c.get("member").sessionId;
  const start = performance.now();
  let result: T;
  try {
    result = await run();
  } catch (error) {
    const outcome = outcomeOf(error);
    afterResponse(c, countSave(c.env, sessionId, performance.now() - start, outcome, route));
    if (outcome === "conflict" && error instanceof ApiError) {
      const opId = typeof error.details?.op_id === "string" ? error.details.op_id : undefined;
      const op = (opId === undefined ? undefined : ops.find((o) => o.op_id === opId)) ?? (ops.length === 1 ? ops[0] : undefined);
      const current = error.details?.current as { id?: unknown } | undefined;
      recordEvent(c.env, "conflict", {
        session_id: sessionId,
        route,
        op_id: opId,
        entity_type: op?.entity_type,
        entity_id: typeof current?.id === "string" ? current.id : undefined,
        user_id: c.get("user").id,
      });
    }
    throw error;
  }
  afterResponse(c, countSave(c.env, sessionId, performance.now() - start, "ok", route));
  const created: string[] = [];
  ops.forEach((op, i) => {
    const entity = result.results[i]?.entity;
    if (!entity) return;
    if (op.entity_type === "token" && op.op === "create") created.push(entity.id);
    const activeScene = (op.data as { active_scene_id?: unknown } | undefined)?.active_scene_id;
    if (op.entity_type === "session_state" && op.op === "update" && typeof activeScene === "string") {
      recordEvent(c.env, "scene_activated", { session_id: sessionId, scene_id: activeScene, user_id: c.get("user").id });
    }
  });
  // One event a save, however many tokens it created: a 500-op batch is not 500 log lines (nor
  // 500 data points, over Analytics Engine's limit per invocation). A single token keeps its id.
  if (created.length === 1) {
    recordEvent(c.env, "token_created", { session_id: sessionId, token_id: created[0], user_id: c.get("user").id });
  } else if (created.length > 1) {
    recordEvent(c.env, "token_created", { session_id: sessionId, user_id: c.get("user").id }, created.length, { token_ids: created });
  }
  return result;
}
