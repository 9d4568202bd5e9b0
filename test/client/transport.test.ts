import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../client/src/lib/api";
import {
  backoffDelay,
  createTransport,
  type InboundMessage,
  pollDelay,
  type Transport,
  type TransportDeps,
  type WebSocketClass,
} from "../../client/src/lib/transport";
import type { ChangesResponse } from "../../client/src/lib/types";
import { FakeWebSocket } from "./helpers/fake-socket";
import { token } from "./helpers/fixtures";
import { randomSequence } from "./helpers/timers";

// One clock for partysocket's own timers and ours: the transport's default timers read the
// (faked) global setTimeout.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  FakeWebSocket.reset();
});

const running: Transport[] = [];
afterEach(() => {
  for (const t of running.splice(0)) t.stop();
  vi.useRealTimers();
});

function setup(deps: Partial<TransportDeps> = {}) {
  const received: InboundMessage[] = [];
  let seq = 10;
  const statuses: string[] = [];
  const fetchChanges = vi.fn<TransportDeps["fetchChanges"]>(async (since) => ({ seq: since, changes: [] }));
  const transport = createTransport({
    url: "ws://test/api/vtt/sessions/sess/ws",
    WebSocket: FakeWebSocket as unknown as WebSocketClass,
    fetchChanges,
    getSeq: () => seq,
    onMessage: (m) => {
      received.push(m);
    },
    onStatus: (s) => statuses.push(s),
    random: () => 0.5,
    ...deps,
  });
  running.push(transport);
  return {
    transport,
    received,
    statuses,
    fetchChanges,
    setSeq: (n: number) => {
      seq = n;
    },
  };
}

const tick = (ms: number) => vi.advanceTimersByTimeAsync(ms);

describe("backoff and poll delays", () => {
  it.each([
    { attempt: 0, random: 0.5, delay: 500 },
    { attempt: 1, random: 0.5, delay: 1000 },
    { attempt: 3, random: 0.5, delay: 4000 },
    { attempt: 10, random: 0.5, delay: 15_000 },
    { attempt: 2, random: 0, delay: 250 },
    { attempt: 2, random: 0.99, delay: 3960 },
  ])("backoffDelay(attempt $attempt, random $random) = $delay (full jitter, base 1 s, cap 30 s)", ({ attempt, random, delay }) => {
    expect(backoffDelay(attempt, () => random, 1000, 30_000)).toBe(delay);
  });

  it.each([
    { interval: 4000, random: 0, delay: 3000 },
    { interval: 4000, random: 0.5, delay: 4000 },
    { interval: 4000, random: 1, delay: 5000 },
    { interval: 8000, random: 0.25, delay: 7000 },
  ])("pollDelay($interval, random $random) = $delay", ({ interval, random, delay }) => {
    expect(pollDelay(interval, () => random)).toBe(delay);
  });
});

