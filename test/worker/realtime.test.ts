import { env, evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CLOSE_CODES } from "../../domain/protocol";
import { PREVIEW_LIMIT, SOCKET_MESSAGE_LIMIT } from "../../domain/rate-limit";
import { create, newTable, ORIGIN, type Reply, TestUser } from "../helpers/client";
import { shardOf } from "../helpers/shards";
import { TestSocket } from "../helpers/socket";

function expectError(r: Reply, status: number, code: string) {
  expect(r.status).toBe(status);
  expect(r.body?.error?.code).toBe(code);
}

const stubOf = (sid: string) => env.SESSION.get(env.SESSION.idFromName(sid));

/**
 * Stops Date (of the tests and of the objects: they share the isolate), so token buckets refill
 * nothing while a test runs: what a limit lets through no longer depends on how fast the machine is.
 */
function freezeClock() {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.now());
}

afterEach(() => {
  vi.useRealTimers();
});

/** Runs the object's alarm until `check` passes: acks and activity reach D1 through it. */
async function afterFlush(sid: string, check: () => Promise<void>) {
  await vi.waitFor(
    async () => {
      await runDurableObjectAlarm(stubOf(sid));
      await check();
    },
    { timeout: 5000, interval: 50 },
  );
}

/** A table with an active scene, a player-owned token on it, and both sockets connected. */
async function liveTable() {
  const t = await newTable();
  const scene = await create(t.gm, t.base, "scenes", { name: "Crypt", metadata: { gm_notes: "trap at the door", mood: "grim" } });
  const hero = await create(t.gm, t.base, "tokens", { name: "Hero", scene_id: scene.id, owner_user_ids: [t.player.id] });
  await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {});
  const gmSocket = await TestSocket.open(t.gm, t.base);
  const playerSocket = await TestSocket.open(t.player, t.base);
  return { ...t, scene, hero, gmSocket, playerSocket };
}

/** A change every socket can see: once a socket has it, everything committed before has arrived too. */
async function sentinel(t: Awaited<ReturnType<typeof liveTable>>, ...sockets: TestSocket[]) {
  const token = await create(t.gm, t.base, "tokens", { name: "Sentinel", scene_id: t.scene.id });
  for (const s of sockets) await s.next((m) => m.type === "change" && m.entity_id === token.id, "the sentinel");
  return token;
}

describe("connecting", () => {
  it("greets a GM and a player with hello: seq, role, client id, user and the active scene", async () => {
    const t = await liveTable();
    const seq = (await t.gm.req("GET", `${t.base}/state`)).body.seq;
    const [gmHello] = t.gmSocket.all("hello");
    const [playerHello] = t.playerSocket.all("hello");
    expect(t.gmSocket.messages[0]).toBe(gmHello);
    expect(gmHello).toMatchObject({ type: "hello", seq, role: "gm", user_id: t.gm.id, active_scene_id: t.scene.id });
    expect(playerHello).toMatchObject({ type: "hello", seq, role: "player", user_id: t.player.id, active_scene_id: t.scene.id });
    expect(gmHello.client_id).not.toBe(playerHello.client_id);
  });

  it("accepts the app's own Origin and a bearer token", async () => {
    const { gm, base } = await newTable();
    const token = await gm.req("POST", "/api/auth/tokens", { name: "script" });
    const scripted = new TestUser();
    scripted.bearer = token.body.token;
    const socket = await TestSocket.open(scripted, base, { origin: ORIGIN });
    expect(socket.all("hello")[0].role).toBe("gm");
  });

  it("refuses a foreign Origin with 403 and records no client", async () => {
    const { gm, base, sid } = await newTable();
    const r = await TestSocket.connect(gm, base, { origin: "https://evil.example" });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe("forbidden");
    const rows = await (await shardOf(sid))
      .prepare("SELECT COUNT(*) AS n FROM session_clients WHERE session_id = ?")
      .bind(sid)
      .first<{ n: number }>();
    expect(rows?.n).toBe(0);
  });

  it("refuses a non-member with 404 and a caller without credentials with 401", async () => {
    const { base } = await newTable();
    const stranger = await TestUser.register("stranger");
    const refused = await TestSocket.connect(stranger, base);
    expect(refused.status).toBe(404);
    expect(refused.body.error.code).toBe("not_found");
    const anonymous = await TestSocket.connect(new TestUser(), base);
    expect(anonymous.status).toBe(401);
  });

  it("answers 400 to a GET of the socket path without an upgrade", async () => {
    const { gm, base } = await newTable();
    expectError(await gm.req("GET", `${base}/ws`), 400, "bad_request");
  });
});

