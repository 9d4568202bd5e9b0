import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../client/src/lib/api";
import { type Cache, deleteCache, openCache } from "../../client/src/lib/cache";
import { keepMine, mergeFields, useServer } from "../../client/src/lib/conflict";
import {
  createQueue,
  MAX_BATCH_OPS,
  nextBaseVersion,
  type OpInput,
  type QueueDeps,
  type QueuedOp,
  type QueueMetric,
  toBatchOp,
} from "../../client/src/lib/queue";
import type { AnyEntity, BatchOp } from "../../client/src/lib/types";
import { FakeServer } from "./helpers/fake-server";
import { freshId, token } from "./helpers/fixtures";
import { ManualClock, randomSequence, settle } from "./helpers/timers";

const e = (entity: object) => entity as AnyEntity;
const caches: { cache: Cache; user: string; session: string }[] = [];

afterEach(async () => {
  for (const { cache, user, session } of caches.splice(0)) {
    cache.close();
    await deleteCache(user, session);
  }
});

async function setup(options: { server?: FakeServer; initial?: QueuedOp[]; cache?: Cache; deps?: Partial<QueueDeps> } = {}) {
  const server = options.server ?? new FakeServer();
  let cache = options.cache;
  if (!cache) {
    const user = freshId("u");
    const session = freshId("s");
    cache = await openCache(user, session);
    caches.push({ cache, user, session });
  }
  const clock = new ManualClock();
  const applied: { type: string; entity: AnyEntity }[] = [];
  const metrics: QueueMetric[] = [];
  let ids = 0;
  const queue = createQueue(
    {
      storage: cache,
      sendBatch: (ops) => server.batch(ops),
      fetchEntity: async (type, id) => server.get(type, id) ?? null,
      onApplied: (entities) => applied.push(...entities),
      reportMetric: (m) => metrics.push(m),
      timers: clock,
      now: clock.now,
      random: () => 0.5,
      uuid: () => `00000000-0000-4000-8000-${String(++ids).padStart(12, "0")}`,
      ...options.deps,
    },
    options.initial ?? [],
  );
  return { queue, server, cache, clock, applied, metrics };
}

const move = (id: string, base: number, x: number): OpInput => ({
  entity_type: "token",
  op: "update",
  id,
  payload: { x },
  base_version: base,
});

/** Queues ops without sending, then lets the queue send: they leave as one batch. */
async function enqueueAll(queue: ReturnType<typeof createQueue>, inputs: OpInput[]): Promise<QueuedOp[]> {
  queue.stop();
  const ops: QueuedOp[] = [];
  for (const input of inputs) ops.push(await queue.enqueue(input));
  queue.kick();
  return ops;
}

function seedTokens(server: FakeServer, ...ids: string[]) {
  for (const id of ids) server.put("token", e(token(id, 1)), "create");
}

describe("toBatchOp and nextBaseVersion", () => {
  it("maps ops to the batch body", () => {
    const op: QueuedOp = { uuid: "u1", entity_type: "token", op: "update", id: "t1", payload: { x: 1 }, base_version: 3, created_at: 0 };
    expect(toBatchOp(op)).toEqual({ op_id: "u1", entity_type: "token", op: "update", id: "t1", base_version: 3, data: { x: 1 } });
    expect(toBatchOp({ ...op, op: "create", base_version: null })).toEqual({
      op_id: "u1",
      entity_type: "token",
      op: "create",
      id: "t1",
      data: { x: 1 },
    });
    expect(toBatchOp({ ...op, op: "archive", payload: {} })).toEqual({
      op_id: "u1",
      entity_type: "token",
      op: "archive",
      id: "t1",
      base_version: 3,
    });
  });

  it.each([
    { pending: [], server: 4, base: 4 },
    { pending: [{ id: "t1", base: 4 }], server: 4, base: 5 },
    { pending: [{ id: "t1", base: 4 }], server: 5, base: 5 },
    { pending: [{ id: "t1", base: null }], server: null, base: 1 },
    { pending: [{ id: "t2", base: 9 }], server: 2, base: 2 },
    { pending: [], server: null, base: null },
  ])("chains base versions: pending $pending, server v$server → $base", ({ pending, server, base }) => {
    const ops = pending.map(
      (p, i): QueuedOp => ({
        uuid: `u${i}`,
        entity_type: "token",
        op: p.base === null ? "create" : "update",
        id: p.id,
        payload: {},
        base_version: p.base,
        created_at: 0,
      }),
    );
    expect(nextBaseVersion(ops, "token", "t1", server)).toBe(base);
  });
});

