/**
 * How an entity type is declared to the save system: a zod schema of the fields clients write,
 * the references it makes, where it lives, which entities players may see and what players may
 * change. The core's own six types are declared this way too (domain/core-entities.ts), and so
 * is every type of a game module (modules/<name>/domain.ts). The core (versioning, change log,
 * batch, idempotency, broadcasts, the player filter, export/import, backups) reads these
 * declarations from an `EntityRegistry` (domain/registry.ts) built at each composition root
 * (worker/registry.ts, the CLI, the tests) from `modules/registry.ts`, and passed in; module
 * entities are stored in the generic `module_entities` table, so a module needs no migration.
 *
 * Module files import only this file and `domain/fields.ts` at run time.
 */
import type { z } from "zod";
import type { AnyEntity } from "./entities";
import type { Actor } from "./permissions";
import type { PlayerView } from "./visibility";

/** A reference from an entity's field to another entity of the same session. */
export interface EntityReference {
  /**
   * The field, or a path into a JSON field: dot-separated keys, `*` standing for every value of a
   * keyed object (`combatants.*.token_id`: the token of each combatant).
   */
  field: string;
  /** A core type (`scene`, `token`, ...) or a module entity type. */
  type: string;
  /** The target must not be archived. */
  mustBeLive?: boolean;
  /** For references to folders: the kind of folder the target must be (or how the entity decides it). */
  folderKind?: FolderKind | ((entity: Readonly<Record<string, unknown>>) => FolderKind);
}

export type FolderKind = "scene" | "token";

export interface EntityDefinition<T extends string = string> {
  /** The `entity_type` on the wire and in the change log; lowercase, unique across core and modules. */
  type: T;
  /** The URL segment under `/api/vtt/sessions/{sid}/` (REST CRUD, history, revert). */
  path: string;
  /** The fields a client writes, with defaults: a `z.strictObject`. */
  fields: z.ZodObject<z.ZodRawShape, z.core.$strict>;
  /**
   * Fields the server sets on top of the common ones (id, version, timestamps, archived_at), never
   * written by clients: a token's `created_by`, the session state's `gm_user_ids`. Core types only.
   */
  serverFields?: z.ZodRawShape;
  /**
   * Where its entities are stored: `"core"` in a table of their own (the six core types, mapped
   * by worker/db/entities.ts), `"module"` (the default, and the only choice for a module) in the
   * generic `module_entities` table.
   */
  storage?: "core" | "module";
  /** References to other entities, checked on write (in this order), by the integrity job, rewritten by imports. */
  references?: readonly EntityReference[];
  /** Fields naming an uploaded asset of the session (core types only today: a scene's map, token art's image). */
  assets?: readonly string[];
  /**
   * Where an entity lives: a field naming its scene (`id` for a scene itself), or naming a token
   * (it then lives where the token is). Scene locks guard it, scene bundles carry it, and for a
   * module type with `via: "scene"` the state holds only those of the active scene (others are
   * listed with `?scene_id=`).
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
  /**
   * The projection reads the entity alone, never `view` (GM notes removed): an update then
   * reaches players as a patch between the two projected versions. Otherwise a projected entity
   * is sent whole, since what a player saw of the previous version may rest on a view that
   * changed too (fog).
   */
  projectionIgnoresView?: boolean;
  /** Whether a player may apply an update with these fields. Without it, only GMs write. */
  playerMayUpdate?: (actor: Actor, current: AnyEntity, patchKeys: readonly string[]) => boolean;
}
/** A module's entity declaration: an `EntityDefinition` stored in `module_entities`. */
export type ModuleEntityDefinition<T extends string = string> = EntityDefinition<T>;

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

/** Declares an entity type (a core one or a module's), keeping its name as a literal type. */
export function defineEntity<const T extends string>(definition: EntityDefinition<T>): EntityDefinition<T> {
  return definition;
}

/** Declares a module; `const` keeps the list of its entity types. */
export function defineModule<const M extends ModuleDefinition>(module: M): M {
  return module;
}
