/**
 * Backups of game sessions to R2: nightly full snapshots (JSONL per table), hourly increments of
 * the change log, 7 days kept. Restores rebuild a session as it was at any time covered by them
 * into a new session (see restore.ts). A session's rows are read on its shard, its members in the
 * directory (worker/db/shards.ts).
 */
import { and, asc, eq, gt, lte } from "drizzle-orm";
import type { AnyEntity, EntityType } from "../../domain/entities";
import type { Db } from "../db/client";
import { rowToEntity, selectAllStatement } from "../db/entities";
import { activationTimeline, assets, changeLog, gameSessions, sessionMembers } from "../db/schema";
import { directoryDb, sessionDb } from "../db/shards";
import { sha256Hex } from "../lib/crypto";
import { registry } from "../registry";
import { BACKUP_FORMAT, type BackupFile, type BackupManifest, type BackupRef, backupPrefix, listBackups } from "./layout";

export const BACKUP_RETENTION_DAYS = 7;

export interface SessionSnapshot {
  seq: number;
  session: typeof gameSessions.$inferSelect;
  members: (typeof sessionMembers.$inferSelect)[];
  entities: Record<EntityType, AnyEntity[]>;
  assets: (typeof assets.$inferSelect)[];
  timeline: (typeof activationTimeline.$inferSelect)[];
}

/**
 * Reads a session from its shard `db` in one D1 batch: a batch runs as one transaction, so every
 * table is read at the same seq even while the session object keeps writing. The members, an
 * access list kept in the directory `directory`, are read beside it.
 */
export async function readSnapshot(db: Db, directory: Db, sessionId: string): Promise<SessionSnapshot | undefined> {
  const members = await directory.select().from(sessionMembers).where(eq(sessionMembers.session_id, sessionId));
  const [session, sessionAssets, timeline, ...perType] = await db.batch([
    db.select().from(gameSessions).where(eq(gameSessions.id, sessionId)),
    db.select().from(assets).where(eq(assets.session_id, sessionId)),
    db.select().from(activationTimeline).where(eq(activationTimeline.session_id, sessionId)),
    ...registry.types.map((type) => selectAllStatement(db, sessionId, type)),
  ]);
  const head = session[0];
  if (!head) return undefined;
  const entities = Object.fromEntries(
    registry.types.map((type, i) => [type, (perType[i] ?? []).map((row) => rowToEntity(type, row as Record<string, unknown>))]),
  ) as Record<EntityType, AnyEntity[]>;
  return { seq: head.seq, session: head, members, entities, assets: sessionAssets, timeline };
}

function jsonl(rows: readonly unknown[]): string {
  return rows.map((r) => JSON.stringify(r)).join("\n") + (rows.length > 0 ? "\n" : "");
}

export function parseJsonl<T>(text: string): T[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as T);
}

/** Writes files then, last, the manifest: a backup without its manifest is incomplete and ignored. */
async function writeBackup(
  bucket: R2Bucket,
  prefix: string,
  manifest: Omit<BackupManifest, "files">,
  files: Record<string, readonly unknown[]>,
) {
  const entries: BackupFile[] = [];
  for (const [name, rows] of Object.entries(files)) {
    const text = jsonl(rows);
    const sha256 = await sha256Hex(text);
    // R2 verifies the bytes against the checksum before it accepts the write.
    await bucket.put(`${prefix}${name}`, text, { sha256, httpMetadata: { contentType: "application/x-ndjson" } });
    entries.push({ name, sha256, rows: rows.length, bytes: new TextEncoder().encode(text).byteLength });
  }
  const full: BackupManifest = { ...manifest, files: entries };
  await bucket.put(`${prefix}manifest.json`, JSON.stringify(full, null, 2), { httpMetadata: { contentType: "application/json" } });
  return full;
}

export async function writeFullBackup(env: Env, sessionId: string, at: Date): Promise<BackupManifest | undefined> {
  const snapshot = await readSnapshot(await sessionDb(env, sessionId), directoryDb(env), sessionId);
  if (!snapshot) return undefined;
  const prefix = backupPrefix(sessionId, at, "full", 0, snapshot.seq);
  return writeBackup(
    env.ASSETS,
    prefix,
    { format: BACKUP_FORMAT, kind: "full", session_id: sessionId, created_at: at.toISOString(), seq: snapshot.seq, from_seq: 0 },
    {
      "game_sessions.jsonl": [snapshot.session],
      "session_members.jsonl": snapshot.members,
      "assets.jsonl": snapshot.assets,
      "activation_timeline.jsonl": snapshot.timeline,
      ...Object.fromEntries(registry.types.map((type) => [`${type}.jsonl`, snapshot.entities[type]])),
    },
  );
}

