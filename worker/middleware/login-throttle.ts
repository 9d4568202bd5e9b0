/**
 * The back-off of failed logins per username (domain/accounts.ts LOGIN_BACKOFF), counted in the directory database
 * (`login_failures`): one count for the username wherever the attempts come from, which a
 * per-location counter could not give. It holds in every environment. Unknown usernames are
 * counted like known ones, so the answers reveal nothing about which names exist.
 */
import { eq, sql } from "drizzle-orm";
import { LOGIN_BACKOFF, loginLockSeconds } from "../../domain/accounts";
import { ApiError } from "../api-error";
import { loginFailures } from "../db/schema";
import { directoryDb } from "../db/shards";

function key(username: string): string {
  return username.toLowerCase().slice(0, 64);
}

/** Throws 429 with Retry-After while `username` is refused after failed logins. */
export async function assertLoginAllowed(env: Env, username: string, nowMs = Date.now()): Promise<void> {
  const row = await directoryDb(env)
    .select({ locked_until: loginFailures.locked_until })
    .from(loginFailures)
    .where(eq(loginFailures.username, key(username)))
    .get();
  if (row && row.locked_until > nowMs) {
    const retryAfter = Math.max(1, Math.ceil((row.locked_until - nowMs) / 1000));
    throw new ApiError(
      "rate_limited",
      `too many failed logins for this username: retry in ${retryAfter} s`,
      { retry_after_ms: row.locked_until - nowMs },
      { "Retry-After": String(retryAfter) },
    );
  }
}

/**
 * Counts one failed login of `username` and returns the seconds it is now refused (0: not yet).
 * `locked_until` doubles as the time of the last failure when there is no lock.
 */
export async function recordLoginFailure(env: Env, username: string, nowMs = Date.now()): Promise<number> {
  const db = directoryDb(env);
  const forgetBefore = nowMs - LOGIN_BACKOFF.forget_after_seconds * 1000;
  const row = await db.get<{ failures: number }>(sql`
    INSERT INTO login_failures (username, failures, locked_until) VALUES (${key(username)}, 1, ${nowMs})
    ON CONFLICT (username) DO UPDATE SET
      failures = CASE WHEN locked_until < ${forgetBefore} THEN 1 ELSE failures + 1 END,
      locked_until = max(locked_until, excluded.locked_until)
    RETURNING failures`);
  const seconds = loginLockSeconds(row?.failures ?? 1);
  if (seconds > 0) {
    await db
      .update(loginFailures)
      .set({ locked_until: sql`max(${loginFailures.locked_until}, ${nowMs + seconds * 1000})` })
      .where(eq(loginFailures.username, key(username)));
  }
  return seconds;
}

/** A successful login starts the count afresh. */
export async function clearLoginFailures(env: Env, username: string): Promise<void> {
  await directoryDb(env)
    .delete(loginFailures)
    .where(eq(loginFailures.username, key(username)));
}