describe("broadcasts", () => {
  it("sends a GM's change to the GM and to players, the player's copy without GM notes", async () => {
    const t = await liveTable();
    const r = await t.gm.req("PATCH", `${t.base}/scenes/${t.scene.id}`, { description: "dark" }, { "if-match": `"${t.scene.version}"` });
    expect(r.status).toBe(200);
    const expected = { type: "change", entity_type: "scene", entity_id: t.scene.id, version: r.body.version, op: "update" };
    const toGm = await t.gmSocket.next((m) => m.type === "change" && m.entity_id === t.scene.id);
    const toPlayer = await t.playerSocket.next((m) => m.type === "change" && m.entity_id === t.scene.id);
    expect(toGm).toMatchObject(expected);
    expect(toPlayer).toMatchObject(expected);
    expect(toGm.event_id).toBe(toGm.seq);
    expect(toPlayer.seq).toBe(toGm.seq);
    expect(toGm.entity.metadata).toEqual({ gm_notes: "trap at the door", mood: "grim" });
    expect(toPlayer.entity.metadata).toEqual({ mood: "grim" });
    expect(toPlayer.entity.description).toBe("dark");
  });

  it("never lets anything of a hidden token, another scene, a notes layer or GM notes reach a player's socket", async () => {
    const t = await liveTable();
    const lurker = await create(t.gm, t.base, "tokens", { name: "Lurker", scene_id: t.scene.id, hidden: true, stats: { hp: 40 } });
    await t.gm.req("PATCH", `${t.base}/tokens/${lurker.id}`, { x: 7 }, { "if-match": '"1"' });
    const tower = await create(t.gm, t.base, "scenes", { name: "Tower" });
    await create(t.gm, t.base, "tokens", { name: "Guard", scene_id: tower.id });
    await create(t.gm, t.base, "tokens", { name: "Goblin" });
    await create(t.gm, t.base, "layers", { scene_id: t.scene.id, layer_type: "notes", payload: { text: "secret door" } });
    await create(t.gm, t.base, "folders", { name: "Villains", kind: "token" });
    await t.gm.req("PATCH", `${t.base}/tokens/${t.hero.id}`, { stats: { gm_notes: "cursed", hp: 9 } }, { "if-match": '"1"' });
    await sentinel(t, t.gmSocket, t.playerSocket);

    for (const name of ["Lurker", "Tower", "Guard", "Goblin", "secret door", "Villains"]) {
      expect(t.gmSocket.raw.join("\n")).toContain(name);
    }
    const seen = t.playerSocket.raw.join("\n");
    for (const secret of [
      "Lurker",
      lurker.id,
      tower.id,
      "Tower",
      "Guard",
      "Goblin",
      "secret door",
      "Villains",
      "cursed",
      "trap at the door",
    ]) {
      expect(seen).not.toContain(secret);
    }
    const heroChange = t.playerSocket.all("change").find((m) => m.entity_id === t.hero.id);
    expect(heroChange.entity.stats).toEqual({ hp: 9 });
  });

  it("tells a player a token that becomes hidden as a removal, without its content", async () => {
    const t = await liveTable();
    const r = await t.gm.req("PATCH", `${t.base}/tokens/${t.hero.id}`, { hidden: true, name: "Hero (invisible)" }, { "if-match": '"1"' });
    expect(r.status).toBe(200);
    const removal = await t.playerSocket.next((m) => m.type === "change" && m.entity_id === t.hero.id);
    expect(removal).toMatchObject({ entity_type: "token", op: "update", version: 2, removed: true });
    expect(removal.entity).toBeUndefined();
    expect(t.playerSocket.raw.join("\n")).not.toContain("invisible");
    const toGm = await t.gmSocket.next((m) => m.type === "change" && m.entity_id === t.hero.id);
    expect(toGm.entity.hidden).toBe(true);
  });

  it("sends players a reload, and GMs the change, when another scene is activated", async () => {
    const t = await liveTable();
    const tower = await create(t.gm, t.base, "scenes", { name: "Tower" });
    const r = await t.gm.req("POST", `${t.base}/scenes/${tower.id}/activate`, {});
    expect(r.status).toBe(200);
    const reload = await t.playerSocket.next((m) => m.type === "reload");
    expect(reload).toMatchObject({ type: "reload", reason: "activate" });
    const toGm = await t.gmSocket.next((m) => m.type === "change" && m.entity_type === "session_state");
    expect(toGm.entity.active_scene_id).toBe(tower.id);
    expect(reload.seq).toBe(toGm.seq);
  });

  it("delivers every change of a batch and of later writes in seq order, none missing", async () => {
    const t = await liveTable();
    const ops = Array.from({ length: 30 }, (_, i) => ({
      op_id: crypto.randomUUID(),
      entity_type: "token",
      op: "create",
      data: { name: `Minion ${i}`, scene_id: t.scene.id },
    }));
    const batch = await t.gm.req("POST", `${t.base}/batch`, { ops });
    expect(batch.status).toBe(200);
    let version = 1;
    for (let i = 0; i < 5; i++) {
      const r = await t.gm.req("PATCH", `${t.base}/tokens/${t.hero.id}`, { x: i }, { "if-match": `"${version}"` });
      version = r.body.version;
    }
    const last = await sentinel(t, t.gmSocket, t.playerSocket);
    const hello = t.gmSocket.all("hello")[0];
    for (const socket of [t.gmSocket, t.playerSocket]) {
      const seqs = socket.all("change").map((m) => m.seq);
      const lastSeq = socket.all("change").find((m) => m.entity_id === last.id).seq;
      expect(seqs).toEqual(Array.from({ length: lastSeq - hello.seq }, (_, i) => hello.seq + 1 + i));
    }
  });

  it("inlines small entities and leaves large ones to REST", async () => {
    const t = await liveTable();
    const big = await create(t.gm, t.base, "tokens", { name: "Dragon", scene_id: t.scene.id, stats: { lore: "x".repeat(20_000) } });
    const m = await t.playerSocket.next((msg) => msg.type === "change" && msg.entity_id === big.id);
    expect(m).toMatchObject({ entity_type: "token", version: 1, op: "create" });
    expect(m.entity).toBeUndefined();
    const fetched = await t.player.req("GET", `${t.base}/tokens/${big.id}`);
    expect(fetched.status).toBe(200);
  });
});

