/**
 * The integrity check of a session: every reference between its rows, and every asset's bytes in R2.
 *
 * References are checked by one LEFT JOIN per kind (an entity row naming a scene, token, folder or
 * asset that has no row in the same session — archived referents count as present: archiving is
 * a soft delete). Assets are checked with an R2 `head` of their content-addressed object: missing,
 * or its SHA-256 differs from the hash it is named by. R2 keeps the SHA-256 given with the put
 * (every upload gives one); an object written without it is read and hashed instead.
 *
 * Findings are upserted into `integrity_findings` (seen again → `last_seen_at`; no longer seen →
 * `resolved_at`) and shown to GMs at `GET {S}/integrity`. Nothing is deleted or repaired here.
 */
import { and, eq, getTableName, isNull, sql } from "drizzle-orm";
import { type EntityType, isCoreType } from "../../domain/entities";
import { valuesAt } from "../../domain/references";
import { sha256Of } from "../assets/store";
import { type Db, getDb } from "../db/client";
import { loadEntities, rowToEntity, selectAllStatement } from "../db/entities";
import { entityTables, integrityFindings, integrityRuns } from "../db/schema";
import { sessionDb } from "../db/shards";
import { hex } from "../lib/crypto";
import { registry } from "../registry";

export type FindingKind = "dangling_reference" | "missing_object" | "checksum_mismatch";

export interface Finding {
  kind: FindingKind;
  entity_type: string;
  entity_id: string;
  field: string;
  detail: Record<string, unknown>;
}

export type FindingRow = typeof integrityFindings.$inferSelect;

/** Where each kind of referenced row lives: its table and key column (scoped by session_id). */
const targets = {
  scene: { table: "scenes", column: "id" },
  folder: { table: "folders", column: "id" },
  token: { table: "tokens", column: "id" },
  asset: { table: "assets", column: "hash" },
} as const;

/** One reference kind: `table.column` of an `entityType` row must name a `targetType` row of the same session. */
interface Reference {
  entityType: string;
  table: string;
  column: string;
  targetType: keyof typeof targets;
}

const references: Reference[] = [
  { entityType: "token", table: "tokens", column: "scene_id", targetType: "scene" },
  { entityType: "token", table: "tokens", column: "folder_id", targetType: "folder" },
  { entityType: "scene", table: "scenes", column: "folder_id", targetType: "folder" },
  { entityType: "scene", table: "scenes", column: "map_asset", targetType: "asset" },
  { entityType: "folder", table: "folders", column: "parent_id", targetType: "folder" },
  { entityType: "layer", table: "scene_layers", column: "scene_id", targetType: "scene" },
  { entityType: "token_art", table: "token_art", column: "token_id", targetType: "token" },
  { entityType: "token_art", table: "token_art", column: "image_asset", targetType: "asset" },
  { entityType: "session_state", table: "session_state", column: "active_scene_id", targetType: "scene" },
];

/** The finding's row id: the same problem found again is the same row. */
export function findingId(f: Pick<Finding, "kind" | "entity_type" | "entity_id" | "field">): string {
  return `${f.kind}:${f.entity_type}:${f.entity_id}:${f.field}`;
}

async function danglingReferences(env: Env, sessionId: string): Promise<Finding[]> {
  const db = await sessionDb(env, sessionId);
  const found: Finding[] = [];
  for (const ref of references) {
    // Table and column names come from the constant list above, never from input.
    const target = targets[ref.targetType];
    const column = sql.raw(`e.${ref.column}`);
    const key = sql.raw(`t.${target.column}`);
    const rows = await db.all<{ id: string; ref: string }>(
      sql`SELECT e.id AS id, ${column} AS ref FROM ${sql.raw(ref.table)} e
          LEFT JOIN ${sql.raw(target.table)} t ON t.session_id = e.session_id AND ${key} = ${column}
          WHERE e.session_id = ${sessionId} AND ${column} IS NOT NULL AND ${key} IS NULL
          ORDER BY e.id`,
    );
    for (const row of rows) {
      found.push({
        kind: "dangling_reference",
        entity_type: ref.entityType,
        entity_id: row.id,
        field: ref.column,
        detail: { references: ref.targetType, missing_id: row.ref },
      });
    }
  }
  return found;
}

