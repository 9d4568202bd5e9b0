/**
 * Generic reads and writes of entity rows, over the typed table of each entity type. A row is the
 * entity plus `session_id`.
 */
import { and, asc, eq, getTableColumns, inArray, isNotNull, isNull, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { type AnyEntity, type CoreEntityType, type EntityType, isCoreType, moduleEntity } from "../../domain/entities";
import type { JsonObject } from "../../domain/merge-patch";
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
  const sceneField = moduleEntity(type)?.scene;
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
 * Statements that insert or overwrite the given entities, several rows a statement within D1's
 * limit on bound parameters.
 */
export function upsertStatements(db: Db, sessionId: string, type: EntityType, entities: AnyEntity[]): BatchItem<"sqlite">[] {
  if (entities.length === 0) return [];
  if (!isCoreType(type)) {
    const columns = Object.keys(getTableColumns(moduleEntities));
    const perStatement = Math.max(1, Math.floor(MAX_BOUND_PARAMS / columns.length));
    const keys = new Set(["session_id", "entity_type", "id"]);
    const set = Object.fromEntries(columns.filter((c) => !keys.has(c)).map((c) => [c, sql.raw(`excluded."${c}"`)]));
    return chunk(entities, perStatement).map((part) =>
      db
        .insert(moduleEntities)
        .values(part.map((e) => toModuleRow(sessionId, type, e)))
        .onConflictDoUpdate({ target: [moduleEntities.session_id, moduleEntities.entity_type, moduleEntities.id], set }),
    );
  }
  const table = tableOf(type);
  const columns = Object.keys(getTableColumns(table));
  const perStatement = Math.max(1, Math.floor(MAX_BOUND_PARAMS / columns.length));
  const set = Object.fromEntries(columns.filter((c) => c !== "session_id" && c !== "id").map((c) => [c, sql.raw(`excluded."${c}"`)]));
  return chunk(entities, perStatement).map((part) =>
    db
      .insert(table)
      .values(part.map((e) => ({ ...e, session_id: sessionId }) as typeof table.$inferInsert))
      .onConflictDoUpdate({ target: [table.session_id, table.id], set }),
  );
}

/** Multi-row inserts of plain rows into any table, chunked by D1's bound-parameter limit. */
export function insertStatements<T extends Parameters<Db["insert"]>[0]>(
  db: Db,
  table: T,
  rows: T["$inferInsert"][],
): BatchItem<"sqlite">[] {
  if (rows.length === 0) return [];
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
