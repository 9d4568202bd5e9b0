/**
 * Conflicts, as pure functions. A conflict is a queued op the server refused with 409 (its
 * `base_version` is stale) next to the server's current entity. The GM sees `diffFields` and
 * picks one of:
 *
 * - `keepMine`: the op again, rebased on the server's version, so its fields win;
 * - `useServer`: the op is dropped, the server's entity stays;
 * - `mergeFields`: per field, mine or the server's; the op keeps only the fields chosen as mine.
 *
 * Later queued ops on the same entity ("dependents") were based on the version the conflicting op
 * would have produced; `applyResolution` moves them onto the resolved chain so none of them is
 * sent with a base version that means something else now.
 *
 * Those queued when the conflict was found (`related`) conflict just as much: the server's change
 * may touch their fields too. `conflictDiffs` shows the fields of all of them together (what the
 * entity becomes if every queued edit wins, against the server's), and each way out applies to
 * all of them: Use Server drops them all, Merge Fields keeps in each only the fields chosen as
 * mine. Edits queued while the dialog is open wait behind the resolution and are chained after it.
 */

import { applyMergePatch, type Json, type JsonObject, jsonEqual } from "../../../domain/merge-patch";
import type { QueuedOp } from "./queue";
import type { AnyEntity } from "./types";

export interface Conflict {
  op: QueuedOp;
  /** The server's entity, or null when it is gone (or out of the user's view). */
  server: AnyEntity | null;
  /** When the conflict was detected (ms): the time to resolve is measured from here. */
  detectedAt: number;
  /** Later queued ops on the same entity. */
  dependents: number;
  /** The later queued ops on the same entity when the conflict was found, in order: resolved with `op`. */
  related?: QueuedOp[];
}

/** The pseudo-field of an archive or restore op: whether the entity is archived. */
export const ARCHIVED_FIELD = "archived";

export interface FieldDiff {
  field: string;
  /** What the field becomes if the local op wins (a nested patch merged into the server's value). */
  local: Json | undefined;
  server: Json | undefined;
}

export type Choice = "mine" | "server";

/**
 * `related`: what becomes of each related op (by its uuid): a new op in its place, or null to
 * drop it. Absent: Use Server drops them all, the other choices keep them as they are.
 */
export type Resolution =
  | { kind: "replace"; choice: "keep_mine" | "merge_fields"; op: QueuedOp; related?: Record<string, QueuedOp | null> }
  | { kind: "drop"; choice: "use_server" | "merge_fields"; related?: Record<string, QueuedOp | null> };

/** The fields the op sets, local value against the server's, only where they differ. */
export function diffFields(op: QueuedOp, server: AnyEntity | null): FieldDiff[] {
  if (op.op === "archive" || op.op === "restore") {
    const local = op.op === "archive";
    const remote = server ? server.archived_at !== null : undefined;
    return local === remote ? [] : [{ field: ARCHIVED_FIELD, local, server: remote }];
  }
  const diffs: FieldDiff[] = [];
  for (const [field, patch] of Object.entries(op.payload)) {
    const serverValue = server ? (server[field] as Json | undefined) : undefined;
    const local = op.op === "update" ? localValue(serverValue, patch) : patch;
    if (!jsonEqual(local, serverValue)) diffs.push({ field, local, server: serverValue });
  }
  return diffs;
}

/**
 * The fields of the conflicting op and of every related op together: what each field becomes
 * when all of them apply in order on the server's entity, against the server's value, where the
 * two differ. Fields in the order they are first set.
 */
export function conflictDiffs(conflict: Conflict): FieldDiff[] {
  const ops = [conflict.op, ...(conflict.related ?? [])];
  if (ops.length === 1) return diffFields(conflict.op, conflict.server);
  const { server } = conflict;
  const local = new Map<string, Json | undefined>();
  const current = (field: string): Json | undefined =>
    local.has(field) ? local.get(field) : server ? (server[field] as Json | undefined) : undefined;
  const touched: string[] = [];
  let archived: boolean | undefined;
  for (const op of ops) {
    if (op.op === "archive" || op.op === "restore") {
      archived = op.op === "archive";
      if (!touched.includes(ARCHIVED_FIELD)) touched.push(ARCHIVED_FIELD);
      continue;
    }
    for (const [field, patch] of Object.entries(op.payload)) {
      local.set(field, op.op === "update" ? localValue(current(field), patch) : patch);
      if (!touched.includes(field)) touched.push(field);
    }
  }
  const diffs: FieldDiff[] = [];
  for (const field of touched) {
    if (field === ARCHIVED_FIELD) {
      const remote = server ? server.archived_at !== null : undefined;
      if (archived !== remote) diffs.push({ field, local: archived, server: remote });
      continue;
    }
    const serverValue = server ? (server[field] as Json | undefined) : undefined;
    const mine = local.get(field);
    if (!jsonEqual(mine, serverValue)) diffs.push({ field, local: mine, server: serverValue });
  }
  return diffs;
}