describe("resume", () => {
  it("replays every change after a seq, filtered and in order, then says resumed", async () => {
    const t = await liveTable();
    const since = t.playerSocket.all("hello")[0].seq;
    t.playerSocket.close();
    await t.gm.req("PATCH", `${t.base}/tokens/${t.hero.id}`, { x: 4 }, { "if-match": '"1"' });
    const lurker = await create(t.gm, t.base, "tokens", { name: "Lurker", scene_id: t.scene.id, hidden: true });
    const goblin = await create(t.gm, t.base, "tokens", { name: "Goblin", scene_id: t.scene.id });
    await t.gm.req("PATCH", `${t.base}/tokens/${goblin.id}`, { y: 2 }, { "if-match": '"1"' });

    const again = await TestSocket.open(t.player, t.base);
    again.send({ type: "resume", since });
    const resumed = await again.next((m) => m.type === "resumed");
    const replay = again.all("change");
    expect(replay.map((m) => m.entity_id)).toEqual([t.hero.id, goblin.id]);
    expect(replay[0].entity.x).toBe(4);
    expect(replay[1]).toMatchObject({ version: 2, entity: { y: 2 } });
    expect(replay[0].seq).toBeLessThan(replay[1].seq);
    expect(resumed.seq).toBe(again.all("hello")[0].seq);
    expect(again.raw.join("\n")).not.toContain(lurker.id);
  });

  it("answers reload when the seq is older than the retained log", async () => {
    const t = await liveTable();
    const seq = t.gmSocket.all("hello")[0].seq;
    await (await shardOf(t.sid)).prepare("UPDATE game_sessions SET log_floor = ? WHERE id = ?").bind(seq, t.sid).run();
    t.gmSocket.send({ type: "resume", since: seq - 1 });
    const reload = await t.gmSocket.next((m) => m.type === "reload" || m.type === "resumed");
    expect(reload).toEqual({ type: "reload", seq, reason: "gone" });
  });

  it("answers a player reload when a scene was activated since (the timeline lands them on it)", async () => {
    const t = await liveTable();
    const since = t.playerSocket.all("hello")[0].seq;
    const tower = await create(t.gm, t.base, "scenes", { name: "Tower" });
    await t.gm.req("POST", `${t.base}/scenes/${tower.id}/activate`, {});
    const late = await TestSocket.open(t.player, t.base);
    expect(late.all("hello")[0].active_scene_id).toBe(tower.id);
    late.send({ type: "resume", since });
    const reload = await late.next((m) => m.type === "reload" || m.type === "resumed");
    expect(reload).toMatchObject({ type: "reload", reason: "activate" });
  });

  it("answers an invalid message with an error frame and keeps the socket open", async () => {
    const t = await liveTable();
    t.gmSocket.send("{not json");
    expect(await t.gmSocket.next((m) => m.type === "error")).toMatchObject({ code: "bad_request" });
    t.gmSocket.send({ type: "resume", since: -1 });
    expect(await t.gmSocket.next((m) => m.type === "error")).toMatchObject({ code: "bad_request" });
    t.gmSocket.send({ type: "resume", since: t.gmSocket.all("hello")[0].seq });
    expect(await t.gmSocket.next((m) => m.type === "resumed")).toBeTruthy();
    expect(t.gmSocket.closed).toBeUndefined();
  });

  it("answers the text ping with pong", async () => {
    const t = await liveTable();
    t.playerSocket.send("ping");
    expect(await t.playerSocket.next((m) => m === "pong")).toBe("pong");
  });
});

