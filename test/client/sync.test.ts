import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type Cache, deleteCache, openCache } from "../../client/src/lib/cache";
import { keepMine } from "../../client/src/lib/conflict";
import type { QueueMetric } from "../../client/src/lib/queue";
import { type SessionSync, type SyncDeps, startSync } from "../../client/src/lib/sync";
import type { InboundMessage, WebSocketClass } from "../../client/src/lib/transport";
import type { AnyEntity, SessionInfo } from "../../client/src/lib/types";
import { FakeServer } from "./helpers/fake-server";
import { FakeWebSocket } from "./helpers/fake-socket";
import { freshId, noModules, scene, token } from "./helpers/fixtures";
import { ManualClock, settle } from "./helpers/timers";

const e = (entity: object) => entity as AnyEntity;
const SESSION: SessionInfo = { id: "sess", name: "Table", created_at: "x", role: "gm", settings: {} };

let user: string;
let session: string;
const running: SessionSync[] = [];

beforeEach(() => {
  user = freshId("u");
  session = freshId("s");
  FakeWebSocket.reset();
});

afterEach(async () => {
  for (const sync of running.splice(0)) await sync.stop();
  await deleteCache(user, session);
});

async function withCache(fill: (cache: Cache) => Promise<void>): Promise<void> {
  const cache = await openCache(user, session);
  await fill(cache);
  cache.close();
}

async function readCache() {
  const cache = await openCache(user, session);
  const contents = await cache.loadAll();
  cache.close();
  return contents;
}

function start(server: FakeServer, deps: Partial<SyncDeps> = {}) {
  const clock = new ManualClock();
  const metrics: QueueMetric[] = [];
  const others: InboundMessage[] = [];
  let ids = 0;
  const syncPromise = startSync({
    sessionId: session,
    userId: user,
    modules: noModules,
    api: server,
    socketUrl: "ws://test/api/vtt/sessions/sess/ws",
    WebSocket: FakeWebSocket as unknown as WebSocketClass,
    timers: clock,
    now: clock.now,
    random: () => 0.5,
    uuid: () => `00000000-0000-4000-8000-${String(++ids).padStart(12, "0")}`,
    reportMetric: (m) => metrics.push(m),
    onMessage: (m) => others.push(m),
    onOnline: () => () => undefined,
    ...deps,
  }).then((sync) => {
    running.push(sync);
    return sync;
  });
  return { syncPromise, clock, metrics, others };
}

/** A socket the session's transport opened, accepted by the "server". */
async function acceptSocket(): Promise<FakeWebSocket> {
  await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBeGreaterThan(0));
  const ws = FakeWebSocket.latest();
  ws.accept();
  return ws;
}

