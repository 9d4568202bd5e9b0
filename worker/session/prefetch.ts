/**
 * What planning reads, loaded before it starts: from the ops of a batch, everything the pure
 * planner (domain/plan.ts) may look at, in a few `IN` queries instead of one query an op. The
 * object's `EntityCache` answers first (it holds what this object wrote, D1 may be behind its log);
 * D1 the rest. When the planner still finds something missing, `loadNeeds` adds it.
 */
import { and, eq, inArray } from "drizzle-orm";
import type { AnyEntity, EntityType } from "../../domain/entities";
import { entityKey, type InternalOp, type PlanNeed, type PlanSnapshot, replayableOpIds, type StoredOp } from "../../domain/plan";
import { activeSceneOf, type SceneCover } from "../../domain/player-view";
import { valuesAt } from "../../domain/references";
import { chunk, type Db } from "../db/client";
import { listEntities, loadEntities } from "../db/entities";
import { loadCellSize, loadCoverEntities, loadSessionState } from "../db/reads";
import { appliedOps, assets, tokens } from "../db/schema";
import { registry } from "../registry";
import type { EntityCache } from "./entity-cache";

/** Where a snapshot is loaded from. */
export interface SnapshotSource {
  db: Db;
  sessionId: string;
  cache?: EntityCache | undefined;
}

/** A snapshot the worker fills: the planner reads it as a `PlanSnapshot`. */
export interface LoadedSnapshot extends PlanSnapshot {
  entities: Map<string, AnyEntity | null>;
  covers: Map<string, SceneCover>;
  sceneTokens: Map<string, readonly string[]>;
  assets: Map<string, boolean>;
  applied: Map<string, StoredOp | null>;
}

/** A snapshot holding only the session state (from the cache, else D1). */
export async function emptySnapshot(source: SnapshotSource): Promise<LoadedSnapshot> {
  let state = source.cache?.sessionState();
  if (!state) {
    state = await loadSessionState(source.db, source.sessionId);
    source.cache?.put("session_state", state);
  }
  return {
    entities: new Map([[entityKey("session_state", state.id), state]]),
    sessionState: state,
    covers: new Map(),
    sceneTokens: new Map(),
    assets: new Map(),
    applied: new Map(),
  };
}

/** Records an entity unless the snapshot already has it (what was loaded first wins, as the cache's). */
function remember(snapshot: LoadedSnapshot, type: string, id: string, entity: AnyEntity | null): void {
  const key = entityKey(type, id);
  if (!snapshot.entities.has(key)) snapshot.entities.set(key, entity);
}

/** Loads entities the snapshot lacks: the cache's first, then D1's in `IN` queries. */
async function loadInto(source: SnapshotSource, snapshot: LoadedSnapshot, type: EntityType, ids: Iterable<string>): Promise<void> {
  const missing: string[] = [];
  for (const id of new Set(ids)) {
    if (snapshot.entities.has(entityKey(type, id))) continue;
    const cached = source.cache?.get(type, id);
    if (cached) remember(snapshot, type, id, cached);
    else missing.push(id);
  }
  if (missing.length === 0) return;
  const found = await loadEntities(source.db, source.sessionId, type, missing);
  for (const id of missing) remember(snapshot, type, id, found.get(id) ?? null);
}

/** The op records of these op ids: logged but not yet in D1 (the cache's), else D1's. */
async function loadApplied(source: SnapshotSource, snapshot: LoadedSnapshot, opIds: readonly string[]): Promise<void> {
  const inD1: string[] = [];
  for (const id of opIds) {
    if (snapshot.applied.has(id)) continue;
    const pending = source.cache?.pendingOp(id);
    if (pending) snapshot.applied.set(id, pending);
    else inD1.push(id);
  }
  for (const part of chunk(inD1, 90)) {
    const rows = await source.db
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
      .where(and(eq(appliedOps.session_id, source.sessionId), inArray(appliedOps.op_id, part)));
    for (const { op_id, result, ...r } of rows) snapshot.applied.set(op_id, { ...r, result: result as AnyEntity });
    for (const id of part) if (!snapshot.applied.has(id)) snapshot.applied.set(id, null);
  }
}