describe("acks and clients", () => {
  it("stores socket acks per client and event", async () => {
    const t = await liveTable();
    const change = await sentinel(t, t.playerSocket);
    const eventId = t.playerSocket.all("change").find((m) => m.entity_id === change.id).event_id;
    const clientId = t.playerSocket.all("hello")[0].client_id;
    t.playerSocket.send({ type: "ack", event_ids: [eventId, eventId - 1] });
    await afterFlush(t.sid, async () => {
      const rows = await (await shardOf(t.sid))
        .prepare("SELECT client_id, event_id, user_id FROM acknowledgements WHERE session_id = ? ORDER BY event_id")
        .bind(t.sid)
        .all();
      expect(rows.results).toEqual([
        { client_id: clientId, event_id: eventId - 1, user_id: t.player.id },
        { client_id: clientId, event_id: eventId, user_id: t.player.id },
      ]);
    });
  });

  it("stores acks from POST {S}/ack under the caller's connected client", async () => {
    const t = await liveTable();
    const r = await t.player.req("POST", `${t.base}/ack`, { event_ids: [3, 4] });
    expect(r.status).toBe(204);
    const rows = await (await shardOf(t.sid))
      .prepare("SELECT client_id, event_id FROM acknowledgements WHERE session_id = ? ORDER BY event_id")
      .bind(t.sid)
      .all();
    const clientId = t.playerSocket.all("hello")[0].client_id;
    expect(rows.results).toEqual([
      { client_id: clientId, event_id: 3 },
      { client_id: clientId, event_id: 4 },
    ]);
  });

  it("stores an HTTP ack of as many event ids as the body allows (1,000)", async () => {
    const t = await liveTable();
    const ids = Array.from({ length: 1000 }, (_, i) => i + 1);
    const r = await t.player.req("POST", `${t.base}/ack`, { event_ids: ids });
    expect(r.status).toBe(204);
    const count = await (await shardOf(t.sid))
      .prepare("SELECT COUNT(*) AS n FROM acknowledgements WHERE session_id = ?")
      .bind(t.sid)
      .first<{ n: number }>();
    expect(count?.n).toBe(1000);
  });

  it("answers 400 to an ack without event ids, and 404 to a non-member's ack", async () => {
    const t = await newTable();
    expectError(await t.player.req("POST", `${t.base}/ack`, { event_ids: [] }), 400, "bad_request");
    const stranger = await TestUser.register("stranger");
    expectError(await stranger.req("POST", `${t.base}/ack`, { event_ids: [1] }), 404, "not_found");
  });

  it("lists connected clients to a GM with user, role, last_seen and capabilities", async () => {
    const t = await liveTable();
    t.playerSocket.send({ type: "capabilities", capabilities: { app: "web", version: 3, preview: true } });
    await afterFlush(t.sid, async () => {
      const row = await (await shardOf(t.sid))
        .prepare("SELECT capabilities FROM session_clients WHERE client_id = ?")
        .bind(t.playerSocket.all("hello")[0].client_id)
        .first<{ capabilities: string }>();
      expect(JSON.parse(row?.capabilities ?? "{}")).toMatchObject({ app: "web", version: 3 });
    });
    const r = await t.gm.req("GET", `${t.base}/clients`);
    expect(r.status).toBe(200);
    const byId = new Map(r.body.clients.map((c: any) => [c.client_id, c]));
    const gmClient: any = byId.get(t.gmSocket.all("hello")[0].client_id);
    const playerClient: any = byId.get(t.playerSocket.all("hello")[0].client_id);
    expect(r.body.clients).toHaveLength(2);
    expect(gmClient).toMatchObject({ user_id: t.gm.id, role: "gm" });
    expect(playerClient).toMatchObject({ user_id: t.player.id, role: "player", capabilities: { app: "web", version: 3, preview: true } });
    expect(playerClient.last_seen >= playerClient.connected_at).toBe(true);
  });

  it("answers 403 to a player asking for the clients", async () => {
    const t = await newTable();
    expectError(await t.player.req("GET", `${t.base}/clients`), 403, "forbidden");
  });

  it("broadcasts presence when a client connects and when it leaves, and records the departure", async () => {
    const t = await liveTable();
    const second = await TestSocket.open(t.player, t.base);
    const clientId = second.all("hello")[0].client_id;
    const snapshot = await second.next((m) => m.type === "presence");
    expect(snapshot.clients.map((c: any) => c.client_id).sort()).toEqual(
      [t.gmSocket.all("hello")[0].client_id, t.playerSocket.all("hello")[0].client_id, clientId].sort(),
    );
    // Joins of the same moment are announced together (presence-joins.ts): find this one among them.
    const joined = await t.gmSocket.next((m) => m.type === "presence" && m.joined?.some((c: any) => c.client_id === clientId));
    expect(joined.joined.find((c: any) => c.client_id === clientId)).toMatchObject({ user_id: t.player.id, role: "player" });
    second.close();
    await t.gmSocket.next((m) => m.type === "presence" && m.left?.includes(clientId), "the departure");
    const row = await (await shardOf(t.sid))
      .prepare("SELECT disconnected_at FROM session_clients WHERE client_id = ?")
      .bind(clientId)
      .first<{ disconnected_at: string | null }>();
    expect(row?.disconnected_at).not.toBeNull();
    const listed = await t.gm.req("GET", `${t.base}/clients`);
    expect(listed.body.clients.map((c: any) => c.client_id)).not.toContain(clientId);
  });
});

