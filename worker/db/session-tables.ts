/**
 * Which tables hold a session's rows, and by which column: the one list a move (worker/session/move.ts)
 * copies, verifies and cleans up. Every table of the schema is either here or in DIRECTORY_TABLES;
 * test/worker/session-tables.test.ts fails when a table is in neither, so a new per-session table
 * cannot be forgotten by moves.
 */
import { getTableConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";
import {
  acknowledgements,
  activationTimeline,
  apiTokens,
  appliedOps,
  assetDeletions,
  assets,
  assetUploadWindows,
  changeLog,
  entityBaselines,
  folders,
  gameSessions,
  importResults,
  integrityFindings,
  integrityRuns,
  loginFailures,
  loginSessions,
  metricCounters,
  moduleEntities,
  rateWindows,
  sceneLayers,
  scenes,
  sessionClients,
  sessionDirectory,
  sessionLocks,
  sessionMembers,
  sessionState,
  tokenArt,
  tokens,
  users,
} from "./schema";

export interface SessionTable {
  /** The SQL table name. */
  name: string;
  /** The column holding the session id (`id` for game_sessions, `session_id` elsewhere). */
  sessionColumn: string;
  /** The primary key's columns, in order: rows are copied and checksummed in this order. */
  primaryKey: string[];
}

function sessionTable(table: SQLiteTable, sessionColumn: string): SessionTable {
  const config = getTableConfig(table);
  const columns = config.columns.map((c) => c.name);
  if (!columns.includes(sessionColumn)) throw new Error(`${config.name} has no column ${sessionColumn}`);
  const composite = config.primaryKeys[0]?.columns.map((c) => c.name);
  const primaryKey = composite ?? config.columns.filter((c) => c.primary).map((c) => c.name);
  if (primaryKey.length === 0) throw new Error(`${config.name} has no primary key`);
  return { name: config.name, sessionColumn, primaryKey };
}

/**
 * Every per-session table, on the session's shard, in the order a move copies them (the session's
 * head, game_sessions, first; a cleanup deletes in the reverse order, the head last).
 */
export const SESSION_TABLES: readonly SessionTable[] = [
  sessionTable(gameSessions, "id"),
  sessionTable(sessionState, "session_id"),
  sessionTable(scenes, "session_id"),
  sessionTable(folders, "session_id"),
  sessionTable(sceneLayers, "session_id"),
  sessionTable(tokens, "session_id"),
  sessionTable(tokenArt, "session_id"),
  sessionTable(moduleEntities, "session_id"),
  sessionTable(changeLog, "session_id"),
  sessionTable(entityBaselines, "session_id"),
  sessionTable(appliedOps, "session_id"),
  sessionTable(activationTimeline, "session_id"),
  sessionTable(assets, "session_id"),
  sessionTable(assetDeletions, "session_id"),
  sessionTable(sessionClients, "session_id"),
  sessionTable(sessionLocks, "session_id"),
  sessionTable(acknowledgements, "session_id"),
  sessionTable(integrityRuns, "session_id"),
  sessionTable(integrityFindings, "session_id"),
  sessionTable(importResults, "session_id"),
];

/** Tables of the directory database (per user, or spanning sessions): never copied by a move. */
export const DIRECTORY_TABLES: readonly string[] = [
  users,
  loginSessions,
  apiTokens,
  loginFailures,
  rateWindows,
  assetUploadWindows,
  metricCounters,
  sessionMembers,
  sessionDirectory,
].map((t) => getTableConfig(t).name);