describe("boot", () => {
  it("renders the cache at once, before the server answers", async () => {
    const server = new FakeServer();
    server.put("token", e(token("t1", 3, { x: 30 })));
    await withCache(async (cache) => {
      await cache.commit({ put: [{ type: "token", entity: e(token("t1", 2, { x: 20 })) }], seq: 1 });
      await cache.setSession(SESSION);
    });
    server.hold("getChanges");
    const { syncPromise } = start(server);
    const sync = await syncPromise;
    expect(sync.view.tokens.t1?.x).toBe(20);
    expect(sync.view.sync).toMatchObject({ loading: true, fromCache: true });
    expect(sync.view.session?.name).toBe("Table");
    server.release("getChanges");
    await sync.ready;
    expect(sync.view.tokens.t1?.x).toBe(30);
    expect(sync.view.sync).toMatchObject({ loading: false, fromCache: false });
  });

  it("reconciles with changes since the cached seq, applying only higher versions, and caches the result", async () => {
    const server = new FakeServer();
    server.put("token", e(token("t1", 1)));
    server.put("token", e(token("t2", 4, { name: "server v4" })));
    const cachedSeq = server.seq;
    server.put("token", e(token("t1", 2, { x: 7 })));
    await withCache(async (cache) => {
      await cache.commit({
        put: [
          { type: "token", entity: e(token("t1", 1)) },
          { type: "token", entity: e(token("t2", 5, { name: "cached v5" })) },
        ],
        seq: cachedSeq,
      });
    });
    const { syncPromise } = start(server);
    const sync = await syncPromise;
    await sync.ready;
    expect(server.callsOf("getState")).toEqual([]);
    expect(server.callsOf("getChanges")[0]).toEqual([cachedSeq, cachedSeq]);
    expect(sync.view.tokens.t1).toMatchObject({ version: 2, x: 7 });
    expect(sync.view.tokens.t2?.name).toBe("cached v5");
    expect(sync.view.seq).toBe(server.seq);
    await sync.stop();
    const cached = await readCache();
    expect(cached.meta.seq).toBe(server.seq);
    expect(cached.entities.find((x) => x.id === "t1")?.version).toBe(2);
  });

  it("loads the full state when there is no cache, and caches it", async () => {
    const server = new FakeServer();
    server.put("scene", e(scene("s1")));
    server.put("token", e(token("t1", 2)));
    server.settings = { poll_interval_ms: 5000 };
    const { syncPromise } = start(server);
    const sync = await syncPromise;
    await sync.ready;
    expect(server.callsOf("getState")).toHaveLength(1);
    expect(Object.keys(sync.view.tokens)).toEqual(["t1"]);
    expect(sync.view.session_state?.active_scene_id).toBe("s1");
    await sync.stop();
    const cached = await readCache();
    expect(cached.meta).toMatchObject({ seq: server.seq, desync: false, session: { settings: { poll_interval_ms: 5000 } } });
    expect(cached.entities.map((x) => `${x.type}:${x.id}`).sort()).toEqual(["scene:s1", "session_state:st", "token:t1"]);
  });

  it("loads the full state when the cached seq is older than the retained log (410), dropping what is gone", async () => {
    const server = new FakeServer();
    server.put("token", e(token("t1", 1)));
    server.floor = server.seq;
    await withCache(async (cache) => {
      await cache.commit({ put: [{ type: "token", entity: e(token("old", 1)) }], seq: 0 });
    });
    const { syncPromise } = start(server);
    const sync = await syncPromise;
    await sync.ready;
    expect(server.callsOf("getState")).toHaveLength(1);
    expect(Object.keys(sync.view.tokens)).toEqual(["t1"]);
  });

  it("retries the state with backoff while the server cannot be reached", async () => {
    const server = new FakeServer();
    server.failNext("getState", "network", "network");
    const { syncPromise, clock } = start(server);
    const sync = await syncPromise;
    await settle();
    expect(sync.view.sync.loadError).toMatch(/could not be reached/);
    await clock.advance(500);
    await clock.advance(1000);
    await sync.ready;
    expect(server.callsOf("getState")).toHaveLength(3);
    expect(sync.view.sync).toMatchObject({ loading: false, loadError: null });
  });
});