describe("the socket", () => {
  it("sends resume with the last applied seq when it opens", async () => {
    const { transport, statuses } = setup();
    transport.start();
    await tick(0);
    const ws = FakeWebSocket.latest();
    expect(ws.url).toBe("ws://test/api/vtt/sessions/sess/ws");
    ws.accept();
    expect(ws.messages()).toEqual([{ type: "resume", since: 10 }]);
    expect(statuses).toEqual(["connecting", "live"]);
  });

  it("hands every message to the handler in order, types it does not know included", async () => {
    const { transport, received } = setup();
    transport.start();
    await tick(0);
    const ws = FakeWebSocket.latest();
    ws.accept();
    const messages = [
      { type: "hello", seq: 12, role: "gm", client_id: "c1" },
      { type: "change", event_id: 11, seq: 11, entity_type: "token", entity_id: "t1", version: 2, op: "update", entity: token("t1", 2) },
      { type: "resumed", seq: 12 },
      { type: "reload", seq: 13, reason: "activate" },
      { type: "error", code: "bad_request", message: "no" },
      { type: "lock", scene_id: "s1", lock: null, reason: "released" },
    ];
    for (const m of messages) ws.receive(m);
    ws.dispatchEvent(new MessageEvent("message", { data: "not json" }));
    expect(received).toEqual(messages);
  });

  it("reconnects after a jittered delay and resumes from the seq applied meanwhile", async () => {
    const { transport, setSeq, statuses } = setup({ random: () => 0.5 });
    transport.start();
    await tick(0);
    FakeWebSocket.latest().accept();
    setSeq(25);
    FakeWebSocket.latest().drop();
    expect(statuses.at(-1)).toBe("reconnecting");
    await tick(499);
    expect(FakeWebSocket.instances).toHaveLength(1);
    await tick(1);
    expect(FakeWebSocket.instances).toHaveLength(2);
    FakeWebSocket.latest().accept();
    expect(FakeWebSocket.latest().messages()).toEqual([{ type: "resume", since: 25 }]);
    expect(statuses.at(-1)).toBe("live");
  });

  it("spreads reconnects after a deploy: clients wait different times", async () => {
    const early = setup({ random: () => 0.1 });
    early.transport.start();
    await tick(0);
    const earlySocket = FakeWebSocket.latest();
    const late = setup({ random: () => 0.9 });
    late.transport.start();
    await tick(0);
    const lateSocket = FakeWebSocket.latest();
    earlySocket.accept();
    lateSocket.accept();
    earlySocket.drop(1012);
    lateSocket.drop(1012);
    await tick(250);
    expect(FakeWebSocket.instances).toHaveLength(3);
    await tick(650);
    expect(FakeWebSocket.instances).toHaveLength(4);
  });

  it("grows the delay exponentially while reconnects keep failing", async () => {
    const created: number[] = [];
    class Refused extends FakeWebSocket {
      constructor(url: string) {
        super(url);
        created.push(Date.now());
        queueMicrotask(() => this.drop(1006));
      }
    }
    const { transport } = setup({ WebSocket: Refused as unknown as WebSocketClass, random: () => 0.999, socketFallbackMs: 1e9 });
    transport.start();
    await tick(20_000);
    // Each gap is the jittered delay plus partysocket's own zero wait, which the fake clock counts as 1 ms.
    const gaps = created.slice(1).map((t, i) => t - (created[i] ?? 0) - 1);
    expect(gaps.slice(0, 4)).toEqual([999, 1998, 3996, 7992]);
  });

  it("sends client messages only while open", async () => {
    const { transport } = setup();
    transport.start();
    expect(transport.send({ type: "ack", event_ids: [1] })).toBe(false);
    await tick(0);
    FakeWebSocket.latest().accept();
    expect(transport.send({ type: "ack", event_ids: [1] })).toBe(true);
    expect(FakeWebSocket.latest().messages().at(-1)).toEqual({ type: "ack", event_ids: [1] });
  });
});

describe("falling back to polling", () => {
  it("polls when the socket has been down for long, and stops when it is back", async () => {
    const { transport, fetchChanges, statuses } = setup({ socketFallbackMs: 10_000 });
    transport.start();
    await tick(0);
    FakeWebSocket.latest().accept();
    FakeWebSocket.latest().drop();
    await tick(9_999);
    expect(fetchChanges).not.toHaveBeenCalled();
    await tick(1);
    expect(fetchChanges).toHaveBeenCalledWith(10, 10);
    expect(statuses.at(-1)).toBe("polling");
    await tick(4_000);
    const polls = fetchChanges.mock.calls.length;
    expect(polls).toBeGreaterThanOrEqual(2);

    const reconnected = FakeWebSocket.instances.find((ws) => ws.readyState === FakeWebSocket.CONNECTING);
    if (!reconnected) throw new Error("expected a socket trying to connect");
    reconnected.accept();
    expect(statuses.at(-1)).toBe("live");
    await tick(60_000);
    expect(fetchChanges.mock.calls.length).toBe(polls);
  });

  it("polls when the socket never opens", async () => {
    const { transport, fetchChanges } = setup({ socketFallbackMs: 10_000 });
    transport.start();
    await tick(10_000);
    expect(fetchChanges).toHaveBeenCalled();
  });
});

