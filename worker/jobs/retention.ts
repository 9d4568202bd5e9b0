/**
 * Bounded storage: every table that would otherwise grow with play gets a retention rule tied to
 * the session's change-log window (its `retention_days` setting, else CHANGE_LOG_RETENTION_DAYS,
 * as in compact-log.ts) or to the compacted floor (`game_sessions.log_floor`) that window moves.
 *
 * | table                 | kept                                                                  |
 * |-----------------------|-----------------------------------------------------------------------|
 * | `acknowledgements`    | each client's latest ack only (the backlog reads nothing else), and   |
 * |                       | that one only while it is inside the window                           |
 * | `applied_ops`         | ops whose seq is above `log_floor` (still in the retained change log) |
 * | `session_clients`     | clients seen (or disconnected) inside the window                      |
 * | `activation_timeline` | rows above `log_floor`; below it, folded to the latest activation and |
 * |                       | the latest map of each scene                                          |
 * | `integrity_findings`  | open findings, and resolved ones resolved inside the window           |
 * | `metric_counters`     | already aggregated in place (one row per metric, label set, bucket);  |
 * |                       | rows of metric names no longer recorded are dropped                   |
 * | `import_results`      | imports made inside the window (a key older than it, like a pruned op |
 * |                       | id, is no longer recognised)                                          |
 * | `login_failures`      | usernames that failed in the last day (older failures are forgotten   |
 * |                       | by the back-off anyway: such a row counts as none)                    |
 * | `rate_windows`        | windows of the last hour (every window is a minute: an older row is   |
 * |                       | reset by the next attempt anyway)                                     |
 *
 * An op id pruned from `applied_ops` is no longer recognised as a replay. What a replay of it then
 * gets is decided by the op itself, and none applies twice: an update, archive, restore or revert
 * carries a `base_version` the entity has since moved past (at least by the op itself), so the
 * batch answers 409 with `details.current`; a create names an id that exists (a create without an
 * id takes its op id as the id, domain/plan.ts), so it answers 409 too. Only REST writes without
 * `If-Match` (archive, restore, activate) carry no version: archiving what is archived (restoring
 * what is live) changes nothing, so such a replay answers the entity as it is; anything else is
 * applied again, as a new request would be. A client whose queue is that old has been offline
 * past the window: its `resume` answers 410/reload first.
 *
 * Each rule is a DELETE of at most ROWS_PER_STATEMENT rows, repeated while it fills its limit,
 * at most ROUNDS_PER_RUN times: a run's work is bounded (50,000 rows a table), what is left goes
 * at the next run. Six players acking every change of a busy night make ~36,000 rows. The
 * per-session rules run one session per queue message (pruneSession: hourly while the session is
 * played, else daily; worker/jobs/queue.ts) on the session's shard, the others from the cron itself
 * (pruneGlobal) on the directory database, which holds those tables (worker/db/shards.ts).
 */
import { allDatabases, sessionD1 } from "../db/shards";
import { KNOWN_METRICS } from "../metrics/recorder";
import { retentionDays } from "./compact-log";

/** Rows one DELETE removes at most, and how many DELETEs a rule makes per run at most. */
export const ROWS_PER_STATEMENT = 5000;
export const ROUNDS_PER_RUN = 10;

export interface PruneCounts {
  acknowledgements: number;
  applied_ops: number;
  session_clients: number;
  activation_timeline: number;
  integrity_findings: number;
  metric_counters: number;
  import_results: number;
  login_failures: number;
  rate_windows: number;
}

/** `g` is the row's game session: the ISO time before which its window ends. */
const CUTOFF = `strftime('%Y-%m-%dT%H:%M:%fZ', ?1, '-' || COALESCE(json_extract(g.settings, '$.retention_days'), ?2) || ' days')`;

/**
 * The rules, each `DELETE ... WHERE rowid IN (<at most ?3 rows>)`; ?1 now, ?2 the deployment's
 * window in days. The SCOPE marker in a per-session rule becomes `AND g.id = ?4` when one session
 * is pruned (the queue consumer, worker/jobs/queue.ts), nothing when all are.
 */
const SCOPE = "/*scope*/";
const SESSION_RULES: Record<Exclude<keyof PruneCounts, "metric_counters" | "login_failures" | "rate_windows">, string> = {
  acknowledgements: `DELETE FROM acknowledgements WHERE rowid IN (
      SELECT a.rowid FROM acknowledgements a JOIN game_sessions g ON g.id = a.session_id
      WHERE (EXISTS (SELECT 1 FROM acknowledgements n
                    WHERE n.session_id = a.session_id AND n.client_id = a.client_id AND n.event_id > a.event_id)
         OR a.acked_at < ${CUTOFF}) ${SCOPE}
      LIMIT ?3)`,
  // From the sessions with a floor, a range of the (session_id, seq) index each: the records
  // inside the window, most of the table, are never read.
  applied_ops: `DELETE FROM applied_ops WHERE rowid IN (
      SELECT a.rowid FROM game_sessions g CROSS JOIN applied_ops a INDEXED BY applied_ops_seq
      WHERE g.log_floor > 0 AND a.session_id = g.id AND a.seq <= g.log_floor ${SCOPE}
      LIMIT ?3)`,
  session_clients: `DELETE FROM session_clients WHERE rowid IN (
      SELECT c.rowid FROM session_clients c JOIN game_sessions g ON g.id = c.session_id
      WHERE COALESCE(c.disconnected_at, c.last_seen) < ${CUTOFF} ${SCOPE}
      LIMIT ?3)`,
  activation_timeline: `DELETE FROM activation_timeline WHERE rowid IN (
      SELECT t.rowid FROM activation_timeline t JOIN game_sessions g ON g.id = t.session_id
      WHERE t.seq <= g.log_floor
        AND EXISTS (SELECT 1 FROM activation_timeline n
                    WHERE n.session_id = t.session_id AND n.kind = t.kind AND n.seq > t.seq
                      AND (t.kind = 'activate' OR n.scene_id IS t.scene_id)) ${SCOPE}
      LIMIT ?3)`,
  integrity_findings: `DELETE FROM integrity_findings WHERE rowid IN (
      SELECT f.rowid FROM integrity_findings f JOIN game_sessions g ON g.id = f.session_id
      WHERE f.resolved_at IS NOT NULL AND f.resolved_at < ${CUTOFF} ${SCOPE}
      LIMIT ?3)`,
  import_results: `DELETE FROM import_results WHERE rowid IN (
      SELECT i.rowid FROM import_results i JOIN game_sessions g ON g.id = i.session_id
      WHERE i.created_at < ${CUTOFF} ${SCOPE}
      LIMIT ?3)`,
};

