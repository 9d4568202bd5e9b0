/**
 * What a writer is told when D1 lags behind the session's write log (write-behind.ts): 503
 * `unavailable`, with `details.reason` saying whether its change was kept.
 */
import { type Failure, fail } from "../../domain/errors";
import type { WriteBehind } from "./write-behind";

/** Batches a session may hold logged but not yet in D1 before it refuses writes (wrangler.toml WRITE_BACKLOG_MAX). */
export const DEFAULT_BACKLOG_MAX = 256;

export function backlogLimit(env: Env): number {
  const n = Number(env.WRITE_BACKLOG_MAX);
  return Number.isInteger(n) && n > 0 ? n : DEFAULT_BACKLOG_MAX;
}

/** Thrown while planning when a read D1 must answer waits too long for D1 to catch up: nothing was logged. */
export class D1Behind extends Error {
  constructor() {
    super("D1 did not catch up with the session's write log in time");
    this.name = "D1Behind";
  }
}

/** How long a client is asked to wait before retrying. */
const RETRY_AFTER_MS = 2000;

/**
 * D1 did not confirm in time. `logged`: the write was applied (broadcast, in the session's log)
 * and will reach D1; resending the same op ids answers it as a replay. Otherwise nothing was applied.
 */
export function notYetInD1(logged: boolean): Failure {
  return logged
    ? fail("unavailable", "the change is saved by the session but the database has not confirmed it yet: retry with the same op ids", {
        reason: "not_yet_durable",
        retry_after_ms: RETRY_AFTER_MS,
      })
    : fail("unavailable", "the database is not answering: nothing was changed, retry later", {
        reason: "database_unavailable",
        retry_after_ms: RETRY_AFTER_MS,
      });
}

/** Too much is logged and not yet in D1: the session takes no more writes until D1 catches up. */
export function tooMuchBacklog(log: WriteBehind): Failure {
  return fail("unavailable", "the session's database is behind: nothing was changed, retry later", {
    reason: "backlog",
    backlog: log.size,
    retry_after_ms: Math.max(RETRY_AFTER_MS, log.retryAt - Date.now()),
  });
}
