import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { EntityCache } from "../../worker/session/entity-cache";
import type { SessionObject } from "../../worker/session/session-object";
import { newTable, seqOf } from "../helpers/client";
import { shardOf } from "../helpers/shards";
import { TestSocket } from "../helpers/socket";
import { d1Seq, failD1, heroTable, recover, sessionStub as stub, withLog } from "../helpers/write-log";

const uuid = () => crypto.randomUUID();
async function seqsInD1(sid: string): Promise<number[]> {
  const { results } = await (await shardOf(sid))
    .prepare("SELECT seq FROM change_log WHERE session_id = ? ORDER BY seq")
    .bind(sid)
    .all<{ seq: number }>();
  return results.map((r) => r.seq);
}

async function tokenInD1(sid: string, id: string) {
  return (await shardOf(sid)).prepare("SELECT version, x FROM tokens WHERE id = ?").bind(id).first<{ version: number; x: number }>();
}

/** Rows of the object's own log table. */
const logRows = (sid: string) =>
  runInDurableObject(stub(sid), (_o: SessionObject, state) => state.storage.sql.exec("SELECT id FROM write_log").toArray().length);

function gapFree(seqs: number[]): number[] {
  return Array.from({ length: seqs.length }, (_, i) => i + 1);
}

/** D1's change log holds seqs 1…`last`, each once, none missing. */
async function expectSeqsUpTo(sid: string, last: number): Promise<void> {
  const seqs = await seqsInD1(sid);
  expect(seqs).toEqual(gapFree(seqs));
  expect(seqs.at(-1)).toBe(last);
}