describe("live drag previews", () => {
  it("relays a player's drag of their own token to the others, not back to the sender, and persists nothing", async () => {
    const t = await liveTable();
    const other = await TestSocket.open(t.player, t.base);
    const seq = (await t.gm.req("GET", `${t.base}/state`)).body.seq;
    t.playerSocket.send({ type: "preview", entity_id: t.hero.id, x: 12.5, y: 3 });
    const expected = { type: "preview", entity_id: t.hero.id, user_id: t.player.id, x: 12.5, y: 3, rotation: 0 };
    expect(await t.gmSocket.next((m) => m.type === "preview")).toEqual(expected);
    expect(await other.next((m) => m.type === "preview")).toEqual(expected);
    await sentinel(t, t.playerSocket);
    expect(t.playerSocket.all("preview")).toEqual([]);
    const hero = await t.gm.req("GET", `${t.base}/tokens/${t.hero.id}`);
    expect(hero.body).toMatchObject({ x: 0, y: 0, version: 1 });
    expect((await t.gm.req("GET", `${t.base}/state`)).body.seq).toBe(seq + 1);
  });

  it("refuses a player's drag of a token they do not own and relays nothing", async () => {
    const t = await liveTable();
    const goblin = await create(t.gm, t.base, "tokens", { name: "Goblin", scene_id: t.scene.id });
    t.playerSocket.send({ type: "preview", entity_id: goblin.id, x: 1, y: 1 });
    expect(await t.playerSocket.next((m) => m.type === "error")).toMatchObject({ code: "forbidden" });
    await sentinel(t, t.gmSocket);
    expect(t.gmSocket.all("preview")).toEqual([]);
  });

  it("relays a GM's drag of a hidden token to GMs only, and tells a player it does not exist", async () => {
    const t = await liveTable();
    const coGm = await TestSocket.open(t.gm, t.base);
    const lurker = await create(t.gm, t.base, "tokens", { name: "Lurker", scene_id: t.scene.id, hidden: true });
    t.gmSocket.send({ type: "preview", entity_id: lurker.id, x: 5, y: 6, rotation: 90 });
    expect(await coGm.next((m) => m.type === "preview")).toMatchObject({ entity_id: lurker.id, rotation: 90 });
    t.playerSocket.send({ type: "preview", entity_id: lurker.id, x: 1, y: 1 });
    expect(await t.playerSocket.next((m) => m.type === "error")).toMatchObject({ code: "not_found" });
    await sentinel(t, t.playerSocket);
    expect(t.playerSocket.raw.join("\n")).not.toContain(lurker.id);
  });

  it("relays a burst of previews up to the per-socket limit and drops the rest without closing", async () => {
    const t = await liveTable();
    freezeClock();
    for (let i = 0; i < 60; i++) t.playerSocket.send({ type: "preview", entity_id: t.hero.id, x: i, y: 0 });
    t.playerSocket.send({ type: "resume", since: t.playerSocket.all("hello")[0].seq });
    await t.playerSocket.next((m) => m.type === "resumed");
    await sentinel(t, t.gmSocket);
    const relayed = t.gmSocket.all("preview");
    expect(relayed).toHaveLength(PREVIEW_LIMIT.burst);
    expect(relayed.map((m) => m.x)).toEqual(Array.from({ length: PREVIEW_LIMIT.burst }, (_, i) => i));
    expect(t.playerSocket.closed).toBeUndefined();
  });
});

