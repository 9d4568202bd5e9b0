import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { SessionObject } from "../../worker/session/session-object";
import { sessionStub } from "../../worker/session/stub";
import { newTable, type Reply, seqOf, TestUser } from "../helpers/client";
import { shardOf } from "../helpers/shards";
import { TestSocket } from "../helpers/socket";

function expectError(r: Reply, status: number, code: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body?.error?.code).toBe(code);
}

async function roleOf(sid: string, userId: string): Promise<string | undefined> {
  const row = await env.DB.prepare("SELECT role FROM session_members WHERE session_id = ? AND user_id = ?")
    .bind(sid, userId)
    .first<{ role: string }>();
  return row?.role;
}

async function stateRow(sid: string) {
  const row = await (await shardOf(sid))
    .prepare("SELECT id, version, gm_user_ids FROM session_state WHERE session_id = ?")
    .bind(sid)
    .first<{ id: string; version: number; gm_user_ids: string }>();
  if (!row) throw new Error("no session_state");
  return { ...row, gm_user_ids: JSON.parse(row.gm_user_ids) as string[] };
}

describe("session creation", () => {
  it("is written by the session's object: the session, its GM and its logged session state at seq 1", async () => {
    const gm = await TestUser.register("gm");
    const r = await gm.req("POST", "/api/vtt/sessions", { name: "Keep" });
    expect(r.status).toBe(201);
    const sid: string = r.body.session.id;
    // The object served the creation: it knows its session without any other call.
    const bound = await runInDurableObject(sessionStub(env, sid), async (_obj: SessionObject, state) => state.storage.kv.get("session_id"));
    expect(bound).toBe(sid);
    expect(await roleOf(sid, gm.id)).toBe("gm");
    expect((await stateRow(sid)).gm_user_ids).toEqual([gm.id]);
    const log = await (await shardOf(sid)).prepare("SELECT seq, entity_type, op FROM change_log WHERE session_id = ?").bind(sid).all();
    expect(log.results).toEqual([{ seq: 1, entity_type: "session_state", op: "create" }]);
    expect(await seqOf(gm, `/api/vtt/sessions/${sid}`)).toBe(1);
    expect(r.body.session).toMatchObject({ id: sid, name: "Keep" });
  });

  it("refuses a bad body and creates nothing", async () => {
    const gm = await TestUser.register("gm");
    expectError(await gm.req("POST", "/api/vtt/sessions", { name: 7 }), 400, "bad_request");
    expect((await gm.req("GET", "/api/vtt/sessions")).body.sessions).toEqual([]);
  });
});

