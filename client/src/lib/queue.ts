/**
 * The authoring queue. Each GM action becomes a `QueuedOp` with a client-chosen UUID; `enqueue`
 * shows it at once (the store overlays pending ops on the server's state), persists it to
 * IndexedDB, and only then lets the sync loop send it. The loop flushes persisted ops in order,
 * up to 500 a batch, through `POST {S}/batch`:
 *
 * - success: the results are applied to the store and the ops leave the queue;
 * - no answer, 5xx, 423, 429: the ops stay and are resent after a jittered exponential backoff.
 *   The server remembers op ids, so a resend after a lost response returns the first result and
 *   never applies an op twice;
 * - 409: the loop pauses and exposes the conflict (the op and the server's entity, fetched
 *   fresh) until `resolve` replaces or drops the op;
 * - 400/403/404/413 naming an op (or a batch of one): paused with the op `rejected` until it is
 *   dropped; a batch that is rejected as a whole is split until the culprit is found;
 * - 401: paused until `resume` (after signing in again).
 */

import type { JsonObject } from "../../../domain/merge-patch";
import type { ChangeOpName } from "../../../domain/protocol";
import { ApiError } from "./api";
import { plain } from "./authoring";
import { applyResolution, type Conflict, type Resolution } from "./conflict";
import { backoffDelay, defaultTimers, type Timers } from "./transport";
import type { AnyEntity, BatchOp, BatchResponse, EntityType } from "./types";

export const MAX_BATCH_OPS = 500;

export interface QueuedOp {
  /** The batch `op_id`: a UUID, the op's identity on the server forever. */
  uuid: string;
  entity_type: EntityType;
  op: ChangeOpName;
  /** The entity's id; client-chosen for a create. */
  id: string;
  /** create: the data; update: a JSON Merge Patch; archive and restore: `{}`. */
  payload: JsonObject;
  /** The version the op applies to (`null` for a create). */
  base_version: number | null;
  /** When it was authored (ms, from the injected clock). */
  created_at: number;
  /** Ops enqueued together (`enqueueAll`) share a group and are sent in one batch: all apply or none. */
  group?: string;
}

export type OpInput = Omit<QueuedOp, "uuid" | "created_at">;

export function toBatchOp(op: QueuedOp): BatchOp {
  const out: BatchOp = { op_id: op.uuid, entity_type: op.entity_type, op: op.op, id: op.id };
  if (op.op === "create" || op.op === "update") out.data = op.payload;
  if (op.base_version !== null) out.base_version = op.base_version;
  return out;
}

export function entityKey(type: EntityType, id: string): string {
  return `${type}:${id}`;
}

/**
 * The base version of a new op on an entity: the version the last pending op on it will produce
 * (a chain: base+1, 1 after a create), else the server's version. Counting from the pending ops,
 * not from the server, keeps the chain right while a sent op's result is still on its way.
 */
export function nextBaseVersion(ops: readonly QueuedOp[], type: EntityType, id: string, serverVersion: number | null): number | null {
  for (let i = ops.length - 1; i >= 0; i--) {
    const op = ops[i];
    if (op && op.entity_type === type && op.id === id) return op.base_version === null ? 1 : op.base_version + 1;
  }
  return serverVersion;
}

export type QueueStatus = "idle" | "sending" | "waiting" | "paused";

export interface Rejection {
  op: QueuedOp;
  error: { status: number; code: string; message: string };
}

export interface QueueState {
  status: QueueStatus;
  /** Ops not yet confirmed by the server, in order. */
  ops: readonly QueuedOp[];
  conflict: Conflict | null;
  rejected: Rejection | null;
  /** Paused for a reason other than a conflict or a rejection (`unauthorized`). */
  pausedReason: "unauthorized" | null;
  /** Consecutive failed attempts; the next retry is at `retryAt` (ms). */
  attempt: number;
  retryAt: number | null;
  lastError: string | null;
}

export interface QueueStorage {
  appendOp(op: QueuedOp): Promise<void>;
  /** Several ops in one transaction: all stored or none (one action must not survive in part). */
  appendOps?(ops: readonly QueuedOp[]): Promise<void>;
  removeOps(uuids: string[]): Promise<void>;
  replaceOp(uuid: string, next: QueuedOp): Promise<void>;
}

export interface QueueMetric {
  name: "conflict" | "conflict_resolved";
  entity_type: EntityType;
  entity_id: string;
  op_id: string;
  resolution?: Resolution["choice"];
  duration_ms?: number;
}

