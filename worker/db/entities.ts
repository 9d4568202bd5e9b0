/**
 * Generic reads and writes of entity rows, over the typed table of each entity type. A row is the
 * entity plus `session_id`.
 */
import { and, asc, eq, getTableColumns, inArray, isNotNull, isNull, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { AnyEntity, EntityType } from "../../domain/entities";
import { chunk, type Db, MAX_BOUND_PARAMS } from "./client";
import { entityTables, type tokens } from "./schema";

/**
 * Every entity table shares the entity columns; drizzle's types cannot express "any of these
 * tables" usefully, so the generic helpers view them through one of them.
 */
type EntityTable = typeof tokens;

export function tableOf(type: EntityType): EntityTable {
  return entityTables[type] as unknown as EntityTable;
}

export function toEntity(row: Record<string, unknown>): AnyEntity {
  const { session_id: _sid, ...entity } = row;
  return entity as AnyEntity;
}

const ID_CHUNK = 90;

/** Loads entities of one type by id; the map holds the ones found. */
export async function loadEntities(db: Db, sessionId: string, type: EntityType, ids: Iterable<string>): Promise<Map<string, AnyEntity>> {
  const table = tableOf(type);
  const out = new Map<string, AnyEntity>();
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
  where?: SQL;
}

/** All entities of a type in a session, live ones by default, archived ones with `archived`. */
export async function listEntities(db: Db, sessionId: string, type: EntityType, options: ListOptions = {}): Promise<AnyEntity[]> {
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