/** The same for module entities (domain/module-api.ts): each declared reference, read from `data`. */
async function danglingModuleReferences(env: Env, sessionId: string): Promise<Finding[]> {
  const db = await sessionDb(env, sessionId);
  const found: Finding[] = [];
  for (const type of registry.moduleTypes) {
    for (const ref of registry.moduleEntity(type)?.references ?? []) {
      if (ref.field.includes(".")) {
        found.push(...(await danglingNested(db, sessionId, type, ref.field, ref.type as EntityType)));
        continue;
      }
      const path = `$.${ref.field}`;
      const named = sql`json_extract(e.data, ${path})`;
      const target = isCoreType(ref.type)
        ? sql`${sql.raw(getTableName(entityTables[ref.type]))} t ON t.session_id = e.session_id AND t.id = ${named}`
        : sql`module_entities t ON t.session_id = e.session_id AND t.entity_type = ${ref.type} AND t.id = ${named}`;
      const rows = await db.all<{ id: string; ref: string }>(
        sql`SELECT e.id AS id, ${named} AS ref FROM module_entities e LEFT JOIN ${target}
            WHERE e.session_id = ${sessionId} AND e.entity_type = ${type} AND ${named} IS NOT NULL AND t.id IS NULL
            ORDER BY e.id`,
      );
      for (const row of rows) {
        found.push({
          kind: "dangling_reference",
          entity_type: type,
          entity_id: row.id,
          field: ref.field,
          detail: { references: ref.type, missing_id: row.ref },
        });
      }
    }
  }
  return found;
}

/** A reference path into a JSON field (`combatants.*.token_id`): read in memory, module entities are few. */
async function danglingNested(db: Db, sessionId: string, type: EntityType, field: string, target: EntityType): Promise<Finding[]> {
  const rows = await selectAllStatement(db, sessionId, type);
  const named = rows.flatMap((row) => {
    const entity = rowToEntity(type, row as Record<string, unknown>);
    return valuesAt(entity, field).flatMap(({ path, value }) => (typeof value === "string" ? [{ id: entity.id, path, value }] : []));
  });
  // Archived targets count as present, as for every other reference.
  const present = await loadEntities(db, sessionId, target, new Set(named.map((n) => n.value)));
  return named
    .filter((n) => !present.has(n.value))
    .map((n) => ({
      kind: "dangling_reference" as const,
      entity_type: type,
      entity_id: n.id,
      field: n.path,
      detail: { references: target, missing_id: n.value },
    }));
}

/** SHA-256 of an object's bytes, read as a stream. */
async function hashObject(bucket: R2Bucket, key: string): Promise<string | undefined> {
  const object = await bucket.get(key);
  if (!object) return undefined;
  const digest = new crypto.DigestStream("SHA-256");
  await object.body.pipeTo(digest);
  return hex(await digest.digest);
}

async function assetObjects(env: Env, sessionId: string): Promise<Finding[]> {
  const rows = await (await sessionDb(env, sessionId)).all<{ hash: string; r2_key: string }>(
    sql`SELECT hash, r2_key FROM assets WHERE session_id = ${sessionId} ORDER BY hash`,
  );
  const found: Finding[] = [];
  for (const row of rows) {
    const head = await env.ASSETS.head(row.r2_key);
    if (!head) {
      found.push({ kind: "missing_object", entity_type: "asset", entity_id: row.hash, field: "r2_key", detail: { r2_key: row.r2_key } });
      continue;
    }
    const actual = sha256Of(head) ?? (await hashObject(env.ASSETS, row.r2_key));
    if (actual !== row.hash) {
      found.push({
        kind: "checksum_mismatch",
        entity_type: "asset",
        entity_id: row.hash,
        field: "r2_key",
        detail: { r2_key: row.r2_key, expected_sha256: row.hash, actual_sha256: actual ?? null },
      });
    }
  }
  return found;
}

/** Every problem of one session as found now, without recording anything. */
export async function findProblems(env: Env, sessionId: string): Promise<Finding[]> {
  return [
    ...(await danglingReferences(env, sessionId)),
    ...(await danglingModuleReferences(env, sessionId)),
    ...(await assetObjects(env, sessionId)),
  ];
}

