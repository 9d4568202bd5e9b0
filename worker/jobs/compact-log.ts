/**
 * Change-log retention. Each session keeps its change log for a window: its own `retention_days`
 * setting when a GM or admin set one (domain/settings.ts), else CHANGE_LOG_RETENTION_DAYS (default
 * 30). Older rows are compacted away by this job and `log_floor` is raised, so
 * `changes?since` and `resume` below it answer 410 / reload while replay inside the window is
 * untouched. Before a row goes, its entity's state is folded into `entity_baselines`, so history
 * and revert still start from a full state. Rows not yet copied to an R2 backup are never
 * compacted: point-in-time restores replay them from the backups' increments.
 *
 * Safe beside the session object: it only inserts rows above the current seq, this job only
 * deletes rows at or below a floor under it, and each session's compaction is one D1 batch.
 */
import { and, asc, eq, gt, inArray, lt, lte, sql } from "drizzle-orm";
import { applyMergePatch, type Json } from "../../domain/merge-patch";
import { resolveSettings } from "../../domain/settings";
import { latestComplete } from "../backup/backup";
import { listBackups } from "../backup/layout";
import { chunk, type Db, getDb } from "../db/client";
import { changeLog, entityBaselines, gameSessions } from "../db/schema";
import { allDatabases, sessionDb } from "../db/shards";

const DEFAULT_RETENTION_DAYS = 30;
/** At most this many rows are compacted per session and run, to stay within one invocation's limits. */
const MAX_ROWS_PER_RUN = 5000;

export function retentionDays(env: Env): number {
  const value = Number((env as Partial<{ CHANGE_LOG_RETENTION_DAYS: string }>).CHANGE_LOG_RETENTION_DAYS);
  return Number.isFinite(value) && value >= 0 ? value : DEFAULT_RETENTION_DAYS;
}

/** A session's window: its `retention_days` setting, else the deployment's. */
export function sessionRetentionDays(env: Env, storedSettings: unknown): number {
  return resolveSettings(storedSettings).retention_days ?? retentionDays(env);
}

/** Compacts one session up to `floor` (inclusive); returns how many rows went. */
export async function compactTo(db: Db, sessionId: string, floor: number): Promise<number> {
  const rows = await db
    .select()
    .from(changeLog)
    .where(and(eq(changeLog.session_id, sessionId), lte(changeLog.seq, floor)))
    .orderBy(asc(changeLog.seq));
  if (rows.length === 0) return 0;
  const keys = [...new Set(rows.map((r) => `${r.entity_type}\u0000${r.entity_id}`))];
  const baselines = new Map<string, typeof entityBaselines.$inferSelect>();
  for (const part of chunk(keys, 40)) {
    const ids = part.map((k) => k.split("\u0000")[1] as string);
    const found = await db
      .select()
      .from(entityBaselines)
      .where(and(eq(entityBaselines.session_id, sessionId), inArray(entityBaselines.entity_id, ids)));
    for (const b of found) baselines.set(`${b.entity_type}\u0000${b.entity_id}`, b);
  }
  for (const row of rows) {
    const key = `${row.entity_type}\u0000${row.entity_id}`;
    const before = baselines.get(key);
    baselines.set(key, {
      session_id: sessionId,
      entity_type: row.entity_type,
      entity_id: row.entity_id,
      version: row.version,
      seq: row.seq,
      state: applyMergePatch(before?.state as Json | undefined, row.diff as Json),
      updated_by: row.updated_by,
      created_at: row.created_at,
    });
  }
  const touched = keys.map((k) => baselines.get(k)).filter((b): b is typeof entityBaselines.$inferSelect => b !== undefined);
  const statements = [
    ...chunk(touched, 10).map((part) =>
      db
        .insert(entityBaselines)
        .values(part)
        .onConflictDoUpdate({
          target: [entityBaselines.session_id, entityBaselines.entity_type, entityBaselines.entity_id],
          set: {
            version: sqlExcluded("version"),
            seq: sqlExcluded("seq"),
            state: sqlExcluded("state"),
            updated_by: sqlExcluded("updated_by"),
            created_at: sqlExcluded("created_at"),
          },
        }),
    ),
    db.delete(changeLog).where(and(eq(changeLog.session_id, sessionId), lte(changeLog.seq, floor))),
    db
      .update(gameSessions)
      .set({ log_floor: floor })
      .where(and(eq(gameSessions.id, sessionId), lt(gameSessions.log_floor, floor))),
  ];
  const [first, ...rest] = statements;
  if (first) await db.batch([first, ...rest]);
  return rows.length;
}

