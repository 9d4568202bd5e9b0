/**
 * The session object's write log (worker/session/write-behind.ts) as tests reach it: run code
 * inside the object with its log, make D1 refuse the log's commits, and let it answer again.
 */
import { env, runInDurableObject } from "cloudflare:test";
import type { SessionObject } from "../../worker/session/session-object";
import type { WriteBehind } from "../../worker/session/write-behind";
import { create, newTable, seqOf } from "./client";
import { shardOf } from "./shards";
import type { TestSocket } from "./socket";

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

/** The seq D1 holds for a session (what has landed behind the log), -1 for none. */
export async function d1Seq(sid: string): Promise<number> {
  const row = await (await shardOf(sid)).prepare("SELECT seq FROM game_sessions WHERE id = ?").bind(sid).first<{ seq: number }>();
  return row?.seq ?? -1;
}

/**
 * The texts the sockets were sent of the logged changes are lost (as when the object stopped
 * between logging a batch and broadcasting it): only D1, once it holds the log, answers a read past it.
 */
export const forgetSentTexts = (sid: string) =>
  runInDurableObject(sessionStub(sid), (_object: SessionObject, state) => {
    state.storage.sql.exec("DELETE FROM sent_changes");
  });

/** The messages a socket got since index `from`, of the kinds a replay and the live stream send. */
export const streamed = (socket: TestSocket, from: number) =>
  socket.messages.slice(from).filter((m) => m.type === "change" || m.type === "resumed" || m.type === "reload");

/** A session with one token, "Hero" (version 1), and the seq after it. */
export async function heroTable() {
  const table = await newTable();
  const token = await create(table.gm, table.base, "tokens", { name: "Hero" });
  return { ...table, token, before: await seqOf(table.gm, table.base) };
}
