import { env, evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LOCK_TTL_MS } from "../../domain/locks";
import { create, newTable, type Reply, TestUser } from "../helpers/client";
import { shardOf } from "../helpers/shards";
import { TestSocket } from "../helpers/socket";

function expectError(r: Reply, status: number, code: string) {
  expect(r.status).toBe(status);
  expect(r.body?.error?.code).toBe(code);
}

const stubOf = (sid: string) => env.SESSION.get(env.SESSION.idFromName(sid));

async function lockRow(sid: string, sceneId: string) {
  return (await shardOf(sid))
    .prepare("SELECT holder_user_id, expires_at FROM session_locks WHERE session_id = ? AND scene_id = ?")
    .bind(sid, sceneId)
    .first<{ holder_user_id: string; expires_at: string }>();
}

/** Two GMs (the owner and a co-GM), a player, a scene with a layer and a player-owned token on it. */
async function coGmTable() {
  const t = await newTable();
  const coGm = await TestUser.register("cogm");
  const joined = await coGm.req("POST", "/api/vtt/sessions/join", { invite_code: t.inviteCode });
  if (joined.status !== 200) throw new Error("join failed");
  const promoted = await t.gm.req("PUT", `${t.base}/members/${coGm.id}`, { role: "gm" });
  if (promoted.status !== 200) throw new Error("promotion failed");
  const scene = await create(t.gm, t.base, "scenes", { name: "Crypt" });
  const other = await create(t.gm, t.base, "scenes", { name: "Tower" });
  const layer = await create(t.gm, t.base, "layers", { scene_id: scene.id, layer_type: "drawings" });
  const hero = await create(t.gm, t.base, "tokens", { name: "Hero", scene_id: scene.id, owner_user_ids: [t.player.id] });
  const goblin = await create(t.gm, t.base, "tokens", { name: "Goblin", scene_id: other.id });
  await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {});
  return { ...t, coGm, scene, other, layer, hero, goblin };
}

afterEach(() => {
  vi.useRealTimers();
});

/** Moves the clock (of the tests and of the objects: they share the isolate) forward. */
function advance(ms: number) {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.now() + ms);
}

describe("POST {S}/locks", () => {
  it("gives a GM the lock of a scene: 201, stored, and told to GM sockets only", async () => {
    const t = await coGmTable();
    const gmSocket = await TestSocket.open(t.coGm, t.base);
    const playerSocket = await TestSocket.open(t.player, t.base);
    const r = await t.gm.req("POST", `${t.base}/locks`, { scene_id: t.scene.id });
    expect(r.status).toBe(201);
    expect(r.body.lock).toMatchObject({ scene_id: t.scene.id, holder_user_id: t.gm.id });
    const ttl = Date.parse(r.body.lock.expires_at) - Date.now();
    expect(ttl).toBeGreaterThan(LOCK_TTL_MS - 60_000);
    expect(ttl).toBeLessThanOrEqual(LOCK_TTL_MS);
    expect(await lockRow(t.sid, t.scene.id)).toEqual({ holder_user_id: t.gm.id, expires_at: r.body.lock.expires_at });
    expect(await gmSocket.next((m) => m.type === "lock")).toEqual({
      type: "lock",
      scene_id: t.scene.id,
      lock: r.body.lock,
      reason: "acquired",
    });
    const sentinel = await create(t.gm, t.base, "tokens", { name: "Sentinel", scene_id: t.scene.id });
    await playerSocket.next((m) => m.type === "change" && m.entity_id === sentinel.id);
    expect(playerSocket.all("lock")).toEqual([]);
    // The holder's write was activity: the listed lock runs from it.
    const listed = await t.coGm.req("GET", `${t.base}/locks`);
    expect(listed.body.locks).toEqual([{ ...r.body.lock, expires_at: expect.any(String) }]);
    expect(listed.body.locks[0].expires_at >= r.body.lock.expires_at).toBe(true);
  });

  it("answers 409 with details.lock when another GM holds the lock", async () => {
    const t = await coGmTable();
    const first = await t.gm.req("POST", `${t.base}/locks`, { scene_id: t.scene.id });
    const second = await t.coGm.req("POST", `${t.base}/locks`, { scene_id: t.scene.id });
    expectError(second, 409, "conflict");
    expect(second.body.error.details.lock).toEqual(first.body.lock);
    expect((await lockRow(t.sid, t.scene.id))?.holder_user_id).toBe(t.gm.id);
  });

  it("lets the holder take the lock again, which extends it", async () => {
    const t = await coGmTable();
    const first = await t.gm.req("POST", `${t.base}/locks`, { scene_id: t.scene.id });
    advance(60_000);
    const again = await t.gm.req("POST", `${t.base}/locks`, { scene_id: t.scene.id });
    expect(again.status).toBe(201);
    expect(Date.parse(again.body.lock.expires_at)).toBeGreaterThan(Date.parse(first.body.lock.expires_at));
    expect((await lockRow(t.sid, t.scene.id))?.expires_at).toBe(again.body.lock.expires_at);
  });

  it("answers 400 without a scene id, 404 for a scene of no session, and 403 to a player", async () => {
    const t = await coGmTable();
    expectError(await t.gm.req("POST", `${t.base}/locks`, {}), 400, "bad_request");
    expectError(await t.gm.req("POST", `${t.base}/locks`, { scene_id: "no-such-scene" }), 404, "not_found");
    expectError(await t.player.req("POST", `${t.base}/locks`, { scene_id: t.scene.id }), 403, "forbidden");
    expectError(await t.player.req("GET", `${t.base}/locks`), 403, "forbidden");
    expect(await lockRow(t.sid, t.scene.id)).toBeNull();
  });
});

