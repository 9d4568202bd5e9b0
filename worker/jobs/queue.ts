/**
 * Background work per game session on a Cloudflare Queue.
 *
 * The hourly cron (worker/scheduled.ts) does no session's work itself: it finds, with a few D1
 * queries on each database (every shard lists its own sessions, worker/db/shards.ts; the directory
 * database lists the sessions from before shards), which sessions are due for which job and sends
 * one message per (session, job kind),
 * `{ kind, session_id, at }`, to the JOBS queue. The queue consumer (the `queue` handler of
 * worker/index.ts) runs one session's job per message, so the work spreads over as many
 * invocations as there are sessions, each with its own limits, and one session failing is retried
 * alone.
 *
 * Every job is safe to run twice for the same message (the platform delivers at least once): see
 * each job's entry. A message is acked when its job succeeded, retried with a growing delay when
 * it threw; after `max_retries` (wrangler.toml) the platform moves it to the dead-letter queue,
 * whose consumer logs it and lets it go. Nothing is lost by that: what is due is derived from the
 * stored state at every cron run, so the next run sends the job again while it is still due.
 * A message whose body is not a job (another version's, or garbage) is logged and acked: retrying
 * it could never succeed.
 */
import { sql } from "drizzle-orm";
import { z } from "zod";
import { ASSET_CLEANUP_DUE, collectAssetGarbage } from "../assets/gc";
import { backupSession, FULL_BACKUP_HOUR_UTC } from "../backup/backup";
import { chunk } from "../db/client";
import { allDatabases, directoryDb, readHead, rememberShard } from "../db/shards";
import { COMPACTION_DUE, compactSession, retentionDays } from "./compact-log";
import { scheduledCheck, sessionsDueForCheck } from "./integrity";
import { pruneSession } from "./retention";

export const JOB_KINDS = ["backup", "compact", "integrity", "assets", "retention"] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** A message on the JOBS queue: one kind of job for one session, due at the cron time `at`. */
export const jobMessage = z.object({
  kind: z.enum(JOB_KINDS),
  session_id: z.string().min(1).max(128),
  at: z.iso.datetime(),
});
export type JobMessage = z.infer<typeof jobMessage>;

/** Queue names, as in wrangler.toml. */
export const JOBS_QUEUE = "vtt-jobs";
export const JOBS_DEAD_LETTER_QUEUE = "vtt-jobs-dlq";
/** Deliveries of a message after its first, as `max_retries` in wrangler.toml (a test keeps them equal). */
export const JOB_MAX_RETRIES = 5;
/** Messages one `sendBatch` may carry. */
const SEND_BATCH_MAX = 100;
/** Longest retry delay (a retry's delay doubles from JOBS_RETRY_DELAY_SECONDS). */
const MAX_RETRY_DELAY_SECONDS = 3600;
const DEFAULT_RETRY_DELAY_SECONDS = 30;
/**
 * A session changed at most this long before the cron time gets an increment backup and its
 * retention rules: two hours, so a late or skipped run loses nothing (an increment holds every
 * row since the last backup, and the nightly snapshot covers every session anyway).
 */
const RECENT_MS = 2 * 3600 * 1000;

