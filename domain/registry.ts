/**
 * The entity registry: every entity type the save system runs with, the core's six
 * (core-entities.ts) and those of the game modules it is built with, and what each declares
 * (module-api.ts). Built once at each composition root from `modules/registry.ts`'s list (the
 * worker: worker/registry.ts; the CLI; the tests) and passed to the domain rules that need it:
 * the domain itself knows no module.
 */
import { z } from "zod";
import { coreEntities } from "./core-entities";
import { type EntityType, isCoreType } from "./entities";
import type { EntityDefinition, ModuleDefinition, TokenCoverDefinition } from "./module-api";

/** The fields a client writes of one type: a `z.strictObject`. */
export type FieldsSchema = z.ZodObject<z.ZodRawShape, z.core.$strict>;

export interface EntityRegistry {
  /** Every entity type: the core's first, then the modules' in registry order. */
  readonly types: readonly EntityType[];
  /** The modules' entity types (stored in `module_entities`), in registry order. */
  readonly moduleTypes: readonly string[];
  /** `entity_type` as the API accepts it: one of `types`. */
  readonly entityTypeSchema: z.ZodType<EntityType, EntityType>;
  /** The fields a client writes, per type. */
  readonly fieldsSchemas: Readonly<Record<string, FieldsSchema>>;
  /** URL segment of every type under `/api/vtt/sessions/{sid}/`. */
  readonly paths: Readonly<Record<string, string>>;
  /** The modules' token covers (module-api.ts `coversTokens`), in registry order. */
  readonly tokenCovers: readonly TokenCoverDefinition[];
  /** The declaration of a type, core or module; undefined for a type this registry does not know. */
  definition(type: string): EntityDefinition | undefined;
  /** The declaration of a module type; undefined for the core's own types (and unknown ones). */
  moduleEntity(type: string): EntityDefinition | undefined;
  /** The type whose URL segment is `path`. */
  typeForPath(path: string): EntityType | undefined;
  /** Whether a type covers tokens: a change to one may change which tokens players see. */
  coversTokens(type: string): boolean;
  /** Keys of a type's writable fields, for patches and for the database mapping. */
  writableKeys(type: string): string[];
}

const TYPE_NAME = /^[a-z][a-z0-9_]{0,39}$/;

/**
 * The registry of the core's types and those of `modules`, checked: a module's type names are
 * lowercase, unique across core and modules, stored in `module_entities`, and no two types share
 * a URL path. Throws on a malformed declaration (a start-up error, never a request's).
 */
export function createEntityRegistry(modules: readonly ModuleDefinition[]): EntityRegistry {
  const definitions = new Map<string, EntityDefinition>();
  for (const def of coreEntities as readonly EntityDefinition[]) definitions.set(def.type, def);
  const moduleTypes: string[] = [];
  for (const module of modules) {
    for (const def of module.entities) {
      if (definitions.has(def.type) || !TYPE_NAME.test(def.type) || (def.storage ?? "module") !== "module") {
        throw new Error(`module ${module.name}: entity type ${def.type} is taken or malformed`);
      }
      definitions.set(def.type, def);
      moduleTypes.push(def.type);
    }
  }
  const types = [...definitions.keys()] as EntityType[];
  const paths = Object.fromEntries([...definitions.values()].map((d) => [d.type, d.path]));
  if (new Set(Object.values(paths)).size !== types.length) throw new Error("two entity types share a URL path");
  const fieldsSchemas = Object.fromEntries([...definitions.values()].map((d) => [d.type, d.fields]));
  const tokenCovers = modules.flatMap((m) => (m.coversTokens ? [m.coversTokens] : []));
  const definition = (type: string) => definitions.get(type);
  return {
    types,
    moduleTypes,
    entityTypeSchema: z.enum(types as [string, ...string[]]) as unknown as z.ZodType<EntityType, EntityType>,
    fieldsSchemas,
    paths,
    tokenCovers,
    definition,
    moduleEntity: (type) => (isCoreType(type) ? undefined : definitions.get(type)),
    typeForPath: (path) => types.find((t) => paths[t] === path),
    coversTokens: (type) => tokenCovers.some((c) => c.types.includes(type)),
    writableKeys(type) {
      const def = definitions.get(type);
      if (!def) throw new Error(`unknown entity type ${type}`);
      return Object.keys(def.fields.shape);
    },
  };
}

/**
 * Where an entity lives (its declaration's `scene`): on a scene, on a token (it then lives where
 * the token is), or nowhere (folders, the session state, library tokens).
 */
export function homeOf(
  registry: EntityRegistry,
  type: string,
  entity: Readonly<Record<string, unknown>>,
): { sceneId: string } | { tokenId: string } | null {
  const home = registry.definition(type)?.scene;
  const named = home ? entity[home.field] : undefined;
  if (!home || typeof named !== "string") return null;
  return home.via === "scene" ? { sceneId: named } : { tokenId: named };
}