/** Change log rows after the last backup, as an increment; nothing when nothing changed. */
export async function writeIncrement(env: Env, sessionId: string, at: Date, after: number): Promise<BackupManifest | undefined> {
  const db = await sessionDb(env, sessionId);
  const rows = await db
    .select()
    .from(changeLog)
    .where(and(eq(changeLog.session_id, sessionId), gt(changeLog.seq, after)))
    .orderBy(asc(changeLog.seq));
  const last = rows.at(-1);
  if (!last) return undefined;
  const prefix = backupPrefix(sessionId, at, "incr", after, last.seq);
  return writeBackup(
    env.ASSETS,
    prefix,
    { format: BACKUP_FORMAT, kind: "incr", session_id: sessionId, created_at: at.toISOString(), seq: last.seq, from_seq: after },
    { "change_log.jsonl": rows, "activation_timeline.jsonl": await timelineAfter(db, sessionId, after, last.seq) },
  );
}

async function timelineAfter(db: Db, sessionId: string, after: number, upTo: number) {
  return db
    .select()
    .from(activationTimeline)
    .where(and(eq(activationTimeline.session_id, sessionId), gt(activationTimeline.seq, after), lte(activationTimeline.seq, upTo)));
}

/** Deletes full snapshots past retention (never the newest) and increments they no longer anchor. */
export async function pruneBackups(bucket: R2Bucket, sessionId: string, now: Date): Promise<number> {
  const refs = await listBackups(bucket, sessionId);
  const fulls = refs.filter((r) => r.kind === "full");
  const cutoff = new Date(now.getTime() - BACKUP_RETENTION_DAYS * 86_400_000).toISOString();
  const keptFulls = fulls.filter((r, i) => r.createdAt >= cutoff || i === fulls.length - 1);
  const oldestKept = keptFulls[0];
  const doomed: BackupRef[] = refs.filter((r) =>
    r.kind === "full" ? !keptFulls.includes(r) : oldestKept !== undefined && r.toSeq <= oldestKept.toSeq,
  );
  for (const ref of doomed) {
    let cursor: string | undefined;
    do {
      const page = await bucket.list({ prefix: ref.prefix, ...(cursor ? { cursor } : {}) });
      if (page.objects.length > 0) await bucket.delete(page.objects.map((o) => o.key));
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
  }
  return doomed.length;
}

/** The first of `refs` whose manifest is written (a backup without one is incomplete). */
export async function latestComplete(bucket: R2Bucket, refs: readonly BackupRef[]): Promise<BackupRef | undefined> {
  for (const ref of refs) {
    if (await bucket.head(`${ref.prefix}manifest.json`)) return ref;
  }
  return undefined;
}

/** The hour (UTC) of the nightly full snapshots. */
export const FULL_BACKUP_HOUR_UTC = 3;

export type BackupOutcome = "full" | "incr" | "none";

/**
 * One session's backup for the hourly slot `at` (a queue message, worker/jobs/queue.ts): a full
 * snapshot at `fullHourUtc` (or when the session has none yet), else an increment of the change
 * log since the last backup, then retention.
 *
 * Safe to run twice for the same slot: a full snapshot is not written again when one was made at
 * or after `at`, and an increment only holds rows after the last backup. A backup is stamped with
 * the time it was made, never earlier than `at`, so a late message does not date its contents
 * back (point-in-time restores pick backups by their stamp).
 */
export async function backupSession(
  env: Env,
  sessionId: string,
  at: Date,
  fullHourUtc = FULL_BACKUP_HOUR_UTC,
): Promise<{ written: BackupOutcome; pruned: number }> {
  const session = await (await sessionDb(env, sessionId))
    .select({ seq: gameSessions.seq })
    .from(gameSessions)
    .where(eq(gameSessions.id, sessionId))
    .get();
  if (!session) return { written: "none", pruned: 0 };
  const stampAt = new Date(Math.max(at.getTime(), Date.now()));
  const refs = await listBackups(env.ASSETS, sessionId);
  // Only complete backups count: the files of a failed attempt (no manifest) are written again.
  const last = await latestComplete(env.ASSETS, refs.toReversed());
  const lastFull = await latestComplete(env.ASSETS, refs.filter((r) => r.kind === "full").toReversed());
  let written: BackupOutcome = "none";
  if (!lastFull || at.getUTCHours() === fullHourUtc) {
    const slotDone = lastFull !== undefined && lastFull.createdAt >= at.toISOString();
    if (!slotDone && (await writeFullBackup(env, sessionId, stampAt))) written = "full";
  } else if (last && session.seq > last.toSeq) {
    if (await writeIncrement(env, sessionId, stampAt, last.toSeq)) written = "incr";
  }
  return { written, pruned: await pruneBackups(env.ASSETS, sessionId, stampAt) };
}
