/**
 * Stand-ins for the GM panels' collaborators: a sync layer whose view is a real store (what the
 * panels render) and whose writes are recorded instead of queued, and a `GmApi` whose calls are
 * recorded and answered by the test.
 */
import { vi } from "vitest";
import type { GmApi } from "../../../client/src/lib/api";
import type { QueuedOp } from "../../../client/src/lib/queue";
import { applyEntities, type Collections, createSessionStore, emptyWorld, getEntity } from "../../../client/src/lib/store";
import type { Edit } from "../../../client/src/lib/sync";
import type { InboundMessage } from "../../../client/src/lib/transport";
import type { AnyEntity, ConnectedClient, EntityType, Folder, SceneLock, SessionMember } from "../../../client/src/lib/types";
import { applyMergePatch, type Json } from "../../../domain/merge-patch";

const T0 = "2025-01-01T00:00:00.000Z";

export function folder(id: string, version = 1, fields: Partial<Folder> = {}): Folder {
  return {
    id,
    version,
    created_at: T0,
    updated_at: T0,
    updated_by: "u-gm",
    archived_at: null,
    name: `Folder ${id}`,
    kind: "scene",
    parent_id: null,
    sort: 0,
    ...fields,
  };
}

export interface Write {
  op: "create" | "update" | "archive" | "restore";
  type: EntityType;
  id: string;
  data?: Record<string, unknown>;
  baseVersion?: number;
}

/** A sync layer for component tests: `view` from a real store, writes recorded in `writes`. */
export function fakeSync(collections: Partial<Collections> = {}, options: { applyUpdates?: boolean } = {}) {
  const store = createSessionStore({ ...emptyWorld(), seq: 1, ...collections });
  const listeners = new Set<(message: InboundMessage) => void>();
  const sendErrorListeners = new Set<(error: unknown) => void>();
  const writes: Write[] = [];
  let n = 0;
  const queued = (write: Write): QueuedOp => {
    writes.push(write);
    return {
      uuid: `op-${++n}`,
      entity_type: write.type,
      op: write.op,
      id: write.id,
      payload: (write.data ?? {}) as QueuedOp["payload"],
      base_version: write.baseVersion ?? null,
      created_at: 0,
    };
  };
  const sync = {
    store,
    view: store.view,
    create: vi.fn(async (type: EntityType, data: Record<string, unknown>, id?: string) =>
      queued({ op: "create", type, id: id ?? `new-${n + 1}`, data }),
    ),
    update: vi.fn(async (type: EntityType, id: string, patch: Record<string, unknown>) => {
      const current = getEntity(store.world(), type, id);
      if (options.applyUpdates && current) {
        // As if the server confirmed it at once: the next version, the patch merged in.
        const entity = {
          ...(applyMergePatch(current as unknown as Json, patch as Json) as object),
          version: current.version + 1,
        } as AnyEntity;
        store.update((w) => applyEntities(w, [{ type, entity }]));
      }
      return queued({ op: "update", type, id, data: patch });
    }),
    archive: vi.fn(async (type: EntityType, id: string) => queued({ op: "archive", type, id })),
    restore: vi.fn(async (type: EntityType, id: string, baseVersion: number) => queued({ op: "restore", type, id, baseVersion })),
    /** Like the real one, one action; recorded here as its writes, in order. */
    submit: vi.fn(async (edits: readonly Edit[]) => {
      const out: QueuedOp[] = [];
      for (const edit of edits) {
        if (edit.op === "create") out.push(await sync.create(edit.type, edit.data, edit.id));
        else if (edit.op === "update") out.push(await sync.update(edit.type, edit.id, edit.patch));
        else out.push(await sync.archive(edit.type, edit.id));
      }
      return out;
    }),
    wake: vi.fn(),
    accept: vi.fn((entities: readonly { type: EntityType; entity: AnyEntity }[]) => {
      store.update((w) => applyEntities(w, entities));
    }),
    listen(listener: (message: InboundMessage) => void) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    onSendError(listener: (error: unknown) => void) {
      sendErrorListeners.add(listener);
      return () => {
        sendErrorListeners.delete(listener);
      };
    },
  };
  return {
    sync,
    store,
    writes,
    /** A socket message the data layer hands on to the UI. */
    emit: (message: InboundMessage) => {
      for (const listener of [...listeners]) listener(message);
    },
    /** A failed send of the queue, with the queue's resulting `lastError`. */
    failSend: (error: unknown, lastError: string | null) => {
      store.setQueueState({
        status: "waiting",
        ops: [],
        conflict: null,
        rejected: null,
        pausedReason: null,
        attempt: 1,
        retryAt: 0,
        lastError,
      });
      for (const listener of [...sendErrorListeners]) listener(error);
    },
    /** The queue sent its ops: no error any more. */
    sendSucceeded: () =>
      store.setQueueState({
        status: "idle",
        ops: [],
        conflict: null,
        rejected: null,
        pausedReason: null,
        attempt: 0,
        retryAt: null,
        lastError: null,
      }),
    listenerCount: () => listeners.size,
  };
}

/** A `GmApi` with recorded calls; each method answers from the given implementation or a default. */
export function fakeGmApi(overrides: Partial<GmApi> = {}) {
  const members: SessionMember[] = [];
  const clients: ConnectedClient[] = [];
  const locks: SceneLock[] = [];
  const api = {
    getSession: vi.fn(
      overrides.getSession ??
        (async () => ({ session: { id: "sess", name: "Table", created_at: T0 }, role: "gm" as const, members: [...members] })),
    ),
    setMemberRole: vi.fn(
      overrides.setMemberRole ??
        (async (userId: string, role: "gm" | "player") => ({
          member: { user_id: userId, username: members.find((m) => m.user_id === userId)?.username ?? userId, role },
        })),
    ),
    listClients: vi.fn(overrides.listClients ?? (async () => ({ clients: [...clients] }))),
    listLocks: vi.fn(overrides.listLocks ?? (async () => ({ locks: [...locks] }))),
    acquireLock: vi.fn(
      overrides.acquireLock ??
        (async (sceneId: string) => ({ lock: { scene_id: sceneId, holder_user_id: "u-gm", expires_at: "2030-01-01T00:05:00.000Z" } })),
    ),
    releaseLock: vi.fn(overrides.releaseLock ?? (async () => undefined)),
    listArchived: vi.fn(overrides.listArchived ?? (async (_type: EntityType) => ({ items: [] as AnyEntity[] }))),
  };
  return { api, members, clients, locks };
}
