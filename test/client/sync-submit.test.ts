/** `sync.submit`: several edits as one action, one batch, base versions chained through the action. */
import { describe, expect, it, vi } from "vitest";
import type { AnyEntity, BatchOp } from "../../client/src/lib/types";
import { FakeServer } from "./helpers/fake-server";
import { token } from "./helpers/fixtures";
import { useSyncHarness } from "./helpers/sync-harness";

const harness = useSyncHarness();
const start = async (server: FakeServer) => (await harness.start(server)).sync;

const batches = (server: FakeServer) => server.calls.filter((c) => c.method === "batch").map((c) => c.args[0] as BatchOp[]);

describe("sync.submit", () => {
  it("sends an action's edits in one batch, each update based on the version the one before leads to", async () => {
    const server = new FakeServer();
    server.put("token", token("t1", 3) as unknown as AnyEntity);
    const sync = await start(server);
    await sync.submit([
      { op: "update", type: "token", id: "t1", patch: { x: 10 } },
      { op: "create", type: "token", id: "t2", data: { name: "copy", scene_id: null } },
      { op: "update", type: "token", id: "t1", patch: { y: 20 } },
    ]);
    await vi.waitFor(() => expect(sync.view.sync.pending).toBe(0));
    const sent = batches(server);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.map((op) => [op.op, op.id, op.base_version ?? null])).toEqual([
      ["update", "t1", 3],
      ["create", "t2", null],
      ["update", "t1", 4],
    ]);
    expect(server.get("token", "t1")).toMatchObject({ version: 5, x: 10, y: 20 });
  });

  it("shows every edit of the action at once, before the server answers", async () => {
    const server = new FakeServer();
    server.put("token", token("t1", 1) as unknown as AnyEntity);
    const sync = await start(server);
    server.hold("batch");
    const pending = sync.submit([
      { op: "update", type: "token", id: "t1", patch: { x: 99 } },
      { op: "archive", type: "token", id: "t1" },
    ]);
    expect(sync.view.tokens.t1).toBeUndefined();
    await pending;
    server.release("batch");
    await vi.waitFor(() => expect(sync.view.sync.pending).toBe(0));
    expect(batches(server)[0]?.map((op) => op.base_version)).toEqual([1, 2]);
  });

  it("refuses an update of an entity the session does not hold, queueing nothing", async () => {
    const server = new FakeServer();
    const sync = await start(server);
    await expect(sync.submit([{ op: "update", type: "token", id: "ghost", patch: { x: 1 } }])).rejects.toThrow("no token ghost");
    expect(sync.view.sync.pending).toBe(0);
  });
});

describe("sync.accept", () => {
  it("shows entities a route answered with at once, keeping a newer copy it already holds", async () => {
    const server = new FakeServer();
    server.put("token", token("t1", 2) as unknown as AnyEntity);
    const sync = await start(server);
    sync.accept([
      { type: "token", entity: token("t1", 3, { x: 40 }) as unknown as AnyEntity },
      { type: "token", entity: token("t2", 1, { name: "From a route" }) as unknown as AnyEntity },
    ]);
    expect(sync.view.tokens.t1).toMatchObject({ version: 3, x: 40 });
    expect(sync.view.tokens.t2?.name).toBe("From a route");
    sync.accept([{ type: "token", entity: token("t1", 2, { x: 1 }) as unknown as AnyEntity }]);
    expect(sync.view.tokens.t1).toMatchObject({ version: 3, x: 40 });
  });
});

describe("sync.restore", () => {
  it("bases a restore on the ops already queued on the entity, not only on the archived version", async () => {
    const server = new FakeServer();
    server.put("token", token("t1", 1) as unknown as AnyEntity);
    const sync = await start(server);
    server.hold("batch");
    await sync.archive("token", "t1");
    await sync.restore("token", "t1", 1);
    expect(sync.queue.state().ops.map((op) => [op.op, op.base_version])).toEqual([
      ["archive", 1],
      ["restore", 2],
    ]);
    server.release("batch");
    await vi.waitFor(() => expect(sync.view.sync.pending).toBe(0));
    expect(server.get("token", "t1")).toMatchObject({ version: 3, archived_at: null });
  });
});
