/**
 * The local cache of one user's view of one session, in IndexedDB (one database per user and
 * session, so players never read a GM's cache on a shared browser):
 *
 * - `entities`, keyed by `[type, id]`: `{type, id, version, payload}` for every entity the user
 *   may see, as the server last confirmed it (never the optimistic view);
 * - `meta`: the `seq` those entities reflect, whether some change could not be fetched (`desync`:
 *   the next boot loads `state` instead of `changes?since`), and the session's settings;
 * - `queue`: the authoring queue, in enqueue order (an auto-incremented key), each op once.
 *
 * Entity writes and the seq they bring the cache to share one transaction, so the cache never
 * claims a seq whose changes it does not hold.
 */
import { type DBSchema, deleteDB, type IDBPDatabase, openDB } from "idb";
import type { QueuedOp } from "./queue";
import type { AnyEntity, EntityType, SessionInfo } from "./types";

export interface CachedEntity {
  type: EntityType;
  id: string;
  version: number;
  payload: AnyEntity;
}

export interface EntityKey {
  type: EntityType;
  id: string;
}

export interface CacheMeta {
  seq: number | null;
  desync: boolean;
  session: SessionInfo | null;
  /** The newest D1 bookmark of the session seen (bookmark.ts); absent before the first. */
  bookmark?: string | null;
}

export interface CacheContents {
  entities: CachedEntity[];
  meta: CacheMeta;
  queue: QueuedOp[];
}

/** What one applied change (or burst of changes) does to the cache. */
export interface CacheCommit {
  put?: { type: EntityType; entity: AnyEntity }[];
  remove?: EntityKey[];
  seq?: number;
  desync?: boolean;
}

interface QueueRecord {
  order?: number;
  uuid: string;
  op: QueuedOp;
}

interface CacheSchema extends DBSchema {
  entities: { key: [EntityType, string]; value: CachedEntity };
  meta: { key: string; value: unknown };
  queue: { key: number; value: QueueRecord; indexes: { uuid: string } };
}

const DB_VERSION = 1;

export function cacheName(userId: string, sessionId: string): string {
  return `vtt:${userId}:${sessionId}`;
}

export interface Cache {
  readonly name: string;
  loadAll(): Promise<CacheContents>;
  /** Writes entities whose version is higher than the cached one, removes others, moves the seq. */
  commit(change: CacheCommit): Promise<void>;
  /** Shorthand for a commit that only writes entities (batch results). */
  putIfNewer(entities: { type: EntityType; entity: AnyEntity }[]): Promise<void>;
  remove(keys: EntityKey[]): Promise<void>;
  /** A full `state`: the cache becomes exactly these entities at this seq. */
  replaceAll(entities: { type: EntityType; entity: AnyEntity }[], seq: number, session: SessionInfo | null): Promise<void>;
  setSession(session: SessionInfo): Promise<void>;
  /** Keeps the newest bookmark seen (the caller only hands newer ones). */
  setBookmark(bookmark: string): Promise<void>;
  /** Forgets entities and meta; the queue (unsent work) stays. */
  clear(): Promise<void>;
  appendOp(op: QueuedOp): Promise<void>;
  /** Several ops in one transaction: all of them are stored or none. */
  appendOps(ops: readonly QueuedOp[]): Promise<void>;
  listOps(): Promise<QueuedOp[]>;
  removeOps(uuids: string[]): Promise<void>;
  /** Puts `next` in the place of the op `uuid` (same position in the queue). */
  replaceOp(uuid: string, next: QueuedOp): Promise<void>;
  close(): void;
}

export async function openCache(userId: string, sessionId: string): Promise<Cache> {
  const name = cacheName(userId, sessionId);
  const db = await openDB<CacheSchema>(name, DB_VERSION, {
    upgrade(database) {
      database.createObjectStore("entities", { keyPath: ["type", "id"] });
      database.createObjectStore("meta");
      database.createObjectStore("queue", { keyPath: "order", autoIncrement: true }).createIndex("uuid", "uuid", { unique: true });
    },
    // Another tab upgrading the schema: step aside rather than block it.
    blocking() {
      db.close();
    },
  });
  return wrapDatabase(name, db);
}

/** Deletes the cache of a session (sign-out, "forget this device"). */
export function deleteCache(userId: string, sessionId: string): Promise<void> {
  return deleteDB(cacheName(userId, sessionId));
}

