// @vitest-environment jsdom
import { cleanup, render, waitFor } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SessionTable } from "../../client/src/components/SessionTable";
import type { AnyEntity } from "../../client/src/lib/api";
import { createMemoryCache } from "../../client/src/lib/cache";
import { createPreviewSender } from "../../client/src/lib/preview";
import { type SessionSync, startSync } from "../../client/src/lib/sync";
import type { WebSocketClass } from "../../client/src/lib/transport";
import { FakeServer } from "./helpers/fake-server";
import { FakeWebSocket } from "./helpers/fake-socket";
import { scene } from "./helpers/fixtures";
import { ManualClock } from "./helpers/timers";

const running: SessionSync[] = [];
beforeEach(() => FakeWebSocket.reset());
afterEach(async () => {
  cleanup();
  for (const sync of running.splice(0)) await sync.stop();
});

describe("the table's lighting", () => {
  it("follows the session state's lighting flag on a player's table", async () => {
    const server = new FakeServer();
    server.role = "player";
    server.put("scene", scene("s1", 1, { name: "Crypt" }) as unknown as AnyEntity, "create");
    const clock = new ManualClock();
    const sync = await startSync({
      sessionId: "sess",
      userId: "u-player",
      api: server,
      socketUrl: "ws://test/ws",
      WebSocket: FakeWebSocket as unknown as WebSocketClass,
      openCache: async () => createMemoryCache(),
      timers: clock,
      now: clock.now,
      random: () => 0.5,
      onOnline: () => () => undefined,
    });
    running.push(sync);
    await sync.ready;
    render(() =>
      createComponent(SessionTable, {
        sessionId: "sess",
        userId: "u-player",
        sync,
        ghosts: {},
        preview: createPreviewSender(() => false, { timers: clock }),
        connectedUsers: 1,
      }),
    );
    const main = () => document.querySelector(".table-main");
    expect(main()?.getAttribute("data-lighting")).toBe("off");
    server.edit("session_state", "st", { flags: { lighting: true } });
    await sync.reload();
    await waitFor(() => expect(main()?.getAttribute("data-lighting")).toBe("on"));
  });
});
