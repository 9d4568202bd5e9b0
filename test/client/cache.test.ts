import { afterEach, describe, expect, it } from "vitest";
import { type Cache, cacheName, createMemoryCache, deleteCache, openCache } from "../../client/src/lib/cache";
import type { QueuedOp } from "../../client/src/lib/queue";
import type { AnyEntity } from "../../client/src/lib/types";
import { freshId, token } from "./helpers/fixtures";

const e = (entity: object) => entity as AnyEntity;
const opened: { cache: Cache; user: string; session: string }[] = [];

async function open(user = freshId("u"), session = freshId("s")) {
  const cache = await openCache(user, session);
  opened.push({ cache, user, session });
  return { cache, user, session };
}

function op(uuid: string, fields: Partial<QueuedOp> = {}): QueuedOp {
  return { uuid, entity_type: "token", op: "update", id: "t1", payload: { x: 1 }, base_version: 1, created_at: 0, ...fields };
}

afterEach(async () => {
  for (const { cache, user, session } of opened.splice(0)) {
    cache.close();
    await deleteCache(user, session);
  }
});

describe("the IndexedDB cache", () => {
  it("is one database per user and session", async () => {
    const a = await open("u1", freshId("s"));
    const b = await open("u2", a.session);
    await a.cache.putIfNewer([{ type: "token", entity: e(token("t1")) }]);
    expect((await b.cache.loadAll()).entities).toEqual([]);
    expect(a.cache.name).toBe(cacheName("u1", a.session));
  });

  it("stores entities as {type, id, version, payload} keyed by type and id", async () => {
    const { cache } = await open();
    await cache.putIfNewer([{ type: "token", entity: e(token("t1", 2)) }]);
    expect((await cache.loadAll()).entities).toEqual([{ type: "token", id: "t1", version: 2, payload: token("t1", 2) }]);
  });

  it.each([
    { cached: 2, incoming: 3, kept: 3 },
    { cached: 3, incoming: 3, kept: 3 },
    { cached: 4, incoming: 3, kept: 4 },
  ])("puts only higher versions: cached v$cached, incoming v$incoming → v$kept", async ({ cached, incoming, kept }) => {
    const { cache } = await open();
    await cache.putIfNewer([{ type: "token", entity: e(token("t1", cached, { name: "cached" })) }]);
    await cache.putIfNewer([{ type: "token", entity: e(token("t1", incoming, { name: "incoming" })) }]);
    const [entry] = (await cache.loadAll()).entities;
    expect(entry?.version).toBe(kept);
    expect(entry?.payload.name).toBe(kept === incoming && incoming > cached ? "incoming" : "cached");
  });

  it("commits entities, removals and the seq together", async () => {
    const { cache } = await open();
    await cache.putIfNewer([
      { type: "token", entity: e(token("t1")) },
      { type: "token", entity: e(token("t2")) },
    ]);
    await cache.commit({ put: [{ type: "scene", entity: e({ id: "s1", version: 1 }) }], remove: [{ type: "token", id: "t1" }], seq: 9 });
    const loaded = await cache.loadAll();
    expect(loaded.entities.map((x) => `${x.type}:${x.id}`).sort()).toEqual(["scene:s1", "token:t2"]);
    expect(loaded.meta.seq).toBe(9);
  });

  it("survives closing and reopening", async () => {
    const { cache, user, session } = await open();
    await cache.commit({ put: [{ type: "token", entity: e(token("t1", 4)) }], seq: 12, desync: true });
    await cache.setSession({ id: session, name: "Table", created_at: "x", settings: { realtime: false } });
    cache.close();
    const again = await openCache(user, session);
    opened.push({ cache: again, user, session });
    const loaded = await again.loadAll();
    expect(loaded.entities.map((x) => x.version)).toEqual([4]);
    expect(loaded.meta).toMatchObject({ seq: 12, desync: true, session: { settings: { realtime: false } } });
  });

  it("replaces everything with a full state", async () => {
    const { cache } = await open();
    await cache.commit({ put: [{ type: "token", entity: e(token("old", 7)) }], seq: 3, desync: true });
    await cache.replaceAll([{ type: "token", entity: e(token("t1", 1)) }], 20, null);
    const loaded = await cache.loadAll();
    expect(loaded.entities.map((x) => x.id)).toEqual(["t1"]);
    expect(loaded.meta).toMatchObject({ seq: 20, desync: false });
  });

  it("clears entities and meta but keeps the queue", async () => {
    const { cache } = await open();
    await cache.commit({ put: [{ type: "token", entity: e(token("t1")) }], seq: 3 });
    await cache.appendOp(op("a"));
    await cache.clear();
    const loaded = await cache.loadAll();
    expect(loaded.entities).toEqual([]);
    expect(loaded.meta.seq).toBeNull();
    expect(loaded.queue.map((o) => o.uuid)).toEqual(["a"]);
  });

  it("keeps the queue in enqueue order, removes and replaces ops in place", async () => {
    const { cache, user, session } = await open();
    for (const id of ["a", "b", "c", "d"]) await cache.appendOp(op(id));
    await cache.removeOps(["b"]);
    await cache.replaceOp("c", op("c2", { base_version: 8 }));
    cache.close();
    const again = await openCache(user, session);
    opened.push({ cache: again, user, session });
    expect((await again.listOps()).map((o) => [o.uuid, o.base_version])).toEqual([
      ["a", 1],
      ["c2", 8],
      ["d", 1],
    ]);
  });

  it("refuses to replace an op it does not hold", async () => {
    const { cache } = await open();
    await expect(cache.replaceOp("nope", op("x"))).rejects.toThrow(/no queued op/);
  });
});

describe("the memory cache", () => {
  it("behaves like the IndexedDB one for versions, seq and queue", async () => {
    const cache = createMemoryCache();
    await cache.putIfNewer([{ type: "token", entity: e(token("t1", 3)) }]);
    await cache.commit({ put: [{ type: "token", entity: e(token("t1", 2)) }], seq: 5 });
    await cache.appendOp(op("a"));
    await cache.appendOp(op("b"));
    await cache.replaceOp("a", op("a2"));
    const loaded = await cache.loadAll();
    expect(loaded.entities.map((x) => x.version)).toEqual([3]);
    expect(loaded.meta.seq).toBe(5);
    expect(loaded.queue.map((o) => o.uuid)).toEqual(["a2", "b"]);
  });
});