describe("live changes", () => {
  async function live(server = new FakeServer()) {
    const started = start(server);
    const sync = await started.syncPromise;
    await sync.ready;
    const ws = await acceptSocket();
    return { ...started, sync, ws, server };
  }

  it("resumes from the state's seq and applies changes in order, caching each with its seq", async () => {
    const { sync, ws, server } = await live();
    expect(ws.messages()).toEqual([{ type: "resume", since: server.seq }]);
    const seq = server.seq;
    ws.receive({ type: "hello", seq, role: "gm", client_id: "c1" });
    ws.receive({
      type: "change",
      event_id: seq + 1,
      seq: seq + 1,
      entity_type: "token",
      entity_id: "t1",
      version: 1,
      op: "create",
      entity: token("t1"),
    });
    ws.receive({
      type: "change",
      event_id: seq + 2,
      seq: seq + 2,
      entity_type: "token",
      entity_id: "t1",
      version: 2,
      op: "update",
      entity: token("t1", 2, { x: 4 }),
    });
    ws.receive({ type: "resumed", seq: seq + 2 });
    await vi.waitFor(() => expect(sync.view.seq).toBe(seq + 2));
    expect(sync.view.tokens.t1?.x).toBe(4);
    expect(sync.view.connection).toBe("live");
    await sync.stop();
    const cached = await readCache();
    expect(cached.meta.seq).toBe(seq + 2);
    expect(cached.entities.find((x) => x.id === "t1")?.payload.x).toBe(4);
  });

  it("fetches an entity that was too large to inline", async () => {
    const { sync, ws, server } = await live();
    server.put("layer", e({ id: "l1", version: 1, scene_id: "s1", layer_type: "fog", payload: { big: true }, archived_at: null }));
    ws.receive({ type: "change", event_id: server.seq, seq: server.seq, entity_type: "layer", entity_id: "l1", version: 1, op: "create" });
    await vi.waitFor(() => expect(sync.view.layers.l1?.payload).toEqual({ big: true }));
    expect(server.callsOf("getEntity")).toEqual([["layer", "l1"]]);
  });

  it("drops an entity a player no longer sees, from the view and the cache", async () => {
    const server = new FakeServer();
    server.put("token", e(token("t1")));
    const { sync, ws } = await live(server);
    ws.receive({ type: "change", event_id: 50, seq: 50, entity_type: "token", entity_id: "t1", version: 2, op: "update", removed: true });
    await vi.waitFor(() => expect(sync.view.tokens.t1).toBeUndefined());
    await sync.stop();
    expect((await readCache()).entities.some((x) => x.id === "t1")).toBe(false);
  });

  it("reloads the state on reload (the active scene changed)", async () => {
    const server = new FakeServer();
    server.put("token", e(token("t1")));
    const { sync, ws } = await live(server);
    server.put("token", e(token("t1", 2, { archived_at: "2025-01-01T00:00:00Z" })));
    server.put("token", e(token("t2")));
    ws.receive({ type: "reload", seq: server.seq, reason: "activate" });
    await vi.waitFor(() => expect(Object.keys(sync.view.tokens)).toEqual(["t2"]));
    expect(server.callsOf("getState")).toHaveLength(2);
  });

  it("reloads the state when the socket's role changed", async () => {
    const { sync, ws, server } = await live();
    server.role = "player";
    ws.receive({ type: "hello", seq: server.seq, role: "player", client_id: "c2" });
    await vi.waitFor(() => expect(server.callsOf("getState")).toHaveLength(2));
    expect(sync.view.role).toBe("player");
  });

  it("hands messages it does not handle to onMessage", async () => {
    const { ws, others } = await live();
    ws.receive({ type: "presence", clients: [] });
    ws.receive({ type: "lock", scene_id: "s1", lock: null, reason: "released" });
    await vi.waitFor(() => expect(others.map((m) => m.type)).toEqual(["presence", "lock"]));
  });

  it("follows a settings message: realtime off switches to polling and the view shows the new settings", async () => {
    const { sync, ws, others, clock, server } = await live();
    ws.receive({ type: "settings", settings: { realtime: false, poll_interval_ms: 5000 } });
    await vi.waitFor(() => expect(sync.view.connection).toBe("polling"));
    expect(sync.view.session?.settings).toEqual({ realtime: false, poll_interval_ms: 5000 });
    expect(others.map((m) => m.type)).toEqual(["settings"]);
    const polls = server.callsOf("getChanges").length;
    await clock.advance(6250);
    expect(server.callsOf("getChanges").length).toBe(polls + 1);
    await sync.stop();
    expect((await readCache()).meta.session?.settings).toEqual({ realtime: false, poll_interval_ms: 5000 });
  });

  it("switches to polling when the session's settings turn realtime off", async () => {
    const server = new FakeServer();
    server.settings = { realtime: false, poll_interval_ms: 4000 };
    const { syncPromise, clock } = start(server);
    const sync = await syncPromise;
    await sync.ready;
    expect(sync.view.connection).toBe("polling");
    expect(FakeWebSocket.instances).toEqual([]);
    server.put("token", e(token("t9")));
    await clock.advance(5000);
    expect(sync.view.tokens.t9).toBeDefined();
  });
});

