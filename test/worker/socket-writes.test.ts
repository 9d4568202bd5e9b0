import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { create, newTable, TestUser } from "../helpers/client";
import { flushSaveMetrics } from "../helpers/save-metrics";
import { shardOf } from "../helpers/shards";
import { TestSocket } from "../helpers/socket";

/** Writes sent on the session socket: `{"type":"ops"}`, the batch of `POST {S}/batch`. */

async function logRows(sid: string, entityId: string) {
  const { results } = await (await shardOf(sid))
    .prepare("SELECT seq, version FROM change_log WHERE session_id = ? AND entity_id = ? ORDER BY seq")
    .bind(sid, entityId)
    .all<{ seq: number; version: number }>();
  return results;
}

/** Conflicts of batches counted in the metrics (flushed from the session's object to D1: polled, a bounded number of times). */
async function batchConflicts(sid: string, atLeast = 0): Promise<number> {
  let n = 0;
  for (let i = 0; i < 100; i++) {
    await flushSaveMetrics(sid);
    n = Number(
      await env.DB.prepare("SELECT COALESCE(SUM(value), 0) AS n FROM metric_counters WHERE name = 'vtt_conflicts_total' AND labels = ?")
        .bind(JSON.stringify({ route: "batch" }))
        .first("n"),
    );
    if (n >= atLeast) return n;
    await new Promise((r) => setTimeout(r, 10));
  }
  return n;
}

async function tableWithToken() {
  const t = await newTable();
  const scene = await create(t.gm, t.base, "scenes", { name: "Crypt" });
  await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {});
  const token = await create(t.gm, t.base, "tokens", { name: "Orc", scene_id: scene.id, stats: { hp: 7, gm_notes: "ambush" } });
  const own = await create(t.gm, t.base, "tokens", { name: "Hero", scene_id: scene.id, owner_user_ids: [t.player.id] });
  return { ...t, scene, token, own };
}

function move(id: string, base: number, x: number) {
  return { op_id: crypto.randomUUID(), entity_type: "token", op: "update", id, base_version: base, data: { x } };
}

/** Sends an ops message and waits for its answer (matched by id). */
async function write(socket: TestSocket, ops: unknown[], id: string | number = crypto.randomUUID()) {
  socket.send({ type: "ops", id, ops });
  return socket.next((m) => (m.type === "result" || m.type === "error") && m.id === id, `the answer to ${id}`);
}