function log(level: "info" | "warn" | "error", msg: string, fields: Record<string, unknown>) {
  const line = JSON.stringify({ level, msg, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

/** The hour (UTC) of a session's daily retention run, spread over the day by its id (FNV-1a). */
export function retentionHour(sessionId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < sessionId.length; i++) {
    hash ^= sessionId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % 24;
}

async function ids(d1: D1Database, query: string, ...params: unknown[]): Promise<string[]> {
  const { results } = await d1
    .prepare(query)
    .bind(...params)
    .all<{ id: string }>();
  return results.map((row) => row.id);
}

/**
 * Of `sessionIds` (read on database `name`), those the directory places on `name`: a shard may
 * still hold the rows of a session moved away from it until the move's cleanup, and those are
 * the other shard's to list. One directory query per 90 ids.
 */
async function placedOn(env: Env, name: string, sessionIds: readonly string[]): Promise<Set<string>> {
  const placed = new Set<string>();
  for (const part of chunk([...new Set(sessionIds)], 90)) {
    const { results } = await env.DB.prepare(
      `SELECT session_id AS id FROM session_directory WHERE shard = ?1 AND session_id IN (${part.map((_, i) => `?${i + 2}`).join(", ")})`,
    )
      .bind(name, ...part)
      .all<{ id: string }>();
    for (const row of results) placed.add(row.id);
  }
  return placed;
}

/** The sessions living on database `name` (a shard, or "DB" for those from before shards), oldest first. */
export async function sessionsOn(env: Env, name: string, d1: D1Database): Promise<string[]> {
  const listed = await ids(d1, "SELECT id FROM game_sessions ORDER BY created_at");
  const placed = await placedOn(env, name, listed);
  return listed.filter((id) => placed.has(id));
}

/**
 * The jobs due at `at` of the sessions on one database (a shard, or "DB" for the sessions from
 * before shards), one message per session and kind:
 * - backup: every session at the nightly hour (FULL_BACKUP_HOUR_UTC, a full snapshot), else the
 *   sessions changed in the last two hours (an increment, or a first snapshot);
 * - compact: the sessions whose oldest retained change is past their window;
 * - integrity: the sessions not checked for 20 hours (at most SESSIONS_PER_RUN per database,
 *   least recent first);
 * - assets: the sessions with assets in the manifest or waiting for deletion;
 * - retention: the sessions changed in the last two hours, and every session once a day at its
 *   own hour (retentionHour).
 */
export async function dueJobsOn(env: Env, name: string, d1: D1Database, at: Date): Promise<Record<JobKind, string[]>> {
  const iso = at.toISOString();
  const recent = new Date(at.getTime() - RECENT_MS).toISOString();
  const changedRecently = await ids(
    d1,
    "SELECT g.id AS id FROM game_sessions g JOIN change_log c ON c.session_id = g.id AND c.seq = g.seq WHERE c.created_at >= ?1",
    recent,
  );
  const all = await sessionsOn(env, name, d1);
  const placed = new Set(all);
  const here = (list: string[]) => list.filter((id) => placed.has(id));
  const recentSet = new Set(changedRecently);
  return {
    backup: at.getUTCHours() === FULL_BACKUP_HOUR_UTC ? all : here(changedRecently),
    compact: here(await ids(d1, COMPACTION_DUE, iso, retentionDays(env))),
    integrity: here(await sessionsDueForCheck(d1, at)),
    // Tombstones may outlive nothing but their session's row: only sessions that exist.
    assets: here(await ids(d1, ASSET_CLEANUP_DUE)),
    retention: all.filter((id) => recentSet.has(id) || retentionHour(id) === at.getUTCHours()),
  };
}

/**
 * The jobs due at `at`, one message per session and kind, found database by database (never one
 * query over every session of the service): the directory database for the sessions from before
 * shards, then each shard.
 */
export async function dueJobs(env: Env, at: Date): Promise<JobMessage[]> {
  const iso = at.toISOString();
  const due: Record<JobKind, Set<string>> = {
    backup: new Set(),
    compact: new Set(),
    integrity: new Set(),
    assets: new Set(),
    retention: new Set(),
  };
  for (const { name, d1 } of allDatabases(env)) {
    const found = await dueJobsOn(env, name, d1, at);
    for (const kind of JOB_KINDS) for (const id of found[kind]) due[kind].add(id);
  }
  return JOB_KINDS.flatMap((kind) => [...due[kind]].map((session_id) => ({ kind, session_id, at: iso })));
}

/** Sends the messages in batches of SEND_BATCH_MAX; returns how many were sent. */
export async function enqueueJobs(queue: Queue<JobMessage>, messages: readonly JobMessage[]): Promise<number> {
  for (let i = 0; i < messages.length; i += SEND_BATCH_MAX) {
    await queue.sendBatch(messages.slice(i, i + SEND_BATCH_MAX).map((body) => ({ body, contentType: "json" as const })));
  }
  return messages.length;
}

/** Thrown for a session the directory marks "moving": its job is retried later, on the shard it lands on. */
export class SessionMoving extends Error {
  constructor(readonly sessionId: string) {
    super(`session ${sessionId} is moving between shards`);
    this.name = "SessionMoving";
  }
}

/**
 * Runs one session's job; what it did, for the log line. Throws when the job failed, and
 * SessionMoving while the session moves. The session's shard is read from the directory itself
 * (not an isolate's cached entry, which may predate a move); a session the directory does not
 * list, or whose shard lacks it, is skipped.
 */
export async function runJob(env: Env, job: JobMessage): Promise<Record<string, unknown>> {
  const at = new Date(job.at);
  const entry = await directoryDb(env).get<{ shard: string; region: string; state: "active" | "moving" } | undefined>(
    sql`SELECT shard, region, state FROM session_directory WHERE session_id = ${job.session_id}`,
  );
  if (!entry) return { skipped: "no such session" };
  if (entry.state === "moving") throw new SessionMoving(job.session_id);
  // The jobs below resolve the session's shard through this entry, without another query.
  rememberShard(job.session_id, entry);
  if (!(await readHead(env, entry.shard, job.session_id))) return { skipped: "no such session" };
  switch (job.kind) {
    case "backup":
      return { ...(await backupSession(env, job.session_id, at)) };
    case "compact":
      return { rows: await compactSession(env, job.session_id, at) };
    case "integrity": {
      const findings = await scheduledCheck(env, job.session_id, at);
      return findings === null ? { skipped: "checked since due" } : { findings };
    }
    case "assets":
      return { ...(await collectAssetGarbage(env, at, job.session_id)) };
    case "retention":
      return { ...(await pruneSession(env, job.session_id, at)) };
  }
}

/** The delay before a failed message's next delivery: JOBS_RETRY_DELAY_SECONDS, doubled each attempt. */
export function retryDelaySeconds(env: Env, attempts: number): number {
  const raw = Number(env.JOBS_RETRY_DELAY_SECONDS);
  const base = Number.isFinite(raw) && raw >= 0 ? raw : DEFAULT_RETRY_DELAY_SECONDS;
  return Math.min(MAX_RETRY_DELAY_SECONDS, Math.round(base * 2 ** Math.max(0, attempts - 1)));
}

/** The JOBS consumer: each message on its own, acked or retried on its own. */
async function consumeJobs(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  for (const message of batch.messages) {
    const parsed = jobMessage.safeParse(message.body);
    if (!parsed.success) {
      log("error", "job message malformed, dropped", {
        message_id: message.id,
        issues: parsed.error.issues.map((i) => i.message),
        body: String(JSON.stringify(message.body)).slice(0, 200),
      });
      message.ack();
      continue;
    }
    const job = parsed.data;
    const fields = { job: job.kind, session_id: job.session_id, at: job.at, attempts: message.attempts };
    try {
      const result = await runJob(env, job);
      message.ack();
      log("info", "job done", { ...fields, ...result });
    } catch (error) {
      const delaySeconds = retryDelaySeconds(env, message.attempts);
      message.retry({ delaySeconds });
      if (error instanceof SessionMoving) {
        log("info", "job waits for the session's move, retrying later", { ...fields, retry_in_seconds: delaySeconds });
        continue;
      }
      const last = message.attempts > JOB_MAX_RETRIES;
      log("error", last ? "job failed, giving up (to the dead-letter queue)" : "job failed, retrying", {
        ...fields,
        ...(last ? {} : { retry_in_seconds: delaySeconds }),
        error: String(error),
      });
    }
  }
}

/**
 * The dead-letter consumer: one error line per message that failed every delivery, then acked.
 * The next cron run sends the job again if the session is still due.
 */
async function consumeDeadJobs(batch: MessageBatch<unknown>): Promise<void> {
  for (const message of batch.messages) {
    log("error", "job dead-lettered", { message_id: message.id, body: message.body });
    message.ack();
  }
}

/** The `queue` handler: the JOBS queue or its dead-letter queue. */
export async function handleQueue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  if (batch.queue === JOBS_DEAD_LETTER_QUEUE) await consumeDeadJobs(batch);
  else await consumeJobs(batch, env);
}
