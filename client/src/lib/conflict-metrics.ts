/**
 * Conflict metrics to the server. The queue measures each conflict it shows and how long the user
 * took to resolve it (`QueueMetric`); this reporter gathers them and sends them in small batches
 * to `POST {S}/metrics/conflicts`, where they are aggregated into what `GET /api/vtt/metrics`
 * exposes (`vtt_client_conflicts_total`, `vtt_client_conflict_resolve_seconds`).
 *
 * Metrics are lossy by nature but not careless: a batch that fails is kept for the next attempt
 * (a bounded number of items, oldest dropped first), and `flush` sends what is left when the sync
 * stops. Each metric is also logged as a structured line, as before.
 */
import type { QueueMetric } from "./queue";
import { defaultTimers, type Timers } from "./transport";

export interface ConflictReport {
  conflicts: { entity_type: string }[];
  resolved: { resolution: "keep_mine" | "use_server" | "merge_fields"; duration_ms: number }[];
}

export interface ConflictReporterDeps {
  send(report: ConflictReport): Promise<void>;
  timers?: Timers;
  /** How long metrics wait to be sent together. */
  delayMs?: number;
  log?(metric: QueueMetric): void;
}

export interface ConflictReporter {
  report(metric: QueueMetric): void;
  /** Sends what is waiting now; resolves once sent (or kept after a failure). */
  flush(): Promise<void>;
}

/** The server accepts at most this many of each kind a report. */
export const MAX_REPORT_ITEMS = 100;
export const REPORT_DELAY_MS = 5000;

export function createConflictReporter(deps: ConflictReporterDeps): ConflictReporter {
  const timers = deps.timers ?? defaultTimers;
  const delayMs = deps.delayMs ?? REPORT_DELAY_MS;
  let pending: ConflictReport = { conflicts: [], resolved: [] };
  let timer: unknown;
  let sending: Promise<void> = Promise.resolve();

  function schedule(): void {
    if (timer !== undefined) return;
    timer = timers.setTimeout(() => {
      timer = undefined;
      void flush();
    }, delayMs);
  }

  /** Adds `older` before what is pending (a failed batch) or `newer` after it; the newest are kept. */
  function keep(older: ConflictReport, newer: ConflictReport = { conflicts: [], resolved: [] }): void {
    pending = {
      conflicts: [...older.conflicts, ...pending.conflicts, ...newer.conflicts].slice(-MAX_REPORT_ITEMS),
      resolved: [...older.resolved, ...pending.resolved, ...newer.resolved].slice(-MAX_REPORT_ITEMS),
    };
  }

  const none: ConflictReport = { conflicts: [], resolved: [] };

  function flush(): Promise<void> {
    if (timer !== undefined) {
      timers.clearTimeout(timer);
      timer = undefined;
    }
    // Taken now: what is reported while this batch is on its way goes in the next one.
    const report = pending;
    if (report.conflicts.length === 0 && report.resolved.length === 0) return sending;
    pending = { conflicts: [], resolved: [] };
    sending = sending.then(async () => {
      try {
        await deps.send(report);
      } catch (error) {
        keep(report);
        schedule();
        console.warn(JSON.stringify({ level: "warn", msg: "conflict metrics not sent; kept for later", error: String(error) }));
      }
    });
    return sending;
  }

  return {
    report(metric) {
      deps.log?.(metric);
      if (metric.name === "conflict") {
        keep(none, { conflicts: [{ entity_type: metric.entity_type }], resolved: [] });
      } else if (metric.resolution !== undefined) {
        keep(none, { conflicts: [], resolved: [{ resolution: metric.resolution, duration_ms: Math.max(0, metric.duration_ms ?? 0) }] });
      }
      if (pending.conflicts.length >= MAX_REPORT_ITEMS || pending.resolved.length >= MAX_REPORT_ITEMS) void flush();
      else schedule();
    },
    flush,
  };
}
