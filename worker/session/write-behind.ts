/**
 * Write-behind: a session's planned batches reach D1 through the object's own log.
 *
 * The object plans a batch on top of its in-memory state (domain/plan.ts), appends it here to a
 * table of its own SQLite storage (synchronous and local; the output gate holds every outgoing
 * message until the write is durable), broadcasts it, and answers the writer once D1 holds it.
 * One flusher moves the log to D1 strictly in order, whatever piled up (at most GROUP_MAX_ENTRIES
 * batches) as one atomic D1 batch, and trims the log behind it. Planning never waits for it.
 *
 * Exactly once: a D1 batch is all or nothing and carries the `UPDATE game_sessions SET seq` guard
 * and the `(session_id, seq)` key of `change_log`, so an entry can only land once. After a failed
 * commit or a restart (the log is read back in the constructor) the flusher first asks D1 which
 * of the oldest entries already landed (an answer lost on the way back, or a trim that did not
 * happen before the restart): their last applied op id stored at their seq means the whole batch
 * is there. Those are trimmed, the rest committed again. A commit that keeps failing is retried
 * with backoff by the object's alarm; nothing logged is dropped or reordered.
 *
 * One exception: D1 *refusing* a batch (a constraint: SQLITE_CONSTRAINT, checked one entry at a
 * time after the entry proved neither landed nor stale) will refuse it forever, and would block
 * the session for good. That entry and every one after it (planned on top of it) are dropped,
 * their writers get the error (500, as a refused commit always answered) and the object starts
 * again from what D1 holds (`onRejected`). Outages and timeouts are never taken for a refusal.
 */
import { and, eq, inArray } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { AppliedRecord, Change, Plan } from "../../domain/plan";
import { chunk, type Db, getDb } from "../db/client";
import { commitStatements } from "../db/commit";
import { newerBookmark } from "../db/replicas";
import { appliedOps, gameSessions } from "../db/schema";
import { logError } from "../lib/log";

/** Logged batches put in one D1 batch at most. */
export const GROUP_MAX_ENTRIES = 16;
/** ...and changes (a big import chunk still goes alone). */
const GROUP_MAX_CHANGES = 1000;
/** A log entry's text is stored in parts below the 2 MB value limit of the object's SQLite. */
const PART_CHARS = 1_000_000;
/** How long a writer waits for D1 before it is answered 503 (its batch stays logged and lands later). */
export const ANSWER_TIMEOUT_MS = 10_000;
/** First retry delay after a failed D1 commit; doubles up to RETRY_MAX_MS. */
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 30_000;
/** While anything is logged, the alarm wakes the object at least this often: an evicted object still flushes. */
export const SAFETY_ALARM_MS = 5_000;

/** A change as logged: what the D1 commit needs (no player view, which is for the broadcast). */
export type LoggedChange = Pick<
  Change,
  "seq" | "type" | "id" | "op" | "previous" | "entity" | "visibleBefore" | "visibleAfter" | "activation" | "coverOnly"
>;

export interface LogEntry {
  /** Row id in the log: entries land in this order. */
  id: number;
  previousSeq: number;
  lastSeq: number;
  now: string;
  changes: LoggedChange[];
  applied: AppliedRecord[];
  /** How far the entry's seqs were moved after it was logged (see `#reconcile`; not stored). */
  shift: number;
  /** Resolves when D1 holds the entry. */
  readonly landed: Promise<void>;
}