export interface QueueDeps {
  storage: QueueStorage;
  sendBatch(ops: BatchOp[]): Promise<BatchResponse>;
  /** The server's current entity, or null when it is gone or out of view (404). */
  fetchEntity(type: EntityType, id: string): Promise<AnyEntity | null>;
  /** Results of applied ops and server entities of resolved conflicts, for the store. */
  onApplied(entities: { type: EntityType; entity: AnyEntity }[]): void;
  /** Every change of the queue's state (ops, status, conflict). */
  onState?(state: QueueState): void;
  reportMetric?(metric: QueueMetric): void;
  timers?: Timers;
  random?: () => number;
  now?: () => number;
  uuid?: () => string;
  /** Backoff of retries: base and cap in ms. */
  retryBaseMs?: number;
  retryMaxMs?: number;
}

export interface Queue {
  state(): QueueState;
  /** Shows the op at once, persists it, and resolves once it is persisted (then it is sent). */
  enqueue(input: OpInput): Promise<QueuedOp>;
  /**
   * Several ops as one action (a library drop, a fog stroke): shown at once, persisted, then sent
   * in one batch, so the server applies all of them or none.
   */
  enqueueAll(inputs: readonly OpInput[]): Promise<QueuedOp[]>;
  /** Starts sending (also after `stop`); a pending backoff is cut short. */
  kick(): void;
  /** Applies a conflict resolution (from `conflict.ts`) and resumes. */
  resolve(resolution: Resolution): Promise<void>;
  /** Drops the rejected op and resumes. */
  dropRejected(): Promise<void>;
  /** Resumes after `unauthorized`. */
  resume(): void;
  stop(): void;
  /** Resolves when the loop is idle or paused with nothing in flight (tests, shutdown). */
  settled(): Promise<void>;
}

interface Entry {
  op: QueuedOp;
  persisted: boolean;
}

