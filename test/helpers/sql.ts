/** Raw SQL on the test database, for tests that age, break or inspect rows the API never exposes. */
import { env } from "cloudflare:test";

/** Runs one statement with its parameters. */
export async function exec(query: string, ...params: unknown[]): Promise<void> {
  await env.DB.prepare(query)
    .bind(...params)
    .run();
}

/** The first row of a query, or null. */
export async function one<T>(query: string, ...params: unknown[]): Promise<T | null> {
  return env.DB.prepare(query)
    .bind(...params)
    .first<T>();
}