describe("polling", () => {
  it("only polls when the session turned realtime off: no socket, If-None-Match with the seq, 3–5 s apart", async () => {
    const { transport, fetchChanges } = setup({
      settings: { realtime: false },
      random: randomSequence(0, 1, 0.5),
    });
    transport.start();
    await tick(0);
    expect(FakeWebSocket.instances).toEqual([]);
    expect(fetchChanges).toHaveBeenCalledTimes(1);
    expect(fetchChanges).toHaveBeenLastCalledWith(10, 10);
    await tick(2_999);
    expect(fetchChanges).toHaveBeenCalledTimes(1);
    await tick(1);
    expect(fetchChanges).toHaveBeenCalledTimes(2);
    await tick(4_999);
    expect(fetchChanges).toHaveBeenCalledTimes(2);
    await tick(1);
    expect(fetchChanges).toHaveBeenCalledTimes(3);
    transport.stop();
  });

  it("uses the session's poll interval", async () => {
    const { transport, fetchChanges } = setup({ settings: { realtime: false, poll_interval_ms: 10_000 }, random: () => 0.5 });
    transport.start();
    await tick(0);
    await tick(9_999);
    expect(fetchChanges).toHaveBeenCalledTimes(1);
    await tick(1);
    expect(fetchChanges).toHaveBeenCalledTimes(2);
  });

  it("treats 304 as nothing new", async () => {
    const { transport, received } = setup({ settings: { realtime: false }, fetchChanges: async () => null });
    transport.start();
    await tick(20_000);
    expect(received).toEqual([]);
  });

  it("turns rows into change messages followed by resumed, asking from the seq it reached", async () => {
    const response: ChangesResponse = {
      seq: 14,
      changes: [
        { seq: 12, entity_type: "token", entity_id: "t1", version: 2, op: "update", entity: token("t1", 2) as never },
        { seq: 14, entity_type: "token", entity_id: "t2", version: 3, op: "update", removed: true },
      ],
    };
    const calls: number[] = [];
    let seqNow = 10;
    const { transport, received } = setup({
      settings: { realtime: false },
      getSeq: () => seqNow,
      onMessage: (m) => {
        received.push(m);
        if (m.type === "resumed") seqNow = m.seq as number;
      },
      fetchChanges: async (since) => {
        calls.push(since);
        return calls.length === 1 ? response : null;
      },
    });
    transport.start();
    await tick(0);
    expect(received).toEqual([
      { type: "change", event_id: 12, seq: 12, entity_type: "token", entity_id: "t1", version: 2, op: "update", entity: token("t1", 2) },
      { type: "change", event_id: 14, seq: 14, entity_type: "token", entity_id: "t2", version: 3, op: "update", removed: true },
      { type: "resumed", seq: 14 },
    ]);
    await tick(5_000);
    expect(calls).toEqual([10, 14]);
  });

  it("backs off exponentially on errors, then returns to the interval", async () => {
    let failures = 3;
    const times: number[] = [];
    const { transport, statuses } = setup({
      settings: { realtime: false },
      random: () => 1,
      fetchChanges: async (since) => {
        times.push(Date.now());
        if (failures-- > 0) throw new ApiError(0, "network_error", "offline");
        return { seq: since, changes: [] };
      },
    });
    transport.start();
    await tick(0);
    expect(statuses.at(-1)).toBe("offline");
    await tick(200_000);
    const gaps = times.slice(1, 5).map((t, i) => t - (times[i] ?? 0));
    expect(gaps).toEqual([8_000, 16_000, 32_000, 5_000]);
    expect(statuses.at(-1)).toBe("polling");
  });

  it("answers 410 and `reload: true` with a reload message", async () => {
    const answers: (() => Promise<ChangesResponse | null>)[] = [
      async () => {
        throw new ApiError(410, "gone", "too old");
      },
      async () => ({ seq: 30, changes: [], reload: true }),
    ];
    const { transport, received } = setup({
      settings: { realtime: false },
      fetchChanges: async () => (answers.shift() ?? (async () => null))(),
    });
    transport.start();
    await tick(0);
    await tick(5_000);
    expect(received).toEqual([
      { type: "reload", seq: 10, reason: "gone" },
      { type: "reload", seq: 30, reason: "activate" },
    ]);
  });
});

