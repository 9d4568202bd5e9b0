/**
 * One Durable Object per game session.
 *
 * Lifecycle and invariants:
 * - Every mutation of the session arrives here through typed RPC (`applyOps`, `setMember`, the
 *   lock and settings methods) and is run by a single explicit queue (write-queue.ts): awaiting D1
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
 *   (pending.ts), expiring scene locks (scene-locks.ts), closing sockets whose login or API
 *   token expired (credential-sockets.ts) and writing the saves it counted to D1
 *   (save-aggregate.ts, due SAVE_FLUSH_MS after the first). It is set for the earliest of them.
 *
 * This class is the platform hooks and the RPC methods; the work is done by parts with one job
 * each: the write queue (write-queue.ts), the write log (write-behind.ts), the sockets
 * (socket-hub.ts), live drags (preview-relay.ts), scene locks (scene-locks.ts) and settings
 * (session-settings.ts).
 */
import { DurableObject } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { errorBody, type Failure, fail } from "../../domain/errors";
import type { SceneLock } from "../../domain/locks";
import type { Actor, Role } from "../../domain/permissions";
import { type Change, creation, type InternalOp, initialSessionState, type Plan } from "../../domain/plan";
import { CLOSE_CODES, PING, PONG } from "../../domain/protocol";
import { type Bucket, mutationCost, retryAfterSeconds, take } from "../../domain/rate-limit";
import { mutationLimitOf, type SessionSettings, type SettingsPatch } from "../../domain/settings";
import { type Db, nowIso } from "../db/client";
import { commitPlan } from "../db/commit";
import { loadSessionState } from "../db/reads";
import { gameSessions, sessionDirectory, sessionMembers, sessionState } from "../db/schema";
import { directoryDb, forgetShard, type ShardInfo, shardD1, shardDb } from "../db/shards";
import { logError } from "../lib/log";
import { batchUsage, type D1Usage, writeUsagePoint } from "../metrics/d1-usage";
import { type SaveOutcome, type SaveRoute, writeSavePoint } from "../metrics/recorder";
import { SAVE_FLUSH_MS, SaveAggregate } from "../metrics/save-aggregate";
import type { CredentialFilter } from "./credential-sockets";
import { EntityCache } from "./entity-cache";
import type { LogRows } from "./log-reads";
import { type CleanupPlan, type MoveResult, moveSession, movingFailure, runCleanups } from "./move";
import { ACK_FLUSH_MS, PendingRecords } from "./pending";
import { PreviewRelay, tokenFacts } from "./preview-relay";
import { type LockResult, type ReleaseResult, SceneLocks } from "./scene-locks";
import { SessionSettingsCache } from "./session-settings";
import { type ClientRecord, SocketHub } from "./socket-hub";
import { UserWriteLeases } from "./user-limiter";
import { backlogLimit, D1Behind, notYetInD1, tooMuchBacklog } from "./write-backlog";
import { SAFETY_ALARM_MS, WriteBehind } from "./write-behind";
import { WriteQueue, type WriteResult } from "./write-queue";

export type { LockResult, ReleaseResult } from "./scene-locks";
export { type ClientRecord, IDENTITY_HEADERS, RESUME_HOLD_MAX, type SocketAttachment } from "./socket-hub";
export type { WriteResult } from "./write-queue";
export type SettingsResult = { ok: true; settings: SessionSettings } | Failure;

