/**
 * Moving a session from one shard to another (docs/architecture.md "Moving a session").
 *
 * The session's object runs the move, as the session's only writer: it freezes its writes (503
 * `unavailable`, `details.reason: "moving"`, which clients retry with the same op ids), waits until
 * its write log is in D1, copies every per-session table (worker/db/session-tables.ts) to the
 * target in bounded batches after deleting whatever the target held of the session, verifies each
 * table's row count and SHA-256 on both sides, then flips its own shard and the directory entry
 * and unfreezes. Any failure before the flip deletes the partial copy and leaves the session
 * where it was. The old copy stays until `MOVE_CLEANUP_DELAY_MS` later (the object's alarm):
 * isolates that cached the old directory entry may still read it until then.
 */

import { and, eq } from "drizzle-orm";
import { type Failure, fail } from "../../domain/errors";
import { MAX_BOUND_PARAMS, nowIso } from "../db/client";
import { sessionDirectory } from "../db/schema";
import { SESSION_TABLES, type SessionTable } from "../db/session-tables";
import { configuredShards, DIRECTORY, DIRECTORY_CACHE_MS, directoryDb, forgetShard, shardD1 } from "../db/shards";
import { logError } from "../lib/log";

/** Rows read from the source per query, and so written to the target per D1 batch. */
export const MOVE_PAGE_ROWS = 200;
/** Rows deleted per statement when a copy is removed. */
const DELETE_ROWS = 500;
/** After the flip, how long the old copy is kept for isolates that still trust their cached entry. */
export const MOVE_CLEANUP_DELAY_MS = 2 * DIRECTORY_CACHE_MS;
/** How long a writer refused during a move is asked to wait. */
export const MOVING_RETRY_MS = 1000;

export interface TableCopy {
  rows: number;
  sha256: string;
}

export interface MoveReport {
  ok: true;
  session_id: string;
  from: string;
  to: string;
  region: string;
  moved_at: string;
  /** Rows per table on the target, each verified against the source. */
  rows: Record<string, number>;
  tables: Record<string, TableCopy>;
  /** SHA-256 over every table's name, row count and SHA-256, in SESSION_TABLES order. */
  checksum: string;
}

export type MoveResult = MoveReport | Failure;

/** What a writer is told while its session is being moved: nothing was changed, retry soon. */
export function movingFailure(): Failure {
  return fail("unavailable", "the session is moving to another database: nothing was changed, retry shortly with the same op ids", {
    reason: "moving",
    retry_after_ms: MOVING_RETRY_MS,
  });
}

/** An incremental SHA-256 (workerd's DigestStream): lines in, hex out. */
class Sha256 {
  readonly #stream = new crypto.DigestStream("SHA-256");
  readonly #writer = this.#stream.getWriter();
  readonly #encoder = new TextEncoder();

  async update(text: string): Promise<void> {
    await this.#writer.write(this.#encoder.encode(text));
  }

