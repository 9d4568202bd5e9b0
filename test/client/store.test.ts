import { createEffect, createRoot } from "solid-js";
import { describe, expect, it } from "vitest";
import type { QueuedOp } from "../../client/src/lib/queue";
import {
  applyChange,
  applyEntity,
  applyMessage,
  applyReload,
  applyRemoval,
  applyResumed,
  applySceneLayers,
  applyState,
  createSessionStore,
  emptyWorld,
  overlayOps,
  type World,
  worldFromCache,
} from "../../client/src/lib/store";
import type { AnyEntity } from "../../client/src/lib/types";
import { layer, noModules, scene, sessionState, snapshot, token } from "./helpers/fixtures";
import { settle } from "./helpers/timers";

const e = (entity: object) => entity as AnyEntity;

function worldWith(...tokens: ReturnType<typeof token>[]): World {
  return { ...emptyWorld(), seq: 10, tokens: Object.fromEntries(tokens.map((t) => [t.id, t])) };
}

function change(fields: { seq: number; id: string; version: number; entity?: object; removed?: true; type?: string }) {
  return {
    type: "change" as const,
    event_id: fields.seq,
    seq: fields.seq,
    entity_type: (fields.type ?? "token") as "token",
    entity_id: fields.id,
    version: fields.version,
    op: "update" as const,
    ...(fields.entity ? { entity: e(fields.entity) } : {}),
    ...(fields.removed ? { removed: true as const } : {}),
  };
}

function op(fields: Partial<QueuedOp> & Pick<QueuedOp, "op" | "id">): QueuedOp {
  return { uuid: crypto.randomUUID(), entity_type: "token", payload: {}, base_version: 1, created_at: 0, ...fields };
}

describe("applyState", () => {
  it("takes every listed entity into an empty world, with the state's seq", () => {
    const world = applyState(emptyWorld(), snapshot({ seq: 7, scenes: [scene("s1")], tokens: [token("t1")] }), noModules);
    expect(world.seq).toBe(7);
    expect(Object.keys(world.scenes)).toEqual(["s1"]);
    expect(world.tokens.t1?.name).toBe("Token t1");
    expect(world.session_state?.id).toBe("st");
  });

  it.each([
    { cached: 3, server: 4, wins: "server" },
    { cached: 4, server: 4, wins: "cache" },
    { cached: 5, server: 4, wins: "cache" },
  ])("applies only higher versions: cached v$cached, server v$server → $wins", ({ cached, server, wins }) => {
    const mine = token("t1", cached, { name: "cached" });
    const world = applyState(worldWith(mine), snapshot({ seq: 20, tokens: [token("t1", server, { name: "server" })] }), noModules);
    expect(world.tokens.t1?.name).toBe(wins === "server" ? "server" : "cached");
    if (wins === "cache") expect(world.tokens.t1).toBe(mine);
  });

  it("drops cached entities the state no longer lists (archived, or out of a player's view)", () => {
    const world = applyState(worldWith(token("t1"), token("t2")), snapshot({ seq: 20, tokens: [token("t1")] }), noModules);
    expect(Object.keys(world.tokens)).toEqual(["t1"]);
  });

  it("keeps cached layers of other listed scenes (the state carries only the active scene's layers)", () => {
    const cached: World = {
      ...emptyWorld(),
      seq: 5,
      layers: { a: layer("a", 1, { scene_id: "s1" }), b: layer("b", 1, { scene_id: "s2" }), c: layer("c", 1, { scene_id: "gone" }) },
    };
    const world = applyState(
      cached,
      snapshot({ seq: 9, scenes: [scene("s1"), scene("s2")], layers: [], session_state: sessionState(1, { active_scene_id: "s1" }) }),
      noModules,
    );
    expect(Object.keys(world.layers)).toEqual(["b"]);
  });

  it("only adds newer versions from a state older than the world (a slow answer)", () => {
    const world = applyState(
      worldWith(token("t1", 2), token("t2", 1)),
      snapshot({ seq: 3, tokens: [token("t1", 1), token("t3", 1)] }),
      noModules,
    );
    expect(world.seq).toBe(10);
    expect(Object.keys(world.tokens).sort()).toEqual(["t1", "t2", "t3"]);
    expect(world.tokens.t1?.version).toBe(2);
  });

  it("clears tombstones, stale marks and a pending reload", () => {
    const before: World = { ...worldWith(), tombstones: { "token:t1": 3 }, stale: { "token:t2": 4 }, reload: "activate" };
    const world = applyState(before, snapshot({ seq: 11, tokens: [token("t1", 3)] }), noModules);
    expect(world.tombstones).toEqual({});
    expect(world.stale).toEqual({});
    expect(world.reload).toBeNull();
    expect(world.tokens.t1).toBeDefined();
  });
});