describe("rate limits", () => {
  it("answers 429 with Retry-After and details.retry_after_ms once a user's bucket is empty, and applies nothing", async () => {
    const t = await newTable();
    freezeClock();
    const set = await t.gm.req("PATCH", `${t.base}/settings`, { rate_limit: { burst: 2, per_second: 0.1 } });
    expect(set.status).toBe(200);
    expect((await t.gm.req("POST", `${t.base}/scenes`, { name: "One" })).status).toBe(201);
    expect((await t.gm.req("POST", `${t.base}/scenes`, { name: "Two" })).status).toBe(201);
    const seq = (await t.gm.req("GET", `${t.base}/state`)).body.seq;
    const refused = await t.gm.req("POST", `${t.base}/scenes`, { name: "Three" });
    expectError(refused, 429, "rate_limited");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(refused.body.error.details.retry_after_ms).toBeGreaterThan(0);
    const state = await t.gm.req("GET", `${t.base}/state`);
    expect(state.body.seq).toBe(seq);
    expect(state.body.scenes.map((s: any) => s.name)).not.toContain("Three");
  });

  it("keeps one user's bucket apart from another's", async () => {
    const t = await liveTable();
    freezeClock();
    await t.gm.req("PATCH", `${t.base}/settings`, { rate_limit: { burst: 1, per_second: 0.1 } });
    await t.gm.req("POST", `${t.base}/scenes`, { name: "One" });
    expectError(await t.gm.req("POST", `${t.base}/scenes`, { name: "Two" }), 429, "rate_limited");
    const move = await t.player.req("PATCH", `${t.base}/tokens/${t.hero.id}`, { x: 2 }, { "if-match": '"1"' });
    expect(move.status).toBe(200);
  });

  it("closes a socket that floods with the rate_limited close code", async () => {
    const t = await liveTable();
    freezeClock();
    for (let i = 0; i <= SOCKET_MESSAGE_LIMIT.burst; i++) t.playerSocket.send({ type: "ack", event_ids: [1] });
    const closed = await t.playerSocket.waitClosed();
    expect(closed.code).toBe(CLOSE_CODES.rate_limited);
    const error = t.playerSocket.all("error").at(-1);
    expect(error).toMatchObject({ code: "rate_limited" });
    await t.gmSocket.next((m) => m.type === "presence" && m.left?.includes(t.playerSocket.all("hello")[0].client_id));
  });

  it("closes a socket that sends a binary frame with 1008, a protocol violation", async () => {
    const t = await liveTable();
    t.playerSocket.ws.send(new Uint8Array([1, 2, 3]));
    expect((await t.playerSocket.waitClosed()).code).toBe(1008);
  });

  it("closes a socket that sends a message over the size limit with 1009", async () => {
    const t = await liveTable();
    t.playerSocket.send({ type: "resume", since: 0, pad: "x".repeat(70 * 1024) });
    expect((await t.playerSocket.waitClosed()).code).toBe(1009);
  });
});

