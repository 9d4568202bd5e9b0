/**
 * The session's write queue: every mutation runs through `serial`, one job at a time (awaiting D1
 * opens the object's input gate, so without it two requests could interleave between reading a
 * version and committing the next one).
 *
 * Writes wait in a list and are taken by the queue in groups: consecutive writes of the same
 * actor that piled up while the object was busy are planned as one batch and committed in one D1
 * batch (group commit), so a GM writing faster than D1 answers pays its round trips once per group
 * instead of once per write. Each write still gets its own result and seq (the seq after its own
 * changes), and when the group cannot go through as one (a conflict, a lock, a replay of an earlier
 * write, a failed commit), its writes are applied one by one, each atomic on its own. An idle
 * object takes a write alone, at once. A planned batch is logged (write-behind.ts), broadcast, and
 * the writer is answered once D1 holds it.
 */
import type { Failure } from "../../domain/errors";
import { MAX_BATCH_OPS } from "../../domain/ops";
import type { Actor } from "../../domain/permissions";
import type { Change, InternalOp, OpResult, Plan } from "../../domain/plan";
import { isVisibleToPlayer } from "../../domain/visibility";
import { type Db, nowIso } from "../db/client";
import { attachRelated } from "../db/reads";
import { logError } from "../lib/log";
import { registry } from "../registry";
import type { EntityCache } from "./entity-cache";
import type { LockTable } from "./lock-table";
import { D1Behind, notYetInD1 } from "./write-backlog";
import { type LogEntry, SAFETY_ALARM_MS, type WriteBehind, within } from "./write-behind";
import { planBatch } from "./write-plan";

/** `bookmark`: the D1 bookmark of the shard once the write landed (db/replicas.ts), when known. */
export type WriteResult = { ok: true; seq: number; results: OpResult[]; bookmark?: string } | Failure;

/** A write waiting in the queue. */
interface QueuedWrite {
  actor: Actor;
  ops: InternalOp[];
  resolve: (result: WriteResult) => void;
  reject: (error: unknown) => void;
}

/** Writes committed together at most (and never more than MAX_BATCH_OPS ops). */
const GROUP_MAX_WRITES = 64;

/** What the queue needs of the object. */
export interface WriteQueueHost {
  db(): Db;
  writeLog: WriteBehind;
  /** Entities as the object last committed them: planning reads them instead of D1. */
  entities: EntityCache;
  currentSeq(sessionId: string): Promise<number>;
  /** Bumped when the log's seqs were moved: a plan made before is planned again. */
  logEpoch(): number;
  lockTable(sessionId: string): Promise<LockTable>;
  /** A batch was logged: the object's seq and caches follow it. */
  remember(lastSeq: number, changes: readonly Change[]): void;
  /** A plan or commit failed: the caches derived from D1 start again. */
  forgetCaches(): void;
  broadcast(changes: readonly Change[]): void;
  scheduleAlarm(at: number): Promise<void>;
}

/**
 * The seq each write of a group answers with: the seq after its own ops, as if it had run alone
 * after the writes before it. Undefined when a write has no op of its own in the plan (every op a
 * replay of an earlier write): such a group is applied one write at a time instead.
 */
function seqsOfWrites(group: readonly QueuedWrite[], plan: Plan): number[] | undefined {
  const seqOf = new Map(plan.applied.map((a) => [a.op_id, a.seq]));
  const seqs: number[] = [];
  for (const w of group) {
    const own = w.ops.map((op) => seqOf.get(op.op_id)).filter((s): s is number => s !== undefined);
    if (own.length === 0) return undefined;
    seqs.push(Math.max(...own));
  }
  return seqs;
}

export class WriteQueue {
  readonly #host: WriteQueueHost;
  #tail: Promise<unknown> = Promise.resolve();
  readonly #writes: QueuedWrite[] = [];
  #writesScheduled = false;

  constructor(host: WriteQueueHost) {
    this.#host = host;
  }

  /** Runs `work` after every earlier queued job, one at a time. */
  serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(work, work);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** Queues a write (already admitted) and answers it once D1 holds it. */
  enqueue(sessionId: string, actor: Actor, ops: InternalOp[]): Promise<WriteResult> {
    return new Promise<WriteResult>((resolve, reject) => {
      this.#writes.push({ actor, ops, resolve, reject });
      this.#scheduleWrites(sessionId);
    });
  }