export function createQueue(deps: QueueDeps, initial: readonly QueuedOp[] = []): Queue {
  const timers = deps.timers ?? defaultTimers;
  const random = deps.random ?? Math.random;
  const now = deps.now ?? Date.now;
  const uuid = deps.uuid ?? (() => crypto.randomUUID());
  const retryBaseMs = deps.retryBaseMs ?? 1000;
  const retryMaxMs = deps.retryMaxMs ?? 60_000;

  let entries: Entry[] = initial.map((op) => ({ op, persisted: true }));
  let status: QueueStatus = "idle";
  let conflict: Conflict | null = null;
  let rejected: Rejection | null = null;
  let pausedReason: QueueState["pausedReason"] = null;
  let attempt = 0;
  let retryAt: number | null = null;
  let retryTimer: unknown = null;
  let lastError: string | null = null;
  let stopped = false;
  let running: Promise<void> | null = null;
  let again = false;
  /** Shrinks when the server refuses a batch as a whole (413, 400 naming no op). */
  let batchLimit = MAX_BATCH_OPS;

  const snapshot = (): QueueState => ({
    status,
    ops: entries.map((e) => e.op),
    conflict,
    rejected,
    pausedReason,
    attempt,
    retryAt,
    lastError,
  });
  const emit = () => deps.onState?.(snapshot());

  function cancelRetry() {
    if (retryTimer !== null) timers.clearTimeout(retryTimer);
    retryTimer = null;
    retryAt = null;
  }

  // A function, not an inline test: TypeScript would narrow `status` across the awaits that change it.
  const halted = () => status === "paused" || status === "waiting";

  /** Runs the loop unless it is paused, backing off or stopped. */
  function start() {
    if (stopped || halted()) return;
    // Asked while the loop runs (or is just finishing): it looks at the queue once more.
    again = true;
    if (running) return;
    running = (async () => {
      while (again && !stopped && !halted()) {
        again = false;
        await loop();
      }
    })().finally(() => {
      running = null;
    });
  }

  /** Sends now: cuts a pending backoff short (not a pause). */
  function retryNow() {
    if (status === "paused") return;
    if (status === "waiting") {
      cancelRetry();
      status = "idle";
    }
    start();
  }

  function kick() {
    stopped = false;
    retryNow();
  }

  async function loop(): Promise<void> {
    while (!stopped) {
      const batch = sendable();
      if (batch.length === 0) {
        status = "idle";
        emit();
        return;
      }
      status = "sending";
      emit();
      let response: BatchResponse;
      try {
        response = await deps.sendBatch(batch.map(toBatchOp));
      } catch (error) {
        await handleFailure(batch, error);
        if (halted()) return;
        continue;
      }
      attempt = 0;
      lastError = null;
      batchLimit = MAX_BATCH_OPS;
      const byId = new Map(response.results.map((r) => [r.op_id, r.entity]));
      const applied = batch.flatMap((op) => {
        const entity = byId.get(op.uuid);
        return entity ? [{ type: op.entity_type, entity }] : [];
      });
      deps.onApplied(applied);
      const sent = new Set(batch.map((op) => op.uuid));
      entries = entries.filter((e) => !sent.has(e.op.uuid));
      emit();
      // A crash before this delete resends the ops on the next boot: harmless, they are idempotent.
      await deps.storage.removeOps([...sent]).catch(() => undefined);
    }
  }

  /** The persisted ops at the head of the queue, in order: an unpersisted op holds back those after it. */
  function sendable(): QueuedOp[] {
    const out: QueuedOp[] = [];
    for (let i = 0; i < entries.length; ) {
      const e = entries[i];
      if (!e?.persisted || out.length >= batchLimit) break;
      // A group goes whole: it waits for the next batch rather than being split, and a smaller
      // limit after a refusal never cuts it (only a group larger than a batch may be is split).
      let end = i + 1;
      if (e.op.group !== undefined) while (entries[end]?.op.group === e.op.group) end++;
      if (out.length > 0 && out.length + (end - i) > batchLimit) break;
      for (const member of entries.slice(i, Math.min(end, i + MAX_BATCH_OPS))) out.push(member.op);
      i = end;
    }
    return out;
  }

  async function handleFailure(batch: QueuedOp[], error: unknown): Promise<void> {
    const apiError = error instanceof ApiError ? error : null;
    const code = apiError?.status ?? 0;
    lastError = error instanceof Error ? error.message : String(error);

    if (code === 409) {
      const opId = apiError?.details?.op_id;
      const op = batch.find((o) => o.uuid === opId) ?? batch[0];
      if (op) return pauseOnConflict(op, apiError?.details?.current);
    }
    if (code === 401) {
      pause("unauthorized");
      return;
    }
    if (code === 400 || code === 403 || code === 404 || code === 413) {
      const opId = apiError?.details?.op_id;
      const named = batch.find((o) => o.uuid === opId);
      const oneGroup = batch[0]?.group !== undefined && batch.every((o) => o.group === batch[0]?.group);
      if (!named && batch.length > 1 && !oneGroup) {
        // Refused as a whole: halve the batch until the op at fault stands alone.
        batchLimit = Math.max(1, Math.floor(batch.length / 2));
        return;
      }
      const op = named ?? batch[0];
      if (op && apiError) {
        rejected = { op, error: { status: apiError.status, code: apiError.code, message: apiError.message } };
        pause(null);
        return;
      }
    }
    // No answer, 5xx, 423 (a lock that will expire), 429: keep the ops and try again later.
    const delay = Math.max(apiError?.retryAfterMs ?? 0, backoffDelay(attempt, random, retryBaseMs, retryMaxMs));
    attempt += 1;
    status = "waiting";
    retryAt = now() + delay;
    retryTimer = timers.setTimeout(() => {
      retryTimer = null;
      retryNow();
    }, delay);
    emit();
  }

  function pause(reason: QueueState["pausedReason"]) {
    status = "paused";
    pausedReason = reason;
    emit();
  }

  async function pauseOnConflict(op: QueuedOp, reported: unknown): Promise<void> {
    status = "paused";
    emit();
    // The 409 names the entity as it was when the batch ran; a fresh read is what the GM
    // resolves against. Offline, the reported one is the best there is.
    let server: AnyEntity | null;
    try {
      server = await deps.fetchEntity(op.entity_type, op.id);
    } catch {
      server = isEntity(reported) ? reported : null;
    }
    // The later queued edits of the entity conflict too: shown and resolved with it, never sent as they are.
    const at = entries.findIndex((e) => e.op === op);
    const related = entries
      .slice(at + 1)
      .map((e) => e.op)
      .filter((o) => o.entity_type === op.entity_type && o.id === op.id);
    const dependents = entries.filter((e) => e.op !== op && e.op.entity_type === op.entity_type && e.op.id === op.id).length;
    conflict = { op, server, detectedAt: now(), dependents, ...(related.length > 0 ? { related } : {}) };
    deps.reportMetric?.({ name: "conflict", entity_type: op.entity_type, entity_id: op.id, op_id: op.uuid });
    emit();
  }

  async function enqueue(input: OpInput): Promise<QueuedOp> {
    const op: QueuedOp = { ...input, uuid: uuid(), created_at: now() };
    const entry: Entry = { op, persisted: false };
    entries = [...entries, entry];
    emit();
    try {
      await deps.storage.appendOp(op);
    } catch (error) {
      entries = entries.filter((e) => e !== entry);
      emit();
      throw error;
    }
    entry.persisted = true;
    start();
    return op;
  }

  async function enqueueAll(inputs: readonly OpInput[]): Promise<QueuedOp[]> {
    if (inputs.length === 0) return [];
    const group = inputs.length > 1 ? uuid() : undefined;
    const added: Entry[] = inputs.map((input) => ({
      op: { ...input, uuid: uuid(), created_at: now(), ...(group ? { group } : {}) },
      persisted: false,
    }));
    entries = [...entries, ...added];
    emit();
    try {
      if (deps.storage.appendOps) await deps.storage.appendOps(added.map((e) => e.op));
      else for (const entry of added) await deps.storage.appendOp(entry.op);
    } catch (error) {
      // None of the group may go alone: take back what was stored.
      await deps.storage.removeOps(added.map((e) => e.op.uuid)).catch(() => undefined);
      entries = entries.filter((e) => !added.includes(e));
      emit();
      throw error;
    }
    for (const entry of added) entry.persisted = true;
    start();
    return added.map((e) => e.op);
  }

  async function resolve(resolution: Resolution): Promise<void> {
    const current = conflict;
    if (!current) throw new Error("there is no conflict to resolve");
    // A resolution is built from what the dialog shows, which may be reactive UI state (proxies
    // IndexedDB refuses to clone): the op it brings into the queue is copied as plain JSON first.
    const chosen: Resolution = resolution.kind === "replace" ? { ...resolution, op: plain(resolution.op) } : resolution;
    const next = applyResolution(
      entries.map((e) => e.op),
      current,
      chosen,
    );
    // The queue takes the resolution at once, so an edit made while it is being stored lands
    // behind it (and chains on the resolved versions); the replaced ops are not sent before they
    // are stored, and the queue stays paused until then.
    const previous = new Map(entries.map((e) => [e.op.uuid, e]));
    const replacedIds = new Set(next.replaced.map((r) => r.op.uuid));
    const resolved: Entry[] = next.ops.map((op) =>
      replacedIds.has(op.uuid) ? { op, persisted: false } : (previous.get(op.uuid) ?? { op, persisted: true }),
    );
    entries = resolved;
    emit();
    for (const { uuid: replacedId, op } of next.replaced) await deps.storage.replaceOp(replacedId, op);
    if (next.removed.length > 0) await deps.storage.removeOps(next.removed);
    for (const entry of resolved) if (replacedIds.has(entry.op.uuid)) entry.persisted = true;

    if (current.server) deps.onApplied([{ type: current.op.entity_type, entity: current.server }]);
    deps.reportMetric?.({
      name: "conflict_resolved",
      entity_type: current.op.entity_type,
      entity_id: current.op.id,
      op_id: current.op.uuid,
      resolution: resolution.choice,
      duration_ms: Math.max(0, now() - current.detectedAt),
    });
    conflict = null;
    status = "idle";
    emit();
    retryNow();
  }

  async function dropRejected(): Promise<void> {
    if (!rejected) return;
    const { op } = rejected;
    // One action is dropped whole: the rest of its group must not apply without it.
    const dropped = entries
      .filter((e) => e.op.uuid === op.uuid || (op.group !== undefined && e.op.group === op.group))
      .map((e) => e.op.uuid);
    await deps.storage.removeOps(dropped);
    entries = entries.filter((e) => !dropped.includes(e.op.uuid));
    rejected = null;
    batchLimit = MAX_BATCH_OPS;
    status = "idle";
    emit();
    retryNow();
  }

  function resume() {
    if (conflict || rejected) return;
    pausedReason = null;
    if (status === "paused") status = "idle";
    attempt = 0;
    retryNow();
  }

  function stop() {
    stopped = true;
    cancelRetry();
  }

  async function settled(): Promise<void> {
    while (running) await running;
  }

  return { state: snapshot, enqueue, enqueueAll, kick, resolve, dropRejected, resume, stop, settled };
}

function isEntity(value: unknown): value is AnyEntity {
  return typeof value === "object" && value !== null && typeof (value as { id?: unknown }).id === "string";
}
