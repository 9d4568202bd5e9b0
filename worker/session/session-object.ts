/**
 * One Durable Object per game session.
 *
 * Lifecycle and invariants:
 * - Every mutation of the session arrives here through typed RPC (`applyOps`, `setMember`) and is
 *   run by a single explicit queue: awaiting D1 opens the object's input gate, so without the
 *   queue two requests could interleave between reading a version and committing the next one.
 * - `seq` is assigned here, gap-free, and committed with the entity rows in one D1 batch. D1 is
 *   the source of truth: after eviction or a restart the counter is reloaded from D1 on first use.
 * - Sockets are accepted with the hibernation API; each socket's identity lives in its attachment,
 *   so it survives the object being evicted while the sockets stay open. Nothing else is assumed
 *   to be in memory after a wake-up.
 * - After each commit, changes are sent to every socket in seq order, through the player filter.
 */
import { DurableObject } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { type Failure, fail } from "../../domain/errors";
import type { Actor, Role } from "../../domain/permissions";
import { type ClientMessage, clientMessageSchema, INLINE_ENTITY_LIMIT, type ServerMessage } from "../../domain/protocol";
import { projectForPlayer } from "../../domain/visibility";
import { getDb, nowIso } from "../db/client";
import { type ChangeRow, changesSince } from "../db/reads";
import { acknowledgements, gameSessions, sessionClients, sessionMembers, sessionState } from "../db/schema";
import { type Change, commitPlan, type InternalOp, type OpResult, planBatch } from "./write-plan";

export type WriteResult = { ok: true; seq: number; results: OpResult[] } | Failure;

export interface SocketAttachment {
  sessionId: string;
  clientId: string;
  userId: string;
  role: Role;
  connectedAt: string;
}

/** Headers the worker sets on the upgrade request it forwards (never taken from the client). */
export const IDENTITY_HEADERS = { user: "x-vtt-user", role: "x-vtt-role", session: "x-vtt-session" } as const;

export class SessionObject extends DurableObject<Env> {
  #seq: number | undefined;
  #tail: Promise<unknown> = Promise.resolve();

