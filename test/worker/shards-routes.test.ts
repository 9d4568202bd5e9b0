/**
 * A session's rows live on its shard and nowhere else (worker/db/shards.ts): for each configured
 * shard, a session placed there by its creator's origin goes through the REST routes (entities,
 * batch, reads, assets, import, export) and every per-session row it made is on that shard, none
 * on the directory or the other shard; memberships and the directory entry are on the directory.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../worker/lib/crypto";
import { makeBundle, postImport } from "../helpers/bundles";
import { ORIGIN, type Reply, S, TestUser } from "../helpers/client";
import { makePng } from "../helpers/images";
import { originOf, shardByName, shardNameOf, shardNames } from "../helpers/shards";
import { fetchAnonymous, upload } from "../helpers/uploads";

const uuid = () => crypto.randomUUID();

/** Creates a session as `gm` from a request whose `cf` says it comes from `origin`. */
async function createFrom(gm: TestUser, origin: object, name: string): Promise<Reply> {
  const res = await SELF.fetch(`${ORIGIN}/api/vtt/sessions`, {
    method: "POST",
    headers: { cookie: gm.cookie, "x-csrf-token": gm.csrf, "content-type": "application/json" },
    body: JSON.stringify({ name }),
    cf: origin as RequestInitCfProperties,
  });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

async function sessionsOn(): Promise<Map<string, number>> {
  const { results } = await env.DB.prepare("SELECT shard, COUNT(*) AS n FROM session_directory GROUP BY shard").all<{
    shard: string;
    n: number;
  }>();
  return new Map(results.map((r) => [r.shard, r.n]));
}

/**
 * Directory entries of no real session on `shard` until it holds more sessions than any other
 * shard: placement by load alone would then never choose it, so a session landing there was
 * placed by its origin.
 */
async function makeMostLoaded(shard: string): Promise<void> {
  const load = await sessionsOn();
  const others = Math.max(
    0,
    ...shardNames()
      .filter((s) => s !== shard)
      .map((s) => load.get(s) ?? 0),
  );
  const missing = others + 2 - (load.get(shard) ?? 0);
  const now = new Date().toISOString();
  for (let i = 0; i < missing; i++) {
    await env.DB.prepare(
      "INSERT INTO session_directory (session_id, shard, region, state, name, invite_code, created_by, created_at) VALUES (?, ?, '', 'active', 'ballast', ?, 'nobody', ?)",
    )
      .bind(`ballast-${uuid()}`, shard, `ballast-${uuid()}`, now)
      .run();
  }
}

/** The tables of a database with a `session_id` column (game_sessions is keyed by `id`). */
async function sessionTables(db: D1Database): Promise<string[]> {
  const { results } = await db
    .prepare(
      "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_cf_%' AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name = 'session_id') ORDER BY m.name",
    )
    .all<{ name: string }>();
  return results.map((r) => r.name);
}

/** Rows of session `sid` in each table of `db` that has any. */
async function rowsOf(db: D1Database, sid: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of await sessionTables(db)) {
    const row = await db.prepare(`SELECT COUNT(*) AS n FROM "${table}" WHERE session_id = ?`).bind(sid).first<{ n: number }>();
    if (row && row.n > 0) out[table] = row.n;
  }
  const head = await db.prepare("SELECT COUNT(*) AS n FROM game_sessions WHERE id = ?").bind(sid).first<{ n: number }>();
  if (head && head.n > 0) out.game_sessions = head.n;
  return out;
}

async function uploadWindowsOf(db: D1Database, userId: string): Promise<number> {
  const row = await db.prepare("SELECT COUNT(*) AS n FROM asset_upload_windows WHERE user_id = ?").bind(userId).first<{ n: number }>();
  return row?.n ?? 0;
}