interface Pending extends LogEntry {
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface WriteBehindHost {
  db(): Db;
  /**
   * The shard's raw D1 binding: commits then run in a D1 session on the primary
   * (`withSession("first-primary")`) and each landed commit's bookmark is kept (`bookmark`).
   */
  d1?(): D1Database;
  sessionId(): string | undefined;
  /** Wakes the object at `at` (its alarm) to try again. */
  wakeAt(at: number): Promise<void>;
  /** D1 holds these entries now; `bookmark`: the newest bookmark of the shard's commits (when known). */
  onLanded(entries: readonly LogEntry[], bookmark: string | undefined): void;
  /** D1's seq moved past the log without the object (see `#reconcile`): the entries were renumbered by `delta`. */
  onRenumbered(delta: number): void;
  /** D1 refused the oldest entry: it and all later ones were dropped; the log is empty. */
  onRejected(dropped: readonly LogEntry[], error: unknown): void;
  /** D1 ran a commit: its results, one a statement, each with D1's `meta`, and its round trip (metrics/d1-usage.ts). */
  committed?(results: readonly unknown[], ms: number): void;
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } {
  let resolve: () => void = () => undefined;
  let reject: (error: unknown) => void = () => undefined;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A writer may have stopped waiting (answered 503 already): an unobserved rejection is fine.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** D1 refused the statements themselves (a constraint), as opposed to failing to run them. */
export function isRefusal(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (/SQLITE_CONSTRAINT/.test(e instanceof Error ? e.message : String(e))) return true;
  }
  return false;
}

export class WriteBehind {
  readonly #sql: SqlStorage;
  readonly #host: WriteBehindHost;
  readonly #queue: Pending[] = [];
  #running: Promise<void> | undefined;
  /** After a failed commit or a restart: ask D1 what landed before committing again. */
  #suspect = false;
  #failures = 0;
  /** A group was refused: commit one entry at a time until one lands. */
  #isolate = false;
  /** The oldest entry was checked against D1 (neither landed nor stale) since the last landing. */
  #checked = false;
  /** No flush before this (backoff); the alarm comes then. */
  #retryAt = 0;
  /** The newest D1 bookmark of the shard after a landed commit (kept in the object's storage). */
  #bookmark: string | undefined;

  // Knobs the tests turn (never over RPC: instance fields are not exposed).
  answerTimeoutMs = ANSWER_TIMEOUT_MS;
  /** Batches logged but not yet in D1 past which the object refuses writes (set from WRITE_BACKLOG_MAX). */
  backlogMax = Number.POSITIVE_INFINITY;
  retryBaseMs = RETRY_BASE_MS;
  /** D1 batches sent by the flusher (tests count them). */
  commits = 0;
  #failNext = 0;
  #failAfterLanding = false;

  constructor(sql: SqlStorage, host: WriteBehindHost) {
    this.#sql = sql;
    this.#host = host;
    sql.exec(`CREATE TABLE IF NOT EXISTS write_log (
      id INTEGER NOT NULL, part INTEGER NOT NULL, text TEXT NOT NULL, PRIMARY KEY (id, part))`);
    const byId = new Map<number, string[]>();
    for (const row of sql.exec<{ id: number; part: number; text: string }>("SELECT id, part, text FROM write_log ORDER BY id, part")) {
      byId.set(row.id, [...(byId.get(row.id) ?? []), row.text]);
    }
    for (const [id, parts] of byId) {
      const body = JSON.parse(parts.join("")) as Omit<LogEntry, "id" | "landed" | "shift">;
      this.#queue.push(this.#pending(id, body));
    }
    // Read back after a restart: some of it may be in D1 already.
    this.#suspect = this.#queue.length > 0;
    sql.exec("CREATE TABLE IF NOT EXISTS write_bookmark (id INTEGER PRIMARY KEY CHECK (id = 0), bookmark TEXT NOT NULL)");
    this.#bookmark = sql.exec<{ bookmark: string }>("SELECT bookmark FROM write_bookmark").toArray()[0]?.bookmark;
  }

  /**
   * The D1 bookmark after the newest landed commit (undefined before the first): a read of the
   * shard in a session started at it sees every write answered so far (db/replicas.ts).
   */
  get bookmark(): string | undefined {
    return this.#bookmark;
  }

  /** Keeps the newer of the kept bookmark and `bookmark` (bookmarks never go back). */
  #noteBookmark(bookmark: string | null | undefined): void {
    const next = newerBookmark(this.#bookmark, bookmark);
    if (next === undefined || next === this.#bookmark) return;
    this.#bookmark = next;
    this.#sql.exec("INSERT OR REPLACE INTO write_bookmark (id, bookmark) VALUES (0, ?)", next);
  }

  #pending(id: number, body: Omit<LogEntry, "id" | "landed" | "shift">): Pending {
    const { promise, resolve, reject } = deferred();
    return { id, ...body, shift: 0, landed: promise, resolve, reject };
  }

  /** Entries logged and not yet in D1, oldest first. */
  get entries(): readonly LogEntry[] {
    return this.#queue;
  }

  get size(): number {
    return this.#queue.length;
  }

  /** The seq after the newest logged entry, if any is waiting for D1. */
  get lastSeq(): number | undefined {
    return this.#queue.at(-1)?.lastSeq;
  }

  /** When the flusher will try again after a failure (0: not waiting). */
  get retryAt(): number {
    return this.#retryAt;
  }

