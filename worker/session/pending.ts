/**
 * Acknowledgements and client activity (last_seen, capabilities) on their way to D1.
 *
 * Hundreds of clients acking every change would cost a D1 write per socket message. Instead they
 * are appended to the object's own SQLite storage (synchronous, local, durable: they survive an
 * eviction) and moved to D1 in a few multi-row statements by the object's alarm, about once a
 * second (ACK_FLUSH_MS) while there is something to move.
 */
import { and, eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { JsonObject } from "../../domain/merge-patch";
import { chunk, type Db } from "../db/client";
import { acknowledgements, sessionClients } from "../db/schema";

export const ACK_FLUSH_MS = 1000;
/** Ack rows moved to D1 per flush; the rest wait for the next alarm. */
const FLUSH_ROWS = 5000;
/** acknowledgements has 5 columns: 20 rows stay within D1's 100 bound parameters. */
const ACK_ROWS_PER_STATEMENT = 20;

export interface Seen {
  client_id: string;
  last_seen: string;
  capabilities: JsonObject | null;
}

export class PendingRecords {
  readonly #sql: SqlStorage;

  constructor(storage: SqlStorage) {
    this.#sql = storage;
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS pending_acks (
      client_id TEXT NOT NULL, event_id INTEGER NOT NULL, user_id TEXT NOT NULL, acked_at TEXT NOT NULL,
      PRIMARY KEY (client_id, event_id))`);
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS pending_seen (
      client_id TEXT PRIMARY KEY, last_seen TEXT NOT NULL, capabilities TEXT, rev INTEGER NOT NULL DEFAULT 1)`);
  }

  addAcks(clientId: string, userId: string, eventIds: readonly number[], at: string): void {
    // SQLite's bound-parameter limit is generous locally but small on the platform: 20 rows a statement.
    for (const part of chunk([...new Set(eventIds)], 20)) {
      const values = part.map(() => "(?, ?, ?, ?)").join(", ");
      this.#sql.exec(
        `INSERT OR IGNORE INTO pending_acks (client_id, event_id, user_id, acked_at) VALUES ${values}`,
        ...part.flatMap((id) => [clientId, id, userId, at]),
      );
    }
  }

  /** Records that a client was seen at `at`, with its capabilities when they changed. */
  touch(clientId: string, at: string, capabilities?: JsonObject): void {
    this.#sql.exec(
      `INSERT INTO pending_seen (client_id, last_seen, capabilities) VALUES (?, ?, ?)
       ON CONFLICT (client_id) DO UPDATE SET last_seen = excluded.last_seen,
         capabilities = coalesce(excluded.capabilities, pending_seen.capabilities), rev = pending_seen.rev + 1`,
      clientId,
      at,
      capabilities ? JSON.stringify(capabilities) : null,
    );
  }

  /** What is waiting for a client, if anything (GET {S}/clients shows it before the flush). */
  seen(clientId: string): Seen | undefined {
    const row = this.#sql
      .exec<{ client_id: string; last_seen: string; capabilities: string | null }>(
        "SELECT client_id, last_seen, capabilities FROM pending_seen WHERE client_id = ?",
        clientId,
      )
      .toArray()[0];
    return row ? { ...row, capabilities: row.capabilities ? (JSON.parse(row.capabilities) as JsonObject) : null } : undefined;
  }

  isEmpty(): boolean {
    const acks = this.#sql.exec<{ n: number }>("SELECT EXISTS (SELECT 1 FROM pending_acks) AS n").one().n;
    const seen = this.#sql.exec<{ n: number }>("SELECT EXISTS (SELECT 1 FROM pending_seen) AS n").one().n;
    return acks === 0 && seen === 0;
  }

  /**
   * Moves what is pending to D1 in one batch, then forgets exactly what was moved: rows added
   * while D1 was written stay for the next flush. A failing D1 write throws and loses nothing.
   */
  async flush(db: Db, sessionId: string): Promise<void> {
    const acks = this.#sql
      .exec<{ rowid: number; client_id: string; event_id: number; user_id: string; acked_at: string }>(
        "SELECT rowid, client_id, event_id, user_id, acked_at FROM pending_acks ORDER BY rowid LIMIT ?",
        FLUSH_ROWS,
      )
      .toArray();
    const seen = this.#sql
      .exec<{ client_id: string; last_seen: string; capabilities: string | null; rev: number }>(
        "SELECT client_id, last_seen, capabilities, rev FROM pending_seen",
      )
      .toArray();
    if (acks.length === 0 && seen.length === 0) return;

    const statements: BatchItem<"sqlite">[] = [
      ...chunk(acks, ACK_ROWS_PER_STATEMENT).map((part) =>
        db
          .insert(acknowledgements)
          .values(
            part.map((a) => ({
              session_id: sessionId,
              client_id: a.client_id,
              event_id: a.event_id,
              user_id: a.user_id,
              acked_at: a.acked_at,
            })),
          )
          .onConflictDoNothing(),
      ),
      ...seen.map((s) =>
        db
          .update(sessionClients)
          .set({
            // Never move last_seen backwards (an older pending row after a newer direct write).
            last_seen: sql`max(${sessionClients.last_seen}, ${s.last_seen})`,
            ...(s.capabilities ? { capabilities: JSON.parse(s.capabilities) as JsonObject } : {}),
          })
          .where(and(eq(sessionClients.client_id, s.client_id), eq(sessionClients.session_id, sessionId))),
      ),
    ];
    const [first, ...rest] = statements;
    if (first) await db.batch([first, ...rest]);

    const lastAck = acks.at(-1);
    if (lastAck) this.#sql.exec("DELETE FROM pending_acks WHERE rowid <= ?", lastAck.rowid);
    for (const s of seen) this.#sql.exec("DELETE FROM pending_seen WHERE client_id = ? AND rev = ?", s.client_id, s.rev);
  }
}
