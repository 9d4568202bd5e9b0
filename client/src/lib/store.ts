/**
 * The session's world on the client, in two layers:
 *
 * - `World`: what the server confirmed, as plain immutable data, changed only by the pure
 *   reducers below (`applyState`, `applyChange`, `applyRemoval`, `applyReload`, ... and
 *   `applyMessage` for any socket message). Each entity only ever moves to a higher version;
 *   an entity that left (archived, or out of a player's view) leaves a tombstone so older news of
 *   it cannot bring it back. A reducer that changes nothing returns the same object.
 * - the view: the world with the pending ops of the authoring queue applied on top
 *   (`overlayOps`), mirrored into a Solid store for the UI. Only entities whose object changed
 *   are written into the store, each as a copy, so the store never mutates the world.
 */
import { batch } from "solid-js";
import { createStore, produce, reconcile } from "solid-js/store";
import { applyMergePatch, type Json } from "../../../domain/merge-patch";
import type { CachedEntity } from "./cache";
import type { Conflict } from "./conflict";
import type { ClientModuleRegistry } from "./modules";
import { entityKey, type QueuedOp, type QueueState, type QueueStatus, type Rejection } from "./queue";
import type { InboundMessage, TransportStatus } from "./transport";
import type {
  AnyEntity,
  EntityType,
  Folder,
  Layer,
  Role,
  Scene,
  SessionInfo,
  SessionSnapshot,
  SessionState,
  Token,
  TokenArt,
} from "./types";

/** The collections of a world, named as in `GET {S}/state`. */
export const buckets = {
  scene: "scenes",
  folder: "folders",
  layer: "layers",
  token: "tokens",
  token_art: "token_art",
} as const;
export type BucketType = keyof typeof buckets;

function isBucketType(type: string): type is BucketType {
  return type in buckets;
}
export type Bucket = (typeof buckets)[BucketType];

export interface Collections {
  scenes: Record<string, Scene>;
  folders: Record<string, Folder>;
  layers: Record<string, Layer>;
  tokens: Record<string, Token>;
  token_art: Record<string, TokenArt>;
  session_state: SessionState | null;
  /** Entities of game modules: type → id → entity. */
  modules: Record<string, Record<string, AnyEntity>>;
}

export interface World extends Collections {
  /** Every change up to this seq is reflected. */
  seq: number;
  /** Entity key → the version at which it left; only a higher version brings it back. */
  tombstones: Record<string, number>;
  /** Changes announced without their entity (too large to inline): key → version to fetch. */
  stale: Record<string, number>;
  /** Set by a `reload` message: the state must be loaded again. Cleared by `applyState`. */
  reload: "activate" | "gone" | null;
  /** From the socket's `hello`. */
  hello: { role: Role; client_id: string; seq: number } | null;
  /** The last `{type: "error"}` the server sent. */
  serverError: { code: string; message: string } | null;
}

export function emptyWorld(): World {
  return {
    seq: 0,
    scenes: {},
    folders: {},
    layers: {},
    tokens: {},
    token_art: {},
    session_state: null,
    modules: {},
    tombstones: {},
    stale: {},
    reload: null,
    hello: null,
    serverError: null,
  };
}

export function getEntity(world: Collections, type: EntityType, id: string): AnyEntity | undefined {
  if (type === "session_state") return world.session_state?.id === id ? (world.session_state as AnyEntity) : undefined;
  if (!isBucketType(type)) return world.modules[type]?.[id];
  return world[buckets[type]][id] as AnyEntity | undefined;
}

/** Every entity of a world, with its type (for the cache). */
export function allEntities(world: Collections): { type: EntityType; entity: AnyEntity }[] {
  const out: { type: EntityType; entity: AnyEntity }[] = [];
  for (const type of Object.keys(buckets) as BucketType[]) {
    for (const entity of Object.values(world[buckets[type]])) out.push({ type, entity: entity as AnyEntity });
  }
  if (world.session_state) out.push({ type: "session_state", entity: world.session_state as AnyEntity });
  for (const [type, entities] of Object.entries(world.modules)) {
    for (const entity of Object.values(entities)) out.push({ type: type as EntityType, entity });
  }
  return out;
}

function putEntity<W extends Collections>(world: W, type: EntityType, entity: AnyEntity): W {
  if (type === "session_state") return { ...world, session_state: entity as unknown as SessionState };
  if (!isBucketType(type)) return { ...world, modules: { ...world.modules, [type]: { ...world.modules[type], [entity.id]: entity } } };
  const bucket = buckets[type];
  return { ...world, [bucket]: { ...world[bucket], [entity.id]: entity } };
}

