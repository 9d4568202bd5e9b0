/**
 * Read replicas (worker/db/replicas.ts): writes hand out the bookmark of their D1 commit (REST
 * header, `landed` on the socket), reads start from the client's bookmark and answer with the
 * newest one, and a read never answers older than the seq the client holds. Locally D1 has no
 * replicas: a lagging one is played by replacing the replica's head read.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { type Head, type ReadStart, replicaReads } from "../../worker/db/replicas";
import type { SessionObject } from "../../worker/session/session-object";
import { create, newTable, type Reply } from "../helpers/client";
import { TestSocket } from "../helpers/socket";
import { sessionStub } from "../helpers/write-log";

const HEADER = "x-vtt-bookmark";
const SHAPE = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;

const realHead = replicaReads.head;
afterEach(() => {
  replicaReads.head = realHead;
});

function bookmarkOf(reply: Reply): string {
  const bookmark = reply.headers.get(HEADER);
  if (!bookmark) throw new Error(`no ${HEADER} on ${reply.status} ${JSON.stringify(reply.body)}`);
  expect(bookmark).toMatch(SHAPE);
  return bookmark;
}

/** The bookmark the session object keeps in its storage (its last landed commit's). */
const storedBookmark = (sid: string) =>
  runInDurableObject(
    sessionStub(sid),
    (_o: SessionObject, state) =>
      state.storage.sql.exec<{ bookmark: string }>("SELECT bookmark FROM write_bookmark").toArray()[0]?.bookmark,
  );

/** Records the replica head reads of requests, and makes the non-primary ones return `replica(head)`. */
function playReplica(replica: (head: Head | null, start: ReadStart) => Head | null | "refuse") {
  const calls: ReadStart[] = [];
  replicaReads.head = async (d1, sessionId, start) => {
    calls.push(start);
    const head = await realHead(d1, sessionId, start);
    if (start === "first-primary") return head;
    const played = replica(head, start);
    if (played === "refuse") throw new Error("D1_ERROR: invalid bookmark (played by a test)");
    return played;
  };
  return calls;
}

describe("write answers carry the bookmark of their commit", () => {
  it("REST writes and batches answer with a bookmark that only moves forward, the one the object keeps", async () => {
    const { gm, base, sid } = await newTable();
    const seen: string[] = [];
    const created = await gm.req("POST", `${base}/tokens`, { name: "Hero" });
    expect(created.status).toBe(201);
    seen.push(bookmarkOf(created));
    for (let x = 1; x <= 3; x++) {
      const patched = await gm.req("PATCH", `${base}/tokens/${created.body.id}`, { x }, { "if-match": `"${x}"` });
      expect(patched.status).toBe(200);
      seen.push(bookmarkOf(patched));
    }
    const batch = await gm.req("POST", `${base}/batch`, {
      ops: [{ op_id: crypto.randomUUID(), entity_type: "token", op: "update", id: created.body.id, base_version: 4, data: { y: 1 } }],
    });
    expect(batch.status).toBe(200);
    seen.push(bookmarkOf(batch));
    // Each write landed in a commit of its own: every bookmark is newer than the one before.
    for (let i = 1; i < seen.length; i++) expect((seen[i] as string) > (seen[i - 1] as string)).toBe(true);
    expect(await storedBookmark(sid)).toBe(seen.at(-1));
  });

  it("the object keeps its bookmark across an eviction: a replayed write answers with it", async () => {
    const { gm, base, sid } = await newTable();
    const key = crypto.randomUUID();
    const first = await gm.req("POST", `${base}/tokens`, { name: "Hero" }, { "idempotency-key": key });
    expect(first.status).toBe(201);
    const bookmark = bookmarkOf(first);
    await evictDurableObject(sessionStub(sid));
    // The same op again: a replay, nothing committed; the answer still names a point holding it.
    const replay = await gm.req("POST", `${base}/tokens`, { name: "Hero" }, { "idempotency-key": key });
    expect(replay.status).toBe(201);
    expect(replay.body.id).toBe(first.body.id);
    expect(bookmarkOf(replay)).toBe(bookmark);
    expect(await storedBookmark(sid)).toBe(bookmark);
  });

  it("a failed write carries no bookmark", async () => {
    const { gm, base } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const stale = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": '"9"' });
    expect(stale.status).toBe(409);
    expect(stale.headers.get(HEADER)).toBeNull();
  });

  it("every socket gets `landed` with the commit's seq and bookmark once D1 holds a write", async () => {
    const { gm, player, base } = await newTable();
    const gmSocket = await TestSocket.open(gm, base);
    const playerSocket = await TestSocket.open(player, base);
    const written = await gm.req("POST", `${base}/tokens`, { name: "Hero" });
    expect(written.status).toBe(201);
    const bookmark = bookmarkOf(written);
    const seq = (await gm.req("GET", `${base}/state`)).body.seq as number;
    for (const socket of [gmSocket, playerSocket]) {
      const landed = await socket.next((m) => m.type === "landed" && m.bookmark === bookmark, "the write's landing");
      expect(landed).toEqual({ type: "landed", seq, bookmark });
    }
    // A second write: a newer landing, never an older bookmark.
    const again = await gm.req("PATCH", `${base}/tokens/${written.body.id}`, { x: 5 }, { "if-match": '"1"' });
    const next = await playerSocket.next((m) => m.type === "landed" && m.seq === seq + 1, "the second landing");
    expect(next.bookmark).toBe(bookmarkOf(again));
    expect(next.bookmark > bookmark).toBe(true);
    gmSocket.close();
    playerSocket.close();
  });
});

