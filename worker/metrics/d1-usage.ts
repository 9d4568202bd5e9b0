/**
 * What D1 did for the session's commits (the write-behind flush, write-behind.ts): per D1 batch,
 * the statements it carried and the `meta` D1 answered for each (`rows_read`, `rows_written`,
 * `duration`), summed. Counted in the session object's save aggregate (save-aggregate.ts) and
 * flushed with it to `metric_counters`, or one Analytics Engine data point a batch when that is
 * bound; `GET /api/vtt/metrics` shows the sums, docs/capacity.md turns them into a capacity model.
 *
 * Only numbers are added on the commit's path: nothing is read or written for it there.
 */
import type { CounterRow } from "./recorder";

export const D1_BATCHES = "vtt_d1_commit_batches_total";
export const D1_STATEMENTS = "vtt_d1_commit_statements_total";
export const D1_ROWS_READ = "vtt_d1_commit_rows_read_total";
export const D1_ROWS_WRITTEN = "vtt_d1_commit_rows_written_total";
/** The sum of D1's own `meta.duration` (time spent in the database, not the round trip), in milliseconds. */
export const D1_DURATION = "vtt_d1_commit_duration_milliseconds_total";
/** The sum of the batches' round trips as the object waited for them, in milliseconds. */
export const D1_ROUND_TRIP = "vtt_d1_commit_round_trip_milliseconds_total";

export const D1_USAGE_METRICS = [D1_BATCHES, D1_STATEMENTS, D1_ROWS_READ, D1_ROWS_WRITTEN, D1_DURATION, D1_ROUND_TRIP] as const;

export interface D1Usage {
  batches: number;
  statements: number;
  rowsRead: number;
  rowsWritten: number;
  durationMs: number;
  roundTripMs: number;
}

function metaNumber(result: unknown, key: "rows_read" | "rows_written" | "duration"): number {
  const meta = (result as { meta?: Record<string, unknown> } | null | undefined)?.meta;
  const value = meta?.[key];
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

/** The usage of one D1 batch from its results (one per statement, each a D1Result with `meta`) and its round trip. */
export function batchUsage(results: readonly unknown[], roundTripMs: number): D1Usage {
  let rowsRead = 0;
  let rowsWritten = 0;
  let durationMs = 0;
  for (const r of results) {
    rowsRead += metaNumber(r, "rows_read");
    rowsWritten += metaNumber(r, "rows_written");
    durationMs += metaNumber(r, "duration");
  }
  return { batches: 1, statements: results.length, rowsRead, rowsWritten, durationMs, roundTripMs };
}

/** The counter rows a usage adds (no labels: a commit serves whatever route wrote). */
export function usageRows(u: D1Usage): CounterRow[] {
  const row = (name: string, value: number): CounterRow => ({ name, labels: {}, bucket: "", value });
  return [
    row(D1_BATCHES, u.batches),
    row(D1_STATEMENTS, u.statements),
    row(D1_ROWS_READ, u.rowsRead),
    row(D1_ROWS_WRITTEN, u.rowsWritten),
    row(D1_DURATION, u.durationMs),
    row(D1_ROUND_TRIP, u.roundTripMs),
  ];
}

/** The usage summed from counter rows (the D1 table or the aggregate's rows); 0 for what is absent. */
export function usageFrom(rows: readonly Pick<CounterRow, "name" | "value">[]): D1Usage {
  const sum = (name: string) => rows.filter((r) => r.name === name).reduce((s, r) => s + r.value, 0);
  return {
    batches: sum(D1_BATCHES),
    statements: sum(D1_STATEMENTS),
    rowsRead: sum(D1_ROWS_READ),
    rowsWritten: sum(D1_ROWS_WRITTEN),
    durationMs: sum(D1_DURATION),
    roundTripMs: sum(D1_ROUND_TRIP),
  };
}

/** With Analytics Engine bound: the batch as one data point, and true. Else false (nothing done). */
export function writeUsagePoint(env: Env, u: D1Usage): boolean {
  // As recorder.ts `analyticsOf` reads it (not imported: recorder.ts lists these names).
  const analytics = (env as Partial<{ METRICS_AE: AnalyticsEngineDataset }>).METRICS_AE;
  if (!analytics) return false;
  analytics.writeDataPoint({
    indexes: ["d1_commit"],
    blobs: ["d1_commit"],
    doubles: [u.statements, u.rowsRead, u.rowsWritten, u.durationMs, u.roundTripMs],
  });
  return true;
}
