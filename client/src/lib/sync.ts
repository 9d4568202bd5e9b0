/**
 * The boot sequence and the wiring of one session's data layer:
 *
 * 1. open the IndexedDB cache (in memory if IndexedDB is unavailable) and render from it at once:
 *    the confirmed entities plus the queued ops on top;
 * 2. reconcile with the server: `changes?since` the cached seq, or the full `state` when there is
 *    no cache, the cache is marked out of sync, the log no longer reaches back (410) or a player's
 *    view changed (`reload`). Only higher versions are applied;
 * 3. start the transport (socket, or polling), which resumes from the last applied seq;
 * 4. start the authoring queue.
 *
 * Incoming messages are handled one at a time, in order; each one is applied to the store and
 * then written to the cache together with the seq it brings the cache to. Everything from the
 * outside (API, WebSocket class, cache, timers, randomness, clock, ids) is injected.
 *
 * The wire: the app's socket is opened with `?patch=1`, so an update arrives as a merge patch
 * from the previous version; it is applied to the cached entity when that is the previous
 * version, else the entity is fetched (GET). The queue's batches go on the socket while it is
 * open (`transport.sendOps`) and over `POST {S}/batch` otherwise, or again over REST when the
 * socket goes away before answering (op ids make the retry safe).
 */

import type { Layer } from "../../../domain/entities";
import { applyMergePatch, isJsonObject, type Json, type JsonObject } from "../../../domain/merge-patch";
import type { SessionApi } from "./api";
import { ApiError, createSessionApi, sessionSocketUrl } from "./api";
import { type Cache, type CacheCommit, createMemoryCache, openCache } from "./cache";
import type { Conflict, Resolution } from "./conflict";
import { createConflictReporter } from "./conflict-metrics";
import type { ClientModuleRegistry } from "./modules";
import { createQueue, nextBaseVersion, type OpInput, type Queue, type QueuedOp, type QueueMetric } from "./queue";
import {
  allEntities,
  applyEntities,
  applyMessage,
  applySceneLayers,
  applySceneModuleEntities,
  applyState,
  createSessionStore,
  getEntity,
  type SessionStore,
  type SessionView,
  type World,
  worldFromCache,
} from "./store";
import {
  backoffDelay,
  changeMessage,
  createTransport,
  defaultTimers,
  type InboundMessage,
  SocketWriteLost,
  type Timers,
  type Transport,
  type TransportDeps,
  type WebSocketClass,
} from "./transport";
import type { AnyEntity, BatchOp, BatchResponse, EntityType, SessionInfo, SessionSettings, SessionSnapshot } from "./types";

export interface SyncDeps {
  sessionId: string;
  userId: string;
  /** The game modules the app runs with (lib/modules.ts); the same registry the `api` was built with. */
  modules: ClientModuleRegistry;
  api: SessionApi;
  /** The session's WebSocket URL (see `sessionSocketUrl`). */
  socketUrl: string | (() => string);
  WebSocket?: WebSocketClass;
  /** Defaults to IndexedDB per user and session, falling back to memory. */
  openCache?: () => Promise<Cache>;
  timers?: Timers;
  random?: () => number;
  now?: () => number;
  uuid?: () => string;
  /** Conflict count and time to resolve; defaults to sending them to the server (and a log line). */
  reportMetric?(metric: QueueMetric): void;
  /** Socket messages of types the data layer does not handle (`lock`, `presence`, ...). */
  onMessage?(message: InboundMessage): void;
  /** Subscribes to "the network is back" (defaults to the window's `online` event). */
  onOnline?(callback: () => void): () => void;
  /** Subscribes to "the network is gone" (defaults to the window's `offline` event). */
  onOffline?(callback: () => void): () => void;
  /** Tuning of the transport (fallback delay, backoff). */
  transport?: Pick<
    TransportDeps,
    "socketFallbackMs" | "reconnectBaseMs" | "reconnectMaxMs" | "pollMaxBackoffMs" | "pingIntervalMs" | "maxMissedPongs" | "isOnline"
  >;
  /** Tuning of the queue's retries. */
  queue?: { retryBaseMs?: number; retryMaxMs?: number };
  /** Backoff of state reloads that fail. */
  reloadBaseMs?: number;
  reloadMaxMs?: number;
}

/** An op authored in this tab and confirmed by the server, with the entity it produced. */
export interface ConfirmedOp {
  entity_type: EntityType;
  id: string;
  op: BatchOp["op"];
  base_version: number | null;
  data: JsonObject | undefined;
  entity: AnyEntity;
}