describe("write-behind: players wait for the object's log, writers for D1", () => {
  it("broadcasts and plans the next write before D1 has the first, then lands both in order in one D1 batch", async () => {
    const { gm, base, sid, token, before } = await heroTable();
    const socket = await TestSocket.open(gm, base);
    await failD1(sid);

    const first = gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": '"1"' });
    const seen1 = await socket.next((m) => m.type === "change" && m.entity_id === token.id, "the first change");
    expect(seen1).toMatchObject({ seq: before + 1, version: 2 });
    // Planned on top of the first, which D1 does not hold yet.
    const second = gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 2 }, { "if-match": '"2"' });
    const seen2 = await socket.next((m) => m.type === "change" && m.entity_id === token.id, "the second change");
    expect(seen2).toMatchObject({ seq: before + 2, version: 3, entity: { x: 2 } });
    expect(await tokenInD1(sid, token.id)).toMatchObject({ version: 1 });
    expect(await d1Seq(sid)).toBe(before);
    expect(await withLog(sid, (log) => log.size)).toBe(2);
    expect(await logRows(sid)).toBe(2);

    const commitsBefore = await withLog(sid, (log) => log.commits);
    expect(await recover(sid)).toBe(0);
    const [r1, r2] = await Promise.all([first, second]);
    expect([r1.status, r2.status]).toEqual([200, 200]);
    expect([r1.body.version, r2.body.version]).toEqual([2, 3]);
    // Both logged batches went to D1 in one batch.
    expect(await withLog(sid, (log) => log.commits)).toBe(commitsBefore + 1);
    expect(await tokenInD1(sid, token.id)).toMatchObject({ version: 3, x: 2 });
    await expectSeqsUpTo(sid, before + 2);
    expect(await d1Seq(sid)).toBe(before + 2);
    expect(await logRows(sid)).toBe(0);
    socket.close();
  });

  it("answers a replay of an op logged but not yet in D1 with its result, and applies it once", async () => {
    const { gm, base, sid } = await newTable();
    const before = await seqOf(gm, base);
    const socket = await TestSocket.open(gm, base);
    await failD1(sid);
    const op = { op_id: uuid(), entity_type: "token", op: "create", data: { name: "Once" } };
    const first = gm.req("POST", `${base}/batch`, { ops: [op] });
    await socket.next((m) => m.type === "change" && m.seq === before + 1, "the create");
    const again = gm.req("POST", `${base}/batch`, { ops: [op] });
    // The replay logs nothing.
    await runInDurableObject(stub(sid), async (object: SessionObject) => {
      for (let i = 0; i < 50 && object.writeLog.size !== 1; i++) await new Promise((r) => setTimeout(r, 10));
    });
    expect(await withLog(sid, (log) => log.size)).toBe(1);
    await recover(sid);
    const [r1, r2] = await Promise.all([first, again]);
    expect([r1.status, r2.status]).toEqual([200, 200]);
    expect(r2.body.seq).toBe(before + 1);
    expect(r2.body.results[0].entity).toEqual(r1.body.results[0].entity);
    const applied = await (await shardOf(sid))
      .prepare("SELECT COUNT(*) AS n FROM applied_ops WHERE session_id = ? AND op_id = ?")
      .bind(sid, op.op_id)
      .first<{ n: number }>();
    expect(applied?.n).toBe(1);
    const tokens = await (await shardOf(sid))
      .prepare("SELECT COUNT(*) AS n FROM tokens WHERE session_id = ? AND name = 'Once'")
      .bind(sid)
      .first<{ n: number }>();
    expect(tokens?.n).toBe(1);
    expect(await seqsInD1(sid)).toEqual(gapFree(await seqsInD1(sid)));
    socket.close();
  });

  it("answers 503 when D1 does not confirm in time; the logged write lands once after a restart and its retry is a replay", async () => {
    const { gm, base, sid, token, before } = await heroTable();
    await withLog(sid, (log) => {
      log.failNextCommits(1_000_000);
      log.answerTimeoutMs = 200;
    });
    const op = { op_id: uuid(), entity_type: "token", op: "update", id: token.id, base_version: 1, data: { x: 7 } };
    const r = await gm.req("POST", `${base}/batch`, { ops: [op] });
    expect(r.status).toBe(503);
    expect(r.body.error).toMatchObject({ code: "unavailable", details: { reason: "not_yet_durable" } });
    expect(r.headers.get("retry-after")).toBe("2");
    expect(await tokenInD1(sid, token.id)).toMatchObject({ version: 1 });
    expect(await logRows(sid)).toBe(1);

    // A new instance reads the log back (its D1 works) and lands it before anything else.
    await evictDurableObject(stub(sid));
    expect(await withLog(sid, async (log) => (await log.drained(5000)) && log.size)).toBe(0);
    expect(await tokenInD1(sid, token.id)).toMatchObject({ version: 2, x: 7 });
    expect(await logRows(sid)).toBe(0);
    const replay = await gm.req("POST", `${base}/batch`, { ops: [op] });
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ seq: before + 1, results: [{ entity: { version: 2, x: 7 } }] });
    const next = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 8 }, { "if-match": '"2"' });
    expect(next.status).toBe(200);
    await expectSeqsUpTo(sid, before + 2);
  });

  it("does not apply twice a batch D1 took whose answer was lost, nor one still logged when the object restarted", async () => {
    const { gm, base, sid, token, before } = await heroTable();
    // The commit lands, its answer is lost: the flusher finds it in D1 and does not send it again.
    await withLog(sid, (log) => log.failNextCommits(1, true));
    const r = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": '"1"' });
    expect(r.status).toBe(200);
    expect(await tokenInD1(sid, token.id)).toMatchObject({ version: 2, x: 1 });
    expect(await logRows(sid)).toBe(0);

    // A batch in D1 and still in the log (restarted between the commit and the trim).
    await failD1(sid);
    const pending = gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 2 }, { "if-match": '"2"' });
    await runInDurableObject(stub(sid), async (object: SessionObject) => {
      for (let i = 0; i < 100 && object.writeLog.size !== 1; i++) await new Promise((r) => setTimeout(r, 10));
    });
    await withLog(sid, async (log) => {
      const { commitStatements } = await import("../../worker/db/commit");
      const { getDb } = await import("../../worker/db/client");
      const db = getDb(await shardOf(sid));
      const [entry] = log.entries;
      if (!entry) throw new Error("nothing logged");
      const [first, ...rest] = await commitStatements(db, sid, entry, entry.previousSeq, entry.now);
      if (first) await db.batch([first, ...rest]);
    });
    expect(await logRows(sid)).toBe(1);
    await evictDurableObject(stub(sid));
    await pending.catch(() => undefined);
    expect(await withLog(sid, async (log) => (await log.drained(5000)) && log.size)).toBe(0);
    expect(await logRows(sid)).toBe(0);
    expect(await tokenInD1(sid, token.id)).toMatchObject({ version: 3, x: 2 });
    await expectSeqsUpTo(sid, before + 2);
    const next = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 3 }, { "if-match": '"3"' });
    expect(next.status).toBe(200);
    await expectSeqsUpTo(sid, before + 3);
  });

  it("refuses writes with 503 once the backlog reaches its bound, changing nothing, and takes them again once D1 caught up", async () => {
    const { gm, base, sid, token, before } = await heroTable();
    await withLog(sid, (log) => {
      log.failNextCommits(1_000_000);
      log.backlogMax = 2;
      log.answerTimeoutMs = 100;
    });
    const a = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": '"1"' });
    const b = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 2 }, { "if-match": '"2"' });
    expect([a.status, b.status]).toEqual([503, 503]);
    const refused = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 3 }, { "if-match": '"3"' });
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatchObject({ code: "unavailable", details: { reason: "backlog", backlog: 2 } });
    expect(await withLog(sid, (log) => log.size)).toBe(2);
    expect(await logRows(sid)).toBe(2);
    expect(await d1Seq(sid)).toBe(before);

    expect(await recover(sid)).toBe(0);
    expect(await tokenInD1(sid, token.id)).toMatchObject({ version: 3, x: 2 });
    const taken = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 3 }, { "if-match": '"3"' });
    expect(taken.status).toBe(200);
    await expectSeqsUpTo(sid, before + 3);
  });

  it("retries a failing D1 with backoff through the alarm, keeping order", async () => {
    const { gm, base, sid, token, before } = await heroTable();
    await withLog(sid, (log) => {
      log.failNextCommits(4);
      log.retryBaseMs = 20;
    });
    const replies = await Promise.all([
      gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": '"1"' }),
      gm.req("POST", `${base}/scenes`, { name: "Crypt" }),
    ]);
    expect(replies.map((r) => r.status)).toEqual([200, 201]);
    // Two at once, then the alarm's retries with growing delays, then success.
    expect(await withLog(sid, (log) => log.commits)).toBeGreaterThanOrEqual(5);
    expect(await tokenInD1(sid, token.id)).toMatchObject({ version: 2, x: 1 });
    await expectSeqsUpTo(sid, before + 2);
    expect(await logRows(sid)).toBe(0);
  });

  it("answers changes?since and resume for seqs the sockets saw but D1 does not hold yet", async () => {
    const { gm, base, sid, token, before } = await heroTable();
    const socket = await TestSocket.open(gm, base);
    await failD1(sid);
    const write = gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 5 }, { "if-match": '"1"' });
    await socket.next((m) => m.type === "change" && m.seq === before + 1, "the change");
    // Ahead of D1: waits for it instead of answering 410.
    const ahead = gm.req("GET", `${base}/changes?since=${before + 1}`);
    const other = await TestSocket.open(gm, base);
    other.send({ type: "resume", since: before + 1 });
    await new Promise((r) => setTimeout(r, 50));
    await recover(sid);
    const delta = await ahead;
    expect(delta.status).toBe(200);
    expect(delta.body).toEqual({ seq: before + 1, changes: [] });
    const resumed = await other.next((m) => m.type === "resumed" || m.type === "reload", "the resume's answer");
    expect(resumed).toEqual({ type: "resumed", seq: before + 1 });
    const behind = await gm.req("GET", `${base}/changes?since=${before}`);
    expect(behind.body.changes).toMatchObject([{ seq: before + 1, entity_id: token.id, version: 2 }]);
    expect((await write).status).toBe(200);
    socket.close();
    other.close();
  });

  it("commits a membership change after everything logged before it", async () => {
    const { gm, player, base, sid, token, before } = await heroTable();
    const socket = await TestSocket.open(gm, base);
    await failD1(sid);
    const write = gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 5 }, { "if-match": '"1"' });
    await socket.next((m) => m.type === "change" && m.seq === before + 1, "the change");
    const promote = gm.req("PUT", `${base}/members/${player.id}`, { role: "gm" });
    await new Promise((r) => setTimeout(r, 50));
    await recover(sid);
    expect((await write).status).toBe(200);
    expect((await promote).status).toBe(200);
    const { results } = await (await shardOf(sid))
      .prepare("SELECT seq, entity_type FROM change_log WHERE session_id = ? AND seq > ? ORDER BY seq")
      .bind(sid, before)
      .all<{ seq: number; entity_type: string }>();
    expect(results).toEqual([
      { seq: before + 1, entity_type: "token" },
      { seq: before + 2, entity_type: "session_state" },
    ]);
    expect(await d1Seq(sid)).toBe(before + 2);
    socket.close();
  });
});

