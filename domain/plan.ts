/**
 * Planning a batch of ops: turn them into the next versions of entities (or a failure), with the
 * seq of each change, what players saw of it before and after, and the op records that make a
 * resend a replay. Pure and synchronous: it reads a snapshot loaded beforehand
 * (worker/session/prefetch.ts) and writes nothing; the worker commits the plan (worker/db/commit.ts).
 *
 * When a rule needs something the snapshot lacks, planning stops and answers which keys it needs:
 * the worker loads them into the snapshot and plans again, so the plan never rests on what the
 * prefetch guessed.
 */
import type { AnyEntity, EntityType } from "./entities";
import { type Failure, fail } from "./errors";
import { isNoOp, type Op, planArchive, planCreate, planRevert, planUpdate } from "./ops";
import { type Actor, canWrite } from "./permissions";
import { activeSceneOf, type CoverEntity, coverOf, playerView, type SceneCover } from "./player-view";
import { referencesOf } from "./references";
import { type EntityRegistry, homeOf } from "./registry";
import { isVisibleToPlayer, type PlayerCover, type PlayerView, projectForPlayer, sceneCellPx } from "./visibility";

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
export interface StoredOp {
  seq: number;
  entity_type: string;
  entity_id: string;
  user_id: string | null;
  op: string | null;
  result: AnyEntity;
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

/**
 * Everything planning may read, as committed before the batch. A key that is absent was not
 * loaded (planning then asks for it, see `PlanNeed`); a null value was looked up and is none.
 */
export interface PlanSnapshot {
  /** Entities by `type:id`. */
  entities: ReadonlyMap<string, AnyEntity | null>;
  /** The session state (also under its key in `entities`). */
  sessionState: AnyEntity;
  /** The covering entities and cell size of scenes, by scene id (the entities are in `entities` too). */
  covers: ReadonlyMap<string, SceneCover>;
  /** The ids of the tokens on scenes, by scene id (the tokens are in `entities`). */
  sceneTokens: ReadonlyMap<string, readonly string[]>;
  /** Asset hashes: whether the session has each. */
  assets: ReadonlyMap<string, boolean>;
  /** Op ids: the op stored under each, or null when none is. */
  applied: ReadonlyMap<string, StoredOp | null>;
}

/** Something planning needs that the snapshot lacks. */
export type PlanNeed =
  | { kind: "entity"; type: EntityType; id: string }
  | { kind: "cover"; sceneId: string }
  | { kind: "tokens"; sceneId: string }
  | { kind: "asset"; hash: string }
  | { kind: "op"; opId: string };

export interface PlanOptions {
  /** The entity types the session runs with (built at the composition root). */
  registry: EntityRegistry;
  /** The session's seq before the batch: its changes take the next ones. */
  seq: number;
  guardScene?: SceneGuard | undefined;
}

/** A plan, a failure (nothing applies), or what to load into the snapshot before planning again. */
export type PlanOutcome = { ok: true; plan: Plan } | Failure | { ok: "need"; needs: PlanNeed[] };

/** The key of an entity in a snapshot. */
export function entityKey(type: string, id: string): string {
  return `${type}:${id}`;
}

/**
 * Whether `op` is the replay of the stored op with its id: the same actor, entity type, op and
 * entity (a create without a chosen id names none). Anything else reusing the id is refused: the
 * stored result belongs to another op and may hold what this caller must not see.
 */
function isSameOp(stored: StoredOp, actor: Actor, op: InternalOp): boolean {
  if (stored.user_id === null || stored.op === null) return false;
  if (stored.user_id !== actor.userId || stored.entity_type !== op.entity_type || stored.op !== op.op) return false;
  return op.op === "create" && op.id === undefined ? true : op.id === stored.entity_id;
}

/** Thrown inside planning when the snapshot lacks something; `planOps` answers it as a need. */
class Missing {
  readonly need: PlanNeed;
  constructor(need: PlanNeed) {
    this.need = need;
  }
}

/** Entities as the batch sees them: the snapshot, then updated by each op in order. */
class WorkingSet {
  readonly #snapshot: PlanSnapshot;
  readonly #written = new Map<string, AnyEntity>();
  /** Once planned, views attached to changes answer "not visible" for what was never loaded, as D1 would not be asked. */
  #sealed = false;