describe("authoring", () => {
  it("shows an edit at once, keeps it in IndexedDB until the server confirms it", async () => {
    const server = new FakeServer();
    server.put("token", e(token("t1")));
    const { syncPromise } = start(server);
    const sync = await syncPromise;
    await sync.ready;
    server.hold("batch");
    const queued = sync.update("token", "t1", { x: 5 });
    expect(sync.view.tokens.t1?.x).toBe(5);
    expect(sync.view.pending).toEqual({ "token:t1": 1 });
    const op = await queued;
    expect(op).toMatchObject({ op: "update", base_version: 1, payload: { x: 5 } });
    expect((await readCache()).queue.map((o) => o.uuid)).toEqual([op.uuid]);
    server.release("batch");
    await vi.waitFor(() => expect(sync.view.sync.pending).toBe(0));
    expect(server.get("token", "t1")).toMatchObject({ x: 5, version: 2 });
    expect(sync.view.tokens.t1).toMatchObject({ x: 5, version: 2 });
    expect((await readCache()).queue).toEqual([]);
  });

  it("chains base versions of edits made before the first is confirmed", async () => {
    const server = new FakeServer();
    server.put("token", e(token("t1")));
    const { syncPromise } = start(server);
    const sync = await syncPromise;
    await sync.ready;
    server.hold("batch");
    const created = await sync.create("token", { name: "New", scene_id: "s1" }, "t2");
    const moved = await sync.update("token", "t2", { x: 3 });
    const first = await sync.update("token", "t1", { x: 1 });
    const second = await sync.update("token", "t1", { y: 1 });
    expect([created.base_version, moved.base_version, first.base_version, second.base_version]).toEqual([null, 1, 1, 2]);
    expect(sync.view.tokens.t2).toMatchObject({ name: "New", x: 3, version: 0 });
    server.release("batch");
    await vi.waitFor(() => expect(sync.view.sync.pending).toBe(0));
    expect(server.get("token", "t1")).toMatchObject({ x: 1, y: 1, version: 3 });
    expect(server.get("token", "t2")).toMatchObject({ x: 3, version: 2 });
  });

  it("keeps offline edits across a restart and sends them when the server is back", async () => {
    const server = new FakeServer();
    server.put("token", e(token("t1")));
    const first = start(server);
    const sync = await first.syncPromise;
    await sync.ready;
    server.failNext("batch", "network");
    await sync.update("token", "t1", { x: 9 });
    await sync.queue.settled();
    expect(sync.view.sync.queue).toBe("waiting");
    await sync.stop();

    const second = start(server);
    const again = await second.syncPromise;
    expect(again.view.tokens.t1?.x).toBe(9);
    expect(again.view.sync.pending).toBe(1);
    await again.ready;
    await again.queue.settled();
    expect(server.get("token", "t1")).toMatchObject({ x: 9, version: 2 });
    expect(server.appliedOps).toBe(1);
    expect(again.view.sync.pending).toBe(0);
  });

  it("pauses on a conflict, shows it, and sends the rebased op after Keep Mine", async () => {
    const server = new FakeServer();
    server.put("token", e(token("t1")));
    const { syncPromise, clock, metrics } = start(server);
    const sync = await syncPromise;
    await sync.ready;
    server.edit("token", "t1", { name: "Renamed by another GM" });
    await sync.update("token", "t1", { x: 2 });
    await sync.queue.settled();
    const conflict = sync.conflict();
    expect(sync.view.sync.conflict).toMatchObject({ op: { payload: { x: 2 } }, server: { version: 2, name: "Renamed by another GM" } });
    expect(sync.view.sync.queue).toBe("paused");
    if (!conflict) throw new Error("expected a conflict");
    await clock.advance(12_000);
    await sync.resolveConflict(keepMine(conflict, "33333333-3333-4333-8333-333333333333"));
    await sync.queue.settled();
    expect(server.get("token", "t1")).toMatchObject({ x: 2, name: "Renamed by another GM", version: 3 });
    expect(sync.view.tokens.t1).toMatchObject({ x: 2, name: "Renamed by another GM" });
    expect(sync.view.sync.conflict).toBeNull();
    expect(metrics.map((m) => [m.name, m.duration_ms])).toEqual([
      ["conflict", undefined],
      ["conflict_resolved", 12_000],
    ]);
  });

  it("refuses to edit an entity it does not know", async () => {
    const { syncPromise } = start(new FakeServer());
    const sync = await syncPromise;
    await sync.ready;
    await expect(sync.update("token", "nope", { x: 1 })).rejects.toThrow(/no token nope/);
  });
});
