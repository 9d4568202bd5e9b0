/**
 * What each role receives of a change, serialized once per role: a broadcast to hundreds of
 * sockets sends the same string to every socket of a role instead of encoding per socket. The
 * player filter is the one of `domain/visibility.ts`, as in every REST read.
 */
import type { AnyEntity } from "../../domain/entities";
import { INLINE_ENTITY_LIMIT, type ServerMessage } from "../../domain/protocol";
import { projectForPlayer } from "../../domain/visibility";
import type { ChangeRow } from "../db/reads";
import type { Change } from "./write-plan";

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
      const projected = projectForPlayer(change.type, change.entity as AnyEntity, change.playerView);
      const related = (change.related ?? []).map(({ type, entity }) => ({
        entity_type: type,
        entity: projectForPlayer(type, entity, change.playerView),
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
