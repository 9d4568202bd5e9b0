/**
 * Asset cleanup and mirroring. The cleanup runs one session at a time, from a queue message
 * (worker/jobs/queue.ts); the mirror, which works on R2 keys of no one session, from the cron
 * trigger itself (worker/scheduled.ts).
 *
 * What counts as referenced: any scene's `map_asset` and any token art's `image_asset` in the
 * same session, archived rows included (nothing is ever erased, so an archived entity can always
 * be restored and must keep its image). An asset is garbage when it has been unreferenced for
 * longer than the retention period (ASSET_RETENTION_DAYS, default 7) counted from the last time
 * it was referenced or uploaded, and was created more than UPLOAD_GRACE_MS ago (a fresh upload
 * is never collected before the GM had the time to use it, whatever the retention).
 *
 * Deletion takes two runs, so that it never races a write:
 * 1. the manifest row is moved to `asset_deletions` (one transaction, the conditions re-checked
 *    inside it). From then on the write path refuses new references to the hash (it checks the
 *    manifest), and an upload of the same bytes creates a new row.
 * 2. on a later run (at least TOMBSTONE_DELAY_MS after), each tombstone is re-checked: if an
 *    entity references the hash after all (a write that passed its check just before step 1), the
 *    row is put back; otherwise the R2 object (and its mirror copy) is deleted unless another
 *    manifest row, of any session, still names it: on any database (objects are named by their
 *    content, so sessions on different shards share them, worker/db/shards.ts).
 *
 * A session's rows are on its shard; the cleanup of all sessions goes database by database.
 */
import { nowIso } from "../db/client";
import { allDatabases, sessionD1 } from "../db/shards";
import { mirrorOf, sha256Of } from "./store";

const DAY_MS = 24 * 3600 * 1000;
export const DEFAULT_RETENTION_DAYS = 7;
export const UPLOAD_GRACE_MS = DAY_MS;
export const TOMBSTONE_DELAY_MS = 10 * 60 * 1000;
const BATCH = 100;

export function retentionDays(env: Env): number {
  const raw: string | undefined = env.ASSET_RETENTION_DAYS;
  const days = Number(raw);
  if (raw === undefined || raw.trim() === "" || !Number.isFinite(days) || days < 0) return DEFAULT_RETENTION_DAYS;
  return days;
}

/** SQL: the asset row `a` is named by a scene or a token art of its session (archived ones too). */
const REFERENCED = `(EXISTS (SELECT 1 FROM scenes s WHERE s.session_id = a.session_id AND s.map_asset = a.hash)
  OR EXISTS (SELECT 1 FROM token_art t WHERE t.session_id = a.session_id AND t.image_asset = a.hash))`;
/** SQL: the asset row `a` is garbage at ?1 = retention cutoff, ?2 = grace cutoff. */
const COLLECTABLE = `coalesce(a.last_referenced_at, a.created_at) < ?1 AND a.created_at < ?2 AND NOT ${REFERENCED}`;

const ROW_COLUMNS = [
  "session_id",
  "hash",
  "kind",
  "mime",
  "size",
  "width",
  "height",
  "r2_key",
  "uploaded_by",
  "created_at",
  "last_referenced_at",
  "mirrored_at",
  "original_hash",
] as const;

export interface GcReport {
  marked: number;
  queued: number;
  restored: number;
  deletedObjects: number;
  keptObjects: number;
}

/** Records "referenced now" on every asset an entity names, so retention counts from the last use. */
async function markReferenced(db: D1Database, at: string, sessionId: string | undefined): Promise<number> {
  const result = await db
    .prepare(
      `UPDATE assets SET last_referenced_at = ?1 WHERE ${sessionId === undefined ? "" : "session_id = ?2 AND"}
        (EXISTS (SELECT 1 FROM scenes s WHERE s.session_id = assets.session_id AND s.map_asset = assets.hash)
        OR EXISTS (SELECT 1 FROM token_art t WHERE t.session_id = assets.session_id AND t.image_asset = assets.hash))`,
    )
    .bind(at, ...(sessionId === undefined ? [] : [sessionId]))
    .run();
  return result.meta.changes ?? 0;
}