/** Checks one session and records what it found; returns the open findings after the check. */
export async function checkSession(env: Env, sessionId: string, now: Date): Promise<{ findings: FindingRow[]; checked_at: string }> {
  const db = await sessionDb(env, sessionId);
  const at = now.toISOString();
  const found = await findProblems(env, sessionId);
  const open = await db
    .select({ id: integrityFindings.id })
    .from(integrityFindings)
    .where(and(eq(integrityFindings.session_id, sessionId), isNull(integrityFindings.resolved_at)))
    .all();
  const foundIds = new Set(found.map(findingId));

  const writes = [
    ...found.map((f) =>
      db
        .insert(integrityFindings)
        .values({ session_id: sessionId, id: findingId(f), ...f, first_seen_at: at, last_seen_at: at, resolved_at: null })
        .onConflictDoUpdate({
          target: [integrityFindings.session_id, integrityFindings.id],
          set: {
            detail: sql`excluded.detail`,
            last_seen_at: sql`excluded.last_seen_at`,
            // A finding that had been resolved and is back starts over.
            first_seen_at: sql`CASE WHEN ${integrityFindings.resolved_at} IS NULL THEN ${integrityFindings.first_seen_at} ELSE excluded.first_seen_at END`,
            resolved_at: null,
          },
        }),
    ),
    ...open
      .filter((row) => !foundIds.has(row.id))
      .map((row) =>
        db
          .update(integrityFindings)
          .set({ resolved_at: at })
          .where(and(eq(integrityFindings.session_id, sessionId), eq(integrityFindings.id, row.id))),
      ),
    db
      .insert(integrityRuns)
      .values({ session_id: sessionId, checked_at: at, open_findings: found.length })
      .onConflictDoUpdate({ target: integrityRuns.session_id, set: { checked_at: at, open_findings: found.length } }),
  ];
  const [first, ...rest] = writes;
  if (first) await db.batch([first, ...rest]);
  return { findings: await openFindings(env, sessionId), checked_at: at };
}

export async function openFindings(env: Env, sessionId: string): Promise<FindingRow[]> {
  return (await sessionDb(env, sessionId))
    .select()
    .from(integrityFindings)
    .where(and(eq(integrityFindings.session_id, sessionId), isNull(integrityFindings.resolved_at)))
    .orderBy(integrityFindings.first_seen_at, integrityFindings.id)
    .all();
}

export async function lastCheck(env: Env, sessionId: string): Promise<string | null> {
  const row = await (await sessionDb(env, sessionId))
    .select({ checked_at: integrityRuns.checked_at })
    .from(integrityRuns)
    .where(eq(integrityRuns.session_id, sessionId))
    .get();
  return row?.checked_at ?? null;
}

/** A session is checked again once its last check is this old. */
export const RECHECK_AFTER_MS = 20 * 3600 * 1000;
/**
 * Sessions of one database the cron hands to the queue per run (hourly) at most, least recently checked first:
 * 24 runs a day cover 24 × this many sessions, and a consumer that falls behind does not get the
 * same sessions again and again without bound.
 */
export const SESSIONS_PER_RUN = 1000;

/**
 * The sessions of one database (a shard, worker/db/shards.ts) never checked or not checked for
 * RECHECK_AFTER_MS at `at`, least recently checked first, at most `limit`.
 */
export async function sessionsDueForCheck(d1: D1Database, at: Date, limit = SESSIONS_PER_RUN): Promise<string[]> {
  const due = await getDb(d1).all<{ id: string }>(sql`
    SELECT g.id AS id FROM game_sessions g LEFT JOIN integrity_runs r ON r.session_id = g.id
    WHERE r.checked_at IS NULL OR r.checked_at < ${new Date(at.getTime() - RECHECK_AFTER_MS).toISOString()}
    ORDER BY r.checked_at IS NOT NULL, r.checked_at, g.created_at
    LIMIT ${limit}`);
  return due.map((row) => row.id);
}

/**
 * The scheduled check of one session (a queue message, worker/jobs/queue.ts) due at `at`: skipped
 * when the session was checked since it became due (a repeated message, or a GM's own check), so
 * a late or repeated message never moves `checked_at` back. Returns the open findings, or null
 * when skipped.
 */
export async function scheduledCheck(env: Env, sessionId: string, at: Date): Promise<number | null> {
  const last = await lastCheck(env, sessionId);
  if (last !== null && last >= new Date(at.getTime() - RECHECK_AFTER_MS).toISOString()) return null;
  const { findings } = await checkSession(env, sessionId, at);
  return findings.length;
}
