/**
 * The local D1 databases of a `wrangler dev` persist dir, read straight from their SQLite files
 * (node:sqlite, read-only), for benches that check where rows landed: every local D1 database is
 * one `.sqlite` file under <persist>/v3/d1/miniflare-D1DatabaseObject/, named by a hash, not by
 * its binding. The directory database is the file holding `session_directory` rows; a shard's
 * binding is read from the directory: the shard the directory lists for the sessions whose head
 * (`game_sessions`) the file holds.
 *
 *   const files = openD1Files(persistDir);
 *   const placement = sessionPlacement(files); // { directoryFile, bindings, perSession, ... }
 *   closeD1Files(files);
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";

/** Per-session tables and their session column, counted in every file. */
export const SESSION_TABLES = [
  ["game_sessions", "id"],
  ["session_state", "session_id"],
  ["scenes", "session_id"],
  ["tokens", "session_id"],
  ["change_log", "session_id"],
  ["applied_ops", "session_id"],
];

export function d1Dir(persistDir) {
  return join(persistDir, "v3", "d1", "miniflare-D1DatabaseObject");
}

/** [{ file, db }] for every local D1 database of the persist dir (read-only handles). */
export function openD1Files(persistDir) {
  const dir = d1Dir(persistDir);
  if (!existsSync(dir)) throw new Error(`no local D1 databases under ${dir}`);
  return readdirSync(dir)
    .filter((name) => name.endsWith(".sqlite"))
    .sort()
    .map((file) => ({ file, db: new DatabaseSync(join(dir, file), { readOnly: true }) }));
}

export function closeD1Files(files) {
  for (const f of files) f.db.close();
}

function hasTable(db, table) {
  return Boolean(db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table));
}

/** Rows per session of each per-session table of one file: Map<sid, {table: n}>. */
function rowsPerSession(db) {
  const out = new Map();
  for (const [table, column] of SESSION_TABLES) {
    if (!hasTable(db, table)) continue;
    for (const row of db.prepare(`SELECT "${column}" AS sid, COUNT(*) AS n FROM "${table}" GROUP BY "${column}"`).all()) {
      if (!out.has(row.sid)) out.set(row.sid, {});
      out.get(row.sid)[table] = Number(row.n);
    }
  }
  return out;
}

/**
 * Where every session of the directory has rows. Returns
 *   directoryFile: the file holding session_directory (the binding DB),
 *   directory: Map<sid, shard name> as the directory lists it,
 *   bindings: Map<file, binding name> (the directory's file is "DB"; a file whose sessions the
 *             directory lists on more than one shard is named "ambiguous: A, B"),
 *   perSession: Map<sid, Map<binding, {table: rows}>> (only files holding rows of the session),
 *   files: [{ file, binding, sessions (heads held), rows (per-session rows held) }].
 */
export function sessionPlacement(files) {
  const withDirectory = files.filter(
    (f) => hasTable(f.db, "session_directory") && f.db.prepare("SELECT 1 FROM session_directory LIMIT 1").get(),
  );
  if (withDirectory.length !== 1)
    throw new Error(`expected one directory database, found ${withDirectory.length} files with session_directory rows`);
  const directoryFile = withDirectory[0].file;
  const directory = new Map(
    withDirectory[0].db
      .prepare("SELECT session_id, shard FROM session_directory")
      .all()
      .map((r) => [r.session_id, r.shard]),
  );
  const rows = new Map(files.map((f) => [f.file, rowsPerSession(f.db)]));
  const bindings = new Map();
  for (const f of files) {
    if (f.file === directoryFile) {
      bindings.set(f.file, "DB");
      continue;
    }
    const names = new Set();
    for (const [sid, counts] of rows.get(f.file)) if (counts.game_sessions && directory.has(sid)) names.add(directory.get(sid));
    bindings.set(f.file, names.size === 0 ? "unused" : names.size === 1 ? [...names][0] : `ambiguous: ${[...names].sort().join(", ")}`);
  }
  const perSession = new Map();
  for (const [file, bySession] of rows) {
    for (const [sid, counts] of bySession) {
      if (!perSession.has(sid)) perSession.set(sid, new Map());
      perSession.get(sid).set(bindings.get(file), counts);
    }
  }
  return {
    directoryFile,
    directory,
    bindings,
    perSession,
    files: files.map((f) => {
      const bySession = rows.get(f.file);
      let heads = 0;
      let total = 0;
      for (const counts of bySession.values()) {
        heads += counts.game_sessions ?? 0;
        for (const n of Object.values(counts)) total += n;
      }
      return { file: f.file, binding: bindings.get(f.file), sessions: heads, rows: total };
    }),
  };
}

/** Every token's version, by the binding of the file holding it: Map<binding, Map<token id, version>>. */
export function tokenVersions(files, bindings) {
  const out = new Map();
  for (const f of files) {
    if (!hasTable(f.db, "tokens")) continue;
    const found = f.db.prepare("SELECT id, version FROM tokens").all();
    if (found.length > 0) out.set(bindings.get(f.file), new Map(found.map((r) => [r.id, Number(r.version)])));
  }
  return out;
}

/** The sum of `change_log` rows of every file: a reading that stops moving once write-behind caught up. */
export function changeLogTotal(files) {
  let n = 0;
  for (const f of files) if (hasTable(f.db, "change_log")) n += Number(f.db.prepare("SELECT COUNT(*) AS n FROM change_log").get().n);
  return n;
}