  #scheduleWrites(sessionId: string): void {
    if (this.#writesScheduled) return;
    this.#writesScheduled = true;
    this.serial(() => this.#drainWrites(sessionId)).catch((error) => logError("write queue job failed", error));
  }

  /** One queue job: takes the next group of writes; the rest get a job of their own after it. */
  async #drainWrites(sessionId: string): Promise<void> {
    this.#writesScheduled = false;
    const group = this.#takeGroup();
    if (this.#writes.length > 0) this.#scheduleWrites(sessionId);
    try {
      if (group.length === 1 && group[0]) {
        const write = group[0];
        const { result, entry } = await this.#apply(sessionId, write.actor, write.ops, true);
        this.#answer(write, result, entry);
      } else if (group.length > 1) {
        await this.#applyGroup(sessionId, group);
      }
    } catch (error) {
      // Settling twice is a no-op: only the writes still waiting get the error.
      for (const w of group) {
        if (error instanceof D1Behind) w.resolve(notYetInD1(false));
        else w.reject(error);
      }
    }
  }

  /**
   * Answers a write once D1 holds everything logged so far (its own batch included): an answered
   * write is in D1. If D1 does not confirm within the answer timeout, a 503 instead; the batch
   * stays logged and lands when D1 is back (a client's op ids make its retry a replay).
   */
  #answer(write: QueuedWrite, result: WriteResult, entry: LogEntry | undefined): void {
    const log = this.#host.writeLog;
    within(log.barrier(), log.answerTimeoutMs).then(
      (landed) => {
        // An ok result was applied (or is the replay of an op that was): it is logged and will land.
        if (!landed) write.resolve(result.ok ? notYetInD1(true) : result);
        else if (!result.ok) write.resolve(result);
        else {
          // A read sent with this bookmark sees the write (and all before it).
          const bookmark = log.bookmark;
          write.resolve({
            ...result,
            ...(entry && entry.shift !== 0 ? { seq: result.seq + entry.shift } : {}),
            ...(bookmark ? { bookmark } : {}),
          });
        }
      },
      (error) => write.reject(error),
    );
  }

