/**
 * The whole table (`SessionTable`) rendered for a user over a sync layer wired to a fake server,
 * fake sockets, an in-memory cache and a manual clock: what tests of the table's panels and
 * notices start from. The caller stops what lands in `running` after each test.
 */
import { render } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { SessionTable } from "../../../client/src/components/SessionTable";
import { createMemoryCache } from "../../../client/src/lib/cache";
import { createClientModuleRegistry } from "../../../client/src/lib/modules";
import { createPreviewSender } from "../../../client/src/lib/preview";
import { type SessionSync, startSync } from "../../../client/src/lib/sync";
import type { WebSocketClass } from "../../../client/src/lib/transport";
import { clientModules } from "../../../modules/client";
import type { FakeServer } from "./fake-server";
import { FakeWebSocket } from "./fake-socket";
import { ManualClock } from "./timers";

export async function renderSessionTable(
  server: FakeServer,
  userId: string,
  running: SessionSync[],
): Promise<{ sync: SessionSync; clock: ManualClock }> {
  const clock = new ManualClock();
  const sync = await startSync({
    sessionId: "sess",
    userId,
    // The app's modules, as its entry builds them (client/src/main.tsx).
    modules: createClientModuleRegistry(clientModules),
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
      userId,
      sync,
      ghosts: {},
      preview: createPreviewSender(() => false, { timers: clock }),
      connectedUsers: 1,
    }),
  );
  return { sync, clock };
}
