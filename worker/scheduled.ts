import { lt } from "drizzle-orm";
import { runBackups } from "./backup/backup";
import { getDb } from "./db/client";
import { loginSessions } from "./db/schema";

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