/** Step 1: moves collectable manifest rows to `asset_deletions`. */
async function queueGarbage(db: D1Database, at: Date, retentionMs: number, sessionId: string | undefined): Promise<number> {
  const retentionCutoff = new Date(at.getTime() - retentionMs).toISOString();
  const graceCutoff = new Date(at.getTime() - UPLOAD_GRACE_MS).toISOString();
  const { results } = await db
    .prepare(
      `SELECT a.session_id, a.hash FROM assets a WHERE ${sessionId === undefined ? "" : "a.session_id = ?3 AND"} ${COLLECTABLE} LIMIT ${BATCH}`,
    )
    .bind(retentionCutoff, graceCutoff, ...(sessionId === undefined ? [] : [sessionId]))
    .all<{ session_id: string; hash: string }>();
  if (results.length === 0) return 0;
  const rowJson = `json_object(${ROW_COLUMNS.map((c) => `'${c}', a.${c}`).join(", ")})`;
  const statements = results.flatMap(({ session_id, hash }) => [
    db
      .prepare(
        `INSERT OR REPLACE INTO asset_deletions (session_id, hash, r2_key, row, queued_at)
         SELECT a.session_id, a.hash, a.r2_key, ${rowJson}, ?3 FROM assets a WHERE a.session_id = ?4 AND a.hash = ?5 AND ${COLLECTABLE}`,
      )
      .bind(retentionCutoff, graceCutoff, at.toISOString(), session_id, hash),
    db
      .prepare(`DELETE FROM assets AS a WHERE a.session_id = ?3 AND a.hash = ?4 AND ${COLLECTABLE}`)
      .bind(retentionCutoff, graceCutoff, session_id, hash),
  ]);
  const out = await db.batch(statements);
  return out.filter((r, i) => i % 2 === 1 && (r.meta.changes ?? 0) > 0).length;
}

interface Tombstone {
  session_id: string;
  hash: string;
  r2_key: string;
  row: string;
}

/** Step 2: deletes the objects of tombstones old enough, or restores rows still referenced. */
async function deleteQueued(env: Env, db: D1Database, at: Date, report: GcReport, sessionId: string | undefined): Promise<void> {
  const cutoff = new Date(at.getTime() - TOMBSTONE_DELAY_MS).toISOString();
  const { results } = await db
    .prepare(
      `SELECT session_id, hash, r2_key, row FROM asset_deletions WHERE queued_at < ?1 ${sessionId === undefined ? "" : "AND session_id = ?2"} ORDER BY queued_at LIMIT ${BATCH}`,
    )
    .bind(cutoff, ...(sessionId === undefined ? [] : [sessionId]))
    .all<Tombstone>();
  const mirror = mirrorOf(env);
  for (const t of results) {
    const referenced = await db
      .prepare(`SELECT ${REFERENCED} AS referenced FROM (SELECT ?1 AS session_id, ?2 AS hash) a`)
      .bind(t.session_id, t.hash)
      .first<{ referenced: number }>();
    const forget = db.prepare("DELETE FROM asset_deletions WHERE session_id = ?1 AND hash = ?2").bind(t.session_id, t.hash);
    if (referenced?.referenced) {
      const row = JSON.parse(t.row) as Record<string, unknown>;
      const values = ROW_COLUMNS.map((c) => (c === "last_referenced_at" ? at.toISOString() : (row[c] ?? null)));
      await db.batch([
        db
          .prepare(`INSERT OR IGNORE INTO assets (${ROW_COLUMNS.join(", ")}) VALUES (${ROW_COLUMNS.map(() => "?").join(", ")})`)
          .bind(...values),
        forget,
      ]);
      console.warn(
        JSON.stringify({ level: "warn", msg: "asset cleanup restored a referenced asset", session_id: t.session_id, hash: t.hash }),
      );
      report.restored++;
      continue;
    }
    const stillNamed = await namedElsewhere(env, t);
    if (stillNamed) {
      report.keptObjects++;
    } else {
      // Object first, tombstone after: a failed delete is retried on the next run.
      await env.ASSETS.delete(t.r2_key);
      if (mirror) await mirror.delete(t.r2_key);
      report.deletedObjects++;
    }
    await forget.run();
  }
}

/** Whether a manifest row or another tombstone, on any database, still names the tombstone's object. */
async function namedElsewhere(env: Env, t: Tombstone): Promise<boolean> {
  for (const { d1 } of allDatabases(env)) {
    const row = await d1
      .prepare(
        "SELECT (EXISTS (SELECT 1 FROM assets WHERE r2_key = ?1) OR EXISTS (SELECT 1 FROM asset_deletions WHERE r2_key = ?1 AND NOT (session_id = ?2 AND hash = ?3))) AS named",
      )
      .bind(t.r2_key, t.session_id, t.hash)
      .first<{ named: number }>();
    if (row?.named) return true;
  }
  return false;
}

