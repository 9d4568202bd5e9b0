import { lt } from "drizzle-orm";
import { collectAssetGarbage, mirrorAssets } from "./assets/gc";
import { runBackups } from "./backup/backup";
import { getDb } from "./db/client";
import { loginSessions } from "./db/schema";
import { compactChangeLogs } from "./jobs/compact-log";
import { integrityJob } from "./jobs/integrity";
import { pruneStorage } from "./jobs/retention";

/** Jobs run by the cron trigger. Each is independent; one failing does not stop the others. */
const jobs: Record<string, (env: Env, at: Date) => Promise<void>> = {
  /** Expired cookie logins are useless and only grow the table. */
  async purgeExpiredLogins(env, at) {
    await getDb(env.DB).delete(loginSessions).where(lt(loginSessions.expires_at, at.toISOString()));
  },
  /** Nightly full snapshots, hourly change-log increments, 7 days kept (worker/backup). */
  async backups(env, at) {
    const counts = await runBackups(env, at);
    console.log(JSON.stringify({ level: "info", msg: "backups", ...counts }));
  },
  /** Assets unreferenced past ASSET_RETENTION_DAYS leave the manifest, then R2 (worker/assets/gc.ts). */
  async assetCleanup(env, at) {
    const report = await collectAssetGarbage(env, at);
    console.log(JSON.stringify({ level: "info", msg: "asset cleanup", ...report }));
  },
  /** Copies new assets to the ASSETS_MIRROR bucket when one is bound. */
  async assetMirror(env) {
    const copied = await mirrorAssets(env);
    if (copied > 0) console.log(JSON.stringify({ level: "info", msg: "asset mirror", copied }));
  },
  /** Each session about once a day: dangling references, missing or corrupt assets, recorded (worker/jobs/integrity.ts). */
  integrity: integrityJob,
  /** Change-log retention: rows past each session's window (its `retention_days`, else the deployment's) and already backed up fold into baselines (worker/jobs/compact-log.ts). */
  async compactChangeLogs(env, at) {
    const counts = await compactChangeLogs(env, at);
    if (counts.rows > 0) console.log(JSON.stringify({ level: "info", msg: "change log compacted", ...counts }));
  },
  /** Bounded storage: acks, idempotency records, clients, timeline, findings and counters past their rules (worker/jobs/retention.ts); after compaction, which moves the floor some rules follow. */
  async pruneStorage(env, at) {
    const counts = await pruneStorage(env, at);
    if (Object.values(counts).some((n) => n > 0)) console.log(JSON.stringify({ level: "info", msg: "storage pruned", ...counts }));
  },
};

export async function runScheduled(env: Env, scheduledTime: number): Promise<void> {
  const at = new Date(scheduledTime);
  for (const [name, job] of Object.entries(jobs)) {
    try {
      await job(env, at);
    } catch (error) {
      console.error(JSON.stringify({ level: "error", msg: "scheduled job failed", job: name, error: String(error) }));
    }
  }
}
