import { createExecutionContext, env, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { SESSION_TABLES } from "../../worker/db/session-tables";
import { DIRECTORY_CACHE_MS, forgetShard, lookupSession, rememberShard } from "../../worker/db/shards";
import worker from "../../worker/index";
import type { SessionObject } from "../../worker/session/session-object";
import { create, newTable, ORIGIN, type Reply, type TestUser } from "../helpers/client";
import { shardByName, shardNameOf, shardNames } from "../helpers/shards";
import { TestSocket } from "../helpers/socket";
import { sessionStub } from "../helpers/write-log";

const ADMIN_TOKEN = "test-admin-token-0123456789";

/** A request to the worker with ADMIN_TOKEN configured (as test/worker/admin.test.ts does). */
async function admin(method: string, path: string, body?: unknown, token: string | null = ADMIN_TOKEN): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const request = new Request(`${ORIGIN}${path}`, {
    method,
    headers,
    body: body === undefined ? null : typeof body === "string" ? body : JSON.stringify(body),
  });
  const ctx = createExecutionContext();
  const res = await worker.fetch(request, { ...env, ADMIN_TOKEN } as Env, ctx);
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

const moveTo = (sid: string, shard: string, token: string | null = ADMIN_TOKEN) =>
  admin("POST", `/api/vtt/admin/sessions/${sid}/move`, { shard }, token);

/** The configured shard the session is not on. */
async function otherShard(sid: string): Promise<string> {
  const here = await shardNameOf(sid);
  const other = shardNames().find((s) => s !== here);
  if (!other) throw new Error("the tests need two shards");
  return other;
}

/** Rows of the session per per-session table on one database. */
async function counts(d1: D1Database, sid: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of SESSION_TABLES) {
    out[t.name] = Number(await d1.prepare(`SELECT COUNT(*) AS n FROM ${t.name} WHERE ${t.sessionColumn} = ?`).bind(sid).first("n"));
  }
  return out;
}

const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);

async function directoryEntry(sid: string) {
  return env.DB.prepare("SELECT shard, region, state, moved_at, invite_code FROM session_directory WHERE session_id = ?")
    .bind(sid)
    .first<{ shard: string; region: string; state: string; moved_at: string | null; invite_code: string }>();
}

/** Runs the session object's alarm as if every planned cleanup of an old copy were due. */
async function runCleanupsNow(sid: string): Promise<void> {
  await runInDurableObject(sessionStub(sid), (_o: SessionObject, state) => {
    const plan = state.storage.kv.get<Record<string, number>>("move_cleanups") ?? {};
    state.storage.kv.put("move_cleanups", Object.fromEntries(Object.keys(plan).map((shard) => [shard, 0])));
  });
  await runDurableObjectAlarm(sessionStub(sid));
}

/** A session with scenes, layers, folders, tokens, a lock, acks and history: most per-session tables hold rows. */
async function richTable() {
  const t = await newTable();
  const scene = await create(t.gm, t.base, "scenes", { name: "Crypt" });
  await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {});
  const hero = await create(t.gm, t.base, "tokens", { name: "Hero", scene_id: scene.id, owner_user_ids: [t.player.id] });
  await create(t.gm, t.base, "tokens", { name: "Orc", scene_id: scene.id, stats: { hp: 7, gm_notes: "ambush" } });
  await create(t.gm, t.base, "folders", { name: "Monsters", kind: "token" });
  const moved = await t.gm.req("PATCH", `${t.base}/tokens/${hero.id}`, { x: 12 }, { "if-match": '"1"' });
  expect(moved.status).toBe(200);
  expect((await t.gm.req("POST", `${t.base}/locks`, { scene_id: scene.id })).status).toBe(201);
  return { ...t, scene, hero };
}

/** What members read of a session: its state and its changes since 0, for the GM and the player. */
async function reads(t: { gm: TestUser; player: TestUser; base: string }) {
  const out: unknown[] = [];
  for (const user of [t.gm, t.player]) {
    for (const path of ["state", "changes?since=0"]) {
      const r = await user.req("GET", `${t.base}/${path}`);
      expect(r.status).toBe(200);
      out.push(r.body);
    }
  }
  return out;
}

