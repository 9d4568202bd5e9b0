/**
 * Read paths: full state, deltas since a seq, lists and single entities, each through the player
 * filter of `domain/visibility.ts` when the reader is a player.
 */
import { and, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import type { AnyEntity, EntityType } from "../../domain/entities";
import { cellSize } from "../../domain/grid";
import type { Role } from "../../domain/permissions";
import { activeSceneOf, coverOf, playerView } from "../../domain/player-view";
import type { ChangeRow } from "../../domain/protocol";
import { isAssetVisibleToPlayer, isVisibleToPlayer, type PlayerView, projectForPlayer } from "../../domain/visibility";
import { registry } from "../registry";
import { chunk, type Db } from "./client";
import { fromModuleRow, listEntities, loadEntities, toEntity } from "./entities";
import { activationTimeline, gameSessions, moduleEntities, scenes, sessionState, tokenArt, tokens } from "./schema";

export interface Reader {
  role: Role;
}

/** The live entities of a scene that cover tokens (a module's `coversTokens`: the fog and its chunks). */
export async function loadCoverEntities(db: Db, sessionId: string, sceneId: string): Promise<{ type: EntityType; entity: AnyEntity }[]> {
  const types = [...new Set(registry.tokenCovers.flatMap((c) => c.types))];
  if (types.length === 0) return [];
  const rows = await db
    .select()
    .from(moduleEntities)
    .where(
      and(
        eq(moduleEntities.session_id, sessionId),
        inArray(moduleEntities.entity_type, types),
        eq(moduleEntities.scene_id, sceneId),
        isNull(moduleEntities.archived_at),
      ),
    );
  return rows.map((row) => ({ type: row.entity_type as EntityType, entity: fromModuleRow(row) }));
}

/** The cell size of a session's scene (the default cells when it is missing). */
export async function loadCellSize(db: Db, sessionId: string, sceneId: string): Promise<number> {
  const row = await db
    .select({ grid_size: scenes.grid_size })
    .from(scenes)
    .where(and(eq(scenes.session_id, sessionId), eq(scenes.id, sceneId)))
    .get();
  return cellSize({ grid_size: row?.grid_size });
}

/**
 * What a player may see right now (`playerView` of domain/player-view.ts, built from what D1
 * holds): the active scene and its visible tokens. With `userId`, the view of that player, who
 * also sees their own tokens under fog; without, that of any player.
 */
export async function loadPlayerView(db: Db, sessionId: string, state?: AnyEntity, userId?: string): Promise<PlayerView> {
  const current = state ?? (await loadSessionState(db, sessionId));
  const activeSceneId = activeSceneOf(current);
  if (activeSceneId === null) return playerView({ state: current, cover: undefined, token: () => undefined }, userId);
  const [onScene, covering, cellPx] = await Promise.all([
    db
      .select({
        id: tokens.id,
        scene_id: tokens.scene_id,
        hidden: tokens.hidden,
        archived_at: tokens.archived_at,
        x: tokens.x,
        y: tokens.y,
        width: tokens.width,
        height: tokens.height,
        owner_user_ids: tokens.owner_user_ids,
      })
      .from(tokens)
      .where(and(eq(tokens.session_id, sessionId), eq(tokens.scene_id, activeSceneId))),
    loadCoverEntities(db, sessionId, activeSceneId),
    loadCellSize(db, sessionId, activeSceneId),
  ]);
  const byId = new Map(onScene.map((t) => [t.id, t]));
  return playerView({ state: current, cover: coverOf(registry, covering, cellPx), token: (id) => byId.get(id) }, userId);
}

export async function loadSessionState(db: Db, sessionId: string): Promise<AnyEntity> {
  const row = await db.select().from(sessionState).where(eq(sessionState.session_id, sessionId)).get();
  if (!row) throw new Error(`session ${sessionId} has no session_state`);
  return toEntity(row);
}

/** A function that returns what a reader may see of an entity, or null when nothing. */
export type Filter = (type: EntityType, entity: AnyEntity) => AnyEntity | null;

export function filterFor(role: Role, view: PlayerView | undefined): Filter {
  if (role === "gm" || !view) return (_type, entity) => entity;
  return (type, entity) => (isVisibleToPlayer(registry, type, entity, view) ? projectForPlayer(registry, type, entity, view) : null);
}

/**
 * A write's result as its author may see it. A player's own write is normally visible to them;
 * when it is not (a GM hid the token in between, also before a replay of it), they get only that
 * it left their view.
 */
export function writeResultFor(
  keep: Filter,
  type: EntityType,
  entity: AnyEntity,
): AnyEntity | { id: string; version: number; removed: true } {
  // A replay's result the player may no longer see comes already in the removed form (domain/plan.ts).
  if (entity.removed === true) return { id: entity.id, version: entity.version, removed: true };
  return keep(type, entity) ?? { id: entity.id, version: entity.version, removed: true };
}

/** The filter of a reader; `userId` names the player (who sees their own tokens under fog). */
export async function readerFilter(db: Db, sessionId: string, role: Role, userId?: string): Promise<Filter> {
  return filterFor(role, role === "player" ? await loadPlayerView(db, sessionId, undefined, userId) : undefined);
}

/**
 * Whether a player may have an asset of the session: something they may see names it (see
 * `isAssetVisibleToPlayer`). Everything else is answered exactly like an unknown hash.
 */
export async function playerMaySeeAsset(db: Db, sessionId: string, hash: string, userId?: string): Promise<boolean> {
  const [maps, art] = await Promise.all([
    listEntities(db, sessionId, "scene", { where: eq(scenes.map_asset, hash) }),
    listEntities(db, sessionId, "token_art", { where: eq(tokenArt.image_asset, hash) }),
  ]);
  if (maps.length === 0 && art.length === 0) return false;
  const named = [
    ...maps.map((entity) => ({ type: "scene" as const, entity })),
    ...art.map((entity) => ({ type: "token_art" as const, entity })),
  ];
  return isAssetVisibleToPlayer(registry, hash, named, await loadPlayerView(db, sessionId, undefined, userId));
}

export async function loadHead(db: Db, sessionId: string) {
  const head = await db
    .select({
      id: gameSessions.id,
      name: gameSessions.name,
      created_at: gameSessions.created_at,
      seq: gameSessions.seq,
      log_floor: gameSessions.log_floor,
      settings: gameSessions.settings,
    })
    .from(gameSessions)
    .where(eq(gameSessions.id, sessionId))
    .get();
  if (!head) throw new Error(`no game session ${sessionId}`);
  return head;
}

export interface TimelineEntry {
  seq: number;
  kind: "activate" | "map";
  scene_id: string | null;
  map_asset: string | null;
  user_id: string;
  created_at: string;
}

/** Full state for a reader. Heavy data is lazy: only the active scene's layers. */
export async function loadState(db: Db, sessionId: string, role: Role, userId?: string) {
  const head = await loadHead(db, sessionId);
  const state = await loadSessionState(db, sessionId);
  const view = role === "player" ? await loadPlayerView(db, sessionId, state, userId) : undefined;
  const keep = filterFor(role, view);
  const activeSceneId = typeof state.active_scene_id === "string" ? state.active_scene_id : null;
  const pick = (type: EntityType, items: AnyEntity[]) => items.map((e) => keep(type, e)).filter((e): e is AnyEntity => e !== null);

  // Players need only the active scene; never load the whole world to throw it away.
  const onlyActive = role === "player";
  const [scenes, folders, tokenRows, art, layers, timeline] = await Promise.all([
    onlyActive
      ? activeSceneId
        ? [...(await loadEntities(db, sessionId, "scene", [activeSceneId])).values()]
        : []
      : listEntities(db, sessionId, "scene"),
    onlyActive ? [] : listEntities(db, sessionId, "folder"),
    listEntities(db, sessionId, "token", onlyActive ? { where: eq(tokens.scene_id, activeSceneId ?? "") } : {}),
    listEntities(db, sessionId, "token_art"),
    activeSceneId ? listEntities(db, sessionId, "layer", { where: sql`scene_id = ${activeSceneId}` }) : [],
    db
      .select({
        seq: activationTimeline.seq,
        kind: activationTimeline.kind,
        scene_id: activationTimeline.scene_id,
        map_asset: activationTimeline.map_asset,
        user_id: activationTimeline.user_id,
        created_at: activationTimeline.created_at,
      })
      .from(activationTimeline)
      .where(and(eq(activationTimeline.session_id, sessionId), onlyActive ? eq(activationTimeline.kind, "activate") : undefined))
      .orderBy(desc(activationTimeline.seq))
      .limit(onlyActive ? 1 : 50),
  ]);
  const modules = await loadModuleEntities(db, sessionId, activeSceneId, keep);
  return {
    seq: head.seq,
    session: { id: head.id, name: head.name, created_at: head.created_at, role, settings: head.settings },
    session_state: keep("session_state", state),
    scenes: pick("scene", scenes),
    folders: pick("folder", folders),
    tokens: pick("token", tokenRows),
    token_art: pick("token_art", art),
    layers: pick("layer", layers),
    timeline: timeline as TimelineEntry[],
    modules,
  };
}

/**
 * The live entities of every module type as the reader may see them, keyed by type. Types that
 * live on a scene are lazy like layers: only the active scene's (`GET {S}/<path>?scene_id=` lists
 * another scene's).
 */
async function loadModuleEntities(db: Db, sessionId: string, activeSceneId: string | null, keep: Filter) {
  const types = registry.moduleTypes;
  const lists = await Promise.all(
    types.map(async (type) => {
      const perScene = registry.moduleEntity(type)?.scene?.via === "scene";
      if (perScene && activeSceneId === null) return [];
      return listEntities(db, sessionId, type, perScene ? { sceneId: activeSceneId ?? "" } : {});
    }),
  );
  return Object.fromEntries(
    types.map((type, i) => [type, (lists[i] ?? []).map((e) => keep(type, e)).filter((e): e is AnyEntity => e !== null)]),
  ) as Record<string, AnyEntity[]>;
}

export type { ChangeRow };

/** An entity that hangs on a token and follows its visibility. */
export interface RelatedEntity {
  type: EntityType;
  entity: AnyEntity;
}

/** The token an entity hangs on (token art, a module entity with `scene: {via: "token"}`), if any. */
function tokenOf(type: EntityType, entity: AnyEntity): string | undefined {
  const field =
    type === "token_art"
      ? "token_id"
      : registry.moduleEntity(type)?.scene?.via === "token"
        ? registry.moduleEntity(type)?.scene?.field
        : undefined;
  const tokenId = field === undefined ? undefined : entity[field];
  return typeof tokenId === "string" ? tokenId : undefined;
}

/**
 * What hangs on these tokens and follows their visibility: their live art, and live module
 * entities that live on them (`scene: {via: "token"}`), each with the token it hangs on.
 */
async function tokenDependents(db: Db, sessionId: string, tokenIds: readonly string[]): Promise<(RelatedEntity & { tokenId: string })[]> {
  if (tokenIds.length === 0) return [];
  const ids = new Set(tokenIds);
  const out: (RelatedEntity & { tokenId: string })[] = [];
  for (const part of chunk([...ids], 90)) {
    for (const entity of await listEntities(db, sessionId, "token_art", { where: inArray(tokenArt.token_id, part) })) {
      out.push({ type: "token_art", entity, tokenId: String(entity.token_id) });
    }
  }
  // Module entities that live on a token (`scene.via === "token"`) follow it.
  for (const type of registry.types) {
    const home = registry.moduleEntity(type)?.scene;
    if (home?.via !== "token") continue;
    for (const entity of await listEntities(db, sessionId, type)) {
      const tokenId = entity[home.field];
      if (typeof tokenId === "string" && ids.has(tokenId)) out.push({ type, entity, tokenId });
    }
  }
  return out;
}

/**
 * A token that comes into a player's view carries what hangs on it (`tokenDependents`), read as
 * committed: none of it reached players while the token was hidden. Used by the broadcast of a
 * write (worker/session/write-queue.ts) and by `changes?since`.
 *
 * `rows` are the caller's rows; `revealed` names the token a row brings into view (undefined: it
 * brings none); `keep` is what the row's player may see of an entity (null: nothing); `attach`
 * gives the row with what comes with its token. `skip` leaves out entities (`type:id`) the caller
 * sends anyway; `fresher` gives an entity as the caller knows it better than D1 (the session
 * object's cache: D1 may be behind its write log); `pending` are entities the caller wrote that D1
 * may not hold at all yet (the object's logged ones).
 */
export async function attachRelated<R>(
  db: Db,
  sessionId: string,
  rows: readonly R[],
  revealed: (row: R) => string | undefined,
  keep: (row: R) => Filter,
  attach: (row: R, related: RelatedEntity[]) => R,
  options: {
    skip?: ReadonlySet<string>;
    fresher?: (type: EntityType, entity: AnyEntity) => AnyEntity;
    pending?: () => readonly RelatedEntity[];
  } = {},
): Promise<R[]> {
  const tokenIds = rows.map(revealed).filter((id): id is string => id !== undefined);
  if (tokenIds.length === 0) return [...rows];
  const dependents = await tokenDependents(db, sessionId, tokenIds);
  // Made while the token was hidden and not in D1 yet: only the caller knows them.
  const known = new Set(dependents.map(({ type, entity }) => `${type}:${entity.id}`));
  const wanted = new Set(tokenIds);
  for (const { type, entity } of options.pending?.() ?? []) {
    const tokenId = tokenOf(type, entity);
    if (tokenId !== undefined && wanted.has(tokenId) && !known.has(`${type}:${entity.id}`)) dependents.push({ type, entity, tokenId });
  }
  return rows.map((row) => {
    const tokenId = revealed(row);
    if (tokenId === undefined) return row;
    const filter = keep(row);
    const related = dependents.flatMap(({ type, entity, tokenId: on }): RelatedEntity[] => {
      if (on !== tokenId || options.skip?.has(`${type}:${entity.id}`)) return [];
      const visible = filter(type, options.fresher ? options.fresher(type, entity) : entity);
      return visible ? [{ type, entity: visible }] : [];
    });
    return related.length > 0 ? attach(row, related) : row;
  });
}

export type Delta =
  | { kind: "gone"; seq: number }
  | { kind: "reload"; seq: number }
  | { kind: "changes"; seq: number; changes: ChangeRow[] };

/**
 * One row per entity changed after `since`, with its latest state, in seq order. A player gets
 * only what they may see, removals for what left their view, and a reload when the active scene
 * changed in between. `gone` when `since` is outside the retained log.
 */
export async function changesSince(db: Db, sessionId: string, since: number, role: Role, userId?: string): Promise<Delta> {
  const head = await loadHead(db, sessionId);
  if (since < head.log_floor || since > head.seq) return { kind: "gone", seq: head.seq };
  if (since === head.seq) return { kind: "changes", seq: head.seq, changes: [] };

  if (role === "player") {
    const activation = await db
      .select({ seq: activationTimeline.seq })
      .from(activationTimeline)
      .where(
        and(
          eq(activationTimeline.session_id, sessionId),
          eq(activationTimeline.kind, "activate"),
          sql`${activationTimeline.seq} > ${since}`,
        ),
      )
      .limit(1)
      .get();
    if (activation) return { kind: "reload", seq: head.seq };
  }

  // SQLite returns the other columns of the row holding MAX(seq) / MIN(seq).
  const latest = await db.all<{ entity_type: EntityType; entity_id: string; seq: number; version: number; op: ChangeRow["op"] }>(
    sql`SELECT entity_type, entity_id, MAX(seq) AS seq, version, op FROM change_log
        WHERE session_id = ${sessionId} AND seq > ${since} GROUP BY entity_type, entity_id ORDER BY seq`,
  );
  const byType = new Map<EntityType, string[]>();
  for (const r of latest) byType.set(r.entity_type, [...(byType.get(r.entity_type) ?? []), r.entity_id]);
  const loaded = new Map<string, AnyEntity>();
  await Promise.all(
    [...byType].map(async ([type, ids]) => {
      for (const [id, e] of await loadEntities(db, sessionId, type, ids)) loaded.set(`${type}:${id}`, e);
    }),
  );

  let seenAtSince = new Set<string>();
  let keep: Filter = filterFor("gm", undefined);
  if (role === "player") {
    keep = await readerFilter(db, sessionId, role, userId);
    const first = await db.all<{ entity_type: string; entity_id: string; visible_before: number }>(
      sql`SELECT entity_type, entity_id, MIN(seq) AS seq, visible_before FROM change_log
          WHERE session_id = ${sessionId} AND seq > ${since} GROUP BY entity_type, entity_id`,
    );
    seenAtSince = new Set(first.filter((r) => r.visible_before).map((r) => `${r.entity_type}:${r.entity_id}`));
  }

  const changes: ChangeRow[] = [];
  for (const r of latest) {
    const key = `${r.entity_type}:${r.entity_id}`;
    const entity = loaded.get(key);
    if (!entity) continue;
    const row = { seq: r.seq, entity_type: r.entity_type, entity_id: r.entity_id, version: r.version, op: r.op };
    const visible = keep(r.entity_type, entity);
    if (visible) changes.push({ ...row, entity: visible });
    // The change log records what any player saw; a token's owner also saw it under fog.
    else if (seenAtSince.has(key) || ownedBy(r.entity_type, entity, userId)) changes.push({ ...row, removed: true });
  }
  if (role !== "player") return { kind: "changes", seq: head.seq, changes };
  // Tokens a player sees now but did not at `since` come with what hangs on them and did not
  // change since (it changed while hidden, before `since`).
  const withRelated = await attachRelated(
    db,
    sessionId,
    changes,
    (row) => (row.entity_type === "token" && row.entity && !seenAtSince.has(`token:${row.entity_id}`) ? row.entity_id : undefined),
    () => keep,
    (row, related) => ({ ...row, related: related.map(({ type, entity }) => ({ entity_type: type, entity })) }),
    { skip: new Set(changes.map((c) => `${c.entity_type}:${c.entity_id}`)) },
  );
  return { kind: "changes", seq: head.seq, changes: withRelated };
}

function ownedBy(type: EntityType, entity: AnyEntity, userId: string | undefined): boolean {
  return type === "token" && userId !== undefined && Array.isArray(entity.owner_user_ids) && entity.owner_user_ids.includes(userId);
}