  async hex(): Promise<string> {
    await this.#writer.close();
    return [...new Uint8Array(await this.#stream.digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  }
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** The session's rows of a table, ordered by primary key, page by page. */
async function* pages(d1: D1Database, table: SessionTable, sessionId: string): AsyncGenerator<Record<string, unknown>[]> {
  const order = table.primaryKey.map(quote).join(", ");
  const query = `SELECT * FROM ${quote(table.name)} WHERE ${quote(table.sessionColumn)} = ? ORDER BY ${order} LIMIT ? OFFSET ?`;
  for (let offset = 0; ; offset += MOVE_PAGE_ROWS) {
    const { results } = await d1.prepare(query).bind(sessionId, MOVE_PAGE_ROWS, offset).all<Record<string, unknown>>();
    if (results.length > 0) yield results;
    if (results.length < MOVE_PAGE_ROWS) return;
  }
}

/**
 * A table's rows of the session: how many and their SHA-256 (the column names, then each row's
 * values as a JSON array, one line each, in primary-key order). The same on both sides of a
 * correct copy.
 */
export async function digestTable(d1: D1Database, table: SessionTable, sessionId: string): Promise<TableCopy> {
  const hash = new Sha256();
  let rows = 0;
  let header = false;
  for await (const page of pages(d1, table, sessionId)) {
    let text = "";
    for (const row of page) {
      if (!header) {
        text += `${JSON.stringify(Object.keys(row))}\n`;
        header = true;
      }
      text += `${JSON.stringify(Object.values(row))}\n`;
      rows += 1;
    }
    await hash.update(text);
  }
  return { rows, sha256: await hash.hex() };
}

/** Every per-session table's digest on one database. */
export async function digestSession(d1: D1Database, sessionId: string): Promise<Record<string, TableCopy>> {
  const out: Record<string, TableCopy> = {};
  for (const table of SESSION_TABLES) out[table.name] = await digestTable(d1, table, sessionId);
  return out;
}

/** The checksum of a whole copy: every table's name, rows and SHA-256, in SESSION_TABLES order. */
export async function sessionChecksum(tables: Record<string, TableCopy>): Promise<string> {
  const hash = new Sha256();
  for (const t of SESSION_TABLES) await hash.update(`${t.name} ${tables[t.name]?.rows ?? 0} ${tables[t.name]?.sha256 ?? ""}\n`);
  return hash.hex();
}

/** Deletes every row of the session from one database's per-session tables, in bounded statements. */
export async function deleteSessionRows(d1: D1Database, sessionId: string): Promise<number> {
  let deleted = 0;
  for (const table of [...SESSION_TABLES].reverse()) {
    const statement = d1.prepare(
      `DELETE FROM ${quote(table.name)} WHERE rowid IN (SELECT rowid FROM ${quote(table.name)} WHERE ${quote(table.sessionColumn)} = ? LIMIT ${DELETE_ROWS})`,
    );
    for (;;) {
      const result = await statement.bind(sessionId).run();
      deleted += result.meta.changes;
      if (result.meta.changes < DELETE_ROWS) break;
    }
  }
  return deleted;
}

/** Copies every per-session table's rows of the session from `source` to `target` (which holds none of them). */
export async function copySessionRows(source: D1Database, target: D1Database, sessionId: string): Promise<void> {
  for (const table of SESSION_TABLES) {
    for await (const page of pages(source, table, sessionId)) {
      const columns = Object.keys(page[0] ?? {});
      const perStatement = Math.max(1, Math.floor(MAX_BOUND_PARAMS / columns.length));
      const statements: D1PreparedStatement[] = [];
      for (let i = 0; i < page.length; i += perStatement) {
        const part = page.slice(i, i + perStatement);
        const row = `(${columns.map(() => "?").join(", ")})`;
        const query = `INSERT INTO ${quote(table.name)} (${columns.map(quote).join(", ")}) VALUES ${part.map(() => row).join(", ")}`;
        statements.push(target.prepare(query).bind(...part.flatMap((r) => columns.map((c) => r[c] ?? null))));
      }
      await target.batch(statements);
    }
  }
}

/** What the move needs of the session's object. */
export interface MoveHost {
  env: Env;
  /** The object's shard now. */
  shard(): string | undefined;
  setShard(name: string): void;
  isMoving(): boolean;
  /** Freezes (true) or unfreezes the object's writes. */
  freeze(on: boolean): void;
  /** Runs `work` in the object's write queue, after every write admitted before it. */
  serial<T>(work: () => Promise<T>): Promise<T>;
  /** Waits (bounded) until the write log and the buffered acks and activity are in D1; whether they are. */
  settle(): Promise<boolean>;
  /** Awaited once the writes settled, before the copy (tests hold a move there). */
  paused(): Promise<void>;
  /**
   * Records (durably, in the object) that the flip is under way, or (null) that it is done: an
   * object stopped between the directory's flip and its own follows the directory when it wakes.
   */
  markFlip(flip: { from: string; to: string } | null): void;
  /** Called right after the flip: caches holding the old shard are dropped. */
  flipped(): void;
  /** Remembers to delete the session's rows on `shard` at `at` (the object's alarm). */
  scheduleCleanup(shard: string, at: number): Promise<void>;
  /** Forgets a cleanup planned for `shard` (the session moves back to it). */
  cancelCleanup(shard: string): void;
}

/**
 * Moves the session to `target` (checked as a shard by the caller). Failures are values: 409 when
 * it is already there or a move is running, 503 when its writes could not be settled or the copy
 * failed (the session stays where it was, writable).
 */
export async function moveSession(host: MoveHost, sessionId: string, target: string): Promise<MoveResult> {
  const from = host.shard();
  if (from === undefined) return fail("not_found", "no such session");
  if (host.isMoving()) return fail("conflict", "a move of this session is in progress", { reason: "moving" });
  if (from === target) return fail("conflict", `the session is already on ${target}`, { shard: target });
  const region = target === DIRECTORY ? "" : (configuredShards(host.env).find((s) => s.name === target)?.region ?? "");
  const directory = directoryDb(host.env);
  const here = and(eq(sessionDirectory.session_id, sessionId), eq(sessionDirectory.shard, from));
  host.freeze(true);
  try {
    // The object is the only mover of its session: a "moving" left by a move that died is taken over.
    const marked = await directory
      .update(sessionDirectory)
      .set({ state: "moving" })
      .where(here)
      .returning({ id: sessionDirectory.session_id });
    if (marked.length === 0) return fail("conflict", "the session directory does not list the session where its object keeps it");
    const result = await host.serial(() => copyAndFlip(host, sessionId, from, target, region));
    if (!result.ok) {
      await directory
        .update(sessionDirectory)
        .set({ state: "active" })
        .where(here)
        .catch((error) => logError("a failed move could not mark its session active again", error));
    }
    return result;
  } finally {
    host.freeze(false);
  }
}

async function copyAndFlip(host: MoveHost, sessionId: string, from: string, to: string, region: string): Promise<MoveResult> {
  if (!(await host.settle())) {
    return fail("unavailable", "the session's writes have not all reached its database: nothing was moved, retry later", {
      reason: "not_settled",
      retry_after_ms: 2000,
    });
  }
  await host.paused();
  const source = shardD1(host.env, from);
  const target = shardD1(host.env, to);
  let tables: Record<string, TableCopy>;
  try {
    host.cancelCleanup(to);
    await deleteSessionRows(target, sessionId);
    await copySessionRows(source, target, sessionId);
    // Computed the same way on both sides, after the copy: a row written to the source meanwhile
    // by anything but this object shows up as a difference.
    const [before, after] = [await digestSession(source, sessionId), await digestSession(target, sessionId)];
    const differ = Object.keys(before).filter((t) => before[t]?.rows !== after[t]?.rows || before[t]?.sha256 !== after[t]?.sha256);
    if (differ.length > 0) throw new CopyMismatch(differ);
    tables = after;
  } catch (error) {
    logError("moving a session failed: its copy is removed", { sessionId, from, to, error: String(error) });
    await deleteSessionRows(target, sessionId).catch((e) => logError("removing a failed copy failed", e));
    return fail("unavailable", "copying the session failed: nothing was moved, retry later", {
      reason: error instanceof CopyMismatch ? "checksum_mismatch" : "copy_failed",
      ...(error instanceof CopyMismatch ? { tables: error.tables } : {}),
      retry_after_ms: 2000,
    });
  }
  // The flip: the directory first (conditional on still pointing at the source), then the object.
  const movedAt = nowIso();
  const directory = directoryDb(host.env);
  let flipped: { id: string }[];
  host.markFlip({ from, to });
  try {
    flipped = await directory
      .update(sessionDirectory)
      .set({ shard: to, region, state: "active", moved_at: movedAt })
      .where(and(eq(sessionDirectory.session_id, sessionId), eq(sessionDirectory.shard, from)))
      .returning({ id: sessionDirectory.session_id });
  } catch (error) {
    flipped = [];
    logError("flipping a moved session's directory entry failed", error);
  }
  if (flipped.length === 0) {
    host.markFlip(null);
    await deleteSessionRows(target, sessionId).catch((e) => logError("removing a failed copy failed", e));
    return fail("unavailable", "the session directory could not be updated: nothing was moved, retry later", {
      reason: "directory_failed",
      retry_after_ms: 2000,
    });
  }
  host.setShard(to);
  host.markFlip(null);
  forgetShard(sessionId);
  host.flipped();
  await host.scheduleCleanup(from, Date.now() + MOVE_CLEANUP_DELAY_MS);
  return {
    ok: true,
    session_id: sessionId,
    from,
    to,
    region,
    moved_at: movedAt,
    rows: Object.fromEntries(Object.entries(tables).map(([name, t]) => [name, t.rows])),
    tables,
    checksum: await sessionChecksum(tables),
  };
}

class CopyMismatch extends Error {
  constructor(readonly tables: string[]) {
    super(`the copy differs from the source in ${tables.join(", ")}`);
    this.name = "CopyMismatch";
  }
}

// ---- cleanup ------------------------------------------------------------------------------------

/** Old copies waiting for their cleanup, kept in the object's storage: shard → when. */
export type CleanupPlan = Record<string, number>;

/**
 * Deletes the session's rows from each old shard whose time has come, only when neither the
 * directory nor the object points there any more. Returns the plan left (a failed or early one stays).
 */
export async function runCleanups(
  env: Env,
  sessionId: string,
  current: string | undefined,
  plan: CleanupPlan,
  now: number,
): Promise<CleanupPlan> {
  const left: CleanupPlan = {};
  for (const [shard, at] of Object.entries(plan)) {
    if (at > now) {
      left[shard] = at;
      continue;
    }
    if (shard === current) continue;
    try {
      const entry = await directoryDb(env)
        .select({ shard: sessionDirectory.shard })
        .from(sessionDirectory)
        .where(eq(sessionDirectory.session_id, sessionId))
        .get();
      if (!entry || entry.shard === shard) continue;
      await deleteSessionRows(shardD1(env, shard), sessionId);
    } catch (error) {
      logError("removing a moved session's old copy failed: retried later", { sessionId, shard, error: String(error) });
      left[shard] = now + DIRECTORY_CACHE_MS;
    }
  }
  return left;
}
