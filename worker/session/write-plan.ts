/**
 * The write path of a session, run by its Durable Object one batch at a time: turn ops into the
 * next versions of entities (or a failure), then commit entity rows, change log, idempotency
 * records, timeline and the session's seq in one atomic D1 batch.
 */
import { and, eq, inArray } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { AnyEntity, EntityType } from "../../domain/entities";
import { type Failure, fail } from "../../domain/errors";
import { createMergePatch, type Json } from "../../domain/merge-patch";
import { isNoOp, type Op, planArchive, planCreate, planRevert, planUpdate } from "../../domain/ops";
import { type Actor, canWrite } from "../../domain/permissions";
import { assetFields, referenceFields, referencesOf, valuesAt } from "../../domain/references";
import { homeOf } from "../../domain/registry";
import {
  isTokenVisible,
  isVisibleToPlayer,
  type PlayerCover,
  type PlayerView,
  projectForPlayer,
  sceneCellPx,
} from "../../domain/visibility";
import { chunk, type Db } from "../db/client";
import { insertStatements, listEntities, loadEntities, loadEntity, toEntity, upsertStatements } from "../db/entities";
import { coverOf, loadCellSize, loadCoverEntities } from "../db/reads";
import { activationTimeline, appliedOps, assets, changeLog, gameSessions, sessionState, tokens } from "../db/schema";
import { sha256Hex } from "../lib/crypto";
import { registry } from "../registry";

/** An earlier version to bring back (built by the route from the change log). */
export interface RevertOp {
  op_id: string;
  entity_type: EntityType;
  op: "revert";
  id: string;
  base_version: number;
  target: AnyEntity;
}

/**
 * An op as the object receives it. `force` skips the version check (REST archive, activate);
 * `fresh` says the op id was made by the server for this request, so it cannot be a replay and
 * needs no idempotency lookup.
 */
export type InternalOp = (Op | RevertOp) & { force?: boolean; fresh?: boolean };

/**
 * Entities as last committed by this session object, so repeated writes to the same entities
 * need no D1 read. It is only valid because the object is the single writer of its session:
 * it belongs to one object instance (never module-level state, which could outlive an eviction
 * while another instance writes), is updated after each successful commit and cleared on any
 * failure.
 *
 * Write-behind (write-behind.ts): a batch is in the object's log before it is in D1. Every entity
 * it changed and every op id it applied is *pinned* here until D1 holds it: never evicted nor
 * cleared, so a lookup by id that misses the cache may read D1, which is then current for that id.
 * Reads that D1 answers by query (the tokens or the fog of a scene) wait for `settled` first.
 */
export class EntityCache {
  readonly #entities = new Map<string, AnyEntity>();
  readonly #limit: number;
  /** Keys with logged changes not yet in D1, and how many. */
  readonly #pins = new Map<string, number>();
  /** Applied op ids logged but not yet in D1: replays of them are recognised here. */
  readonly #pendingOps = new Map<string, AppliedRecord>();
  /** Resolves once D1 holds everything logged; set by the object that owns the log. */
  settled: () => Promise<void> = async () => undefined;

  constructor(limit = 5000) {
    this.#limit = limit;
  }

  get(type: EntityType, id: string): AnyEntity | undefined {
    return this.#entities.get(`${type}:${id}`);
  }

  /** The cached session state, whatever its id. */
  sessionState(): AnyEntity | undefined {
    return this.#state;
  }

  #state: AnyEntity | undefined;