function localValue(serverValue: Json | undefined, patch: Json): Json | undefined {
  // A top-level null in a merge patch sets the field to null (the entity schemas' "none").
  if (patch === null) return null;
  return applyMergePatch(serverValue, patch);
}

/** Keep Mine: the op rebased on the server's version (a create whose id exists becomes an update). */
export function keepMine(conflict: Conflict, uuid: string): Resolution {
  const { op, server } = conflict;
  if (!server) throw new Error("the entity is gone on the server: there is nothing to rebase onto");
  const rebased: QueuedOp = { ...op, uuid, base_version: server.version, op: op.op === "create" ? "update" : op.op };
  return { kind: "replace", choice: "keep_mine", op: rebased };
}

/** Use Server: the op is dropped. */
export function useServer(): Resolution {
  return { kind: "drop", choice: "use_server" };
}

/**
 * Merge Fields: each differing field is taken from mine or the server's (unnamed fields: the
 * server's). Fields the op sets to what the server already holds are left out. With nothing of
 * mine left the op is dropped.
 */
export function mergeFields(conflict: Conflict, choices: Readonly<Record<string, Choice>>, uuid: string): Resolution {
  const { op, server } = conflict;
  const mine = new Set(
    conflictDiffs(conflict)
      .filter((d) => choices[d.field] === "mine")
      .map((d) => d.field),
  );
  const related: Record<string, QueuedOp | null> = {};
  for (const later of conflict.related ?? []) related[later.uuid] = server ? keepChosen(later, mine) : null;
  const withRelated = conflict.related ? { related } : {};
  const kept = server ? keepChosen(op, mine) : null;
  if (!kept || !server) return { kind: "drop", choice: "merge_fields", ...withRelated };
  return { kind: "replace", choice: "merge_fields", op: { ...kept, uuid, base_version: server.version }, ...withRelated };
}

/** The op with only the fields chosen as mine (a create becomes an update); null when none is left. */
function keepChosen(op: QueuedOp, mine: ReadonlySet<string>): QueuedOp | null {
  if (op.op === "archive" || op.op === "restore") return mine.has(ARCHIVED_FIELD) ? op : null;
  const payload: JsonObject = {};
  for (const [field, value] of Object.entries(op.payload)) if (mine.has(field)) payload[field] = value;
  if (Object.keys(payload).length === 0) return null;
  return { ...op, op: "update", payload };
}

export interface ResolvedQueue {
  ops: QueuedOp[];
  /** Ops that take the place of another (same position): `uuid` is the one replaced. */
  replaced: { uuid: string; op: QueuedOp }[];
  removed: string[];
}

/**
 * The queue after a resolution. Dependents move by the distance between the version they
 * expected before them and the one the resolution leaves: after a replacement, the server's
 * version + 1; after a drop, the server's version. When the entity is gone on the server, a
 * drop takes the dependents with it: there is nothing left for them to change.
 */
export function applyResolution(ops: readonly QueuedOp[], conflict: Conflict, resolution: Resolution): ResolvedQueue {
  const { op: conflicted, server } = conflict;
  const index = ops.findIndex((o) => o.uuid === conflicted.uuid);
  if (index < 0) return { ops: [...ops], replaced: [], removed: [] };
  const related = new Set((conflict.related ?? []).map((o) => o.uuid));
  // The version the entity has after the ops placed so far: later ones chain on it.
  let version = resolution.kind === "replace" ? (server?.version ?? 0) + 1 : (server?.version ?? null);

  const out: QueuedOp[] = [];
  const replaced: ResolvedQueue["replaced"] = [];
  const removed: string[] = [];
  ops.forEach((op, i) => {
    if (i < index || op.entity_type !== conflicted.entity_type || op.id !== conflicted.id) {
      out.push(op);
      return;
    }
    if (i === index) {
      if (resolution.kind === "replace") {
        out.push(resolution.op);
        replaced.push({ uuid: op.uuid, op: resolution.op });
      } else {
        removed.push(op.uuid);
      }
      return;
    }
    if (version === null) {
      removed.push(op.uuid);
      return;
    }
    let next: QueuedOp = op;
    if (related.has(op.uuid)) {
      const mapped = resolution.choice === "use_server" ? null : resolution.related?.[op.uuid];
      if (mapped === null) {
        removed.push(op.uuid);
        return;
      }
      if (mapped) next = mapped;
    }
    if (next.base_version === null) {
      out.push(next);
      if (next !== op) replaced.push({ uuid: op.uuid, op: next });
      version = 1;
      return;
    }
    const moved = next.base_version === version ? next : { ...next, base_version: version };
    out.push(moved);
    if (moved !== op) replaced.push({ uuid: op.uuid, op: moved });
    version += 1;
  });
  return { ops: out, replaced, removed };
}
