/**
 * A sync layer (`startSync`) wired to fakes for tests: a fake server, fake sockets, a manual clock,
 * readable op ids. Each test gets its own user and session (so its own IndexedDB cache); what
 * was started is stopped and the cache deleted after the test. Call at the top of a file or a
 * `describe`, where it registers its hooks.
 */
import { afterEach, beforeEach } from "vitest";
import type { SessionApi } from "../../../client/src/lib/api";
import { deleteCache } from "../../../client/src/lib/cache";
import { type SessionSync, type SyncDeps, startSync } from "../../../client/src/lib/sync";
import type { WebSocketClass } from "../../../client/src/lib/transport";
import { FakeWebSocket } from "./fake-socket";
import { freshId, noModules } from "./fixtures";
import { ManualClock } from "./timers";

export function useSyncHarness() {
  const ids = { user: "", session: "" };
  const running: SessionSync[] = [];

  beforeEach(() => {
    ids.user = freshId("u");
    ids.session = freshId("s");
    FakeWebSocket.reset();
  });

  afterEach(async () => {
    for (const sync of running.splice(0)) await sync.stop();
    await deleteCache(ids.user, ids.session);
  });

  /** Starts a sync against `server` and waits until it has loaded the session. */
  async function start(server: SessionApi, deps: Partial<SyncDeps> = {}): Promise<{ sync: SessionSync; clock: ManualClock }> {
    const clock = new ManualClock();
    let count = 0;
    // Batches sent on the socket reach the same fake server as REST ones.
    FakeWebSocket.answerOps = (ops) => server.batch(ops as Parameters<SessionApi["batch"]>[0]);
    const sync = await startSync({
      sessionId: ids.session,
      userId: ids.user,
      modules: noModules,
      api: server,
      socketUrl: "ws://test/api/vtt/sessions/sess/ws",
      WebSocket: FakeWebSocket as unknown as WebSocketClass,
      timers: clock,
      now: clock.now,
      random: () => 0.5,
      uuid: () => `00000000-0000-4000-8000-${String(++count).padStart(12, "0")}`,
      reportMetric: () => undefined,
      onOnline: () => () => undefined,
      ...deps,
    });
    running.push(sync);
    await sync.ready;
    return { sync, clock };
  }

  return { start, ids };
}