  readonly registry: EntityRegistry;

  constructor(snapshot: PlanSnapshot, registry: EntityRegistry) {
    this.#snapshot = snapshot;
    this.registry = registry;
  }

  seal(): void {
    this.#sealed = true;
  }

  #miss(need: PlanNeed): undefined {
    if (this.#sealed) return undefined;
    throw new Missing(need);
  }

  /** The entity as committed, ignoring this batch's own ops. */
  stored(type: EntityType, id: string): AnyEntity | undefined {
    return this.#snapshot.entities.get(entityKey(type, id)) ?? undefined;
  }

  /** The entity as the batch sees it, or undefined when there is none. */
  get(type: EntityType, id: string): AnyEntity | undefined {
    const key = entityKey(type, id);
    const written = this.#written.get(key);
    if (written) return written;
    const stored = this.#snapshot.entities.get(key);
    if (stored !== undefined) return stored ?? undefined;
    return this.#miss({ kind: "entity", type, id });
  }

  /** The entity if the batch knows it (loaded or written), without asking for it. */
  peek(type: EntityType, id: string): AnyEntity | undefined {
    const key = entityKey(type, id);
    return this.#written.get(key) ?? this.#snapshot.entities.get(key) ?? undefined;
  }

  hasAsset(hash: string): boolean {
    const known = this.#snapshot.assets.get(hash);
    if (known === undefined) this.#miss({ kind: "asset", hash });
    return known === true;
  }

  set(type: EntityType, entity: AnyEntity): void {
    const key = entityKey(type, entity.id);
    this.#written.set(key, entity);
    if (this.registry.coversTokens(type)) {
      if (typeof entity.scene_id === "string") this.#covers.get(entity.scene_id)?.keys.set(key, type);
      // Built again when next asked: also the cover of a scene the entity left.
      for (const cover of this.#covers.values()) cover.built = undefined;
    }
    // The scene's cells size its tokens' boxes: a new grid_size may be a new cover.
    if (type === "scene") {
      const cover = this.#covers.get(entity.id);
      if (cover) cover.built = undefined;
    }
    if (type === "token" && typeof entity.scene_id === "string") this.#sceneTokens.get(entity.scene_id)?.add(entity.id);
  }

  /** Every entity the batch knows, as it sees it. */
  *#known(): Iterable<[string, AnyEntity]> {
    for (const [key, entity] of this.#snapshot.entities) {
      const now = this.#written.get(key) ?? entity;
      if (now) yield [key, now];
    }
    for (const [key, entity] of this.#written) if (!this.#snapshot.entities.has(key)) yield [key, entity];
  }

  /** The covering entities of scenes by key, followed through `set`, and the cover they make. */
  readonly #covers = new Map<
    string,
    { keys: Map<string, EntityType>; cellPx: number; built: { cover: PlayerCover | undefined } | undefined }
  >();

  #coverOf(sceneId: string): PlayerCover | undefined {
    let cover = this.#covers.get(sceneId);
    if (!cover) {
      const committed = this.#snapshot.covers.get(sceneId);
      if (!committed) return this.#miss({ kind: "cover", sceneId });
      const keys = new Map<string, EntityType>();
      for (const { type, entity } of committed.entities) keys.set(entityKey(type, entity.id), type);
      // Covering entities of the scene the batch knows otherwise (written, or named by an op).
      for (const [key, entity] of this.#known()) {
        const type = key.slice(0, key.indexOf(":"));
        if (this.registry.coversTokens(type) && entity.scene_id === sceneId) keys.set(key, type as EntityType);
      }
      cover = { keys, cellPx: committed.cellPx, built: undefined };
      this.#covers.set(sceneId, cover);
    }
    if (!cover.built) {
      const entities: CoverEntity[] = [...cover.keys].flatMap(([key, type]) => {
        const entity = this.#written.get(key) ?? this.#snapshot.entities.get(key);
        return entity && entity.archived_at === null && entity.scene_id === sceneId ? [{ type, entity }] : [];
      });
      // The scene as this batch sees it, if it knows it; else as committed.
      const scene = this.peek("scene", sceneId);
      cover.built = { cover: coverOf(this.registry, entities, scene ? sceneCellPx(scene) : cover.cellPx) };
    }
    return cover.built.cover;
  }