  /** Runs `work` after every earlier queued job, one at a time. */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(work, work);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #currentSeq(sessionId: string): Promise<number> {
    if (this.#seq === undefined) {
      const row = await getDb(this.env.DB).select({ seq: gameSessions.seq }).from(gameSessions).where(eq(gameSessions.id, sessionId)).get();
      if (!row) throw new Error(`no game session ${sessionId}`);
      this.#seq = row.seq;
    }
    return this.#seq;
  }

  /** Applies a batch of ops atomically; expected failures come back as values. */
  applyOps(sessionId: string, actor: Actor, ops: InternalOp[]): Promise<WriteResult> {
    return this.#serial(() => this.#apply(sessionId, actor, ops, true));
  }

  async #apply(sessionId: string, actor: Actor, ops: InternalOp[], mayRetry: boolean): Promise<WriteResult> {
    const db = getDb(this.env.DB);
    const seq = await this.#currentSeq(sessionId);
    const now = nowIso();
    const planned = await planBatch(db, sessionId, actor, ops, seq, now);
    if (!planned.ok) return planned;
    const { plan } = planned;
    try {
      await commitPlan(db, sessionId, plan, seq, now);
    } catch (error) {
      // D1 rolled the whole batch back. If our counter was stale (D1 moved on without us, e.g. a
      // restore), the seq collided: reload it and plan again once, from what D1 now holds.
      this.#seq = undefined;
      if (mayRetry && (await this.#currentSeq(sessionId)) !== seq) return this.#apply(sessionId, actor, ops, false);
      throw error;
    }
    this.#seq = plan.lastSeq;
    this.#broadcast(plan.changes);
    return { ok: true, seq: plan.replayedSeq ?? plan.lastSeq, results: plan.results };
  }

  /** Adds a member or changes a member's role, keeping `session_state.gm_user_ids` in step. */
  setMember(sessionId: string, actor: Actor, userId: string, role: Role): Promise<WriteResult> {
    return this.#serial(async () => {
      const db = getDb(this.env.DB);
      const members = await db.select().from(sessionMembers).where(eq(sessionMembers.session_id, sessionId));
      const gms = new Set(members.filter((m) => m.role === "gm").map((m) => m.user_id));
      if (role === "gm") gms.add(userId);
      else gms.delete(userId);
      if (gms.size === 0) return fail("bad_request", "a session needs at least one GM");
      const existing = members.find((m) => m.user_id === userId);
      const now = nowIso();
      if (existing) {
        await db
          .update(sessionMembers)
          .set({ role })
          .where(and(eq(sessionMembers.session_id, sessionId), eq(sessionMembers.user_id, userId)));
      } else {
        await db.insert(sessionMembers).values({ session_id: sessionId, user_id: userId, role, joined_at: now });
      }
      const state = await db.select().from(sessionState).where(eq(sessionState.session_id, sessionId)).get();
      if (!state) throw new Error(`session ${sessionId} has no session_state`);
      const gmIds = [...gms].sort();
      if (JSON.stringify([...state.gm_user_ids].sort()) === JSON.stringify(gmIds)) {
        return { ok: true, seq: await this.#currentSeq(sessionId), results: [] };
      }
      // The list of GMs is server-managed: write it as a system update of the session state.
      const seq = await this.#currentSeq(sessionId);
      const { session_id: _s, ...current } = state;
      const entity = { ...current, gm_user_ids: gmIds, version: current.version + 1, updated_at: now, updated_by: actor.userId };
      const change: Change = {
        seq: seq + 1,
        type: "session_state",
        id: entity.id,
        op: "update",
        previous: current,
        entity,
        visibleBefore: true,
        visibleAfter: true,
        activation: false,
      };
      const plan = { results: [], changes: [change], applied: [], replayedSeq: null, lastSeq: seq + 1 };
      try {
        await commitPlan(db, sessionId, plan, seq, now);
      } catch (error) {
        this.#seq = undefined;
        throw error;
      }
      this.#seq = plan.lastSeq;
      this.#broadcast(plan.changes);
      return { ok: true, seq: plan.lastSeq, results: [] };
    });
  }

  // ---- sockets ---------------------------------------------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    const userId = request.headers.get(IDENTITY_HEADERS.user);
    const role = request.headers.get(IDENTITY_HEADERS.role);
    const sessionId = request.headers.get(IDENTITY_HEADERS.session);
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !userId || !sessionId || (role !== "gm" && role !== "player")) {
      return new Response("expected a websocket upgrade from the worker", { status: 400 });
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const attachment: SocketAttachment = { sessionId, clientId: crypto.randomUUID(), userId, role, connectedAt: nowIso() };
    this.ctx.acceptWebSocket(server, [`user:${userId}`, `role:${role}`]);
    server.serializeAttachment(attachment);
    const db = getDb(this.env.DB);
    await db.insert(sessionClients).values({
      client_id: attachment.clientId,
      session_id: sessionId,
      user_id: userId,
      role,
      connected_at: attachment.connectedAt,
      last_seen: attachment.connectedAt,
      capabilities: {},
    });
    // Sent inside the queue so no change committed meanwhile can overtake the hello.
    await this.#serial(async () => {
      this.#send(server, { type: "hello", seq: await this.#currentSeq(sessionId), role, client_id: attachment.clientId });
    });
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    try {
      const att = ws.deserializeAttachment() as SocketAttachment;
      let parsed: unknown;
      try {
        parsed = JSON.parse(typeof raw === "string" ? raw : new TextDecoder().decode(raw));
      } catch {
        this.#send(ws, { type: "error", code: "bad_request", message: "messages are JSON" });
        return;
      }
      const message = clientMessageSchema.safeParse(parsed);
      if (!message.success) {
        this.#send(ws, { type: "error", code: "bad_request", message: "unknown or invalid message" });
        return;
      }
      await this.#handle(ws, att, message.data);
    } catch (error) {
      console.error(JSON.stringify({ level: "error", msg: "socket message failed", error: String(error) }));
      this.#send(ws, { type: "error", code: "internal", message: "the message could not be handled" });
    }
  }

  async #handle(ws: WebSocket, att: SocketAttachment, message: ClientMessage): Promise<void> {
    const db = getDb(this.env.DB);
    switch (message.type) {
      case "resume":
        // In the queue: the replay and live changes cannot interleave out of order.
        await this.#serial(async () => {
          const delta = await changesSince(db, att.sessionId, message.since, att.role);
          if (delta.kind !== "changes") {
            this.#send(ws, { type: "reload", seq: delta.seq, reason: delta.kind === "gone" ? "gone" : "activate" });
            return;
          }
          for (const row of delta.changes) this.#send(ws, changeMessage(row));
          this.#send(ws, { type: "resumed", seq: delta.seq });
        });
        return;
      case "ack": {
        const now = nowIso();
        await db
          .insert(acknowledgements)
          .values(
            message.event_ids.map((event_id) => ({
              session_id: att.sessionId,
              client_id: att.clientId,
              event_id,
              user_id: att.userId,
              acked_at: now,
            })),
          )
          .onConflictDoNothing();
        await db.update(sessionClients).set({ last_seen: now }).where(eq(sessionClients.client_id, att.clientId));
        return;
      }
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      const att = ws.deserializeAttachment() as SocketAttachment;
      // Answer the close handshake; 1005/1006/1015 are reserved and cannot be sent back.
      ws.close([1005, 1006, 1015].includes(code) ? 1000 : code, reason);
      await getDb(this.env.DB).update(sessionClients).set({ disconnected_at: nowIso() }).where(eq(sessionClients.client_id, att.clientId));
    } catch (error) {
      console.error(JSON.stringify({ level: "error", msg: "socket close failed", error: String(error) }));
    }
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    console.error(JSON.stringify({ level: "warn", msg: "socket error", error: String(error) }));
    await this.webSocketClose(ws, 1011, "error");
  }

  #send(ws: WebSocket, message: ServerMessage): void {
    try {
      ws.send(JSON.stringify(message));
    } catch {
      // The socket is closing; its close handler records the disconnect.
    }
  }

  /** Sends committed changes to every socket allowed to see them, in seq order. */
  #broadcast(changes: Change[]): void {
    if (changes.length === 0) return;
    for (const ws of this.ctx.getWebSockets()) {
      const att = ws.deserializeAttachment() as SocketAttachment | null;
      if (!att) continue;
      for (const change of changes) {
        const message = messageFor(change, att.role);
        if (message) this.#send(ws, message);
      }
    }
  }
}

function inline(entity: ChangeRow["entity"]): ChangeRow["entity"] {
  return entity && JSON.stringify(entity).length <= INLINE_ENTITY_LIMIT ? entity : undefined;
}

function changeMessage(row: ChangeRow): ServerMessage {
  const entity = inline(row.entity);
  return {
    type: "change",
    event_id: row.seq,
    seq: row.seq,
    entity_type: row.entity_type,
    entity_id: row.entity_id,
    version: row.version,
    op: row.op,
    ...(entity ? { entity } : {}),
    ...(row.removed ? { removed: true as const } : {}),
  };
}

/** What a socket of `role` receives for one change; null when nothing (the player filter). */
function messageFor(change: Change, role: Role): ServerMessage | null {
  const row: ChangeRow = { seq: change.seq, entity_type: change.type, entity_id: change.id, version: change.entity.version, op: change.op };
  if (role === "gm") return changeMessage({ ...row, entity: change.entity });
  if (change.activation) return { type: "reload", seq: change.seq, reason: "activate" };
  if (change.visibleAfter) return changeMessage({ ...row, entity: projectForPlayer(change.type, change.entity) });
  if (change.visibleBefore) return changeMessage({ ...row, removed: true });
  return null;
}