describe("reads start from the client's bookmark", () => {
  it("a read sent with a write's bookmark sees that write and answers with a bookmark no older", async () => {
    const { gm, base } = await newTable();
    const written = await gm.req("POST", `${base}/tokens`, { name: "Hero" });
    const bookmark = bookmarkOf(written);
    const calls = playReplica((head) => head);
    const state = await gm.req("GET", `${base}/state`, undefined, { [HEADER]: bookmark });
    expect(state.status).toBe(200);
    expect(state.body.tokens.map((t: { id: string }) => t.id)).toContain(written.body.id);
    expect(bookmarkOf(state) >= bookmark).toBe(true);
    // The session started at the client's bookmark, on "a replica": the primary was never asked.
    expect(calls).toEqual([bookmark]);

    const entity = await gm.req("GET", `${base}/tokens/${written.body.id}`, undefined, { [HEADER]: bookmark });
    expect(entity.status).toBe(200);
    expect(entity.body).toMatchObject({ id: written.body.id, name: "Hero", version: 1 });
    expect(bookmarkOf(entity) >= bookmark).toBe(true);

    const detail = await gm.req("GET", base, undefined, { [HEADER]: bookmark });
    expect(detail.status).toBe(200);
    expect(detail.body.seq).toBe(state.body.seq);
    expect(bookmarkOf(detail) >= bookmark).toBe(true);
  });

  it("without a bookmark a read goes anywhere (first-unconstrained) and still hands one out", async () => {
    const { gm, base } = await newTable();
    await create(gm, base, "tokens", { name: "Hero" });
    const calls = playReplica((head) => head);
    const changes = await gm.req("GET", `${base}/changes?since=0`);
    expect(changes.status).toBe(200);
    expect(changes.body.changes.some((r: { entity_type: string }) => r.entity_type === "token")).toBe(true);
    bookmarkOf(changes);
    expect(calls).toEqual(["first-unconstrained"]);
  });
});