/** One edit of `SessionSync.submit`. */
export type Edit =
  | { op: "create"; type: EntityType; data: JsonObject; id?: string }
  | { op: "update"; type: EntityType; id: string; patch: JsonObject }
  | { op: "archive"; type: EntityType; id: string };

export interface SessionSync {
  /** The game modules this session runs with (`SyncDeps.modules`): the table shows theirs. */
  readonly modules: ClientModuleRegistry;
  readonly store: SessionStore;
  readonly view: SessionView;
  readonly queue: Queue;
  readonly transport: Transport;
  /** Resolves once the cache has been reconciled with the server (or the attempt gave up for now). */
  readonly ready: Promise<void>;
  /** Queues a create; the id is chosen here unless given. */
  create(type: EntityType, data: JsonObject, id?: string): Promise<QueuedOp>;
  /** Queues a JSON Merge Patch of an entity the view holds. */
  update(type: EntityType, id: string, patch: JsonObject): Promise<QueuedOp>;
  archive(type: EntityType, id: string): Promise<QueuedOp>;
  /**
   * Several edits as one action, sent in one batch (all apply or none): a token dropped from the
   * library with its art, a fog stroke over several chunks. Base versions follow the ops before.
   */
  submit(edits: readonly Edit[]): Promise<QueuedOp[]>;
  /**
   * Entities the server answered with outside the queue (a module's route, e.g. the initiative's
   * next turn): shown and cached at once, like a change from the socket; only higher versions count.
   */
  accept(entities: readonly { type: EntityType; entity: AnyEntity }[]): void;
  /** Restores an archived entity (not in the view: its version comes from the archived list). */
  restore(type: EntityType, id: string, baseVersion: number): Promise<QueuedOp>;
  conflict(): Conflict | null;
  /** Subscribes to the socket messages the data layer leaves to the UI (`lock`, `presence`, ...); returns the unsubscribe. */
  listen(listener: (message: InboundMessage) => void): () => void;
  /** Subscribes to failed sends of the queue, e.g. a 423 `locked` (the queue keeps those ops and retries them). */
  onSendError(listener: (error: unknown) => void): () => void;
  /** Subscribes to the ops this tab authored, once the server confirmed them (undo, `undo.ts`); returns the unsubscribe. */
  onConfirmed(listener: (ops: ConfirmedOp[]) => void): () => void;
  resolveConflict(resolution: Resolution): Promise<void>;
  dropRejected(): Promise<void>;
  /** Resumes the queue after signing in again. */
  resumeQueue(): void;
  /** Loads `state` again (the "Reload" button). */
  reload(): Promise<void>;
  /** Loads a scene with its layers (layers of scenes other than the active one are lazy). */
  loadScene(sceneId: string): Promise<void>;
  /** The network is back: reconnect, poll and send now. */
  wake(): void;
  stop(): Promise<void>;
}

/** The browser's wiring: the session's API and socket on this page's origin. */
export function startSessionSync(
  sessionId: string,
  userId: string,
  modules: ClientModuleRegistry,
  overrides: Partial<SyncDeps> = {},
): Promise<SessionSync> {
  return startSync({
    sessionId,
    userId,
    modules,
    api: createSessionApi(sessionId, modules),
    // Updates as merge patches (handleChange applies them).
    socketUrl: () => `${sessionSocketUrl(sessionId)}?patch=1`,
    ...overrides,
  });
}

