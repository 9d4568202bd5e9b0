/**
 * The directory (env.DB) is what admission, listing and joining read: session_directory and
 * session_members. A session's head, entities and change log live on its shard (DB_SHARD_*), and
 * sockets work the same on either shard.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { create, ORIGIN, S, TestUser } from "../helpers/client";
import { originOf, shardByName, shardNameOf, shardNames, shardOf } from "../helpers/shards";
import { TestSocket } from "../helpers/socket";
import { directoryOne, exec, one } from "../helpers/sql";

/** A session created by `gm` from near `shard`'s region: it is placed on that shard. */
async function sessionOn(gm: TestUser, shard: string, name = "Table") {
  const cf = originOf(shard);
  const res = await SELF.fetch(`${ORIGIN}/api/vtt/sessions`, {
    method: "POST",
    headers: { cookie: gm.cookie, "x-csrf-token": gm.csrf, "content-type": "application/json" },
    body: JSON.stringify({ name }),
    cf,
  });
  const body = await res.json<{ session: { id: string }; invite_code: string }>();
  expect(res.status).toBe(201);
  const sid = body.session.id;
  expect(await shardNameOf(sid)).toBe(shard);
  return { sid, base: S(sid), inviteCode: body.invite_code };
}

/** A GM's session on `shard` with a player who joined it by its invite code. */
async function tableOn(shard: string) {
  const gm = await TestUser.register("gm");
  const player = await TestUser.register("pl");
  const session = await sessionOn(gm, shard);
  const joined = await player.req("POST", "/api/vtt/sessions/join", { invite_code: session.inviteCode });
  expect(joined.status).toBe(200);
  return { gm, player, ...session };
}

/** The other configured shard. */
function otherShard(shard: string): string {
  const other = shardNames().find((s) => s !== shard);
  if (!other) throw new Error("the tests need two shards");
  return other;
}