export class SessionObject extends DurableObject<Env> {
  #sessionId: string | undefined;
  #shardName: string | undefined;
  #seq: number | undefined;
  /** The session's settings, cached (session-settings.ts). */
  readonly #settings: SessionSettingsCache;
  /** Scene locks: taken, extended, released, expired, told to the GMs (scene-locks.ts). */
  readonly #locks: SceneLocks;
  #activeSceneId: string | null | undefined;
  /** Live drags relayed, with the token facts they need (preview-relay.ts). */
  readonly #previews: PreviewRelay;
  /** Entities as this object last committed them: planning reads them instead of D1 (prefetch.ts). */
  readonly #entities = new EntityCache();
  /** Bumped by every commit: a cache fill that raced a commit is not kept. */
  #generation = 0;
  readonly #mutationBuckets = new Map<string, Bucket>();
  /** Leases of the writers' buckets across sessions (user-limiter.ts); lost on eviction, as they may be. */
  readonly #userLeases: UserWriteLeases;
  #alarmAt: number | undefined;
  /** Every mutation, one at a time; writes grouped and logged (write-queue.ts). */
  readonly #queue: WriteQueue;
  /** The sockets: accept, dispatch, fan-out, presence, resume (socket-hub.ts). */
  readonly #hub: SocketHub;
  #alarmWork: Promise<unknown> = Promise.resolve();
  readonly #pending: PendingRecords;
  /** Planned batches on their way to D1 (write-behind.ts). Not reachable over RPC: tests use runInDurableObject. */
  readonly writeLog: WriteBehind;
  /** Bumped when the log's seqs were moved: a plan made before is planned again. */
  #logEpoch = 0;
  /** Saves counted since the last flush to D1 (save-aggregate.ts). Not reachable over RPC: tests use runInDurableObject. */
  readonly saveMetrics = new SaveAggregate();
  /** Set while a move copies the session to another shard (move.ts): its writes are refused with 503. */
  #moving = false;
  /** Awaited by a move once the session's writes settled, before its copy: tests hold a move there. */
  movePause: Promise<void> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Answered by the runtime itself: keeping a socket alive never wakes a hibernated object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
    this.#pending = new PendingRecords(ctx.storage.sql);
    this.#userLeases = new UserWriteLeases(env);
    this.#settings = new SessionSettingsCache(() => this.#db());
    this.writeLog = new WriteBehind(ctx.storage.sql, {
      db: () => this.#db(),
      // Commits in a D1 session on the primary: each landing's bookmark goes to writers and sockets.
      d1: () => this.#d1(),
      sessionId: () => this.#boundSession(),
      wakeAt: (at) => this.#scheduleAlarm(at),
      onLanded: (entries, bookmark) => {
        for (const e of entries) this.#entities.unpin(e.changes, e.applied);
        this.#hub.landed(entries.at(-1)?.lastSeq ?? 0, bookmark);
      },
      onRenumbered: (delta) => {
        this.#logEpoch += 1;
        this.#seq = this.writeLog.lastSeq;
        // What the sockets were sent carries the old seqs: they reload (a replay in progress too).
        this.#hub.forgetSent();
        if (this.#seq !== undefined) this.#hub.sendToAll({ type: "reload", seq: this.#seq, reason: "gone" });
        logError("the write log was renumbered", { delta });
      },
      onRejected: (dropped, error) => {
        // D1 refused a logged batch: it and the ones after it never happened. Plans in progress
        // are made again (epoch), caches start from D1, and sockets that saw them reload.
        this.#logEpoch += 1;
        this.#entities.reset();
        this.#forgetCaches();
        this.#hub.forgetSent();
        this.#hub.sendToAll({ type: "reload", seq: dropped[0]?.previousSeq ?? 0, reason: "gone" });
        logError("D1 refused logged batches: dropped", { batches: dropped.length, error: String(error) });
      },
      committed: (results, ms) => this.#countCommit(batchUsage(results, ms)),
    });
    this.writeLog.backlogMax = backlogLimit(env);
    this.#previews = new PreviewRelay({
      db: () => this.#db(),
      entities: this.#entities,
      writeLog: this.writeLog,
      generation: () => this.#generation,
      activeScene: (sessionId) => this.#activeScene(sessionId),
      sockets: (tag) => this.ctx.getWebSockets(tag),
      send: (ws, message) => this.#hub.send(ws, message),
      sendRaw: (ws, text) => this.#hub.sendRaw(ws, text),
    });
    this.#locks = new SceneLocks({
      db: () => this.#db(),
      entities: this.#entities,
      admit: (sessionId, actor, cost) => this.#admit(sessionId, actor, cost),
      serial: (work) => this.#serial(work),
      scheduleAlarm: (at) => this.#scheduleAlarm(at),
      sendToGms: (message) => this.#hub.sendToRole("gm", message),
    });
    this.#hub = new SocketHub(ctx, env, {
      enter: (sessionId) => this.#enter(sessionId),
      db: () => this.#db(),
      loadSettings: (sessionId) => this.#loadSettings(sessionId),
      currentSeq: (sessionId) => this.#currentSeq(sessionId),
      seq: () => this.#seq,
      activeScene: (sessionId) => this.#activeScene(sessionId),
      serial: (work) => this.#serial(work),
      scheduleAlarm: (at) => this.#scheduleAlarm(at),
      // Frozen during a move: a lock's TTL is not written to the shard being copied.
      touchLocks: (sessionId, userId, now) => (this.#moving ? Promise.resolve() : this.#locks.touch(sessionId, userId, now)),
      applyOps: (sessionId, actor, ops) => this.applyOps(sessionId, actor, ops),
      countSave: (ms, outcome, route) => this.#countSave(ms, outcome, route),
      flushSaveMetrics: () => this.#flushSaveMetrics(),
      writeLog: this.writeLog,
      saveMetrics: this.saveMetrics,
      pending: this.#pending,
      previews: this.#previews,
    });
    this.#queue = new WriteQueue({
      db: () => this.#db(),
      writeLog: this.writeLog,
      entities: this.#entities,
      currentSeq: (sessionId) => this.#currentSeq(sessionId),
      logEpoch: () => this.#logEpoch,
      lockTable: (sessionId) => this.#locks.table(sessionId),
      remember: (lastSeq, changes) => {
        this.#seq = lastSeq;
        this.#remember(changes);
      },
      forgetCaches: () => this.#forgetCaches(),
      broadcast: (changes) => this.#hub.broadcast(changes),
      scheduleAlarm: (at) => this.#scheduleAlarm(at),
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
    if (this.writeLog.size > 0) this.#seq = this.writeLog.lastSeq;
    const bound = this.#boundSession();
    if (bound !== undefined && this.shard === undefined) {
      // A session from before shards: its shard is the directory's word, read before anything runs.
      ctx.blockConcurrencyWhile(() => this.#learnShard(bound));
    }
    if (this.writeLog.size > 0 && this.shard !== undefined) this.writeLog.kick();
    else if (this.writeLog.size > 0) ctx.blockConcurrencyWhile(async () => this.writeLog.kick());
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

  /** Binds to the session (RPC and fetch entry points) and learns its shard when not known yet. */
  async #enter(sessionId: string): Promise<void> {
    this.#bind(sessionId);
    if (this.shard === undefined) await this.#learnShard(sessionId);
    await this.#finishFlip(sessionId);
  }

  /**
   * A move that stopped (the object restarted) between flipping the directory and flipping this
   * object leaves its mark: the directory's word decides which shard this object writes to.
   */
  async #finishFlip(sessionId: string): Promise<void> {
    if (this.#moving || this.ctx.storage.kv.get("move_flip") === undefined) return;
    const directory = directoryDb(this.env);
    const row = await directory
      .select({ shard: sessionDirectory.shard })
      .from(sessionDirectory)
      .where(eq(sessionDirectory.session_id, sessionId))
      .get();
    if (this.#moving || this.ctx.storage.kv.get("move_flip") === undefined) return;
    if (row && row.shard !== this.shard) {
      this.setShard(row.shard);
      this.#locks.forget();
    }
    await directory.update(sessionDirectory).set({ state: "active" }).where(eq(sessionDirectory.session_id, sessionId));
    this.ctx.storage.kv.delete("move_flip");
  }

  #boundSession(): string | undefined {
    this.#sessionId ??= this.ctx.storage.kv.get<string>("session_id");
    return this.#sessionId;
  }

  /**
   * The shard holding this session's rows (worker/db/shards.ts), kept in the object's storage: set
   * when the session is created (or, for a session from before shards, read once from the
   * directory) and flipped by a move. The object is the session's only writer, so its own record is
   * the one its writes follow.
   */
  get shard(): string | undefined {
    this.#shardName ??= this.ctx.storage.kv.get<string>("shard");
    return this.#shardName;
  }

  /** Records the session's shard (creation, a move, or learnt from the directory). */
  setShard(name: string): void {
    this.ctx.storage.kv.put("shard", name);
    this.#shardName = name;
  }

  /** The session's shard as raw D1. */
  #d1(): D1Database {
    const shard = this.shard;
    if (shard === undefined) throw new Error(`session object ${this.#sessionId ?? "(unbound)"} does not know its shard`);
    return shardD1(this.env, shard);
  }

  /** The session's shard, through drizzle. */
  #db(): Db {
    const shard = this.shard;
    if (shard === undefined) throw new Error(`session object ${this.#sessionId ?? "(unbound)"} does not know its shard`);
    return shardDb(this.env, shard);
  }

  /** Learns the shard from the directory when this object's storage does not have it yet. */
  async #learnShard(sessionId: string): Promise<void> {
    if (this.shard !== undefined) return;
    const row = await directoryDb(this.env)
      .select({ shard: sessionDirectory.shard })
      .from(sessionDirectory)
      .where(eq(sessionDirectory.session_id, sessionId))
      .get();
    if (row) this.setShard(row.shard);
  }

  async #currentSeq(sessionId: string): Promise<number> {
    // Logged batches not yet in D1 are ahead of D1's seq.
    this.#seq ??= this.writeLog.lastSeq;
    if (this.#seq === undefined) {
      const row = await this.#db().select({ seq: gameSessions.seq }).from(gameSessions).where(eq(gameSessions.id, sessionId)).get();
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

  async #activeScene(sessionId: string): Promise<string | null> {
    if (this.#activeSceneId === undefined) {
      const generation = this.#generation;
      // As this object last wrote it (kept while D1 does not hold it yet), else from D1.
      const state = this.#entities.sessionState() ?? (await loadSessionState(this.#db(), sessionId));
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
    await this.#enter(sessionId);
    if (this.#moving) return movingFailure();
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
    await this.#enter(sessionId);
    if (this.#moving) return movingFailure();
    const limited = await this.#admit(sessionId, actor, 1);
    if (limited) return limited;
    return this.#serial(async () => {
      // Membership commits to D1 directly, after everything logged before it (its seq follows theirs).
      if (!(await this.writeLog.drained())) return notYetInD1(false);
      // Members are the directory's access list; the GM list in the session state (on the shard)
      // mirrors it. The state's version is committed first, then the member row: when the state
      // fails nothing changed; when the member row fails after it, the state is ahead of the list
      // until the same change is asked again (the list is compared with the state each time, so
      // the retry writes the member row and no second version).
      const directory = directoryDb(this.env);
      const db = this.#db();
      const members = await directory.select().from(sessionMembers).where(eq(sessionMembers.session_id, sessionId));
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
          ? directory.delete(sessionMembers).where(thisMember)
          : existing
            ? directory.update(sessionMembers).set({ role }).where(thisMember)
            : directory.insert(sessionMembers).values({ session_id: sessionId, user_id: userId, role, joined_at: now });
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
        if (plan) await commitPlan(db, sessionId, plan, seq, now);
      } catch (error) {
        this.#forgetCaches();
        throw error;
      }
      if (plan) {
        this.#seq = plan.lastSeq;
        this.#remember(plan.changes);
        this.#hub.broadcast(plan.changes);
      }
      await memberRow;
      if (existing && existing.role !== role) {
        // A socket's role is fixed when it is accepted (its tags): reconnecting gives the new view.
        for (const ws of this.ctx.getWebSockets(`user:${userId}`)) {
          const reason = role === null ? "you were removed from this session" : "your role in this session changed: reconnect";
          await this.#hub.drop(ws, CLOSE_CODES.role_changed, reason);
        }
      }
      return { ok: true, seq: plan?.lastSeq ?? seq, results: [] };
    });
  }

  /**
   * Waits (bounded) until D1 holds everything this session logged, so a read of D1 after it sees
   * what the sockets were sent; whether it does. `GET changes?since` asks when the log cannot
   * answer it (`readLog` says `unknown`).
   */
  async settle(sessionId: string): Promise<boolean> {
    await this.#enter(sessionId);
    return this.writeLog.drained();
  }

  /**
   * The changes after `since` that D1 may not hold yet, from the write log, as the caller's role
   * and user were sent them (log-reads.ts): `GET changes?since` adds them to D1's rows.
   */
  async readLog(sessionId: string, since: number, role: Role, userId: string): Promise<LogRows> {
    await this.#enter(sessionId);
    return this.#hub.readLog(since, { role, userId });
  }

  /** A user joins with an invite code: a player, unless already a member (whose role stays). */
  async join(sessionId: string, userId: string): Promise<{ ok: true; role: Role }> {
    await this.#enter(sessionId);
    return this.#serial(async () => {
      const db = directoryDb(this.env);
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
    shard: ShardInfo,
    userId: string,
    name: string,
    inviteCode: string,
  ): Promise<{ ok: true; seq: number; created_at: string }> {
    this.#bind(sessionId);
    return this.#serial(async () => {
      if (this.writeLog.size > 0) throw new Error(`session ${sessionId} already has logged writes`);
      this.setShard(shard.name);
      const db = this.#db();
      const now = nowIso();
      const change = creation(1, "session_state", initialSessionState(userId, now), true);
      const plan: Plan = { results: [], changes: [change], applied: [], replayedSeq: null, lastSeq: 1 };
      // The shard's rows first, then the directory entry and the GM's membership: a failure between
      // leaves rows no one can reach (and nothing listed that does not exist).
      await commitPlan(db, sessionId, plan, 0, now, [
        db.insert(gameSessions).values({ id: sessionId, name, invite_code: inviteCode, created_by: userId, created_at: now, seq: 0 }),
      ]);
      const directory = directoryDb(this.env);
      await directory.batch([
        directory.insert(sessionDirectory).values({
          session_id: sessionId,
          shard: shard.name,
          region: shard.region,
          name,
          invite_code: inviteCode,
          created_by: userId,
          created_at: now,
        }),
        directory.insert(sessionMembers).values({ session_id: sessionId, user_id: userId, role: "gm", joined_at: now }),
      ]);
      forgetShard(sessionId);
      this.#seq = 1;
      this.#remember(plan.changes);
      return { ok: true, seq: 1, created_at: now };
    });
  }

  // ---- locks -------------------------------------------------------------------------------------

  /** Takes the lock of a scene for `actor` (a GM), or takes it again to extend it. */
  async acquireLock(sessionId: string, actor: Actor, sceneId: string): Promise<LockResult> {
    await this.#enter(sessionId);
    if (this.#moving) return movingFailure();
    return this.#locks.acquire(sessionId, actor, sceneId);
  }

  /** Releases the caller's lock of a scene; nothing to release is fine, another GM's lock is a conflict. */
  async releaseLock(sessionId: string, actor: Actor, sceneId: string): Promise<ReleaseResult> {
    await this.#enter(sessionId);
    if (this.#moving) return movingFailure();
    return this.#locks.release(sessionId, actor, sceneId);
  }

  async listLocks(sessionId: string): Promise<SceneLock[]> {
    await this.#enter(sessionId);
    return this.#locks.list(sessionId);
  }

  // ---- settings ----------------------------------------------------------------------------------

  /** Changes the session's settings; turning real time off closes every socket. */
  async updateSettings(sessionId: string, actor: Actor, patch: SettingsPatch): Promise<SettingsResult> {
    await this.#enter(sessionId);
    if (actor.role !== "gm") return fail("forbidden", "only a GM may change the settings");
    if (this.#moving) return movingFailure();
    const limited = await this.#admit(sessionId, actor, 1);
    if (limited) return limited;
    return this.#serial(async () => {
      const { before, after } = await this.#settings.update(sessionId, patch);
      this.#hub.sendToAll({ type: "settings", settings: after });
      if (before.realtime && !after.realtime) {
        for (const ws of this.ctx.getWebSockets()) {
          await this.#hub.drop(ws, CLOSE_CODES.realtime_off, "real time is off for this session: poll changes", {
            type: "realtime_off",
            poll_interval_ms: after.poll_interval_ms,
          });
        }
      }
      return { ok: true, settings: after };
    });
  }

  // ---- moves (move.ts) ---------------------------------------------------------------------------

  /**
   * Moves the session's rows to the shard `target` and flips the directory and this object to it;
   * writes are refused (503, retried by clients) meanwhile. The old copy is deleted by the alarm
   * once no isolate can still trust a cached directory entry pointing at it.
   */
  /**
   * Whether a move of this session is running now. The worker asks when the directory says
   * "moving", before a write it makes to the shard itself (uploads, imports, acks, the invite code):
   * refused while it runs, let through when the "moving" was left by a move that died.
   */
  async isMoving(sessionId: string): Promise<boolean> {
    this.#bind(sessionId);
    return this.#moving;
  }

  async move(sessionId: string, target: string): Promise<MoveResult> {
    await this.#enter(sessionId);
    return moveSession(
      {
        env: this.env,
        shard: () => this.shard,
        setShard: (name) => this.setShard(name),
        isMoving: () => this.#moving,
        freeze: (on) => {
          this.#moving = on;
        },
        serial: (work) => this.#serial(work),
        settle: async () => {
          if (!(await this.writeLog.drained())) return false;
          // Buffered acks and activity go to the old shard now, before it is copied.
          for (let i = 0; i < 100 && !this.#pending.isEmpty(); i++) await this.#pending.flush(this.#db(), sessionId);
          return this.#pending.isEmpty();
        },
        paused: () => this.movePause ?? Promise.resolve(),
        markFlip: (flip) => {
          if (flip) this.ctx.storage.kv.put("move_flip", flip);
          else this.ctx.storage.kv.delete("move_flip");
        },
        flipped: () => this.#locks.forget(),
        scheduleCleanup: async (shard, at) => {
          this.ctx.storage.kv.put("move_cleanups", { ...this.#cleanupPlan(), [shard]: at });
          await this.#scheduleAlarm(at);
        },
        cancelCleanup: (shard) => {
          const { [shard]: _dropped, ...rest } = this.#cleanupPlan();
          this.ctx.storage.kv.put("move_cleanups", rest);
        },
      },
      sessionId,
      target,
    );
  }

  /** Old copies of the session on shards it moved away from, and when each is deleted. */
  #cleanupPlan(): CleanupPlan {
    return this.ctx.storage.kv.get<CleanupPlan>("move_cleanups") ?? {};
  }

  /** Deletes the old copies whose time has come (the alarm's turn); when the next one is due. */
  async #runMoveCleanups(sessionId: string): Promise<number | undefined> {
    const plan = this.#cleanupPlan();
    if (Object.keys(plan).length === 0) return undefined;
    const left = await runCleanups(this.env, sessionId, this.shard, plan, Date.now());
    this.ctx.storage.kv.put("move_cleanups", left);
    const times = Object.values(left);
    return times.length > 0 ? Math.min(...times) : undefined;
  }

  // ---- sockets (socket-hub.ts) ------------------------------------------------------------------

  /** The connected clients: the live sockets are the truth, D1 and the buffer add last_seen. */
  async listClients(sessionId: string): Promise<ClientRecord[]> {
    return this.#hub.listClients(sessionId);
  }

  /** Closes the sockets of `userId` opened with the credentials the filter names; how many were closed. */
  async closeCredentialSockets(sessionId: string, userId: string, filter: CredentialFilter, reason: string): Promise<number> {
    return this.#hub.closeCredentialSockets(sessionId, userId, filter, reason);
  }

  override async fetch(request: Request): Promise<Response> {
    if (this.#moving) {
      // A socket's upgrade writes its client row: refused while the session moves, retried by the client.
      const failure = movingFailure();
      return Response.json(errorBody(failure), { status: 503, headers: { "Retry-After": "1" } });
    }
    return this.#hub.fetch(request);
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    await this.#hub.message(ws, raw);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    await this.#hub.close(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    await this.#hub.error(ws, error);
  }

  /** The read of D1 a resume's replay makes (tests slow it down to write meanwhile). */
  get replayRead(): SocketHub["readD1"] {
    return this.#hub.readD1;
  }

  set replayRead(read: SocketHub["readD1"]) {
    this.#hub.readD1 = read;
  }

  /** Changes held per resuming socket past which it gets `reload` instead (tests lower it). */
  get resumeHoldMax(): number {
    return this.#hub.resumeHoldMax;
  }

  set resumeHoldMax(count: number) {
    this.#hub.resumeHoldMax = count;
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

  /** Adds what D1 did for a commit to the aggregate (or Analytics Engine), as `#countSave` does a save. */
  #countCommit(usage: D1Usage): void {
    // Called as the commit lands: a failure here must never look like the commit's.
    try {
      if (writeUsagePoint(this.env, usage)) return;
      if (this.saveMetrics.addCommit(usage)) {
        this.#scheduleAlarm(Date.now() + SAVE_FLUSH_MS).catch((error) => logError("setting the alarm failed", error));
      }
    } catch (error) {
      logError("counting a D1 commit failed", error);
    }
  }

  /** Writes the counted saves to D1 (one statement); on failure they stay for the next alarm. */
  async #flushSaveMetrics(): Promise<void> {
    try {
      await this.saveMetrics.flush(this.env.DB); // counters live in the directory
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
    if (this.shard === undefined) await this.#learnShard(sessionId);
    await this.#finishFlip(sessionId);
    await this.writeLog.retry();
    // During a move the buffer waits: it goes to the old shard before the copy, or to the new one after.
    if (!this.#moving) await this.#pending.flush(this.#db(), sessionId);
    const lockExpiry = await this.#locks.expire(sessionId);
    const cleanupAt = this.#moving ? undefined : await this.#runMoveCleanups(sessionId);
    const credentialExpiry = await this.#hub.closeExpired(Date.now());
    // Batches still logged: the next retry, or a safety wake-up.
    const retryAt = this.writeLog.retryAt;
    const logged = this.writeLog.size === 0 ? undefined : retryAt > Date.now() ? retryAt : Date.now() + SAFETY_ALARM_MS;
    const metrics = this.saveMetrics.isEmpty() ? undefined : Date.now() + SAVE_FLUSH_MS;
    const next = [
      lockExpiry,
      this.#pending.isEmpty() ? undefined : Date.now() + ACK_FLUSH_MS,
      credentialExpiry,
      logged,
      metrics,
      cleanupAt,
    ].filter((t): t is number => t !== undefined);
    if (next.length > 0) await this.#scheduleAlarm(Math.min(...next));
  }
}
