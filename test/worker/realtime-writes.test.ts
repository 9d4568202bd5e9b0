import { describe, expect, it } from "vitest";
import { create, newTable, TestUser } from "../helpers/client";
import { makePng } from "../helpers/images";
import { shardOf } from "../helpers/shards";
import { TestSocket } from "../helpers/socket";
import { upload } from "../helpers/uploads";

/**
 * The object's write queue commits writes of one actor that pile up while it is busy as one
 * group (one plan, one D1 batch). These tests fire writes concurrently so that groups form, and
 * check that every write still behaves as if it had been applied alone.
 */

async function changeLog(sid: string) {
  const { results } = await (await shardOf(sid))
    .prepare("SELECT seq, entity_id, created_at FROM change_log WHERE session_id = ? ORDER BY seq")
    .bind(sid)
    .all<{ seq: number; entity_id: string; created_at: string }>();
  return results;
}

async function tableWithTokens(count: number) {
  const t = await newTable();
  const scene = await create(t.gm, t.base, "scenes", { name: "Crypt" });
  const ops = Array.from({ length: count }, (_, i) => ({
    op_id: crypto.randomUUID(),
    entity_type: "token",
    op: "create",
    data: { name: `T${i}`, scene_id: scene.id },
  }));
  const batch = await t.gm.req("POST", `${t.base}/batch`, { ops });
  await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {});
  return { ...t, scene, tokens: batch.body.results.map((r: any) => r.entity) as any[] };
}

describe("concurrent writes of one GM", () => {
  it("gives each write its own entity and the seq after its own change, gap-free and broadcast in order", async () => {
    const t = await tableWithTokens(30);
    const socket = await TestSocket.open(t.player, t.base);
    const before = (await t.gm.req("GET", `${t.base}/state`)).body.seq;
    const replies = await Promise.all(
      t.tokens.map((token, i) => t.gm.req("PATCH", `${t.base}/tokens/${token.id}`, { x: 100 + i }, { "if-match": '"1"' })),
    );
    for (const [i, r] of replies.entries()) {
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ id: t.tokens[i].id, x: 100 + i, version: 2 });
    }
    const log = (await changeLog(t.sid)).filter((row) => row.seq > before);
    expect(log.map((row) => row.seq)).toEqual(Array.from({ length: 30 }, (_, i) => before + 1 + i));
    // Each write's seq is the one of its own change.
    const seqOf = new Map(log.map((row) => [row.entity_id, row.seq]));
    const batchReplies = await Promise.all(
      t.tokens.slice(0, 10).map((token, i) =>
        t.gm.req("POST", `${t.base}/batch`, {
          ops: [{ op_id: crypto.randomUUID(), entity_type: "token", op: "update", id: token.id, base_version: 2, data: { y: i } }],
        }),
      ),
    );
    const after = (await changeLog(t.sid)).filter((row) => row.seq > before + 30);
    for (const [i, r] of batchReplies.entries()) {
      expect(r.status).toBe(200);
      expect(r.body.seq).toBe(after.find((row) => row.entity_id === t.tokens[i].id)?.seq);
    }
    expect(seqOf.size).toBe(30);
    // Written in groups: fewer commit times than writes.
    expect(new Set(log.map((row) => row.created_at)).size).toBeLessThan(30);
    const last = after.at(-1)?.seq ?? 0;
    await socket.next((m) => m.type === "change" && m.seq === last, "the last change");
    const seqs = socket.all("change").map((m) => m.seq);
    expect(seqs).toEqual(Array.from({ length: last - before }, (_, i) => before + 1 + i));
  });

  it("fails a stale write alone: the other writes of its group apply", async () => {
    const t = await tableWithTokens(10);
    await t.gm.req("PATCH", `${t.base}/tokens/${t.tokens[0].id}`, { x: 1 }, { "if-match": '"1"' });
    const replies = await Promise.all(
      t.tokens.map((token) => t.gm.req("PATCH", `${t.base}/tokens/${token.id}`, { y: 5 }, { "if-match": '"1"' })),
    );
    expect(replies[0]?.status).toBe(409);
    expect(replies[0]?.body.error.details.current).toMatchObject({ id: t.tokens[0].id, version: 2 });
    expect(replies.slice(1).map((r) => r.status)).toEqual(Array(9).fill(200));
    const state = await t.gm.req("GET", `${t.base}/state`);
    const y = new Map(state.body.tokens.map((tok: any) => [tok.id, tok.y]));
    expect(y.get(t.tokens[0].id)).toBe(0);
    for (const token of t.tokens.slice(1)) expect(y.get(token.id)).toBe(5);
  });

  it("answers a replayed write inside a group with its first result, applying it once", async () => {
    const t = await tableWithTokens(8);
    const key = crypto.randomUUID();
    const first = await t.gm.req("PATCH", `${t.base}/tokens/${t.tokens[0].id}`, { x: 42 }, { "if-match": '"1"', "idempotency-key": key });
    expect(first.status).toBe(200);
    const replies = await Promise.all([
      t.gm.req("PATCH", `${t.base}/tokens/${t.tokens[0].id}`, { x: 42 }, { "if-match": '"1"', "idempotency-key": key }),
      ...t.tokens.slice(1).map((token) => t.gm.req("PATCH", `${t.base}/tokens/${token.id}`, { x: 7 }, { "if-match": '"1"' })),
    ]);
    expect(replies.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(replies[0]?.body).toEqual(first.body);
    const rows = (await changeLog(t.sid)).filter((row) => row.entity_id === t.tokens[0].id);
    expect(rows).toHaveLength(2); // its creation and the one update
  });

  it("refuses a write to a locked scene alone: the co-GM's other writes of the group apply", async () => {
    const t = await tableWithTokens(6);
    const coGm = await TestUser.register("cogm");
    await coGm.req("POST", "/api/vtt/sessions/join", { invite_code: t.inviteCode });
    await t.gm.req("PUT", `${t.base}/members/${coGm.id}`, { role: "gm" });
    const other = await create(t.gm, t.base, "scenes", { name: "Tower" });
    const elsewhere = await Promise.all([1, 2, 3].map((i) => create(t.gm, t.base, "tokens", { name: `E${i}`, scene_id: other.id })));
    expect((await t.gm.req("POST", `${t.base}/locks`, { scene_id: t.scene.id })).status).toBe(201);
    const replies = await Promise.all([
      ...elsewhere.map((token) => coGm.req("PATCH", `${t.base}/tokens/${token.id}`, { x: 3 }, { "if-match": '"1"' })),
      coGm.req("PATCH", `${t.base}/tokens/${t.tokens[0].id}`, { x: 3 }, { "if-match": '"1"' }),
    ]);
    expect(replies.slice(0, 3).map((r) => r.status)).toEqual([200, 200, 200]);
    expect(replies[3]?.status).toBe(423);
    expect(replies[3]?.body.error.details.lock).toMatchObject({ scene_id: t.scene.id, holder_user_id: t.gm.id });
  });
});