async function loadAssets(source: SnapshotSource, snapshot: LoadedSnapshot, hashes: Iterable<string>): Promise<void> {
  const wanted = [...new Set(hashes)].filter((h) => !snapshot.assets.has(h));
  for (const part of chunk(wanted, 90)) {
    const rows = await source.db
      .select({ hash: assets.hash })
      .from(assets)
      .where(and(eq(assets.session_id, source.sessionId), inArray(assets.hash, part)));
    const found = new Set(rows.map((r) => r.hash));
    for (const hash of part) snapshot.assets.set(hash, found.has(hash));
  }
}

/** The covering entities and cell size of a scene, as committed (the cache's when it has them). */
async function loadCover(source: SnapshotSource, snapshot: LoadedSnapshot, sceneId: string): Promise<void> {
  if (snapshot.covers.has(sceneId)) return;
  let cover = source.cache?.sceneCover(sceneId);
  if (!cover) {
    // D1 answers this by query: it must hold everything logged first.
    await source.cache?.settled();
    const [entities, cellPx] = await Promise.all([
      loadCoverEntities(source.db, source.sessionId, sceneId),
      loadCellSize(source.db, source.sessionId, sceneId),
    ]);
    cover = { entities, cellPx };
    source.cache?.putSceneCover(sceneId, cover);
  }
  for (const { type, entity } of cover.entities) remember(snapshot, type, entity.id, entity);
  snapshot.covers.set(sceneId, cover);
}

/** The live tokens on a scene, as this object last wrote them when it did. */
async function loadSceneTokens(source: SnapshotSource, snapshot: LoadedSnapshot, sceneId: string): Promise<void> {
  if (snapshot.sceneTokens.has(sceneId)) return;
  await source.cache?.settled();
  const ids: string[] = [];
  for (const entity of await listEntities(source.db, source.sessionId, "token", { where: eq(tokens.scene_id, sceneId) })) {
    remember(snapshot, "token", entity.id, source.cache?.get("token", entity.id) ?? entity);
    ids.push(entity.id);
  }
  snapshot.sceneTokens.set(sceneId, ids);
}

/** The ancestors of folders, one level a query: the planner walks them to refuse a cycle. */
async function loadAncestors(source: SnapshotSource, snapshot: LoadedSnapshot, parentIds: Iterable<string>): Promise<void> {
  const seen = new Set(parentIds);
  let level = [...seen];
  for (let depth = 0; level.length > 0 && depth <= 64; depth++) {
    await loadInto(source, snapshot, "folder", level);
    const next: string[] = [];
    for (const id of level) {
      const parent = snapshot.entities.get(entityKey("folder", id))?.parent_id;
      if (typeof parent === "string" && !seen.has(parent)) next.push(parent);
      if (typeof parent === "string") seen.add(parent);
    }
    level = next;
  }
}

/**
 * Loads everything the planner will read for these ops: their op records (replays), the entities
 * they name and reference, the tokens art and module entities hang on, folder ancestors, the
 * assets they name, the active scene's cover, and its tokens when a write may change the cover.
 */
