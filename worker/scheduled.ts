import { lt } from "drizzle-orm";
import { mirrorAssets } from "./assets/gc";
import { loginSessions } from "./db/schema";
import { allDatabases, directoryDb } from "./db/shards";
import { dueJobs, enqueueJobs, JOB_KINDS, type JobMessage, runJob, sessionsOn } from "./jobs/queue";
import { pruneGlobal } from "./jobs/retention";

/**
 * Jobs of no one session, run by the cron itself: each is one bounded statement or a bounded
 * batch. One failing does not stop the others.
 */
const globalJobs: Record<string, (env: Env, at: Date) => Promise<void>> = {
  /** Expired cookie logins are useless and only grow the table. */
  async purgeExpiredLogins(env, at) {
    await directoryDb(env).delete(loginSessions).where(lt(loginSessions.expires_at, at.toISOString()));
  },
  /** Login failures, rate windows and retired metrics past their rules (worker/jobs/retention.ts). */
  async pruneGlobal(env, at) {
    const counts = await pruneGlobal(env, at);
    if (Object.values(counts).some((n) => n > 0)) console.log(JSON.stringify({ level: "info", msg: "storage pruned", ...counts }));
  },
  /** Copies up to 50 new assets to the ASSETS_MIRROR bucket when one is bound: by R2 key, of no one session. */
  async assetMirror(env) {
    const copied = await mirrorAssets(env);
    if (copied > 0) console.log(JSON.stringify({ level: "info", msg: "asset mirror", copied }));
  },
};

async function runGlobalJobs(env: Env, at: Date): Promise<void> {
  for (const [name, job] of Object.entries(globalJobs)) {
    try {
      await job(env, at);
    } catch (error) {
      console.error(JSON.stringify({ level: "error", msg: "scheduled job failed", job: name, error: String(error) }));
    }
  }
}

/**
 * The cron trigger (hourly): the global jobs above, then one message per due (session, job kind)
 * on the JOBS queue, whose consumer does the work (worker/jobs/queue.ts). What is due is found
 * database by database: each shard lists its own sessions.
 */
export async function runScheduled(env: Env, scheduledTime: number): Promise<void> {
  const at = new Date(scheduledTime);
  await runGlobalJobs(env, at);
  try {
    const due = await dueJobs(env, at);
    await enqueueJobs(env.JOBS, due);
    const perKind = Object.fromEntries(JOB_KINDS.map((kind) => [kind, due.filter((m) => m.kind === kind).length]));
    console.log(JSON.stringify({ level: "info", msg: "jobs enqueued", at: at.toISOString(), ...perKind }));
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "scheduled job failed", job: "enqueue", error: String(error) }));
  }
}

/**
 * Every job of every session at `at`, here and now, without the queue (POST /api/bench/scheduled
 * only, which measures what maintenance leaves behind): the global jobs, then each session's jobs
 * in the order their effects build on (a backup before the compaction it allows, the compaction
 * before the retention that follows its floor).
 */
export async function runAllJobsNow(env: Env, scheduledTime: number): Promise<void> {
  const at = new Date(scheduledTime);
  await runGlobalJobs(env, at);
  // Every session, database by database (each job then reads its session's shard).
  const results: { id: string }[] = [];
  for (const { name, d1 } of allDatabases(env)) results.push(...(await sessionsOn(env, name, d1)).map((id) => ({ id })));
  for (const kind of ["backup", "assets", "integrity", "compact", "retention"] as const) {
    for (const { id } of results) {
      const job: JobMessage = { kind, session_id: id, at: at.toISOString() };
      try {
        await runJob(env, job);
      } catch (error) {
        console.error(JSON.stringify({ level: "error", msg: "job failed", job: kind, session_id: id, error: String(error) }));
      }
    }
  }
}