describe("writes over the socket", () => {
  it("applies a batch and answers as POST batch does, with the request id", async () => {
    const t = await tableWithToken();
    const gm = await TestSocket.open(t.gm, t.base);
    const reply = await write(gm, [move(t.token.id, 1, 40)], 7);
    expect(reply).toMatchObject({ type: "result", id: 7, results: [{ entity: { id: t.token.id, x: 40, version: 2 } }] });
    const stored = await t.gm.req("GET", `${t.base}/tokens/${t.token.id}`);
    expect(stored.body).toMatchObject({ x: 40, version: 2 });
    expect(reply.seq).toBe((await t.gm.req("GET", `${t.base}/state`)).body.seq);
    // The change is broadcast like any write, before the answer.
    const change = gm.all("change").find((m) => m.entity_id === t.token.id && m.version === 2);
    expect(change?.seq).toBe(reply.seq);
  });

  it("is idempotent: the same op id twice is one change, answered with the first result", async () => {
    const t = await tableWithToken();
    const gm = await TestSocket.open(t.gm, t.base);
    const op = move(t.token.id, 1, 55);
    const first = await write(gm, [op]);
    const second = await write(gm, [op]);
    expect(first.type).toBe("result");
    expect(second).toMatchObject({ type: "result", seq: first.seq, results: [{ op_id: op.op_id, entity: { x: 55, version: 2 } }] });
    // REST sees the same op id as already applied too.
    const rest = await t.gm.req("POST", `${t.base}/batch`, { ops: [op] });
    expect(rest.status).toBe(200);
    expect(rest.body.results[0].entity.version).toBe(2);
    expect((await logRows(t.sid, t.token.id)).map((r) => r.version)).toEqual([1, 2]);
    expect((await t.gm.req("GET", `${t.base}/tokens/${t.token.id}`)).body.version).toBe(2);
  });

  it("is atomic: one stale op fails the batch with 409 naming it, and nothing applies", async () => {
    const t = await tableWithToken();
    const gm = await TestSocket.open(t.gm, t.base);
    const good = move(t.own.id, 1, 10);
    const stale = move(t.token.id, 5, 10);
    const conflictsBefore = await batchConflicts(t.sid);
    const reply = await write(gm, [good, stale]);
    // Counted in the metrics like a POST batch's conflict.
    expect(await batchConflicts(t.sid, conflictsBefore + 1)).toBe(conflictsBefore + 1);
    expect(reply).toMatchObject({ type: "error", code: "conflict", status: 409, op_id: stale.op_id });
    expect(reply.details).toMatchObject({ op_id: stale.op_id, current: { id: t.token.id, version: 1 } });
    expect((await t.gm.req("GET", `${t.base}/tokens/${t.own.id}`)).body).toMatchObject({ version: 1, x: t.own.x });
    expect(await logRows(t.sid, t.own.id)).toHaveLength(1);
    // The socket stays open and the good op alone goes through after.
    expect((await write(gm, [good])).type).toBe("result");
    expect(gm.closed).toBeUndefined();
  });

  it("answers malformed and oversized batches with 400 and 413 frames, changing nothing", async () => {
    const t = await tableWithToken();
    const gm = await TestSocket.open(t.gm, t.base);
    const invalid = await write(gm, [{ entity_type: "token", op: "update", id: t.token.id, base_version: 1, data: { x: 1 } }], "a");
    expect(invalid).toMatchObject({ type: "error", id: "a", code: "bad_request", status: 400 });
    expect(invalid.details.fields.some((f: { field: string }) => f.field.includes("op_id"))).toBe(true);
    const tooMany = await write(
      gm,
      Array.from({ length: 501 }, () => ({})),
      "b",
    );
    expect(tooMany).toMatchObject({ type: "error", id: "b", code: "payload_too_large", status: 413, details: { limit: 500 } });
    gm.send(
      `{"type":"ops","id":"c","ops":[{"op_id":"${crypto.randomUUID()}","entity_type":"token","op":"update","id":"${t.token.id}","base_version":1,"data":{"__proto__":{"x":1}}}]}`,
    );
    const proto = await gm.next((m) => m.type === "error" && m.id === "c");
    expect(proto).toMatchObject({ code: "bad_request", status: 400 });
    const extra = await (async () => {
      gm.send({ type: "ops", id: "d", ops: [move(t.token.id, 1, 3)], cookie: "x" });
      return gm.next((m) => m.type === "error" && m.id === "d");
    })();
    expect(extra).toMatchObject({ code: "bad_request", status: 400 });
    gm.send({ type: "ops", id: { nested: true }, ops: [move(t.token.id, 1, 4)] });
    const badId = await gm.next((m) => m.type === "error" && m.status === 400 && m.details?.fields?.[0]?.field === "id", "the bad id");
    expect(badId.id).toBeUndefined();
    expect((await t.gm.req("GET", `${t.base}/tokens/${t.token.id}`)).body.version).toBe(1);
    expect(gm.closed).toBeUndefined();
  });

  it("holds players to their permissions and filters what they get back", async () => {
    const t = await tableWithToken();
    const player = await TestSocket.open(t.player, t.base);
    const own = await write(player, [move(t.own.id, 1, 99)]);
    expect(own).toMatchObject({ type: "result", results: [{ entity: { id: t.own.id, x: 99, version: 2 } }] });
    expect((await t.gm.req("GET", `${t.base}/tokens/${t.own.id}`)).body.x).toBe(99);
    const foreign = move(t.token.id, 1, 5);
    const refused = await write(player, [foreign]);
    expect(refused).toMatchObject({ type: "error", code: "forbidden", status: 403 });
    expect((await t.gm.req("GET", `${t.base}/tokens/${t.token.id}`)).body.version).toBe(1);
    // A player may not create what only a GM may.
    const scene = await write(player, [{ op_id: crypto.randomUUID(), entity_type: "scene", op: "create", data: { name: "Mine" } }]);
    expect(scene).toMatchObject({ type: "error", status: 403 });
    // GM notes stay out of a player's result, as out of POST batch's.
    const gmSocket = await TestSocket.open(t.gm, t.base);
    await write(gmSocket, [{ ...move(t.own.id, 2, 1), data: { stats: { gm_notes: "cursed" } } }]);
    const mine = await write(player, [move(t.own.id, 3, 2)]);
    expect(mine.type).toBe("result");
    expect(JSON.stringify(mine)).not.toContain("cursed");
  });

  it("answers 423 when another GM holds the scene's lock", async () => {
    const t = await tableWithToken();
    const coGm = await TestUser.register("cogm");
    await coGm.req("POST", "/api/vtt/sessions/join", { invite_code: t.inviteCode });
    expect((await t.gm.req("PUT", `${t.base}/members/${coGm.id}`, { role: "gm" })).status).toBe(200);
    expect((await t.gm.req("POST", `${t.base}/locks`, { scene_id: t.scene.id })).status).toBe(201);
    const socket = await TestSocket.open(coGm, t.base);
    const op = move(t.token.id, 1, 12);
    const reply = await write(socket, [op]);
    expect(reply).toMatchObject({ type: "error", code: "locked", status: 423, op_id: op.op_id });
    expect(reply.details.lock).toMatchObject({ scene_id: t.scene.id, holder_user_id: t.gm.id });
    expect((await t.gm.req("GET", `${t.base}/tokens/${t.token.id}`)).body.version).toBe(1);
  });

  it("takes from the same mutation bucket as REST: over it is a 429 frame with retry_after_ms", async () => {
    const t = await tableWithToken();
    expect((await t.gm.req("PATCH", `${t.base}/settings`, { rate_limit: { burst: 2, per_second: 0.1 } })).status).toBe(200);
    const gm = await TestSocket.open(t.gm, t.base);
    // A burst of two (refilled at one per 10 s): the second REST write after two socket writes is refused too.
    expect((await write(gm, [move(t.token.id, 1, 1)])).type).toBe("result");
    expect((await write(gm, [move(t.token.id, 2, 2)])).type).toBe("result");
    const limited = await write(gm, [move(t.token.id, 3, 3)]);
    expect(limited).toMatchObject({ type: "error", code: "rate_limited", status: 429 });
    expect(limited.details.retry_after_ms).toBeGreaterThan(0);
    const rest = await t.gm.req("POST", `${t.base}/batch`, { ops: [move(t.token.id, 3, 4)] });
    expect(rest.status).toBe(429);
    expect((await t.gm.req("GET", `${t.base}/tokens/${t.token.id}`)).body).toMatchObject({ version: 3, x: 2 });
  });

  it("closes a member's socket when the role changes, so no write rides on the old role", async () => {
    const t = await tableWithToken();
    const player = await TestSocket.open(t.player, t.base);
    expect((await t.gm.req("PUT", `${t.base}/members/${t.player.id}`, { role: "gm" })).status).toBe(200);
    expect((await player.waitClosed()).code).toBe(4403);
  });
});