describe("a logged batch D1 refuses", () => {
  it("is dropped with the batches planned after it: their writers get 500, sockets reload, the object starts again from D1", async () => {
    const { gm, base, sid } = await newTable();
    const before = await seqOf(gm, base);
    const socket = await TestSocket.open(gm, base);
    await (await shardOf(sid)).exec(
      "CREATE TRIGGER refuse_token BEFORE INSERT ON tokens WHEN NEW.name = 'Refused' BEGIN SELECT RAISE(ABORT, 'refused'); END;",
    );
    try {
      await failD1(sid);
      const fine = gm.req("POST", `${base}/tokens`, { name: "Fine" });
      await socket.next((m) => m.type === "change" && m.seq === before + 1, "the first create");
      const refused = gm.req("POST", `${base}/tokens`, { name: "Refused" });
      await socket.next((m) => m.type === "change" && m.seq === before + 2, "the refused create");
      const after = gm.req("POST", `${base}/tokens`, { name: "After" });
      await socket.next((m) => m.type === "change" && m.seq === before + 3, "the create after it");
      expect(await recover(sid)).toBe(0);
      const [r1, r2, r3] = await Promise.all([fine, refused, after]);
      expect([r1.status, r2.status, r3.status]).toEqual([201, 500, 500]);
      expect(r2.body.error.code).toBe("internal");
      const reload = await socket.next((m) => m.type === "reload", "the reload");
      expect(reload).toMatchObject({ seq: before + 1, reason: "gone" });
    } finally {
      await (await shardOf(sid)).exec("DROP TRIGGER refuse_token");
    }
    const { results } = await (await shardOf(sid))
      .prepare("SELECT name FROM tokens WHERE session_id = ? ORDER BY name")
      .bind(sid)
      .all<{ name: string }>();
    expect(results.map((r) => r.name)).toEqual(["Fine"]);
    expect(await d1Seq(sid)).toBe(before + 1);
    expect(await logRows(sid)).toBe(0);
    // The next write follows what D1 holds, without a gap.
    const next = await gm.req("POST", `${base}/tokens`, { name: "Next" });
    expect(next.status).toBe(201);
    await expectSeqsUpTo(sid, before + 2);
    socket.close();
  });
});

describe("the entity cache under write-behind", () => {
  it("never evicts nor clears an entity with a logged change until D1 holds it", () => {
    const cache = new EntityCache(2);
    const entity = (id: string) => ({ id, version: 1, created_at: "", updated_at: "", updated_by: "u", archived_at: null });
    const pinned = entity("pinned");
    cache.put("token", pinned);
    cache.pin([{ type: "token", id: "pinned" }], []);
    for (const id of ["a", "b", "c", "d"]) cache.put("token", entity(id));
    expect(cache.get("token", "pinned")).toBe(pinned);
    expect(cache.get("token", "a")).toBeUndefined();
    cache.clear();
    expect(cache.get("token", "pinned")).toBe(pinned);
    expect(cache.get("token", "d")).toBeUndefined();
    cache.unpin([{ type: "token", id: "pinned" }], []);
    cache.clear();
    expect(cache.get("token", "pinned")).toBeUndefined();
  });
});