describe("applyChange", () => {
  it("applies a higher version and moves the seq", () => {
    const world = applyChange(worldWith(token("t1", 1)), change({ seq: 11, id: "t1", version: 2, entity: token("t1", 2, { x: 5 }) }));
    expect(world.tokens.t1?.x).toBe(5);
    expect(world.seq).toBe(11);
  });

  it("ignores a change at or below the world's seq (a replay)", () => {
    const before = worldWith(token("t1", 1));
    expect(applyChange(before, change({ seq: 10, id: "t1", version: 2, entity: token("t1", 2) }))).toBe(before);
  });

  it("keeps the entity when the change carries an older or equal version, but moves the seq", () => {
    const mine = token("t1", 3);
    const world = applyChange(worldWith(mine), change({ seq: 12, id: "t1", version: 3, entity: token("t1", 3, { x: 99 }) }));
    expect(world.tokens.t1).toBe(mine);
    expect(world.seq).toBe(12);
  });

  it("removes an archived entity and leaves a tombstone that older news cannot pass", () => {
    let world = applyChange(
      worldWith(token("t1", 1)),
      change({ seq: 11, id: "t1", version: 2, entity: token("t1", 2, { archived_at: "2025-01-01T00:00:00Z" }) }),
    );
    expect(world.tokens.t1).toBeUndefined();
    expect(world.tombstones["token:t1"]).toBe(2);
    world = applyEntity(world, "token", e(token("t1", 2)));
    expect(world.tokens.t1).toBeUndefined();
    world = applyEntity(world, "token", e(token("t1", 3)));
    expect(world.tokens.t1?.version).toBe(3);
    expect(world.tombstones["token:t1"]).toBeUndefined();
  });

  it("removes an entity for a player's `removed: true` row", () => {
    const world = applyChange(worldWith(token("t1", 1)), change({ seq: 11, id: "t1", version: 2, removed: true }));
    expect(world.tokens.t1).toBeUndefined();
    expect(world.seq).toBe(11);
  });

  it("marks a change without its entity as stale until the entity is applied", () => {
    let world = applyChange(worldWith(token("t1", 1)), change({ seq: 11, id: "t1", version: 2 }));
    expect(world.stale).toEqual({ "token:t1": 2 });
    expect(world.seq).toBe(11);
    world = applyEntity(world, "token", e(token("t1", 2)));
    expect(world.stale).toEqual({});
    expect(world.tokens.t1?.version).toBe(2);
  });

  it("updates the session state as a single entity", () => {
    const world = applyChange(
      { ...emptyWorld(), session_state: sessionState(1) },
      change({ seq: 1, id: "st", type: "session_state", version: 2, entity: sessionState(2, { active_scene_id: "s9" }) }),
    );
    expect(world.session_state?.active_scene_id).toBe("s9");
  });
});

describe("applyRemoval", () => {
  it("does not remove a newer copy than the removal names", () => {
    const before = worldWith(token("t1", 5));
    expect(applyRemoval(before, "token", "t1", 4)).toBe(before);
  });

  it("records a tombstone for an entity it never held", () => {
    const world = applyRemoval(worldWith(), "token", "t9", 3);
    expect(world.tombstones["token:t9"]).toBe(3);
    expect(applyEntity(world, "token", e(token("t9", 3))).tokens.t9).toBeUndefined();
  });
});

describe("applyMessage handles every message type", () => {
  it("hello: records role, client id and the server's seq without moving the world's seq", () => {
    const world = applyMessage(worldWith(), { type: "hello", seq: 99, role: "player", client_id: "c1" } as never);
    expect(world.hello).toEqual({ role: "player", client_id: "c1", seq: 99 });
    expect(world.seq).toBe(10);
  });

  it("change: delegates to applyChange", () => {
    const world = applyMessage(worldWith(), change({ seq: 11, id: "t2", version: 1, entity: token("t2") }));
    expect(world.tokens.t2).toBeDefined();
  });

  it("reload: marks the world for a state reload with its reason", () => {
    expect(applyMessage(worldWith(), { type: "reload", seq: 12, reason: "activate" }).reload).toBe("activate");
    expect(applyReload(worldWith(), { reason: "gone" }).reload).toBe("gone");
  });

  it("resumed: moves the seq forward, never back", () => {
    expect(applyMessage(worldWith(), { type: "resumed", seq: 15 }).seq).toBe(15);
    const before = worldWith();
    expect(applyResumed(before, { seq: 3 })).toBe(before);
  });

  it("error: records the server's error", () => {
    const world = applyMessage(worldWith(), { type: "error", code: "bad_request", message: "nope" });
    expect(world.serverError).toEqual({ code: "bad_request", message: "nope" });
  });

  it("unknown types (lock, presence, later ones) leave the world as it is", () => {
    const before = worldWith();
    expect(applyMessage(before, { type: "presence", clients: [] })).toBe(before);
    expect(applyMessage(before, { type: "something_new", x: 1 })).toBe(before);
  });
});

