/**
 * What a game module (modules/<name>/) declares to the save system: its entity types, each with
 * a zod schema of the fields clients write, the references it makes, where it lives, which of its
 * entities players may see and what players may change. The core (versioning, change log, batch,
 * idempotency, broadcasts, the player filter, export/import, backups) reads these declarations
 * from `modules/registry.ts` and treats module entities like its own; module entities are stored
 * in the generic `module_entities` table, so a module needs no migration.
 *
 * Module files import only this file and `domain/fields.ts` at run time (never `entities.ts`,
 * which imports the registry): the registry is read while `entities.ts` loads.
 */
import type { z } from "zod";
import type { AnyEntity } from "./entities";
import type { Actor } from "./permissions";
import type { PlayerView } from "./visibility";

/** A reference from a module entity's field to another entity of the same session. */
export interface ModuleReference {
  /**
   * The field, or a path into a JSON field: dot-separated keys, `*` standing for every value of a
   * keyed object (`combatants.*.token_id`: the token of each combatant).
   */
  field: string;
  /** A core type (`scene`, `token`, ...) or a module entity type. */
  type: string;
  /** The target must not be archived. */
  mustBeLive?: boolean;
}

export interface ModuleEntityDefinition<T extends string = string> {
  /** The `entity_type` on the wire and in the change log; lowercase, unique across core and modules. */
  type: T;
  /** The URL segment under `/api/vtt/sessions/{sid}/` (REST CRUD, history, revert). */
  path: string;
  /** The fields a client writes, with defaults: a `z.strictObject`. */
  fields: z.ZodObject<z.ZodRawShape, z.core.$strict>;
  references?: readonly ModuleReference[];
  /**
   * Where an entity lives: a field naming its scene, or naming a token (it then lives where the
   * token is). Scene locks guard it, scene bundles carry it, and with `via: "scene"` the state
   * holds only those of the active scene (others are listed with `?scene_id=`).
   */
  scene?: { field: string; via: "scene" | "token" };
  /** Whether a player sees a live entity (archived ones never). Without it, players see none. */
  visibleToPlayer?: (entity: Readonly<Record<string, unknown>>, view: PlayerView) => boolean;
  /**
   * The entity as a player receives it once visible (e.g. GM-only parts removed). `view` says
   * what players see now (the tokens, e.g. to leave out what names a hidden one); it is absent
   * only where no view is at hand, and then the projection must not rely on it.
   */
  projectForPlayer?: <E extends AnyEntity>(entity: E, view: PlayerView | undefined) => E;
  /** Whether a player may apply an update with these fields. Without it, only GMs write. */
  playerMayUpdate?: (actor: Actor, current: AnyEntity, patchKeys: readonly string[]) => boolean;
}

/**
 * A token's box on the table, in map pixels from the map's top left (rotation ignored): `width` ×
 * `height` cells of its scene's grid (`grid_size`), as the table draws it.
 */
export interface TokenBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Whether a token with this box is covered for players (e.g. wholly under fog). */
export type TokenCover = (box: TokenBox) => boolean;

/**
 * A module that hides tokens from players by what its entities say about the table (fog): given
 * its live entities of `types` on the active scene, which token boxes players may not see. A
 * token's owners see it anyway. The save system keeps it on the wire (state, changes, lists,
 * GETs, socket messages) and logs tokens entering or leaving players' view when these entities
 * change.
 */
export interface TokenCoverDefinition {
  types: readonly string[];
  cover: (entities: readonly { type: string; entity: Readonly<Record<string, unknown>> }[]) => TokenCover | undefined;
}

export interface ModuleDefinition {
  /** The module's folder name, also its route prefix `{S}/modules/<name>`. */
  name: string;
  entities: readonly ModuleEntityDefinition[];
  coversTokens?: TokenCoverDefinition;
}

/** Declares a module entity type, keeping its name as a literal type. */
export function defineEntity<const T extends string>(definition: ModuleEntityDefinition<T>): ModuleEntityDefinition<T> {
  return definition;
}

/** Declares a module; `const` keeps the list of its entity types. */
export function defineModule<const M extends ModuleDefinition>(module: M): M {
  return module;
}