/** Rules of no session, run by the cron itself (worker/scheduled.ts). */
const GLOBAL_RULES: Record<"login_failures" | "rate_windows", string> = {
  // Not per session: `locked_until` (ms) is also the time of the last failure, a day ago is forgotten.
  login_failures: `DELETE FROM login_failures WHERE rowid IN (
      SELECT rowid FROM login_failures WHERE locked_until < (unixepoch(?1) - 86400) * 1000
      LIMIT ?3)`,
  // `window_start` is in seconds; every window lasts a minute.
  rate_windows: `DELETE FROM rate_windows WHERE rowid IN (
      SELECT rowid FROM rate_windows WHERE window_start < unixepoch(?1) - 3600
      LIMIT ?3)`,
};

function emptyCounts(): PruneCounts {
  return {
    acknowledgements: 0,
    applied_ops: 0,
    session_clients: 0,
    activation_timeline: 0,
    integrity_findings: 0,
    metric_counters: 0,
    import_results: 0,
    login_failures: 0,
    rate_windows: 0,
  };
}

/**
 * Runs each rule up to `rounds` times while it fills its limit, adding what it removed to
 * `counts`. One rule failing does not stop the others; the tables whose rule failed are returned.
 */
async function applyRules(
  d1: D1Database,
  rules: Partial<Record<keyof PruneCounts, string>>,
  bindings: unknown[],
  limit: number,
  rounds: number,
  counts: PruneCounts,
): Promise<string[]> {
  const failed: string[] = [];
  for (const [table, query] of Object.entries(rules) as [keyof PruneCounts, string][]) {
    try {
      for (let round = 0; round < rounds; round++) {
        const removed =
          (
            await d1
              .prepare(query)
              .bind(bindings[0], bindings[1], limit, ...bindings.slice(2))
              .run()
          ).meta.changes ?? 0;
        counts[table] += removed;
        if (removed < limit) break;
      }
    } catch (error) {
      failed.push(table);
      console.error(JSON.stringify({ level: "error", msg: "retention rule failed", table, error: String(error) }));
    }
  }
  return failed;
}

function scoped(rules: Record<string, string>, scope: string): Record<string, string> {
  return Object.fromEntries(Object.entries(rules).map(([table, query]) => [table, query.replace(SCOPE, scope)]));
}

/**
 * Applies every rule once, to every session, database by database (the per-session rules on each
 * shard and on the directory database for the sessions from before shards, the others on the
 * directory); returns the rows each removed. One rule failing does not stop the others.
 */
export async function pruneStorage(env: Env, now: Date, limit = ROWS_PER_STATEMENT, rounds = ROUNDS_PER_RUN): Promise<PruneCounts> {
  const counts = emptyCounts();
  for (const { d1 } of allDatabases(env)) {
    await applyRules(d1, scoped(SESSION_RULES, ""), [now.toISOString(), retentionDays(env)], limit, rounds, counts);
  }
  await pruneGlobal(env, now, limit, rounds, counts);
  return counts;
}

/**
 * The per-session rules for one session (a queue message, worker/jobs/queue.ts). Every rule is
 * tried; if any failed, this throws after the others ran, so the message is retried.
 */
export async function pruneSession(
  env: Env,
  sessionId: string,
  now: Date,
  limit = ROWS_PER_STATEMENT,
  rounds = ROUNDS_PER_RUN,
): Promise<PruneCounts> {
  const counts = emptyCounts();
  const rules = scoped(SESSION_RULES, "AND g.id = ?4");
  const failed = await applyRules(
    await sessionD1(env, sessionId),
    rules,
    [now.toISOString(), retentionDays(env), sessionId],
    limit,
    rounds,
    counts,
  );
  if (failed.length > 0) throw new Error(`retention rules failed: ${failed.join(", ")}`);
  return counts;
}

/** The rules of no session (login failures, rate windows, retired metrics): run by the cron itself. */
export async function pruneGlobal(
  env: Env,
  now: Date,
  limit = ROWS_PER_STATEMENT,
  rounds = ROUNDS_PER_RUN,
  counts = emptyCounts(),
): Promise<PruneCounts> {
  await applyRules(env.DB, GLOBAL_RULES, [now.toISOString(), retentionDays(env)], limit, rounds, counts);
  try {
    const known = KNOWN_METRICS.map(() => "?").join(", ");
    const result = await env.DB.prepare(`DELETE FROM metric_counters WHERE name NOT IN (${known})`)
      .bind(...KNOWN_METRICS)
      .run();
    counts.metric_counters = result.meta.changes ?? 0;
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "retention rule failed", table: "metric_counters", error: String(error) }));
  }
  return counts;
}