  put(type: EntityType, entity: AnyEntity): void {
    if (type === "session_state") {
      this.#state = entity;
      return;
    }
    const key = `${type}:${entity.id}`;
    this.#entities.delete(key);
    this.#entities.set(key, entity);
    if (this.#entities.size > this.#limit) {
      for (const oldest of this.#entities.keys()) {
        if (this.#pins.has(oldest)) continue;
        this.#entities.delete(oldest);
        break;
      }
    }
  }

  /** A logged batch (already `remember`ed): its entities and op ids stay until D1 holds them. */
  pin(changes: readonly Pick<Change, "type" | "id">[], applied: readonly AppliedRecord[]): void {
    for (const c of changes) this.#pins.set(`${c.type}:${c.id}`, (this.#pins.get(`${c.type}:${c.id}`) ?? 0) + 1);
    for (const a of applied) this.#pendingOps.set(a.op_id, a);
  }

  /** D1 holds a logged batch: its entries may be evicted again. */
  unpin(changes: readonly Pick<Change, "type" | "id">[], applied: readonly AppliedRecord[]): void {
    for (const c of changes) {
      const key = `${c.type}:${c.id}`;
      const left = (this.#pins.get(key) ?? 0) - 1;
      if (left > 0) this.#pins.set(key, left);
      else this.#pins.delete(key);
    }
    for (const a of applied) if (this.#pendingOps.get(a.op_id) === a) this.#pendingOps.delete(a.op_id);
  }

  /** Forgets everything, pins too: D1 refused what was logged (write-behind.ts), the object starts again from D1. */
  reset(): void {
    this.#pins.clear();
    this.#pendingOps.clear();
    this.clear();
  }

  /** An op id applied by a batch that is logged but not yet in D1. */
  pendingOp(opId: string): AppliedRecord | undefined {
    return this.#pendingOps.get(opId);
  }

  /**
   * The covering entities (fog) of one scene and the scene's cell size (it sizes the boxes of the
   * scene's tokens), as committed, when known.
   */
  #cover: { sceneId: string; entities: Map<string, CoverEntity>; cellPx: number } | undefined;

  sceneCover(sceneId: string): SceneCover | undefined {
    return this.#cover?.sceneId === sceneId ? { entities: [...this.#cover.entities.values()], cellPx: this.#cover.cellPx } : undefined;
  }

  putSceneCover(sceneId: string, cover: SceneCover): void {
    this.#cover = { sceneId, entities: new Map(cover.entities.map((e) => [`${e.type}:${e.entity.id}`, e])), cellPx: cover.cellPx };
  }

  /** After a commit: the entities as written. */
  remember(changes: readonly Change[]): void {
    for (const c of changes) {
      this.put(c.type, c.entity);
      if (this.#cover && registry.coversTokens(c.type)) {
        const key = `${c.type}:${c.id}`;
        if (c.entity.scene_id === this.#cover.sceneId && c.entity.archived_at === null) {
          this.#cover.entities.set(key, { type: c.type, entity: c.entity });
        } else this.#cover.entities.delete(key);
      }
      if (this.#cover && c.type === "scene" && c.id === this.#cover.sceneId) this.#cover.cellPx = sceneCellPx(c.entity);
    }
  }

  /** Forgets what D1 can tell again; what is pinned (logged, not yet in D1) stays. */
  clear(): void {
    for (const key of [...this.#entities.keys()]) if (!this.#pins.has(key)) this.#entities.delete(key);
    if (this.#state && !this.#pins.has(`session_state:${this.#state.id}`)) this.#state = undefined;
    this.#cover = undefined;
  }
}

/** An entity that covers tokens for players (domain/module-api.ts `coversTokens`: the fog). */
export interface CoverEntity {
  type: EntityType;
  entity: AnyEntity;
}

/** What decides which tokens of a scene are covered: its covering entities and its cell size. */
export interface SceneCover {
  entities: readonly CoverEntity[];
  cellPx: number;
}
export type ChangeOp = "create" | "update" | "archive" | "restore";

export interface Change {
  seq: number;
  type: EntityType;
  id: string;
  op: ChangeOp;
  previous: AnyEntity | undefined;
  entity: AnyEntity;
  visibleBefore: boolean;
  visibleAfter: boolean;
  /** A change of the active scene: players reload what they may see. */
  activation: boolean;
  /** For players, when a token comes into view: what hangs on it (see `ChangeRow.related`). */
  related?: { type: EntityType; entity: AnyEntity }[];
  /** What players see after the batch (for projecting the entity), when the change was planned. */
  playerView?: PlayerView;
  /**
   * A token's owners see it under fog, unlike other players: for each owner whose view of this
   * change differs from `visibleBefore`/`visibleAfter`, theirs.
   */
  forOwners?: { userId: string; visibleBefore: boolean; visibleAfter: boolean }[];
  /**
   * The token did not change: a change of the fog moved it into or out of players' view. Logged
   * (same version, empty diff) so `changes?since` and resumes report it; its row is not rewritten.
   */
  coverOnly?: true;
}

export interface OpResult {
  op_id: string;
  entity: AnyEntity;
}

export interface AppliedRecord {
  op_id: string;
  seq: number;
  entity_type: EntityType;
  entity_id: string;
  result: AnyEntity;
  /** The actor who sent the op and the op it was: a replay must be the same. */
  user_id: string;
  op: InternalOp["op"];
}

/** An op id as stored: null `user_id`/`op` on rows stored before they were recorded and not verified. */
interface StoredOp {
  seq: number;
  entity_type: string;
  entity_id: string;
  user_id: string | null;
  op: string | null;
  result: AnyEntity;
}

/**
 * Whether `op` is the replay of the stored op with its id: the same actor, entity type, op and
 * entity (a create without a chosen id names none). Anything else reusing the id is refused: the
 * stored result belongs to another op and may hold what this caller must not see.
 */
export function isSameOp(stored: StoredOp, actor: Actor, op: InternalOp): boolean {
  if (stored.user_id === null || stored.op === null) return false;
  if (stored.user_id !== actor.userId || stored.entity_type !== op.entity_type || stored.op !== op.op) return false;
  return op.op === "create" && op.id === undefined ? true : op.id === stored.entity_id;
}

export interface Plan {
  results: OpResult[];
  changes: Change[];
  applied: AppliedRecord[];
  /** The seq to answer with when every op was a replay of an earlier one. */
  replayedSeq: number | null;
  lastSeq: number;
}

/** Decides whether a change to an entity on a scene may proceed (scene locks hook in here). */
export type SceneGuard = (sceneId: string, opId: string) => Failure | undefined;

/** Entities as the batch sees them: loaded from D1 once, then updated by each op in order. */
class WorkingSet {
  readonly #db: Db;
  readonly #sessionId: string;
  readonly #entities = new Map<string, AnyEntity | null>();
  /** What D1 holds, before any op of the batch: conflicts report the server's entity. */
  readonly #stored = new Map<string, AnyEntity | null>();
  readonly #assets = new Set<string>();

  readonly #cache: EntityCache | undefined;

  constructor(db: Db, sessionId: string, cache?: EntityCache) {
    this.#db = db;
    this.#sessionId = sessionId;
    this.#cache = cache;
  }

  async prefetch(type: EntityType, ids: Iterable<string>): Promise<void> {
    const missing: string[] = [];
    for (const id of new Set(ids)) {
      const key = `${type}:${id}`;
      if (this.#entities.has(key)) continue;
      const cached = this.#cache?.get(type, id);
      if (cached) this.#remember(key, cached);
      else missing.push(id);
    }
    if (missing.length === 0) return;
    const found = await loadEntities(this.#db, this.#sessionId, type, missing);
    for (const id of missing) this.#remember(`${type}:${id}`, found.get(id) ?? null);
  }

  async prefetchAssets(hashes: Iterable<string>): Promise<void> {
    const wanted = [...new Set(hashes)].filter((h) => !this.#assets.has(h));
    for (const part of chunk(wanted, 90)) {
      const rows = await this.#db
        .select({ hash: assets.hash })
        .from(assets)
        .where(and(eq(assets.session_id, this.#sessionId), inArray(assets.hash, part)));
      for (const r of rows) this.#assets.add(r.hash);
    }
  }

  hasAsset(hash: string): boolean {
    return this.#assets.has(hash);
  }

  #remember(key: string, entity: AnyEntity | null): void {
    this.#entities.set(key, entity);
    this.#stored.set(key, entity);
  }

  /** The entity as committed in D1, ignoring this batch's own ops. */
  stored(type: EntityType, id: string): AnyEntity | undefined {
    return this.#stored.get(`${type}:${id}`) ?? undefined;
  }

  /** The entity if it was loaded or written; `undefined` when not yet looked up. */
  peek(type: EntityType, id: string): AnyEntity | null | undefined {
    return this.#entities.get(`${type}:${id}`);
  }

  async get(type: EntityType, id: string): Promise<AnyEntity | undefined> {
    const key = `${type}:${id}`;
    if (!this.#entities.has(key)) {
      this.#remember(key, this.#cache?.get(type, id) ?? (await loadEntity(this.#db, this.#sessionId, type, id)) ?? null);
    }
    return this.#entities.get(key) ?? undefined;
  }

  set(type: EntityType, entity: AnyEntity): void {
    this.#entities.set(`${type}:${entity.id}`, entity);
    if (this.#coverKeys && registry.coversTokens(type) && entity.scene_id === this.#coverKeys.sceneId) {
      this.#coverKeys.keys.set(`${type}:${entity.id}`, type);
      this.#coverBuilt = undefined;
    }
    // The scene's cells size its tokens' boxes: a new grid_size may be a new cover.
    if (type === "scene" && entity.id === this.#coverBuilt?.sceneId) this.#coverBuilt = undefined;
    if (type === "token" && this.#sceneTokens && entity.scene_id === this.#sceneTokens.sceneId) this.#sceneTokens.ids.add(entity.id);
  }

  /**
   * The covering entities of the scene players see, by key, and its cell size as committed: loaded
   * once, then followed through `set`.
   */
  #coverKeys: { sceneId: string; keys: Map<string, EntityType>; cellPx: number } | undefined;
  #coverBuilt: { sceneId: string; cover: PlayerCover | undefined } | undefined;

  async #coverOf(sceneId: string): Promise<PlayerCover | undefined> {
    if (this.#coverKeys?.sceneId !== sceneId) {
      let cover = this.#cache?.sceneCover(sceneId);
      if (!cover) {
        await this.#cache?.settled();
        const [entities, cellPx] = await Promise.all([
          loadCoverEntities(this.#db, this.#sessionId, sceneId),
          loadCellSize(this.#db, this.#sessionId, sceneId),
        ]);
        cover = { entities, cellPx };
        this.#cache?.putSceneCover(sceneId, cover);
      }
      const keys = new Map<string, EntityType>();
      for (const { type, entity } of cover.entities) {
        const key = `${type}:${entity.id}`;
        if (!this.#entities.has(key)) this.#remember(key, entity);
        keys.set(key, type);
      }
      // Covering entities this batch already wrote on the scene.
      for (const [key, entity] of this.#entities) {
        const type = key.slice(0, key.indexOf(":"));
        if (entity && registry.coversTokens(type) && entity.scene_id === sceneId) keys.set(key, type as EntityType);
      }
      this.#coverKeys = { sceneId, keys, cellPx: cover.cellPx };
      this.#coverBuilt = undefined;
    }
    if (this.#coverBuilt?.sceneId !== sceneId) {
      const entities = [...this.#coverKeys.keys].flatMap(([key, type]) => {
        const entity = this.#entities.get(key);
        return entity && entity.archived_at === null && entity.scene_id === sceneId ? [{ type, entity }] : [];
      });
      // The scene as this batch sees it, if it read or wrote it; else as committed.
      const scene = this.peek("scene", sceneId);
      this.#coverBuilt = { sceneId, cover: coverOf(entities, scene ? sceneCellPx(scene) : this.#coverKeys.cellPx) };
    }
    return this.#coverBuilt.cover;
  }

  #sceneTokens: { sceneId: string; ids: Set<string> } | undefined;

  /** The live tokens on a scene as this batch sees them (read once, then followed through `set`). */
  async tokensOn(sceneId: string): Promise<AnyEntity[]> {
    if (this.#sceneTokens?.sceneId !== sceneId) {
      const ids = new Set<string>();
      await this.#cache?.settled();
      for (const entity of await listEntities(this.#db, this.#sessionId, "token", { where: eq(tokens.scene_id, sceneId) })) {
        const key = `token:${entity.id}`;
        if (!this.#entities.has(key)) this.#remember(key, this.#cache?.get("token", entity.id) ?? entity);
        ids.add(entity.id);
      }
      for (const [key, entity] of this.#entities) if (key.startsWith("token:") && entity?.scene_id === sceneId) ids.add(entity.id);
      this.#sceneTokens = { sceneId, ids };
    }
    return [...this.#sceneTokens.ids].flatMap((id) => {
      const token = this.peek("token", id);
      return token && token.scene_id === sceneId && token.archived_at === null ? [token] : [];
    });
  }

  /** The key of the session state once read: it has one entity, whatever its id. */
  #stateKey: string | undefined;

  async sessionState(): Promise<AnyEntity> {
    // Asked twice an op: a lookup by key, not a scan of every entity the batch touched.
    const known = this.#stateKey === undefined ? undefined : this.#entities.get(this.#stateKey);
    if (known) return known;
    let entity = this.#cache?.sessionState();
    if (!entity) {
      const row = await this.#db.select().from(sessionState).where(eq(sessionState.session_id, this.#sessionId)).get();
      if (!row) throw new Error(`session ${this.#sessionId} has no session_state`);
      entity = toEntity(row);
      this.#cache?.put("session_state", entity);
    }
    this.#stateKey = `session_state:${entity.id}`;
    if (!this.#entities.has(this.#stateKey)) this.#remember(this.#stateKey, entity);
    return this.#entities.get(this.#stateKey) ?? entity;
  }

  /** The player view (of any player, owners aside) at this point of the batch. */
  async playerView(): Promise<PlayerView> {
    const state = await this.sessionState();
    const activeSceneId = typeof state.active_scene_id === "string" ? state.active_scene_id : null;
    const cover = activeSceneId === null ? undefined : await this.#coverOf(activeSceneId);
    return {
      activeSceneId,
      cover,
      visibleTokenIds: {
        has: (id: string) => {
          const token = this.peek("token", id);
          return token ? isTokenVisible(token, activeSceneId, { cover }) : false;
        },
      } as ReadonlySet<string>,
    };
  }
}

async function loadApplied(db: Db, sessionId: string, opIds: string[], cache?: EntityCache): Promise<Map<string, StoredOp>> {
  const out = new Map<string, StoredOp>();
  // Logged but not yet in D1: answered from the object's log (pinned in the cache).
  const inD1: string[] = [];
  for (const id of opIds) {
    const pending = cache?.pendingOp(id);
    if (pending) out.set(id, pending);
    else inD1.push(id);
  }
  for (const part of chunk(inD1, 90)) {
    const rows = await db
      .select({
        op_id: appliedOps.op_id,
        seq: appliedOps.seq,
        entity_type: appliedOps.entity_type,
        entity_id: appliedOps.entity_id,
        user_id: appliedOps.user_id,
        op: appliedOps.op,
        result: appliedOps.result,
      })
      .from(appliedOps)
      .where(and(eq(appliedOps.session_id, sessionId), inArray(appliedOps.op_id, part)));
    for (const { op_id, result, ...r } of rows) out.set(op_id, { ...r, result: result as AnyEntity });
  }
  return out;
}

/** Loads everything the ops will read, in a few IN queries instead of one query per op. */
async function prefetch(ws: WorkingSet, ops: InternalOp[]): Promise<void> {
  const byType = new Map<EntityType, Set<string>>();
  const add = (type: EntityType, id: unknown) => {
    if (typeof id !== "string") return;
    const set = byType.get(type) ?? new Set<string>();
    byType.set(type, set.add(id));
  };
  const hashes = new Set<string>();
  for (const op of ops) {
    if (op.id !== undefined) add(op.entity_type, op.id);
    // A create without an id makes the entity its op id names (see planBatch): looked up with the rest.
    else if (op.op === "create" && !op.fresh) add(op.entity_type, op.op_id);
    if (op.op === "create" || op.op === "update") {
      for (const [field, type] of Object.entries(referenceFields)) add(type, op.data[field]);
      for (const ref of registry.moduleEntity(op.entity_type)?.references ?? []) {
        for (const { value } of valuesAt(op.data, ref.field)) add(ref.type as EntityType, value);
      }
      for (const field of assetFields) if (typeof op.data[field] === "string") hashes.add(op.data[field]);
    }
  }
  await Promise.all([...byType].map(([type, ids]) => ws.prefetch(type, ids)));
  // Art's visibility follows its token: load the tokens of the art this batch touches.
  const artTokens: string[] = [...(byType.get("token_art") ?? [])]
    .map((id) => ws.peek("token_art", id)?.token_id)
    .filter((id): id is string => typeof id === "string");
  // So does that of module entities naming a token: load the tokens they name.
  for (const [type, ids] of byType) {
    for (const ref of registry.moduleEntity(type)?.references ?? []) {
      if (ref.type !== "token") continue;
      for (const id of ids) {
        for (const { value } of valuesAt(ws.peek(type, id), ref.field)) if (typeof value === "string") artTokens.push(value);
      }
    }
  }
  await Promise.all([ws.prefetch("token", artTokens), ws.prefetchAssets(hashes), ws.sessionState()]);
}

async function checkReferences(
  ws: WorkingSet,
  type: EntityType,
  entity: AnyEntity,
  previous: AnyEntity | undefined,
  opId: string,
): Promise<Failure | undefined> {
  for (const ref of referencesOf(registry, type, entity, previous)) {
    if (ref.target === "asset") {
      if (!ws.hasAsset(ref.hash)) {
        return fail("bad_request", `${ref.field} names no asset uploaded to this session`, {
          op_id: opId,
          fields: [{ field: ref.field, message: "unknown asset" }],
        });
      }
      continue;
    }
    const target = await ws.get(ref.type, ref.id);
    const wrongKind = ref.folderKind !== undefined && target?.kind !== ref.folderKind;
    if (!target || wrongKind || (ref.mustBeLive && target.archived_at !== null)) {
      const what = ref.folderKind ? `a ${ref.folderKind} folder` : ref.mustBeLive ? `a live ${ref.type}` : `a ${ref.type}`;
      return fail("bad_request", `${ref.field} must name ${what} of this session`, {
        op_id: opId,
        fields: [{ field: ref.field, message: `no such ${ref.type}` }],
      });
    }
  }
  if (type === "folder" && typeof entity.parent_id === "string") {
    // Walk up the parents: a folder may not end up inside itself.
    let cursor: string | null = entity.parent_id;
    for (let depth = 0; cursor !== null; depth++) {
      if (cursor === entity.id || depth > 64) {
        return fail("bad_request", "a folder cannot be inside itself", { op_id: opId, fields: [{ field: "parent_id", message: "cycle" }] });
      }
      const parent: AnyEntity | undefined = await ws.get("folder", cursor);
      cursor = typeof parent?.parent_id === "string" ? parent.parent_id : null;
    }
  }
  return undefined;
}

/** The scene an entity lives on, for scene locks. */
async function sceneOf(ws: WorkingSet, type: EntityType, entity: AnyEntity): Promise<string | null> {
  const home = homeOf(registry, type, entity);
  if (!home) return null;
  if ("sceneId" in home) return home.sceneId;
  const token = await ws.get("token", home.tokenId);
  return typeof token?.scene_id === "string" ? token.scene_id : null;
}

function conflict(opId: string, current: AnyEntity, message = "the entity changed since you read it"): Failure {
  return fail("conflict", message, { op_id: opId, current });
}

/** Runs the ops against the working set. Nothing is written; a failure means nothing applies. */
export async function planBatch(
  db: Db,
  sessionId: string,
  actor: Actor,
  ops: InternalOp[],
  seq: number,
  now: string,
  guardScene?: SceneGuard,
  cache?: EntityCache,
): Promise<{ ok: true; plan: Plan } | Failure> {
  const seen = new Set<string>();
  for (const op of ops) {
    if (seen.has(op.op_id)) return fail("bad_request", "an op_id appears twice in the batch", { op_id: op.op_id });
    seen.add(op.op_id);
  }
  // Replays are recognised before any version check, so a resend after a lost response returns
  // the first result instead of a false conflict.
  const earlier = await loadApplied(
    db,
    sessionId,
    ops.filter((op) => !op.fresh).map((op) => op.op_id),
    cache,
  );
  // ...but only the same op by the same actor is a replay: checked before anything else, so a
  // reused id never yields the stored result (nor says whose or what it was).
  for (const op of ops) {
    const stored = earlier.get(op.op_id);
    if (stored && !isSameOp(stored, actor, op)) {
      return fail("conflict", `op ${op.op_id} was already applied as another op: send a new op_id`, {
        op_id: op.op_id,
        reason: "op_id_reused",
      });
    }
  }
  const fresh = ops.filter((op) => !earlier.has(op.op_id));
  const ws = new WorkingSet(db, sessionId, cache);
  if (fresh.length > 0) await prefetch(ws, fresh);

  const results: OpResult[] = [];
  const changes: Change[] = [];
  const applied: AppliedRecord[] = [];
  let next = seq;
  /** Results of replays a player gets, checked against what they may see once the batch is planned. */
  const replayed: { result: OpResult; type: EntityType; id: string }[] = [];

  for (const op of ops) {
    const replay = earlier.get(op.op_id);
    if (replay) {
      const result = { op_id: op.op_id, entity: replay.result };
      results.push(result);
      replayed.push({ result, type: op.entity_type, id: replay.entity_id });
      continue;
    }
    const type = op.entity_type;
    let previous: AnyEntity | undefined;
    let planned: { ok: true; entity: AnyEntity } | Failure;
    let changeOp: ChangeOp;
    if (op.op === "create") {
      // Permission first: a 409 would show whoever asks the entity that holds the id.
      if (!canWrite(registry, actor, type, "create")) return fail("forbidden", "only a GM may create content", { op_id: op.op_id });
      // Without an id, a client's op id names the entity: a replay whose idempotency record was
      // pruned (worker/jobs/retention.ts) then finds it and answers 409 instead of a second entity.
      const id = op.id ?? (op.fresh ? crypto.randomUUID() : op.op_id);
      const existing = await ws.get(type, id);
      if (existing) return conflict(op.op_id, ws.stored(type, id) ?? existing, `a ${type} with id ${id} exists`);
      planned = planCreate(registry, type, id, op.data, actor, now, op.op_id);
      changeOp = "create";
    } else {
      previous = await ws.get(type, op.id);
      // A player is told nothing about what they cannot see, not even that it exists.
      const hidden = previous && actor.role === "player" && !isVisibleToPlayer(registry, type, previous, await playerViewOf(ws, actor));
      if (!previous || hidden) return fail("not_found", `no ${type} ${op.id} in this session`, { op_id: op.op_id });
      if (actor.role === "player") {
        // Permission before the version check, and a player's 409 shows only what they may see.
        const kind = op.op === "archive" || op.op === "restore" ? op.op : "update";
        const keys = op.op === "update" ? Object.keys(op.data) : undefined;
        if (!canWrite(registry, actor, type, kind, previous, keys)) {
          return fail("forbidden", "players may only move and rotate their own tokens", { op_id: op.op_id });
        }
      }
      if (!op.force && op.base_version !== undefined && op.base_version !== previous.version) {
        const current = ws.stored(type, op.id) ?? previous;
        return conflict(
          op.op_id,
          actor.role === "player" ? projectForPlayer(registry, type, current, await playerViewOf(ws, actor)) : current,
        );
      }
      if (op.op === "update") {
        planned = planUpdate(registry, type, previous, op.data, actor, now, op.op_id);
        changeOp = "update";
      } else if (op.op === "revert") {
        planned = planRevert(registry, type, previous, op.target, actor, now, op.op_id);
        const wasArchived = previous.archived_at !== null;
        const willBeArchived = op.target.archived_at !== null && op.target.archived_at !== undefined;
        changeOp = wasArchived === willBeArchived ? "update" : willBeArchived ? "archive" : "restore";
      } else {
        if (isNoOp(previous, op.op)) {
          // Archiving what is archived (or restoring what is live) changes nothing.
          results.push({ op_id: op.op_id, entity: previous });
          applied.push({
            op_id: op.op_id,
            seq: next,
            entity_type: type,
            entity_id: previous.id,
            result: previous,
            user_id: actor.userId,
            op: op.op,
          });
          continue;
        }
        planned = planArchive(registry, type, previous, op.op, actor, now);
        changeOp = op.op;
      }
    }
    if (!planned.ok) return { ...planned, details: { op_id: op.op_id, ...planned.details } };
    const entity = planned.entity;
    const refFailure = await checkReferences(ws, type, entity, previous, op.op_id);
    if (refFailure) return refFailure;
    if (guardScene) {
      for (const e of previous ? [previous, entity] : [entity]) {
        const sceneId = await sceneOf(ws, type, e);
        const blocked = sceneId ? guardScene(sceneId, op.op_id) : undefined;
        if (blocked) return blocked;
      }
    }
    const viewBefore = await ws.playerView();
    const visibleBefore = previous ? isVisibleToPlayer(registry, type, previous, viewBefore) : false;
    ws.set(type, entity);
    const viewAfter = await ws.playerView();
    const visibleAfter = isVisibleToPlayer(registry, type, entity, viewAfter);
    const forOwners = type === "token" ? ownersViews(previous, entity, viewBefore, viewAfter, visibleBefore, visibleAfter) : [];
    next += 1;
    changes.push({
      seq: next,
      type,
      id: entity.id,
      op: changeOp,
      previous,
      entity,
      visibleBefore,
      visibleAfter,
      playerView: viewAfter,
      activation: type === "session_state" && previous?.active_scene_id !== entity.active_scene_id,
      ...(forOwners.length > 0 ? { forOwners } : {}),
    });
    if (
      viewAfter.activeSceneId !== null &&
      (viewBefore.cover !== undefined || viewAfter.cover !== undefined) &&
      coverChanged(type, entity, previous, viewAfter.activeSceneId)
    ) {
      // The fog (or the cells that size tokens) changed: tokens it does not write may enter or leave players' view.
      for (const token of await ws.tokensOn(viewAfter.activeSceneId)) {
        const before = isVisibleToPlayer(registry, "token", token, viewBefore);
        const after = isVisibleToPlayer(registry, "token", token, viewAfter);
        if (before === after) continue;
        next += 1;
        const owners = ownersViews(token, token, viewBefore, viewAfter, before, after);
        changes.push({
          seq: next,
          type: "token",
          id: token.id,
          op: "update",
          previous: token,
          entity: token,
          visibleBefore: before,
          visibleAfter: after,
          playerView: viewAfter,
          activation: false,
          coverOnly: true,
          ...(owners.length > 0 ? { forOwners: owners } : {}),
        });
      }
    }
    results.push({ op_id: op.op_id, entity });
    applied.push({ op_id: op.op_id, seq: next, entity_type: type, entity_id: entity.id, result: entity, user_id: actor.userId, op: op.op });
  }
  if (actor.role === "player") await hideReplaysFromPlayer(ws, replayed, actor);
  const replayedSeq = fresh.length === 0 && earlier.size > 0 ? Math.max(...[...earlier.values()].map((r) => r.seq)) : null;
  return { ok: true, plan: { results, changes, applied, replayedSeq, lastSeq: next } };
}

/**
 * Whether a write may change which tokens of the active scene are covered for players: a write of
 * a covering entity (the fog) on it, or a new cell size of the scene itself (its tokens' boxes).
 */
function coverChanged(type: EntityType, entity: AnyEntity, previous: AnyEntity | undefined, activeSceneId: string): boolean {
  if (registry.coversTokens(type)) return entity.scene_id === activeSceneId || previous?.scene_id === activeSceneId;
  return type === "scene" && entity.id === activeSceneId && previous !== undefined && sceneCellPx(previous) !== sceneCellPx(entity);
}

/** What this player sees at this point of the batch: also their own tokens under fog. */
async function playerViewOf(ws: WorkingSet, actor: Actor): Promise<PlayerView> {
  const view = await ws.playerView();
  const has = (id: string) => {
    const token = ws.peek("token", id);
    return token ? isTokenVisible(token, view.activeSceneId, { cover: view.cover, userId: actor.userId }) : false;
  };
  return { ...view, userId: actor.userId, visibleTokenIds: { has } as ReadonlySet<string> };
}

/** Owners of a token (before or after the change) whose view of it differs from any player's: they see it under fog. */
function ownersViews(
  previous: AnyEntity | undefined,
  entity: AnyEntity,
  viewBefore: PlayerView,
  viewAfter: PlayerView,
  visibleBefore: boolean,
  visibleAfter: boolean,
): { userId: string; visibleBefore: boolean; visibleAfter: boolean }[] {
  if (!viewBefore.cover && !viewAfter.cover) return [];
  const ownersOf = (t: AnyEntity | undefined) =>
    Array.isArray(t?.owner_user_ids) ? t.owner_user_ids.filter((u): u is string => typeof u === "string") : [];
  const out: { userId: string; visibleBefore: boolean; visibleAfter: boolean }[] = [];
  for (const userId of new Set([...ownersOf(previous), ...ownersOf(entity)])) {
    const before = previous ? isVisibleToPlayer(registry, "token", previous, { ...viewBefore, userId }) : false;
    const after = isVisibleToPlayer(registry, "token", entity, { ...viewAfter, userId });
    if (before !== visibleBefore || after !== visibleAfter) out.push({ userId, visibleBefore: before, visibleAfter: after });
  }
  return out;
}

/**
 * A replay answers with the entity as the op left it, but a player sees it only if they may see
 * the entity as it is now (the GM may have hidden the token since): else its result becomes the
 * removed form `{id, version, removed: true}` (see `writeResultFor`).
 */
async function hideReplaysFromPlayer(
  ws: WorkingSet,
  replayed: { result: OpResult; type: EntityType; id: string }[],
  actor: Actor,
): Promise<void> {
  if (replayed.length === 0) return;
  const current = await Promise.all(replayed.map(({ type, id }) => ws.get(type, id)));
  // What decides their visibility (the tokens of art and of module entities) is loaded too.
  await prefetch(
    ws,
    replayed.flatMap(({ type, id }, i): InternalOp[] => {
      const entity = current[i];
      return entity ? [{ op_id: "", entity_type: type, op: "update", id, base_version: entity.version, data: entity }] : [];
    }),
  );
  const view = await playerViewOf(ws, actor);
  replayed.forEach(({ result, type }, i) => {
    const now = current[i];
    if (now && isVisibleToPlayer(registry, type, now, view)) return;
    result.entity = { id: result.entity.id, version: result.entity.version, removed: true } as unknown as AnyEntity;
  });
}

/** The change_log row of one change: its merge-patch diff (the whole entity on create) and payload hash. */
export async function changeLogRow(sessionId: string, c: Change, now: string): Promise<typeof changeLog.$inferInsert> {
  return {
    session_id: sessionId,
    seq: c.seq,
    entity_type: c.type,
    entity_id: c.id,
    version: c.entity.version,
    op: c.op,
    diff: (c.op === "create" ? c.entity : createMergePatch(c.previous as Json, c.entity as Json)) as Json,
    payload_hash: await sha256Hex(JSON.stringify(c.entity)),
    visible_before: c.visibleBefore,
    visible_after: c.visibleAfter,
    updated_by: String(c.entity.updated_by),
    created_at: now,
  };
}

/** The session state of a new session: `userId` its only GM, no active scene. */
export function initialSessionState(userId: string, now: string): AnyEntity {
  return {
    id: crypto.randomUUID(),
    version: 1,
    created_at: now,
    updated_at: now,
    updated_by: userId,
    archived_at: null,
    active_scene_id: null,
    flags: { lighting: false, grid_opacity: 0.5 },
    gm_user_ids: [userId],
  };
}

/** A change that creates `entity` (outside a plan: a new session, a restore). */
export function creation(seq: number, type: EntityType, entity: AnyEntity, visibleToPlayers: boolean): Change {
  return {
    seq,
    type,
    id: entity.id,
    op: "create",
    previous: undefined,
    entity,
    visibleBefore: false,
    visibleAfter: visibleToPlayers,
    activation: false,
  };
}

/**
 * Writes a plan in one atomic D1 batch: entities, change log, applied ops, timeline, seq.
 * `alongside` are rows the change stands with (a member row, a new session's rows): written
 * first, in the same batch, so they land or fail with it.
 */
export async function commitPlan(
  db: Db,
  sessionId: string,
  plan: Plan,
  previousSeq: number,
  now: string,
  alongside: BatchItem<"sqlite">[] = [],
): Promise<void> {
  const [first, ...rest] = await commitStatements(db, sessionId, plan, previousSeq, now, alongside);
  if (!first) return;
  await db.batch([first, ...rest]);
}

/** The statements of `commitPlan`, for a caller that puts several plans in one D1 batch (write-behind.ts). */
export async function commitStatements(
  db: Db,
  sessionId: string,
  plan: Pick<Plan, "changes" | "applied" | "lastSeq">,
  previousSeq: number,
  now: string,
  alongside: BatchItem<"sqlite">[] = [],
): Promise<BatchItem<"sqlite">[]> {
  const latest = new Map<string, { type: EntityType; entity: AnyEntity }>();
  for (const c of plan.changes) if (!c.coverOnly) latest.set(`${c.type}:${c.id}`, { type: c.type, entity: c.entity });
  const byType = new Map<EntityType, AnyEntity[]>();
  for (const { type, entity } of latest.values()) {
    const list = byType.get(type);
    if (list) list.push(entity);
    else byType.set(type, [entity]);
  }

  const logRows = await Promise.all(plan.changes.map((c) => changeLogRow(sessionId, c, now)));
  const timelineRows = plan.changes.flatMap((c): (typeof activationTimeline.$inferInsert)[] => {
    if (c.activation) {
      return [
        {
          session_id: sessionId,
          seq: c.seq,
          kind: "activate" as const,
          scene_id: (c.entity.active_scene_id as string | null) ?? null,
          map_asset: null,
          user_id: String(c.entity.updated_by),
          created_at: now,
        },
      ];
    }
    if (c.type === "scene" && c.previous && c.previous.map_asset !== c.entity.map_asset) {
      return [
        {
          session_id: sessionId,
          seq: c.seq,
          kind: "map" as const,
          scene_id: c.id,
          map_asset: (c.entity.map_asset as string | null) ?? null,
          user_id: String(c.entity.updated_by),
          created_at: now,
        },
      ];
    }
    return [];
  });

  const statements: BatchItem<"sqlite">[] = [
    ...alongside,
    ...[...byType].flatMap(([type, entities]) => upsertStatements(db, sessionId, type, entities)),
    ...insertStatements(db, changeLog, logRows),
    ...insertStatements(
      db,
      appliedOps,
      plan.applied.map((a) => ({ session_id: sessionId, ...a, result: a.result as Json, created_at: now })),
    ),
    ...insertStatements(db, activationTimeline, timelineRows),
  ];
  if (plan.lastSeq !== previousSeq) {
    // The change_log key (session_id, seq) already makes a stale counter fail the whole batch;
    // the guard keeps the stored seq from ever moving backwards.
    statements.push(
      db
        .update(gameSessions)
        .set({ seq: plan.lastSeq })
        .where(and(eq(gameSessions.id, sessionId), eq(gameSessions.seq, previousSeq))),
    );
  }
  return statements;
}

/**
 * Whether a plan is in D1 after all: its commit reported an error, but a D1 batch is atomic, so
 * its last applied op id (fresh ones are new; replays are not in `applied`) stored at the seq
 * the plan gave it means the whole batch landed and only the answer was lost.
 */
export async function planLanded(db: Db, sessionId: string, plan: Plan): Promise<boolean> {
  const last = plan.applied.at(-1);
  if (!last) return false;
  const row = await db
    .select({ seq: appliedOps.seq })
    .from(appliedOps)
    .where(and(eq(appliedOps.session_id, sessionId), eq(appliedOps.op_id, last.op_id)))
    .get();
  return row?.seq === last.seq;
}
