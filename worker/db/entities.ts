/**
 * Generic reads and writes of entity rows, over the typed table of each entity type. A row is the
 * entity plus `session_id`.
 */
import { and, asc, eq, getTableColumns, inArray, isNotNull, isNull, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { type AnyEntity, type CoreEntityType, type EntityType, isCoreType } from "../../domain/entities";
import type { JsonObject } from "../../domain/merge-patch";
import { registry } from "../registry";
import { chunk, type Db, MAX_BOUND_PARAMS } from "./client";
import { entityTables, moduleEntities, type tokens } from "./schema";

/**
 * Every entity table shares the entity columns; drizzle's types cannot express "any of these
 * tables" usefully, so the generic helpers view them through one of them.
 */
type EntityTable = typeof tokens;

export function tableOf(type: CoreEntityType): EntityTable {
  return entityTables[type] as unknown as EntityTable;
}

export function toEntity(row: Record<string, unknown>): AnyEntity {
  const { session_id: _sid, ...entity } = row;
  return entity as AnyEntity;
}

type ModuleRow = typeof moduleEntities.$inferSelect;

/** A module entity from its row: the common columns plus the fields kept in `data`. */
export function fromModuleRow(row: ModuleRow): AnyEntity {
  const { session_id: _sid, entity_type: _type, scene_id: _scene, data, ...base } = row;
  return { ...data, ...base } as AnyEntity;
}

const BASE_KEYS = new Set(["id", "version", "created_at", "updated_at", "updated_by", "archived_at"]);

function toModuleRow(sessionId: string, type: string, entity: AnyEntity): typeof moduleEntities.$inferInsert {
  const data: JsonObject = {};
  for (const [key, value] of Object.entries(entity)) if (!BASE_KEYS.has(key)) data[key] = value as JsonObject[string];
  const sceneField = registry.moduleEntity(type)?.scene;
  const sceneId = sceneField?.via === "scene" ? entity[sceneField.field] : null;
  return {
    session_id: sessionId,
    entity_type: type,
    id: entity.id,
    version: entity.version,
    created_at: entity.created_at,
    updated_at: entity.updated_at,
    updated_by: entity.updated_by,
    archived_at: entity.archived_at,
    scene_id: typeof sceneId === "string" ? sceneId : null,
    data,
  };
}

function moduleScope(sessionId: string, type: string): SQL | undefined {
  return and(eq(moduleEntities.session_id, sessionId), eq(moduleEntities.entity_type, type));
}

const ID_CHUNK = 90;

/** Loads entities of one type by id; the map holds the ones found. */
export async function loadEntities(db: Db, sessionId: string, type: EntityType, ids: Iterable<string>): Promise<Map<string, AnyEntity>> {
  const out = new Map<string, AnyEntity>();
  if (!isCoreType(type)) {
    for (const part of chunk([...new Set(ids)], ID_CHUNK)) {
      const rows = await db
        .select()
        .from(moduleEntities)
        .where(and(moduleScope(sessionId, type), inArray(moduleEntities.id, part)));
      for (const row of rows) out.set(row.id, fromModuleRow(row));
    }
    return out;
  }
  const table = tableOf(type);
  for (const part of chunk([...new Set(ids)], ID_CHUNK)) {
    const rows = await db
      .select()
      .from(table)
      .where(and(eq(table.session_id, sessionId), inArray(table.id, part)));
    for (const row of rows) out.set(row.id, toEntity(row));
  }
  return out;
}

export async function loadEntity(db: Db, sessionId: string, type: EntityType, id: string): Promise<AnyEntity | undefined> {
  if (!isCoreType(type)) {
    const row = await db
      .select()
      .from(moduleEntities)
      .where(and(moduleScope(sessionId, type), eq(moduleEntities.id, id)))
      .get();
    return row ? fromModuleRow(row) : undefined;
  }
  const table = tableOf(type);
  const row = await db
    .select()
    .from(table)
    .where(and(eq(table.session_id, sessionId), eq(table.id, id)))
    .get();
  return row ? toEntity(row) : undefined;
}

export interface ListOptions {
  archived?: boolean;
  /** A condition on a core type's table. */
  where?: SQL;
  /** Module types that live on a scene (`scene.via === "scene"`): only that scene's. */
  sceneId?: string;
}

/** All entities of a type in a session, live ones by default, archived ones with `archived`. */
export async function listEntities(db: Db, sessionId: string, type: EntityType, options: ListOptions = {}): Promise<AnyEntity[]> {
  if (!isCoreType(type)) {
    const rows = await db
      .select()
      .from(moduleEntities)
      .where(
        and(
          moduleScope(sessionId, type),
          options.archived ? isNotNull(moduleEntities.archived_at) : isNull(moduleEntities.archived_at),
          options.sceneId !== undefined ? eq(moduleEntities.scene_id, options.sceneId) : undefined,
        ),
      )
      .orderBy(asc(moduleEntities.created_at), asc(moduleEntities.id));
    return rows.map(fromModuleRow);
  }
  const table = tableOf(type);
  const rows = await db
    .select()
    .from(table)
    .where(and(eq(table.session_id, sessionId), options.archived ? isNotNull(table.archived_at) : isNull(table.archived_at), options.where))
    .orderBy(asc(table.created_at), asc(table.id));
  return rows.map(toEntity);
}

/**
 * Rows travel to D1 as one JSON text a statement: `INSERT ... SELECT json_extract(value, '$[i]'),
 * ... FROM json_each(?)`, one bound parameter for hundreds of rows, instead of one parameter a
 * value, which D1 caps at 100 a statement (a 500-op batch then took some 200 statements, each
 * built by the query builder and run on its own). Values are first mapped to what the driver would
 * bind (JSON columns to their text, booleans to 0/1); SQLite reads them back from the JSON text
 * as the same text, integers and doubles (-0 aside, which becomes 0 as in any JSON). A statement's
 * JSON stays under `JSON_ROWS_CHARS` characters (at most 3 bytes each in UTF-8), below D1's 2 MB
 * limit on a value; rows whose table gives a column they leave out a default, or holding a value
 * JSON cannot carry, go the bound-parameter way.
 */
export const JSON_ROWS_CHARS = 600_000;

type AnyTable = Parameters<Db["insert"]>[0];
type AnyColumn = ReturnType<typeof getTableColumns<AnyTable>>[string];

/** Each row as the JSON array of its columns' driver values, or undefined when one cannot go that way. */
function jsonRowTexts(columns: [string, AnyColumn][], rows: readonly Record<string, unknown>[]): string[] | undefined {
  const texts: string[] = [];
  for (const row of rows) {
    const values: unknown[] = [];
    for (const [key, column] of columns) {
      const value = row[key];
      if (value === undefined) {
        if (column.hasDefault) return undefined;
        values.push(null);
        continue;
      }
      const driver = value === null ? null : column.mapToDriverValue(value);
      if (driver !== null && typeof driver !== "string" && !(typeof driver === "number" && Number.isFinite(driver))) return undefined;
      values.push(driver);
    }
    texts.push(JSON.stringify(values));
  }
  return texts;
}

/** An upsert's conflict target and the columns it overwrites. */
interface Overwrite {
  target: AnyColumn[];
  set: Record<string, SQL>;
}

/** The statements that insert `rows` through json_each; with `overwrite`, an upsert. */
function jsonInsertStatements(
  db: Db,
  table: AnyTable,
  rows: readonly Record<string, unknown>[],
  overwrite?: Overwrite,
): BatchItem<"sqlite">[] | undefined {
  // The columns drizzle names in an INSERT ... SELECT, in its order (generated ones left out).
  const columns = (Object.entries(getTableColumns(table)) as [string, AnyColumn][]).filter(
    ([, c]) => !(c as unknown as { shouldDisableInsert(): boolean }).shouldDisableInsert(),
  );
  const texts = jsonRowTexts(columns, rows);
  if (!texts) return undefined;
  const picks = sql.raw(columns.map((_, i) => `json_extract(value, '$[${i}]')`).join(", "));
  const statements: BatchItem<"sqlite">[] = [];
  let part: string[] = [];
  let size = 0;
  const flush = () => {
    if (part.length === 0) return;
    // `WHERE true`: SQLite's grammar needs it between a SELECT and an upsert's ON CONFLICT.
    const insert = db.insert(table).select(sql`SELECT ${picks} FROM json_each(${`[${part.join(",")}]`}) WHERE true`);
    statements.push(overwrite ? insert.onConflictDoUpdate(overwrite) : insert);
    part = [];
    size = 0;
  };
  for (const text of texts) {
    if (size + text.length > JSON_ROWS_CHARS) flush();
    part.push(text);
    size += text.length + 1;
  }
  flush();
  return statements;
}

/**
 * Statements that insert or overwrite the given entities: a few statements of many rows each (see
 * `JSON_ROWS_CHARS`), else several rows a statement within D1's limit on bound parameters.
 */
export function upsertStatements(db: Db, sessionId: string, type: EntityType, entities: AnyEntity[]): BatchItem<"sqlite">[] {
  if (entities.length === 0) return [];
  if (!isCoreType(type)) {
    const rows = entities.map((e) => toModuleRow(sessionId, type, e));
    const columns = Object.keys(getTableColumns(moduleEntities));
    const keys = new Set(["session_id", "entity_type", "id"]);
    const set = Object.fromEntries(columns.filter((c) => !keys.has(c)).map((c) => [c, sql.raw(`excluded."${c}"`)]));
    const overwrite = { target: [moduleEntities.session_id, moduleEntities.entity_type, moduleEntities.id], set };
    const viaJson = jsonInsertStatements(db, moduleEntities, rows, overwrite);
    if (viaJson) return viaJson;
    const perStatement = Math.max(1, Math.floor(MAX_BOUND_PARAMS / columns.length));
    return chunk(rows, perStatement).map((part) => db.insert(moduleEntities).values(part).onConflictDoUpdate(overwrite));
  }
  const table = tableOf(type);
  const rows = entities.map((e) => ({ ...e, session_id: sessionId }) as typeof table.$inferInsert);
  const columns = Object.keys(getTableColumns(table));
  const set = Object.fromEntries(columns.filter((c) => c !== "session_id" && c !== "id").map((c) => [c, sql.raw(`excluded."${c}"`)]));
  const overwrite = { target: [table.session_id, table.id], set };
  const viaJson = jsonInsertStatements(db, table, rows, overwrite);
  if (viaJson) return viaJson;
  const perStatement = Math.max(1, Math.floor(MAX_BOUND_PARAMS / columns.length));
  return chunk(rows, perStatement).map((part) => db.insert(table).values(part).onConflictDoUpdate(overwrite));
}

/** Multi-row inserts of plain rows into any table: through json_each when they can, else chunked by D1's bound-parameter limit. */
export function insertStatements<T extends AnyTable>(db: Db, table: T, rows: T["$inferInsert"][]): BatchItem<"sqlite">[] {
  if (rows.length === 0) return [];
  const viaJson = jsonInsertStatements(db, table, rows as Record<string, unknown>[]);
  if (viaJson) return viaJson;
  const columns = Object.keys(getTableColumns(table)).length;
  const perStatement = Math.max(1, Math.floor(MAX_BOUND_PARAMS / columns));
  return chunk(rows, perStatement).map((part) => db.insert(table).values(part));
}

/** Every row of a type in a session, archived ones included, in id order (backups, exports). */
export function selectAllStatement(db: Db, sessionId: string, type: EntityType) {
  if (!isCoreType(type)) {
    return db.select().from(moduleEntities).where(moduleScope(sessionId, type)).orderBy(asc(moduleEntities.id));
  }
  const table = tableOf(type);
  return db.select().from(table).where(eq(table.session_id, sessionId)).orderBy(asc(table.id));
}

/** An entity from a row of `selectAllStatement`, whichever table it came from. */
export function rowToEntity(type: EntityType, row: Record<string, unknown>): AnyEntity {
  return isCoreType(type) ? toEntity(row) : fromModuleRow(row as ModuleRow);
}
