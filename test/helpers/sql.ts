/** Raw SQL on the test databases, for tests that age, break or inspect rows the API never exposes. */
import { env } from "cloudflare:test";
import { shardOf } from "./shards";

/** Runs one statement with its parameters on the shard of session `sid`. */
export async function exec(sid: string, query: string, ...params: unknown[]): Promise<void> {
  await (await shardOf(sid))
    .prepare(query)
    .bind(...params)
    .run();
}

/** The first row of a query on the shard of session `sid`, or null. */
export async function one<T>(sid: string, query: string, ...params: unknown[]): Promise<T | null> {
  return (await shardOf(sid))
    .prepare(query)
    .bind(...params)
    .first<T>();
}

/** The first row of a query on the directory database, or null. */
export async function directoryOne<T>(query: string, ...params: unknown[]): Promise<T | null> {
  return env.DB.prepare(query)
    .bind(...params)
    .first<T>();
}
