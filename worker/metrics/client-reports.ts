/**
 * Conflict metrics reported by clients (`POST {S}/metrics/conflicts`): how many conflicts their
 * users were shown, and how long each took to resolve, by resolution. The queue measures both
 * (client/src/lib/queue.ts) and the client sends them in small batches (conflict-metrics.ts).
 *
 * Aggregated on arrival, never stored per report: one counter per entity type and one histogram
 * per resolution in `metric_counters` (or Analytics Engine when METRICS_AE is bound), so however
 * many reports arrive the stored rows stay bounded; a report holds at most 100 of each.
 */
import { z } from "zod";
import { registry } from "../registry";
import { addToCounters, analyticsOf, CLIENT_CONFLICT_COUNTER, CLIENT_RESOLVE_HISTOGRAM } from "./recorder";

/** Upper bounds (seconds) of the time-to-resolve histogram's buckets; `+Inf` follows. */
export const RESOLVE_BUCKETS_S = [1, 5, 15, 30, 60, 120, 300, 900, 3600] as const;
export const RESOLUTIONS = ["keep_mine", "use_server", "merge_fields"] as const;
const MAX_ITEMS = 100;
/** Longer than this is a tab left open: still counted, in the last bucket. */
const MAX_DURATION_MS = 7 * 86_400_000;

export const conflictReportSchema = z
  .strictObject({
    conflicts: z
      .array(z.strictObject({ entity_type: z.string().min(1).max(64) }))
      .max(MAX_ITEMS)
      .default([]),
    resolved: z
      .array(z.strictObject({ resolution: z.enum(RESOLUTIONS), duration_ms: z.number().finite().min(0).max(MAX_DURATION_MS) }))
      .max(MAX_ITEMS)
      .default([]),
  })
  .refine((r) => r.conflicts.length + r.resolved.length > 0, { message: "report at least one conflict or resolution" });

export type ConflictReport = z.infer<typeof conflictReportSchema>;

export function resolveBucketOf(seconds: number): string {
  const le = RESOLVE_BUCKETS_S.find((b) => seconds <= b);
  return le === undefined ? "+Inf" : String(le);
}

/** Adds one report to the aggregates. Unknown entity types count as "other" (labels stay a closed set). */
export async function recordConflictReport(env: Env, report: ConflictReport): Promise<void> {
  const analytics = analyticsOf(env);
  const known = new Set<string>(registry.types);
  const conflicts = new Map<string, number>();
  for (const c of report.conflicts) {
    const type = known.has(c.entity_type) ? c.entity_type : "other";
    conflicts.set(type, (conflicts.get(type) ?? 0) + 1);
  }
  if (analytics) {
    for (const [type, n] of conflicts)
      analytics.writeDataPoint({ indexes: ["client_conflict"], blobs: ["client_conflict", type], doubles: [n] });
    for (const r of report.resolved) {
      analytics.writeDataPoint({
        indexes: ["client_conflict_resolved"],
        blobs: ["client_conflict_resolved", r.resolution],
        doubles: [r.duration_ms],
      });
    }
    return;
  }
  const rows = new Map<string, { name: string; labels: Record<string, string>; bucket: string; value: number }>();
  const add = (name: string, labels: Record<string, string>, bucket: string, value: number) => {
    const key = `${name}\u0000${JSON.stringify(labels)}\u0000${bucket}`;
    const row = rows.get(key) ?? { name, labels, bucket, value: 0 };
    row.value += value;
    rows.set(key, row);
  };
  for (const [type, n] of conflicts) add(CLIENT_CONFLICT_COUNTER, { entity_type: type }, "", n);
  for (const r of report.resolved) {
    const seconds = r.duration_ms / 1000;
    add(CLIENT_RESOLVE_HISTOGRAM, { resolution: r.resolution }, resolveBucketOf(seconds), 1);
    add(`${CLIENT_RESOLVE_HISTOGRAM}_sum`, { resolution: r.resolution }, "", seconds);
  }
  await addToCounters(env, [...rows.values()]);
}
