import { sql } from "drizzle-orm";
import { getDb } from "../db/client";
import { allDatabases } from "../db/shards";

/**
 * The unsynced backlog, over the clients connected now (`session_clients` rows without
 * `disconnected_at`). A client's backlog is the session's `seq` minus the highest `event_id` it
 * acknowledged (event ids are seqs), never below 0: the changes made since the last one it
 * confirmed. A client that has acknowledged nothing yet has no known position; it is counted in
 * `clients_without_ack` and adds nothing to the sums. Players receive (and so acknowledge) only
 * the changes they may see, so theirs is an upper bound: changes hidden from them count until
 * they acknowledge a later one.
 */
export interface Backlog {
  /** Connected clients. */
  connected_clients: number;
  /** Connected clients that have acknowledged nothing yet. */
  clients_without_ack: number;
  /** Connected clients whose backlog is above 0. */
  lagging_clients: number;
  /** The sum of the connected clients' backlogs, in changes. */
  backlog_events: number;
  /** The largest backlog of one connected client, in changes. */
  max_backlog_events: number;
}

/** The backlog of the clients of the sessions on one database (a shard, worker/db/shards.ts). */
export async function unsyncedBacklog(d1: D1Database): Promise<Backlog> {
  // MAX(event_id) per client is one seek on the acknowledgements key (session_id, client_id, event_id).
  const row = await getDb(d1).get<Record<keyof Backlog, number | null>>(sql`
    SELECT COUNT(*) AS connected_clients,
           SUM(acked IS NULL) AS clients_without_ack,
           SUM(acked IS NOT NULL AND seq > acked) AS lagging_clients,
           SUM(CASE WHEN acked IS NOT NULL THEN MAX(seq - acked, 0) END) AS backlog_events,
           MAX(CASE WHEN acked IS NOT NULL THEN MAX(seq - acked, 0) END) AS max_backlog_events
    FROM (
      SELECT g.seq AS seq,
             (SELECT MAX(a.event_id) FROM acknowledgements a WHERE a.session_id = c.session_id AND a.client_id = c.client_id) AS acked
      FROM session_clients c JOIN game_sessions g ON g.id = c.session_id
      WHERE c.disconnected_at IS NULL
    )`);
  return {
    connected_clients: row?.connected_clients ?? 0,
    clients_without_ack: row?.clients_without_ack ?? 0,
    lagging_clients: row?.lagging_clients ?? 0,
    backlog_events: row?.backlog_events ?? 0,
    max_backlog_events: row?.max_backlog_events ?? 0,
  };
}

/** The backlog over every database (each shard, and the directory's sessions from before shards), combined. */
export async function serviceBacklog(env: Env): Promise<Backlog> {
  const parts = await Promise.all(allDatabases(env).map(({ d1 }) => unsyncedBacklog(d1)));
  return {
    connected_clients: parts.reduce((n, p) => n + p.connected_clients, 0),
    clients_without_ack: parts.reduce((n, p) => n + p.clients_without_ack, 0),
    lagging_clients: parts.reduce((n, p) => n + p.lagging_clients, 0),
    backlog_events: parts.reduce((n, p) => n + p.backlog_events, 0),
    max_backlog_events: Math.max(0, ...parts.map((p) => p.max_backlog_events)),
  };
}
