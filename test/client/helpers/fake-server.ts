/**
 * An in-memory stand-in for one session on the server, behind the `SessionApi` the sync layer
 * calls: versions, a seq per change, `changes?since` (latest state per entity, 304 with a
 * matching If-None-Match, 410 below the log floor), and batches that are atomic, check
 * `base_version` (409 with `details: {op_id, current}`) and remember op ids (a replay returns the
 * first result). Tests script failures per call: no answer, or "applied but the answer was lost".
 */
import type { SessionApi } from "../../../client/src/lib/api";
import { ApiError } from "../../../client/src/lib/api";
import type {
  AnyEntity,
  BatchOp,
  BatchResponse,
  ChangeRow,
  ChangesResponse,
  EntityType,
  SessionSettings,
  SessionSnapshot,
} from "../../../client/src/lib/types";
import { applyMergePatch, type Json } from "../../../domain/merge-patch";
import { sessionState } from "./fixtures";

type Method = keyof SessionApi;
type Failure = "network" | "lost" | ApiError;

const NOW = "2025-01-02T00:00:00.000Z";

export class FakeServer implements SessionApi {
  seq = 0;
  floor = 0;
  role: "gm" | "player" = "gm";
  settings: SessionSettings = {};
  readonly entities = new Map<string, { type: EntityType; entity: AnyEntity }>();
  readonly log: ChangeRow[] = [];
  readonly results = new Map<string, AnyEntity>();
  /** Ops actually applied (a replay is not counted). */
  appliedOps = 0;
  readonly calls: { method: Method; args: unknown[] }[] = [];
  readonly #failures = new Map<Method, Failure[]>();
  readonly #held = new Map<Method, (() => void)[]>();
  #holding = new Set<Method>();

  constructor() {
    this.put("session_state", sessionState(1) as AnyEntity);
  }

  /** Stores an entity as a new change (test setup, or "another GM" writing). */
  put(type: EntityType, entity: AnyEntity, op: ChangeRow["op"] = "update"): AnyEntity {
    this.seq += 1;
    this.entities.set(`${type}:${entity.id}`, { type, entity });
    this.log.push({ seq: this.seq, entity_type: type, entity_id: entity.id, version: entity.version, op, entity });
    return entity;
  }

  /** Another client edits an entity: next version, merged fields. */
  edit(type: EntityType, id: string, patch: Record<string, unknown>): AnyEntity {
    const current = this.get(type, id);
    if (!current) throw new Error(`no ${type} ${id}`);
    const next = { ...(applyMergePatch(current as Json, patch as Json) as AnyEntity), version: current.version + 1 };
    return this.put(type, next);
  }

  get(type: EntityType, id: string): AnyEntity | undefined {
    return this.entities.get(`${type}:${id}`)?.entity;
  }

  failNext(method: Method, ...failures: Failure[]): void {
    this.#failures.set(method, [...(this.#failures.get(method) ?? []), ...failures]);
  }

  /** Calls of `method` wait until `release`. */
  hold(method: Method): void {
    this.#holding.add(method);
  }

