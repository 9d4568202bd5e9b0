/**
 * The one way a player view is built, whether from a batch's working set (domain/plan.ts) or from
 * what D1 holds (worker/db/reads.ts): the session state names the active scene, its covering
 * entities and cell size say which tokens are covered, and its tokens are looked up by id.
 */
import type { AnyEntity, EntityType } from "./entities";
import type { EntityRegistry } from "./registry";
import { coverTokens, isTokenVisible, type PlayerCover, type PlayerView } from "./visibility";

/** An entity that covers tokens for players (domain/module-api.ts `coversTokens`: the fog). */
export interface CoverEntity {
  type: EntityType;
  entity: AnyEntity;
}

/** What decides which tokens of a scene are covered: its live covering entities and its cell size. */
export interface SceneCover {
  entities: readonly CoverEntity[];
  cellPx: number;
}

/**
 * What covers tokens for players, built from the covering entities of a scene and its cell size
 * (`cellSize` of the scene: a token is `width` × that many map pixels wide).
 */
export function coverOf(
  registry: EntityRegistry,
  entities: readonly { type: string; entity: AnyEntity }[],
  cellPx: number,
): PlayerCover | undefined {
  if (entities.length === 0) return undefined;
  return coverTokens(
    registry.tokenCovers.map((c) => c.cover(entities.filter((e) => c.types.includes(e.type)))),
    cellPx,
  );
}

/** What a player view is built from. */
export interface PlayerViewSource {
  /** The session state: it names the active scene. */
  state: Readonly<Record<string, unknown>>;
  /** What covers tokens on the active scene (`coverOf` its covering entities); undefined: nothing. */
  cover: PlayerCover | undefined;
  /** A token of the active scene by id, as the view judges it; undefined: none (not visible). */
  token(id: string): Readonly<Record<string, unknown>> | undefined;
}

/** The active scene a session state names, or null. */
export function activeSceneOf(state: Readonly<Record<string, unknown>>): string | null {
  return typeof state.active_scene_id === "string" ? state.active_scene_id : null;
}

/**
 * What a player may see: the active scene and its visible tokens (not hidden, not wholly under
 * fog). With `userId`, the view of that player, who also sees their own tokens under fog; without,
 * that of any player. Tokens are judged when asked, through `source.token`.
 */
export function playerView(source: PlayerViewSource, userId?: string): PlayerView {
  const activeSceneId = activeSceneOf(source.state);
  const base = { activeSceneId, cover: activeSceneId === null ? undefined : source.cover, userId };
  const has = (id: string) => {
    const token = source.token(id);
    return token ? isTokenVisible(token, activeSceneId, base) : false;
  };
  return { ...base, visibleTokenIds: { has } as ReadonlySet<string> };
}