describe("a session's rows stay on its shard", () => {
  for (const shard of shardNames()) {
    it(`keeps everything a GM and a player do through the REST routes on ${shard}, and nothing of it elsewhere`, async () => {
      const origin = originOf(shard);
      const gm = await TestUser.register("gm");
      const player = await TestUser.register("pl");

      await makeMostLoaded(shard);
      const created = await createFrom(gm, origin, "Sharded table");
      expect(created.status).toBe(201);
      const sid: string = created.body.session.id;
      expect(await shardNameOf(sid)).toBe(shard);
      const base = S(sid);
      const joined = await player.req("POST", "/api/vtt/sessions/join", { invite_code: created.body.invite_code });
      expect(joined.status).toBe(200);

      // Entities: create, patch.
      const scene = await gm.req("POST", `${base}/scenes`, { name: "Crypt" });
      expect(scene.status).toBe(201);
      const token = await gm.req("POST", `${base}/tokens`, { name: "Hero", scene_id: scene.body.id });
      expect(token.status).toBe(201);
      const patched = await gm.req("PATCH", `${base}/tokens/${token.body.id}`, { x: 3 }, { "if-match": '"1"' });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ id: token.body.id, x: 3, version: 2 });
      const activated = await gm.req("POST", `${base}/scenes/${scene.body.id}/activate`, {});
      expect(activated.status).toBe(200);

      // Batch.
      const batch = await gm.req("POST", `${base}/batch`, {
        ops: [
          { op_id: uuid(), entity_type: "token", op: "create", id: "goblin", data: { name: "Goblin", scene_id: scene.body.id } },
          { op_id: uuid(), entity_type: "token", op: "update", id: token.body.id, base_version: 2, data: { y: 4 } },
        ],
      });
      expect(batch.status).toBe(200);
      expect(batch.body.results.map((r: any) => [r.entity.id, r.entity.version])).toEqual([
        ["goblin", 1],
        [token.body.id, 3],
      ]);

      // Reads, as the player.
      const state = await player.req("GET", `${base}/state`);
      expect(state.status).toBe(200);
      expect(state.body.seq).toBe(batch.body.seq);
      const changes = await player.req("GET", `${base}/changes?since=0`);
      expect(changes.status).toBe(200);
      expect(changes.body.seq).toBe(batch.body.seq);
      const hero = await player.req("GET", `${base}/tokens/${token.body.id}`);
      expect(hero.status).toBe(200);
      expect(hero.body).toMatchObject({ x: 3, y: 4, version: 3 });

      // An asset: uploaded, listed, fetched by its signed URL.
      const map = await makePng(20, 12);
      const uploaded = await upload(gm, base, map, { kind: "map" });
      expect(uploaded.status).toBe(201);
      expect(uploaded.body.asset.hash).toBe(await sha256Hex(map));
      const listed = await gm.req("GET", `${base}/assets`);
      expect(listed.body.items.map((a: any) => a.hash)).toEqual([uploaded.body.asset.hash]);
      const file = await fetchAnonymous(
        new URL(uploaded.body.asset.url, ORIGIN).pathname + new URL(uploaded.body.asset.url, ORIGIN).search,
      );
      expect(file.status).toBe(200);
      expect(await sha256Hex(file.bytes)).toBe(uploaded.body.asset.hash);

      // An import with an Idempotency-Key (its result is kept), then an export of what it made.
      const art = await makePng(10, 10);
      const imported = await postImport(gm, base, await makeBundle({ name: "Halls", tokens: 3, art: [{ bytes: art }] }), {
        headers: { "idempotency-key": uuid() },
      });
      expect(imported.status).toBe(201);
      expect(imported.body.created).toMatchObject({ tokens: 3, token_art: 1, assets: 1 });
      const exported = await SELF.fetch(`${ORIGIN}${base}/scenes/${imported.body.scene.id}/export`, { headers: { cookie: gm.cookie } });
      expect(exported.status).toBe(200);
      expect(exported.headers.get("content-type")).toBe("application/zip");
      await exported.arrayBuffer();

      // Every row of the session is on its shard...
      const home = await rowsOf(shardByName(shard), sid);
      expect(home).toMatchObject({
        game_sessions: 1,
        session_state: 1,
        scenes: 2,
        tokens: 5,
        token_art: 1,
        scene_layers: 1,
        assets: 2,
        import_results: 1,
      });
      expect(home.change_log).toBeGreaterThanOrEqual(batch.body.seq);
      expect(home.applied_ops).toBeGreaterThan(0);
      expect(home.session_members).toBeUndefined();
      expect(home.session_directory).toBeUndefined();
      expect(await uploadWindowsOf(shardByName(shard), gm.id)).toBe(0);

      // ...none on the other shards, and the directory holds only its membership and entry.
      for (const other of shardNames().filter((s) => s !== shard)) {
        expect(await rowsOf(shardByName(other), sid)).toEqual({});
        expect(await uploadWindowsOf(shardByName(other), gm.id)).toBe(0);
      }
      expect(await rowsOf(env.DB, sid)).toEqual({ session_directory: 1, session_members: 2 });
      expect(await uploadWindowsOf(env.DB, gm.id)).toBe(1);
    }, 60_000);
  }
});
