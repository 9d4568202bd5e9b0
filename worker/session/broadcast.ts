/**
 * What each role receives of a change, serialized once per role: a broadcast to hundreds of
 * sockets sends the same string to every socket of a role instead of encoding per socket. The
 * player filter is the one of `domain/visibility.ts`, as in every REST read.
 */
import type { AnyEntity } from "../../domain/entities";
import { createMergePatch, isJsonObject, type Json } from "../../domain/merge-patch";
import type { Change } from "../../domain/plan";
import { INLINE_ENTITY_LIMIT, type ServerMessage } from "../../domain/protocol";
import { projectForPlayer } from "../../domain/visibility";
import type { ChangeRow } from "../db/reads";
import { registry } from "../registry";

/** A `change` message as JSON text; the entity is inlined when small. */
export function encodeChangeRow(row: ChangeRow): string {
  const base = {
    type: "change",
    event_id: row.seq,
    seq: row.seq,
    entity_type: row.entity_type,
    entity_id: row.entity_id,
    version: row.version,
    op: row.op,
  } satisfies Omit<Extract<ServerMessage, { type: "change" }>, "entity" | "removed">;
  if (row.removed) return JSON.stringify({ ...base, removed: true });
  if (!row.entity) return JSON.stringify(base);
  // A token coming into view carries what hangs on it: always inline, the client has no other way.
  if (row.related && row.related.length > 0) return JSON.stringify({ ...base, entity: row.entity, related: row.related });
  // Serialize once; splice the entity in when small enough instead of encoding twice.
  const entity = JSON.stringify(row.entity);
  const head = JSON.stringify(base);
  return entity.length <= INLINE_ENTITY_LIMIT ? `${head.slice(0, -1)},"entity":${entity}}` : head;
}

export interface EncodedChange {
  seq: number;
  gm: string;
  /** What players receive; null when the change is none of their business. */
  player: string | null;
  /** What a token's owners receive instead, when it differs (they see their token under fog). */
  owners?: Map<string, string | null>;
}

/** The messages of one committed change for each role. */
export function encodeChange(change: Change): EncodedChange {
  const row: ChangeRow = { seq: change.seq, entity_type: change.type, entity_id: change.id, version: change.entity.version, op: change.op };
  const gm = encodeChangeRow({ ...row, entity: change.entity });
  const forPlayer = (visibleBefore: boolean, visibleAfter: boolean): string | null => {
    if (change.activation) return JSON.stringify({ type: "reload", seq: change.seq, reason: "activate" } satisfies ServerMessage);
    if (visibleAfter) {
      const projected = projectForPlayer(registry, change.type, change.entity as AnyEntity, change.playerView);
      const related = (change.related ?? []).map(({ type, entity }) => ({
        entity_type: type,
        entity: projectForPlayer(registry, type, entity, change.playerView),
      }));
      // Nothing to hide (the usual case): the GM's text is the player's too.
      return projected === change.entity && related.length === 0
        ? gm
        : encodeChangeRow({ ...row, entity: projected, ...(related.length > 0 ? { related } : {}) });
    }
    return visibleBefore ? encodeChangeRow({ ...row, removed: true }) : null;
  };
  const player = forPlayer(change.visibleBefore, change.visibleAfter);
  if (!change.forOwners || change.forOwners.length === 0) return { seq: change.seq, gm, player };
  const owners = new Map(change.forOwners.map((o) => [o.userId, forPlayer(o.visibleBefore, o.visibleAfter)]));
  return { seq: change.seq, gm, player, owners };
}

/**
 * A `change` message with `patch` (without `version`: it is the message's), or undefined when too
 * big to inline. `event_id` is left out too: it is always the `seq` (a token move stays under 200
 * bytes).
 */
function patchText(change: Change, from: AnyEntity, to: AnyEntity): string | undefined {
  const patch = createMergePatch(from as unknown as Json, to as unknown as Json);
  if (!isJsonObject(patch)) return undefined;
  const { version: _version, ...rest } = patch;
  const text = JSON.stringify(rest);
  if (text.length > INLINE_ENTITY_LIMIT) return undefined;
  const head = JSON.stringify({
    type: "change",
    seq: change.seq,
    entity_type: change.type,
    entity_id: change.id,
    version: change.entity.version,
    op: change.op,
  } satisfies Omit<Extract<ServerMessage, { type: "change" }>, "entity" | "removed" | "event_id">);
  return `${head.slice(0, -1)},"patch":${text}}`;
}

/**
 * The messages of one committed change for sockets opened with `?patch=1`: an `update` of an
 * entity the socket saw at the previous version carries the JSON Merge Patch from that version to
 * this one instead of the entity. For players (and a token's owners) the patch is computed from
 * the player-filtered views before and after, so it never holds what the filter hides: a change of
 * GM notes alone is an empty patch. Everything else keeps the shape of `plain`: creates, archives
 * and restores, an entity coming into view (with what hangs on it) or leaving it, an activation,
 * a fog flip (same version), and entities whose player view their type projects from the view too (fog: what the
 * player saw of the previous version may rest on a view that changed too).
 */
export function encodePatched(change: Change, plain: EncodedChange): EncodedChange {
  const previous = change.previous;
  if (change.op !== "update" || change.activation || change.coverOnly || !previous || previous.version !== change.entity.version - 1) {
    return plain;
  }
  const gm = patchText(change, previous, change.entity) ?? plain.gm;
  const def = registry.definition(change.type);
  const playerPatchable = !(change.related && change.related.length > 0) && (!def?.projectForPlayer || def.projectionIgnoresView === true);
  let playerText: string | undefined | null = null;
  const forPlayer = (visibleBefore: boolean, visibleAfter: boolean, otherwise: string | null): string | null => {
    if (!playerPatchable || !visibleBefore || !visibleAfter) return otherwise;
    if (playerText === null) {
      playerText = patchText(
        change,
        projectForPlayer(registry, change.type, previous, change.playerView),
        projectForPlayer(registry, change.type, change.entity as AnyEntity, change.playerView),
      );
    }
    return playerText ?? otherwise;
  };
  const player = forPlayer(change.visibleBefore, change.visibleAfter, plain.player);
  if (!change.forOwners || change.forOwners.length === 0) return { seq: change.seq, gm, player };
  const owners = new Map(
    change.forOwners.map((o) => [o.userId, forPlayer(o.visibleBefore, o.visibleAfter, plain.owners?.get(o.userId) ?? null)]),
  );
  return { seq: change.seq, gm, player, owners };
}