describe("hibernation", () => {
  it("keeps sockets, their identity and the player filter across an eviction of the object", async () => {
    const t = await liveTable();
    const stub = stubOf(t.sid);
    const gmId = t.gmSocket.all("hello")[0].client_id;
    const playerId = t.playerSocket.all("hello")[0].client_id;
    await evictDurableObject(stub, { webSockets: "hibernate" });

    const lurker = await create(t.gm, t.base, "tokens", { name: "Lurker", scene_id: t.scene.id, hidden: true });
    const r = await t.gm.req("PATCH", `${t.base}/tokens/${t.hero.id}`, { x: 9 }, { "if-match": '"1"' });
    expect(r.status).toBe(200);
    const toPlayer = await t.playerSocket.next((m) => m.type === "change" && m.entity_id === t.hero.id);
    expect(toPlayer).toMatchObject({ version: 2, entity: { x: 9 } });
    expect((await t.gmSocket.next((m) => m.type === "change" && m.entity_id === t.hero.id)).entity.x).toBe(9);
    expect(t.gmSocket.all("change").some((m) => m.entity_id === lurker.id)).toBe(true);
    expect(t.playerSocket.raw.join("\n")).not.toContain(lurker.id);

    // Identity intact: the acks are stored under the client id given before the eviction.
    t.playerSocket.send({ type: "ack", event_ids: [toPlayer.event_id] });
    await afterFlush(t.sid, async () => {
      const row = await (await shardOf(t.sid))
        .prepare("SELECT client_id, user_id FROM acknowledgements WHERE session_id = ? AND event_id = ?")
        .bind(t.sid, toPlayer.event_id)
        .first();
      expect(row).toEqual({ client_id: playerId, user_id: t.player.id });
    });
    const clients = await t.gm.req("GET", `${t.base}/clients`);
    expect(clients.body.clients.map((c: any) => [c.client_id, c.role]).sort()).toEqual(
      [
        [gmId, "gm"],
        [playerId, "player"],
      ].sort(),
    );
  });

  it("relays previews and presence after an eviction from what the attachments hold", async () => {
    const t = await liveTable();
    await evictDurableObject(stubOf(t.sid), { webSockets: "hibernate" });
    t.playerSocket.send({ type: "preview", entity_id: t.hero.id, x: 1, y: 2 });
    expect(await t.gmSocket.next((m) => m.type === "preview")).toMatchObject({ user_id: t.player.id, x: 1, y: 2 });
    const late = await TestSocket.open(t.player, t.base);
    const snapshot = await late.next((m) => m.type === "presence");
    expect(snapshot.clients).toHaveLength(3);
  });
});