describe("writes on a locked scene", () => {
  it("refuses another GM's writes to the scene or anything on it with 423 and details.lock, applying nothing", async () => {
    const t = await coGmTable();
    const lock = (await t.gm.req("POST", `${t.base}/locks`, { scene_id: t.scene.id })).body.lock;
    const seq = (await t.gm.req("GET", `${t.base}/state`)).body.seq;
    const attempts: Reply[] = [
      await t.coGm.req("PATCH", `${t.base}/scenes/${t.scene.id}`, { name: "Mine" }, { "if-match": '"1"' }),
      await t.coGm.req("PATCH", `${t.base}/layers/${t.layer.id}`, { z_index: 3 }, { "if-match": '"1"' }),
      await t.coGm.req("PATCH", `${t.base}/tokens/${t.hero.id}`, { x: 5 }, { "if-match": '"1"' }),
      await t.coGm.req("POST", `${t.base}/tokens`, { name: "Intruder", scene_id: t.scene.id }),
      // Moving a token onto the locked scene, from another one.
      await t.coGm.req("PATCH", `${t.base}/tokens/${t.goblin.id}`, { scene_id: t.scene.id }, { "if-match": '"1"' }),
      await t.coGm.req("DELETE", `${t.base}/scenes/${t.scene.id}`),
      await t.coGm.req("POST", `${t.base}/batch`, {
        ops: [
          { op_id: crypto.randomUUID(), entity_type: "scene", op: "create", data: { name: "Fine" } },
          { op_id: crypto.randomUUID(), entity_type: "layer", op: "create", data: { scene_id: t.scene.id, layer_type: "fog" } },
        ],
      }),
    ];
    for (const r of attempts) {
      expectError(r, 423, "locked");
      expect(r.body.error.details.lock).toEqual(lock);
    }
    const state = await t.gm.req("GET", `${t.base}/state`);
    expect(state.body.seq).toBe(seq);
    expect(state.body.scenes.map((s: any) => s.name).sort()).toEqual(["Crypt", "Tower"]);
  });

  it("lets the holder write, other GMs write elsewhere, and players move their own tokens", async () => {
    const t = await coGmTable();
    await t.gm.req("POST", `${t.base}/locks`, { scene_id: t.scene.id });
    expect((await t.gm.req("PATCH", `${t.base}/scenes/${t.scene.id}`, { name: "Crypt II" }, { "if-match": '"1"' })).status).toBe(200);
    expect((await t.coGm.req("PATCH", `${t.base}/scenes/${t.other.id}`, { name: "Tower II" }, { "if-match": '"1"' })).status).toBe(200);
    expect((await t.player.req("PATCH", `${t.base}/tokens/${t.hero.id}`, { x: 3 }, { "if-match": '"1"' })).status).toBe(200);
    const activate = await t.coGm.req("POST", `${t.base}/scenes/${t.other.id}/activate`, {});
    expect(activate.status).toBe(200);
  });

  it("keeps refusing after the object is evicted: the lock is rebuilt from D1", async () => {
    const t = await coGmTable();
    await t.gm.req("POST", `${t.base}/locks`, { scene_id: t.scene.id });
    await evictDurableObject(stubOf(t.sid));
    expectError(await t.coGm.req("PATCH", `${t.base}/scenes/${t.scene.id}`, { name: "Mine" }, { "if-match": '"1"' }), 423, "locked");
  });
});

