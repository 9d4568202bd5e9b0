/**
 * How changes reach the client: the session's WebSocket (partysocket's ReconnectingWebSocket), or
 * polling `GET {S}/changes?since` when the socket is off (`settings.realtime === false`) or has
 * been down for a while. Either way the handler receives the socket protocol's messages, in
 * order: a poll's rows arrive as `change` messages followed by `resumed`, a 410 or a `reload`
 * answer as `reload`.
 *
 * Reconnecting: every client that lost its socket in a deploy would otherwise come back at the
 * same instant. partysocket's own delay is a fixed exponential; the URL provider adds "full
 * jitter" (a random share of an exponential cap) before each retry, so reconnects spread out.
 * Every (re)open sends `{type: "resume", since}` with the last applied seq.
 *
 * The server can turn the channel off (`realtime_off`, then close code 4503): the transport
 * switches to polling at once and stays there until new settings turn realtime back on. Close
 * 4429 (too many messages) makes the next reconnect wait longer.
 *
 * Honest status: an open socket can go silent without closing (a dead network path, a laptop
 * lid). While open, the client sends the text `ping` every ~10 s, answered `pong` by the runtime
 * without waking the session object (its WebSocket auto-response); after two pings without an
 * answer (or any message) the socket is declared dead: the status turns `offline` and it
 * reconnects. The browser's `offline` event (`goOffline`) does the same at once, and a transport
 * started while the browser says it has no network starts `offline`, not `connecting`.
 *
 * Writes: `sendOps` sends a batch as an `ops` message on the open socket and resolves with the
 * server's `result` (rejects with an ApiError built from its `error` frame, as `POST {S}/batch`
 * would have answered). Without an open socket, or for a batch too big for one message, it
 * returns null: the caller sends it over REST. A socket that closes (or is declared dead) with a
 * batch in flight rejects it with `SocketWriteLost`: op ids make sending it again over REST safe.
 */
import ReconnectingWebSocket from "partysocket/ws";
import { PING, PONG, type ServerMessage } from "../../../domain/protocol";
import type { ApiErrorCode } from "./api";
import { ApiError } from "./api";
import type { BatchOp, BatchResponse, ChangeRow, ChangesResponse } from "./types";

/** A batch sent on the socket got no answer before the socket went away: send it again (REST). */
export class SocketWriteLost extends Error {
  override readonly name = "SocketWriteLost";
}

/** An `ops` message larger than this goes over REST (the server closes sockets on messages over 64 KiB). */
export const MAX_SOCKET_OPS_BYTES = 60 * 1024;

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const defaultTimers: Timers = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};

/** Full jitter: uniformly random in [0, min(cap, base·2^attempt)), never below `base / 4`. */
export function backoffDelay(attempt: number, random: () => number, baseMs: number, capMs: number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.max(baseMs / 4, Math.floor(random() * ceiling));
}

/** The polling interval: the session's setting (default 4 s) ±25%, so 3–5 s by default. */
export function pollDelay(intervalMs: number, random: () => number): number {
  return Math.round(intervalMs * (0.75 + 0.5 * random()));
}

/** Messages the transport hands on: the socket protocol, and any message type added later. */
export type InboundMessage = ServerMessage | { type: string; [field: string]: unknown };

export type TransportStatus = "connecting" | "live" | "reconnecting" | "polling" | "offline" | "stopped";

export interface TransportSettings {
  realtime?: boolean | undefined;
  poll_interval_ms?: number | undefined;
}

/** The constructor partysocket calls: the browser's WebSocket or a test double. */
export type WebSocketClass = new (url: string, protocols?: string | string[]) => WebSocket;

export interface TransportDeps {
  url: string | (() => string);
  WebSocket?: WebSocketClass;
  /** `GET {S}/changes?since=` with `If-None-Match`; null on 304. */
  fetchChanges(since: number, ifNoneMatchSeq: number): Promise<ChangesResponse | null>;
  /** The last seq the store applied. */
  getSeq(): number;
  /** Called for each message in order; polling waits for it before asking again. */
  onMessage(message: InboundMessage): void | Promise<void>;
  onStatus?(status: TransportStatus): void;
  settings?: TransportSettings;
  timers?: Timers;
  random?: () => number;
  /** Polling starts when the socket has been down (or never opened) this long. */
  socketFallbackMs?: number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  pollMaxBackoffMs?: number;
  /** How often an open socket is pinged. */
  pingIntervalMs?: number;
  /** Pings in a row without an answer after which the socket is declared dead. */
  maxMissedPongs?: number;
  /** Whether the browser believes it has a network (`navigator.onLine`). */
  isOnline?: () => boolean;
}