export async function prefetch(source: SnapshotSource, ops: readonly InternalOp[], isPlayer: boolean): Promise<LoadedSnapshot> {
  const snapshot = await emptySnapshot(source);
  await loadApplied(source, snapshot, replayableOpIds(ops));
  const fresh = ops.filter((op) => !snapshot.applied.get(op.op_id));
  // A player's replay answers as they may see the entity now: it is read like an update of it.
  const replays = isPlayer
    ? ops.flatMap((op) => {
        const stored = snapshot.applied.get(op.op_id);
        return stored ? [{ type: op.entity_type, id: stored.entity_id }] : [];
      })
    : [];
  if (fresh.length === 0 && replays.length === 0) return snapshot;

  const byType = new Map<EntityType, Set<string>>();
  const add = (type: EntityType, id: unknown) => {
    if (typeof id !== "string") return;
    const set = byType.get(type) ?? new Set<string>();
    byType.set(type, set.add(id));
  };
  const hashes = new Set<string>();
  const parents = new Set<string>();
  const scenes = new Set<string>();
  const addReferences = (type: EntityType, data: Readonly<Record<string, unknown>>) => {
    const def = registry.definition(type);
    for (const ref of def?.references ?? []) {
      for (const { value } of valuesAt(data, ref.field)) add(ref.type as EntityType, value);
    }
    for (const field of def?.assets ?? []) if (typeof data[field] === "string") hashes.add(data[field]);
    if (type === "folder" && typeof data.parent_id === "string") parents.add(data.parent_id);
    if (type === "session_state" && typeof data.active_scene_id === "string") scenes.add(data.active_scene_id);
  };
  let coverMayChange = false;
  for (const op of fresh) {
    if (op.id !== undefined) add(op.entity_type, op.id);
    // A create without an id makes the entity its op id names (see domain/plan.ts): looked up with the rest.
    else if (op.op === "create" && !op.fresh) add(op.entity_type, op.op_id);
    const data = op.op === "create" || op.op === "update" ? op.data : op.op === "revert" ? op.target : undefined;
    if (data) addReferences(op.entity_type, data);
    if (registry.coversTokens(op.entity_type) || (op.entity_type === "scene" && (op.op === "revert" || (data && "grid_size" in data)))) {
      coverMayChange = true;
    }
  }
  for (const { type, id } of replays) add(type, id);
  await Promise.all([...byType].map(([type, ids]) => loadInto(source, snapshot, type, ids)));

  // What decides the visibility of what the batch touches: the tokens of its art and of module
  // entities naming tokens, and what a player's replays reference now.
  const dependents = new Set<string>();
  for (const [type, ids] of byType) {
    for (const ref of registry.definition(type)?.references ?? []) {
      if (ref.type !== "token") continue;
      for (const id of ids) {
        for (const { value } of valuesAt(snapshot.entities.get(entityKey(type, id)), ref.field)) {
          if (typeof value === "string") dependents.add(value);
        }
      }
    }
  }
  const replayRefs = new Map<EntityType, Set<string>>();
  for (const { type, id } of replays) {
    const entity = snapshot.entities.get(entityKey(type, id));
    if (!entity) continue;
    for (const ref of registry.definition(type)?.references ?? []) {
      for (const { value } of valuesAt(entity, ref.field)) {
        if (typeof value === "string")
          replayRefs.set(ref.type as EntityType, (replayRefs.get(ref.type as EntityType) ?? new Set()).add(value));
      }
    }
  }
  const activeSceneId = activeSceneOf(snapshot.sessionState);
  if (activeSceneId !== null) scenes.add(activeSceneId);
  await Promise.all([
    loadInto(source, snapshot, "token", dependents),
    ...[...replayRefs].map(([type, ids]) => loadInto(source, snapshot, type, ids)),
    loadAssets(source, snapshot, hashes),
    loadAncestors(source, snapshot, parents),
    ...[...scenes].map((sceneId) => loadCover(source, snapshot, sceneId)),
    coverMayChange && activeSceneId !== null ? loadSceneTokens(source, snapshot, activeSceneId) : undefined,
  ]);
  return snapshot;
}

/** Adds what the planner asked for: the snapshot lacked it. */
export async function loadNeeds(source: SnapshotSource, snapshot: LoadedSnapshot, needs: readonly PlanNeed[]): Promise<void> {
  for (const need of needs) {
    switch (need.kind) {
      case "entity":
        if (need.type === "folder") await loadAncestors(source, snapshot, [need.id]);
        else await loadInto(source, snapshot, need.type, [need.id]);
        break;
      case "cover":
        await loadCover(source, snapshot, need.sceneId);
        break;
      case "tokens":
        await loadSceneTokens(source, snapshot, need.sceneId);
        break;
      case "asset":
        await loadAssets(source, snapshot, [need.hash]);
        break;
      case "op":
        await loadApplied(source, snapshot, [need.opId]);
        break;
    }
  }
}
