/**
 * The socket hub of a session: the hibernating WebSockets and everything said over them.
 *
 * - Upgrades are accepted (and greeted with `hello` and `presence`) inside the write queue, so no
 *   change can overtake a socket's hello. Each socket's identity lives in its tags (`user:`,
 *   `role:`, `client:`, `patch:`) and its attachment, so it survives the object being evicted.
 * - Client messages are dispatched here: `ops` through the object's `applyOps`, `resume`, `ack`,
 *   `preview` (preview-relay.ts), `capabilities`, each within the socket's message bucket.
 * - Fan-out: committed changes go to every socket allowed to see them (`broadcast`), each change
 *   serialized once per role (broadcast.ts); presence joins are announced together
 *   (presence-joins.ts).
 * - Resume: a replay of what a socket missed, with the live changes held meanwhile (`#holds`): D1's
 *   rows up to the seq D1 holds, then the log's changes after it as the sockets were sent them
 *   (log-reads.ts), so a resume never waits for D1 to catch up with the log.
 */
import { and, eq, inArray, isNull, lt } from "drizzle-orm";
import { errorBody } from "../../domain/errors";
import type { JsonObject } from "../../domain/merge-patch";
import type { Actor, Role } from "../../domain/permissions";
import type { Change, InternalOp } from "../../domain/plan";
import {
  CLOSE_CODES,
  type ClientMessage,
  clientMessageSchema,
  MAX_CLIENT_MESSAGE_BYTES,
  type PresenceClient,
  type ServerMessage,
} from "../../domain/protocol";
import { type Bucket, SOCKET_MESSAGE_LIMIT, take } from "../../domain/rate-limit";
import type { SessionSettings } from "../../domain/settings";
import { chunk, type Db, nowIso } from "../db/client";
import { changesSince, type Delta, readerFilter, writeResultFor } from "../db/reads";
import { sessionClients } from "../db/schema";
import { type Device, parseDevice, withoutUserAgent } from "../lib/device";
import { logError } from "../lib/log";
import type { SaveOutcome, SaveRoute } from "../metrics/recorder";
import type { SaveAggregate } from "../metrics/save-aggregate";
import { type EncodedChange, encodeChange, encodeChangeRow, encodePatched } from "./broadcast";
import { type CredentialFilter, isExpired, matchesCredential, type SocketCredential } from "./credential-sockets";
import { type Audience, type LogRows, SentChanges } from "./log-reads";
import { ACK_FLUSH_MS, type PendingRecords } from "./pending";
import { PresenceJoins } from "./presence-joins";
import type { PreviewRelay } from "./preview-relay";
import { socketsPerUser, tooManySockets } from "./socket-limits";
import { isOpsMessage, type OpsMessage, opsError, parseOpsMessage, recordSocketWrite } from "./socket-writes";
import { D1Behind } from "./write-backlog";
import type { WriteBehind } from "./write-behind";
import type { WriteResult } from "./write-queue";

export interface ClientRecord {
  client_id: string;
  user_id: string;
  role: Role;
  connected_at: string;
  last_seen: string;
  capabilities: JsonObject;
  /** Browser and OS by name, parsed from the user agent of the upgrade request. */
  device: Device;
}

export interface SocketAttachment extends SocketCredential {
  sessionId: string;
  clientId: string;
  userId: string;
  role: Role;
  connectedAt: string;
  capabilities: JsonObject;
  /** Parsed once at connect from the request (a `capabilities` message cannot change it). */
  device?: Device;
  /** Set when the object closed the socket itself: its departure is already recorded. */
  closing?: true;
  /** Opened with `?patch=1`: updates arrive as merge patches (tag `patch:<role>` too). */
  patch?: true;
}

/** Headers the worker sets on the upgrade request it forwards (never taken from the client). */
export const IDENTITY_HEADERS = {
  user: "x-vtt-user",
  role: "x-vtt-role",
  session: "x-vtt-session",
  /** The login's or API token's id, and when it expires (ms since the epoch; absent: never). */
  credential: "x-vtt-credential",
  credentialExpires: "x-vtt-credential-expires",
} as const;