const paused: { release?: () => void } = {};
afterEach(() => paused.release?.());

/** Holds the session's next move after its writes settled, before its copy, until `release`. */
async function holdMove(sid: string): Promise<() => void> {
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  await runInDurableObject(sessionStub(sid), (object: SessionObject) => {
    object.movePause = gate;
  });
  paused.release = release;
  return async () => {
    release();
    await runInDurableObject(sessionStub(sid), (object: SessionObject) => {
      object.movePause = undefined;
    });
  };
}

const uuid = () => crypto.randomUUID();

describe("POST /api/vtt/admin/sessions/{sid}/move", () => {
  it("copies every per-session row to the target, flips the directory, and members read the same", async () => {
    const t = await richTable();
    const from = await shardNameOf(t.sid);
    const to = await otherShard(t.sid);
    const before = await counts(shardByName(from), t.sid);
    expect(before.game_sessions).toBe(1);
    expect(before.tokens).toBe(2);
    expect(before.session_locks).toBe(1);
    expect(before.change_log).toBeGreaterThan(4);
    const readsBefore = await reads(t);

    const r = await moveTo(t.sid, to);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ session_id: t.sid, from, to, checksum: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(r.body.rows).toEqual(before);
    for (const table of SESSION_TABLES) {
      expect(r.body.tables[table.name]).toEqual({ rows: before[table.name], sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    }
    // The stored effect: the target holds what the source held, the directory points there.
    expect(await counts(shardByName(to), t.sid)).toEqual(before);
    expect(await directoryEntry(t.sid)).toMatchObject({ shard: to, region: env.SHARDS[to as keyof typeof env.SHARDS], state: "active" });
    expect((await directoryEntry(t.sid))?.moved_at).toBe(r.body.moved_at);
    expect(await runInDurableObject(sessionStub(t.sid), (o: SessionObject) => o.shard)).toBe(to);
    expect(await reads(t)).toEqual(readsBefore);
    // Locks are read from the new shard and still hold.
    expect((await t.gm.req("GET", `${t.base}/locks`)).body.locks).toMatchObject([{ scene_id: t.scene.id, holder_user_id: t.gm.id }]);

    // The old copy stays until the cleanup, which removes exactly it.
    expect(await counts(shardByName(from), t.sid)).toEqual(before);
    await runCleanupsNow(t.sid);
    expect(total(await counts(shardByName(from), t.sid))).toBe(0);
    expect(await counts(shardByName(to), t.sid)).toEqual(before);
    expect(await reads(t)).toEqual(readsBefore);
    // Memberships are the directory's: untouched.
    const members = await env.DB.prepare("SELECT COUNT(*) AS n FROM session_members WHERE session_id = ?").bind(t.sid).first("n");
    expect(members).toBe(2);
  });

  it("writes after the move land on the new shard only", async () => {
    const t = await richTable();
    const from = await shardNameOf(t.sid);
    const to = await otherShard(t.sid);
    expect((await moveTo(t.sid, to)).status).toBe(200);
    const seqBefore = Number(await shardByName(from).prepare("SELECT seq FROM game_sessions WHERE id = ?").bind(t.sid).first("seq"));
    const token = await create(t.gm, t.base, "tokens", { name: "Late", scene_id: t.scene.id });
    const patched = await t.gm.req("PATCH", `${t.base}/settings`, { poll_interval_ms: 7000 });
    expect(patched.status).toBe(200);
    const where = "SELECT COUNT(*) AS n FROM tokens WHERE session_id = ? AND id = ?";
    expect(await shardByName(to).prepare(where).bind(t.sid, token.id).first("n")).toBe(1);
    expect(await shardByName(from).prepare(where).bind(t.sid, token.id).first("n")).toBe(0);
    expect(Number(await shardByName(from).prepare("SELECT seq FROM game_sessions WHERE id = ?").bind(t.sid).first("seq"))).toBe(seqBefore);
    const head = await shardByName(to)
      .prepare("SELECT seq, settings FROM game_sessions WHERE id = ?")
      .bind(t.sid)
      .first<{ seq: number; settings: string }>();
    expect(head?.seq).toBeGreaterThan(seqBefore);
    expect(JSON.parse(head?.settings ?? "{}")).toMatchObject({ poll_interval_ms: 7000 });
  });

  it("keeps every write acknowledged during a move exactly once, gap-free, and streams each change once in order", async () => {
    const t = await richTable();
    const from = await shardNameOf(t.sid);
    const to = await otherShard(t.sid);
    const player = await TestSocket.open(t.player, t.base);
    const gmSocket = await TestSocket.open(t.gm, t.base);
    const streamedFrom = player.messages.length;
    const seq0 = (await t.gm.req("GET", `${t.base}/state`)).body.seq as number;

    // The GM writes over REST without pause; a 503 is retried with the same body (the same op ids), as the client does.
    const acked = new Map<string, number>();
    const written = new Set<string>();
    const refused: Reply[] = [];
    const unexpected: Reply[] = [];
    let stop = false;
    const unhold = await holdMove(t.sid);
    // Promises, not polling: the writer starts the move after its fifth write and tells of its first refusal.
    let moving: Promise<Reply> | undefined;
    let firstRefusal = () => {};
    const refusedOnce = new Promise<void>((resolve) => {
      firstRefusal = resolve;
    });
    const writer = (async () => {
      for (let i = 0; (!stop || i < 30) && i < 500; i++) {
        if (i === 5) moving = moveTo(t.sid, to);
        const id = uuid();
        const op = { op_id: uuid(), entity_type: "token", op: "create", id, data: { name: `W${i}`, scene_id: t.scene.id } };
        for (let attempt = 0; ; attempt++) {
          const r = await t.gm.req("POST", `${t.base}/batch`, { ops: [op] });
          if (r.status === 200) {
            acked.set(op.op_id, r.body.seq);
            written.add(id);
            break;
          }
          if (r.status !== 503 || attempt > 2000) {
            unexpected.push(r);
            firstRefusal();
            return;
          }
          refused.push(r);
          firstRefusal();
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      }
    })();

    // Frozen: REST writes are refused with 503 `moving` and Retry-After, socket ops get the same error frame.
    await refusedOnce;
    expect(unexpected).toEqual([]);
    const socketId = uuid();
    const socketOp = { op_id: uuid(), entity_type: "token", op: "create", id: socketId, data: { name: "Socket", scene_id: t.scene.id } };
    gmSocket.send({ type: "ops", id: "s1", ops: [socketOp] });
    expect(await gmSocket.next((m) => m.id === "s1")).toMatchObject({
      type: "error",
      code: "unavailable",
      status: 503,
      details: { reason: "moving" },
    });
    // A second move meanwhile is refused; locks are frozen too.
    expect((await moveTo(t.sid, to)).status).toBe(409);
    expect((await t.gm.req("DELETE", `${t.base}/locks/${t.scene.id}`)).status).toBe(503);
    expect((await directoryEntry(t.sid))?.state).toBe("moving");
    await unhold();
    const moved = await (moving as Promise<Reply>);
    expect(moved.status).toBe(200);
    // The client sends the refused socket op again with its op id: applied once, on the new shard.
    gmSocket.send({ type: "ops", id: "s2", ops: [socketOp] });
    const again = await gmSocket.next((m) => m.id === "s2");
    expect(again.type).toBe("result");
    acked.set(socketOp.op_id, again.seq);
    written.add(socketId);
    stop = true;
    await writer;
    expect(unexpected).toEqual([]);
    expect(refused.length).toBeGreaterThan(0);

    const target = shardByName(to);
    for (const [opId, seq] of acked) {
      const row = await target
        .prepare("SELECT COUNT(*) AS n, MAX(seq) AS seq FROM applied_ops WHERE session_id = ? AND op_id = ?")
        .bind(t.sid, opId)
        .first<{
          n: number;
          seq: number;
        }>();
      expect(row).toEqual({ n: 1, seq });
    }
    const tokens = await target.prepare("SELECT id FROM tokens WHERE session_id = ?").bind(t.sid).all<{ id: string }>();
    const ids = tokens.results.map((r) => r.id);
    expect(ids.filter((id) => written.has(id)).length).toBe(written.size);
    expect(written.size).toBe(acked.size);
    const { results: log } = await target
      .prepare("SELECT seq FROM change_log WHERE session_id = ? ORDER BY seq")
      .bind(t.sid)
      .all<{ seq: number }>();
    const seqs = log.map((l) => l.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    const head = Number(await target.prepare("SELECT seq FROM game_sessions WHERE id = ?").bind(t.sid).first("seq"));
    expect(head).toBe(seqs.at(-1));
    // Nothing written during or after the move reached the old shard.
    expect(Number(await shardByName(from).prepare("SELECT seq FROM game_sessions WHERE id = ?").bind(t.sid).first("seq"))).toBeLessThan(
      head,
    );

    // The player's socket saw every change after seq0 once, in order (every token here is visible to players).
    await player.next((m) => m.type === "change" && m.seq === head);
    const changes = player.messages
      .slice(streamedFrom)
      .filter((m) => m.type === "change")
      .map((m) => m.seq as number);
    expect(changes).toEqual(seqs.filter((s) => s > seq0));
    expect(player.messages.slice(streamedFrom).filter((m) => m.type === "reload")).toEqual([]);
    player.close();
    gmSocket.close();
  });

  it("refuses the writes the worker makes to the shard itself while a move runs, and lets them through when a dead move left 'moving'", async () => {
    const t = await richTable();
    const to = await otherShard(t.sid);
    const inviteBefore = (await directoryEntry(t.sid))?.invite_code;
    const unhold = await holdMove(t.sid);
    const moving = moveTo(t.sid, to);
    // Held after its writes settled: the directory says "moving" and the object is frozen.
    for (let i = 0; i < 200 && (await directoryEntry(t.sid))?.state !== "moving"; i++) await new Promise((r) => setTimeout(r, 5));
    expect((await directoryEntry(t.sid))?.state).toBe("moving");
    const acksBefore = await shardByName(await shardNameOf(t.sid))
      .prepare("SELECT COUNT(*) AS n FROM acknowledgements WHERE session_id = ?")
      .bind(t.sid)
      .first<{ n: number }>();
    const ack = await t.player.req("POST", `${t.base}/ack`, { event_ids: [901, 902] });
    const invite = await t.gm.req("POST", `${t.base}/invite`);
    for (const r of [ack, invite]) {
      expect(r.status).toBe(503);
      expect(r.body.error).toMatchObject({ code: "unavailable", details: { reason: "moving" } });
      expect(r.headers.get("retry-after")).toBe("1");
    }
    // Reads go on.
    expect((await t.player.req("GET", `${t.base}/state`)).status).toBe(200);
    await unhold();
    expect((await moving).status).toBe(200);
    // Nothing of the refused requests was stored, on either shard or in the directory.
    expect((await directoryEntry(t.sid))?.invite_code).toBe(inviteBefore);
    const acksAfter = await shardByName(to)
      .prepare("SELECT COUNT(*) AS n FROM acknowledgements WHERE session_id = ?")
      .bind(t.sid)
      .first<{ n: number }>();
    expect(acksAfter?.n).toBe(acksBefore?.n);
    // A "moving" left behind by a move that died (no move runs in the object) blocks nothing.
    await env.DB.prepare("UPDATE session_directory SET state = 'moving' WHERE session_id = ?").bind(t.sid).run();
    expect((await t.player.req("POST", `${t.base}/ack`, { event_ids: [903] })).status).toBe(204);
    const rotated = await t.gm.req("POST", `${t.base}/invite`);
    expect(rotated.status).toBe(200);
    expect((await directoryEntry(t.sid))?.invite_code).toBe(rotated.body.invite_code);
  });

  it("isolates that cached the old entry: admission reads the directory fresh, lookups follow after the TTL or forgetShard", async () => {
    const t = await richTable();
    const from = await shardNameOf(t.sid);
    const to = await otherShard(t.sid);
    const now = Date.now();
    const old = await lookupSession(env, t.sid, now);
    expect(old?.shard).toBe(from);
    expect((await moveTo(t.sid, to)).status).toBe(200);
    // This isolate trusts the old entry (as another isolate would, for up to DIRECTORY_CACHE_MS).
    rememberShard(t.sid, { shard: from, region: old?.region ?? "", state: "active" }, now);
    const token = await create(t.gm, t.base, "tokens", { name: "After", scene_id: t.scene.id });
    // A request right after the move reads the new shard: admission read the directory itself.
    const read = await t.player.req("GET", `${t.base}/tokens/${token.id}`);
    expect(read.status).toBe(200);
    expect(read.body.name).toBe("After");
    expect((await lookupSession(env, t.sid, Date.now()))?.shard).toBe(to);
    // The stale entry: trusted within the TTL, replaced after it, or at once once forgotten.
    rememberShard(t.sid, { shard: from, region: "", state: "active" }, now);
    expect((await lookupSession(env, t.sid, now + 1))?.shard).toBe(from);
    expect((await lookupSession(env, t.sid, now + DIRECTORY_CACHE_MS + 1))?.shard).toBe(to);
    rememberShard(t.sid, { shard: from, region: "", state: "active" });
    forgetShard(t.sid);
    expect((await lookupSession(env, t.sid))?.shard).toBe(to);
  });

  it("an object stopped between the directory's flip and its own follows the directory when it wakes", async () => {
    const t = await richTable();
    const from = await shardNameOf(t.sid);
    const to = await otherShard(t.sid);
    expect((await moveTo(t.sid, to)).status).toBe(200);
    // As if the object had stopped right after the directory's flip: its own record still says `from`.
    await runInDurableObject(sessionStub(t.sid), (o: SessionObject, state) => {
      o.setShard(from);
      state.storage.kv.put("move_flip", { from, to });
    });
    const token = await create(t.gm, t.base, "tokens", { name: "After a restart", scene_id: t.scene.id });
    const where = "SELECT COUNT(*) AS n FROM tokens WHERE session_id = ? AND id = ?";
    expect(await shardByName(to).prepare(where).bind(t.sid, token.id).first("n")).toBe(1);
    expect(await shardByName(from).prepare(where).bind(t.sid, token.id).first("n")).toBe(0);
    expect(
      await runInDurableObject(sessionStub(t.sid), (o: SessionObject, state) => [o.shard, state.storage.kv.get("move_flip") ?? null]),
    ).toEqual([to, null]);
    expect(await directoryEntry(t.sid)).toMatchObject({ shard: to, state: "active" });
  });

  it("moves back and forth; a cleanup never deletes the copy the directory points at", async () => {
    const t = await richTable();
    const from = await shardNameOf(t.sid);
    const to = await otherShard(t.sid);
    const before = await counts(shardByName(from), t.sid);
    expect((await moveTo(t.sid, to)).status).toBe(200);
    const back = await moveTo(t.sid, from);
    expect(back.status).toBe(200);
    expect(back.body.rows).toEqual(before);
    await runCleanupsNow(t.sid);
    expect(await counts(shardByName(from), t.sid)).toEqual(before);
    expect(total(await counts(shardByName(to), t.sid))).toBe(0);
    expect((await directoryEntry(t.sid))?.shard).toBe(from);
    expect((await t.player.req("GET", `${t.base}/tokens/${t.hero.id}`)).body.x).toBe(12);
  });

  it("moves a session from before shards off the directory database", async () => {
    const t = await richTable();
    const from = await shardNameOf(t.sid);
    expect((await moveTo(t.sid, "DB")).status).toBe(200);
    expect((await directoryEntry(t.sid))?.shard).toBe("DB");
    const r = await moveTo(t.sid, from);
    expect(r.status).toBe(200);
    expect(r.body.from).toBe("DB");
    await runCleanupsNow(t.sid);
    expect(total(await counts(env.DB, t.sid))).toBe(0);
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM session_members WHERE session_id = ?").bind(t.sid).first("n")).toBe(2);
    expect((await t.gm.req("GET", `${t.base}/tokens/${t.hero.id}`)).body.x).toBe(12);
  });
});

describe("move errors", () => {
  it("401 without the token, 404 for an unknown session, 400 for an unknown shard or a bad body, 409 when already there", async () => {
    const t = await newTable();
    const here = await shardNameOf(t.sid);
    const to = await otherShard(t.sid);
    const expectError = (r: Reply, status: number, code: string) => {
      expect(r.status).toBe(status);
      expect(r.body).toMatchObject({ error: { code, message: expect.any(String) } });
    };
    expectError(await moveTo(t.sid, to, null), 401, "unauthorized");
    expectError(await moveTo(t.sid, to, "wrong-token-0123456789"), 401, "unauthorized");
    expectError(await moveTo("00000000-0000-4000-8000-000000000000", to), 404, "not_found");
    expectError(await moveTo("not a session", to), 404, "not_found");
    expectError(await moveTo(t.sid, "DB_SHARD_9"), 400, "bad_request");
    expectError(await moveTo(t.sid, "users"), 400, "bad_request");
    expectError(await admin("POST", `/api/vtt/admin/sessions/${t.sid}/move`, "{"), 400, "bad_request");
    expectError(await admin("POST", `/api/vtt/admin/sessions/${t.sid}/move`, { shard: to, extra: 1 }), 400, "bad_request");
    expectError(await moveTo(t.sid, here), 409, "conflict");
    // A GM is no operator.
    const asGm = await t.gm.req("POST", `/api/vtt/admin/sessions/${t.sid}/move`, { shard: to });
    expect([401, 404]).toContain(asGm.status);
    expect(await directoryEntry(t.sid)).toMatchObject({ shard: here, state: "active", moved_at: null });
    expect(total(await counts(shardByName(to), t.sid))).toBe(0);
  });

  it("a copy the target refuses leaves the session where it was, writable, its directory entry active", async () => {
    const t = await richTable();
    const from = await shardNameOf(t.sid);
    const to = await otherShard(t.sid);
    const target = shardByName(to);
    const before = await counts(shardByName(from), t.sid);
    await target.prepare("CREATE TRIGGER refuse_moved_tokens BEFORE INSERT ON tokens BEGIN SELECT RAISE(ABORT, 'refused'); END").run();
    try {
      const r = await moveTo(t.sid, to);
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ error: { code: "unavailable", details: { reason: "copy_failed" } } });
      expect(r.headers.get("retry-after")).toBeTruthy();
    } finally {
      await target.prepare("DROP TRIGGER refuse_moved_tokens").run();
    }
    expect(await directoryEntry(t.sid)).toMatchObject({ shard: from, state: "active", moved_at: null });
    expect(await runInDurableObject(sessionStub(t.sid), (o: SessionObject) => o.shard)).toBe(from);
    // The partial copy (game_sessions and the tables before tokens) is gone.
    expect(total(await counts(target, t.sid))).toBe(0);
    expect(await counts(shardByName(from), t.sid)).toEqual(before);
    // Writable as before, on the old shard.
    const token = await create(t.gm, t.base, "tokens", { name: "Still here", scene_id: t.scene.id });
    expect(
      await shardByName(from).prepare("SELECT COUNT(*) AS n FROM tokens WHERE session_id = ? AND id = ?").bind(t.sid, token.id).first("n"),
    ).toBe(1);
    // And a later move goes through.
    const retried = await moveTo(t.sid, to);
    expect(retried.status).toBe(200);
    expect(retried.body.rows.tokens).toBe((before.tokens ?? 0) + 1);
  });
});