async function rowsOn(db: D1Database, query: string, ...params: unknown[]): Promise<number> {
  const row = await db
    .prepare(query)
    .bind(...params)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

describe("the session directory", () => {
  it("has two shards configured, and placement near each region puts sessions on its shard", async () => {
    expect(shardNames()).toEqual(["DB_SHARD_1", "DB_SHARD_2"]);
    const gm = await TestUser.register("gm");
    for (const shard of shardNames()) {
      const { sid } = await sessionOn(gm, shard);
      const listed = await directoryOne<{ shard: string; created_by: string }>(
        "SELECT shard, created_by FROM session_directory WHERE session_id = ?",
        sid,
      );
      expect(listed).toEqual({ shard, created_by: gm.id });
    }
  });

  for (const shard of ["DB_SHARD_1", "DB_SHARD_2"]) {
    it(`lists and admits a session on ${shard} from the directory, while its head and entities are on the shard`, async () => {
      const t = await tableOn(shard);
      const scene = await create(t.gm, t.base, "scenes", { name: "Crypt" });
      // Membership and listing: the directory.
      const members = await env.DB.prepare("SELECT user_id, role FROM session_members WHERE session_id = ? ORDER BY role")
        .bind(t.sid)
        .all<{ user_id: string; role: string }>();
      expect(members.results).toEqual([
        { user_id: t.gm.id, role: "gm" },
        { user_id: t.player.id, role: "player" },
      ]);
      // The head and the entities: the shard, and nowhere else.
      const shardDb = shardByName(shard);
      expect(await one(t.sid, "SELECT id, name FROM game_sessions WHERE id = ?", t.sid)).toEqual({ id: t.sid, name: "Table" });
      expect(await rowsOn(shardDb, "SELECT COUNT(*) AS n FROM scenes WHERE id = ?", scene.id)).toBe(1);
      for (const db of [env.DB, shardByName(otherShard(shard))]) {
        expect(await rowsOn(db, "SELECT COUNT(*) AS n FROM game_sessions WHERE id = ?", t.sid)).toBe(0);
        expect(await rowsOn(db, "SELECT COUNT(*) AS n FROM scenes WHERE session_id = ?", t.sid)).toBe(0);
        expect(await rowsOn(db, "SELECT COUNT(*) AS n FROM change_log WHERE session_id = ?", t.sid)).toBe(0);
      }
      expect(await rowsOn(shardDb, "SELECT COUNT(*) AS n FROM session_members WHERE session_id = ?", t.sid)).toBe(0);

      // The list shows the directory's name, not the shard's copy.
      await env.DB.prepare("UPDATE session_directory SET name = 'Renamed in the directory' WHERE session_id = ?").bind(t.sid).run();
      await exec(t.sid, "UPDATE game_sessions SET name = 'Stale copy' WHERE id = ?", t.sid);
      const list = await t.player.req("GET", "/api/vtt/sessions");
      expect(list.status).toBe(200);
      expect(list.body.sessions).toEqual([{ id: t.sid, name: "Renamed in the directory", role: "player" }]);

      // A member row on the shard admits no one; the directory's row is what admits.
      const stranger = await TestUser.register("st");
      await exec(
        t.sid,
        "INSERT INTO session_members (session_id, user_id, role, joined_at) VALUES (?, ?, 'gm', ?)",
        t.sid,
        stranger.id,
        new Date().toISOString(),
      );
      const refused = await stranger.req("GET", `${t.base}/state`);
      expect(refused.status).toBe(404);
      expect(refused.body.error.code).toBe("not_found");
      expect((await stranger.req("GET", "/api/vtt/sessions")).body.sessions).toEqual([]);
      expect((await t.player.req("GET", `${t.base}/state`)).status).toBe(200);
      await env.DB.prepare("DELETE FROM session_members WHERE session_id = ? AND user_id = ?").bind(t.sid, t.player.id).run();
      expect((await t.player.req("GET", `${t.base}/state`)).status).toBe(404);
      expect((await t.player.req("GET", "/api/vtt/sessions")).body.sessions).toEqual([]);
    });
  }

  it("joins by the directory's invite code after a rotation, on either shard", async () => {
    for (const shard of shardNames()) {
      const gm = await TestUser.register("gm");
      const { sid, base, inviteCode } = await sessionOn(gm, shard);
      const rotated = await gm.req("POST", `${base}/invite`);
      expect(rotated.status).toBe(200);
      const code: string = rotated.body.invite_code;
      expect(await directoryOne("SELECT invite_code FROM session_directory WHERE session_id = ?", sid)).toEqual({ invite_code: code });
      // Even a shard copy that still held the old code lets no one in with it.
      await exec(sid, "UPDATE game_sessions SET invite_code = ? WHERE id = ?", inviteCode, sid);
      const late = await TestUser.register("late");
      const old = await late.req("POST", "/api/vtt/sessions/join", { invite_code: inviteCode });
      expect(old.status).toBe(404);
      expect(old.body.error.code).toBe("not_found");
      expect(await directoryOne("SELECT role FROM session_members WHERE session_id = ? AND user_id = ?", sid, late.id)).toBeNull();
      const joined = await late.req("POST", "/api/vtt/sessions/join", { invite_code: code });
      expect(joined.status).toBe(200);
      expect(joined.body).toMatchObject({ session: { id: sid }, role: "player" });
      expect(await directoryOne("SELECT role FROM session_members WHERE session_id = ? AND user_id = ?", sid, late.id)).toEqual({
        role: "player",
      });
      expect((await late.req("GET", `${base}/state`)).status).toBe(200);
    }
  });

  it("answers 404 to a user who is not a member, on sessions of both shards, and changes nothing", async () => {
    const stranger = await TestUser.register("st");
    const unknown = await stranger.req("GET", `${S(crypto.randomUUID())}/state`);
    expect(unknown.status).toBe(404);
    for (const shard of shardNames()) {
      const t = await tableOn(shard);
      const scene = await create(t.gm, t.base, "scenes", { name: "Crypt" });
      const seq = (await t.gm.req("GET", `${t.base}/state`)).body.seq;
      const replies = [
        await stranger.req("GET", `${t.base}/state`),
        await stranger.req("GET", `${t.base}/changes?since=0`),
        await stranger.req("GET", t.base),
        await stranger.req("PATCH", `${t.base}/scenes/${scene.id}`, { name: "Mine" }, { "if-match": '"1"' }),
        await stranger.req("PUT", `${t.base}/members/${stranger.id}`, { role: "gm" }),
        await stranger.req("POST", `${t.base}/invite`),
      ];
      for (const r of replies) {
        expect(r.status).toBe(404);
        expect(r.body).toEqual(unknown.body);
      }
      const socket = await TestSocket.connect(stranger, t.base);
      expect(socket.status).toBe(404);
      expect(socket.socket).toBeUndefined();
      expect((await t.gm.req("GET", `${t.base}/state`)).body.seq).toBe(seq);
      expect(await one(t.sid, "SELECT name, version FROM scenes WHERE id = ?", scene.id)).toEqual({ name: "Crypt", version: 1 });
      expect(await directoryOne("SELECT role FROM session_members WHERE session_id = ? AND user_id = ?", t.sid, stranger.id)).toBeNull();
    }
  });
});

describe("sockets on both shards", () => {
  for (const shard of ["DB_SHARD_1", "DB_SHARD_2"]) {
    it(`carries a GM's socket write on ${shard} to the GM and the player, and lands it on that shard's change log`, async () => {
      const t = await tableOn(shard);
      const scene = await create(t.gm, t.base, "scenes", { name: "Crypt" });
      expect((await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {})).status).toBe(200);
      const token = await create(t.gm, t.base, "tokens", { name: "Orc", scene_id: scene.id });
      const gm = await TestSocket.open(t.gm, t.base);
      const player = await TestSocket.open(t.player, t.base);
      try {
        const id = crypto.randomUUID();
        gm.send({
          type: "ops",
          id,
          ops: [{ op_id: crypto.randomUUID(), entity_type: "token", op: "update", id: token.id, base_version: 1, data: { x: 64 } }],
        });
        const reply = await gm.next((m) => (m.type === "result" || m.type === "error") && m.id === id, "the write's answer");
        expect(reply).toMatchObject({ type: "result", results: [{ entity: { id: token.id, x: 64, version: 2 } }] });
        const seen = (m: any) => m.type === "change" && m.entity_id === token.id && m.version === 2;
        // The change is broadcast before the answer.
        const atGm = gm.all("change").find(seen);
        const atPlayer = await player.next(seen, "the change at the player");
        expect(atGm.seq).toBe(reply.seq);
        expect(atPlayer.seq).toBe(reply.seq);
        // The write lands on the session's shard, and on no other database.
        await vi.waitFor(
          async () =>
            expect(
              await one(t.sid, "SELECT entity_id, version, op FROM change_log WHERE session_id = ? AND seq = ?", t.sid, reply.seq),
            ).toEqual({ entity_id: token.id, version: 2, op: "update" }),
          { timeout: 5000, interval: 20 },
        );
        expect(await one(t.sid, "SELECT x, version FROM tokens WHERE id = ?", token.id)).toEqual({ x: 64, version: 2 });
        expect(await shardNameOf(t.sid)).toBe(shard);
        expect((await shardOf(t.sid)) === shardByName(shard)).toBe(true);
        for (const db of [env.DB, shardByName(otherShard(shard))])
          expect(await rowsOn(db, "SELECT COUNT(*) AS n FROM change_log WHERE session_id = ?", t.sid)).toBe(0);
      } finally {
        gm.close();
        player.close();
      }
    });
  }
});
