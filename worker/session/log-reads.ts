/**
 * Reads of seqs D1 does not hold yet, answered from the write log (write-behind.ts).
 *
 * When a change is broadcast while its batch is still in the log, the texts each audience got
 * (broadcast.ts: the GM's, the players', a token's owners') are kept beside the log in the
 * object's own SQLite, by seq, and trimmed with the log once D1 holds them. A socket's `resume`
 * and `GET changes?since=` then get what D1 lacks exactly as the live sockets got it: the same
 * player filter (one implementation, the broadcast's), also after a restart of the object (the
 * table outlives the instance, as the log does). Only the plain texts are kept, never patches.
 *
 * The texts are complete for the log's seqs up to the last broadcast one: a batch logged and not
 * broadcast yet reaches a resuming socket through its hold (socket-hub.ts). A change whose texts
 * are missing (never broadcast: the object stopped between logging and broadcasting it; the log
 * renumbered; a text too big to keep) makes the read `unknown`: only D1, once it holds the log,
 * can answer it.
 */
import type { Role } from "../../domain/permissions";
import type { ChangeRow } from "../../domain/protocol";
import type { EncodedChange } from "./broadcast";
import type { LogEntry } from "./write-behind";

/** Whom a read is for: a GM gets everything, a player what the player filter let through. */
export interface Audience {
  role: Role;
  userId: string;
}

/**
 * What the log adds to D1 after `since` for one audience:
 * - `empty`: nothing is logged, D1 holds everything;
 * - `unknown`: some change in the log was not kept as sent: read D1 once it holds the log;
 * - `reload`: a player, and a scene was activated in the log after `since`;
 * - `sent`: the texts of the seqs after `max(since, floor)` up to `top` (the last one broadcast;
 *   seqs after it are logged and not broadcast yet), in seq order, those of the audience only.
 */
export type LogPart =
  | { kind: "empty" }
  | { kind: "unknown" }
  | { kind: "reload"; seq: number }
  | { kind: "sent"; floor: number; top: number; texts: { seq: number; text: string }[] };

/** `LogPart` as change rows, for `GET changes?since=` (the RPC `readLog` answers it). */
export type LogRows =
  | { kind: "empty" }
  | { kind: "unknown" }
  | { kind: "reload"; seq: number }
  | { kind: "rows"; floor: number; top: number; rows: ChangeRow[] };

/** Characters of one change's texts past which they are not kept (the row stays under SQLite's 2 MB). */
const KEEP_MAX_CHARS = 400_000;
/** Characters of texts kept by one statement (its JSON parameter stays under SQLite's 2 MB). */
const GROUP_MAX_CHARS = 300_000;

/** A row of `sent_changes` as `keep` writes it: seq, activation, gm, player, player_is_gm, owners. */
type SentValues = [number, number, string, string | null, number, string | null];

interface SentRow extends Record<string, SqlStorageValue> {
  seq: number;
  activation: number;
  gm: string;
  /** The players' text; null with `player_is_gm` 0: none of their business. */
  player: string | null;
  player_is_gm: number;
  /** `[userId, text | null][]` as JSON, when a token's owners got their own texts. */
  owners: string | null;
}

export class SentChanges {
  readonly #sql: SqlStorage;
  /**
   * The last seq broadcast (or read back with the log after a restart: never broadcast again by
   * this instance). Logged seqs after it are on their way to the sockets.
   */
  #broadcastSeq: number;