describe("membership changes", () => {
  it("promote a player: member row and gm_user_ids change together, as a logged version", async () => {
    const t = await newTable();
    const before = await stateRow(t.sid);
    const seq = await seqOf(t.gm, t.base);
    const r = await t.gm.req("PUT", `${t.base}/members/${t.player.id}`, { role: "gm" });
    expect(r.status).toBe(200);
    expect(r.body.member).toMatchObject({ user_id: t.player.id, role: "gm" });
    expect(await roleOf(t.sid, t.player.id)).toBe("gm");
    const after = await stateRow(t.sid);
    expect(after.version).toBe(before.version + 1);
    expect(after.gm_user_ids).toEqual([t.gm.id, t.player.id].sort());
    expect(await seqOf(t.gm, t.base)).toBe(seq + 1);
    const log = await (await shardOf(t.sid))
      .prepare("SELECT entity_type, op, version FROM change_log WHERE session_id = ? AND seq = ?")
      .bind(t.sid, seq + 1)
      .first();
    expect(log).toEqual({ entity_type: "session_state", op: "update", version: after.version });
  });

  it("leaves the member's role as it was when the session state's commit fails", async () => {
    const t = await newTable();
    const seq = await seqOf(t.gm, t.base);
    // A row already holding the next seq makes the batch fail on the change-log key.
    await (await shardOf(t.sid))
      .prepare(
        "INSERT INTO change_log (session_id, seq, entity_type, entity_id, version, op, diff, payload_hash, visible_before, visible_after, updated_by, created_at) VALUES (?, ?, 'scene', 'x', 1, 'create', '{}', '', 0, 0, ?, ?)",
      )
      .bind(t.sid, seq + 1, t.gm.id, new Date().toISOString())
      .run();
    const r = await t.gm.req("PUT", `${t.base}/members/${t.player.id}`, { role: "gm" });
    expect(r.status).toBe(500);
    expect(await roleOf(t.sid, t.player.id)).toBe("player");
    expect((await stateRow(t.sid)).gm_user_ids).toEqual([t.gm.id]);
  });

  it("demoting a co-GM reaches connected GMs as a session_state change and closes the demoted user's socket", async () => {
    const t = await newTable();
    await t.gm.req("PUT", `${t.base}/members/${t.player.id}`, { role: "gm" });
    const gmSocket = await TestSocket.open(t.gm, t.base);
    const demoted = await TestSocket.open(t.player, t.base);
    const r = await t.gm.req("PUT", `${t.base}/members/${t.player.id}`, { role: "player" });
    expect(r.status).toBe(200);
    const change = await gmSocket.next((m) => m.type === "change" && m.entity_type === "session_state");
    expect(change.entity?.gm_user_ids ?? (await stateRow(t.sid)).gm_user_ids).toEqual([t.gm.id]);
    expect((await demoted.waitClosed()).code).toBe(4403);
    expect(await roleOf(t.sid, t.player.id)).toBe("player");
    gmSocket.close();
  });

  it("refuses to demote the last GM and changes nothing", async () => {
    const t = await newTable();
    const before = await stateRow(t.sid);
    expectError(await t.gm.req("PUT", `${t.base}/members/${t.gm.id}`, { role: "player" }), 400, "bad_request");
    expect(await roleOf(t.sid, t.gm.id)).toBe("gm");
    expect(await stateRow(t.sid)).toEqual(before);
  });

  it("refuses a player changing roles", async () => {
    const t = await newTable();
    expectError(await t.player.req("PUT", `${t.base}/members/${t.player.id}`, { role: "gm" }), 403, "forbidden");
    expect(await roleOf(t.sid, t.player.id)).toBe("player");
  });

  it("joining adds a player once, through the object, and keeps a GM's role", async () => {
    const t = await newTable();
    const again = await t.player.req("POST", "/api/vtt/sessions/join", { invite_code: t.inviteCode });
    expect(again.body).toMatchObject({ role: "player", session: { id: t.sid } });
    const gmJoins = await t.gm.req("POST", "/api/vtt/sessions/join", { invite_code: t.inviteCode });
    expect(gmJoins.body.role).toBe("gm");
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM session_members WHERE session_id = ?").bind(t.sid).first<{ n: number }>();
    expect(rows?.n).toBe(2);
    expect((await stateRow(t.sid)).gm_user_ids).toEqual([t.gm.id]);
  });

  it("removing a player deletes the row, closes their socket and shuts them out", async () => {
    const t = await newTable();
    const socket = await TestSocket.open(t.player, t.base);
    const seq = await seqOf(t.gm, t.base);
    const r = await t.gm.req("DELETE", `${t.base}/members/${t.player.id}`);
    expect(r.status).toBe(204);
    expect(await roleOf(t.sid, t.player.id)).toBeUndefined();
    expect((await socket.waitClosed()).code).toBe(4403);
    expectError(await t.player.req("GET", t.base), 404, "not_found");
    // No GM changed: no new session_state version.
    expect(await seqOf(t.gm, t.base)).toBe(seq);
  });

  it("removing a co-GM drops them from gm_user_ids in the same logged version", async () => {
    const t = await newTable();
    await t.gm.req("PUT", `${t.base}/members/${t.player.id}`, { role: "gm" });
    const before = await stateRow(t.sid);
    expect((await t.gm.req("DELETE", `${t.base}/members/${t.player.id}`)).status).toBe(204);
    const after = await stateRow(t.sid);
    expect(after).toMatchObject({ version: before.version + 1, gm_user_ids: [t.gm.id] });
    expect(await roleOf(t.sid, t.player.id)).toBeUndefined();
  });

  it("refuses to remove the last GM, a non-member, or to let a player remove anyone", async () => {
    const t = await newTable();
    const stranger = await TestUser.register("str");
    expectError(await t.gm.req("DELETE", `${t.base}/members/${t.gm.id}`), 400, "bad_request");
    expectError(await t.gm.req("DELETE", `${t.base}/members/${stranger.id}`), 404, "not_found");
    expectError(await t.player.req("DELETE", `${t.base}/members/${t.gm.id}`), 403, "forbidden");
    expect(await roleOf(t.sid, t.gm.id)).toBe("gm");
    expect(await roleOf(t.sid, t.player.id)).toBe("player");
  });
});
