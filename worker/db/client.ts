import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

function makeDb(d1: D1Database) {
  return drizzle(d1, { schema });
}
export type Db = ReturnType<typeof makeDb>;

/** One drizzle instance per D1 binding object, instead of one per request. */
const instances = new WeakMap<D1Database, Db>();

export function getDb(d1: D1Database): Db {
  let db = instances.get(d1);
  if (!db) {
    db = makeDb(d1);
    instances.set(d1, db);
  }
  return db;
}

/** D1 allows at most 100 bound parameters a statement: the row count a multi-row statement may carry. */
export const MAX_BOUND_PARAMS = 100;

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function nowIso(): string {
  return new Date().toISOString();
}
