/**
 * The data plane: one directory database and N session shards (docs/architecture.md "Shards").
 *
 * The directory (binding `DB`) holds what is per user or spans sessions: users, logins, API tokens,
 * login throttles and rate windows, memberships (`session_members`, the access list every request
 * is admitted by), the service's counters, and `session_directory`: session id → shard, region,
 * state, name and invite code. A shard (a binding `DB_SHARD_*` listed in the `SHARDS` var with its
 * region) holds every per-session table: the session's head (`game_sessions`: seq, log floor,
 * settings), entities, change log, applied ops, assets, clients, acknowledgements, integrity runs,
 * import results. Sessions from before shards existed live on shard "DB", the directory database
 * itself, until moved.
 *
 * A session's shard is resolved through the directory and cached in the isolate (admission primes
 * the cache with the same query that checks membership). The session's Durable Object keeps its own
 * shard in its storage: it is the only writer, and a move flips it there first.
 */
import { eq, sql } from "drizzle-orm";
import { type Db, getDb } from "./client";
import { sessionDirectory } from "./schema";

/** The directory database, also the legacy shard of sessions created before sharding. */
export const DIRECTORY = "DB";

/** Regions are D1 location hints; Durable Objects take the same names as `locationHint`. */
export const REGIONS = ["wnam", "enam", "weur", "eeur", "apac", "oc"] as const;
export type Region = (typeof REGIONS)[number];

export interface ShardInfo {
  /** The D1 binding's name: `DB_SHARD_1`, or `DB` for the directory database. */
  name: string;
  /** Where the database's primary lives ("" when not stated). */
  region: Region | "";
}

const SHARD_NAME = /^DB_SHARD_[A-Z0-9_]{1,32}$/;

/**
 * The shards that take new sessions, from the `SHARDS` var (`{ DB_SHARD_1 = "weur", ... }` in
 * wrangler.toml, or the same as a JSON string). A name that is not `DB_SHARD_*`, has no D1 binding
 * or names an unknown region is a configuration error: thrown, never skipped quietly.
 */
export function configuredShards(env: Env): ShardInfo[] {
  const cached = parsed.get(env.SHARDS);
  if (cached) return cached;
  const raw: unknown = typeof env.SHARDS === "string" ? JSON.parse(env.SHARDS) : env.SHARDS;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error("SHARDS must map shard bindings to regions");
  const shards: ShardInfo[] = [];
  for (const [name, region] of Object.entries(raw)) {
    if (!SHARD_NAME.test(name)) throw new Error(`SHARDS: ${name} is not a DB_SHARD_* binding name`);
    if (!isD1(bindingOf(env, name))) throw new Error(`SHARDS: ${name} has no D1 binding in wrangler.toml`);
    if (region !== "" && !(REGIONS as readonly unknown[]).includes(region))
      throw new Error(`SHARDS: ${name} has an unknown region ${String(region)}`);
    shards.push({ name, region: region as Region | "" });
  }
  if (shards.length === 0) throw new Error("SHARDS lists no shard");
  parsed.set(env.SHARDS, shards);
  return shards;
}
/** Parsed configurations by the var's value (one per isolate in practice; tests pass others). */
const parsed = new Map<unknown, ShardInfo[]>();

function bindingOf(env: Env, name: string): unknown {
  return (env as unknown as Record<string, unknown>)[name];
}

function isD1(value: unknown): value is D1Database {
  return typeof value === "object" && value !== null && typeof (value as D1Database).prepare === "function";
}

/** Whether `name` is a database a session may live on: a configured shard, or the legacy `DB`. */
export function isShard(env: Env, name: string): boolean {
  return name === DIRECTORY || configuredShards(env).some((s) => s.name === name);
}

/** Every database of the service: the directory first, then each shard. */
export function allDatabases(env: Env): { name: string; region: Region | ""; d1: D1Database }[] {
  return [{ name: DIRECTORY, region: "" as const }, ...configuredShards(env)].map((s) => ({ ...s, d1: shardD1(env, s.name) }));
}

/** The D1 binding of a shard (or of the directory, `DB`). */
export function shardD1(env: Env, name: string): D1Database {
  const binding = bindingOf(env, name);
  if ((name !== DIRECTORY && !SHARD_NAME.test(name)) || !isD1(binding)) throw new Error(`no database bound as ${name}`);
  return binding;
}

export function shardDb(env: Env, name: string): Db {
  return getDb(shardD1(env, name));
}

export function directoryDb(env: Env): Db {
  return getDb(env.DB);
}

// ---- the directory cache --------------------------------------------------------------------

export interface DirectoryEntry {
  shard: string;
  region: string;
  state: "active" | "moving";
}

/**
 * How long an isolate trusts a cached entry. A move flips the entry in the directory and in the
 * session's object; isolates that cached the old one read the old shard at most this long, which
 * keeps its copy until the move's cleanup, later than this.
 */
export const DIRECTORY_CACHE_MS = 30_000;
const directoryCache = new Map<string, DirectoryEntry & { at: number }>();
const DIRECTORY_CACHE_MAX = 10_000;

