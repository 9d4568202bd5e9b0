/**
 * Read replicas of the session shards (docs/architecture.md "Read replicas"), through D1's Sessions
 * API: a member's GET reads its session's shard in a D1 session that starts at the client's
 * bookmark (`X-VTT-Bookmark`) when it sent a valid one, else anywhere ("first-unconstrained"), and
 * answers with the session's bookmark so the client keeps the newest it saw. Writes stay with the
 * session's Durable Object, which commits on the primary and hands out each commit's bookmark.
 *
 * Bookmarks are lexicographically ordered, oldest first (D1's glossary), so "the newer of two" is
 * the larger string. A bookmark that is not of D1's shape is never handed to D1; one that D1
 * refuses (another database's, a forged one) falls back to the primary. A read never answers older
 * than the seq the client says it holds: when the replica's head is behind it, the read moves to
 * the primary ("first-primary").
 */
import type { Db } from "./client";
import { getDb } from "./client";
import { headIn, shardD1 } from "./shards";

/** The header of bookmarks, both ways: sent by clients on reads, answered on reads and writes. */
export const BOOKMARK_HEADER = "X-VTT-Bookmark";

/**
 * D1's bookmark: four hex groups, `00000091-00000012-000050dc-c12bb5bf9d1ac913ceff0ba33059b5e0` (the
 * same shape locally, `00000000-0000000d-00000000-<32 zeros>`): fixed width, so they sort as strings.
 */
const BOOKMARK = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;

/** Whether a header value has the shape of a D1 bookmark (never handed to D1 otherwise). */
export function isBookmark(value: unknown): value is string {
  return typeof value === "string" && value.length === 59 && BOOKMARK.test(value);
}

/** The newer of two bookmarks (bookmarks sort oldest to newest); absent ones are skipped. */
export function newerBookmark(a: string | null | undefined, b: string | null | undefined): string | undefined {
  if (!a) return b ?? undefined;
  if (!b) return a;
  return b > a ? b : a;
}

export interface Head {
  seq: number;
  logFloor: number;
}

/** Where a read session starts: a client's bookmark, or one of D1's two constraints. */
export type ReadStart = string | "first-unconstrained" | "first-primary";

/**
 * The queries a read session makes that tests replace: `head` reads the session's head in a D1
 * session (a test returns an older head from a "replica" to play a lagging one).
 */
export const replicaReads = {
  head(d1: D1DatabaseSession, sessionId: string, _start: ReadStart): Promise<Head | null> {
    return headIn(d1, sessionId);
  },
};

/**
 * One request's reads of a session's shard, in one D1 session (sequentially consistent: each read
 * sees at least what the one before saw). Starts on a replica consistent with the client's
 * bookmark; moves to the primary when the bookmark is refused or the replica is behind the seq the
 * client holds.
 */
export class ShardReader {
  readonly #env: Env;
  readonly #shard: string;
  readonly #sessionId: string;
  #start: ReadStart;
  #session: D1DatabaseSession;
  /** The newest bookmark seen in this request (kept across a move to the primary). */
  #bookmark: string | undefined;
  /** A first read succeeded: D1 accepted the start. */
  #accepted = false;

  constructor(env: Env, shard: string, sessionId: string, clientBookmark: string | undefined) {
    this.#env = env;
    this.#shard = shard;
    this.#sessionId = sessionId;
    this.#start = isBookmark(clientBookmark) ? clientBookmark : "first-unconstrained";
    this.#session = shardD1(env, shard).withSession(this.#start);
  }

  /** Where this reader's D1 session started. */
  get start(): ReadStart {
    return this.#start;
  }

  /** Whether reads go to the primary now. */
  get onPrimary(): boolean {
    return this.#start === "first-primary";
  }

  /** The newest bookmark of this request's reads (null before any). */
  bookmark(): string | null {
    return newerBookmark(this.#bookmark, this.#session.getBookmark()) ?? null;
  }

  /** Drizzle over the current D1 session. */
  db(): Db {
    return getDb(this.#session as unknown as D1Database);
  }

  /** From here on, reads go to the primary (a new D1 session; the bookmark seen so far is kept). */
  toPrimary(): void {
    if (this.onPrimary) return;
    this.#bookmark = this.bookmark() ?? undefined;
    this.#start = "first-primary";
    this.#session = shardD1(this.#env, this.#shard).withSession("first-primary");
    this.#accepted = false;
  }

  /**
   * Runs reads in the session. D1 refusing the client's bookmark (the first query fails) moves
   * the reads to the primary once; a failure on the primary is a failure.
   */
  async run<T>(read: (db: Db) => Promise<T>): Promise<T> {
    try {
      const out = await read(this.db());
      this.#accepted = true;
      return out;
    } catch (error) {
      if (this.#accepted || this.onPrimary || this.#start === "first-unconstrained") throw error;
      this.toPrimary();
      return read(this.db());
    }
  }

  /** The session's head as this reader sees it. */
  async head(): Promise<Head | null> {
    try {
      const head = await replicaReads.head(this.#session, this.#sessionId, this.#start);
      this.#accepted = true;
      return head;
    } catch (error) {
      if (this.#accepted || this.onPrimary || this.#start === "first-unconstrained") throw error;
      this.toPrimary();
      return replicaReads.head(this.#session, this.#sessionId, this.#start);
    }
  }

  /**
   * The head, from a copy that holds at least `seq` when one does: a replica behind it is left
   * for the primary (the client holds `seq`: an answer older than it would move it back).
   */
  async headAtLeast(seq: number | undefined): Promise<Head | null> {
    const head = await this.head();
    if (seq === undefined || this.onPrimary || (head !== null && head.seq >= seq)) return head;
    this.toPrimary();
    return this.head();
  }
}
