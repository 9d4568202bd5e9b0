import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { configuredShards, placeSession, regionsNear, sessionsPerShard } from "../../worker/db/shards";
import type { SessionObject } from "../../worker/session/session-object";
import { createSession } from "../../worker/session/stub";
import { S, TestUser } from "../helpers/client";
import { shardByName, shardNameOf, shardNames } from "../helpers/shards";

/** Rows of a session in a database, over the tables a new session writes. */
async function rowsIn(db: D1Database, sid: string): Promise<number> {
  const row = await db
    .prepare(
      `SELECT (SELECT COUNT(*) FROM game_sessions WHERE id = ?1) + (SELECT COUNT(*) FROM session_state WHERE session_id = ?1)
        + (SELECT COUNT(*) FROM change_log WHERE session_id = ?1) AS n`,
    )
    .bind(sid)
    .first<{ n: number }>();
  return row?.n ?? -1;
}

async function createFrom(continent: string | undefined) {
  const gm = await TestUser.register("gm");
  gm.cf = continent ? { continent } : undefined;
  const r = await gm.req("POST", "/api/vtt/sessions", { name: `From ${continent ?? "nowhere"}` });
  expect(r.status).toBe(201);
  return { gm, sid: r.body.session.id as string };
}

describe("shards: configuration", () => {
  it("reads the shards and their regions from SHARDS, in order", () => {
    expect(configuredShards(env)).toEqual([
      { name: "DB_SHARD_1", region: "weur" },
      { name: "DB_SHARD_2", region: "enam" },
    ]);
  });

  it("refuses a configuration naming something that is not a bound DB_SHARD_* database or a region that does not exist", () => {
    expect(() => configuredShards({ ...env, SHARDS: { DB: "weur" } })).toThrow(/DB_SHARD_/);
    expect(() => configuredShards({ ...env, SHARDS: { DB_SHARD_9: "weur" } })).toThrow(/no D1 binding/);
    expect(() => configuredShards({ ...env, SHARDS: { DB_SHARD_1: "mars" } })).toThrow(/unknown region/);
    expect(() => configuredShards({ ...env, SHARDS: {} })).toThrow(/no shard/);
    // As a JSON string (a var set from the dashboard) it reads the same.
    expect(configuredShards({ ...env, SHARDS: '{"DB_SHARD_2":"enam"}' as unknown as object })).toEqual([
      { name: "DB_SHARD_2", region: "enam" },
    ]);
  });

  it("ranks regions by the request's continent, east or west by longitude", () => {
    expect(regionsNear({ continent: "EU" })[0]).toBe("weur");
    expect(regionsNear({ continent: "EU", longitude: "30.5" })[0]).toBe("eeur");
    expect(regionsNear({ continent: "NA", longitude: "-74.0" })[0]).toBe("enam");
    expect(regionsNear({ continent: "NA", longitude: "-122.4" })[0]).toBe("wnam");
    expect(regionsNear({ continent: "OC" })[0]).toBe("oc");
    expect(regionsNear({ continent: "AS", longitude: "139.7" })[0]).toBe("apac");
    expect(regionsNear({})).toEqual([]);
  });
});