describe("a read never answers older than the seq the client holds", () => {
  it("state with If-None-Match of the current seq: a replica behind it leaves the read to the primary (304)", async () => {
    const { gm, base } = await newTable();
    const written = await gm.req("POST", `${base}/tokens`, { name: "Hero" });
    const bookmark = bookmarkOf(written);
    const seq = (await gm.req("GET", `${base}/state`)).body.seq as number;
    const calls = playReplica((head) => (head ? { ...head, seq: head.seq - 2 } : head));
    const polled = await gm.req("GET", `${base}/state`, undefined, { [HEADER]: bookmark, "if-none-match": `"${seq}"` });
    // The lagging replica said seq - 2; the primary holds seq, which the client has: not modified.
    expect(polled.status).toBe(304);
    expect(polled.headers.get("etag")).toBe(`"${seq}"`);
    expect(calls).toEqual([bookmark, "first-primary"]);
    expect(bookmarkOf(polled) >= bookmark).toBe(true);

    // The full state read on the primary too: its seq is the one the client holds, not the replica's.
    const full = await gm.req("GET", `${base}/state`, undefined, { "if-none-match": `"${seq - 1}"` });
    expect(full.status).toBe(200);
    expect(full.body.seq).toBe(seq);
  });

  it("changes?since=N with a replica behind N reads the primary: never an answer below N", async () => {
    const { gm, base } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const seq = (await gm.req("GET", `${base}/state`)).body.seq as number;
    const calls = playReplica((head) => (head ? { ...head, seq: 0 } : head));
    const polled = await gm.req("GET", `${base}/changes?since=${seq}`, undefined, { "if-none-match": `"${seq}"` });
    expect(polled.status).toBe(304);
    expect(polled.headers.get("etag")).toBe(`"${seq}"`);
    expect(calls).toEqual(["first-unconstrained", "first-primary"]);

    // A change after it: the answer reaches it.
    await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 3 }, { "if-match": '"1"' });
    const after = await gm.req("GET", `${base}/changes?since=${seq}`);
    expect(after.status).toBe(200);
    expect(after.body.seq).toBe(seq + 1);
    expect(after.body.changes).toEqual([expect.objectContaining({ entity_id: token.id, version: 2, seq: seq + 1 })]);
  });

  it("a replica at or past the client's seq answers by itself", async () => {
    const { gm, base } = await newTable();
    await create(gm, base, "tokens", { name: "Hero" });
    const seq = (await gm.req("GET", `${base}/state`)).body.seq as number;
    const calls = playReplica((head) => head);
    const polled = await gm.req("GET", `${base}/changes?since=${seq}`, undefined, { "if-none-match": `"${seq}"` });
    expect(polled.status).toBe(304);
    expect(calls).toEqual(["first-unconstrained"]);
  });
});

describe("hostile bookmarks", () => {
  const hostile = [
    "garbage",
    "x".repeat(8000),
    "first-primary",
    "00000000-0000000d",
    "zzzzzzzz-0000000d-00000000-00000000000000000000000000000000",
    `00000000-${"f".repeat(300)}`,
    "00000000-0000000D-00000000-00000000000000000000000000000000",
    "'; DROP TABLE game_sessions; --",
  ];

  it("a malformed bookmark is never handed to D1: the read starts anywhere and answers normally", async () => {
    const { gm, base } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    for (const value of hostile) {
      const calls = playReplica((head) => head);
      for (const path of ["/state", `/changes?since=0`, `/tokens/${token.id}`, ""]) {
        const r = await gm.req("GET", `${base}${path}`, undefined, { [HEADER]: value });
        expect(r.status, `${path} with ${value.slice(0, 20)}`).toBe(200);
        expect(bookmarkOf(r)).not.toBe(value);
      }
      expect(new Set(calls), value.slice(0, 20)).toEqual(new Set(["first-unconstrained"]));
    }
    const state = await gm.req("GET", `${base}/state`);
    expect(state.body.tokens.map((t: { id: string }) => t.id)).toEqual([token.id]);
  });

  it("a bookmark D1 refuses (another database's, a forged one) falls back to the primary", async () => {
    const other = await newTable();
    const foreign = bookmarkOf(await other.gm.req("POST", `${other.base}/tokens`, { name: "Elsewhere" }));
    const { gm, base } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const calls = playReplica(() => "refuse");
    const state = await gm.req("GET", `${base}/state`, undefined, { [HEADER]: foreign });
    expect(state.status).toBe(200);
    expect(state.body.tokens.map((t: { id: string }) => t.id)).toEqual([token.id]);
    expect(calls).toEqual([foreign, "first-primary"]);
    bookmarkOf(state);

    // An entity read fails its first query on the refused bookmark too: answered from the primary.
    const entity = await gm.req("GET", `${base}/tokens/${token.id}`, undefined, { [HEADER]: foreign });
    expect(entity.status).toBe(200);
    expect(entity.body.id).toBe(token.id);
  });

  it("another session's bookmark is just an older or newer point of the shard: answers stay this session's", async () => {
    const other = await newTable();
    const { gm, base } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const foreign = bookmarkOf(await other.gm.req("POST", `${other.base}/tokens`, { name: "Elsewhere" }));
    const state = await gm.req("GET", `${base}/state`, undefined, { [HEADER]: foreign });
    expect(state.status).toBe(200);
    expect(JSON.stringify(state.body)).not.toContain("Elsewhere");
    expect(state.body.tokens.map((t: { id: string }) => t.id)).toEqual([token.id]);
    bookmarkOf(state);
  });
});