  /** Appends a planned batch to the log (durable once the output gate opens) and starts the flusher. */
  append(plan: Pick<Plan, "changes" | "applied" | "lastSeq">, previousSeq: number, now: string): LogEntry {
    const changes = plan.changes.map(
      (c): LoggedChange => ({
        seq: c.seq,
        type: c.type,
        id: c.id,
        op: c.op,
        previous: c.previous,
        entity: c.entity,
        visibleBefore: c.visibleBefore,
        visibleAfter: c.visibleAfter,
        activation: c.activation,
        ...(c.coverOnly ? { coverOnly: true as const } : {}),
      }),
    );
    const body = { previousSeq, lastSeq: plan.lastSeq, now, changes, applied: plan.applied };
    const id = (this.#queue.at(-1)?.id ?? this.#lastStoredId()) + 1;
    this.#write(id, body);
    const entry = this.#pending(id, body);
    this.#queue.push(entry);
    this.kick();
    return entry;
  }

  #lastStoredId(): number {
    return this.#sql.exec<{ id: number | null }>("SELECT max(id) AS id FROM write_log").one().id ?? 0;
  }

  #write(id: number, body: Omit<LogEntry, "id" | "landed" | "shift">): void {
    const text = JSON.stringify(body);
    this.#sql.exec("DELETE FROM write_log WHERE id = ?", id);
    for (let part = 0; part * PART_CHARS < text.length; part++) {
      this.#sql.exec(
        "INSERT INTO write_log (id, part, text) VALUES (?, ?, ?)",
        id,
        part,
        text.slice(part * PART_CHARS, (part + 1) * PART_CHARS),
      );
    }
  }

  /** Resolves when D1 holds everything logged so far. */
  barrier(): Promise<void> {
    return this.#queue.at(-1)?.landed ?? Promise.resolve();
  }

  /** Whether D1 caught up with everything logged so far within `timeoutMs`. */
  async drained(timeoutMs = this.answerTimeoutMs): Promise<boolean> {
    if (this.#queue.length === 0) return true;
    this.kick();
    return within(this.barrier(), timeoutMs);
  }

  /** Starts the flusher unless it runs or waits for its retry time. */
  kick(): void {
    if (this.#running || this.#queue.length === 0 || Date.now() < this.#retryAt) return;
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
    });
  }

  /** The alarm's turn: flush now, whatever the backoff said. */
  async retry(): Promise<void> {
    this.#retryAt = 0;
    this.kick();
    await this.#running;
  }

  /** Tests: the next `count` D1 commits fail (after landing, when `afterLanding`: only the answer is lost). */
  failNextCommits(count: number, afterLanding = false): void {
    this.#failNext = count;
    this.#failAfterLanding = afterLanding;
  }

  async #loop(): Promise<void> {
    while (this.#queue.length > 0) {
      const sessionId = this.#host.sessionId();
      if (!sessionId) return;
      // On the primary, in a D1 session: its bookmark after the commit is the commit's.
      const session = this.#host.d1?.().withSession("first-primary");
      const db = session ? getDb(session as unknown as D1Database) : this.#host.db();
      const note = () => this.#noteBookmark(session?.getBookmark());
      if (this.#suspect) {
        try {
          await this.#reconcile(db, sessionId, note);
          this.#suspect = false;
          this.#checked = true;
        } catch (error) {
          logError("checking which logged batches are in D1 failed", error);
          await this.#backoff();
          return;
        }
        continue;
      }
      // After a refusal, one entry at a time: a refusal is then the refusal of that entry.
      const group = this.#isolate ? this.#queue.slice(0, 1) : this.#group();
      try {
        await this.#commit(db, sessionId, group);
      } catch (error) {
        logError("committing logged batches to D1 failed; they stay logged", error);
        if (isRefusal(error)) {
          // Refused alone, after checking it neither landed nor is stale: refused for good.
          if (group.length === 1 && this.#checked) {
            this.#reject(error);
            continue;
          }
          // Deterministic, not an outage: check and try the oldest alone at once.
          this.#isolate = true;
          this.#suspect = true;
          continue;
        }
        this.#suspect = true;
        this.#failures += 1;
        // The first failure is checked and tried again at once (a lost answer, a stale seq); then backoff.
        if (this.#failures === 1) continue;
        await this.#backoff();
        return;
      }
      this.#failures = 0;
      this.#isolate = false;
      this.#checked = false;
      note();
      this.#landed(group.length);
    }
  }

  async #backoff(): Promise<void> {
    const delay = Math.min(this.retryBaseMs * 2 ** Math.max(0, this.#failures - 2), RETRY_MAX_MS);
    this.#retryAt = Date.now() + delay;
    try {
      await this.#host.wakeAt(this.#retryAt);
    } catch (error) {
      logError("setting the retry alarm failed", error);
    }
  }

  #group(): Pending[] {
    const group: Pending[] = [];
    let changes = 0;
    for (const e of this.#queue) {
      if (group.length >= GROUP_MAX_ENTRIES || (group.length > 0 && changes + e.changes.length > GROUP_MAX_CHANGES)) break;
      group.push(e);
      changes += e.changes.length;
    }
    return group;
  }

  async #commit(db: Db, sessionId: string, group: readonly Pending[]): Promise<void> {
    const statements: BatchItem<"sqlite">[] = [];
    for (const e of group) statements.push(...(await commitStatements(db, sessionId, e, e.previousSeq, e.now)));
    const [first, ...rest] = statements;
    this.commits += 1;
    if (this.#failNext > 0) {
      this.#failNext -= 1;
      if (this.#failAfterLanding && first) await db.batch([first, ...rest]);
      throw new Error("D1 failure injected by a test");
    }
    const started = performance.now();
    if (first) this.#host.committed?.(await db.batch([first, ...rest]), performance.now() - started);
  }

  /** D1 refuses the oldest entry (checked: not landed, not stale): it and all later entries go. */
  #reject(error: unknown): void {
    const dropped = this.#queue.splice(0);
    this.#sql.exec("DELETE FROM write_log");
    this.#failures = 0;
    this.#isolate = false;
    this.#checked = false;
    this.#suspect = false;
    this.#host.onRejected(dropped, error);
    for (const e of dropped) e.reject(error);
  }

  /** D1 holds the oldest `count` entries: trimmed from the log, writers answered. */
  #landed(count: number): void {
    const done = this.#queue.splice(0, count);
    const last = done.at(-1);
    if (!last) return;
    this.#sql.exec("DELETE FROM write_log WHERE id <= ?", last.id);
    this.#host.onLanded(done, this.#bookmark);
    for (const e of done) e.resolve();
  }

  /**
   * Which of the oldest entries D1 already holds (entries land in order, so a prefix): trimmed.
   * Then, if D1's seq is past where the log starts, D1 moved on without this object (a row
   * written behind its back): the log's seqs are shifted past it, as a commit with a stale
   * counter always did (the object then plans on from there).
   */
  async #reconcile(db: Db, sessionId: string, note: () => void): Promise<void> {
    const head = this.#queue.slice(0, 64);
    const lastOps = head.map((e) => e.applied.at(-1)).filter((a): a is AppliedRecord => a !== undefined);
    const stored = new Map<string, number>();
    for (const part of chunk(
      lastOps.map((a) => a.op_id),
      90,
    )) {
      const rows = await db
        .select({ op_id: appliedOps.op_id, seq: appliedOps.seq })
        .from(appliedOps)
        .where(and(eq(appliedOps.session_id, sessionId), inArray(appliedOps.op_id, part)));
      for (const r of rows) stored.set(r.op_id, r.seq);
    }
    let landed = 0;
    for (const e of head) {
      const last = e.applied.at(-1);
      if (!last || stored.get(last.op_id) !== last.seq) break;
      landed += 1;
    }
    // Then whether the oldest entry still waiting is stale.
    if (landed > 0) {
      // Read on the primary after they landed: the session's bookmark covers them.
      note();
      this.#landed(landed);
    }
    const first = this.#queue[0];
    if (!first) return;
    const row = await db.select({ seq: gameSessions.seq }).from(gameSessions).where(eq(gameSessions.id, sessionId)).get();
    if (!row || row.seq <= first.previousSeq) return;
    const delta = row.seq - first.previousSeq;
    logError("D1's seq moved past the write log without this object: renumbering the log", { delta });
    for (const e of this.#queue) {
      e.shift += delta;
      e.previousSeq += delta;
      e.lastSeq += delta;
      for (const c of e.changes) c.seq += delta;
      // The same records the entity cache holds for replays: their seqs move with them.
      for (const a of e.applied) a.seq += delta;
      this.#write(e.id, { previousSeq: e.previousSeq, lastSeq: e.lastSeq, now: e.now, changes: e.changes, applied: e.applied });
    }
    this.#host.onRenumbered(delta);
  }
}

/** Whether `promise` settles within `ms`. */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