describe("DELETE {S}/locks/{scene_id}", () => {
  it("releases the holder's lock: 204, gone from D1, told to GM sockets, and other GMs may write", async () => {
    const t = await coGmTable();
    const gmSocket = await TestSocket.open(t.coGm, t.base);
    await t.gm.req("POST", `${t.base}/locks`, { scene_id: t.scene.id });
    const r = await t.gm.req("DELETE", `${t.base}/locks/${t.scene.id}`);
    expect(r.status).toBe(204);
    expect(await lockRow(t.sid, t.scene.id)).toBeNull();
    expect(await gmSocket.next((m) => m.type === "lock" && m.reason === "released")).toEqual({
      type: "lock",
      scene_id: t.scene.id,
      lock: null,
      reason: "released",
    });
    expect((await t.coGm.req("PATCH", `${t.base}/scenes/${t.scene.id}`, { name: "Mine" }, { "if-match": '"1"' })).status).toBe(200);
  });

  it("answers 409 to another GM's release and 204 when nothing is held", async () => {
    const t = await coGmTable();
    const held = await t.gm.req("POST", `${t.base}/locks`, { scene_id: t.scene.id });
    const r = await t.coGm.req("DELETE", `${t.base}/locks/${t.scene.id}`);
    expectError(r, 409, "conflict");
    expect(r.body.error.details.lock).toEqual(held.body.lock);
    expect(await lockRow(t.sid, t.scene.id)).not.toBeNull();
    expect((await t.coGm.req("DELETE", `${t.base}/locks/${t.other.id}`)).status).toBe(204);
  });

  it("answers 403 to a player", async () => {
    const t = await coGmTable();
    await t.gm.req("POST", `${t.base}/locks`, { scene_id: t.scene.id });
    expectError(await t.player.req("DELETE", `${t.base}/locks/${t.scene.id}`), 403, "forbidden");
    expect(await lockRow(t.sid, t.scene.id)).not.toBeNull();
  });
});

describe("expiry", () => {
  it("expires a lock after five minutes without activity when the alarm runs, and tells the GMs", async () => {
    const t = await coGmTable();
    const gmSocket = await TestSocket.open(t.coGm, t.base);
    await t.gm.req("POST", `${t.base}/locks`, { scene_id: t.scene.id });
    await runDurableObjectAlarm(stubOf(t.sid));
    expect(await lockRow(t.sid, t.scene.id)).not.toBeNull();

    advance(LOCK_TTL_MS + 1000);
    expect(await runDurableObjectAlarm(stubOf(t.sid))).toBe(true);
    expect(await lockRow(t.sid, t.scene.id)).toBeNull();
    expect(await gmSocket.next((m) => m.type === "lock" && m.reason === "expired")).toMatchObject({ scene_id: t.scene.id, lock: null });
    expect((await t.coGm.req("PATCH", `${t.base}/scenes/${t.scene.id}`, { name: "Mine" }, { "if-match": '"1"' })).status).toBe(200);
    expect((await t.coGm.req("POST", `${t.base}/locks`, { scene_id: t.scene.id })).status).toBe(201);
  });

  it("stops blocking at expiry even before the alarm has run", async () => {
    const t = await coGmTable();
    await t.gm.req("POST", `${t.base}/locks`, { scene_id: t.scene.id });
    advance(LOCK_TTL_MS + 1000);
    expect((await t.coGm.req("PATCH", `${t.base}/scenes/${t.scene.id}`, { name: "Mine" }, { "if-match": '"1"' })).status).toBe(200);
  });

  it("keeps a lock alive through its holder's writes", async () => {
    const t = await coGmTable();
    await t.gm.req("POST", `${t.base}/locks`, { scene_id: t.scene.id });
    advance(LOCK_TTL_MS - 60_000);
    expect((await t.gm.req("PATCH", `${t.base}/scenes/${t.other.id}`, { name: "Tower II" }, { "if-match": '"1"' })).status).toBe(200);
    advance(2 * 60_000);
    await runDurableObjectAlarm(stubOf(t.sid));
    expect(await lockRow(t.sid, t.scene.id)).not.toBeNull();
    expectError(await t.coGm.req("PATCH", `${t.base}/scenes/${t.scene.id}`, { name: "Mine" }, { "if-match": '"1"' }), 423, "locked");
    advance(LOCK_TTL_MS);
    await runDurableObjectAlarm(stubOf(t.sid));
    expect(await lockRow(t.sid, t.scene.id)).toBeNull();
  });

  it("keeps a lock alive through its holder's socket messages, but not through acks", async () => {
    const t = await coGmTable();
    const holder = await TestSocket.open(t.gm, t.base);
    await t.gm.req("POST", `${t.base}/locks`, { scene_id: t.scene.id });
    advance(LOCK_TTL_MS - 60_000);
    holder.send({ type: "ack", event_ids: [1] });
    holder.send({ type: "preview", entity_id: t.hero.id, x: 1, y: 1 });
    holder.send({ type: "resume", since: holder.all("hello")[0].seq });
    await holder.next((m) => m.type === "resumed");
    advance(2 * 60_000);
    await runDurableObjectAlarm(stubOf(t.sid));
    expect(await lockRow(t.sid, t.scene.id)).not.toBeNull();

    advance(LOCK_TTL_MS - 60_000);
    holder.send({ type: "ack", event_ids: [2] });
    holder.send({ type: "resume", since: holder.all("hello")[0].seq });
    await holder.next((m) => m.type === "resumed");
    advance(2 * 60_000);
    await runDurableObjectAlarm(stubOf(t.sid));
    expect(await lockRow(t.sid, t.scene.id)).toBeNull();
  });
});