/** How often a busy client's last_seen is written (buffered) at most. */
const SEEN_RESOLUTION_MS = 5000;
/** Message-bucket tokens a resume costs: it reads D1, an ack or a preview does not. */
const RESUME_COST = 10;
/** Live changes held for one resuming socket before it is told to reload instead. */
export const RESUME_HOLD_MAX = 1000;
/** Capabilities as JSON may not grow past this (they live in the socket's attachment, max 2 KiB). */
const CAPABILITIES_MAX_BYTES = 1024;
/** A session_clients row without a live socket is repaired only once it is this old (it may be connecting). */
const STALE_CLIENT_MS = 60_000;
/** Close codes a peer may send that cannot be sent back. */
const RESERVED_CLOSE_CODES = new Set([1005, 1006, 1015]);

/** A change sent to a socket, held while its resume replays. */
interface HeldChange {
  seq: number;
  text: string;
}

function presenceOf(att: SocketAttachment): PresenceClient {
  return { client_id: att.clientId, user_id: att.userId, role: att.role, connected_at: att.connectedAt };
}

/** What the hub needs of the object. */
export interface SocketHubHost {
  /** Binds the object to the session and makes sure it knows the session's shard. */
  enter(sessionId: string): Promise<void>;
  /** The session's shard (worker/db/shards.ts). */
  db(): Db;
  loadSettings(sessionId: string): Promise<SessionSettings>;
  currentSeq(sessionId: string): Promise<number>;
  /** The last seq this object knows, if it knows one. */
  seq(): number | undefined;
  activeScene(sessionId: string): Promise<string | null>;
  serial<T>(work: () => Promise<T>): Promise<T>;
  scheduleAlarm(at: number): Promise<void>;
  /** A GM's activity: the locks they hold start their TTL again (scene-locks.ts). */
  touchLocks(sessionId: string, userId: string, now: number): Promise<void>;
  applyOps(sessionId: string, actor: Actor, ops: InternalOp[]): Promise<WriteResult>;
  countSave(ms: number, outcome: SaveOutcome, route: SaveRoute): void;
  flushSaveMetrics(): Promise<void>;
  writeLog: WriteBehind;
  saveMetrics: SaveAggregate;
  pending: PendingRecords;
  previews: PreviewRelay;
}

export class SocketHub {
  readonly #ctx: DurableObjectState;
  readonly #env: Env;
  readonly #host: SocketHubHost;
  #presence: Map<string, PresenceClient> | undefined;
  readonly #socketBuckets = new Map<string, Bucket | undefined>();
  readonly #lastSeenWrite = new Map<string, number>();
  /** Joins announced together (presence-joins.ts). */
  readonly #joins = new PresenceJoins(
    (text, except) => {
      for (const ws of this.#ctx.getWebSockets()) if (!except.has(ws)) this.sendRaw(ws, text);
    },
    (ws, text) => this.sendRaw(ws, text),
  );
  /**
   * Live changes held for sockets whose `resume` is replaying (in memory: a replay only runs
   * while the object is awake). Sent after the replay, in seq order (see `#resume`).
   */
  readonly #holds = new Map<WebSocket, HeldChange[]>();
  /**
   * What the sockets were sent of the changes still in the log, as each audience got them (plain,
   * never patches), kept in the object's SQLite: reads of seqs D1 does not hold yet are answered
   * from it (log-reads.ts).
   */
  readonly #sent: SentChanges;
  /** Changes held per resuming socket past which it gets `reload` instead (tests lower it). */
  resumeHoldMax = RESUME_HOLD_MAX;
  /** The replay's read of D1 (tests slow it down to write meanwhile). */
  readD1: typeof changesSince = changesSince;

  constructor(ctx: DurableObjectState, env: Env, host: SocketHubHost) {
    this.#ctx = ctx;
    this.#env = env;
    this.#host = host;
    this.#sent = new SentChanges(ctx.storage.sql, host.writeLog);
  }

  /**
   * D1 holds everything up to `seq`: the texts kept for reads past D1 up to it go. With the
   * commit's bookmark, every socket is told (`landed`): its next read sent with the bookmark sees
   * what it was streamed up to `seq` (the stream runs ahead of D1 under write-behind).
   */
  landed(seq: number, bookmark?: string): void {
    this.#sent.landed(seq);
    if (bookmark) this.sendToAll({ type: "landed", seq, bookmark });
  }

