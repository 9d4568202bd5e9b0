/** Who may do what in a game session. */
import { type EntityType, moduleEntity, type Token } from "./entities";

export const roles = ["gm", "player"] as const;
export type Role = (typeof roles)[number];

export interface Actor {
  userId: string;
  role: Role;
}

/** The only fields a player may change, and only on tokens whose `owner_user_ids` name them. */
export const playerMovableFields = ["x", "y", "rotation"] as const;

export type WriteKind = "create" | "update" | "archive" | "restore" | "activate";

/**
 * Whether `actor` may perform `kind` on an entity of `type`. `patchKeys` and `current` matter only
 * for a player's update of a token.
 */
export function canWrite(
  actor: Actor,
  type: EntityType,
  kind: WriteKind,
  current?: Readonly<Record<string, unknown>>,
  patchKeys?: readonly string[],
): boolean {
  if (actor.role === "gm") return true;
  const module = moduleEntity(type);
  if (module) {
    if (kind !== "update" || !current || !patchKeys || patchKeys.length === 0 || !module.playerMayUpdate) return false;
    return module.playerMayUpdate(actor, current as Parameters<typeof module.playerMayUpdate>[1], patchKeys);
  }
  if (type !== "token" || kind !== "update" || !current || !patchKeys) return false;
  const owners = (current as Pick<Token, "owner_user_ids">).owner_user_ids;
  if (!Array.isArray(owners) || !owners.includes(actor.userId)) return false;
  return patchKeys.length > 0 && patchKeys.every((k) => (playerMovableFields as readonly string[]).includes(k));
}