/**
 * The cleanup job: finish earlier deletions, mark what is in use, queue what is not; of one
 * session, on its shard, when `sessionId` is given (a queue message), else of all, database by
 * database. Running it twice at the same `at` does nothing more the second time: what it deletes
 * or queues is gone from what it reads.
 */
export async function collectAssetGarbage(env: Env, at: Date, sessionId?: string): Promise<GcReport> {
  const report: GcReport = { marked: 0, queued: 0, restored: 0, deletedObjects: 0, keptObjects: 0 };
  const databases = sessionId === undefined ? allDatabases(env).map((d) => d.d1) : [await sessionD1(env, sessionId)];
  for (const db of databases) {
    await deleteQueued(env, db, at, report, sessionId);
    report.marked += await markReferenced(db, at.toISOString(), sessionId);
    report.queued += await queueGarbage(db, at, retentionDays(env) * DAY_MS, sessionId);
  }
  return report;
}

/** SQL: the sessions the cleanup has something to look at: assets in the manifest or waiting for deletion. */
export const ASSET_CLEANUP_DUE = "SELECT session_id AS id FROM assets UNION SELECT session_id AS id FROM asset_deletions";

/**
 * Copies to the mirror bucket (when bound) every stored object the manifest has not seen mirrored,
 * at most `limit` a run, database by database.
 */
export async function mirrorAssets(env: Env, limit = 50): Promise<number> {
  const mirror = mirrorOf(env);
  if (!mirror) return 0;
  let copied = 0;
  for (const { d1 } of allDatabases(env)) {
    if (copied >= limit) break;
    copied += await mirrorFrom(env, mirror, d1, limit - copied);
  }
  return copied;
}

async function mirrorFrom(env: Env, mirror: R2Bucket, db: D1Database, limit: number): Promise<number> {
  const { results } = await db.prepare(`SELECT DISTINCT r2_key FROM assets WHERE mirrored_at IS NULL LIMIT ${limit}`).all<{
    r2_key: string;
  }>();
  let copied = 0;
  for (const { r2_key } of results) {
    const object = await env.ASSETS.get(r2_key);
    if (!object) {
      console.error(JSON.stringify({ level: "error", msg: "asset object missing while mirroring", key: r2_key }));
      continue;
    }
    const bytes = new Uint8Array(await object.arrayBuffer());
    const sha256 = sha256Of(object);
    await mirror.put(r2_key, bytes, {
      ...(sha256 ? { sha256 } : {}),
      httpMetadata: object.httpMetadata ?? {},
      customMetadata: object.customMetadata ?? {},
    });
    await db.prepare("UPDATE assets SET mirrored_at = ?1 WHERE r2_key = ?2").bind(nowIso(), r2_key).run();
    copied++;
  }
  return copied;
}

/**
 * Hands assets an import stored and then could not use (its entities were refused) to this
 * cleanup at once: their manifest rows, unless an entity names them, move to `asset_deletions`,
 * and the next run deletes each R2 object unless another row still names it (step 2 above).
 */
export async function abandonAssets(db: D1Database, sessionId: string, hashes: readonly string[], at = new Date()): Promise<number> {
  if (hashes.length === 0) return 0;
  const rowJson = `json_object(${ROW_COLUMNS.map((c) => `'${c}', a.${c}`).join(", ")})`;
  const statements = hashes.flatMap((hash) => [
    db
      .prepare(
        `INSERT OR REPLACE INTO asset_deletions (session_id, hash, r2_key, row, queued_at)
         SELECT a.session_id, a.hash, a.r2_key, ${rowJson}, ?1 FROM assets a WHERE a.session_id = ?2 AND a.hash = ?3 AND NOT ${REFERENCED}`,
      )
      .bind(at.toISOString(), sessionId, hash),
    db.prepare(`DELETE FROM assets AS a WHERE a.session_id = ?1 AND a.hash = ?2 AND NOT ${REFERENCED}`).bind(sessionId, hash),
  ]);
  const out = await db.batch(statements);
  return out.filter((r, i) => i % 2 === 1 && (r.meta.changes ?? 0) > 0).length;
}