export async function startSync(deps: SyncDeps): Promise<SessionSync> {
  const timers = deps.timers ?? defaultTimers;
  const random = deps.random ?? Math.random;
  const now = deps.now ?? Date.now;
  const uuid = deps.uuid ?? (() => crypto.randomUUID());
  // Conflicts reach the server's metrics when the api can send them (conflict-metrics.ts).
  const reporter =
    deps.reportMetric === undefined && deps.api.reportConflicts
      ? createConflictReporter({ send: deps.api.reportConflicts.bind(deps.api), timers, log: logMetric })
      : undefined;
  const reportMetric = deps.reportMetric ?? (reporter ? reporter.report : logMetric);
  const { api, modules } = deps;

  const cache = await (deps.openCache ?? (() => openCache(deps.userId, deps.sessionId)))().catch((error: unknown) => {
    console.warn(JSON.stringify({ level: "warn", msg: "IndexedDB unavailable; caching in memory", error: String(error) }));
    return createMemoryCache();
  });
  const contents = await cache.loadAll();
  const hasCache = contents.meta.seq !== null;

  const store = createSessionStore(worldFromCache(contents.entities, contents.meta.seq), contents.queue);
  store.setSession(contents.meta.session);
  store.setLoading(true, hasCache);

  let stopped = false;
  const cleanups: (() => void)[] = [];
  const listeners = new Set<(message: InboundMessage) => void>();
  const sendErrorListeners = new Set<(error: unknown) => void>();
  const confirmedListeners = new Set<(ops: ConfirmedOp[]) => void>();
  /** Ops found queued at boot were authored before this page loaded: not this tab's actions. */
  const queuedAtBoot = new Set(contents.queue.map((op) => op.uuid));
  const confirmed = (ops: BatchOp[], response: BatchResponse): BatchResponse => {
    if (confirmedListeners.size === 0) return response;
    const results = new Map(response.results.map((r) => [r.op_id, r.entity]));
    const out: ConfirmedOp[] = [];
    for (const op of ops) {
      const entity = results.get(op.op_id);
      if (!entity || queuedAtBoot.has(op.op_id)) continue;
      out.push({
        entity_type: op.entity_type,
        id: op.id ?? entity.id,
        op: op.op,
        base_version: op.base_version ?? null,
        data: op.data,
        entity,
      });
    }
    for (const listener of [...confirmedListeners]) {
      try {
        listener(out);
      } catch (error) {
        console.error(JSON.stringify({ level: "error", msg: "confirmed-op listener failed", error: String(error) }));
      }
    }
    return response;
  };
  const forward = (message: InboundMessage) => {
    deps.onMessage?.(message);
    for (const listener of [...listeners]) listener(message);
  };

  /** Applies a reducer and writes what it changed for `touched` entities to the cache. */
  function applyAndPersist(reducer: (w: World) => World, touched: { type: EntityType; id: string }[]) {
    const before = store.world();
    const after = store.update(reducer);
    const commit: CacheCommit = { put: [], remove: [] };
    for (const { type, id } of touched) {
      const was = getEntity(before, type, id);
      const is = getEntity(after, type, id);
      if (is && is !== was) commit.put?.push({ type, entity: is });
      else if (!is && was) commit.remove?.push({ type, id });
    }
    if (after.seq !== before.seq) commit.seq = after.seq;
    const desync = Object.keys(after.stale).length > 0;
    if (desync !== Object.keys(before.stale).length > 0) commit.desync = desync;
    const empty = commit.put?.length === 0 && commit.remove?.length === 0 && commit.seq === undefined && commit.desync === undefined;
    if (!empty) void cache.commit(commit).catch(logCacheError);
    return after;
  }

  const queue = createQueue(
    {
      storage: cache,
      sendBatch: (ops) =>
        sendOps(ops)
          .then((response) => confirmed(ops, response))
          .catch((error: unknown) => {
            for (const listener of [...sendErrorListeners]) listener(error);
            throw error;
          }),
      fetchEntity: (type, id) => fetchEntity(type, id),
      onApplied: (entities) =>
        applyAndPersist(
          (w) => applyEntities(w, entities),
          entities.map(({ type, entity }) => ({ type, id: entity.id })),
        ),
      onState: (state) => store.setQueueState(state),
      reportMetric,
      timers,
      random,
      now,
      uuid,
      ...(deps.queue ?? {}),
    },
    contents.queue,
  );
  store.setQueueState(queue.state());

  // The newest D1 bookmark seen (bookmark.ts): from the cache, then from every answer and `landed`
  // message; kept with the cache so a reload reads no older than what this device saw.
  const bookmarks = api.bookmarks;
  if (bookmarks) {
    bookmarks.offer(contents.meta.bookmark);
    cleanups.push(bookmarks.subscribe((bookmark) => void cache.setBookmark(bookmark).catch(logCacheError)));
  }

  const transport = createTransport({
    url: deps.socketUrl,
    ...(deps.WebSocket ? { WebSocket: deps.WebSocket } : {}),
    fetchChanges: (since, seq) => api.getChanges(since, seq),
    getSeq: () => store.world().seq,
    onMessage: (message) => receive(message),
    onStatus: (status) => {
      store.setConnection(status);
      // The socket is back: so is the network, most likely. Send queued work now, not after the backoff.
      if (status === "live") queue.kick();
    },
    settings: contents.meta.session?.settings ?? {},
    timers,
    random,
    ...(deps.transport ?? {}),
  });

  /** On the open socket, else (or when it goes away before answering) over REST. */
  function sendOps(ops: BatchOp[]): Promise<BatchResponse> {
    const onSocket = transport.sendOps(ops);
    if (!onSocket) return api.batch(ops);
    return onSocket.catch((error: unknown) => {
      if (error instanceof SocketWriteLost) return api.batch(ops);
      throw error;
    });
  }

  async function fetchEntity(type: EntityType, id: string): Promise<AnyEntity | null> {
    try {
      return await api.getEntity(type, id);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }

  // --- incoming messages, one at a time -----------------------------------------------------

  let chain: Promise<void> = Promise.resolve();
  /** Runs `task` after everything received before it. */
  function inOrder(task: () => Promise<void>, label: string): Promise<void> {
    chain = chain
      .then(task)
      .catch((error: unknown) =>
        console.error(JSON.stringify({ level: "error", msg: "sync task failed", task: label, error: String(error) })),
      );
    return chain;
  }

  function receive(message: InboundMessage): Promise<void> {
    return inOrder(() => handle(message), message.type);
  }

  async function handle(message: InboundMessage): Promise<void> {
    if (stopped) return;
    switch (message.type) {
      case "change":
        return handleChange(message as Extract<InboundMessage, { type: "change" }> & ChangeFields);
      case "resumed":
        applyAndPersist((w) => applyMessage(w, message), []);
        store.setLoading(false, false);
        return;
      case "reload":
        store.update((w) => applyMessage(w, message));
        await ensureState();
        return;
      case "hello": {
        const before = store.world().hello?.role ?? store.view.session?.role ?? null;
        const after = store.update((w) => applyMessage(w, message));
        // A new role (the socket was closed with 4403) sees a different world: load it.
        if (before !== null && after.hello && after.hello.role !== before) await ensureState();
        return;
      }
      case "error":
        store.update((w) => applyMessage(w, message));
        return;
      case "landed":
        // D1 holds the session up to `seq`: reads sent with this bookmark see it.
        bookmarks?.offer((message as { bookmark?: unknown }).bookmark);
        return;
      case "settings":
      case "realtime_off": {
        const session = store.view.session;
        const interval = (message as { poll_interval_ms?: unknown }).poll_interval_ms;
        const settings: SessionSettings =
          message.type === "settings"
            ? ((message as { settings?: SessionSettings }).settings ?? {})
            : { ...(session?.settings ?? {}), realtime: false, ...(typeof interval === "number" ? { poll_interval_ms: interval } : {}) };
        if (message.type === "settings") transport.setSettings(settings);
        if (session) {
          // A plain copy: `session` is a store proxy, which structured cloning (IndexedDB) refuses.
          const next: SessionInfo = { ...session, settings };
          store.setSession(next);
          void cache.setSession(next).catch(logCacheError);
        }
        forward(message);
        return;
      }
      default:
        forward(message);
    }
  }

  async function handleChange(message: Extract<InboundMessage, { type: "change" }> & ChangeFields): Promise<void> {
    if (message.seq <= store.world().seq) return;
    let change = message;
    if (message.patch) {
      // A patch from the previous version: applied to it when that is what the cache holds, else
      // the entity is fetched below. `event_id` is the seq on a patch message.
      const { patch, ...rest } = message;
      const plain = { ...rest, event_id: message.seq, op: message.op ?? "update" } as typeof message;
      const cached = getEntity(store.world(), message.entity_type, message.entity_id);
      change = cached && cached.version === message.version - 1 ? { ...plain, entity: patchEntity(cached, patch, message.version) } : plain;
    }
    if (!change.entity && !change.removed) {
      // Too large to inline: read it. Gone (404) is a removal; no answer leaves it stale.
      try {
        const entity = await fetchEntity(change.entity_type, change.entity_id);
        change = entity ? { ...change, entity } : { ...change, removed: true };
      } catch {
        // Recorded as stale by the store; `ensureState` below catches up.
      }
    }
    const touched = [
      { type: change.entity_type, id: change.entity_id },
      ...(change.related ?? []).map((r) => ({ type: r.entity_type, id: r.entity.id })),
    ];
    const after = applyAndPersist((w) => applyMessage(w, change), touched);
    if (Object.keys(after.stale).length > 0) void ensureStateLater();
  }

  // --- full state ---------------------------------------------------------------------------

  let loading: Promise<void> | null = null;

  /** Loads `state` and reconciles (single flight). Throws when the server cannot be reached. */
  function loadState(): Promise<void> {
    loading ??= (async () => {
      try {
        const snapshot = await api.getState();
        if (!snapshot || stopped) return;
        applySnapshot(snapshot);
      } finally {
        loading = null;
      }
    })();
    return loading;
  }

  function applySnapshot(snapshot: SessionSnapshot) {
    const world = store.update((w) => applyState(w, snapshot, modules));
    store.setSession(snapshot.session);
    transport.setSettings(snapshot.session.settings ?? {});
    void cache.replaceAll(allEntities(world), world.seq, sessionForCache(snapshot.session)).catch(logCacheError);
    store.setLoading(false, false);
  }

  /** Loads `state`, retrying with backoff until it works or the sync stops. */
  async function ensureState(): Promise<void> {
    for (let attempt = 0; !stopped; attempt++) {
      try {
        await loadState();
        store.setLoadError(null);
        return;
      } catch (error) {
        if (error instanceof ApiError && (error.status === 401 || error.status === 403 || error.status === 404)) throw error;
        store.setLoadError(error instanceof Error ? error.message : String(error));
        await sleep(backoffDelay(attempt, random, deps.reloadBaseMs ?? 1000, deps.reloadMaxMs ?? 60_000));
      }
    }
  }

  let laterScheduled = false;
  /** A change could not be fetched: the cache is out of sync until a full state arrives. */
  function ensureStateLater() {
    if (laterScheduled) return;
    laterScheduled = true;
    void inOrder(async () => {
      laterScheduled = false;
      if (Object.keys(store.world().stale).length > 0) await ensureState();
    }, "stale");
  }

  const sleepers = new Set<() => void>();
  /** A backoff wait that `stop` cuts short. */
  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let handle: unknown = null;
      const wake = () => {
        sleepers.delete(wake);
        timers.clearTimeout(handle);
        resolve();
      };
      handle = timers.setTimeout(wake, ms);
      sleepers.add(wake);
    });
  }

  // --- boot ---------------------------------------------------------------------------------

  async function catchUp(since: number): Promise<void> {
    const response = await api.getChanges(since, since);
    if (!response) return;
    if (response.reload) {
      await receive({ type: "reload", seq: response.seq, reason: "activate" });
      return;
    }
    for (const row of response.changes) await receive(changeMessage(row));
    await receive({ type: "resumed", seq: response.seq });
  }

  async function boot(): Promise<void> {
    if (hasCache && !contents.meta.desync && contents.meta.seq !== null) {
      try {
        await catchUp(contents.meta.seq);
      } catch (error) {
        if (error instanceof ApiError && error.status === 410) await receive({ type: "reload", seq: 0, reason: "gone" });
        // Otherwise offline: the cache stays on screen and the transport catches up when it can.
      }
    } else if (hasCache) {
      // Out of sync: the cache is still worth showing while the state loads, in the background.
      void inOrder(ensureState, "state");
    } else {
      try {
        await ensureState();
      } catch (error) {
        // Not signed in, or not (any more) a member: nothing to sync.
        store.setLoadError(error instanceof Error ? error.message : String(error));
        return;
      }
    }
    if (stopped) return;
    transport.start();
    queue.kick();
  }

  const ready = boot();

  const subscribe = deps.onOnline ?? defaultOnline;
  cleanups.push(
    subscribe(() => {
      transport.wake();
      queue.kick();
    }),
    (deps.onOffline ?? defaultOffline)(() => transport.goOffline()),
  );

  function requireBase(type: EntityType, id: string): number {
    const base = nextBaseVersion(queue.state().ops, type, id, getEntity(store.world(), type, id)?.version ?? null);
    if (base === null) throw new Error(`no ${type} ${id} in this session`);
    return base;
  }

  return {
    modules,
    store,
    view: store.view,
    queue,
    transport,
    ready,
    create: (type, data, id) => queue.enqueue({ entity_type: type, op: "create", id: id ?? uuid(), payload: data, base_version: null }),
    update: async (type, id, patch) =>
      queue.enqueue({ entity_type: type, op: "update", id, payload: patch, base_version: requireBase(type, id) }),
    archive: async (type, id) => queue.enqueue({ entity_type: type, op: "archive", id, payload: {}, base_version: requireBase(type, id) }),
    accept(entities) {
      applyAndPersist(
        (w) => applyEntities(w, entities),
        entities.map(({ type, entity }) => ({ type, id: entity.id })),
      );
    },
    submit: async (edits) => {
      const inputs: OpInput[] = [];
      for (const edit of edits) {
        if (edit.op === "create") {
          inputs.push({ entity_type: edit.type, op: "create", id: edit.id ?? uuid(), payload: edit.data, base_version: null });
          continue;
        }
        // The base is the version the ops before this one (queued, or earlier in this action) lead to.
        const earlier = [...queue.state().ops, ...inputs.map((input) => ({ ...input, uuid: "", created_at: 0 }))];
        const base = nextBaseVersion(earlier, edit.type, edit.id, getEntity(store.world(), edit.type, edit.id)?.version ?? null);
        if (base === null) throw new Error(`no ${edit.type} ${edit.id} in this session`);
        inputs.push({
          entity_type: edit.type,
          op: edit.op,
          id: edit.id,
          payload: edit.op === "update" ? edit.patch : {},
          base_version: base,
        });
      }
      return queue.enqueueAll(inputs);
    },
    // The archived list gives the server's version; ops already queued on the entity come after it.
    restore: (type, id, baseVersion) =>
      queue.enqueue({
        entity_type: type,
        op: "restore",
        id,
        payload: {},
        base_version: nextBaseVersion(queue.state().ops, type, id, baseVersion) ?? baseVersion,
      }),
    conflict: () => queue.state().conflict,
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onSendError(listener) {
      sendErrorListeners.add(listener);
      return () => sendErrorListeners.delete(listener);
    },
    onConfirmed(listener) {
      confirmedListeners.add(listener);
      return () => confirmedListeners.delete(listener);
    },
    resolveConflict: (resolution) => queue.resolve(resolution),
    dropRejected: () => queue.dropRejected(),
    resumeQueue: () => queue.resume(),
    reload: () => receive({ type: "reload", seq: store.world().seq, reason: "activate" }),
    async loadScene(sceneId) {
      const scene = (await api.getEntity("scene", sceneId)) as AnyEntity & { layers?: Layer[] };
      const { layers = [], ...fields } = scene;
      applyAndPersist(
        (w) => applySceneLayers(applyEntities(w, [{ type: "scene", entity: fields as AnyEntity }]), sceneId, layers),
        [{ type: "scene", id: sceneId }, ...layers.map((l) => ({ type: "layer" as const, id: l.id }))],
      );
      // Module entities that live on scenes are lazy like layers.
      const { listByScene } = api;
      if (!listByScene) return;
      for (const type of modules.sceneFields.keys()) {
        const entities = await listByScene(type as EntityType, sceneId);
        applyAndPersist(
          (w) => applySceneModuleEntities(w, type as EntityType, sceneId, entities, modules),
          entities.map((e) => ({ type: type as EntityType, id: e.id })),
        );
      }
    },
    wake() {
      transport.wake();
      queue.kick();
    },
    async stop() {
      stopped = true;
      for (const wake of [...sleepers]) wake();
      for (const cleanup of cleanups) cleanup();
      transport.stop();
      queue.stop();
      await queue.settled();
      await reporter?.flush();
      await chain;
      cache.close();
    },
  };

  interface ChangeFields {
    seq: number;
    /** On a `?patch=1` socket: the merge patch from version - 1 (without `version`). */
    patch?: JsonObject;
    entity_type: EntityType;
    entity_id: string;
    version: number;
    entity?: AnyEntity;
    removed?: true;
  }
}

/**
 * An entity with a merge patch applied. Entity fields are never absent at the top level: a null
 * there means "set to null" (an archive's `archived_at` cleared), not "remove the field".
 */
export function patchEntity(entity: AnyEntity, patch: JsonObject, version: number): AnyEntity {
  const merged = applyMergePatch(entity as unknown as Json, patch);
  const next = (isJsonObject(merged) ? merged : {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(patch)) if (value === null) next[key] = null;
  return { ...next, version } as unknown as AnyEntity;
}

function sessionForCache(session: SessionInfo): SessionInfo {
  return structuredClone(session);
}

function logMetric(metric: QueueMetric): void {
  console.info(JSON.stringify({ level: "info", msg: "sync metric", ...metric }));
}

function logCacheError(error: unknown): void {
  console.warn(JSON.stringify({ level: "warn", msg: "cache write failed", error: String(error) }));
}

function defaultOffline(callback: () => void): () => void {
  if (typeof window === "undefined") return () => undefined;
  window.addEventListener("offline", callback);
  return () => window.removeEventListener("offline", callback);
}

function defaultOnline(callback: () => void): () => void {
  if (typeof window === "undefined") return () => undefined;
  window.addEventListener("online", callback);
  return () => window.removeEventListener("online", callback);
}