/** Remembers where a session lives (admission read it in its own query). */
export function rememberShard(sessionId: string, entry: DirectoryEntry, now = Date.now()): void {
  if (directoryCache.size >= DIRECTORY_CACHE_MAX) {
    const oldest = directoryCache.keys().next().value;
    if (oldest !== undefined) directoryCache.delete(oldest);
  }
  directoryCache.delete(sessionId);
  directoryCache.set(sessionId, { ...entry, at: now });
}

/** Forgets a session's cached entry: the next lookup asks the directory. */
export function forgetShard(sessionId: string): void {
  directoryCache.delete(sessionId);
}

/** The cached entry of a session when it is fresh, without asking the directory. */
export function peekShard(sessionId: string, now = Date.now()): DirectoryEntry | undefined {
  const hit = directoryCache.get(sessionId);
  return hit && now - hit.at < DIRECTORY_CACHE_MS ? hit : undefined;
}

/** The directory's entry of a session (cached), or null when the directory has none. */
export async function lookupSession(env: Env, sessionId: string, now = Date.now()): Promise<DirectoryEntry | null> {
  const hit = peekShard(sessionId, now);
  if (hit) return hit;
  const row = await directoryDb(env)
    .select({ shard: sessionDirectory.shard, region: sessionDirectory.region, state: sessionDirectory.state })
    .from(sessionDirectory)
    .where(eq(sessionDirectory.session_id, sessionId))
    .get();
  if (!row) {
    forgetShard(sessionId);
    return null;
  }
  rememberShard(sessionId, row, now);
  return row;
}

/** The name of the shard holding a session; throws when the directory does not know the session. */
export async function shardNameOf(env: Env, sessionId: string): Promise<string> {
  const entry = await lookupSession(env, sessionId);
  if (!entry) throw new UnknownSession(sessionId);
  return entry.shard;
}

/** The session's shard as raw D1 (for `prepare`/`batch`). */
export async function sessionD1(env: Env, sessionId: string): Promise<D1Database> {
  return shardD1(env, await shardNameOf(env, sessionId));
}

/** The session's shard through drizzle. */
export async function sessionDb(env: Env, sessionId: string): Promise<Db> {
  return getDb(await sessionD1(env, sessionId));
}

/** A session's head on its shard: the last seq and the retained log's floor; null when the shard lacks it. */
export async function readHead(env: Env, shard: string, sessionId: string): Promise<{ seq: number; logFloor: number } | null> {
  return headIn(shardD1(env, shard), sessionId);
}

/** The head query itself, on a database or one of its read sessions (replicas.ts). */
export async function headIn(d1: Pick<D1Database, "prepare">, sessionId: string): Promise<{ seq: number; logFloor: number } | null> {
  const row = await d1
    .prepare("SELECT seq, log_floor FROM game_sessions WHERE id = ?")
    .bind(sessionId)
    .first<{ seq: number; log_floor: number }>();
  return row ? { seq: row.seq, logFloor: row.log_floor } : null;
}

export class UnknownSession extends Error {
  constructor(readonly sessionId: string) {
    super(`the session directory has no session ${sessionId}`);
    this.name = "UnknownSession";
  }
}

// ---- placement ------------------------------------------------------------------------------

/** What placement knows of the creating request (`request.cf`). */
export interface Origin {
  continent?: string;
  longitude?: string | number;
}

/** The regions nearest a request's origin, best first (Cloudflare's continent codes). */
export function regionsNear(origin: Origin): Region[] {
  const longitude = Number(origin.longitude);
  const east = (limit: number) => Number.isFinite(longitude) && longitude > limit;
  switch (origin.continent) {
    case "NA":
      return east(-100) ? ["enam", "wnam", "weur"] : ["wnam", "enam", "apac"];
    case "SA":
      return ["enam", "wnam", "weur"];
    case "EU":
      return east(20) ? ["eeur", "weur", "enam"] : ["weur", "eeur", "enam"];
    case "AF":
      return ["weur", "eeur", "enam"];
    case "AS":
      return east(60) ? ["apac", "oc", "eeur"] : ["eeur", "apac", "weur"];
    case "OC":
      return ["oc", "apac", "wnam"];
    default:
      return [];
  }
}

/**
 * The shard a new session goes to: among the configured shards of the nearest region that has one
 * (regionsNear), the one holding the fewest sessions; with no region known or no shard near, the
 * least loaded of all. Ties go to the first listed.
 */
export async function placeSession(env: Env, origin: Origin): Promise<ShardInfo> {
  const shards = configuredShards(env);
  let candidates = shards;
  for (const region of regionsNear(origin)) {
    const near = shards.filter((s) => s.region === region);
    if (near.length > 0) {
      candidates = near;
      break;
    }
  }
  if (candidates.length === 1) return candidates[0] as ShardInfo;
  const load = await sessionsPerShard(env);
  let best = candidates[0] as ShardInfo;
  for (const s of candidates) if ((load.get(s.name) ?? 0) < (load.get(best.name) ?? 0)) best = s;
  return best;
}

/** Sessions the directory lists on each shard. */
export async function sessionsPerShard(env: Env): Promise<Map<string, number>> {
  const rows = await directoryDb(env).all<{ shard: string; n: number }>(
    sql`SELECT shard, COUNT(*) AS n FROM session_directory GROUP BY shard`,
  );
  return new Map(rows.map((r) => [r.shard, r.n]));
}
