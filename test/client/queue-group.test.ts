/**
 * Ops enqueued together (a library drop with its art, a fog stroke over several chunks) leave in
 * one batch, never split across two, and survive a refresh as a group.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "../../client/src/lib/api";
import { type Cache, deleteCache, openCache } from "../../client/src/lib/cache";
import { createQueue, type OpInput, type QueueDeps } from "../../client/src/lib/queue";
import type { AnyEntity, BatchOp } from "../../client/src/lib/types";
import { FakeServer } from "./helpers/fake-server";
import { freshId, token } from "./helpers/fixtures";
import { ManualClock, settle } from "./helpers/timers";

const caches: { cache: Cache; user: string; session: string }[] = [];

afterEach(async () => {
  for (const { cache, user, session } of caches.splice(0)) {
    cache.close();
    await deleteCache(user, session);
  }
});

async function setup(deps: Partial<QueueDeps> = {}) {
  const server = new FakeServer();
  const user = freshId("u");
  const session = freshId("s");
  const cache = await openCache(user, session);
  caches.push({ cache, user, session });
  const clock = new ManualClock();
  const batches: BatchOp[][] = [];
  let ids = 0;
  const queue = createQueue({
    storage: cache,
    sendBatch: (ops) => {
      batches.push(ops);
      return server.batch(ops);
    },
    fetchEntity: async (type, id) => server.get(type, id) ?? null,
    onApplied: () => undefined,
    timers: clock,
    now: clock.now,
    random: () => 0.5,
    uuid: () => `00000000-0000-4000-8000-${String(++ids).padStart(12, "0")}`,
    ...deps,
  });
  return { queue, server, cache, batches };
}

const create = (id: string): OpInput => ({
  entity_type: "token",
  op: "create",
  id,
  payload: { name: id, scene_id: null },
  base_version: null,
});

describe("enqueueAll", () => {
  it("sends the ops of one action in one batch", async () => {
    const { queue, batches } = await setup();
    await queue.enqueueAll([create("a"), create("b"), create("c")]);
    await settle(30);
    expect(batches).toHaveLength(1);
    expect(batches[0]?.map((op) => op.id)).toEqual(["a", "b", "c"]);
  });

  it("does not split a group when earlier ops fill the batch: the group waits for the next one", async () => {
    const { queue, batches, server } = await setup();
    server.put("token", token("t", 1) as unknown as AnyEntity, "create");
    // Hold the queue so everything is waiting when it starts.
    queue.stop();
    for (let i = 0; i < 499; i++) await queue.enqueue(create(`single-${i}`));
    await queue.enqueueAll([create("g1"), create("g2")]);
    queue.kick();
    for (let i = 0; i < 100 && queue.state().ops.length > 0; i++) await settle(20);
    expect(batches.map((b) => b.length)).toEqual([499, 2]);
    expect(batches[1]?.map((op) => op.id)).toEqual(["g1", "g2"]);
  });

  it("keeps the group through a refresh: the stored ops carry it", async () => {
    const { queue, cache } = await setup();
    queue.stop();
    const ops = await queue.enqueueAll([create("x"), create("y")]);
    const stored = await cache.listOps();
    expect(stored.map((op) => op.group)).toEqual([ops[0]?.group, ops[0]?.group]);
    expect(ops[0]?.group).toBeTypeOf("string");
  });

  it("stores a group with one call to storage (one transaction), not op by op", async () => {
    const { cache } = await setup();
    const calls: string[] = [];
    const counting = {
      ...cache,
      appendOp: async (op: Parameters<Cache["appendOp"]>[0]) => {
        calls.push("appendOp");
        await cache.appendOp(op);
      },
      appendOps: async (ops: Parameters<Cache["appendOps"]>[0]) => {
        calls.push(`appendOps(${ops.length})`);
        await cache.appendOps(ops);
      },
    } as Cache;
    const { queue } = await setup({ storage: counting });
    queue.stop();
    await queue.enqueueAll([create("x"), create("y"), create("z")]);
    expect(calls).toEqual(["appendOps(3)"]);
  });

  it("stores a group in one transaction: a group that cannot be stored whole leaves nothing", async () => {
    const { queue, cache } = await setup();
    queue.stop();
    // The second op reuses the first's uuid: IndexedDB refuses it, and the transaction with it.
    // (The queue draws the group's id first, then one per op.)
    const ids = ["00000000-0000-4000-8000-0000000000aa", "00000000-0000-4000-8000-0000000000bb", "00000000-0000-4000-8000-0000000000bb"];
    const { queue: q } = await setup({ storage: cache, uuid: () => ids.shift() ?? crypto.randomUUID() });
    q.stop();
    await expect(q.enqueueAll([create("p"), create("q")])).rejects.toThrow();
    expect(q.state().ops).toEqual([]);
    expect(await cache.listOps()).toEqual([]);
  });

  it("never sends part of a group when the server refuses it as a whole", async () => {
    const { queue, server, batches } = await setup();
    queue.stop();
    const group = await queue.enqueueAll([create("token"), create("art")]);
    // Refused naming no op: a plain batch would be narrowed down op by op; one action is not.
    server.failNext("batch", new ApiError(400, "bad_request", "refused as a whole"));
    queue.kick();
    for (let i = 0; i < 50 && queue.state().status !== "paused"; i++) await settle(20);
    expect(batches.map((b) => b.map((op) => op.id))).toEqual([["token", "art"]]);
    expect(queue.state().rejected?.op.uuid).toBe(group[0]?.uuid);
    expect(server.get("token", "token")).toBeUndefined();
  });

  it("drops a refused action whole when the user discards it", async () => {
    const { queue, server, cache } = await setup();
    queue.stop();
    const group = await queue.enqueueAll([create("token"), create("art")]);
    server.failNext("batch", new ApiError(400, "bad_request", "bad art", { op_id: group[1]?.uuid }));
    queue.kick();
    for (let i = 0; i < 50 && queue.state().status !== "paused"; i++) await settle(20);
    expect(queue.state().rejected?.op.uuid).toBe(group[1]?.uuid);
    await queue.dropRejected();
    expect(queue.state().ops).toEqual([]);
    expect(await cache.listOps()).toEqual([]);
  });
});
