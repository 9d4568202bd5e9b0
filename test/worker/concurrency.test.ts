import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { SessionObject } from "../../worker/session/session-object";
import { create, newTable, seqOf } from "../helpers/client";
import { shardOf } from "../helpers/shards";

async function seqs(sid: string): Promise<number[]> {
  const { results } = await (await shardOf(sid))
    .prepare("SELECT seq FROM change_log WHERE session_id = ? ORDER BY seq")
    .bind(sid)
    .all<{ seq: number }>();
  return results.map((r) => r.seq);
}

const stub = (sid: string) => env.SESSION.get(env.SESSION.idFromName(sid));

describe("concurrent writes", () => {
  it("lets exactly one of 50 concurrent PATCHes with the same If-Match win", async () => {
    const { gm, base } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => gm.req("PATCH", `${base}/tokens/${token.id}`, { x: i + 1 }, { "if-match": '"1"' })),
    );
    const statuses = replies.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(49);
    const winner = replies.find((r) => r.status === 200);
    const stored = await gm.req("GET", `${base}/tokens/${token.id}`);
    expect(stored.body).toMatchObject({ version: 2, x: winner?.body.x });
  });

  it("keeps seq gap-free and strictly increasing under concurrent writers", async () => {
    const { gm, base, sid } = await newTable();
    const tokens = await Promise.all(Array.from({ length: 10 }, (_, i) => create(gm, base, "tokens", { name: `T${i}` })));
    await Promise.all(tokens.map((t) => gm.req("PATCH", `${base}/tokens/${t.id}`, { x: 1 }, { "if-match": '"1"' })));
    const all = await seqs(sid);
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
    expect(await seqOf(gm, base)).toBe(all.length);
  });
});

describe("the session object across restarts", () => {
  it("reloads seq from D1 after being evicted and continues without a gap", async () => {
    const { gm, base, sid } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": '"1"' });
    await evictDurableObject(stub(sid));
    const r = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 2 }, { "if-match": '"2"' });
    expect(r.status).toBe(200);
    const all = await seqs(sid);
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
  });

  it("recovers when D1 moved on behind its back: the next write takes the next free seq", async () => {
    const { gm, base, sid } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    // The object now caches seq. Commit a change it does not know about, as a restore would.
    const seq = await seqOf(gm, base);
    const shard = await shardOf(sid);
    await shard.batch([
      shard
        .prepare(
          "INSERT INTO change_log (session_id, seq, entity_type, entity_id, version, op, diff, payload_hash, visible_before, visible_after, updated_by, created_at) VALUES (?, ?, 'token', ?, 1, 'update', '{}', '', 0, 0, 'x', 'now')",
        )
        .bind(sid, seq + 1, token.id),
      shard.prepare("UPDATE game_sessions SET seq = ? WHERE id = ?").bind(seq + 1, sid),
    ]);
    const r = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": '"1"' });
    expect(r.status).toBe(200);
    expect(await seqs(sid)).toEqual(Array.from({ length: seq + 2 }, (_, i) => i + 1));
    expect(await seqOf(gm, base)).toBe(seq + 2);
  });

  it("reads seq from D1 in a fresh instance after eviction", async () => {
    const { gm, base, sid } = await newTable();
    await create(gm, base, "scenes", { name: "A" });
    await evictDurableObject(stub(sid));
    const fromObject = await runInDurableObject(stub(sid), async (instance: SessionObject) => {
      const r = await instance.applyOps(sid, { userId: gm.id, role: "gm" }, []);
      return r.ok ? r.seq : -1;
    });
    expect(fromObject).toBe(await seqOf(gm, base));
  });
});
