/** Who may do what in a game session. */
import type { EntityType } from "./entities";
import type { EntityRegistry } from "./registry";

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
 * Whether `actor` may perform `kind` on an entity of `type`. GMs may do anything; a player only
 * updates, as the type's `playerMayUpdate` allows (`patchKeys` and `current` matter only then).
 */
export function canWrite(
  registry: EntityRegistry,
  actor: Actor,
  type: EntityType,
  kind: WriteKind,
  current?: Readonly<Record<string, unknown>>,
  patchKeys?: readonly string[],
): boolean {
  if (actor.role === "gm") return true;
  const mayUpdate = registry.definition(type)?.playerMayUpdate;
  if (kind !== "update" || !current || !patchKeys || patchKeys.length === 0 || !mayUpdate) return false;
  return mayUpdate(actor, current as Parameters<typeof mayUpdate>[1], patchKeys);
}
