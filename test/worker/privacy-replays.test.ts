/**
 * A replayed op id answers with its first result only when it is the same op: the same actor,
 * entity type, entity and op. Anything else reusing the id is a 409 naming the op id, never the
 * stored result, which may hold what the caller must not see. The stored result goes through the
 * player filter with its own type, for the caller as they are now.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { create, newTable } from "../helpers/client";
import { shardOf } from "../helpers/shards";

async function playerMovedToken() {
  const t = await newTable();
  const scene = await create(t.gm, t.base, "scenes", { name: "Crypt" });
  await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {});
  const token = await create(t.gm, t.base, "tokens", {
    name: "Scout",
    scene_id: scene.id,
    owner_user_ids: [t.player.id],
    stats: { hp: 9, gm_notes: "secretly a doppelganger" },
  });
  const key = crypto.randomUUID();
  const moved = await t.player.req("PATCH", `${t.base}/tokens/${token.id}`, { x: 3 }, { "if-match": '"1"', "idempotency-key": key });
  expect(moved.status).toBe(200);
  expect(moved.body.stats).toEqual({ hp: 9 });
  return { ...t, scene, token, key };
}

async function storedOp(sid: string, opId: string) {
  return (await shardOf(sid))
    .prepare("SELECT entity_type, entity_id, user_id, op FROM applied_ops WHERE session_id = ? AND op_id = ?")
    .bind(sid, opId)
    .first<{ entity_type: string; entity_id: string; user_id: string | null; op: string | null }>();
}

async function seqOfSession(sid: string) {
  return (await (await shardOf(sid)).prepare("SELECT seq FROM game_sessions WHERE id = ?").bind(sid).first<{ seq: number }>())?.seq;
}

function expectReused(r: { status: number; body: any }, opId: string) {
  expect(r.status).toBe(409);
  expect(r.body.error).toMatchObject({ code: "conflict", details: { op_id: opId, reason: "op_id_reused" } });
  expect(JSON.stringify(r.body)).not.toContain("doppelganger");
  expect(r.body.error.details.current).toBeUndefined();
}

describe("replays of an op id", () => {
  it("records who sent an op and which op it was", async () => {
    const t = await playerMovedToken();
    expect(await storedOp(t.sid, t.key)).toEqual({ entity_type: "token", entity_id: t.token.id, user_id: t.player.id, op: "update" });
  });

  it("refuses a batch op of another type reusing a player's key, instead of leaking the token's GM notes", async () => {
    const t = await playerMovedToken();
    const seq = await seqOfSession(t.sid);
    const r = await t.player.req("POST", `${t.base}/batch`, {
      ops: [{ op_id: t.key, entity_type: "session_state", op: "update", id: "x", base_version: 1, data: {} }],
    });
    expectReused(r, t.key);
    expect(await seqOfSession(t.sid)).toBe(seq);
  });

  it.each(["layer", "fog", "fog_chunk"])("refuses the same replay as a %s op", async (entityType) => {
    const t = await playerMovedToken();
    const r = await t.player.req("POST", `${t.base}/batch`, {
      ops: [{ op_id: t.key, entity_type: entityType, op: "update", id: t.token.id, base_version: 1, data: {} }],
    });
    expectReused(r, t.key);
  });

  it("refuses PATCH session-state with the key of a token move, even after the token was hidden", async () => {
    const t = await playerMovedToken();
    const hidden = await t.gm.req("PATCH", `${t.base}/tokens/${t.token.id}`, { hidden: true }, { "if-match": '"2"' });
    expect(hidden.status).toBe(200);
    const r = await t.player.req("PATCH", `${t.base}/session-state`, {}, { "if-match": '"1"', "idempotency-key": t.key });
    expectReused(r, t.key);
  });

  it("refuses the same key from another user", async () => {
    const t = await playerMovedToken();
    const r = await t.gm.req("PATCH", `${t.base}/tokens/${t.token.id}`, { x: 3 }, { "if-match": '"1"', "idempotency-key": t.key });
    expectReused(r, t.key);
    const batch = await t.gm.req("POST", `${t.base}/batch`, {
      ops: [{ op_id: t.key, entity_type: "token", op: "update", id: t.token.id, base_version: 1, data: { x: 3 } }],
    });
    expectReused(batch, t.key);
  });

  it("refuses the same key for another entity or another op, and the batch around it does not apply", async () => {
    const t = await playerMovedToken();
    const other = await create(t.gm, t.base, "tokens", { name: "Other", scene_id: t.scene.id, owner_user_ids: [t.player.id] });
    const otherId = await t.player.req("PATCH", `${t.base}/tokens/${other.id}`, { x: 3 }, { "if-match": '"1"', "idempotency-key": t.key });
    expectReused(otherId, t.key);
    const archive = await t.player.req("DELETE", `${t.base}/tokens/${t.token.id}`, undefined, { "idempotency-key": t.key });
    expectReused(archive, t.key);
    const fresh = crypto.randomUUID();
    const batch = await t.player.req("POST", `${t.base}/batch`, {
      ops: [
        { op_id: fresh, entity_type: "token", op: "update", id: other.id, base_version: 1, data: { x: 5 } },
        { op_id: t.key, entity_type: "token", op: "restore", id: t.token.id, base_version: 2 },
      ],
    });
    expectReused(batch, t.key);
    expect(await storedOp(t.sid, fresh)).toBeNull();
    expect((await t.gm.req("GET", `${t.base}/tokens/${other.id}`)).body).toMatchObject({ version: 1, x: 0 });
  });

  it("refuses every GM REST write reusing a key of another op", async () => {
    const t = await playerMovedToken();
    const key = crypto.randomUUID();
    const scene = await t.gm.req(
      "POST",
      `${t.base}/scenes`,
      { name: "Vault", metadata: { gm_notes: "the trap" } },
      { "idempotency-key": key },
    );
    expect(scene.status).toBe(201);
    const id = scene.body.id;
    const h = { "idempotency-key": key };
    expectReusedGm(await t.gm.req("POST", `${t.base}/tokens`, { name: "Clone" }, h), key);
    expectReusedGm(await t.gm.req("PATCH", `${t.base}/scenes/${id}`, { name: "Vault 2" }, { ...h, "if-match": '"1"' }), key);
    expectReusedGm(await t.gm.req("DELETE", `${t.base}/scenes/${id}`, undefined, h), key);
    expectReusedGm(await t.gm.req("POST", `${t.base}/scenes/${id}/restore`, undefined, h), key);
    expectReusedGm(await t.gm.req("POST", `${t.base}/scenes/${id}/revert`, { version: 1, base_version: 1 }, h), key);
    expectReusedGm(await t.gm.req("POST", `${t.base}/scenes/${id}/activate`, {}, h), key);
    expectReusedGm(await t.gm.req("PATCH", `${t.base}/session-state`, { flags: { lighting: true } }, { ...h, "if-match": '"2"' }), key);
    expectReusedGm(await t.gm.req("POST", `${t.base}/layers`, { scene_id: id, layer_type: "drawings" }, h), key);
    expectReusedGm(await t.gm.req("POST", `${t.base}/fog`, { scene_id: id }, h), key);
    // Nothing of them applied: the scene is still at its first version, not archived, not active.
    const stored = await t.gm.req("GET", `${t.base}/scenes/${id}`);
    expect(stored.body).toMatchObject({ version: 1, name: "Vault", archived_at: null, layers: [] });
    expect((await t.gm.req("GET", `${t.base}/session-state`)).body.active_scene_id).toBe(t.scene.id);
  });

  it("still answers a legitimate replay with the first result, applied once", async () => {
    const t = await playerMovedToken();
    const seq = await seqOfSession(t.sid);
    const again = await t.player.req("PATCH", `${t.base}/tokens/${t.token.id}`, { x: 3 }, { "if-match": '"1"', "idempotency-key": t.key });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: t.token.id, version: 2, x: 3, stats: { hp: 9 } });
    const batch = await t.player.req("POST", `${t.base}/batch`, {
      ops: [{ op_id: t.key, entity_type: "token", op: "update", id: t.token.id, base_version: 1, data: { x: 3 } }],
    });
    expect(batch.status).toBe(200);
    expect(batch.body.results).toEqual([{ op_id: t.key, entity: expect.objectContaining({ version: 2, stats: { hp: 9 } }) }]);
    expect(await seqOfSession(t.sid)).toBe(seq);
  });

  it("replays a create without a chosen id, and a GM's create of a module entity", async () => {
    const t = await playerMovedToken();
    const key = crypto.randomUUID();
    const first = await t.gm.req("POST", `${t.base}/fog`, { scene_id: t.scene.id }, { "idempotency-key": key });
    expect(first.status).toBe(201);
    const again = await t.gm.req("POST", `${t.base}/fog`, { scene_id: t.scene.id }, { "idempotency-key": key });
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    const list = await t.gm.req("GET", `${t.base}/fog?scene_id=${t.scene.id}`);
    expect(list.body.items).toHaveLength(1);
  });

  it("gives a player's replay the removed form once the token is hidden from them", async () => {
    const t = await playerMovedToken();
    await t.gm.req("PATCH", `${t.base}/tokens/${t.token.id}`, { hidden: true }, { "if-match": '"2"' });
    const again = await t.player.req("PATCH", `${t.base}/tokens/${t.token.id}`, { x: 3 }, { "if-match": '"1"', "idempotency-key": t.key });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ id: t.token.id, version: 2, removed: true });
  });

  it("answers no replay of an op id stored before the actor was recorded", async () => {
    const t = await playerMovedToken();
    await (await shardOf(t.sid))
      .prepare("UPDATE applied_ops SET user_id = NULL, op = NULL WHERE session_id = ? AND op_id = ?")
      .bind(t.sid, t.key)
      .run();
    const again = await t.player.req("PATCH", `${t.base}/tokens/${t.token.id}`, { x: 3 }, { "if-match": '"1"', "idempotency-key": t.key });
    expectReused(again, t.key);
  });

  it("verifies rows stored before the migration from the change log, and leaves the rest unverified", async () => {
    const t = await playerMovedToken();
    const key = crypto.randomUUID();
    await t.gm.req("DELETE", `${t.base}/tokens/${t.token.id}`, undefined, { "idempotency-key": key });
    const moved = await (await shardOf(t.sid))
      .prepare("SELECT seq FROM applied_ops WHERE session_id = ? AND op_id = ?")
      .bind(t.sid, t.key)
      .first<{ seq: number }>();
    await (await shardOf(t.sid)).prepare("UPDATE applied_ops SET user_id = NULL, op = NULL WHERE session_id = ?").bind(t.sid).run();
    // The move's change was compacted away: nothing vouches for that row any more.
    await (await shardOf(t.sid)).prepare("DELETE FROM change_log WHERE session_id = ? AND seq = ?").bind(t.sid, moved?.seq).run();
    const migration = env.TEST_MIGRATIONS.find((m) => m.name.includes("applied_op_identity"));
    const backfill = migration?.queries.find((q) => q.includes("UPDATE"));
    expect(backfill).toBeDefined();
    await (await shardOf(t.sid)).prepare(backfill ?? "").run();
    expect(await storedOp(t.sid, key)).toEqual({ entity_type: "token", entity_id: t.token.id, user_id: t.gm.id, op: "archive" });
    expect(await storedOp(t.sid, t.key)).toMatchObject({ user_id: null, op: null });
  });
});

function expectReusedGm(r: { status: number; body: any }, opId: string) {
  expect(r.status).toBe(409);
  expect(r.body.error).toMatchObject({ code: "conflict", details: { op_id: opId, reason: "op_id_reused" } });
  expect(JSON.stringify(r.body)).not.toContain("the trap");
}