  readonly #sceneTokens = new Map<string, Set<string>>();

  /** The live tokens on a scene as this batch sees them. */
  tokensOn(sceneId: string): AnyEntity[] {
    let ids = this.#sceneTokens.get(sceneId);
    if (!ids) {
      const committed = this.#snapshot.sceneTokens.get(sceneId);
      if (!committed) return this.#miss({ kind: "tokens", sceneId }) ?? [];
      ids = new Set(committed);
      for (const [key, entity] of this.#known()) if (key.startsWith("token:") && entity.scene_id === sceneId) ids.add(entity.id);
      this.#sceneTokens.set(sceneId, ids);
    }
    return [...ids].flatMap((id) => {
      const token = this.peek("token", id);
      return token && token.scene_id === sceneId && token.archived_at === null ? [token] : [];
    });
  }

  sessionState(): AnyEntity {
    const state = this.#snapshot.sessionState;
    return this.#written.get(entityKey("session_state", state.id)) ?? state;
  }

  /**
   * The player view at this point of the batch: of any player (owners aside), or with `userId` of
   * that player, who also sees their own tokens under fog.
   */
  playerView(userId?: string): PlayerView {
    const state = this.sessionState();
    const activeSceneId = activeSceneOf(state);
    const cover = activeSceneId === null ? undefined : this.#coverOf(activeSceneId);
    return playerView({ state, cover, token: (id) => this.#viewedToken(id) }, userId);
  }

  /** A token a view judges: asked for while planning, "none" once planned (as when never loaded). */
  #viewedToken(id: string): AnyEntity | undefined {
    return this.#sealed ? this.peek("token", id) : this.get("token", id);
  }
}

function conflict(opId: string, current: AnyEntity, message = "the entity changed since you read it"): Failure {
  return fail("conflict", message, { op_id: opId, current });
}

function checkReferences(
  ws: WorkingSet,
  type: EntityType,
  entity: AnyEntity,
  previous: AnyEntity | undefined,
  opId: string,
): Failure | undefined {
  for (const ref of referencesOf(ws.registry, type, entity, previous)) {
    if (ref.target === "asset") {
      if (!ws.hasAsset(ref.hash)) {
        return fail("bad_request", `${ref.field} names no asset uploaded to this session`, {
          op_id: opId,
          fields: [{ field: ref.field, message: "unknown asset" }],
        });
      }
      continue;
    }
    const target = ws.get(ref.type, ref.id);
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
      const parent: AnyEntity | undefined = ws.get("folder", cursor);
      cursor = typeof parent?.parent_id === "string" ? parent.parent_id : null;
    }
  }
  return undefined;
}

/** The scene an entity lives on, for scene locks. */
function sceneOf(ws: WorkingSet, type: EntityType, entity: AnyEntity): string | null {
  const home = homeOf(ws.registry, type, entity);
  if (!home) return null;
  if ("sceneId" in home) return home.sceneId;
  const token = ws.get("token", home.tokenId);
  return typeof token?.scene_id === "string" ? token.scene_id : null;
}

/**
 * Whether a write may change which tokens of the active scene are covered for players: a write of
 * a covering entity (the fog) on it, or a new cell size of the scene itself (its tokens' boxes).
 */
function coverChanged(
  registry: EntityRegistry,
  type: EntityType,
  entity: AnyEntity,
  previous: AnyEntity | undefined,
  activeSceneId: string,
): boolean {
  if (registry.coversTokens(type)) return entity.scene_id === activeSceneId || previous?.scene_id === activeSceneId;
  return type === "scene" && entity.id === activeSceneId && previous !== undefined && sceneCellPx(previous) !== sceneCellPx(entity);
}

/** Owners of a token (before or after the change) whose view of it differs from any player's: they see it under fog. */
function ownersViews(
  registry: EntityRegistry,
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
 * Runs the ops against the snapshot. Nothing is written; a failure means nothing applies; a need
 * means the snapshot lacked something (load it and plan again).
 */
export function planOps(snapshot: PlanSnapshot, ops: readonly InternalOp[], actor: Actor, now: string, options: PlanOptions): PlanOutcome {
  try {
    return plan(snapshot, ops, actor, now, options);
  } catch (error) {
    if (error instanceof Missing) return { ok: "need", needs: [error.need] };
    throw error;
  }
}

/** The op ids of a batch that may be replays: the worker looks them up before planning. */
export function replayableOpIds(ops: readonly InternalOp[]): string[] {
  return ops.filter((op) => !op.fresh).map((op) => op.op_id);
}

function plan(snapshot: PlanSnapshot, ops: readonly InternalOp[], actor: Actor, now: string, options: PlanOptions): PlanOutcome {
  const seen = new Set<string>();
  for (const op of ops) {
    if (seen.has(op.op_id)) return fail("bad_request", "an op_id appears twice in the batch", { op_id: op.op_id });
    seen.add(op.op_id);
  }
  // Replays are recognised before any version check, so a resend after a lost response returns
  // the first result instead of a false conflict.
  const earlier = new Map<string, StoredOp>();
  for (const opId of replayableOpIds(ops)) {
    const stored = snapshot.applied.get(opId);
    if (stored === undefined) throw new Missing({ kind: "op", opId });
    if (stored) earlier.set(opId, stored);
  }
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
  const ws = new WorkingSet(snapshot, options.registry);
  const { guardScene } = options;

  const results: OpResult[] = [];
  const changes: Change[] = [];
  const applied: AppliedRecord[] = [];
  let next = options.seq;
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
      if (!canWrite(ws.registry, actor, type, "create")) return fail("forbidden", "only a GM may create content", { op_id: op.op_id });
      // Without an id, a client's op id names the entity: a replay whose idempotency record was
      // pruned (worker/jobs/retention.ts) then finds it and answers 409 instead of a second entity.
      const id = op.id ?? (op.fresh ? crypto.randomUUID() : op.op_id);
      // A fresh op's new id is unique: nothing can hold it (and nothing was loaded for it).
      const existing = op.id === undefined && op.fresh ? undefined : ws.get(type, id);
      if (existing) return conflict(op.op_id, ws.stored(type, id) ?? existing, `a ${type} with id ${id} exists`);
      planned = planCreate(ws.registry, type, id, op.data, actor, now, op.op_id);
      changeOp = "create";
    } else {
      previous = ws.get(type, op.id);
      // A player is told nothing about what they cannot see, not even that it exists.
      const hidden = previous && actor.role === "player" && !isVisibleToPlayer(ws.registry, type, previous, ws.playerView(actor.userId));
      if (!previous || hidden) return fail("not_found", `no ${type} ${op.id} in this session`, { op_id: op.op_id });
      if (actor.role === "player") {
        // Permission before the version check, and a player's 409 shows only what they may see.
        const kind = op.op === "archive" || op.op === "restore" ? op.op : "update";
        const keys = op.op === "update" ? Object.keys(op.data) : undefined;
        if (!canWrite(ws.registry, actor, type, kind, previous, keys)) {
          return fail("forbidden", "players may only move and rotate their own tokens", { op_id: op.op_id });
        }
      }
      if (!op.force && op.base_version !== undefined && op.base_version !== previous.version) {
        const current = ws.stored(type, op.id) ?? previous;
        return conflict(
          op.op_id,
          actor.role === "player" ? projectForPlayer(ws.registry, type, current, ws.playerView(actor.userId)) : current,
        );
      }
      if (op.op === "update") {
        planned = planUpdate(ws.registry, type, previous, op.data, actor, now, op.op_id);
        changeOp = "update";
      } else if (op.op === "revert") {
        planned = planRevert(ws.registry, type, previous, op.target, actor, now, op.op_id);
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
        planned = planArchive(ws.registry, type, previous, op.op, actor, now);
        changeOp = op.op;
      }
    }
    if (!planned.ok) return { ...planned, details: { op_id: op.op_id, ...planned.details } };
    const entity = planned.entity;
    const refFailure = checkReferences(ws, type, entity, previous, op.op_id);
    if (refFailure) return refFailure;
    if (guardScene) {
      for (const e of previous ? [previous, entity] : [entity]) {
        const sceneId = sceneOf(ws, type, e);
        const blocked = sceneId ? guardScene(sceneId, op.op_id) : undefined;
        if (blocked) return blocked;
      }
    }
    const viewBefore = ws.playerView();
    const visibleBefore = previous ? isVisibleToPlayer(ws.registry, type, previous, viewBefore) : false;
    ws.set(type, entity);
    const viewAfter = ws.playerView();
    const visibleAfter = isVisibleToPlayer(ws.registry, type, entity, viewAfter);
    const forOwners =
      type === "token" ? ownersViews(ws.registry, previous, entity, viewBefore, viewAfter, visibleBefore, visibleAfter) : [];
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
      coverChanged(ws.registry, type, entity, previous, viewAfter.activeSceneId)
    ) {
      // The fog (or the cells that size tokens) changed: tokens it does not write may enter or leave players' view.
      for (const token of ws.tokensOn(viewAfter.activeSceneId)) {
        const before = isVisibleToPlayer(ws.registry, "token", token, viewBefore);
        const after = isVisibleToPlayer(ws.registry, "token", token, viewAfter);
        if (before === after) continue;
        next += 1;
        const owners = ownersViews(ws.registry, token, token, viewBefore, viewAfter, before, after);
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
  if (actor.role === "player") hideReplaysFromPlayer(ws, replayed, actor);
  ws.seal();
  const replayedSeq = fresh.length === 0 && earlier.size > 0 ? Math.max(...[...earlier.values()].map((r) => r.seq)) : null;
  return { ok: true, plan: { results, changes, applied, replayedSeq, lastSeq: next } };
}

/**
 * A replay answers with the entity as the op left it, but a player sees it only if they may see
 * the entity as it is now (the GM may have hidden the token since): else its result becomes the
 * removed form `{id, version, removed: true}` (see `writeResultFor` in worker/db/reads.ts).
 */
function hideReplaysFromPlayer(ws: WorkingSet, replayed: { result: OpResult; type: EntityType; id: string }[], actor: Actor): void {
  if (replayed.length === 0) return;
  const current = replayed.map(({ type, id }) => ws.get(type, id));
  const view = ws.playerView(actor.userId);
  const hidden = replayed.map(({ type }, i) => {
    const now = current[i];
    return !(now && isVisibleToPlayer(ws.registry, type, now, view));
  });
  // Decided for all before any result changes: a need above leaves the results as they were.
  replayed.forEach(({ result }, i) => {
    if (hidden[i]) result.entity = { id: result.entity.id, version: result.entity.version, removed: true } as unknown as AnyEntity;
  });
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
