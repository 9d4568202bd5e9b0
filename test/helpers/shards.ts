/**
 * Where a test session's rows are: its shard, as the session directory says (worker/db/shards.ts).
 * Per-session tables (entities, change_log, applied_ops, assets, game_sessions, ...) are read on
 * the session's shard; users, logins, tokens, memberships and counters on the directory (env.DB).
 */
import { env } from "cloudflare:test";
import { configuredShards, type Region } from "../../worker/db/shards";

/** The binding name of the shard holding the session (DB_SHARD_1, DB_SHARD_2, ...). */
export async function shardNameOf(sid: string): Promise<string> {
  const row = await env.DB.prepare("SELECT shard FROM session_directory WHERE session_id = ?").bind(sid).first<{ shard: string }>();
  if (!row) throw new Error(`the session directory has no session ${sid}`);
  return row.shard;
}

/** The D1 database holding the session's rows. */
export async function shardOf(sid: string): Promise<D1Database> {
  return shardByName(await shardNameOf(sid));
}

export function shardByName(name: string): D1Database {
  const db = (env as unknown as Record<string, unknown>)[name];
  if (typeof db !== "object" || db === null) throw new Error(`no database bound as ${name}`);
  return db as D1Database;
}

/** The configured session shards' binding names, in wrangler.toml's order. */
export function shardNames(): string[] {
  return configuredShards(env).map((s) => s.name);
}

/** A request origin (`request.cf`) whose nearest region is `region` (regionsNear in worker/db/shards.ts). */
export const ORIGINS: Record<Region, { continent: string; longitude: string }> = {
  wnam: { continent: "NA", longitude: "-122.4" },
  enam: { continent: "NA", longitude: "-74.0" },
  weur: { continent: "EU", longitude: "2.35" },
  eeur: { continent: "EU", longitude: "30.5" },
  apac: { continent: "AS", longitude: "139.7" },
  oc: { continent: "OC", longitude: "151.2" },
};

/** Where a request must come from for placement to pick `shard` (its region as SHARDS names it). */
export function originOf(shard: string): { continent: string; longitude: string } {
  const region = configuredShards(env).find((s) => s.name === shard)?.region;
  const origin = region ? ORIGINS[region] : undefined;
  if (!origin) throw new Error(`no origin places a session on ${shard} (region ${region ?? "none"})`);
  return origin;
}
