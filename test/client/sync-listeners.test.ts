import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../../client/src/lib/api";
import type { InboundMessage } from "../../client/src/lib/transport";
import { FakeServer } from "./helpers/fake-server";
import { FakeWebSocket } from "./helpers/fake-socket";
import { scene } from "./helpers/fixtures";
import { useSyncHarness } from "./helpers/sync-harness";

const harness = useSyncHarness();

async function live(server: FakeServer) {
  const { sync, clock } = await harness.start(server);
  await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBeGreaterThan(0));
  const ws = FakeWebSocket.latest();
  ws.accept();
  return { sync, ws, clock };
}

describe("the sync layer's listeners", () => {
  it("hands the socket messages it does not handle to every listener until it unsubscribes", async () => {
    const { sync, ws } = await live(new FakeServer());
    const first: InboundMessage[] = [];
    const second: InboundMessage[] = [];
    const stopFirst = sync.listen((m) => first.push(m));
    sync.listen((m) => second.push(m));
    ws.receive({ type: "presence", clients: [] });
    ws.receive({ type: "lock", scene_id: "s1", lock: null, reason: "released" });
    await vi.waitFor(() => expect(second.map((m) => m.type)).toEqual(["presence", "lock"]));
    expect(first.map((m) => m.type)).toEqual(["presence", "lock"]);
    stopFirst();
    ws.receive({ type: "presence", left: ["c1"] });
    await vi.waitFor(() => expect(second).toHaveLength(3));
    expect(first).toHaveLength(2);
  });

  it("reports a batch refused with 423 to send-error listeners, and the queue keeps the op", async () => {
    const server = new FakeServer();
    server.put("scene", scene("s1", 1) as never, "create");
    const { sync } = await live(server);
    const errors: unknown[] = [];
    sync.onSendError((e) => errors.push(e));
    const held = { scene_id: "s1", holder_user_id: "u-other", expires_at: "2030-01-01T00:05:00.000Z" };
    server.failNext("batch", new ApiError(423, "locked", "scene s1 is locked", { op_id: "x", lock: held }));
    await sync.update("scene", "s1", { name: "Renamed" });
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    expect((errors[0] as ApiError).status).toBe(423);
    expect(sync.queue.state().ops).toHaveLength(1);
    expect(sync.view.sync.lastError).toBe("scene s1 is locked");
  });

  it("says Offline at once when the window reports the network gone, and Live again once a socket opens", async () => {
    let offline: (() => void) | undefined;
    const { sync } = await harness.start(new FakeServer(), {
      onOffline: (callback) => {
        offline = callback;
        return () => undefined;
      },
    });
    await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBeGreaterThan(0));
    FakeWebSocket.latest().accept();
    expect(sync.view.connection).toBe("live");
    offline?.();
    expect(sync.view.connection).toBe("offline");
    await vi.waitFor(() => expect(FakeWebSocket.latest().readyState).toBe(FakeWebSocket.CONNECTING));
    FakeWebSocket.latest().accept();
    expect(sync.view.connection).toBe("live");
  });
});