export interface Transport {
  start(): void;
  stop(): void;
  status(): TransportStatus;
  /** New settings (from a reloaded `state`): realtime on or off, poll interval. */
  setSettings(settings: TransportSettings): void;
  /** Sends a client message (`ack`) if the socket is open; false otherwise. */
  send(message: { type: string; [field: string]: unknown }): boolean;
  /** Sends a batch on the open socket (see above); null when it must go over REST. */
  sendOps(ops: BatchOp[]): Promise<BatchResponse> | null;
  /** Connectivity is back (`online` event): reconnect and poll now instead of after the backoff. */
  wake(): void;
  /** The browser lost its network (`offline` event): the socket is dead, say so and reconnect when it can. */
  goOffline(): void;
}

export const DEFAULT_POLL_INTERVAL_MS = 4000;
export const DEFAULT_PING_INTERVAL_MS = 10_000;
export const DEFAULT_MAX_MISSED_PONGS = 2;

function browserOnline(): boolean {
  return typeof navigator === "undefined" || navigator.onLine !== false;
}

/** Close codes of `domain/protocol.ts` the transport acts on. */
const CLOSE_REALTIME_OFF = 4503;
const CLOSE_RATE_LIMITED = 4429;
const CLOSE_CREDENTIAL_ENDED = 4401;