/**
 * `putEntity` for many entities at once (a state, the cache at boot): each collection is copied
 * once, not once per entity, which for 5,000 tokens is milliseconds instead of seconds.
 */
function putEntities<W extends Collections>(world: W, list: readonly { type: EntityType; entity: AnyEntity }[]): W {
  const next: W = { ...world };
  const copied = new Set<string>();
  for (const { type, entity } of list) {
    if (type === "session_state") {
      next.session_state = entity as unknown as SessionState;
    } else if (!isBucketType(type)) {
      if (!copied.has("modules")) next.modules = { ...next.modules };
      if (!copied.has(`modules:${type}`)) next.modules[type] = { ...next.modules[type] };
      copied.add("modules").add(`modules:${type}`);
      (next.modules[type] as Record<string, AnyEntity>)[entity.id] = entity;
    } else {
      const bucket = buckets[type];
      if (!copied.has(bucket)) (next as Collections)[bucket] = { ...next[bucket] } as never;
      copied.add(bucket);
      (next[bucket] as Record<string, AnyEntity>)[entity.id] = entity;
    }
  }
  return next;
}

function dropEntity<W extends Collections>(world: W, type: EntityType, id: string): W {
  if (type === "session_state") return world.session_state?.id === id ? { ...world, session_state: null } : world;
  if (!isBucketType(type)) {
    const entities = world.modules[type];
    if (!entities || !(id in entities)) return world;
    const { [id]: _gone, ...rest } = entities;
    return { ...world, modules: { ...world.modules, [type]: rest } };
  }
  const bucket = buckets[type];
  if (!(id in world[bucket])) return world;
  const { [id]: _gone, ...rest } = world[bucket];
  return { ...world, [bucket]: rest };
}

function withoutKey(record: Record<string, number>, key: string): Record<string, number> {
  if (!(key in record)) return record;
  const { [key]: _gone, ...rest } = record;
  return rest;
}

/** An entity from the server: kept only if newer than what the world holds (archived: removed). */
export function applyEntity(world: World, type: EntityType, entity: AnyEntity): World {
  if (entity.archived_at !== null) return applyRemoval(world, type, entity.id, entity.version);
  const key = entityKey(type, entity.id);
  const current = getEntity(world, type, entity.id);
  const stale = (world.stale[key] ?? 0) <= entity.version ? withoutKey(world.stale, key) : world.stale;
  if ((current && current.version >= entity.version) || (world.tombstones[key] ?? 0) >= entity.version) {
    return stale === world.stale ? world : { ...world, stale };
  }
  return { ...putEntity(world, type, entity), tombstones: withoutKey(world.tombstones, key), stale };
}

export function applyEntities(world: World, entities: readonly { type: EntityType; entity: AnyEntity }[]): World {
  return entities.reduce((w, { type, entity }) => applyEntity(w, type, entity), world);
}

/** The entity left at `version` (archived, or out of a player's view); an older copy does not count. */
export function applyRemoval(world: World, type: EntityType, id: string, version: number): World {
  const key = entityKey(type, id);
  const current = getEntity(world, type, id);
  if (current && current.version > version) return world;
  if (!current && (world.tombstones[key] ?? 0) >= version && !(key in world.stale)) return world;
  return {
    ...dropEntity(world, type, id),
    tombstones: { ...world.tombstones, [key]: Math.max(version, world.tombstones[key] ?? 0) },
    stale: withoutKey(world.stale, key),
  };
}

type ChangeMessage = Extract<InboundMessage, { type: "change" }> & {
  entity_type: EntityType;
  entity_id: string;
  seq: number;
  version: number;
};

/**
 * One `change`. Seqs at or below the world's are already reflected (a replay, or the same change
 * by socket and by poll) and change nothing. Without its entity (too large to inline) the change
 * is recorded in `stale` for the sync layer to fetch.
 */
export function applyChange(world: World, message: ChangeMessage): World {
  if (message.seq <= world.seq) return world;
  let next: World;
  if (message.removed) next = applyRemoval(world, message.entity_type, message.entity_id, message.version);
  else if (message.entity) next = applyEntity(world, message.entity_type, message.entity);
  else next = markStale(world, message.entity_type, message.entity_id, message.version);
  // A token coming into a player's view brings what hangs on it (its art, module entities).
  for (const related of message.related ?? []) next = applyEntity(next, related.entity_type, related.entity);
  return { ...next, seq: message.seq };
}

