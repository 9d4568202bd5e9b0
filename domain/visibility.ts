/**
 * The player filter: what a player may see of a session. This is the single definition used by
 * every read path (state, changes, lists, single GETs) and by every WebSocket broadcast.
 *
 * A player sees the active scene, its tokens that are not hidden (and their art), its layers other
 * than `notes` (the `fog` layer is the mask itself), and the session state. Tokens wholly under
 * fog (a module's `coversTokens`) are left out too, except for their owners. Nothing archived,
 * nothing of other scenes, no folders, no library tokens. Each entity type declares its rule
 * (domain/module-api.ts; the core's in core-entities.ts), read from the registry passed in;
 * without a rule, players see none of its entities.
 */
import type { AnyEntity, EntityType } from "./entities";
import { cellSize } from "./grid";
import type { TokenBox, TokenCover } from "./module-api";
import type { EntityRegistry } from "./registry";

export interface PlayerView {
  activeSceneId: string | null;
  /** Ids of the tokens visible to players: needed to decide on token art. */
  visibleTokenIds: ReadonlySet<string>;
  /** Tokens covered for players on the active scene (fog: `coversTokens` of a module); absent: none. */
  cover?: PlayerCover | undefined;
  /** The player the view is for: their own tokens are never covered. Absent: any player (broadcasts, the change log). */
  userId?: string | undefined;
}

/** Whether a token of the active scene is covered for players (e.g. wholly under fog). */
export type PlayerCover = (token: Readonly<Record<string, unknown>>) => boolean;

/** Map pixels per cell of a scene as stored (`cellSize` of domain/grid.ts): what one cell of its tokens measures. */
export function sceneCellPx(scene: Readonly<Record<string, unknown>>): number {
  return cellSize({ grid_size: typeof scene.grid_size === "number" ? scene.grid_size : undefined });
}

/**
 * A token's box on the table, unrotated: `width` × `height` cells of its scene's grid, `cellPx`
 * map pixels each (`sceneCellPx`), as the table draws it. The grid's offset does
 * not move it: a token sits at its own x, y.
 */
export function tokenBox(token: Readonly<Record<string, unknown>>, cellPx: number): TokenBox {
  const size = (v: unknown) => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : 1);
  const at = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  return { x: at(token.x), y: at(token.y), width: size(token.width) * cellPx, height: size(token.height) * cellPx };
}

/**
 * Whether players see a token: live, on the active scene, not hidden, and not covered (wholly
 * under fog) unless `cover.userId` owns it.
 */
export function isTokenVisible(
  token: Readonly<Record<string, unknown>>,
  activeSceneId: string | null,
  cover?: Pick<PlayerView, "cover" | "userId">,
): boolean {
  if (token.archived_at !== null || activeSceneId === null || token.scene_id !== activeSceneId || token.hidden === true) return false;
  if (!cover?.cover) return true;
  if (cover.userId !== undefined && Array.isArray(token.owner_user_ids) && token.owner_user_ids.includes(cover.userId)) return true;
  return !cover.cover(token);
}

/**
 * The tokens of a scene whose cells are `cellPx` map pixels that the modules' covers hide:
 * covered when any covers the token's box.
 */
export function coverTokens(covers: readonly (TokenCover | undefined)[], cellPx: number): PlayerCover | undefined {
  const present = covers.filter((c): c is TokenCover => c !== undefined);
  if (present.length === 0) return undefined;
  return (token) => {
    const box = tokenBox(token, cellPx);
    return present.some((c) => c(box));
  };
}

export function isVisibleToPlayer(registry: EntityRegistry, type: EntityType, entity: AnyEntity, view: PlayerView): boolean {
  return entity.archived_at === null && (registry.definition(type)?.visibleToPlayer?.(entity, view) ?? false);
}

/**
 * Whether a player may have an asset (its metadata and a signed URL): only when something they may
 * see names it (the active scene's map, the art of a token they see). `named` are the entities
 * that name the asset, whatever their visibility.
 */
export function isAssetVisibleToPlayer(
  registry: EntityRegistry,
  hash: string,
  named: readonly { type: EntityType; entity: AnyEntity }[],
  view: PlayerView,
): boolean {
  return named.some(
    ({ type, entity }) =>
      (registry.definition(type)?.assets ?? []).some((field) => entity[field] === hash) && isVisibleToPlayer(registry, type, entity, view),
  );
}

/** Key under `metadata` (scenes) or `stats` (tokens) holding notes meant for the GM alone. */
export const gmNotesKey = "gm_notes";

/** The entity as a player receives it, once the filter allowed it: its type's projection (GM notes removed, ...). */
export function projectForPlayer<T extends AnyEntity>(registry: EntityRegistry, type: EntityType, entity: T, view?: PlayerView): T {
  return registry.definition(type)?.projectForPlayer?.(entity, view) ?? entity;
}