describe("the authoring queue", () => {
  it("shows an op at once, and sends it only once it is persisted", async () => {
    const user = freshId("u");
    const session = freshId("s");
    const cache = await openCache(user, session);
    caches.push({ cache, user, session });
    let persist: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      persist = resolve;
    });
    const storage = { ...cache, appendOp: async (op: QueuedOp) => gate.then(() => cache.appendOp(op)) };
    const { queue, server } = await setup({ deps: { storage } });
    seedTokens(server, "t1");
    const persisted = queue.enqueue(move("t1", 1, 5));
    expect(queue.state().ops).toHaveLength(1);
    await settle();
    expect(server.callsOf("batch")).toHaveLength(0);
    persist();
    const op = await persisted;
    await queue.settled();
    expect(server.callsOf("batch")).toEqual([[[toBatchOp(op)]]]);
    expect(server.get("token", "t1")?.x).toBe(5);
    expect(queue.state().ops).toEqual([]);
    expect(await cache.listOps()).toEqual([]);
  });

  it("never sends an op whose persistence failed, and takes it back from the view", async () => {
    const storage = { appendOp: vi.fn(async () => Promise.reject(new Error("quota"))), removeOps: vi.fn(), replaceOp: vi.fn() };
    const { queue, server } = await setup({ deps: { storage } });
    await expect(queue.enqueue(move("t1", 1, 5))).rejects.toThrow("quota");
    await queue.settled();
    expect(queue.state().ops).toEqual([]);
    expect(server.callsOf("batch")).toHaveLength(0);
  });

  it("sends ops in order, in batches of at most 500", async () => {
    const { queue, server } = await setup();
    server.hold("batch");
    const ops = [];
    for (let i = 0; i < MAX_BATCH_OPS + 20; i++) {
      ops.push(queue.enqueue({ entity_type: "token", op: "create", id: `t${i}`, payload: { name: `T${i}` }, base_version: null }));
    }
    await Promise.all(ops);
    server.release("batch");
    await vi.waitFor(() => expect(queue.state().status).toBe("idle"));
    await queue.settled();
    const sent = server.callsOf("batch").map(([batch]) => (batch as BatchOp[]).map((o) => o.id));
    expect(sent.flat()).toEqual(Array.from({ length: MAX_BATCH_OPS + 20 }, (_, i) => `t${i}`));
    expect(sent.every((b) => b.length <= MAX_BATCH_OPS)).toBe(true);
    expect(server.appliedOps).toBe(MAX_BATCH_OPS + 20);
  });

  it("hands the server's results to the store", async () => {
    const { queue, server, applied } = await setup();
    seedTokens(server, "t1");
    await queue.enqueue(move("t1", 1, 8));
    await queue.settled();
    expect(applied).toEqual([{ type: "token", entity: expect.objectContaining({ id: "t1", version: 2, x: 8 }) }]);
  });

  it("survives a refresh: a new queue from the cache sends what the old one could not", async () => {
    const first = await setup();
    seedTokens(first.server, "t1");
    first.server.failNext("batch", "network");
    await first.queue.enqueue(move("t1", 1, 3));
    await first.queue.settled();
    expect(first.queue.state().status).toBe("waiting");
    first.queue.stop();

    const second = await setup({ server: first.server, cache: first.cache, initial: await first.cache.listOps() });
    second.queue.kick();
    await second.queue.settled();
    expect(first.server.get("token", "t1")?.x).toBe(3);
    expect(await first.cache.listOps()).toEqual([]);
  });

  it("keeps ops on a network failure and retries them after a jittered, growing backoff", async () => {
    const { queue, server, clock } = await setup({ deps: { random: randomSequence(0.5, 0.5, 0.5) } });
    seedTokens(server, "t1");
    server.failNext("batch", "network", "network");
    await queue.enqueue(move("t1", 1, 3));
    await queue.settled();
    expect(queue.state()).toMatchObject({ status: "waiting", attempt: 1 });
    expect(clock.pending()).toEqual([500]);
    await clock.advance(499);
    expect(server.callsOf("batch")).toHaveLength(1);
    await clock.advance(1);
    expect(server.callsOf("batch")).toHaveLength(2);
    expect(clock.pending()).toEqual([1000]);
    await clock.advance(1000);
    await queue.settled();
    expect(server.callsOf("batch")).toHaveLength(3);
    expect(queue.state()).toMatchObject({ status: "idle", attempt: 0, ops: [] });
    expect(server.get("token", "t1")?.x).toBe(3);
  });

  it("does not cut the backoff short for new ops, but does for kick (back online)", async () => {
    const { queue, server, clock } = await setup();
    seedTokens(server, "t1", "t2");
    server.failNext("batch", "network");
    await queue.enqueue(move("t1", 1, 3));
    await queue.settled();
    await queue.enqueue(move("t2", 1, 4));
    await settle();
    expect(server.callsOf("batch")).toHaveLength(1);
    queue.kick();
    await queue.settled();
    expect(server.callsOf("batch")).toHaveLength(2);
    expect(clock.pending()).toEqual([]);
  });

  it("resends after a lost response without applying anything twice", async () => {
    const { queue, server, clock, applied } = await setup();
    seedTokens(server, "t1");
    server.failNext("batch", "lost");
    await enqueueAll(queue, [
      { entity_type: "token", op: "update", id: "t1", payload: { stats: { hp: 1 } }, base_version: 1 },
      { entity_type: "token", op: "create", id: "t9", payload: { name: "New" }, base_version: null },
    ]);
    await queue.settled();
    expect(server.appliedOps).toBe(2);
    expect(queue.state().ops).toHaveLength(2);
    await clock.advance(60_000);
    await queue.settled();
    const [first, second] = server.callsOf("batch").map(([b]) => (b as BatchOp[]).map((o) => o.op_id));
    expect(second).toEqual(first);
    expect(server.appliedOps).toBe(2);
    expect(server.get("token", "t1")?.version).toBe(2);
    expect(queue.state().ops).toEqual([]);
    expect(applied.map((a) => a.entity.id)).toEqual(["t1", "t9"]);
  });

  it("waits at least as long as Retry-After on 429", async () => {
    const { queue, server, clock } = await setup();
    seedTokens(server, "t1");
    server.failNext("batch", new ApiError(429, "rate_limited", "slow down", undefined, 30_000));
    await queue.enqueue(move("t1", 1, 3));
    await queue.settled();
    expect(clock.pending()).toEqual([30_000]);
  });

  describe("on 409", () => {
    async function conflicted() {
      const ctx = await setup();
      seedTokens(ctx.server, "t1", "t2");
      ctx.server.edit("token", "t1", { x: 100, name: "Theirs" });
      const [a, b, c] = await enqueueAll(ctx.queue, [
        move("t2", 1, 7),
        { entity_type: "token", op: "update", id: "t1", payload: { x: 1, y: 2 }, base_version: 1 },
        move("t1", 2, 9),
      ]);
      await ctx.queue.settled();
      if (!a || !b || !c) throw new Error("expected three ops");
      return { ...ctx, a, b, c };
    }

    it("pauses and exposes the op with the server's entity, fetched fresh", async () => {
      const { queue, server, b, metrics } = await conflicted();
      const state = queue.state();
      expect(state.status).toBe("paused");
      expect(state.conflict).toMatchObject({ op: b, server: { id: "t1", version: 2, x: 100 }, dependents: 1 });
      expect(server.appliedOps).toBe(0);
      expect(state.ops).toHaveLength(3);
      expect(metrics).toEqual([{ name: "conflict", entity_type: "token", entity_id: "t1", op_id: b.uuid }]);
    });

    it("sends nothing more while paused, new ops included", async () => {
      const { queue, server, clock } = await conflicted();
      await queue.enqueue(move("t2", 2, 1));
      queue.kick();
      await clock.advance(120_000);
      expect(server.callsOf("batch")).toHaveLength(1);
      expect(queue.state().ops).toHaveLength(4);
    });

    it("uses the entity the 409 reported when the fresh read fails", async () => {
      const { queue, server } = await setup({
        deps: {
          fetchEntity: async () => {
            throw new ApiError(0, "network_error", "offline");
          },
        },
      });
      seedTokens(server, "t1");
      server.edit("token", "t1", { x: 50 });
      await queue.enqueue(move("t1", 1, 3));
      await queue.settled();
      expect(queue.state().conflict?.server).toMatchObject({ version: 2, x: 50 });
    });

    it("Keep Mine: sends the op rebased on the server's version, then the dependents, and resumes", async () => {
      const { queue, server, clock, cache, metrics } = await conflicted();
      await clock.advance(4_000);
      const conflict = queue.state().conflict;
      if (!conflict) throw new Error("expected a conflict");
      await queue.resolve(keepMine(conflict, "11111111-1111-4111-8111-111111111111"));
      await queue.settled();
      expect(server.get("token", "t1")).toMatchObject({ x: 9, y: 2, name: "Theirs", version: 4 });
      expect(server.get("token", "t2")).toMatchObject({ x: 7, version: 2 });
      expect(queue.state()).toMatchObject({ status: "idle", conflict: null, ops: [] });
      expect(await cache.listOps()).toEqual([]);
      expect(metrics.at(-1)).toEqual({
        name: "conflict_resolved",
        entity_type: "token",
        entity_id: "t1",
        op_id: conflict.op.uuid,
        resolution: "keep_mine",
        duration_ms: 4_000,
      });
    });

    it("keeps an edit made while the resolution is being stored, and sends it after it", async () => {
      const user = freshId("u");
      const session = freshId("s");
      const real = await openCache(user, session);
      caches.push({ cache: real, user, session });
      let release: () => void = () => undefined;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const slow: Cache = {
        ...real,
        replaceOp: async (id, op) => {
          await held;
          await real.replaceOp(id, op);
        },
      };
      const { queue, server } = await setup({ cache: slow });
      seedTokens(server, "t1", "t2");
      server.edit("token", "t1", { x: 100 });
      await queue.enqueue(move("t1", 1, 3));
      await queue.settled();
      const conflict = queue.state().conflict;
      if (!conflict) throw new Error("expected a conflict");

      const resolving = queue.resolve(keepMine(conflict, "11111111-1111-4111-8111-111111111111"));
      const during = await queue.enqueue(move("t2", 1, 5));
      release();
      await resolving;
      await queue.settled();
      expect(queue.state().ops).toEqual([]);
      expect(server.get("token", "t1")).toMatchObject({ x: 3, version: 3 });
      expect(server.get("token", "t2")).toMatchObject({ x: 5, version: 2 });
      expect((await real.listOps()).map((op) => op.uuid)).not.toContain(during.uuid);
    });

    it("exposes the later queued edits of the entity with the op, so their fields are resolved too", async () => {
      const { queue, b, c } = await conflicted();
      expect(queue.state().conflict?.related).toEqual([c]);
      expect(queue.state().conflict?.op).toEqual(b);
    });

    it("Use Server: drops the op and the later queued edits of the entity, so the server's fields all stay", async () => {
      const { queue, server, applied } = await conflicted();
      await queue.resolve(useServer());
      await queue.settled();
      expect(server.get("token", "t1")).toMatchObject({ x: 100, y: 0, name: "Theirs", version: 2 });
      expect(server.get("token", "t2")).toMatchObject({ x: 7, version: 2 });
      expect(applied.some((a) => a.entity.id === "t1" && a.entity.version === 2)).toBe(true);
      expect(queue.state().ops).toEqual([]);
    });

    it("Use Server still sends an edit of the entity made after the conflict was found, on the server's version", async () => {
      const { queue, server } = await conflicted();
      await queue.enqueue({ entity_type: "token", op: "update", id: "t1", payload: { name: "Later" }, base_version: 3 });
      await queue.resolve(useServer());
      await queue.settled();
      expect(server.get("token", "t1")).toMatchObject({ x: 100, y: 0, name: "Later", version: 3 });
    });

    it("Merge Fields: sends only the fields chosen as mine", async () => {
      const { queue, server } = await conflicted();
      const conflict = queue.state().conflict;
      if (!conflict) throw new Error("expected a conflict");
      await queue.resolve(mergeFields(conflict, { x: "server", y: "mine" }, "22222222-2222-4222-8222-222222222222"));
      await queue.settled();
      // x is the server's in every queued edit: the later move (x only) is dropped, not sent over it.
      expect(server.get("token", "t1")).toMatchObject({ y: 2, x: 100, name: "Theirs", version: 3 });
    });

    it("Merge Fields: a field chosen as mine takes the value of the last queued edit", async () => {
      const { queue, server } = await conflicted();
      const conflict = queue.state().conflict;
      if (!conflict) throw new Error("expected a conflict");
      await queue.resolve(mergeFields(conflict, { x: "mine", y: "server" }, "22222222-2222-4222-8222-222222222222"));
      await queue.settled();
      expect(server.get("token", "t1")).toMatchObject({ y: 0, x: 9, name: "Theirs", version: 4 });
    });

    it("persists the resolution: a refresh after it does not bring the old op back", async () => {
      const { queue, cache, b } = await conflicted();
      queue.stop();
      await queue.resolve(useServer());
      expect((await cache.listOps()).map((o) => o.uuid)).not.toContain(b.uuid);
      expect((await cache.listOps()).filter((o) => o.id === "t1")).toEqual([]);
    });
  });

  it("pauses on 401 until resumed", async () => {
    const { queue, server } = await setup();
    seedTokens(server, "t1");
    server.failNext("batch", new ApiError(401, "unauthorized", "sign in"));
    await queue.enqueue(move("t1", 1, 3));
    await queue.settled();
    expect(queue.state()).toMatchObject({ status: "paused", pausedReason: "unauthorized" });
    queue.resume();
    await queue.settled();
    expect(queue.state()).toMatchObject({ status: "idle", ops: [] });
  });

  it("pauses on an op the server rejects (400 naming it) until it is dropped", async () => {
    const { queue, server } = await setup();
    seedTokens(server, "t1", "t2");
    queue.stop();
    const bad = await queue.enqueue(move("t1", 1, 3));
    await queue.enqueue(move("t2", 1, 4));
    server.failNext("batch", new ApiError(400, "bad_request", "invalid token", { op_id: bad.uuid }));
    queue.kick();
    await queue.settled();
    expect(queue.state().rejected).toMatchObject({ op: { uuid: bad.uuid }, error: { status: 400, code: "bad_request" } });
    await queue.dropRejected();
    await queue.settled();
    expect(server.get("token", "t2")?.x).toBe(4);
    expect(server.get("token", "t1")?.x).toBe(0);
  });

  it("splits a batch refused as a whole (413) until it passes", async () => {
    const { queue, server } = await setup();
    server.failNext("batch", new ApiError(413, "payload_too_large", "too big"));
    await enqueueAll(
      queue,
      [0, 1, 2, 3].map((i): OpInput => ({ entity_type: "token", op: "create", id: `t${i}`, payload: {}, base_version: null })),
    );
    await queue.settled();
    expect(server.callsOf("batch").map(([b]) => (b as BatchOp[]).length)).toEqual([4, 2, 2]);
    expect(server.appliedOps).toBe(4);
  });
});
