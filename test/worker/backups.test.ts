import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { pruneBackups, writeFullBackup } from "../../worker/backup/backup";
import { listBackups } from "../../worker/backup/layout";
import { create, newTable, TestUser } from "../helpers/client";
import { runCron, tableOn } from "../helpers/jobs";
import { shardByName, shardNameOf, shardNames } from "../helpers/shards";

/** Everything of a session's state that a restore must bring back, without ids of the session. */
function comparable(state: any) {
  const strip = (items: any[]) => [...items].sort((a, b) => a.id.localeCompare(b.id));
  return {
    scenes: strip(state.scenes),
    folders: strip(state.folders),
    tokens: strip(state.tokens),
    token_art: strip(state.token_art),
    layers: strip(state.layers),
    active_scene_id: state.session_state.active_scene_id,
    flags: state.session_state.flags,
  };
}

async function world(gm: TestUser, base: string) {
  const folder = await create(gm, base, "folders", { name: "Dungeons", kind: "scene" });
  const scene = await create(gm, base, "scenes", { name: "Crypt", folder_id: folder.id, metadata: { mood: "grim" } });
  await create(gm, base, "layers", { scene_id: scene.id, layer_type: "fog", payload: { mask: [1, 0, 1] } });
  const token = await create(gm, base, "tokens", { name: "Hero", scene_id: scene.id, stats: { hp: 9 } });
  const gone = await create(gm, base, "tokens", { name: "Gone", scene_id: scene.id });
  await gm.req("DELETE", `${base}/tokens/${gone.id}`);
  await gm.req("POST", `${base}/scenes/${scene.id}/activate`, {});
  return { scene, token };
}

