// @vitest-environment jsdom
/** The app's own wiring of the sync layer (`startSessionSync`): its socket is a patch socket. */
import { expect, it, vi } from "vitest";
import { createMemoryCache } from "../../client/src/lib/cache";
import { startSessionSync } from "../../client/src/lib/sync";
import type { WebSocketClass } from "../../client/src/lib/transport";
import { FakeServer } from "./helpers/fake-server";
import { FakeWebSocket } from "./helpers/fake-socket";
import { noModules } from "./helpers/fixtures";
import { ManualClock } from "./helpers/timers";

it("opens the session's socket on this origin with ?patch=1, so updates arrive as merge patches", async () => {
  FakeWebSocket.reset();
  const clock = new ManualClock();
  const sync = await startSessionSync("sess", "u1", noModules, {
    api: new FakeServer(),
    WebSocket: FakeWebSocket as unknown as WebSocketClass,
    openCache: async () => createMemoryCache(),
    timers: clock,
    now: clock.now,
    onOnline: () => () => undefined,
  });
  try {
    await sync.ready;
    await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBeGreaterThan(0));
    const url = new URL(FakeWebSocket.latest().url);
    expect(url.protocol).toBe("ws:");
    expect(url.host).toBe(location.host);
    expect(url.pathname).toBe("/api/vtt/sessions/sess/ws");
    expect(url.searchParams.get("patch")).toBe("1");
  } finally {
    await sync.stop();
  }
});