function markStale(world: World, type: EntityType, id: string, version: number): World {
  const key = entityKey(type, id);
  const current = getEntity(world, type, id);
  if ((current && current.version >= version) || (world.stale[key] ?? 0) >= version) return world;
  return { ...world, stale: { ...world.stale, [key]: version } };
}

/** `resumed`: the replay after `resume` is complete up to `seq`. */
export function applyResumed(world: World, message: { seq: number }): World {
  return message.seq > world.seq ? { ...world, seq: message.seq } : world;
}

/** `reload`: what this client may see changed wholesale (the active scene) or the log is too short. */
export function applyReload(world: World, message: { reason?: unknown }): World {
  const reason = message.reason === "gone" ? "gone" : "activate";
  return world.reload === reason ? world : { ...world, reload: reason };
}

/**
 * A full `state`. Entities it lists are taken unless the world already holds them at the same or
 * a higher version; entities it does not list are gone, except layers of other scenes it still
 * lists (the state carries only the active scene's layers: the rest are loaded with their scene),
 * and entities of other scenes of the types `modules` declares scene-bound, kept alike.
 * A state older than the world (a slow response) only contributes newer versions.
 */
export function applyState(world: World, snapshot: SessionSnapshot, modules: ClientModuleRegistry): World {
  const listed: { type: EntityType; entity: AnyEntity }[] = [
    ...snapshot.scenes.map((entity) => ({ type: "scene" as const, entity: entity as AnyEntity })),
    ...snapshot.folders.map((entity) => ({ type: "folder" as const, entity: entity as AnyEntity })),
    ...snapshot.layers.map((entity) => ({ type: "layer" as const, entity: entity as AnyEntity })),
    ...snapshot.tokens.map((entity) => ({ type: "token" as const, entity: entity as AnyEntity })),
    ...snapshot.token_art.map((entity) => ({ type: "token_art" as const, entity: entity as AnyEntity })),
    ...(snapshot.session_state ? [{ type: "session_state" as const, entity: snapshot.session_state as AnyEntity }] : []),
    ...Object.entries(snapshot.modules ?? {}).flatMap(([type, entities]) =>
      entities.map((entity) => ({ type: type as EntityType, entity })),
    ),
  ];
  if (snapshot.seq < world.seq) return applyEntities(world, listed);

  const sceneIds = new Set(snapshot.scenes.map((s) => s.id));
  const activeSceneId = snapshot.session_state?.active_scene_id ?? null;
  const keptLayers = Object.fromEntries(
    Object.entries(world.layers).filter(([, layer]) => layer.scene_id !== activeSceneId && sceneIds.has(layer.scene_id)),
  );
  // Module entities that live on a scene are lazy like layers: those of other scenes stay.
  const keptModules: World["modules"] = {};
  for (const [type, field] of modules.sceneFields) {
    const kept = Object.entries(world.modules[type] ?? {}).filter(([, e]) => e[field] !== activeSceneId && sceneIds.has(String(e[field])));
    if (kept.length > 0) keptModules[type] = Object.fromEntries(kept);
  }
  const next: World = {
    ...emptyWorld(),
    layers: keptLayers,
    modules: keptModules,
    seq: snapshot.seq,
    hello: world.hello,
    serverError: world.serverError,
  };
  const chosen: { type: EntityType; entity: AnyEntity }[] = [];
  for (const { type, entity } of listed) {
    if (entity.archived_at !== null) continue;
    const current = getEntity(world, type, entity.id);
    chosen.push({ type, entity: current && current.version >= entity.version ? current : entity });
  }
  return putEntities(next, chosen);
}

/** A scene opened with `GET {S}/scenes/{id}`: its layers replace the ones the world held for it. */
export function applySceneLayers(world: World, sceneId: string, layers: readonly Layer[]): World {
  let next: World = {
    ...world,
    layers: Object.fromEntries(Object.entries(world.layers).filter(([, l]) => l.scene_id !== sceneId)),
  };
  for (const layer of layers) {
    const current = world.layers[layer.id];
    if (layer.archived_at !== null) continue;
    next = putEntity(next, "layer", (current && current.version >= layer.version ? current : layer) as AnyEntity);
  }
  return next;
}

/**
 * Entities of a module type that lives on a scene, listed for one scene (`GET {S}/<path>?scene_id=`):
 * they replace the ones the world held for that scene.
 */
