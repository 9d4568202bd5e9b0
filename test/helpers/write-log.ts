/**
 * The session object's write log (worker/session/write-behind.ts) as tests reach it: run code
 * inside the object with its log, make D1 refuse the log's commits, and let it answer again.
 */
import { env, runInDurableObject } from "cloudflare:test";
import type { SessionObject } from "../../worker/session/session-object";
import type { WriteBehind } from "../../worker/session/write-behind";

export const sessionStub = (sid: string) => env.SESSION.get(env.SESSION.idFromName(sid));

/** Runs `fn` with the session object's write log (inside the object). */
export function withLog<T>(sid: string, fn: (log: WriteBehind, object: SessionObject) => T | Promise<T>): Promise<T> {
  return runInDurableObject(sessionStub(sid), (object: SessionObject) => fn(object.writeLog, object));
}

/** D1 refuses every commit of the session's flusher until `recover`. */
export const failD1 = (sid: string) => withLog(sid, (log) => log.failNextCommits(1_000_000));

/** D1 answers again: the flusher tries at once. Returns what is still logged. */
export const recover = (sid: string) =>
  withLog(sid, async (log) => {
    log.failNextCommits(0);
    await log.retry();
    return log.size;
  });
