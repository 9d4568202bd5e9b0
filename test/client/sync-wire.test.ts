/** The app's wire: batches on the open socket (REST otherwise), updates as merge patches. */
import { describe, expect, it, vi } from "vitest";
import { patchEntity } from "../../client/src/lib/sync";
import type { AnyEntity, BatchOp } from "../../client/src/lib/types";
import { FakeServer } from "./helpers/fake-server";
import { FakeWebSocket } from "./helpers/fake-socket";
import { token } from "./helpers/fixtures";
import { useSyncHarness } from "./helpers/sync-harness";

const harness = useSyncHarness();
const e = (entity: unknown) => entity as AnyEntity;

/** Opens the socket; its `ops` messages are answered by each test itself. */
async function openSocket(): Promise<FakeWebSocket> {
  FakeWebSocket.answerOps = null;
  await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBeGreaterThan(0));
  const ws = FakeWebSocket.latest();
  ws.accept();
  return ws;
}

type OpsMessage = { type: "ops"; id: string; ops: BatchOp[] };
const opsSent = (ws: FakeWebSocket) => ws.messages().filter((m) => (m as { type?: string }).type === "ops") as OpsMessage[];
const batches = (server: FakeServer) => server.callsOf("batch").map((args) => args[0] as BatchOp[]);

describe("writes on the socket", () => {
  it("sends the queue's batch on the open socket and applies the result frame, without REST", async () => {
    const server = new FakeServer();
    server.put("token", e(token("t1", 3)));
    const { sync } = await harness.start(server);
    const ws = await openSocket();
    await sync.update("token", "t1", { x: 10 });
    await vi.waitFor(() => expect(opsSent(ws)).toHaveLength(1));
    const [message] = opsSent(ws);
    expect(message?.ops).toMatchObject([{ entity_type: "token", op: "update", id: "t1", base_version: 3, data: { x: 10 } }]);
    ws.receive({
      type: "result",
      id: message?.id,
      seq: 9,
      results: [{ op_id: message?.ops[0]?.op_id, entity: token("t1", 4, { x: 10 }) }],
    });
    await vi.waitFor(() => expect(sync.view.sync.pending).toBe(0));
    expect(sync.view.tokens.t1).toMatchObject({ version: 4, x: 10 });
    expect(batches(server)).toHaveLength(0);
  });

  it("sends over REST while the socket is not open", async () => {
    const server = new FakeServer();
    server.put("token", e(token("t1", 1)));
    const { sync } = await harness.start(server);
    await sync.update("token", "t1", { x: 5 });
    await vi.waitFor(() => expect(sync.view.sync.pending).toBe(0));
    expect(batches(server)).toHaveLength(1);
    expect(server.get("token", "t1")).toMatchObject({ version: 2, x: 5 });
    for (const ws of FakeWebSocket.instances) expect(opsSent(ws)).toHaveLength(0);
  });

  it("sends the same ops again over REST when the socket closes before answering", async () => {
    const server = new FakeServer();
    server.put("token", e(token("t1", 1)));
    const { sync } = await harness.start(server);
    const ws = await openSocket();
    await sync.update("token", "t1", { y: 7 });
    await vi.waitFor(() => expect(opsSent(ws)).toHaveLength(1));
    const sentOpId = opsSent(ws)[0]?.ops[0]?.op_id;
    ws.drop(1006);
    await vi.waitFor(() => expect(sync.view.sync.pending).toBe(0));
    expect(batches(server).map((b) => b.map((op) => op.op_id))).toEqual([[sentOpId]]);
    expect(server.get("token", "t1")).toMatchObject({ version: 2, y: 7 });
  });

  it("turns an error frame into the error REST would have thrown (a 423 keeps the op queued)", async () => {
    const server = new FakeServer();
    server.put("token", e(token("t1", 1)));
    const { sync } = await harness.start(server);
    const errors: unknown[] = [];
    sync.onSendError((error) => errors.push(error));
    const ws = await openSocket();
    await sync.update("token", "t1", { x: 1 });
    await vi.waitFor(() => expect(opsSent(ws)).toHaveLength(1));
    const [message] = opsSent(ws);
    const opId = message?.ops[0]?.op_id;
    ws.receive({
      type: "error",
      id: message?.id,
      code: "locked",
      status: 423,
      op_id: opId,
      message: "scene locked",
      details: { op_id: opId, lock: { scene_id: "s1" } },
    });
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    expect(errors[0]).toMatchObject({ name: "ApiError", status: 423, code: "locked", details: { op_id: opId } });
    expect(sync.view.sync.pending).toBe(1);
    expect(batches(server)).toHaveLength(0);
  });
});

describe("writes on the socket, answered by the server", () => {
  it("reaches the server through the socket: the op applies once", async () => {
    const server = new FakeServer();
    server.put("token", e(token("t1", 2)));
    const { sync } = await harness.start(server);
    await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBeGreaterThan(0));
    const ws = FakeWebSocket.latest();
    ws.accept();
    await sync.update("token", "t1", { x: 3 });
    await vi.waitFor(() => expect(sync.view.sync.pending).toBe(0));
    expect(opsSent(ws)).toHaveLength(1);
    expect(server.get("token", "t1")).toMatchObject({ version: 3, x: 3 });
    expect(sync.view.tokens.t1).toMatchObject({ version: 3, x: 3 });
  });
});

describe("patches on the wire", () => {
  it("applies a patch to the cached previous version", async () => {
    const server = new FakeServer();
    server.put("token", e(token("t1", 3, { x: 1, y: 2, stats: { hp: 5 } })));
    const { sync } = await harness.start(server);
    const ws = await openSocket();
    const seq = sync.store.world().seq;
    ws.receive({
      type: "change",
      seq: seq + 1,
      entity_type: "token",
      entity_id: "t1",
      version: 4,
      op: "update",
      patch: { x: 40, stats: { hp: 3 } },
    });
    await vi.waitFor(() => expect(sync.view.tokens.t1?.version).toBe(4));
    expect(sync.view.tokens.t1).toMatchObject({ x: 40, y: 2, stats: { hp: 3 } });
    expect(server.callsOf("getEntity")).toHaveLength(0);
    expect(sync.store.world().seq).toBe(seq + 1);
  });

  it("fetches the entity when the cache does not hold the previous version", async () => {
    const server = new FakeServer();
    server.put("token", e(token("t1", 3, { x: 1 })));
    const { sync } = await harness.start(server);
    const ws = await openSocket();
    // The server moved on twice; this client missed version 4.
    server.put("token", e(token("t1", 5, { x: 77, y: 8 })));
    const seq = sync.store.world().seq;
    ws.receive({ type: "change", seq: seq + 1, entity_type: "token", entity_id: "t1", version: 5, op: "update", patch: { x: 77 } });
    await vi.waitFor(() => expect(sync.view.tokens.t1?.version).toBe(5));
    expect(sync.view.tokens.t1).toMatchObject({ x: 77, y: 8 });
    expect(server.callsOf("getEntity")).toEqual([["token", "t1"]]);
  });

  it("keeps entity fields present when a patch sets them to null", () => {
    const archived = e(token("t1", 2, { archived_at: "2026-01-01T00:00:00.000Z", stats: { a: 1, b: 2 } }));
    const next = patchEntity(archived, { archived_at: null, stats: { a: null } }, 3);
    expect(next).toMatchObject({ version: 3, archived_at: null, stats: { b: 2 } });
    expect("archived_at" in next).toBe(true);
    expect(next.stats).toEqual({ b: 2 });
  });
});
