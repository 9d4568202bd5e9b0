/**
 * One Durable Object per game session.
 *
 * Lifecycle and invariants:
 * - Every mutation of the session arrives here through typed RPC (`applyOps`, `setMember`, the
 *   lock and settings methods) and is run by a single explicit queue (`#serial`): awaiting D1
 *   opens the object's input gate, so without the queue two requests could interleave between
 *   reading a version and committing the next one. Writes of one actor that pile up while the
 *   object is busy are committed as one group (see applyOps); each still answers as if alone.
 * - `seq` is assigned here, gap-free. A planned batch is appended to the object's write log (its
 *   own SQLite storage), broadcast, and committed to D1 behind it in order (write-behind.ts); the
 *   writer is answered once D1 holds it. After eviction or a restart the log is read back in the
 *   constructor and the counter is its last seq, else D1's, reloaded on first use.
 * - Sockets are accepted with the hibernation API. Each socket's identity lives in its tags
 *   (`user:`, `role:`, `client:`) and its attachment, so it survives the object being evicted
 *   while the sockets stay open; pings are answered by the runtime (auto-response) without waking
 *   the object. Everything else in memory is a cache rebuilt on first use after a wake-up: seq,
 *   settings and locks from D1, presence from the attachments, the active scene and token facts
 *   (for previews) from D1. Rate-limit buckets start full after a wake-up, which is what they
 *   would hold anyway: the object only hibernates after seconds of silence, longer than any
 *   bucket takes to refill.
 * - After each commit, changes are sent in seq order to every socket allowed to see them, through
 *   the player filter, each change serialized once per role. A socket is accepted and greeted
 *   inside the queue, so `hello` always comes first and no change can overtake it.
 * - The alarm does the periodic work, never timers: moving buffered acks and activity to D1
 *   (pending.ts), expiring scene locks (lock-table.ts), closing sockets whose login or API
 *   token expired (credential-sockets.ts) and writing the saves it counted to D1
 *   (save-aggregate.ts, due SAVE_FLUSH_MS after the first). It is set for the earliest of them.
 */
import { DurableObject } from "cloudflare:workers";
import { and, eq, inArray, isNull, lt } from "drizzle-orm";
import { errorBody, type Failure, fail } from "../../domain/errors";
import type { SceneLock } from "../../domain/locks";
import type { JsonObject } from "../../domain/merge-patch";
import type { Actor, Role } from "../../domain/permissions";
import {
  CLOSE_CODES,
  type ClientMessage,
  clientMessageSchema,
  MAX_CLIENT_MESSAGE_BYTES,
  PING,
  PONG,
  type PresenceClient,
  type ServerMessage,
} from "../../domain/protocol";
import { type Bucket, mutationCost, retryAfterSeconds, SOCKET_MESSAGE_LIMIT, take } from "../../domain/rate-limit";
import { mutationLimitOf, type SessionSettings, type SettingsPatch } from "../../domain/settings";
import { chunk, type Db, getDb, nowIso } from "../db/client";
import { loadEntity } from "../db/entities";
import { changesSince, type Delta, loadSessionState, readerFilter, writeResultFor } from "../db/reads";
import { gameSessions, sessionClients, sessionMembers, sessionState } from "../db/schema";
import { type Device, parseDevice, withoutUserAgent } from "../lib/device";
import { type SaveOutcome, type SaveRoute, writeSavePoint } from "../metrics/recorder";
import { SAVE_FLUSH_MS, SaveAggregate } from "../metrics/save-aggregate";
import { type EncodedChange, encodeChange, encodeChangeRow, encodePatched } from "./broadcast";
import { type CredentialFilter, isExpired, matchesCredential, type SocketCredential } from "./credential-sockets";
import { LockTable } from "./lock-table";
import { ACK_FLUSH_MS, PendingRecords } from "./pending";
import { PresenceJoins } from "./presence-joins";
import { PreviewRelay, tokenFacts } from "./preview-relay";
import { SessionSettingsCache } from "./session-settings";
import { socketsPerUser, tooManySockets } from "./socket-limits";
import { isOpsMessage, type OpsMessage, opsError, parseOpsMessage, recordSocketWrite } from "./socket-writes";
import { UserWriteLeases } from "./user-limiter";
import { backlogLimit, D1Behind, notYetInD1, tooMuchBacklog } from "./write-backlog";
import { SAFETY_ALARM_MS, WriteBehind } from "./write-behind";
import { type Change, commitPlan, creation, EntityCache, type InternalOp, initialSessionState, type Plan } from "./write-plan";
import { WriteQueue, type WriteResult } from "./write-queue";

export type { WriteResult } from "./write-queue";
export type LockResult = { ok: true; lock: SceneLock; refresh: boolean } | Failure;
export type ReleaseResult = { ok: true } | Failure;
export type SettingsResult = { ok: true; settings: SessionSettings } | Failure;

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
/** Characters of broadcast texts kept for resumes past D1 (see `#unlanded`); past it a resume waits for D1. */
const UNLANDED_MAX_CHARS = 4_000_000;
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