export function applySceneModuleEntities(
  world: World,
  type: EntityType,
  sceneId: string,
  entities: readonly AnyEntity[],
  modules: ClientModuleRegistry,
): World {
  const field = modules.sceneFields.get(type);
  if (!field)
    return applyEntities(
      world,
      entities.map((entity) => ({ type, entity })),
    );
  const held = world.modules[type] ?? {};
  let next: World = {
    ...world,
    modules: { ...world.modules, [type]: Object.fromEntries(Object.entries(held).filter(([, e]) => e[field] !== sceneId)) },
  };
  for (const entity of entities) {
    const current = held[entity.id];
    if (entity.archived_at !== null) continue;
    next = putEntity(next, type, current && current.version >= entity.version ? current : entity);
  }
  return next;
}

/** Any message from the socket (or polling); unknown types leave the world as it is. */
export function applyMessage(world: World, message: InboundMessage): World {
  switch (message.type) {
    case "hello": {
      const m = message as Extract<InboundMessage, { type: "hello" }>;
      return { ...world, hello: { role: m.role, client_id: m.client_id, seq: m.seq } };
    }
    case "change":
      return applyChange(world, message as ChangeMessage);
    case "reload":
      return applyReload(world, message as { reason?: unknown });
    case "resumed":
      return applyResumed(world, message as { seq: number });
    case "error": {
      const m = message as Extract<InboundMessage, { type: "error" }>;
      return { ...world, serverError: { code: String(m.code), message: String(m.message) } };
    }
    default:
      return world;
  }
}

/** The world as the cache left it: what the UI shows before the server answers. */
export function worldFromCache(entities: readonly CachedEntity[], seq: number | null): World {
  // One entry per entity (the cache's key), so the live ones go in as they are, all at once.
  const live = entities.filter((e) => e.payload.archived_at === null).map(({ type, payload }) => ({ type, entity: payload }));
  let world = putEntities(emptyWorld(), live);
  for (const { type, payload } of entities) if (payload.archived_at !== null) world = applyEntity(world, type, payload);
  return { ...world, seq: seq ?? 0 };
}

/**
 * The world with pending ops applied on top, in order: a create shows at version 0, an update
 * merges its patch into the fields, an archive hides the entity. Untouched entities keep their
 * objects, so the store rewrites only what changed.
 */
export function overlayOps<W extends Collections>(world: W, ops: readonly QueuedOp[]): W {
  let view = world;
  for (const op of ops) {
    const current = getEntity(view, op.entity_type, op.id);
    switch (op.op) {
      case "create":
        if (!current) {
          const created = {
            id: op.id,
            version: 0,
            created_at: "",
            updated_at: "",
            updated_by: "",
            ...op.payload,
            archived_at: null,
          } as AnyEntity;
          view = putEntity(view, op.entity_type, created);
        }
        break;
      case "update":
        if (current) {
          const patched = applyMergePatch(current as unknown as Json, op.payload) as unknown as AnyEntity;
          view = putEntity(view, op.entity_type, { ...patched, id: current.id, version: current.version });
        }
        break;
      case "archive":
        if (current) view = dropEntity(view, op.entity_type, op.id);
        break;
      case "restore":
        // Archived entities are not in the world; a restore shows once the server confirms it.
        break;
    }
  }
  return view;
}

// --- the Solid store ------------------------------------------------------------------------

export interface SyncInfo {
  queue: QueueStatus;
  /** Ops not yet confirmed by the server. */
  pending: number;
  conflict: Conflict | null;
  rejected: Rejection | null;
  /** Paused until the user signs in again. */
  unauthorized: boolean;
  retryAt: number | null;
  lastError: string | null;
  /** True until the first state or changes answer (the view shows the cache meanwhile). */
  loading: boolean;
  /** The view comes from the cache and has not been confirmed by the server yet. */
  fromCache: boolean;
  /** Why the state could not be loaded (offline, or no longer a member), null once it was. */
  loadError: string | null;
}

export interface SessionView extends Collections {
  seq: number;
  session: SessionInfo | null;
  role: Role | null;
  connection: TransportStatus;
  sync: SyncInfo;
  /** Entity key (`type:id`) → number of pending ops on it: "not saved yet" markers. */
  pending: Record<string, number>;
}

export interface SessionStore {
  /** Read-only for the UI: server state with the pending ops on top. */
  readonly view: SessionView;
  world(): World;
  ops(): readonly QueuedOp[];
  /** Runs a reducer on the world and refreshes the view; returns the new world. */
  update(reducer: (world: World) => World): World;
  setOps(ops: readonly QueuedOp[]): void;
  setQueueState(state: QueueState): void;
  setConnection(status: TransportStatus): void;
  setSession(session: SessionInfo | null): void;
  setLoading(loading: boolean, fromCache?: boolean): void;
  setLoadError(message: string | null): void;
}