describe("realtime switched off and on", () => {
  it("switches to polling at once on realtime_off, and the socket stays closed", async () => {
    const { transport, fetchChanges, received, statuses } = setup({ random: () => 0.5 });
    transport.start();
    await tick(0);
    const ws = FakeWebSocket.latest();
    ws.accept();
    ws.receive({ type: "realtime_off", poll_interval_ms: 6000 });
    await tick(0);
    expect(received).toEqual([
      { type: "realtime_off", poll_interval_ms: 6000 },
      { type: "resumed", seq: 10 },
    ]);
    expect(statuses.at(-1)).toBe("polling");
    expect(fetchChanges).toHaveBeenCalledTimes(1);
    await tick(5_999);
    expect(fetchChanges).toHaveBeenCalledTimes(1);
    await tick(1);
    expect(fetchChanges).toHaveBeenCalledTimes(2);
    await tick(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it("does not reconnect after close 4503 and polls instead", async () => {
    const { transport, fetchChanges } = setup();
    transport.start();
    await tick(0);
    FakeWebSocket.latest().accept();
    FakeWebSocket.latest().drop(4503, "realtime off");
    await tick(30_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(fetchChanges).toHaveBeenCalled();
  });

  it("does not reconnect after close 4401 (the login ended) and polls at once, so the 401 signs the app out", async () => {
    const fetchChanges = vi.fn<TransportDeps["fetchChanges"]>(async () => {
      throw new ApiError(401, "unauthorized", "signed out");
    });
    const { transport } = setup({ fetchChanges });
    transport.start();
    await tick(0);
    FakeWebSocket.latest().accept();
    expect(fetchChanges).not.toHaveBeenCalled();
    FakeWebSocket.latest().drop(4401, "login ended");
    await tick(0);
    expect(fetchChanges).toHaveBeenCalledTimes(1);
    await tick(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it("goes back to the socket when settings turn realtime on", async () => {
    const { transport, statuses } = setup({ settings: { realtime: false } });
    transport.start();
    await tick(0);
    expect(statuses.at(-1)).toBe("polling");
    transport.setSettings({ realtime: true });
    await tick(0);
    FakeWebSocket.latest().accept();
    expect(statuses.at(-1)).toBe("live");
  });
});

describe("heartbeat", () => {
  it("pings an open socket every interval and stays live while pongs come back", async () => {
    const { transport, statuses } = setup({ pingIntervalMs: 10_000 });
    transport.start();
    await tick(0);
    FakeWebSocket.latest().accept();
    await tick(60_000);
    expect(FakeWebSocket.latest().pings()).toBe(6);
    expect(transport.status()).toBe("live");
    expect(statuses).toEqual(["connecting", "live"]);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it("declares a silent socket dead after two unanswered pings: Offline, then a new socket", async () => {
    const { transport, statuses } = setup({ pingIntervalMs: 10_000, maxMissedPongs: 2 });
    transport.start();
    await tick(0);
    const silent = FakeWebSocket.latest();
    silent.answerPings = false;
    silent.accept();
    await tick(20_000);
    expect(silent.pings()).toBe(2);
    expect(transport.status()).toBe("live");
    await tick(10_000);
    expect(transport.status()).toBe("offline");
    expect(statuses.at(-1)).toBe("offline");
    await tick(1);
    expect(silent.readyState).toBe(FakeWebSocket.CLOSED);
    const fresh = FakeWebSocket.latest();
    expect(fresh).not.toBe(silent);
    fresh.accept();
    expect(transport.status()).toBe("live");
    expect(fresh.messages()).toEqual([{ type: "resume", since: 10 }]);
  });

  it("a pong (or any message) in time keeps a slow socket live", async () => {
    const { transport } = setup({ pingIntervalMs: 10_000, maxMissedPongs: 2 });
    transport.start();
    await tick(0);
    const ws = FakeWebSocket.latest();
    ws.answerPings = false;
    ws.accept();
    for (let i = 0; i < 6; i++) {
      await tick(10_000);
      if (i % 2 === 1) ws.pong();
      else ws.receive({ type: "presence", left: [] });
    }
    expect(transport.status()).toBe("live");
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it("says Offline at once on the browser's offline event and reconnects", async () => {
    const { transport } = setup();
    transport.start();
    await tick(0);
    const first = FakeWebSocket.latest();
    first.accept();
    transport.goOffline();
    expect(transport.status()).toBe("offline");
    await tick(1);
    expect(first.readyState).toBe(FakeWebSocket.CLOSED);
    FakeWebSocket.latest().accept();
    expect(transport.status()).toBe("live");
  });

  it("starts Offline, not Connecting, when the browser has no network", async () => {
    const fetchChanges = vi.fn<TransportDeps["fetchChanges"]>(async () => {
      throw new TypeError("Failed to fetch");
    });
    const { transport, statuses } = setup({ isOnline: () => false, socketFallbackMs: 10_000, fetchChanges });
    transport.start();
    expect(transport.status()).toBe("offline");
    await tick(10_000);
    expect(fetchChanges).toHaveBeenCalled();
    expect(statuses).toEqual(["offline"]);
  });

  it("sends no ping once stopped", async () => {
    const { transport } = setup({ pingIntervalMs: 10_000 });
    transport.start();
    await tick(0);
    const ws = FakeWebSocket.latest();
    ws.accept();
    transport.stop();
    await tick(30_000);
    expect(ws.pings()).toBe(0);
  });
});
