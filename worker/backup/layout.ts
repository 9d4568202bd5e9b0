/**
 * Where backups live in R2. Every backup is a folder of JSONL files plus a manifest with the
 * SHA-256 of each file:
 *
 *   backups/{session}/{time}-full-{seq}/          a full snapshot of the session at `seq`
 *   backups/{session}/{time}-incr-{from}-{to}/    the change log rows with from < seq <= to
 *
 * `{time}` is a sortable UTC stamp, so listing a session's prefix yields its backups in order.
 */
export const BACKUP_FORMAT = "vtt-backup/1";

export interface BackupFile {
  name: string;
  sha256: string;
  rows: number;
  bytes: number;
}

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  kind: "full" | "incr";
  session_id: string;
  created_at: string;
  /** For a full snapshot: the seq it holds. For an increment: the range (from, to]. */
  seq: number;
  from_seq: number;
  files: BackupFile[];
}

export interface BackupRef {
  prefix: string;
  kind: "full" | "incr";
  createdAt: string;
  fromSeq: number;
  toSeq: number;
}

export function stamp(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.(\d{3})Z$/, "$1Z");
}

function unstamp(text: string): string | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/.exec(text);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z` : null;
}

export function sessionPrefix(sessionId: string): string {
  return `backups/${sessionId}/`;
}

export function backupPrefix(sessionId: string, at: Date, kind: "full" | "incr", fromSeq: number, toSeq: number): string {
  const range = kind === "full" ? `${toSeq}` : `${fromSeq}-${toSeq}`;
  return `${sessionPrefix(sessionId)}${stamp(at)}-${kind}-${range}/`;
}

/** Parses a backup folder name back into its reference; null for anything else. */
export function parseBackupPrefix(prefix: string): BackupRef | null {
  const m = /^backups\/[^/]+\/(\d{8}T\d{9}Z)-(full|incr)-(\d+)(?:-(\d+))?\/$/.exec(prefix);
  if (!m?.[1] || !m[3]) return null;
  const createdAt = unstamp(m[1]);
  if (!createdAt) return null;
  if (m[2] === "full") return { prefix, kind: "full", createdAt, fromSeq: 0, toSeq: Number(m[3]) };
  if (!m[4]) return null;
  return { prefix, kind: "incr", createdAt, fromSeq: Number(m[3]), toSeq: Number(m[4]) };
}

export async function listBackups(bucket: R2Bucket, sessionId: string): Promise<BackupRef[]> {
  const refs: BackupRef[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: sessionPrefix(sessionId), delimiter: "/", ...(cursor ? { cursor } : {}) });
    for (const p of page.delimitedPrefixes) {
      const ref = parseBackupPrefix(p);
      if (ref) refs.push(ref);
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return refs.sort((a, b) => a.prefix.localeCompare(b.prefix));
}