function initialView(): SessionView {
  return {
    ...emptyWorld(),
    session: null,
    role: null,
    connection: "stopped",
    sync: {
      queue: "idle",
      pending: 0,
      conflict: null,
      rejected: null,
      unauthorized: false,
      retryAt: null,
      lastError: null,
      loading: true,
      fromCache: false,
      loadError: null,
    },
    pending: {},
  };
}

type EntityBucketKey = Bucket;

export function createSessionStore(initial: World = emptyWorld(), initialOps: readonly QueuedOp[] = []): SessionStore {
  const [view, setView] = createStore<SessionView>(initialView());
  let world = initial;
  let ops: readonly QueuedOp[] = initialOps;
  let shown: Collections = {
    scenes: {},
    folders: {},
    layers: {},
    tokens: {},
    token_art: {},
    session_state: null,
    modules: {},
  };

  function render() {
    const next = overlayOps(world, ops);
    batch(() => {
      for (const bucket of Object.values(buckets) as EntityBucketKey[]) writeBucket(bucket, shown[bucket], next[bucket]);
      if (shown.modules !== next.modules) writeModules(shown.modules, next.modules);
      if (shown.session_state !== next.session_state) {
        setView("session_state", next.session_state ? reconcile(structuredClone(next.session_state)) : null);
      }
      if (view.seq !== world.seq) setView("seq", world.seq);
      const role = currentRole();
      if (view.role !== role) setView("role", role);
      const pending: Record<string, number> = {};
      for (const op of ops) {
        const key = entityKey(op.entity_type, op.id);
        pending[key] = (pending[key] ?? 0) + 1;
      }
      setView("pending", reconcile(pending));
      setView("sync", "pending", ops.length);
    });
    shown = next;
  }

  function writeBucket(bucket: EntityBucketKey, before: Record<string, unknown>, after: Record<string, unknown>) {
    if (before === after) return;
    const removed = Object.keys(before).filter((id) => !(id in after));
    if (removed.length > 0) {
      setView(
        produce((v) => {
          for (const id of removed) delete v[bucket][id];
        }),
      );
    }
    for (const [id, entity] of Object.entries(after)) {
      // A copy: the store mutates its objects in place, the world's must stay untouched.
      if (before[id] !== entity) setView(bucket, id, reconcile(structuredClone(entity) as never));
    }
  }

  function writeModules(before: Collections["modules"], after: Collections["modules"]) {
    for (const type of Object.keys(before)) if (!(type in after)) setView("modules", type, reconcile({}));
    for (const [type, entities] of Object.entries(after)) {
      const previous = before[type] ?? {};
      if (previous === entities) continue;
      if (!(type in view.modules)) setView("modules", type, {});
      const removed = Object.keys(previous).filter((id) => !(id in entities));
      if (removed.length > 0) {
        setView(
          produce((v) => {
            const bucket = v.modules[type];
            if (bucket) for (const id of removed) delete bucket[id];
          }),
        );
      }
      for (const [id, entity] of Object.entries(entities)) {
        if (previous[id] !== entity) setView("modules", type, id, reconcile(structuredClone(entity)));
      }
    }
  }

  /** The socket's `hello` knows best (it follows role changes); else what the state said. */
  function currentRole(): Role | null {
    return world.hello?.role ?? view.session?.role ?? null;
  }

  render();

  return {
    view,
    world: () => world,
    ops: () => ops,
    update(reducer) {
      const next = reducer(world);
      if (next !== world) {
        world = next;
        render();
      }
      return world;
    },
    setOps(next) {
      if (next === ops) return;
      ops = next;
      render();
    },
    setQueueState(state) {
      ops = state.ops;
      render();
      setView("sync", {
        queue: state.status,
        conflict: state.conflict ? structuredClone(state.conflict) : null,
        rejected: state.rejected ? structuredClone(state.rejected) : null,
        unauthorized: state.pausedReason === "unauthorized",
        retryAt: state.retryAt,
        lastError: state.lastError,
      });
    },
    setConnection(status) {
      setView("connection", status);
    },
    setSession(session) {
      setView("session", session ? reconcile(structuredClone(session)) : null);
      setView("role", currentRole());
    },
    setLoading(loading, fromCache) {
      setView("sync", { loading, ...(fromCache !== undefined ? { fromCache } : {}) });
    },
    setLoadError(message) {
      setView("sync", "loadError", message);
    },
  };
}