export function createTransport(deps: TransportDeps): Transport {
  const timers = deps.timers ?? defaultTimers;
  const random = deps.random ?? Math.random;
  const fallbackMs = deps.socketFallbackMs ?? 10_000;
  const reconnectBaseMs = deps.reconnectBaseMs ?? 1000;
  const reconnectMaxMs = deps.reconnectMaxMs ?? 30_000;
  const pollMaxBackoffMs = deps.pollMaxBackoffMs ?? 60_000;
  const pingIntervalMs = deps.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
  const maxMissedPongs = deps.maxMissedPongs ?? DEFAULT_MAX_MISSED_PONGS;
  const isOnline = deps.isOnline ?? browserOnline;
  let settings: TransportSettings = deps.settings ?? {};

  let status: TransportStatus = "stopped";
  let socket: ReconnectingWebSocket | null = null;
  let socketOpen = false;
  let fallbackTimer: unknown = null;
  let polling = false;
  let pollTimer: unknown = null;
  let pollFailures = 0;
  /** Bumped on every start/stop/mode switch: callbacks of an older generation do nothing. */
  let generation = 0;
  /** After a 4429 close: the next reconnect waits at least this long. */
  let penaltyMs = 0;
  let heartbeatTimer: unknown = null;
  /** Pings sent since the socket was last heard from. */
  let unanswered = 0;
  /** Batches sent on the socket awaiting their answer, by request id. */
  const inFlight = new Map<string, { resolve(response: BatchResponse): void; reject(error: unknown): void }>();
  let requestCounter = 0;

  /** The socket went away: every batch on it is answered by a retry over REST. */
  function loseWrites() {
    const waiting = [...inFlight.values()];
    inFlight.clear();
    for (const w of waiting) w.reject(new SocketWriteLost("the socket closed before the write was answered"));
  }

  /** An answer to an `ops` message: settles its batch. True when the message was one. */
  function settleWrite(message: InboundMessage): boolean {
    if (message.type !== "result" && message.type !== "error") return false;
    const id = (message as { id?: unknown }).id;
    if (typeof id !== "string") return false;
    const waiting = inFlight.get(id);
    if (!waiting) return message.type === "result";
    inFlight.delete(id);
    if (message.type === "result") {
      const { seq, results } = message as unknown as BatchResponse;
      waiting.resolve({ seq, results });
    } else {
      const e = message as { code?: unknown; message?: unknown; status?: unknown; details?: unknown };
      const status = typeof e.status === "number" ? e.status : 500;
      const details = typeof e.details === "object" && e.details !== null ? (e.details as Record<string, unknown>) : undefined;
      const retry = details?.retry_after_ms;
      waiting.reject(
        new ApiError(
          status,
          (typeof e.code === "string" ? e.code : "internal") as ApiErrorCode,
          typeof e.message === "string" ? e.message : "the write failed",
          details,
          typeof retry === "number" ? retry : undefined,
        ),
      );
    }
    return true;
  }

  const realtime = () => settings.realtime !== false;
  const interval = () => {
    const ms = settings.poll_interval_ms;
    return typeof ms === "number" && Number.isFinite(ms) && ms >= 1000 ? ms : DEFAULT_POLL_INTERVAL_MS;
  };

  function setStatus(next: TransportStatus) {
    if (next === status) return;
    status = next;
    deps.onStatus?.(next);
  }

  function clear(handle: unknown) {
    if (handle !== null) timers.clearTimeout(handle);
  }

  // --- the socket ---------------------------------------------------------------------------

  function openSocket() {
    const gen = generation;
    const url = deps.url;
    const ws: ReconnectingWebSocket = new ReconnectingWebSocket(
      async () => {
        // partysocket counts attempts since the last stable open; 0 is the first connect.
        const attempt = ws.retryCount;
        const delay = attempt > 0 ? backoffDelay(attempt - 1, random, reconnectBaseMs, reconnectMaxMs) : 0;
        const wait = Math.max(delay, penaltyMs);
        penaltyMs = 0;
        if (wait > 0) await sleep(wait);
        return typeof url === "function" ? url() : url;
      },
      null,
      {
        ...(deps.WebSocket ? { WebSocket: deps.WebSocket } : {}),
        // The delay is ours (jittered, in the URL provider); partysocket's would be the same for everyone.
        minReconnectionDelay: 0,
        maxReconnectionDelay: 0,
        // A message sent while closed is not worth replaying: `resume` on open covers everything.
        maxEnqueuedMessages: 0,
        // 4401: the login or token that opened the socket ended; reconnecting with it cannot work.
        shouldReconnectOnClose: (event) => event.code !== CLOSE_REALTIME_OFF && event.code !== CLOSE_CREDENTIAL_ENDED,
      },
    );
    ws.addEventListener("open", () => {
      if (gen !== generation) return;
      socketOpen = true;
      clear(fallbackTimer);
      fallbackTimer = null;
      stopPolling();
      ws.send(JSON.stringify({ type: "resume", since: deps.getSeq() }));
      setStatus("live");
      startHeartbeat(ws);
    });
    ws.addEventListener("message", (event: MessageEvent) => {
      if (gen !== generation) return;
      // Anything from the server proves the socket alive, a pong or a message.
      unanswered = 0;
      if (event.data === PONG) return;
      const message = parseMessage(event.data);
      if (!message) return;
      if (settleWrite(message)) return;
      void Promise.resolve(deps.onMessage(message)).catch(() => undefined);
      if (message.type === "realtime_off") turnRealtimeOff(message.poll_interval_ms);
    });
    ws.addEventListener("close", (event: CloseEvent) => {
      if (socket === ws) loseWrites();
      if (gen !== generation) return;
      if (event.code === CLOSE_REALTIME_OFF) {
        turnRealtimeOff(undefined);
        return;
      }
      if (event.code === CLOSE_RATE_LIMITED) penaltyMs = Math.max(penaltyMs, reconnectMaxMs / 2);
      const wasOpen = socketOpen;
      socketOpen = false;
      stopHeartbeat();
      if (event.code === CLOSE_CREDENTIAL_ENDED) {
        // Poll at once: its 401 reaches the app's sign-out path (api.ts) like any other request's.
        clear(fallbackTimer);
        fallbackTimer = null;
        startPolling();
        return;
      }
      if (wasOpen) {
        setStatus("reconnecting");
        armFallback();
      }
    });
    socket = ws;
    setStatus(isOnline() ? "connecting" : "offline");
    armFallback();
  }

  // --- the heartbeat ------------------------------------------------------------------------

  function startHeartbeat(ws: ReconnectingWebSocket) {
    stopHeartbeat();
    const gen = generation;
    const beat = () => {
      heartbeatTimer = null;
      if (gen !== generation || socket !== ws || !socketOpen) return;
      if (unanswered >= maxMissedPongs) {
        declareDead();
        return;
      }
      unanswered += 1;
      try {
        ws.send(PING);
      } catch {
        // A socket that cannot even send is dead: the next beat says so.
      }
      heartbeatTimer = timers.setTimeout(beat, pingIntervalMs);
    };
    heartbeatTimer = timers.setTimeout(beat, pingIntervalMs);
  }

  function stopHeartbeat() {
    clear(heartbeatTimer);
    heartbeatTimer = null;
    unanswered = 0;
  }

  /** The open socket no longer carries anything: offline until a socket opens again (or polling answers). */
  function declareDead() {
    if (!socket) return;
    const ws = socket;
    socketOpen = false;
    stopHeartbeat();
    loseWrites();
    setStatus("offline");
    armFallback();
    // A fresh connection; the old one's close event changes nothing (socketOpen is already false).
    ws.reconnect(4000, "heartbeat timeout");
  }

  function armFallback() {
    if (fallbackTimer !== null || polling) return;
    const gen = generation;
    fallbackTimer = timers.setTimeout(() => {
      fallbackTimer = null;
      if (gen !== generation || socketOpen) return;
      startPolling();
    }, fallbackMs);
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => timers.setTimeout(resolve, ms));
  }

  // --- polling ------------------------------------------------------------------------------

  function startPolling() {
    if (polling) return;
    polling = true;
    pollFailures = 0;
    setStatus(isOnline() ? "polling" : "offline");
    void poll(generation);
  }

  function stopPolling() {
    polling = false;
    clear(pollTimer);
    pollTimer = null;
  }

  function schedulePoll(ms: number) {
    clear(pollTimer);
    const gen = generation;
    pollTimer = timers.setTimeout(() => {
      pollTimer = null;
      if (gen === generation && polling) void poll(gen);
    }, ms);
  }

  async function poll(gen: number) {
    const since = deps.getSeq();
    const current = () => gen === generation && polling;
    let next = pollDelay(interval(), random);
    try {
      const response = await deps.fetchChanges(since, since);
      if (!current()) return;
      if (response) await deliver(response);
      pollFailures = 0;
      setStatus("polling");
    } catch (error) {
      if (!current()) return;
      if (error instanceof ApiError && error.status === 410) {
        await Promise.resolve(deps.onMessage({ type: "reload", seq: since, reason: "gone" })).catch(() => undefined);
      } else {
        setStatus("offline");
        next = Math.max(error instanceof ApiError ? (error.retryAfterMs ?? 0) : 0, pollBackoff(pollFailures));
        pollFailures += 1;
      }
    }
    if (current()) schedulePoll(next);
  }

  /** After the n-th failure in a row: the interval doubled n+1 times, capped, jittered. */
  function pollBackoff(failures: number): number {
    const ceiling = Math.min(pollMaxBackoffMs, interval() * 2 ** Math.min(failures + 1, 30));
    return Math.round(ceiling * (0.5 + 0.5 * random()));
  }

  async function deliver(response: ChangesResponse) {
    if (response.reload) {
      await deps.onMessage({ type: "reload", seq: response.seq, reason: "activate" });
      return;
    }
    for (const row of response.changes) await deps.onMessage(changeMessage(row));
    await deps.onMessage({ type: "resumed", seq: response.seq });
  }

  /** The server turned the channel off: poll from now on (until settings say otherwise). */
  function turnRealtimeOff(pollIntervalMs: unknown) {
    settings = {
      ...settings,
      realtime: false,
      ...(typeof pollIntervalMs === "number" ? { poll_interval_ms: pollIntervalMs } : {}),
    };
    start();
  }

  // --- lifecycle ----------------------------------------------------------------------------

  function start() {
    teardown();
    if (realtime()) openSocket();
    else startPolling();
  }

  function stop() {
    teardown();
    setStatus("stopped");
  }

  function teardown() {
    generation += 1;
    clear(fallbackTimer);
    fallbackTimer = null;
    stopPolling();
    stopHeartbeat();
    socketOpen = false;
    loseWrites();
    if (socket) {
      socket.close(1000, "done");
      socket = null;
    }
  }

  return {
    start,
    stop,
    status: () => status,
    setSettings(next) {
      const wasRealtime = realtime();
      settings = next;
      if (status !== "stopped" && wasRealtime !== realtime()) start();
    },
    send(message) {
      if (!socket || !socketOpen) return false;
      return socket.send(JSON.stringify(message));
    },
    sendOps(ops) {
      if (!socket || !socketOpen) return null;
      requestCounter += 1;
      const id = `w${requestCounter}`;
      const text = JSON.stringify({ type: "ops", id, ops });
      if (text.length > MAX_SOCKET_OPS_BYTES) return null;
      const ws = socket;
      return new Promise<BatchResponse>((resolve, reject) => {
        inFlight.set(id, { resolve, reject });
        try {
          ws.send(text);
        } catch {
          inFlight.delete(id);
          reject(new SocketWriteLost("the socket could not send"));
        }
      });
    },
    wake() {
      if (status === "stopped") return;
      if (socket && !socketOpen) socket.reconnect();
      if (polling) {
        pollFailures = 0;
        schedulePoll(0);
      }
    },
    goOffline() {
      if (status === "stopped") return;
      if (socket && socketOpen) {
        declareDead();
        return;
      }
      setStatus("offline");
    },
  };
}

/** A poll row as the `change` message the socket would have sent. */
export function changeMessage(row: ChangeRow): InboundMessage {
  return {
    type: "change",
    event_id: row.seq,
    seq: row.seq,
    entity_type: row.entity_type,
    entity_id: row.entity_id,
    version: row.version,
    op: row.op,
    ...(row.entity ? { entity: row.entity } : {}),
    ...(row.removed ? { removed: true as const } : {}),
    ...(row.related ? { related: row.related } : {}),
  } as InboundMessage;
}

function parseMessage(data: unknown): InboundMessage | null {
  if (typeof data !== "string") return null;
  try {
    const value: unknown = JSON.parse(data);
    if (typeof value === "object" && value !== null && typeof (value as { type?: unknown }).type === "string") {
      return value as InboundMessage;
    }
  } catch {
    // Not JSON: not ours.
  }
  return null;
}