describe("shards: placement", () => {
  it("puts a session created from Europe on the western European shard and one from North America on the eastern American one", async () => {
    const eu = await createFrom("EU");
    const na = await createFrom("NA");
    expect(await shardNameOf(eu.sid)).toBe("DB_SHARD_1");
    expect(await shardNameOf(na.sid)).toBe("DB_SHARD_2");
    const entry = await env.DB.prepare("SELECT region, state FROM session_directory WHERE session_id = ?").bind(eu.sid).first();
    expect(entry).toEqual({ region: "weur", state: "active" });
    // Its rows are on its shard and nowhere else: not on the other shard, not in the directory.
    expect(await rowsIn(shardByName("DB_SHARD_1"), eu.sid)).toBe(3);
    expect(await rowsIn(shardByName("DB_SHARD_2"), eu.sid)).toBe(0);
    expect(await rowsIn(env.DB, eu.sid)).toBe(0);
    expect(await rowsIn(shardByName("DB_SHARD_2"), na.sid)).toBe(3);
    expect(await rowsIn(shardByName("DB_SHARD_1"), na.sid)).toBe(0);
    // Membership is the directory's: the GM is listed there, with the session.
    const member = await env.DB.prepare("SELECT role FROM session_members WHERE session_id = ? AND user_id = ?")
      .bind(eu.sid, eu.gm.id)
      .first();
    expect(member).toEqual({ role: "gm" });
    const listed = await eu.gm.req("GET", "/api/vtt/sessions");
    expect(listed.body.sessions).toEqual([{ id: eu.sid, name: "From EU", role: "gm" }]);
  });

  it("puts a session from nowhere near a shard on the least loaded one", async () => {
    const load = await sessionsPerShard(env);
    const lighter = (load.get("DB_SHARD_1") ?? 0) <= (load.get("DB_SHARD_2") ?? 0) ? "DB_SHARD_1" : "DB_SHARD_2";
    expect((await placeSession(env, {})).name).toBe(lighter);
    // Antarctica has no region: load decides there too.
    const { sid } = await createFrom("AN");
    expect(await shardNameOf(sid)).toBe(lighter);
  });

  it("spreads sessions created without a known origin across both shards", async () => {
    const placed = new Set<string>();
    for (let i = 0; i < 4; i++) placed.add(await shardNameOf((await createFrom(undefined)).sid));
    expect([...placed].sort()).toEqual(shardNames());
  });

  it("creates the session's object near its shard (locationHint of the shard's region)", async () => {
    const gets: unknown[] = [];
    const fake = {
      idFromName: (name: string) => ({ name }),
      get: (_id: unknown, options?: unknown) => {
        gets.push(options);
        return { createSession: async () => ({ ok: true, seq: 1, created_at: "" }) };
      },
    };
    const fakeEnv = { ...env, SESSION: fake } as unknown as Env;
    await createSession(fakeEnv, "s1", { name: "DB_SHARD_1", region: "weur" }, "u", "Table", "code");
    await createSession(fakeEnv, "s2", { name: "DB_SHARD_2", region: "enam" }, "u", "Table", "code");
    // A shard that names no region (local runs) leaves the object where the runtime puts it.
    await createSession(fakeEnv, "s3", { name: "DB_SHARD_1", region: "" }, "u", "Table", "code");
    expect(gets).toEqual([{ locationHint: "weur" }, { locationHint: "enam" }, undefined]);
  });

  it("tells the session's object its shard, kept in the object's storage", async () => {
    const { sid } = await createFrom("NA");
    const shard = await runInDurableObject(env.SESSION.get(env.SESSION.idFromName(sid)), (object: SessionObject) => object.shard);
    expect(shard).toBe("DB_SHARD_2");
  });
});

describe("shards: sessions from before shards", () => {
  it("serves a session the directory lists on DB itself, and its object learns that shard from the directory", async () => {
    // A session as the single database held it before shards: its rows on DB, listed there by the
    // migration's backfill, its object created without a shard of its own.
    const { gm, sid } = await createFrom("EU");
    const from = shardByName("DB_SHARD_1");
    const legacy = crypto.randomUUID();
    for (const table of ["game_sessions", "session_state", "change_log"]) {
      const key = table === "game_sessions" ? "id" : "session_id";
      const { results } = await from.prepare(`SELECT * FROM ${table} WHERE ${key} = ?`).bind(sid).all<Record<string, unknown>>();
      for (const row of results) {
        const copy = { ...row, [key]: legacy, ...(table === "game_sessions" ? { invite_code: `legacy-${legacy}` } : {}) };
        const columns = Object.keys(copy);
        await env.DB.prepare(`INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`)
          .bind(...Object.values(copy))
          .run();
      }
    }
    await env.DB.batch([
      env.DB.prepare(
        "INSERT INTO session_directory (session_id, shard, region, state, name, invite_code, created_by, created_at) VALUES (?, 'DB', '', 'active', 'Old table', ?, ?, ?)",
      ).bind(legacy, `legacy-${legacy}`, gm.id, new Date().toISOString()),
      env.DB.prepare("INSERT INTO session_members (session_id, user_id, role, joined_at) VALUES (?, ?, 'gm', ?)").bind(
        legacy,
        gm.id,
        new Date().toISOString(),
      ),
    ]);
    const state = await gm.req("GET", `${S(legacy)}/state`);
    expect(state.status).toBe(200);
    const scene = await gm.req("POST", `${S(legacy)}/scenes`, { name: "Still here" });
    expect(scene.status).toBe(201);
    expect(await env.DB.prepare("SELECT name FROM scenes WHERE session_id = ?").bind(legacy).first()).toEqual({ name: "Still here" });
    expect(await from.prepare("SELECT COUNT(*) AS n FROM scenes WHERE session_id = ?").bind(legacy).first()).toEqual({ n: 0 });
    const shard = await runInDurableObject(env.SESSION.get(env.SESSION.idFromName(legacy)), (object: SessionObject) => object.shard);
    expect(shard).toBe("DB");
  });
});