function sqlExcluded(column: string) {
  return sql.raw(`excluded."${column}"`);
}

/** The floor a session may be compacted to now: older than `days`, and already in an R2 backup. */
export async function compactableFloor(env: Env, db: Db, sessionId: string, now: Date, days = retentionDays(env)): Promise<number> {
  const backups = await listBackups(env.ASSETS, sessionId);
  // The furthest complete backup: a failed attempt's files (no manifest) hold nothing restorable.
  const furthest = await latestComplete(
    env.ASSETS,
    backups.toSorted((x, y) => y.toSeq - x.toSeq),
  );
  const backedUp = furthest?.toSeq ?? 0;
  if (backedUp === 0) return 0;
  const cutoff = new Date(now.getTime() - days * 86_400_000).toISOString();
  const old = await db
    .select({ seq: changeLog.seq })
    .from(changeLog)
    .where(and(eq(changeLog.session_id, sessionId), lt(changeLog.created_at, cutoff), lte(changeLog.seq, backedUp)))
    .orderBy(asc(changeLog.seq))
    .limit(MAX_ROWS_PER_RUN);
  return old.at(-1)?.seq ?? 0;
}

/**
 * One session (a queue message, worker/jobs/queue.ts): compacts what is past its window and
 * already backed up; returns the rows that went. Running it again changes nothing more.
 */
export async function compactSession(env: Env, sessionId: string, now: Date): Promise<number> {
  const db = await sessionDb(env, sessionId);
  const session = await db
    .select({ floor: gameSessions.log_floor, settings: gameSessions.settings })
    .from(gameSessions)
    .where(eq(gameSessions.id, sessionId))
    .get();
  if (!session) return 0;
  const floor = await compactableFloor(env, db, sessionId, now, sessionRetentionDays(env, session.settings));
  if (floor <= session.floor) return 0;
  return compactTo(db, sessionId, floor);
}

/**
 * SQL: the ids of the sessions whose oldest retained change (above `log_floor`) is older than the
 * session's window at ?1 (ISO now), ?2 being the deployment's window in days. Whether those rows
 * are backed up yet is for compactSession to see (it reads R2).
 */
export const COMPACTION_DUE = `SELECT g.id AS id FROM game_sessions g
  WHERE g.seq > g.log_floor
    AND (SELECT c.created_at FROM change_log c WHERE c.session_id = g.id AND c.seq > g.log_floor ORDER BY c.seq LIMIT 1)
        < strftime('%Y-%m-%dT%H:%M:%fZ', ?1, '-' || COALESCE(json_extract(g.settings, '$.retention_days'), ?2) || ' days')`;

/**
 * Every session with rows past its own window, database by database and one session after the
 * other (the queue runs them one a message). A session's rows left on a shard it moved away from
 * are not its own: only those the directory places on the database are compacted.
 */
export async function compactChangeLogs(env: Env, now: Date): Promise<{ sessions: number; rows: number }> {
  let compacted = 0;
  let rows = 0;
  for (const { name, d1 } of allDatabases(env)) {
    const sessions = await getDb(d1).select({ id: gameSessions.id }).from(gameSessions).where(gt(gameSessions.seq, 0));
    for (const s of sessions) {
      const placed = await env.DB.prepare("SELECT 1 AS here FROM session_directory WHERE session_id = ?1 AND shard = ?2")
        .bind(s.id, name)
        .first();
      if (!placed) continue;
      const removed = await compactSession(env, s.id, now);
      if (removed === 0) continue;
      rows += removed;
      compacted += 1;
    }
  }
  return { sessions: compacted, rows };
}