  constructor(sql: SqlStorage, log: { readonly entries: readonly LogEntry[]; readonly lastSeq: number | undefined }) {
    this.#sql = sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS sent_changes (
      seq INTEGER PRIMARY KEY, activation INTEGER NOT NULL, gm TEXT NOT NULL, player TEXT,
      player_is_gm INTEGER NOT NULL, owners TEXT)`);
    this.#broadcastSeq = log.lastSeq ?? 0;
    // Texts of seqs D1 took before the trim could happen (or with an empty log: all of them).
    const floor = log.entries[0]?.previousSeq;
    if (floor === undefined) sql.exec("DELETE FROM sent_changes");
    else this.landed(floor);
  }

  /** Keeps what was broadcast of these changes, those of them still in the log (`floor` < seq ≤ `last`). */
  keep(changes: readonly { seq: number; activation: boolean }[], encoded: readonly EncodedChange[], floor?: number, last?: number): void {
    // First: a text that fails to be kept is then missing (a read waits for D1), never taken as still on its way.
    for (const change of changes) this.#broadcastSeq = Math.max(this.#broadcastSeq, change.seq);
    if (floor === undefined || last === undefined) return;
    // Many rows travel as one JSON parameter read back with json_each (a 500-change batch is a
    // statement or a few, not 500).
    let group: SentValues[] = [];
    let groupChars = 0;
    const flush = () => {
      if (group.length === 0) return;
      this.#sql.exec(
        `INSERT OR REPLACE INTO sent_changes (seq, activation, gm, player, player_is_gm, owners)
         SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
                json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]')
         FROM json_each(?)`,
        JSON.stringify(group),
      );
      group = [];
      groupChars = 0;
    };
    changes.forEach((change, i) => {
      const e = encoded[i];
      if (!e || change.seq <= floor || change.seq > last) return;
      const owners = e.owners ? JSON.stringify([...e.owners]) : null;
      const playerIsGm = e.player === e.gm;
      const chars = e.gm.length + (playerIsGm ? 0 : (e.player?.length ?? 0)) + (owners?.length ?? 0);
      if (chars > KEEP_MAX_CHARS) {
        // Not kept: a read of it waits for D1.
        flush();
        this.#sql.exec("DELETE FROM sent_changes WHERE seq = ?", change.seq);
        return;
      }
      const values: SentValues = [change.seq, change.activation ? 1 : 0, e.gm, playerIsGm ? null : e.player, playerIsGm ? 1 : 0, owners];
      if (groupChars + chars > GROUP_MAX_CHARS) flush();
      group.push(values);
      groupChars += chars;
    });
    flush();
  }

  /** D1 holds everything up to `seq`: its texts go. */
  landed(seq: number): void {
    this.#sql.exec("DELETE FROM sent_changes WHERE seq <= ?", seq);
  }

  /** The log was dropped or renumbered: what was kept no longer names its seqs. */
  forget(lastSeq: number | undefined): void {
    this.#sql.exec("DELETE FROM sent_changes");
    this.#broadcastSeq = lastSeq ?? 0;
  }

  /** What the log holds after `since` for `audience`, as its sockets got it (see `LogPart`). */
  read(since: number, audience: Audience, log: { readonly entries: readonly LogEntry[]; readonly lastSeq: number | undefined }): LogPart {
    const floor = log.entries[0]?.previousSeq;
    const last = log.lastSeq;
    if (floor === undefined || last === undefined) return { kind: "empty" };
    const top = Math.max(floor, Math.min(last, this.#broadcastSeq));
    const start = Math.max(since, floor);
    if (start >= top) return { kind: "sent", floor, top, texts: [] };
    const rows = this.#sql.exec<SentRow>("SELECT * FROM sent_changes WHERE seq > ? AND seq <= ? ORDER BY seq", start, top).toArray();
    if (rows.length !== top - start) return { kind: "unknown" };
    const texts: { seq: number; text: string }[] = [];
    for (const row of rows) {
      if (audience.role === "player" && row.activation) return { kind: "reload", seq: top };
      const text = audience.role === "gm" ? row.gm : textForPlayer(row, audience.userId);
      if (text) texts.push({ seq: row.seq, text });
    }
    return { kind: "sent", floor, top, texts };
  }

  /**
   * `read` as change rows (`GET changes?since=`). An entity too big to inline in its message is
   * taken from the log for a GM; a player's (projected) one only D1 can give: `unknown`.
   */
  rows(since: number, audience: Audience, log: { readonly entries: readonly LogEntry[]; readonly lastSeq: number | undefined }): LogRows {
    const part = this.read(since, audience, log);
    if (part.kind !== "sent") return part;
    const rows: ChangeRow[] = [];
    for (const { seq, text } of part.texts) {
      const { type: _type, event_id: _eventId, ...row } = JSON.parse(text) as ChangeRow & { type: string; event_id?: number };
      if (row.entity === undefined && row.removed === undefined) {
        if (audience.role !== "gm") return { kind: "unknown" };
        const entity = loggedEntity(log.entries, seq);
        if (!entity) return { kind: "unknown" };
        row.entity = entity;
      }
      rows.push(row);
    }
    return { kind: "rows", floor: part.floor, top: part.top, rows };
  }
}

function textForPlayer(row: SentRow, userId: string): string | null {
  if (row.owners) {
    const own = (JSON.parse(row.owners) as [string, string | null][]).find(([id]) => id === userId);
    if (own) return own[1];
  }
  return row.player_is_gm ? row.gm : row.player;
}

function loggedEntity(entries: readonly LogEntry[], seq: number): ChangeRow["entity"] {
  for (const e of entries) {
    if (seq <= e.previousSeq || seq > e.lastSeq) continue;
    return e.changes.find((c) => c.seq === seq)?.entity;
  }
  return undefined;
}