  /** What the sockets were sent no longer holds (the log dropped or renumbered): held changes and kept texts go. */
  forgetSent(): void {
    this.#holds.clear();
    this.#sent.forget(this.#host.writeLog.lastSeq);
  }

  /** What the log holds after `since` that D1 may not, as change rows for `audience` (`GET changes?since=`). */
  readLog(since: number, audience: Audience): LogRows {
    return this.#sent.rows(since, audience, this.#host.writeLog);
  }

  // ---- clients -----------------------------------------------------------------------------------

  /**
   * The connected clients: the live sockets are the truth, D1 and the buffer add last_seen.
   * Rows D1 still shows as connected without a live socket (the object was restarted before it
   * could record their close) are marked disconnected.
   */
  async listClients(sessionId: string): Promise<ClientRecord[]> {
    await this.#host.enter(sessionId);
    const db = this.#host.db();
    const live = new Map<string, { att: SocketAttachment; ws: WebSocket }>();
    for (const ws of this.#ctx.getWebSockets()) {
      const att = this.#attachment(ws);
      if (att && !att.closing) live.set(att.clientId, { att, ws });
    }
    const stored = new Map<string, string>();
    for (const part of chunk([...live.keys()], 90)) {
      const rows = await db
        .select({ client_id: sessionClients.client_id, last_seen: sessionClients.last_seen })
        .from(sessionClients)
        .where(and(eq(sessionClients.session_id, sessionId), inArray(sessionClients.client_id, part)));
      for (const r of rows) stored.set(r.client_id, r.last_seen);
    }
    const now = Date.now();
    const open = await db
      .select({ client_id: sessionClients.client_id })
      .from(sessionClients)
      .where(
        and(
          eq(sessionClients.session_id, sessionId),
          isNull(sessionClients.disconnected_at),
          lt(sessionClients.connected_at, new Date(now - STALE_CLIENT_MS).toISOString()),
        ),
      );
    const stale = open.map((r) => r.client_id).filter((id) => !live.has(id));
    for (const part of chunk(stale, 90)) {
      await db
        .update(sessionClients)
        .set({ disconnected_at: new Date(now).toISOString() })
        .where(and(eq(sessionClients.session_id, sessionId), inArray(sessionClients.client_id, part)));
    }
    const clients: ClientRecord[] = [];
    for (const { att, ws } of live.values()) {
      const pinged = this.#ctx.getWebSocketAutoResponseTimestamp(ws)?.toISOString();
      const seen = [att.connectedAt, stored.get(att.clientId), this.#host.pending.seen(att.clientId)?.last_seen, pinged];
      const lastSeen =
        seen
          .filter((s): s is string => typeof s === "string")
          .sort()
          .at(-1) ?? att.connectedAt;
      const device = att.device ?? parseDevice(typeof att.capabilities.user_agent === "string" ? att.capabilities.user_agent : null);
      clients.push({ ...presenceOf(att), last_seen: lastSeen, capabilities: withoutUserAgent(att.capabilities), device });
    }
    return clients.sort((a, b) => a.connected_at.localeCompare(b.connected_at) || a.client_id.localeCompare(b.client_id));
  }

  // ---- sockets -----------------------------------------------------------------------------------

  async fetch(request: Request): Promise<Response> {
    // Joins of upgrades in flight together are announced together (presence-joins.ts).
    this.#joins.begin();
    try {
      return await this.upgrade(request);
    } finally {
      this.#joins.end();
    }
  }

  async upgrade(request: Request): Promise<Response> {
    const userId = request.headers.get(IDENTITY_HEADERS.user);
    const role = request.headers.get(IDENTITY_HEADERS.role);
    const sessionId = request.headers.get(IDENTITY_HEADERS.session);
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !userId || !sessionId || (role !== "gm" && role !== "player")) {
      return new Response("expected a websocket upgrade from the worker", { status: 400 });
    }
    await this.#host.enter(sessionId);
    if (!(await this.#host.loadSettings(sessionId)).realtime) return this.#realtimeOff(sessionId);
    const cap = socketsPerUser(this.#env);
    if (this.#openSockets(userId) >= cap) return tooManySockets(cap);
    const credentialId = request.headers.get(IDENTITY_HEADERS.credential) ?? undefined;
    const expires = Number(request.headers.get(IDENTITY_HEADERS.credentialExpires) ?? Number.NaN);

    const userAgent = request.headers.get("user-agent")?.slice(0, 200);
    const attachment: SocketAttachment = {
      sessionId,
      clientId: crypto.randomUUID(),
      userId,
      role,
      connectedAt: nowIso(),
      capabilities: {},
      ...(credentialId ? { credentialId } : {}),
      ...(Number.isFinite(expires) ? { credentialExpiresAt: expires } : {}),
      device: parseDevice(userAgent),
      ...(new URL(request.url).searchParams.get("patch") === "1" ? { patch: true as const } : {}),
    };
    const db = this.#host.db();
    await db.insert(sessionClients).values({
      client_id: attachment.clientId,
      session_id: sessionId,
      user_id: userId,
      role,
      connected_at: attachment.connectedAt,
      last_seen: attachment.connectedAt,
      capabilities: attachment.capabilities,
    });
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    // Accepted and greeted inside the queue: no change committed meanwhile can reach the socket
    // before its hello, and none is missed between the hello's seq and the first broadcast.
    const accepted = await this.#host.serial(async () => {
      const settings = await this.#host.loadSettings(sessionId);
      if (!settings.realtime) return "off";
      // Again inside the queue: upgrades racing each other past the first check are counted here.
      if (this.#openSockets(userId) >= cap) return "full";
      const [seq, activeSceneId] = [await this.#host.currentSeq(sessionId), await this.#host.activeScene(sessionId)];
      const tags = [`user:${userId}`, `role:${role}`, `client:${attachment.clientId}`];
      this.#ctx.acceptWebSocket(server, attachment.patch ? [...tags, `patch:${role}`] : tags);
      server.serializeAttachment(attachment);
      const presence = this.#presenceMap();
      presence.set(attachment.clientId, presenceOf(attachment));
      this.send(server, { type: "hello", seq, role, client_id: attachment.clientId, user_id: userId, active_scene_id: activeSceneId });
      this.send(server, { type: "presence", clients: [...presence.values()] });
      // Everyone else hears of it with the other joins of the moment, in one message.
      this.#joins.add(presenceOf(attachment), server);
      return "accepted";
    });
    if (accepted !== "accepted") {
      await this.#recordDisconnect(attachment.clientId);
      return accepted === "full" ? tooManySockets(cap) : this.#realtimeOff(sessionId);
    }
    if (attachment.credentialExpiresAt !== undefined) await this.#host.scheduleAlarm(attachment.credentialExpiresAt);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** The sockets `userId` has open here (those being closed not counted). */
  #openSockets(userId: string): number {
    let open = 0;
    for (const ws of this.#ctx.getWebSockets(`user:${userId}`)) if (!this.#attachment(ws)?.closing) open += 1;
    return open;
  }

  /**
   * Closes the sockets of `userId` opened with the credentials the filter names (a logout, a
   * revoked token, a password change: credential-sockets.ts). Returns how many were closed.
   */
  async closeCredentialSockets(sessionId: string, userId: string, filter: CredentialFilter, reason: string): Promise<number> {
    await this.#host.enter(sessionId);
    let closed = 0;
    for (const ws of this.#ctx.getWebSockets(`user:${userId}`)) {
      const att = this.#attachment(ws);
      if (!att || att.closing || !matchesCredential(att, filter)) continue;
      await this.drop(ws, CLOSE_CODES.credential_ended, reason.slice(0, 100));
      closed += 1;
    }
    return closed;
  }

  /** Closes sockets whose credential has expired; returns when the next one expires. */
  async closeExpired(now: number): Promise<number | undefined> {
    let next: number | undefined;
    for (const ws of this.#ctx.getWebSockets()) {
      const att = this.#attachment(ws);
      if (!att || att.closing || att.credentialExpiresAt === undefined) continue;
      if (isExpired(att, now)) await this.drop(ws, CLOSE_CODES.credential_ended, "the login expired");
      else next = Math.min(next ?? att.credentialExpiresAt, att.credentialExpiresAt);
    }
    return next;
  }

  async #realtimeOff(sessionId: string): Promise<Response> {
    const settings = await this.#host.loadSettings(sessionId);
    const body = errorBody({
      code: "conflict",
      message: "real time is off for this session: poll GET changes?since instead",
      details: { reason: "realtime_off", realtime: false, poll_interval_ms: settings.poll_interval_ms },
    });
    return Response.json(body, { status: 409 });
  }

  async message(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    try {
      const att = this.#attachment(ws);
      if (!att || att.closing) return;
      if (typeof raw !== "string") {
        // A protocol violation (the protocol is JSON text): closed, as the house style has it, with 1008.
        await this.drop(ws, 1008, "messages are JSON text frames");
        return;
      }
      if (raw.length > MAX_CLIENT_MESSAGE_BYTES) {
        await this.drop(ws, 1009, "message too big");
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = undefined;
      }
      if (isOpsMessage(parsed)) {
        if (!(await this.#allowSocketMessage(ws, att, 1))) return;
        await this.#writeOps(ws, att, parseOpsMessage(raw, parsed));
        await this.#noteActivity(att, "ops");
        return;
      }
      const message = clientMessageSchema.safeParse(parsed);
      const cost = message.success && message.data.type === "resume" ? RESUME_COST : 1;
      if (!(await this.#allowSocketMessage(ws, att, cost))) return;
      if (!message.success) {
        this.send(ws, {
          type: "error",
          code: "bad_request",
          message: parsed === undefined ? "messages are JSON" : "unknown or invalid message",
        });
        return;
      }
      await this.#handle(ws, att, message.data);
      await this.#noteActivity(att, message.data.type);
    } catch (error) {
      logError("socket message failed", error);
      this.send(ws, { type: "error", code: "internal", message: "the message could not be handled" });
    }
  }

  /** Takes from the socket's message bucket; a flooding socket is closed (4429). */
  async #allowSocketMessage(ws: WebSocket, att: SocketAttachment, cost: number): Promise<boolean> {
    if (this.#allowMessage(att.clientId, cost)) return true;
    await this.drop(ws, CLOSE_CODES.rate_limited, "too many messages: slow down", {
      type: "error",
      code: "rate_limited",
      message: `at most ${SOCKET_MESSAGE_LIMIT.per_second} messages a second`,
    });
    return false;
  }

  /**
   * An `ops` message: the batch of `POST {S}/batch`, as the user and role the socket was opened
   * with (its attachment: no cookie, no D1 lookup of the login), through the same write queue.
   * Answered with `result` (the results filtered for the caller, as the route filters them) or
   * an `error` frame naming the request.
   */
  async #writeOps(ws: WebSocket, att: SocketAttachment, message: OpsMessage): Promise<void> {
    if (!message.ok) {
      this.send(ws, opsError(message.id, message.failure));
      return;
    }
    const { id, ops } = message;
    const actor: Actor = { userId: att.userId, role: att.role };
    let result: WriteResult;
    const start = performance.now();
    try {
      result = await this.#host.applyOps(att.sessionId, actor, ops);
    } catch (error) {
      recordSocketWrite(this.#env, att, ops, undefined, performance.now() - start, (ms, outcome) =>
        this.#host.countSave(ms, outcome, "batch"),
      );
      logError("a socket write failed", error);
      this.send(ws, opsError(id, { code: "internal", message: "the write could not be applied" }));
      return;
    }
    recordSocketWrite(this.#env, att, ops, result, performance.now() - start, (ms, outcome) => this.#host.countSave(ms, outcome, "batch"));
    if (!result.ok) {
      this.send(ws, opsError(id, result));
    } else {
      const keep = await readerFilter(this.#host.db(), att.sessionId, att.role, att.userId);
      const results = result.results.map((r, i) => {
        const type = ops[i]?.entity_type;
        return { op_id: r.op_id, entity: type ? writeResultFor(keep, type, r.entity) : r.entity };
      });
      this.send(ws, { type: "result", ...(id === undefined ? {} : { id }), seq: result.seq, results });
    }
  }

  #allowMessage(clientId: string, cost: number): boolean {
    const result = take(this.#socketBuckets.get(clientId), cost, SOCKET_MESSAGE_LIMIT, Date.now());
    this.#socketBuckets.set(clientId, result.bucket);
    return result.ok;
  }

  /** last_seen (buffered, at most every few seconds) and, for a GM, lock activity. */
  async #noteActivity(att: SocketAttachment, type: ClientMessage["type"] | "ops"): Promise<void> {
    const now = Date.now();
    if (now - (this.#lastSeenWrite.get(att.clientId) ?? 0) >= SEEN_RESOLUTION_MS) {
      this.#lastSeenWrite.set(att.clientId, now);
      this.#host.pending.touch(att.clientId, new Date(now).toISOString());
      await this.#host.scheduleAlarm(now + ACK_FLUSH_MS);
    }
    // Acks and resumes are sent by the client on its own: they do not keep a lock alive.
    if (att.role === "gm" && type !== "ack" && type !== "resume") await this.#host.touchLocks(att.sessionId, att.userId, now);
  }

  /**
   * Replays what a socket missed since `since`, outside the write queue: writes go on meanwhile.
   *
   * The log's part is taken first (log-reads.ts: the changes D1 may not hold yet, as this socket's
   * role and user were sent them). A `since` inside the log is answered from it alone, at once.
   * From further back, the changes broadcast from now on are held (`#sendChange`) and D1 is read
   * (without waiting for it to catch up): its rows up to the seq it holds, the log's changes after
   * it, `resumed` at the last seq both cover, then the held changes past it, in seq order: the
   * socket sees every change once, without gaps (D1 only moves on by taking the log's oldest
   * batches, so it holds at least everything before the log's part). Only when the log has a
   * change not kept as sent (log-reads.ts) does the replay wait for D1 to hold the log, and reload
   * if it does not in time. Past `resumeHoldMax` held changes, a failed replay, or a reload sent
   * to every socket meanwhile, the socket reloads instead.
   */
  async #resume(ws: WebSocket, db: Db, att: SocketAttachment, since: number): Promise<void> {
    // Superseding a resume still replaying: that one stops.
    this.#holds.delete(ws);
    let part = this.#sent.read(since, { role: att.role, userId: att.userId }, this.#host.writeLog);
    if (part.kind === "reload") {
      this.send(ws, { type: "reload", seq: part.seq, reason: "activate" });
      return;
    }
    if (part.kind === "sent" && since >= part.floor && since <= part.top) {
      for (const { text } of part.texts) this.sendRaw(ws, text);
      this.send(ws, { type: "resumed", seq: part.top });
      return;
    }
    const held: HeldChange[] = [];
    this.#holds.set(ws, held);
    const own = () => this.#holds.get(ws) === held;
    let delta: Delta;
    try {
      if (part.kind === "unknown") {
        // D1 not catching up in time: a replay of what it holds would leave a gap before the held
        // changes, so the socket reloads.
        if (!(await this.#host.writeLog.drained())) throw new D1Behind();
        part = { kind: "empty" };
      }
      delta = await this.readD1(db, att.sessionId, since, att.role, att.userId);
    } catch (error) {
      if (own()) {
        this.#holds.delete(ws);
        this.send(ws, { type: "reload", seq: this.#host.seq() ?? 0, reason: "gone" });
      }
      logError("replaying a resume failed: the socket reloads", error);
      return;
    }
    // Told to reload meanwhile (too much held, the log dropped or renumbered), or resumed again.
    if (!own()) return;
    this.#holds.delete(ws);
    if (delta.kind !== "changes") {
      this.send(ws, { type: "reload", seq: delta.seq, reason: delta.kind === "gone" ? "gone" : "activate" });
      return;
    }
    if (part.kind === "sent" && delta.seq < part.floor) {
      // Never expected (D1 behind the log's start): a replay would leave a gap.
      logError("D1 is behind the start of the write log: the resuming socket reloads", { d1: delta.seq, floor: part.floor });
      this.send(ws, { type: "reload", seq: this.#host.seq() ?? 0, reason: "gone" });
      return;
    }
    // A commit that landed between the replay's reads is in its rows: everything up to them is covered.
    let covered = delta.seq;
    for (const row of delta.changes) {
      covered = Math.max(covered, row.seq);
      this.sendRaw(ws, encodeChangeRow(row));
    }
    if (part.kind === "sent") {
      for (const { seq, text } of part.texts) if (seq > covered) this.sendRaw(ws, text);
      covered = Math.max(covered, part.top);
    }
    this.send(ws, { type: "resumed", seq: covered });
    for (const change of held) if (change.seq > covered) this.sendRaw(ws, change.text);
  }

  /** Sends one change's text to a socket, or holds it while the socket's resume replays. */
  #sendChange(ws: WebSocket, seq: number, text: string): void {
    const held = this.#holds.get(ws);
    if (!held) {
      this.sendRaw(ws, text);
      return;
    }
    if (held.length >= this.resumeHoldMax) {
      this.#holds.delete(ws);
      this.send(ws, { type: "reload", seq, reason: "gone" });
      return;
    }
    held.push({ seq, text });
  }

  async #handle(ws: WebSocket, att: SocketAttachment, message: ClientMessage): Promise<void> {
    const db = this.#host.db();
    switch (message.type) {
      case "resume":
        await this.#resume(ws, db, att, message.since);
        return;
      case "ack": {
        const now = Date.now();
        this.#host.pending.addAcks(att.clientId, att.userId, message.event_ids, new Date(now).toISOString());
        await this.#host.scheduleAlarm(now + ACK_FLUSH_MS);
        return;
      }
      case "preview":
        await this.#host.previews.relay(ws, att, message);
        return;
      case "capabilities": {
        const capabilities = withoutUserAgent({ ...att.capabilities, ...message.capabilities });
        if (JSON.stringify(capabilities).length > CAPABILITIES_MAX_BYTES) {
          this.send(ws, { type: "error", code: "payload_too_large", message: `capabilities over ${CAPABILITIES_MAX_BYTES} bytes` });
          return;
        }
        ws.serializeAttachment({ ...att, capabilities });
        const now = Date.now();
        this.#lastSeenWrite.set(att.clientId, now);
        this.#host.pending.touch(att.clientId, new Date(now).toISOString(), capabilities);
        await this.#host.scheduleAlarm(now + ACK_FLUSH_MS);
        return;
      }
    }
  }

  async close(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      const att = this.#attachment(ws);
      try {
        // Answer the close handshake; 1005/1006/1015 are reserved and cannot be sent back.
        ws.close(RESERVED_CLOSE_CODES.has(code) ? 1000 : code, reason);
      } catch {
        // Already closed.
      }
      if (att && !att.closing) await this.#departed(att);
    } catch (error) {
      logError("socket close failed", error);
    }
  }

  async error(ws: WebSocket, error: unknown): Promise<void> {
    console.error(JSON.stringify({ level: "warn", msg: "socket error", error: String(error) }));
    await this.close(ws, 1011, "error");
  }

  /** Closes a socket from this side, telling it why first, and records its departure. */
  async drop(ws: WebSocket, code: number, reason: string, notice?: ServerMessage): Promise<void> {
    const att = this.#attachment(ws);
    if (!att || att.closing) return;
    if (notice) this.send(ws, notice);
    ws.serializeAttachment({ ...att, closing: true });
    try {
      ws.close(code, reason);
    } catch {
      // Already closed by the peer.
    }
    await this.#departed(att);
  }

  async #departed(att: SocketAttachment): Promise<void> {
    this.#presenceMap().delete(att.clientId);
    this.#socketBuckets.delete(att.clientId);
    this.#host.previews.forget(att.clientId);
    this.#lastSeenWrite.delete(att.clientId);
    // A join still waiting to be announced goes out first: no one hears of a departure before the arrival.
    this.#joins.flush();
    this.sendToAll({ type: "presence", left: [att.clientId] });
    await this.#recordDisconnect(att.clientId);
    // The last socket gone, the object is about to idle: its counted saves go to D1 now.
    if (!this.#host.saveMetrics.isEmpty() && this.#ctx.getWebSockets().every((ws) => ws.readyState !== WebSocket.OPEN)) {
      await this.#host.flushSaveMetrics();
    }
  }

  async #recordDisconnect(clientId: string): Promise<void> {
    await this.#host
      .db()
      .update(sessionClients)
      .set({ disconnected_at: nowIso() })
      .where(and(eq(sessionClients.client_id, clientId), isNull(sessionClients.disconnected_at)));
  }

  // ---- sending -----------------------------------------------------------------------------------

  #attachment(ws: WebSocket): SocketAttachment | undefined {
    return (ws.deserializeAttachment() as SocketAttachment | null) ?? undefined;
  }

  /** Who is connected; rebuilt from the sockets' attachments after a wake-up. */
  #presenceMap(): Map<string, PresenceClient> {
    if (!this.#presence) {
      this.#presence = new Map();
      for (const ws of this.#ctx.getWebSockets()) {
        const att = this.#attachment(ws);
        if (att && !att.closing) this.#presence.set(att.clientId, presenceOf(att));
      }
    }
    return this.#presence;
  }

  sendRaw(ws: WebSocket, text: string): void {
    try {
      ws.send(text);
    } catch {
      // The socket is closing; its close handler records the departure.
    }
  }

  send(ws: WebSocket, message: ServerMessage): void {
    this.sendRaw(ws, JSON.stringify(message));
  }

  sendToAll(message: ServerMessage, except?: WebSocket): void {
    const text = JSON.stringify(message);
    for (const ws of this.#ctx.getWebSockets()) if (ws !== except) this.sendRaw(ws, text);
  }

  sendToRole(role: Role, message: ServerMessage): void {
    const text = JSON.stringify(message);
    for (const ws of this.#ctx.getWebSockets(`role:${role}`)) this.sendRaw(ws, text);
  }

  /**
   * Sends committed changes to every socket allowed to see them, in seq order. Sockets opened
   * with `?patch=1` (tag `patch:<role>`) get updates as merge patches (broadcast.ts).
   */
  broadcast(changes: readonly Change[]): void {
    if (changes.length === 0) return;
    const plain = changes.map(encodeChange);
    const gmPatch = new Set(this.#ctx.getWebSockets("patch:gm"));
    const playerPatch = new Set(this.#ctx.getWebSockets("patch:player"));
    try {
      this.#sent.keep(changes, plain, this.#host.writeLog.entries[0]?.previousSeq, this.#host.writeLog.lastSeq);
    } catch (error) {
      // Never at the sockets' expense: a read of what was not kept waits for D1 instead.
      logError("keeping what was broadcast for reads past D1 failed", error);
    }
    const patched = gmPatch.size + playerPatch.size > 0 ? changes.map((c, i) => encodePatched(c, plain[i] as EncodedChange)) : plain;
    for (const ws of this.#ctx.getWebSockets("role:gm"))
      for (const e of gmPatch.has(ws) ? patched : plain) this.#sendChange(ws, e.seq, e.gm);
    if (playerPatch.size === 0) this.#broadcastToPlayers(plain, this.#ctx.getWebSockets("role:player"));
    else {
      const sockets = this.#ctx.getWebSockets("role:player");
      this.#broadcastToPlayers(
        plain,
        sockets.filter((ws) => !playerPatch.has(ws)),
      );
      this.#broadcastToPlayers(patched, [...playerPatch]);
    }
  }

  #broadcastToPlayers(encoded: readonly EncodedChange[], sockets: readonly WebSocket[]): void {
    if (sockets.length === 0) return;
    const forPlayers = encoded.filter((e): e is EncodedChange & { player: string } => e.player !== null);
    // A token's owners see it under fog: their sockets get their own texts of those changes.
    const owners = new Set(encoded.flatMap((e) => [...(e.owners?.keys() ?? [])]));
    if (forPlayers.length === 0 && owners.size === 0) return;
    for (const ws of sockets) {
      const userId = owners.size > 0 ? this.#attachment(ws)?.userId : undefined;
      if (userId === undefined || !owners.has(userId)) {
        for (const e of forPlayers) this.#sendChange(ws, e.seq, e.player);
        continue;
      }
      for (const e of encoded) {
        const text = e.owners?.has(userId) ? e.owners.get(userId) : e.player;
        if (text) this.#sendChange(ws, e.seq, text);
      }
    }
  }
}