describe("membership changes", () => {
  it("closes a member's sockets with role_changed when their role changes", async () => {
    const t = await liveTable();
    const r = await t.gm.req("PUT", `${t.base}/members/${t.player.id}`, { role: "gm" });
    expect(r.status).toBe(200);
    expect((await t.playerSocket.waitClosed()).code).toBe(CLOSE_CODES.role_changed);
    const again = await TestSocket.open(t.player, t.base);
    expect(again.all("hello")[0].role).toBe("gm");
    expect(t.gmSocket.closed).toBeUndefined();
  });
});

describe("settings and the polling fallback", () => {
  it("gives every member the settings with defaults", async () => {
    const t = await newTable();
    const r = await t.player.req("GET", `${t.base}/settings`);
    expect(r.status).toBe(200);
    expect(r.body.settings).toEqual({ realtime: true, poll_interval_ms: 4000 });
  });

  it("turns real time off: open sockets are told and closed, new upgrades get 409, and state shows the flag", async () => {
    const t = await liveTable();
    const r = await t.gm.req("PATCH", `${t.base}/settings`, { realtime: false, poll_interval_ms: 5000 });
    expect(r.status).toBe(200);
    expect(r.body.settings).toEqual({ realtime: false, poll_interval_ms: 5000 });
    for (const socket of [t.gmSocket, t.playerSocket]) {
      expect(await socket.next((m) => m.type === "realtime_off")).toEqual({ type: "realtime_off", poll_interval_ms: 5000 });
      expect((await socket.waitClosed()).code).toBe(CLOSE_CODES.realtime_off);
    }
    const refused = await TestSocket.connect(t.player, t.base);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: "conflict", details: { reason: "realtime_off", poll_interval_ms: 5000 } });
    const state = await t.player.req("GET", `${t.base}/state`);
    expect(state.body.session.settings).toMatchObject({ realtime: false, poll_interval_ms: 5000 });
    const head = await t.player.req("GET", t.base);
    expect(head.body.settings).toMatchObject({ realtime: false });

    expect((await t.gm.req("PATCH", `${t.base}/settings`, { realtime: true })).status).toBe(200);
    const back = await TestSocket.open(t.player, t.base);
    expect(back.all("hello")).toHaveLength(1);
  });

  it("tells connected sockets when settings change", async () => {
    const t = await liveTable();
    await t.gm.req("PATCH", `${t.base}/settings`, { poll_interval_ms: 8000 });
    expect(await t.playerSocket.next((m) => m.type === "settings")).toEqual({
      type: "settings",
      settings: { realtime: true, poll_interval_ms: 8000 },
    });
  });

  it("answers 400 to an invalid settings body and 403 to a player", async () => {
    const t = await newTable();
    const bad = await t.gm.req("PATCH", `${t.base}/settings`, { poll_interval_ms: 100 });
    expectError(bad, 400, "bad_request");
    expectError(await t.gm.req("PATCH", `${t.base}/settings`, {}), 400, "bad_request");
    expectError(await t.gm.req("PATCH", `${t.base}/settings`, { realtime: "no" }), 400, "bad_request");
    expectError(await t.player.req("PATCH", `${t.base}/settings`, { realtime: false }), 403, "forbidden");
    expect((await t.gm.req("GET", `${t.base}/settings`)).body.settings.realtime).toBe(true);
  });
});