function logError(msg: string, error: unknown): void {
  console.error(JSON.stringify({ level: "error", msg, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
}

export class SessionObject extends DurableObject<Env> {
  #sessionId: string | undefined;
  #seq: number | undefined;
  /** The session's settings, cached (session-settings.ts). */
  readonly #settings: SessionSettingsCache;
  #locks: Promise<LockTable> | undefined;
  #activeSceneId: string | null | undefined;
  /** Live drags relayed, with the token facts they need (preview-relay.ts). */
  readonly #previews: PreviewRelay;
  /** Entities as this object last committed them: planning reads them instead of D1 (write-plan.ts). */
  readonly #entities = new EntityCache();
  /** Bumped by every commit: a cache fill that raced a commit is not kept. */
  #generation = 0;
  #presence: Map<string, PresenceClient> | undefined;
  readonly #mutationBuckets = new Map<string, Bucket>();
  /** Leases of the writers' buckets across sessions (user-limiter.ts); lost on eviction, as they may be. */
  readonly #userLeases: UserWriteLeases;
  readonly #socketBuckets = new Map<string, Bucket | undefined>();
  readonly #lastSeenWrite = new Map<string, number>();
  #alarmAt: number | undefined;
  /** Every mutation, one at a time; writes grouped and logged (write-queue.ts). */
  readonly #queue: WriteQueue;
  #alarmWork: Promise<unknown> = Promise.resolve();
  readonly #pending: PendingRecords;
  /** Joins announced together (presence-joins.ts). */
  readonly #joins = new PresenceJoins(
    (text, except) => {
      for (const ws of this.ctx.getWebSockets()) if (!except.has(ws)) this.#sendRaw(ws, text);
    },
    (ws, text) => this.#sendRaw(ws, text),
  );
  /** Planned batches on their way to D1 (write-behind.ts). Not reachable over RPC: tests use runInDurableObject. */
  readonly writeLog: WriteBehind;
  /** Bumped when the log's seqs were moved: a plan made before is planned again. */
  #logEpoch = 0;
  /** Saves counted since the last flush to D1 (save-aggregate.ts). Not reachable over RPC: tests use runInDurableObject. */
  readonly saveMetrics = new SaveAggregate();
  /**
   * Live changes held for sockets whose `resume` is replaying (in memory: a replay only runs
   * while the object is awake). Sent after the replay, in seq order (see `#resume`).
   */
  readonly #holds = new Map<WebSocket, HeldChange[]>();
  /**
   * The changes this object logged and broadcast that D1 may not hold yet, as each role got them
   * (plain, never patches), by seq: a resume from a seq D1 does not hold yet is answered from here.
   */
  readonly #unlanded = new Map<number, { encoded: EncodedChange; activation: boolean; chars: number }>();
  #unlandedChars = 0;
  /** Bound of `#unlanded` in characters (tests lower it). */
  unlandedMaxChars = UNLANDED_MAX_CHARS;
  /** Changes held per resuming socket past which it gets `reload` instead (tests lower it). */
  resumeHoldMax = RESUME_HOLD_MAX;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Answered by the runtime itself: keeping a socket alive never wakes a hibernated object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
    this.#pending = new PendingRecords(ctx.storage.sql);
    this.#userLeases = new UserWriteLeases(env);
    this.#settings = new SessionSettingsCache(() => getDb(this.env.DB));
    this.writeLog = new WriteBehind(ctx.storage.sql, {
      db: () => getDb(this.env.DB),
      sessionId: () => this.#boundSession(),
      wakeAt: (at) => this.#scheduleAlarm(at),
      onLanded: (entries) => {
        for (const e of entries) this.#entities.unpin(e.changes, e.applied);
        const landed = entries.at(-1)?.lastSeq ?? 0;
        for (const [seq, kept] of this.#unlanded) {
          if (seq > landed) break;
          this.#unlanded.delete(seq);
          this.#unlandedChars -= kept.chars;
        }
      },
      onRenumbered: (delta) => {
        this.#logEpoch += 1;
        this.#seq = this.writeLog.lastSeq;
        // What the sockets were sent carries the old seqs: they reload (a replay in progress too).
        this.#holds.clear();
        this.#unlanded.clear();
        this.#unlandedChars = 0;
        if (this.#seq !== undefined) this.#sendToAll({ type: "reload", seq: this.#seq, reason: "gone" });
        logError("the write log was renumbered", { delta });
      },
      onRejected: (dropped, error) => {
        // D1 refused a logged batch: it and the ones after it never happened. Plans in progress
        // are made again (epoch), caches start from D1, and sockets that saw them reload.
        this.#logEpoch += 1;
        this.#entities.reset();
        this.#forgetCaches();
        this.#holds.clear();
        this.#unlanded.clear();
        this.#unlandedChars = 0;
        this.#sendToAll({ type: "reload", seq: dropped[0]?.previousSeq ?? 0, reason: "gone" });
        logError("D1 refused logged batches: dropped", { batches: dropped.length, error: String(error) });
      },
    });
    this.writeLog.backlogMax = backlogLimit(env);
    this.#queue = new WriteQueue({
      db: () => getDb(this.env.DB),
      writeLog: this.writeLog,
      entities: this.#entities,
      currentSeq: (sessionId) => this.#currentSeq(sessionId),
      logEpoch: () => this.#logEpoch,
      lockTable: (sessionId) => this.#lockTable(sessionId),
      remember: (lastSeq, changes) => {
        this.#seq = lastSeq;
        this.#remember(changes);
      },
      forgetCaches: () => this.#forgetCaches(),
      broadcast: (changes) => this.#broadcast(changes),
      scheduleAlarm: (at) => this.#scheduleAlarm(at),
    });
    this.#previews = new PreviewRelay({
      db: () => getDb(this.env.DB),
      entities: this.#entities,
      writeLog: this.writeLog,
      generation: () => this.#generation,
      activeScene: (sessionId) => this.#activeScene(sessionId),
      sockets: (tag) => this.ctx.getWebSockets(tag),
      send: (ws, message) => this.#send(ws, message),
      sendRaw: (ws, text) => this.#sendRaw(ws, text),
    });
    // Queries D1 answers (the tokens or fog of a scene) wait until D1 holds what is logged.
    this.#entities.settled = async () => {
      if (!(await this.writeLog.drained())) throw new D1Behind();
    };
    // Woken with batches still logged (evicted or restarted before D1 had them): the object plans
    // on top of them, and the flusher moves them to D1 first.
    for (const e of this.writeLog.entries) {
      this.#remember(e.changes);
      this.#entities.pin(e.changes, e.applied);
    }
    if (this.writeLog.size > 0) {
      this.#seq = this.writeLog.lastSeq;
      this.writeLog.kick();
    }
  }

  /** Runs `work` after every earlier queued job, one at a time (write-queue.ts). */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    return this.#queue.serial(work);
  }

  /** Remembers which session this object serves, durably: the alarm has no request to learn it from. */
  #bind(sessionId: string): void {
    if (this.#sessionId === sessionId) return;
    if (this.#sessionId !== undefined) throw new Error(`object of session ${this.#sessionId} called for ${sessionId}`);
    const stored = this.ctx.storage.kv.get<string>("session_id");
    if (stored !== undefined && stored !== sessionId) throw new Error(`object of session ${stored} called for ${sessionId}`);
    if (stored === undefined) this.ctx.storage.kv.put("session_id", sessionId);
    this.#sessionId = sessionId;
  }

  #boundSession(): string | undefined {
    this.#sessionId ??= this.ctx.storage.kv.get<string>("session_id");
    return this.#sessionId;
  }

  async #currentSeq(sessionId: string): Promise<number> {
    // Logged batches not yet in D1 are ahead of D1's seq.
    this.#seq ??= this.writeLog.lastSeq;
    if (this.#seq === undefined) {
      const row = await getDb(this.env.DB).select({ seq: gameSessions.seq }).from(gameSessions).where(eq(gameSessions.id, sessionId)).get();
      if (!row) throw new Error(`no game session ${sessionId}`);
      this.#seq = row.seq;
    }
    return this.#seq;
  }

  /** Forgets every cache derived from D1: a commit failed, or D1 moved on without this object. */
  #forgetCaches(): void {
    this.#seq = undefined;
    this.#activeSceneId = undefined;
    this.#previews.clear();
    this.#entities.clear();
    this.#generation += 1;
  }

  #loadSettings(sessionId: string): Promise<SessionSettings> {
    return this.#settings.load(sessionId);
  }

  #lockTable(sessionId: string): Promise<LockTable> {
    this.#locks ??= LockTable.load(getDb(this.env.DB), sessionId);
    this.#locks.catch(() => {
      this.#locks = undefined;
    });
    return this.#locks;
  }

  async #activeScene(sessionId: string): Promise<string | null> {
    if (this.#activeSceneId === undefined) {
      const generation = this.#generation;
      // As this object last wrote it (kept while D1 does not hold it yet), else from D1.
      const state = this.#entities.sessionState() ?? (await loadSessionState(getDb(this.env.DB), sessionId));
      const active = typeof state.active_scene_id === "string" ? state.active_scene_id : null;
      if (generation !== this.#generation) return this.#activeSceneId ?? active;
      this.#activeSceneId = active;
    }
    return this.#activeSceneId;
  }

  /** Keeps the caches in step with what was just committed. */
  #remember(changes: readonly Change[]): void {
    this.#generation += 1;
    this.#entities.remember(changes);
    for (const c of changes) {
      if (c.type === "token") this.#previews.rememberToken(tokenFacts(c.entity));
      else if (c.type === "session_state") {
        this.#activeSceneId = typeof c.entity.active_scene_id === "string" ? c.entity.active_scene_id : null;
      }
    }
  }

  // ---- rate limits -------------------------------------------------------------------------------

  /**
   * Takes `cost` from the user's mutation bucket of this session, then from the user's bucket
   * across all sessions (user-limiter.ts); a failure when either is empty.
   */
  async #admit(sessionId: string, actor: Actor, cost: number): Promise<Failure | undefined> {
    const config = mutationLimitOf(await this.#loadSettings(sessionId));
    const result = take(this.#mutationBuckets.get(actor.userId), cost, config, Date.now());
    this.#mutationBuckets.set(actor.userId, result.bucket);
    if (!result.ok) {
      return fail("rate_limited", `too many changes: retry in ${retryAfterSeconds(result.retryAfterMs)} s`, {
        retry_after_ms: result.retryAfterMs,
      });
    }
    const user = await this.#userLeases.take(actor.userId, cost);
    if (user.ok) return undefined;
    return fail("rate_limited", `too many changes across your sessions: retry in ${retryAfterSeconds(user.retryAfterMs)} s`, {
      retry_after_ms: user.retryAfterMs,
      scope: "user",
    });
  }

  // ---- writes ------------------------------------------------------------------------------------

  /**
   * Applies a batch of ops atomically; expected failures come back as values.
   *
   * Writes wait in the write queue (write-queue.ts) and are taken in groups: consecutive writes of the same
   * actor that piled up while the object was busy are planned as one batch and committed in one
   * D1 batch (group commit), so a GM writing faster than D1 answers pays its round trips once per
   * group instead of once per write. Each write still gets its own result and seq (the seq after
   * its own changes), and when the group cannot go through as one (a conflict, a lock, a replay of
   * an earlier write, a failed commit), its writes are applied one by one as before, each atomic
   * on its own. An idle object takes a write alone, at once.
   */
  async applyOps(sessionId: string, actor: Actor, ops: InternalOp[]): Promise<WriteResult> {
    this.#bind(sessionId);
    // D1 is far behind (failing): refused before it costs the writer anything.
    if (this.writeLog.size >= this.writeLog.backlogMax) return tooMuchBacklog(this.writeLog);
    const limited = await this.#admit(sessionId, actor, mutationCost(ops.length));
    if (limited) return limited;
    return this.#queue.enqueue(sessionId, actor, ops);
  }

  /**
   * Adds a member, changes a member's role or (`role` null) removes a member, keeping
   * `session_state.gm_user_ids` in step: the member row and the session state's new version
   * (logged, broadcast) are one D1 batch. A member whose role changed or who was removed loses
   * their sockets (4403): reconnecting gives the new view, or a 404.
   */
  async setMember(sessionId: string, actor: Actor, userId: string, role: Role | null): Promise<WriteResult> {
    this.#bind(sessionId);
    const limited = await this.#admit(sessionId, actor, 1);
    if (limited) return limited;
    return this.#serial(async () => {
      // Membership commits to D1 directly, after everything logged before it (its seq follows theirs).
      if (!(await this.writeLog.drained())) return notYetInD1(false);
      const db = getDb(this.env.DB);
      const members = await db.select().from(sessionMembers).where(eq(sessionMembers.session_id, sessionId));
      const gms = new Set(members.filter((m) => m.role === "gm").map((m) => m.user_id));
      if (role === "gm") gms.add(userId);
      else gms.delete(userId);
      const existing = members.find((m) => m.user_id === userId);
      if (role === null && !existing) return fail("not_found", "no such member");
      if (gms.size === 0) return fail("bad_request", "a session needs at least one GM");
      const now = nowIso();
      const thisMember = and(eq(sessionMembers.session_id, sessionId), eq(sessionMembers.user_id, userId));
      const memberRow =
        role === null
          ? db.delete(sessionMembers).where(thisMember)
          : existing
            ? db.update(sessionMembers).set({ role }).where(thisMember)
            : db.insert(sessionMembers).values({ session_id: sessionId, user_id: userId, role, joined_at: now });
      const state = await db.select().from(sessionState).where(eq(sessionState.session_id, sessionId)).get();
      if (!state) throw new Error(`session ${sessionId} has no session_state`);
      const gmIds = [...gms].sort();
      const seq = await this.#currentSeq(sessionId);
      let plan: Plan | undefined;
      if (JSON.stringify([...state.gm_user_ids].sort()) !== JSON.stringify(gmIds)) {
        // The list of GMs is server-managed: written as a system update of the session state.
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
        plan = { results: [], changes: [change], applied: [], replayedSeq: null, lastSeq: seq + 1 };
      }
      try {
        if (plan) await commitPlan(db, sessionId, plan, seq, now, [memberRow]);
        else await memberRow;
      } catch (error) {
        this.#forgetCaches();
        throw error;
      }
      if (plan) {
        this.#seq = plan.lastSeq;
        this.#remember(plan.changes);
        this.#broadcast(plan.changes);
      }
      if (existing && existing.role !== role) {
        // A socket's role is fixed when it is accepted (its tags): reconnecting gives the new view.
        for (const ws of this.ctx.getWebSockets(`user:${userId}`)) {
          const reason = role === null ? "you were removed from this session" : "your role in this session changed: reconnect";
          await this.#drop(ws, CLOSE_CODES.role_changed, reason);
        }
      }
      return { ok: true, seq: plan?.lastSeq ?? seq, results: [] };
    });
  }

  /**
   * Waits (bounded) until D1 holds everything this session logged, so a read of D1 after it sees
   * what the sockets were sent; whether it does. `GET changes?since` asks when a client is ahead of D1.
   */
  async settle(sessionId: string): Promise<boolean> {
    this.#bind(sessionId);
    return this.writeLog.drained();
  }

  /** A user joins with an invite code: a player, unless already a member (whose role stays). */
  async join(sessionId: string, userId: string): Promise<{ ok: true; role: Role }> {
    this.#bind(sessionId);
    return this.#serial(async () => {
      const db = getDb(this.env.DB);
      await db
        .insert(sessionMembers)
        .values({ session_id: sessionId, user_id: userId, role: "player", joined_at: nowIso() })
        .onConflictDoNothing();
      const member = await db
        .select({ role: sessionMembers.role })
        .from(sessionMembers)
        .where(and(eq(sessionMembers.session_id, sessionId), eq(sessionMembers.user_id, userId)))
        .get();
      return { ok: true, role: member?.role ?? "player" };
    });
  }

  /**
   * A new session: its row, its creator as GM and its session state (seq 1, logged) in one batch,
   * through the same commit as every write, so this object's seq and caches start right.
   */
  async createSession(
    sessionId: string,
    userId: string,
    name: string,
    inviteCode: string,
  ): Promise<{ ok: true; seq: number; created_at: string }> {
    this.#bind(sessionId);
    return this.#serial(async () => {
      if (this.writeLog.size > 0) throw new Error(`session ${sessionId} already has logged writes`);
      const db = getDb(this.env.DB);
      const now = nowIso();
      const change = creation(1, "session_state", initialSessionState(userId, now), true);
      const plan: Plan = { results: [], changes: [change], applied: [], replayedSeq: null, lastSeq: 1 };
      await commitPlan(db, sessionId, plan, 0, now, [
        db.insert(gameSessions).values({ id: sessionId, name, invite_code: inviteCode, created_by: userId, created_at: now, seq: 0 }),
        db.insert(sessionMembers).values({ session_id: sessionId, user_id: userId, role: "gm", joined_at: now }),
      ]);
      this.#seq = 1;
      this.#remember(plan.changes);
      return { ok: true, seq: 1, created_at: now };
    });
  }

  // ---- locks -------------------------------------------------------------------------------------

  /** Takes the lock of a scene for `actor` (a GM), or takes it again to extend it. */
  async acquireLock(sessionId: string, actor: Actor, sceneId: string): Promise<LockResult> {
    this.#bind(sessionId);
    if (actor.role !== "gm") return fail("forbidden", "only a GM may lock a scene");
    const limited = await this.#admit(sessionId, actor, 1);
    if (limited) return limited;
    return this.#serial(async () => {
      // A scene logged but not yet in D1 is in the entity cache (pinned).
      const scene = this.#entities.get("scene", sceneId) ?? (await loadEntity(getDb(this.env.DB), sessionId, "scene", sceneId));
      if (!scene) return fail("not_found", `no scene ${sceneId} in this session`);
      const locks = await this.#lockTable(sessionId);
      const now = Date.now();
      // Taking a lock is activity: the caller's other locks are extended too.
      await locks.touch(actor.userId, now);
      const result = await locks.acquire(actor, sceneId, now);
      if (!result.ok)
        return fail("conflict", `scene ${sceneId} is locked by another GM until ${result.heldBy.expires_at}`, { lock: result.heldBy });
      if (!result.lock) throw new Error("an acquired lock has no lock");
      this.#sendToRole("gm", { type: "lock", scene_id: sceneId, lock: result.lock, reason: result.refresh ? "refreshed" : "acquired" });
      await this.#scheduleAlarm(Date.parse(result.lock.expires_at));
      return { ok: true, lock: result.lock, refresh: result.refresh };
    });
  }

  /** Releases the caller's lock of a scene; nothing to release is fine, another GM's lock is a conflict. */
  async releaseLock(sessionId: string, actor: Actor, sceneId: string): Promise<ReleaseResult> {
    this.#bind(sessionId);
    if (actor.role !== "gm") return fail("forbidden", "only a GM may unlock a scene");
    const limited = await this.#admit(sessionId, actor, 1);
    if (limited) return limited;
    return this.#serial(async () => {
      const locks = await this.#lockTable(sessionId);
      const result = await locks.release(actor, sceneId, Date.now());
      if (typeof result === "object") {
        return fail("conflict", `scene ${sceneId} is locked by another GM until ${result.heldBy.expires_at}`, { lock: result.heldBy });
      }
      if (result === "release") this.#sendToRole("gm", { type: "lock", scene_id: sceneId, lock: null, reason: "released" });
      return { ok: true };
    });
  }

  async listLocks(sessionId: string): Promise<SceneLock[]> {
    this.#bind(sessionId);
    return (await this.#lockTable(sessionId)).active(Date.now());
  }

  // ---- settings ----------------------------------------------------------------------------------

  /** Changes the session's settings; turning real time off closes every socket. */
  async updateSettings(sessionId: string, actor: Actor, patch: SettingsPatch): Promise<SettingsResult> {
    this.#bind(sessionId);
    if (actor.role !== "gm") return fail("forbidden", "only a GM may change the settings");
    const limited = await this.#admit(sessionId, actor, 1);
    if (limited) return limited;
    return this.#serial(async () => {
      const { before, after } = await this.#settings.update(sessionId, patch);
      this.#sendToAll({ type: "settings", settings: after });
      if (before.realtime && !after.realtime) {
        for (const ws of this.ctx.getWebSockets()) {
          await this.#drop(ws, CLOSE_CODES.realtime_off, "real time is off for this session: poll changes", {
            type: "realtime_off",
            poll_interval_ms: after.poll_interval_ms,
          });
        }
      }
      return { ok: true, settings: after };
    });
  }

  // ---- clients -----------------------------------------------------------------------------------

  /**
   * The connected clients: the live sockets are the truth, D1 and the buffer add last_seen.
   * Rows D1 still shows as connected without a live socket (the object was restarted before it
   * could record their close) are marked disconnected.
   */
  async listClients(sessionId: string): Promise<ClientRecord[]> {
    this.#bind(sessionId);
    const db = getDb(this.env.DB);
    const live = new Map<string, { att: SocketAttachment; ws: WebSocket }>();
    for (const ws of this.ctx.getWebSockets()) {
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
      const pinged = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.toISOString();
      const seen = [att.connectedAt, stored.get(att.clientId), this.#pending.seen(att.clientId)?.last_seen, pinged];
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

  override async fetch(request: Request): Promise<Response> {
    // Joins of upgrades in flight together are announced together (presence-joins.ts).
    this.#joins.begin();
    try {
      return await this.#upgrade(request);
    } finally {
      this.#joins.end();
    }
  }

  async #upgrade(request: Request): Promise<Response> {
    const userId = request.headers.get(IDENTITY_HEADERS.user);
    const role = request.headers.get(IDENTITY_HEADERS.role);
    const sessionId = request.headers.get(IDENTITY_HEADERS.session);
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !userId || !sessionId || (role !== "gm" && role !== "player")) {
      return new Response("expected a websocket upgrade from the worker", { status: 400 });
    }
    this.#bind(sessionId);
    if (!(await this.#loadSettings(sessionId)).realtime) return this.#realtimeOff(sessionId);
    const cap = socketsPerUser(this.env);
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
    const db = getDb(this.env.DB);
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
    const accepted = await this.#serial(async () => {
      const settings = await this.#loadSettings(sessionId);
      if (!settings.realtime) return "off";
      // Again inside the queue: upgrades racing each other past the first check are counted here.
      if (this.#openSockets(userId) >= cap) return "full";
      const [seq, activeSceneId] = [await this.#currentSeq(sessionId), await this.#activeScene(sessionId)];
      const tags = [`user:${userId}`, `role:${role}`, `client:${attachment.clientId}`];
      this.ctx.acceptWebSocket(server, attachment.patch ? [...tags, `patch:${role}`] : tags);
      server.serializeAttachment(attachment);
      const presence = this.#presenceMap();
      presence.set(attachment.clientId, presenceOf(attachment));
      this.#send(server, { type: "hello", seq, role, client_id: attachment.clientId, user_id: userId, active_scene_id: activeSceneId });
      this.#send(server, { type: "presence", clients: [...presence.values()] });
      // Everyone else hears of it with the other joins of the moment, in one message.
      this.#joins.add(presenceOf(attachment), server);
      return "accepted";
    });
    if (accepted !== "accepted") {
      await this.#recordDisconnect(attachment.clientId);
      return accepted === "full" ? tooManySockets(cap) : this.#realtimeOff(sessionId);
    }
    if (attachment.credentialExpiresAt !== undefined) await this.#scheduleAlarm(attachment.credentialExpiresAt);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** The sockets `userId` has open here (those being closed not counted). */
  #openSockets(userId: string): number {
    let open = 0;
    for (const ws of this.ctx.getWebSockets(`user:${userId}`)) if (!this.#attachment(ws)?.closing) open += 1;
    return open;
  }

  /**
   * Closes the sockets of `userId` opened with the credentials the filter names (a logout, a
   * revoked token, a password change: credential-sockets.ts). Returns how many were closed.
   */
  async closeCredentialSockets(sessionId: string, userId: string, filter: CredentialFilter, reason: string): Promise<number> {
    this.#bind(sessionId);
    let closed = 0;
    for (const ws of this.ctx.getWebSockets(`user:${userId}`)) {
      const att = this.#attachment(ws);
      if (!att || att.closing || !matchesCredential(att, filter)) continue;
      await this.#drop(ws, CLOSE_CODES.credential_ended, reason.slice(0, 100));
      closed += 1;
    }
    return closed;
  }

  /** Closes sockets whose credential has expired; returns when the next one expires. */
  async #closeExpired(now: number): Promise<number | undefined> {
    let next: number | undefined;
    for (const ws of this.ctx.getWebSockets()) {
      const att = this.#attachment(ws);
      if (!att || att.closing || att.credentialExpiresAt === undefined) continue;
      if (isExpired(att, now)) await this.#drop(ws, CLOSE_CODES.credential_ended, "the login expired");
      else next = Math.min(next ?? att.credentialExpiresAt, att.credentialExpiresAt);
    }
    return next;
  }

  async #realtimeOff(sessionId: string): Promise<Response> {
    const settings = await this.#loadSettings(sessionId);
    const body = errorBody({
      code: "conflict",
      message: "real time is off for this session: poll GET changes?since instead",
      details: { reason: "realtime_off", realtime: false, poll_interval_ms: settings.poll_interval_ms },
    });
    return Response.json(body, { status: 409 });
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    try {
      const att = this.#attachment(ws);
      if (!att || att.closing) return;
      if (typeof raw !== "string") {
        // A protocol violation (the protocol is JSON text): closed, as the house style has it, with 1008.
        await this.#drop(ws, 1008, "messages are JSON text frames");
        return;
      }
      if (raw.length > MAX_CLIENT_MESSAGE_BYTES) {
        await this.#drop(ws, 1009, "message too big");
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
        this.#send(ws, {
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
      this.#send(ws, { type: "error", code: "internal", message: "the message could not be handled" });
    }
  }

  /** Takes from the socket's message bucket; a flooding socket is closed (4429). */
  async #allowSocketMessage(ws: WebSocket, att: SocketAttachment, cost: number): Promise<boolean> {
    if (this.#allowMessage(att.clientId, cost)) return true;
    await this.#drop(ws, CLOSE_CODES.rate_limited, "too many messages: slow down", {
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
      this.#send(ws, opsError(message.id, message.failure));
      return;
    }
    const { id, ops } = message;
    const actor: Actor = { userId: att.userId, role: att.role };
    let result: WriteResult;
    const start = performance.now();
    try {
      result = await this.applyOps(att.sessionId, actor, ops);
    } catch (error) {
      recordSocketWrite(this.env, att, ops, undefined, performance.now() - start, (ms, outcome) => this.#countSave(ms, outcome, "batch"));
      logError("a socket write failed", error);
      this.#send(ws, opsError(id, { code: "internal", message: "the write could not be applied" }));
      return;
    }
    recordSocketWrite(this.env, att, ops, result, performance.now() - start, (ms, outcome) => this.#countSave(ms, outcome, "batch"));
    if (!result.ok) {
      this.#send(ws, opsError(id, result));
    } else {
      const keep = await readerFilter(getDb(this.env.DB), att.sessionId, att.role, att.userId);
      const results = result.results.map((r, i) => {
        const type = ops[i]?.entity_type;
        return { op_id: r.op_id, entity: type ? writeResultFor(keep, type, r.entity) : r.entity };
      });
      this.#send(ws, { type: "result", ...(id === undefined ? {} : { id }), seq: result.seq, results });
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
      this.#pending.touch(att.clientId, new Date(now).toISOString());
      await this.#scheduleAlarm(now + ACK_FLUSH_MS);
    }
    // Acks and resumes are sent by the client on its own: they do not keep a lock alive.
    if (att.role === "gm" && type !== "ack" && type !== "resume") {
      const locks = await this.#lockTable(att.sessionId);
      if (locks.holds(att.userId)) await locks.touch(att.userId, now);
    }
  }

  /**
   * Replays what a socket missed since `since`, outside the write queue: writes go on meanwhile.
   * From now on the changes broadcast to this socket are held (`#sendChange`); the replay reads D1
   * once D1 holds everything logged so far (a change logged before the hold may be broadcast after
   * it: held, and covered by the replay). After the replay's rows and `resumed` (at the last seq
   * the replay covers) the held changes past that seq follow in seq order: the socket sees every
   * change once, without gaps. Past `resumeHoldMax` held changes, a failed replay, or a reload sent
   * to every socket meanwhile, the socket reloads instead.
   */
  async #resume(ws: WebSocket, db: Db, att: SocketAttachment, since: number): Promise<void> {
    // Superseding a resume still replaying: that one stops.
    this.#holds.delete(ws);
    if (this.#resumeFromLog(ws, att, since)) return;
    const held: HeldChange[] = [];
    this.#holds.set(ws, held);
    const own = () => this.#holds.get(ws) === held;
    let delta: Delta;
    try {
      // Changes this socket was sent may be logged and not yet in D1: read once D1 holds them.
      // D1 not catching up in time: a replay of what it holds would leave a gap before the held
      // changes, so the socket reloads.
      if (!(await this.writeLog.drained())) throw new D1Behind();
      delta = await changesSince(db, att.sessionId, since, att.role, att.userId);
    } catch (error) {
      if (own()) {
        this.#holds.delete(ws);
        this.#send(ws, { type: "reload", seq: this.#seq ?? 0, reason: "gone" });
      }
      logError("replaying a resume failed: the socket reloads", error);
      return;
    }
    // Told to reload meanwhile (too much held, the log dropped or renumbered), or resumed again.
    if (!own()) return;
    this.#holds.delete(ws);
    if (delta.kind !== "changes") {
      this.#send(ws, { type: "reload", seq: delta.seq, reason: delta.kind === "gone" ? "gone" : "activate" });
      return;
    }
    // A commit that landed between the replay's reads is in its rows: everything up to them is covered.
    let covered = delta.seq;
    for (const row of delta.changes) {
      covered = Math.max(covered, row.seq);
      this.#sendRaw(ws, encodeChangeRow(row));
    }
    this.#send(ws, { type: "resumed", seq: covered });
    for (const change of held) if (change.seq > covered) this.#sendRaw(ws, change.text);
  }

  /**
   * A resume from a seq D1 does not hold yet (the socket was sent changes still in the log): the
   * changes after it as this socket's role and user got them live (the same player filter), then
   * `resumed`, at once. False when the log has not all of them as broadcast (read back after a
   * restart, or past UNLANDED_MAX_CHARS): the resume then waits for D1.
   */
  #resumeFromLog(ws: WebSocket, att: SocketAttachment, since: number): boolean {
    const floor = this.writeLog.entries[0]?.previousSeq;
    const last = this.writeLog.lastSeq;
    if (floor === undefined || last === undefined || since < floor || since > last) return false;
    const texts: string[] = [];
    for (let seq = since + 1; seq <= last; seq++) {
      const kept = this.#unlanded.get(seq);
      if (!kept) return false;
      if (att.role === "player" && kept.activation) {
        this.#send(ws, { type: "reload", seq: last, reason: "activate" });
        return true;
      }
      const { encoded } = kept;
      const text = att.role === "gm" ? encoded.gm : encoded.owners?.has(att.userId) ? encoded.owners.get(att.userId) : encoded.player;
      if (text) texts.push(text);
    }
    for (const text of texts) this.#sendRaw(ws, text);
    this.#send(ws, { type: "resumed", seq: last });
    return true;
  }

  /** Sends one change's text to a socket, or holds it while the socket's resume replays. */
  #sendChange(ws: WebSocket, seq: number, text: string): void {
    const held = this.#holds.get(ws);
    if (!held) {
      this.#sendRaw(ws, text);
      return;
    }
    if (held.length >= this.resumeHoldMax) {
      this.#holds.delete(ws);
      this.#send(ws, { type: "reload", seq, reason: "gone" });
      return;
    }
    held.push({ seq, text });
  }

  async #handle(ws: WebSocket, att: SocketAttachment, message: ClientMessage): Promise<void> {
    const db = getDb(this.env.DB);
    switch (message.type) {
      case "resume":
        await this.#resume(ws, db, att, message.since);
        return;
      case "ack": {
        const now = Date.now();
        this.#pending.addAcks(att.clientId, att.userId, message.event_ids, new Date(now).toISOString());
        await this.#scheduleAlarm(now + ACK_FLUSH_MS);
        return;
      }
      case "preview":
        await this.#previews.relay(ws, att, message);
        return;
      case "capabilities": {
        const capabilities = withoutUserAgent({ ...att.capabilities, ...message.capabilities });
        if (JSON.stringify(capabilities).length > CAPABILITIES_MAX_BYTES) {
          this.#send(ws, { type: "error", code: "payload_too_large", message: `capabilities over ${CAPABILITIES_MAX_BYTES} bytes` });
          return;
        }
        ws.serializeAttachment({ ...att, capabilities });
        const now = Date.now();
        this.#lastSeenWrite.set(att.clientId, now);
        this.#pending.touch(att.clientId, new Date(now).toISOString(), capabilities);
        await this.#scheduleAlarm(now + ACK_FLUSH_MS);
        return;
      }
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
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

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    console.error(JSON.stringify({ level: "warn", msg: "socket error", error: String(error) }));
    await this.webSocketClose(ws, 1011, "error");
  }

  /** Closes a socket from this side, telling it why first, and records its departure. */
  async #drop(ws: WebSocket, code: number, reason: string, notice?: ServerMessage): Promise<void> {
    const att = this.#attachment(ws);
    if (!att || att.closing) return;
    if (notice) this.#send(ws, notice);
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
    this.#previews.forget(att.clientId);
    this.#lastSeenWrite.delete(att.clientId);
    // A join still waiting to be announced goes out first: no one hears of a departure before the arrival.
    this.#joins.flush();
    this.#sendToAll({ type: "presence", left: [att.clientId] });
    await this.#recordDisconnect(att.clientId);
    // The last socket gone, the object is about to idle: its counted saves go to D1 now.
    if (!this.saveMetrics.isEmpty() && this.ctx.getWebSockets().every((ws) => ws.readyState !== WebSocket.OPEN)) {
      await this.#flushSaveMetrics();
    }
  }

  async #recordDisconnect(clientId: string): Promise<void> {
    await getDb(this.env.DB)
      .update(sessionClients)
      .set({ disconnected_at: nowIso() })
      .where(and(eq(sessionClients.client_id, clientId), isNull(sessionClients.disconnected_at)));
  }

  // ---- save metrics ------------------------------------------------------------------------------

  /** A save the worker timed (a REST write or a batch), sent after its answer (recorder.ts `countSave`). */
  async countSave(ms: number, outcome: SaveOutcome, route: SaveRoute): Promise<void> {
    this.#countSave(ms, outcome, route);
  }

  /** Adds a save to the aggregate; the first since the last flush sets the alarm that flushes it. */
  #countSave(ms: number, outcome: SaveOutcome, route: SaveRoute): void {
    if (writeSavePoint(this.env, ms, outcome, route)) return;
    if (this.saveMetrics.add(ms, outcome, route)) {
      this.#scheduleAlarm(Date.now() + SAVE_FLUSH_MS).catch((error) => logError("setting the alarm failed", error));
    }
  }

  /** Writes the counted saves to D1 (one statement); on failure they stay for the next alarm. */
  async #flushSaveMetrics(): Promise<void> {
    try {
      await this.saveMetrics.flush(this.env.DB);
    } catch (error) {
      logError("flushing save metrics failed", error);
    }
  }

  // ---- the alarm ---------------------------------------------------------------------------------

  /**
   * Sets the alarm for `at` unless it is already due sooner. One at a time: two callers reading
   * "no alarm" together would otherwise let the later time overwrite the earlier one.
   */
  #scheduleAlarm(at: number): Promise<void> {
    const run = this.#alarmWork.then(() => this.#setAlarmBy(at));
    this.#alarmWork = run.catch(() => undefined);
    return run;
  }

  async #setAlarmBy(at: number): Promise<void> {
    if (this.#alarmAt !== undefined && this.#alarmAt <= at) return;
    const current = await this.ctx.storage.getAlarm();
    if (current !== null && current <= at) {
      this.#alarmAt = current;
      return;
    }
    await this.ctx.storage.setAlarm(at);
    this.#alarmAt = at;
  }

  /** Moves buffered acks and activity to D1, expires locks, and sets the next alarm if needed. */
  override async alarm(): Promise<void> {
    this.#alarmAt = undefined;
    await this.#flushSaveMetrics();
    const sessionId = this.#boundSession();
    if (!sessionId) {
      if (!this.saveMetrics.isEmpty()) await this.#scheduleAlarm(Date.now() + SAVE_FLUSH_MS);
      return;
    }
    await this.writeLog.retry();
    await this.#pending.flush(getDb(this.env.DB), sessionId);
    const locks = await this.#serial(async () => {
      const table = await this.#lockTable(sessionId);
      for (const lock of await table.expire(Date.now())) {
        this.#sendToRole("gm", { type: "lock", scene_id: lock.scene_id, lock: null, reason: "expired" });
      }
      return table;
    });
    const credentialExpiry = await this.#closeExpired(Date.now());
    // Batches still logged: the next retry, or a safety wake-up.
    const retryAt = this.writeLog.retryAt;
    const logged = this.writeLog.size === 0 ? undefined : retryAt > Date.now() ? retryAt : Date.now() + SAFETY_ALARM_MS;
    const metrics = this.saveMetrics.isEmpty() ? undefined : Date.now() + SAVE_FLUSH_MS;
    const next = [
      locks.nextExpiry(),
      this.#pending.isEmpty() ? undefined : Date.now() + ACK_FLUSH_MS,
      credentialExpiry,
      logged,
      metrics,
    ].filter((t): t is number => t !== undefined);
    if (next.length > 0) await this.#scheduleAlarm(Math.min(...next));
  }

  // ---- sending -----------------------------------------------------------------------------------

  #attachment(ws: WebSocket): SocketAttachment | undefined {
    return (ws.deserializeAttachment() as SocketAttachment | null) ?? undefined;
  }

  /** Who is connected; rebuilt from the sockets' attachments after a wake-up. */
  #presenceMap(): Map<string, PresenceClient> {
    if (!this.#presence) {
      this.#presence = new Map();
      for (const ws of this.ctx.getWebSockets()) {
        const att = this.#attachment(ws);
        if (att && !att.closing) this.#presence.set(att.clientId, presenceOf(att));
      }
    }
    return this.#presence;
  }

  #sendRaw(ws: WebSocket, text: string): void {
    try {
      ws.send(text);
    } catch {
      // The socket is closing; its close handler records the departure.
    }
  }

  #send(ws: WebSocket, message: ServerMessage): void {
    this.#sendRaw(ws, JSON.stringify(message));
  }

  #sendToAll(message: ServerMessage, except?: WebSocket): void {
    const text = JSON.stringify(message);
    for (const ws of this.ctx.getWebSockets()) if (ws !== except) this.#sendRaw(ws, text);
  }

  #sendToRole(role: Role, message: ServerMessage): void {
    const text = JSON.stringify(message);
    for (const ws of this.ctx.getWebSockets(`role:${role}`)) this.#sendRaw(ws, text);
  }

  /**
   * Sends committed changes to every socket allowed to see them, in seq order. Sockets opened
   * with `?patch=1` (tag `patch:<role>`) get updates as merge patches (broadcast.ts).
   */
  #broadcast(changes: readonly Change[]): void {
    if (changes.length === 0) return;
    const plain = changes.map(encodeChange);
    const gmPatch = new Set(this.ctx.getWebSockets("patch:gm"));
    const playerPatch = new Set(this.ctx.getWebSockets("patch:player"));
    this.#keepUnlanded(changes, plain);
    const patched = gmPatch.size + playerPatch.size > 0 ? changes.map((c, i) => encodePatched(c, plain[i] as EncodedChange)) : plain;
    for (const ws of this.ctx.getWebSockets("role:gm"))
      for (const e of gmPatch.has(ws) ? patched : plain) this.#sendChange(ws, e.seq, e.gm);
    if (playerPatch.size === 0) this.#broadcastToPlayers(plain, this.ctx.getWebSockets("role:player"));
    else {
      const sockets = this.ctx.getWebSockets("role:player");
      this.#broadcastToPlayers(
        plain,
        sockets.filter((ws) => !playerPatch.has(ws)),
      );
      this.#broadcastToPlayers(patched, [...playerPatch]);
    }
  }

  /** Keeps what was broadcast of changes still in the log (for `#resumeFromLog`). */
  #keepUnlanded(changes: readonly Change[], plain: readonly EncodedChange[]): void {
    const floor = this.writeLog.entries[0]?.previousSeq;
    const last = this.writeLog.lastSeq;
    if (floor === undefined || last === undefined) return;
    changes.forEach((change, i) => {
      const encoded = plain[i];
      if (!encoded || change.seq <= floor || change.seq > last) return;
      // The player's text is usually the GM's string itself.
      let chars = encoded.gm.length + (encoded.player !== encoded.gm ? (encoded.player?.length ?? 0) : 0);
      for (const text of encoded.owners?.values() ?? []) chars += text?.length ?? 0;
      if (this.#unlandedChars + chars > this.unlandedMaxChars) return;
      this.#unlanded.set(change.seq, { encoded, activation: change.activation, chars });
      this.#unlandedChars += chars;
    });
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