describe("backups", () => {
  it("a scheduled run writes a snapshot whose restore equals the original", async () => {
    const { gm, base } = await newTable();
    await world(gm, base);
    await runCron(new Date());
    const listed = await gm.req("GET", `${base}/backups`);
    expect(listed.body.backups.map((b: any) => b.kind)).toContain("full");
    const original = (await gm.req("GET", `${base}/state`)).body;
    const restored = await gm.req("POST", `${base}/restore`, { at: new Date().toISOString() });
    expect(restored.status).toBe(201);
    expect(restored.body.restored_seq).toBe(original.seq);
    const copy = (await gm.req("GET", `/api/vtt/sessions/${restored.body.session.id}/state`)).body;
    expect(comparable(copy)).toEqual(comparable(original));
    const archived = await gm.req("GET", `/api/vtt/sessions/${restored.body.session.id}/tokens?archived=true`);
    expect(archived.body.items.map((t: any) => t.name)).toEqual(["Gone"]);
  });

  it("backs up and restores a session on each shard: the copy on a shard, listed in the directory with its members, the original untouched", async () => {
    for (const shard of ["DB_SHARD_1", "DB_SHARD_2"]) {
      const { gm, base, sid, inviteCode } = await tableOn(shard);
      const player = await TestUser.register("pl");
      expect((await player.req("POST", "/api/vtt/sessions/join", { invite_code: inviteCode })).status).toBe(200);
      await world(gm, base);
      await runCron(new Date());
      const refs = await listBackups(env.ASSETS, sid);
      expect(refs.map((r) => r.kind)).toContain("full");
      const manifest = await env.ASSETS.get(`${refs[0]?.prefix}manifest.json`).then((o) => o?.json<any>());
      // The snapshot holds the session's rows, read on its shard, and its members, read in the directory.
      const tokenRows = await shardByName(shard).prepare("SELECT COUNT(*) AS n FROM tokens WHERE session_id = ?").bind(sid).first("n");
      expect(tokenRows).toBe(3);
      expect(manifest.files.find((f: any) => f.name === "token.jsonl").rows).toBe(tokenRows);
      expect(manifest.files.find((f: any) => f.name === "session_members.jsonl").rows).toBe(2);

      const original = (await gm.req("GET", `${base}/state`)).body;
      const originalHead = await shardByName(shard).prepare("SELECT * FROM game_sessions WHERE id = ?").bind(sid).first();
      const restored = await gm.req("POST", `${base}/restore`, {});
      expect(restored.status).toBe(201);
      const copyId: string = restored.body.session.id;
      expect(copyId).not.toBe(sid);

      // Rows on one shard, none anywhere else.
      const home = await shardNameOf(copyId);
      expect(shardNames()).toContain(home);
      for (const name of ["DB", ...shardNames()]) {
        const head = await shardByName(name).prepare("SELECT name, seq FROM game_sessions WHERE id = ?").bind(copyId).first<any>();
        const tokens = await shardByName(name).prepare("SELECT COUNT(*) AS n FROM tokens WHERE session_id = ?").bind(copyId).first("n");
        if (name === home) {
          expect(head).toMatchObject({ name: restored.body.session.name, seq: restored.body.seq });
          expect(tokens).toBe(tokenRows);
        } else {
          expect(head).toBeNull();
          expect(tokens).toBe(0);
        }
      }
      // The directory lists it, with its members: the restoring GM and the original's player.
      const entry = await env.DB.prepare("SELECT shard, state, name, invite_code FROM session_directory WHERE session_id = ?")
        .bind(copyId)
        .first();
      expect(entry).toEqual({ shard: home, state: "active", name: restored.body.session.name, invite_code: restored.body.invite_code });
      const members = await env.DB.prepare("SELECT user_id, role FROM session_members WHERE session_id = ? ORDER BY role")
        .bind(copyId)
        .all();
      expect(members.results).toEqual([
        { user_id: gm.id, role: "gm" },
        { user_id: player.id, role: "player" },
      ]);
      // Both can use it, through the API, as any session.
      const copy = (await gm.req("GET", `/api/vtt/sessions/${copyId}/state`)).body;
      expect(comparable(copy)).toEqual(comparable(original));
      expect((await player.req("GET", `/api/vtt/sessions/${copyId}/state`)).status).toBe(200);
      // The original is where it was, as it was.
      expect(await shardNameOf(sid)).toBe(shard);
      expect(await shardByName(shard).prepare("SELECT * FROM game_sessions WHERE id = ?").bind(sid).first()).toEqual(originalHead);
      expect(comparable((await gm.req("GET", `${base}/state`)).body)).toEqual(comparable(original));
    }
  });

  it("restores to a point in time between two edits from a snapshot and its increments", async () => {
    const { gm, base, sid } = await newTable();
    const { token } = await world(gm, base);
    await runCron(new Date(Date.UTC(2026, 0, 1, 3, 17)));
    await gm.req("PATCH", `${base}/tokens/${token.id}`, { name: "First edit" }, { "if-match": '"1"' });
    const between = new Date();
    await new Promise((r) => setTimeout(r, 5));
    await gm.req("PATCH", `${base}/tokens/${token.id}`, { name: "Second edit" }, { "if-match": '"2"' });
    // An hourly run (not the nightly hour, 03 UTC, which writes a full snapshot) writes an
    // increment of the change log; a run of the suite during 03:xx UTC takes the next hour's.
    let hourly = Date.now() + 1000;
    if (new Date(hourly).getUTCHours() === 3) hourly += 3600_000;
    await runCron(new Date(hourly));
    const refs = await listBackups(env.ASSETS, sid);
    expect(refs.map((r) => r.kind)).toEqual(["full", "incr"]);
    const restored = await gm.req("POST", `${base}/restore`, { at: between.toISOString() });
    expect(restored.status).toBe(201);
    const copy = (await gm.req("GET", `/api/vtt/sessions/${restored.body.session.id}/tokens/${token.id}`)).body;
    expect(copy).toMatchObject({ name: "First edit", version: 2 });
  });

  it("refuses a backup whose file no longer matches its checksum, creating nothing", async () => {
    const { gm, base, sid } = await newTable();
    await world(gm, base);
    const manifest = await writeFullBackup(env, sid, new Date());
    const refs = await listBackups(env.ASSETS, sid);
    const tokens = manifest?.files.find((f) => f.name === "token.jsonl");
    expect(tokens).toBeDefined();
    await env.ASSETS.put(`${refs[0]?.prefix}token.jsonl`, '{"id":"forged"}\n');
    const before = (await gm.req("GET", "/api/vtt/sessions")).body.sessions.length;
    const r = await gm.req("POST", `${base}/restore`, {});
    expect(r.status).toBe(503);
    expect(r.body.error.message).toContain("checksum");
    expect((await gm.req("GET", "/api/vtt/sessions")).body.sessions.length).toBe(before);
  });

  it("answers 404 when no backup covers the time", async () => {
    const { gm, base } = await newTable();
    const r = await gm.req("POST", `${base}/restore`, { at: "2001-01-01T00:00:00Z" });
    expect(r.status).toBe(404);
  });

  it("keeps seven days of snapshots and always the newest", async () => {
    const { gm, base, sid } = await newTable();
    await world(gm, base);
    const day = 86_400_000;
    const now = Date.UTC(2026, 5, 20, 3, 0);
    for (const ago of [10, 9, 3, 1]) await writeFullBackup(env, sid, new Date(now - ago * day));
    expect(await pruneBackups(env.ASSETS, sid, new Date(now))).toBe(2);
    const left = await listBackups(env.ASSETS, sid);
    expect(left.map((r) => r.createdAt)).toEqual([new Date(now - 3 * day).toISOString(), new Date(now - day).toISOString()]);
    expect(await pruneBackups(env.ASSETS, sid, new Date(now + 30 * day))).toBe(1);
    expect(await listBackups(env.ASSETS, sid)).toHaveLength(1);
  });

  it("is for GMs only", async () => {
    const { player, base } = await newTable();
    expect((await player.req("GET", `${base}/backups`)).status).toBe(403);
    expect((await player.req("POST", `${base}/restore`, {})).status).toBe(403);
  });
});
