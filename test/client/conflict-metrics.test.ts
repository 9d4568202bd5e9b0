import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createSessionApi } from "../../client/src/lib/api";
import { deleteCache } from "../../client/src/lib/cache";
import { keepMine } from "../../client/src/lib/conflict";
import { type ConflictReport, createConflictReporter, MAX_REPORT_ITEMS, REPORT_DELAY_MS } from "../../client/src/lib/conflict-metrics";
import type { QueueMetric } from "../../client/src/lib/queue";
import { type SessionSync, startSync } from "../../client/src/lib/sync";
import type { WebSocketClass } from "../../client/src/lib/transport";
import type { AnyEntity } from "../../client/src/lib/types";
import { FakeServer } from "./helpers/fake-server";
import { FakeWebSocket } from "./helpers/fake-socket";
import { freshId, noModules, token } from "./helpers/fixtures";
import { ManualClock } from "./helpers/timers";

const conflict = (entity_type = "token"): QueueMetric => ({
  name: "conflict",
  entity_type: entity_type as never,
  entity_id: "t1",
  op_id: "o1",
});
const resolved = (ms: number, resolution: QueueMetric["resolution"] = "keep_mine"): QueueMetric => ({
  name: "conflict_resolved",
  entity_type: "token",
  entity_id: "t1",
  op_id: "o1",
  resolution,
  duration_ms: ms,
});

beforeEach(() => {
  vi.spyOn(console, "info").mockImplementation(() => undefined);
  vi.spyOn(console, "warn").mockImplementation(() => undefined);
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("the conflict reporter", () => {
  it("sends the metrics of a few seconds as one report", async () => {
    const clock = new ManualClock();
    const sent: ConflictReport[] = [];
    const reporter = createConflictReporter({ send: async (r) => void sent.push(r), timers: clock });
    reporter.report(conflict());
    reporter.report(conflict("scene"));
    reporter.report(resolved(12_000));
    expect(sent).toEqual([]);
    await clock.advance(REPORT_DELAY_MS);
    expect(sent).toEqual([
      { conflicts: [{ entity_type: "token" }, { entity_type: "scene" }], resolved: [{ resolution: "keep_mine", duration_ms: 12_000 }] },
    ]);
    await clock.advance(REPORT_DELAY_MS * 3);
    expect(sent).toHaveLength(1);
  });

  it("keeps a report that failed and sends it with the next", async () => {
    const clock = new ManualClock();
    const sent: ConflictReport[] = [];
    let fail = true;
    const reporter = createConflictReporter({
      send: async (r) => {
        if (fail) throw new Error("offline");
        sent.push(r);
      },
      timers: clock,
    });
    reporter.report(conflict());
    await clock.advance(REPORT_DELAY_MS);
    expect(sent).toEqual([]);
    fail = false;
    reporter.report(resolved(3000, "use_server"));
    await clock.advance(REPORT_DELAY_MS);
    expect(sent).toEqual([{ conflicts: [{ entity_type: "token" }], resolved: [{ resolution: "use_server", duration_ms: 3000 }] }]);
  });

  it("sends at once when a report is full, never more than the server accepts", async () => {
    const clock = new ManualClock();
    const sent: ConflictReport[] = [];
    const reporter = createConflictReporter({ send: async (r) => void sent.push(r), timers: clock });
    for (let i = 0; i < MAX_REPORT_ITEMS + 5; i++) reporter.report(conflict());
    await reporter.flush();
    expect(sent.map((r) => r.conflicts.length)).toEqual([MAX_REPORT_ITEMS, 5]);
  });
});

describe("the session API", () => {
  it("posts a report to the session's conflict metrics", async () => {
    const requests: { url: string; method: string; body: unknown }[] = [];
    const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
      requests.push({ url: String(input), method: init?.method ?? "GET", body: JSON.parse(String(init?.body)) });
      return new Response(null, { status: 204 });
    }) as typeof fetch;
    const report: ConflictReport = { conflicts: [{ entity_type: "token" }], resolved: [] };
    await createSessionApi("s1", noModules, fetchImpl).reportConflicts?.(report);
    expect(requests).toEqual([{ url: "/api/vtt/sessions/s1/metrics/conflicts", method: "POST", body: report }]);
  });
});

describe("the sync layer", () => {
  const running: SessionSync[] = [];
  const ids = { user: "", session: "" };
  beforeEach(() => {
    ids.user = freshId("u");
    ids.session = freshId("s");
    FakeWebSocket.reset();
  });
  afterEach(async () => {
    for (const sync of running.splice(0)) await sync.stop();
    await deleteCache(ids.user, ids.session);
  });

  it("sends a conflict and its time to resolve to the server", async () => {
    const server = new FakeServer();
    server.put("token", token("t1") as AnyEntity);
    const reports: ConflictReport[] = [];
    const api = Object.assign(server, { reportConflicts: async (r: ConflictReport) => void reports.push(r) });
    const clock = new ManualClock();
    let n = 0;
    const sync = await startSync({
      modules: noModules,
      sessionId: ids.session,
      userId: ids.user,
      api,
      socketUrl: "ws://test/api/vtt/sessions/sess/ws",
      WebSocket: FakeWebSocket as unknown as WebSocketClass,
      timers: clock,
      now: clock.now,
      random: () => 0.5,
      uuid: () => `00000000-0000-4000-8000-${String(++n).padStart(12, "0")}`,
    });
    running.push(sync);
    await sync.ready;
    server.edit("token", "t1", { name: "Renamed by another GM" });
    await sync.update("token", "t1", { x: 2 });
    await sync.queue.settled();
    const shown = sync.conflict();
    if (!shown) throw new Error("expected a conflict");
    await clock.advance(12_000);
    await sync.resolveConflict(keepMine(shown, "33333333-3333-4333-8333-333333333333"));
    await sync.queue.settled();
    await sync.stop();
    running.splice(0);
    const all = { conflicts: reports.flatMap((r) => r.conflicts), resolved: reports.flatMap((r) => r.resolved) };
    expect(all).toEqual({ conflicts: [{ entity_type: "token" }], resolved: [{ resolution: "keep_mine", duration_ms: 12_000 }] });
  });
});
