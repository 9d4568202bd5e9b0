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
 */

import { applyMergePatch, type Json, type JsonObject, jsonEqual } from "../../../domain/merge-patch";
import type { AnyEntity } from "./api";
import type { QueuedOp } from "./queue";

export interface Conflict {
  op: QueuedOp;
  /** The server's entity, or null when it is gone (or out of the user's view). */
  server: AnyEntity | null;
  /** When the conflict was detected (ms): the time to resolve is measured from here. */
  detectedAt: number;
  /** Later queued ops on the same entity. */
  dependents: number;
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

export type Resolution =
  | { kind: "replace"; choice: "keep_mine" | "merge_fields"; op: QueuedOp }
  | { kind: "drop"; choice: "use_server" | "merge_fields" };

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
  const mine = diffFields(op, server).filter((d) => choices[d.field] === "mine");
  if (mine.length === 0 || !server) return { kind: "drop", choice: "merge_fields" };
  if (op.op === "archive" || op.op === "restore") {
    return { kind: "replace", choice: "merge_fields", op: { ...op, uuid, base_version: server.version } };
  }
  const payload: JsonObject = {};
  for (const { field } of mine) {
    const value = op.payload[field];
    if (value !== undefined) payload[field] = value;
  }
  return { kind: "replace", choice: "merge_fields", op: { ...op, uuid, op: "update", payload, base_version: server.version } };
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
  const expected = conflicted.base_version === null ? 1 : conflicted.base_version + 1;
  const resolvedVersion = resolution.kind === "replace" ? (server?.version ?? 0) + 1 : (server?.version ?? null);

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
    if (resolvedVersion === null) {
      removed.push(op.uuid);
      return;
    }
    const shift = resolvedVersion - expected;
    if (shift === 0 || op.base_version === null) {
      out.push(op);
      return;
    }
    const moved = { ...op, base_version: op.base_version + shift };
    out.push(moved);
    replaced.push({ uuid: op.uuid, op: moved });
  });
  return { ops: out, replaced, removed };
}