describe("worldFromCache and applySceneLayers", () => {
  it("builds the world from cached {version, payload} entries at the cached seq", () => {
    const world = worldFromCache(
      [
        { type: "token", id: "t1", version: 2, payload: e(token("t1", 2)) },
        { type: "session_state", id: "st", version: 1, payload: e(sessionState(1)) },
      ],
      42,
    );
    expect(world.seq).toBe(42);
    expect(world.tokens.t1?.version).toBe(2);
    expect(world.session_state?.id).toBe("st");
  });

  it("replaces a scene's layers with the ones loaded with it", () => {
    const before: World = { ...emptyWorld(), layers: { a: layer("a", 1, { scene_id: "s2" }), b: layer("b", 1, { scene_id: "s1" }) } };
    const world = applySceneLayers(before, "s2", [layer("c", 1, { scene_id: "s2" })]);
    expect(Object.keys(world.layers).sort()).toEqual(["b", "c"]);
  });
});

describe("overlayOps", () => {
  it("shows a pending create at version 0, an update merged, an archive hidden", () => {
    const world = worldWith(token("t1", 1, { stats: { hp: 5, ac: 12 } }), token("t2", 1));
    const view = overlayOps(world, [
      op({ op: "create", id: "t3", payload: { name: "New", scene_id: "s1" }, base_version: null }),
      op({ op: "update", id: "t1", payload: { x: 4, stats: { hp: 3 } } }),
      op({ op: "archive", id: "t2" }),
    ]);
    expect(view.tokens.t3).toMatchObject({ id: "t3", version: 0, name: "New", archived_at: null });
    expect(view.tokens.t1).toMatchObject({ x: 4, stats: { hp: 3, ac: 12 }, version: 1 });
    expect(view.tokens.t2).toBeUndefined();
    expect(world.tokens.t1?.x).toBe(0);
  });

  it("keeps untouched entities as the same objects", () => {
    const world = worldWith(token("t1"), token("t2"));
    const view = overlayOps(world, [op({ op: "update", id: "t1", payload: { x: 1 } })]);
    expect(view.tokens.t2).toBe(world.tokens.t2);
    expect(overlayOps(world, [])).toBe(world);
  });

  it("ignores updates of entities it does not hold and restores (shown once confirmed)", () => {
    const world = worldWith(token("t1"));
    expect(overlayOps(world, [op({ op: "update", id: "zz", payload: { x: 1 } }), op({ op: "restore", id: "t9" })])).toBe(world);
  });
});

describe("createSessionStore", () => {
  it("shows server state with pending ops on top, and the pending count per entity", () => {
    const store = createSessionStore(worldWith(token("t1", 1)));
    store.setOps([op({ op: "update", id: "t1", payload: { x: 7 } }), op({ op: "update", id: "t1", payload: { y: 2 } })]);
    expect(store.view.tokens.t1).toMatchObject({ x: 7, y: 2 });
    expect(store.view.pending).toEqual({ "token:t1": 2 });
    expect(store.view.sync.pending).toBe(2);
    store.setOps([]);
    expect(store.view.tokens.t1).toMatchObject({ x: 0, y: 0 });
    expect(store.view.pending).toEqual({});
  });

  it("re-runs an effect only for the entity that changed", async () => {
    const store = createSessionStore(worldWith(token("t1"), token("t2")));
    const seen: string[] = [];
    const dispose = createRoot((d) => {
      createEffect(() => seen.push(`t1:${store.view.tokens.t1?.x}`));
      createEffect(() => seen.push(`t2:${store.view.tokens.t2?.x}`));
      return d;
    });
    store.update((w) => applyEntity(w, "token", e(token("t2", 2, { x: 3 }))));
    await settle(1);
    dispose();
    expect(seen).toEqual(["t1:0", "t2:0", "t2:3"]);
  });

  it("removes entities from the view and never mutates the world's objects", () => {
    const world = worldWith(token("t1"), token("t2"));
    const original = structuredClone(world.tokens.t1);
    const store = createSessionStore(world);
    store.update((w) => applyRemoval(w, "token", "t2", 2));
    store.update((w) => applyEntity(w, "token", e(token("t1", 2, { x: 9 }))));
    expect(Object.keys(store.view.tokens)).toEqual(["t1"]);
    expect(store.view.tokens.t1?.x).toBe(9);
    expect(world.tokens.t1).toEqual(original);
  });

  it("reflects seq, connection status, session and loading", () => {
    const store = createSessionStore();
    store.update((w) => applyResumed(w, { seq: 4 }));
    store.setConnection("polling");
    store.setSession({ id: "sess", name: "Table", created_at: "x", role: "player", settings: { realtime: false } });
    store.setLoading(false, false);
    expect(store.view.seq).toBe(4);
    expect(store.view.connection).toBe("polling");
    expect(store.view.role).toBe("player");
    expect(store.view.session?.settings?.realtime).toBe(false);
    expect(store.view.sync.loading).toBe(false);
  });
});