function wrapDatabase(name: string, db: IDBPDatabase<CacheSchema>): Cache {
  async function commit(change: CacheCommit): Promise<void> {
    const tx = db.transaction(["entities", "meta"], "readwrite");
    const entities = tx.objectStore("entities");
    const meta = tx.objectStore("meta");
    // Every request is issued before the first await: an IndexedDB transaction commits as soon
    // as it has nothing pending, so awaiting anything else in between would end it early.
    const writes: Promise<unknown>[] = [];
    for (const { type, entity } of change.put ?? []) {
      writes.push(
        entities.get([type, entity.id]).then((current) => {
          if (current && current.version >= entity.version) return;
          return entities.put({ type, id: entity.id, version: entity.version, payload: entity });
        }),
      );
    }
    for (const key of change.remove ?? []) writes.push(entities.delete([key.type, key.id]));
    if (change.seq !== undefined) writes.push(meta.put(change.seq, "seq"));
    if (change.desync !== undefined) writes.push(meta.put(change.desync, "desync"));
    await Promise.all([...writes, tx.done]);
  }

  return {
    name,
    async loadAll() {
      const tx = db.transaction(["entities", "meta", "queue"], "readonly");
      const [entities, seq, desync, session, bookmark, queue] = await Promise.all([
        tx.objectStore("entities").getAll(),
        tx.objectStore("meta").get("seq"),
        tx.objectStore("meta").get("desync"),
        tx.objectStore("meta").get("session"),
        tx.objectStore("meta").get("bookmark"),
        tx.objectStore("queue").getAll(),
        tx.done,
      ]);
      return {
        entities,
        meta: {
          seq: typeof seq === "number" ? seq : null,
          desync: desync === true,
          session: (session as SessionInfo | undefined) ?? null,
          bookmark: typeof bookmark === "string" ? bookmark : null,
        },
        queue: queue.map((r) => r.op),
      };
    },
    commit,
    putIfNewer: (put) => commit({ put }),
    remove: (remove) => commit({ remove }),
    async replaceAll(put, seq, session) {
      const tx = db.transaction(["entities", "meta"], "readwrite");
      const entities = tx.objectStore("entities");
      const meta = tx.objectStore("meta");
      const writes: Promise<unknown>[] = [entities.clear()];
      for (const { type, entity } of put) writes.push(entities.put({ type, id: entity.id, version: entity.version, payload: entity }));
      writes.push(meta.put(seq, "seq"), meta.put(false, "desync"));
      if (session !== null) writes.push(meta.put(session, "session"));
      await Promise.all([...writes, tx.done]);
    },
    async setSession(session) {
      await db.put("meta", session, "session");
    },
    async setBookmark(bookmark) {
      await db.put("meta", bookmark, "bookmark");
    },
    async clear() {
      const tx = db.transaction(["entities", "meta"], "readwrite");
      await Promise.all([tx.objectStore("entities").clear(), tx.objectStore("meta").clear(), tx.done]);
    },
    async appendOp(op) {
      await db.add("queue", { uuid: op.uuid, op });
    },
    async appendOps(ops) {
      const tx = db.transaction("queue", "readwrite");
      await Promise.all([...ops.map((op) => tx.store.add({ uuid: op.uuid, op })), tx.done]);
    },
    async listOps() {
      return (await db.getAll("queue")).map((r) => r.op);
    },
    async removeOps(uuids) {
      const tx = db.transaction("queue", "readwrite");
      const index = tx.store.index("uuid");
      const deletes = uuids.map(async (uuid) => {
        const key = await index.getKey(uuid);
        if (key !== undefined) await tx.store.delete(key);
      });
      await Promise.all([...deletes, tx.done]);
    },
    async replaceOp(uuid, next) {
      const tx = db.transaction("queue", "readwrite");
      const key = await tx.store.index("uuid").getKey(uuid);
      if (key === undefined) {
        tx.abort();
        await tx.done.catch(() => undefined);
        throw new Error(`no queued op ${uuid}`);
      }
      await Promise.all([tx.store.put({ order: key, uuid: next.uuid, op: next }), tx.done]);
    },
    close: () => db.close(),
  };
}

/**
 * The same interface in memory, for browsers where IndexedDB cannot be opened (some private
 * modes): the app still works, it only forgets everything on refresh.
 */
export function createMemoryCache(name = "memory"): Cache {
  let entities = new Map<string, CachedEntity>();
  let meta: CacheMeta = { seq: null, desync: false, session: null };
  let queue: QueuedOp[] = [];
  const key = (type: EntityType, id: string) => `${type}:${id}`;
  const put = (type: EntityType, entity: AnyEntity) => {
    const current = entities.get(key(type, entity.id));
    if (!current || current.version < entity.version) {
      entities.set(key(type, entity.id), { type, id: entity.id, version: entity.version, payload: entity });
    }
  };
  const commit = async (change: CacheCommit) => {
    for (const { type, entity } of change.put ?? []) put(type, entity);
    for (const k of change.remove ?? []) entities.delete(key(k.type, k.id));
    if (change.seq !== undefined) meta = { ...meta, seq: change.seq };
    if (change.desync !== undefined) meta = { ...meta, desync: change.desync };
  };
  return {
    name,
    loadAll: async () => ({ entities: [...entities.values()], meta: { ...meta }, queue: [...queue] }),
    commit,
    putIfNewer: (p) => commit({ put: p }),
    remove: (r) => commit({ remove: r }),
    async replaceAll(list, seq, session) {
      entities = new Map();
      for (const { type, entity } of list) put(type, entity);
      meta = { seq, desync: false, session: session ?? meta.session };
    },
    async setSession(session) {
      meta = { ...meta, session };
    },
    async setBookmark(bookmark) {
      meta = { ...meta, bookmark };
    },
    async clear() {
      entities = new Map();
      meta = { seq: null, desync: false, session: null };
    },
    async appendOp(op) {
      queue = [...queue, op];
    },
    async appendOps(ops) {
      queue = [...queue, ...ops];
    },
    listOps: async () => [...queue],
    async removeOps(uuids) {
      queue = queue.filter((op) => !uuids.includes(op.uuid));
    },
    async replaceOp(uuid, next) {
      if (!queue.some((op) => op.uuid === uuid)) throw new Error(`no queued op ${uuid}`);
      queue = queue.map((op) => (op.uuid === uuid ? next : op));
    },
    close: () => undefined,
  };
}