  release(method: Method): void {
    this.#holding.delete(method);
    for (const go of this.#held.get(method) ?? []) go();
    this.#held.delete(method);
  }

  callsOf(method: Method): unknown[][] {
    return this.calls.filter((c) => c.method === method).map((c) => c.args);
  }

  async #enter(method: Method, args: unknown[]): Promise<Failure | undefined> {
    this.calls.push({ method, args });
    if (this.#holding.has(method)) {
      await new Promise<void>((resolve) => this.#held.set(method, [...(this.#held.get(method) ?? []), resolve]));
    }
    const failure = this.#failures.get(method)?.shift();
    if (failure === "network") throw new ApiError(0, "network_error", "The server could not be reached.");
    if (failure instanceof ApiError) throw failure;
    return failure;
  }

  async getState(ifNoneMatchSeq?: number): Promise<SessionSnapshot | null> {
    await this.#enter("getState", [ifNoneMatchSeq]);
    if (ifNoneMatchSeq === this.seq) return null;
    const live = (type: EntityType) =>
      [...this.entities.values()].filter((e) => e.type === type && e.entity.archived_at === null).map((e) => structuredClone(e.entity));
    const state = live("session_state")[0];
    return {
      seq: this.seq,
      session: { id: "sess", name: "Table", created_at: NOW, role: this.role, settings: { ...this.settings } },
      session_state: state as unknown as SessionSnapshot["session_state"],
      scenes: live("scene") as unknown as SessionSnapshot["scenes"],
      folders: live("folder") as unknown as SessionSnapshot["folders"],
      tokens: live("token") as unknown as SessionSnapshot["tokens"],
      token_art: live("token_art") as unknown as SessionSnapshot["token_art"],
      layers: live("layer") as unknown as SessionSnapshot["layers"],
      timeline: [],
    };
  }

  async getChanges(since: number, ifNoneMatchSeq?: number): Promise<ChangesResponse | null> {
    await this.#enter("getChanges", [since, ifNoneMatchSeq]);
    if (since < this.floor || since > this.seq) throw new ApiError(410, "gone", "too old", { seq: this.seq });
    if (ifNoneMatchSeq === this.seq && since === this.seq) return null;
    const latest = new Map<string, ChangeRow>();
    for (const row of this.log) if (row.seq > since) latest.set(`${row.entity_type}:${row.entity_id}`, row);
    const changes = [...latest.values()]
      .sort((a, b) => a.seq - b.seq)
      .map((row) => {
        const entity = this.get(row.entity_type, row.entity_id);
        return { ...row, version: entity?.version ?? row.version, ...(entity ? { entity: structuredClone(entity) } : {}) };
      });
    return { seq: this.seq, changes };
  }

  async getEntity(type: EntityType, id: string): Promise<AnyEntity> {
    await this.#enter("getEntity", [type, id]);
    const entity = this.get(type, id);
    if (!entity) throw new ApiError(404, "not_found", "no such entity");
    return structuredClone(entity);
  }

  async batch(ops: BatchOp[]): Promise<BatchResponse> {
    const failure = await this.#enter("batch", [structuredClone(ops)]);
    if (ops.length > 500) throw new ApiError(413, "payload_too_large", "at most 500 ops a batch");
    // Plan everything on a copy first: a batch applies entirely or not at all.
    const working = new Map(this.entities);
    const planned: { op: BatchOp; entity: AnyEntity; replay: boolean }[] = [];
    for (const op of ops) {
      const first = this.results.get(op.op_id);
      if (first) {
        planned.push({ op, entity: first, replay: true });
        continue;
      }
      const key = `${op.entity_type}:${op.id}`;
      const current = working.get(key)?.entity;
      let next: AnyEntity;
      if (op.op === "create") {
        if (current) throw new ApiError(409, "conflict", "exists", { op_id: op.op_id, current: this.get(op.entity_type, op.id ?? "") });
        next = { id: op.id ?? "", version: 1, created_at: NOW, updated_at: NOW, updated_by: "u-gm", archived_at: null, ...op.data };
      } else {
        if (!current) throw new ApiError(404, "not_found", "no such entity", { op_id: op.op_id });
        if (op.base_version !== undefined && op.base_version !== current.version) {
          throw new ApiError(409, "conflict", "the entity changed since you read it", {
            op_id: op.op_id,
            current: this.get(op.entity_type, op.id ?? ""),
          });
        }
        const fields = op.op === "update" ? (applyMergePatch(current as Json, (op.data ?? {}) as Json) as AnyEntity) : current;
        next = {
          ...fields,
          version: current.version + 1,
          updated_at: NOW,
          archived_at: op.op === "archive" ? NOW : op.op === "restore" ? null : current.archived_at,
        };
      }
      working.set(key, { type: op.entity_type, entity: next });
      planned.push({ op, entity: next, replay: false });
    }
    for (const { op, entity, replay } of planned) {
      if (replay) continue;
      this.put(op.entity_type, entity, op.op);
      this.results.set(op.op_id, entity);
      this.appliedOps += 1;
    }
    if (failure === "lost") throw new ApiError(0, "network_error", "The server could not be reached.");
    return { seq: this.seq, results: planned.map(({ op, entity }) => ({ op_id: op.op_id, entity: structuredClone(entity) })) };
  }
}