describe("tokens shown by concurrent writes", () => {
  it("bring their art to players even when the writes are committed as one group", async () => {
    const t = await newTable();
    const scene = await create(t.gm, t.base, "scenes", { name: "Lair" });
    const face = await upload(t.gm, t.base, await makePng(24, 24), { filename: "face.png", kind: "token" });
    const ops = Array.from({ length: 20 }, (_, i) => [
      {
        op_id: crypto.randomUUID(),
        entity_type: "token",
        op: "create",
        id: `hid-${i}`,
        data: { name: `H${i}`, scene_id: scene.id, hidden: true },
      },
      {
        op_id: crypto.randomUUID(),
        entity_type: "token_art",
        op: "create",
        id: `art-${i}`,
        data: { token_id: `hid-${i}`, image_asset: face.body.asset.hash },
      },
    ]).flat();
    expect((await t.gm.req("POST", `${t.base}/batch`, { ops })).status).toBe(200);
    await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {});
    const socket = await TestSocket.open(t.player, t.base);
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => t.gm.req("PATCH", `${t.base}/tokens/hid-${i}`, { hidden: false }, { "if-match": '"1"' })),
    );
    for (const r of replies) expect(r.status).toBe(200);
    for (let i = 0; i < 20; i++) {
      const reveal = await socket.next((m) => m.type === "change" && m.entity_id === `hid-${i}`, `the reveal of hid-${i}`);
      expect(reveal.related?.map((r: { entity: { id: string } }) => r.entity.id)).toEqual([`art-${i}`]);
    }
  });
});
