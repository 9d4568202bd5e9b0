import { env } from "cloudflare:test";
import { is } from "drizzle-orm";
import { getTableConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import { describe, expect, it } from "vitest";
import * as schema from "../../worker/db/schema";
import { DIRECTORY_TABLES, SESSION_TABLES } from "../../worker/db/session-tables";
import { shardByName, shardNames } from "../helpers/shards";

const listed = () => [...SESSION_TABLES.map((t) => t.name), ...DIRECTORY_TABLES];

/** The tables of a migrated database, without SQLite's, D1's and the migrations' own. */
async function tablesOf(d1: D1Database): Promise<string[]> {
  const { results } = await d1
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> 'd1_migrations'",
    )
    .all<{ name: string }>();
  return results.map((r) => r.name).sort();
}

describe("per-session tables", () => {
  it("every table of every migrated database is either per session or of the directory, never both", async () => {
    const names = listed();
    expect(new Set(names).size).toBe(names.length);
    for (const d1 of [env.DB, ...shardNames().map(shardByName)]) {
      const tables = await tablesOf(d1);
      expect(tables.length).toBeGreaterThan(20);
      expect(tables.filter((t) => !names.includes(t))).toEqual([]);
      // Nothing listed that the migrations do not create.
      expect(names.filter((t) => !tables.includes(t))).toEqual([]);
    }
  });

  it("every table drizzle's schema declares is listed", () => {
    const declared = Object.values(schema)
      .filter((value) => is(value, SQLiteTable))
      .map((t) => getTableConfig(t as unknown as SQLiteTable).name)
      .sort();
    expect(declared.length).toBeGreaterThan(20);
    expect(declared.filter((t) => !listed().includes(t))).toEqual([]);
  });

  it("each per-session table is keyed by its session column and a primary key the database agrees with", async () => {
    for (const table of SESSION_TABLES) {
      const { results } = await env.DB.prepare(`SELECT name, pk FROM pragma_table_info(?) ORDER BY pk`).bind(table.name).all<{
        name: string;
        pk: number;
      }>();
      expect(
        results.map((c) => c.name),
        table.name,
      ).toContain(table.sessionColumn);
      expect(
        results.filter((c) => c.pk > 0).map((c) => c.name),
        table.name,
      ).toEqual(table.primaryKey);
    }
    expect(SESSION_TABLES.find((t) => t.name === "game_sessions")?.sessionColumn).toBe("id");
  });
});
