/**
 * GM edits as op drafts: pure functions decide which creates and merge patches an action makes
 * (tested on their own), `queueOps` hands them to the sync layer's queue in order.
 */
import type { JsonObject } from "../../../domain/merge-patch";
import type { EntityType } from "./types";

export type OpDraft =
  | { op: "create"; type: EntityType; id: string; data: JsonObject }
  | { op: "update"; type: EntityType; id: string; patch: JsonObject }
  | { op: "archive"; type: EntityType; id: string };

/** The part of the sync layer (`SessionSync`) that queues edits. */
export interface OpSink {
  create(type: EntityType, data: JsonObject, id?: string): Promise<unknown>;
  update(type: EntityType, id: string, patch: JsonObject): Promise<unknown>;
  archive(type: EntityType, id: string): Promise<unknown>;
  /** Several edits as one action, sent in one batch (`SessionSync.submit`). */
  submit?(edits: readonly OpDraft[]): Promise<unknown>;
}

/**
 * Queues the drafts in order as one action: with `submit` they are sent in one batch (a library
 * drop's token and art apply together or not at all); later ops on an entity created here chain
 * on its version 1.
 */
export async function queueOps(sink: OpSink, drafts: readonly OpDraft[]): Promise<void> {
  if (sink.submit) {
    await sink.submit(drafts);
    return;
  }
  const queued = drafts.map((draft) => {
    if (draft.op === "create") return sink.create(draft.type, draft.data, draft.id);
    if (draft.op === "update") return sink.update(draft.type, draft.id, draft.patch);
    return sink.archive(draft.type, draft.id);
  });
  await Promise.all(queued);
}

/**
 * A plain JSON copy: the view's entities are Solid store proxies, which IndexedDB (the queue's
 * storage) cannot clone, and a copy must not share nested objects with the entity it came from.
 */
export function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