  /**
   * Logs a planned batch (the output gate holds every message until it is durable), updates the
   * caches (pinned until D1 holds it) and starts the flusher. Nothing to log: a plan of replays.
   */
  #logPlan(plan: Plan, previousSeq: number, now: string): LogEntry | undefined {
    if (plan.changes.length === 0 && plan.applied.length === 0) return undefined;
    const log = this.#host.writeLog;
    const entry = log.append(plan, previousSeq, now);
    // The log was empty: an alarm makes sure it reaches D1 even if the object is evicted now.
    if (log.size === 1)
      this.#host.scheduleAlarm(Date.now() + SAFETY_ALARM_MS).catch((error) => logError("setting the alarm failed", error));
    this.#host.remember(plan.lastSeq, plan.changes);
    this.#host.entities.pin(plan.changes, plan.applied);
    return entry;
  }

  #takeGroup(): QueuedWrite[] {
    const first = this.#writes[0];
    if (!first) return [];
    let count = 0;
    let ops = 0;
    for (const w of this.#writes) {
      if (count >= GROUP_MAX_WRITES || w.actor.userId !== first.actor.userId || w.actor.role !== first.actor.role) break;
      if (count > 0 && ops + w.ops.length > MAX_BATCH_OPS) break;
      count += 1;
      ops += w.ops.length;
    }
    return this.#writes.splice(0, count);
  }

  /** Plans and commits a group as one batch, or falls back to one write at a time. */
  async #applyGroup(sessionId: string, group: QueuedWrite[]): Promise<void> {
    const [first] = group;
    if (!first) return;
    const host = this.#host;
    const actor = first.actor;
    let done: { seqs: number[]; plan: Plan; locks: LockTable; entry: LogEntry | undefined } | undefined;
    try {
      const db = host.db();
      const seq = await host.currentSeq(sessionId);
      const epoch = host.logEpoch();
      const locks = await host.lockTable(sessionId);
      const now = nowIso();
      const ops = group.flatMap((w) => w.ops);
      const planned = await planBatch(db, sessionId, actor, ops, seq, now, locks.guard(actor, Date.parse(now)), host.entities);
      const seqs = planned.ok ? seqsOfWrites(group, planned.plan) : undefined;
      if (planned.ok && seqs && epoch === host.logEpoch()) {
        done = { seqs, plan: planned.plan, locks, entry: this.#logPlan(planned.plan, seq, now) };
      }
    } catch (error) {
      if (error instanceof D1Behind) throw error;
      host.forgetCaches();
      logError("group plan failed; applying its writes one by one", error);
    }
    if (!done) {
      for (const w of group) {
        await this.#apply(sessionId, w.actor, w.ops, true).then(
          ({ result, entry }) => this.#answer(w, result, entry),
          (error) => (error instanceof D1Behind ? w.resolve(notYetInD1(false)) : w.reject(error)),
        );
      }
      return;
    }
    await this.#afterCommit(actor, await this.#withRevealed(sessionId, done.plan.changes), done.locks);
    let offset = 0;
    group.forEach((w, i) => {
      const results = done.plan.results.slice(offset, offset + w.ops.length);
      offset += w.ops.length;
      this.#answer(w, { ok: true, seq: done.seqs[i] ?? done.plan.lastSeq, results }, done.entry);
    });
  }

  /**
   * Plans a write on top of the object's state and logs it (write-behind.ts): the writer is
   * answered by `#answer` once D1 holds it. A plan made while the log's seqs moved (D1 moved on
   * without this object) is made again once.
   */
  async #apply(
    sessionId: string,
    actor: Actor,
    ops: InternalOp[],
    mayRetry: boolean,
  ): Promise<{ result: WriteResult; entry?: LogEntry | undefined }> {
    const host = this.#host;
    const db = host.db();
    const seq = await host.currentSeq(sessionId);
    const epoch = host.logEpoch();
    const locks = await host.lockTable(sessionId);
    const now = nowIso();
    const planned = await planBatch(db, sessionId, actor, ops, seq, now, locks.guard(actor, Date.parse(now)), host.entities);
    if (!planned.ok) return { result: planned };
    const { plan } = planned;
    if (epoch !== host.logEpoch()) {
      if (mayRetry) return this.#apply(sessionId, actor, ops, false);
      throw new Error("the write log was renumbered twice while a write was planned");
    }
    const entry = this.#logPlan(plan, seq, now);
    await this.#afterCommit(actor, await this.#withRevealed(sessionId, plan.changes), locks);
    return { result: { ok: true, seq: plan.replayedSeq ?? plan.lastSeq, results: plan.results }, entry };
  }

  /**
   * A token that comes into players' view carries what hangs on it (`attachRelated`), as this
   * object last wrote it (D1 may be behind its log, or not hold it yet at all), judged by the view players have after the
   * change (projected for them when broadcast).
   */
  async #withRevealed(sessionId: string, changes: readonly Change[]): Promise<readonly Change[]> {
    try {
      return await attachRelated(
        this.#host.db(),
        sessionId,
        changes,
        (c) => (c.type === "token" && !c.visibleBefore && c.visibleAfter && !c.activation ? c.id : undefined),
        (c) => (type, entity) => (c.playerView && isVisibleToPlayer(registry, type, entity, c.playerView) ? entity : null),
        (c, related) => ({ ...c, related }),
        { fresher: (type, entity) => this.#host.entities.get(type, entity.id) ?? entity, pending: () => this.#host.entities.pinned() },
      );
    } catch (error) {
      // The write is logged: players then get the token without what hangs on it until they reload.
      logError("loading what a revealed token carries failed", error);
      return changes;
    }
  }

  /** What follows every logged batch: the broadcast and the writer's lock activity. Never throws: the write is logged. */
  async #afterCommit(actor: Actor, changes: readonly Change[], locks: LockTable): Promise<void> {
    try {
      this.#host.broadcast(changes);
      if (actor.role === "gm" && changes.length > 0) await locks.touch(actor.userId, Date.now());
    } catch (error) {
      logError("after-commit work failed", error);
    }
  }
}
