/**
 * The whole table (`SessionTable`) rendered for a user over a sync layer wired to a fake server,
 * fake sockets, an in-memory cache and a manual clock: what tests of the table's panels and
 * notices start from. The caller stops what lands in `running` after each test.
 */
import { cleanup, render } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, beforeEach, vi } from "vitest";
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

/**
 * Registers, in the calling scope, what every table test does around each test: fresh fake
 * sockets, the GM panels' own reads (members, clients, archive) answered 404, and afterwards the
 * table unmounted and the sync layers that landed in the returned list stopped.
 */
export function useTableTests(): SessionSync[] {
  const running: SessionSync[] = [];
  beforeEach(() => {
    FakeWebSocket.reset();
    vi.stubGlobal("fetch", async () => new Response(JSON.stringify({ error: { code: "not_found", message: "none" } }), { status: 404 }));
  });
  afterEach(async () => {
    cleanup();
    for (const sync of running.splice(0)) await sync.stop();
    vi.unstubAllGlobals();
  });
  return running;
}
