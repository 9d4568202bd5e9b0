/**
 * Referential rules: which fields of an entity name another entity or an asset, and what they
 * must name. Everything named must belong to the same session.
 */
import { type AnyEntity, type EntityType, moduleEntity } from "./entities";

export type Reference =
  | { field: string; target: "entity"; type: EntityType; id: string; folderKind?: "scene" | "token"; mustBeLive?: boolean }
  | { field: string; target: "asset"; hash: string };

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

/** The references an entity makes; `changedOnly` limits them to fields that differ from `previous`. */
export function referencesOf(type: EntityType, entity: AnyEntity, previous?: AnyEntity): Reference[] {
  const refs: Reference[] = [];
  const changed = (field: string) => !previous || previous[field] !== entity[field];
  const entityRef = (field: string, refType: EntityType, extra: { folderKind?: "scene" | "token"; mustBeLive?: boolean } = {}) => {
    const id = str(entity[field]);
    if (id !== null && changed(field)) refs.push({ field, target: "entity", type: refType, id, ...extra });
  };
  const assetRef = (field: string) => {
    const hash = str(entity[field]);
    if (hash !== null && changed(field)) refs.push({ field, target: "asset", hash });
  };
  const module = moduleEntity(type);
  if (module) {
    for (const ref of module.references ?? []) {
      const before = new Map(previous ? valuesAt(previous, ref.field).map((v) => [v.path, v.value]) : []);
      for (const { path, value } of valuesAt(entity, ref.field)) {
        if (typeof value !== "string" || before.get(path) === value) continue;
        refs.push({
          field: path,
          target: "entity",
          type: ref.type as EntityType,
          id: value,
          ...(ref.mustBeLive ? { mustBeLive: true } : {}),
        });
      }
    }
    return refs;
  }
  switch (type) {
    case "scene":
      entityRef("folder_id", "folder", { folderKind: "scene" });
      assetRef("map_asset");
      break;
    case "folder":
      entityRef("parent_id", "folder", { folderKind: entity.kind === "token" ? "token" : "scene" });
      break;
    case "layer":
      entityRef("scene_id", "scene");
      break;
    case "token":
      entityRef("scene_id", "scene");
      entityRef("folder_id", "folder", { folderKind: "token" });
      break;
    case "token_art":
      entityRef("token_id", "token");
      assetRef("image_asset");
      break;
    case "session_state":
      entityRef("active_scene_id", "scene", { mustBeLive: true });
      break;
  }
  return refs;
}

/** Fields whose values name other entities or assets, for prefetching what a batch will check (module types: `referencesOf`). */
export const referenceFields = {
  scene_id: "scene",
  token_id: "token",
  active_scene_id: "scene",
  folder_id: "folder",
  parent_id: "folder",
} as const satisfies Record<string, EntityType>;
export const assetFields = ["map_asset", "image_asset"] as const;

/**
 * The values at a reference path of a JSON object (see `ModuleReference.field`): each with the
 * concrete path it was found at (`combatants.c1.token_id`). Missing steps give nothing.
 */
export function valuesAt(object: unknown, path: string): { path: string; value: unknown }[] {
  const walk = (node: unknown, steps: readonly string[], at: string[]): { path: string; value: unknown }[] => {
    if (steps.length === 0) return node === undefined ? [] : [{ path: at.join("."), value: node }];
    if (typeof node !== "object" || node === null || Array.isArray(node)) return [];
    const [step, ...rest] = steps as [string, ...string[]];
    const record = node as Record<string, unknown>;
    if (step === "*") return Object.keys(record).flatMap((key) => walk(record[key], rest, [...at, key]));
    return Object.hasOwn(record, step) ? walk(record[step], rest, [...at, step]) : [];
  };
  return walk(object, path.split("."), []);
}

/** A copy of `object` with each value at the reference path replaced by `map(value)`. */
export function mapValuesAt<T>(object: T, path: string, map: (value: unknown) => unknown): T {
  const walk = (node: unknown, steps: readonly string[]): unknown => {
    if (typeof node !== "object" || node === null || Array.isArray(node)) return node;
    const [step, ...rest] = steps as [string, ...string[]];
    const record = node as Record<string, unknown>;
    const keys = step === "*" ? Object.keys(record) : Object.hasOwn(record, step) ? [step] : [];
    if (keys.length === 0) return node;
    const out = { ...record };
    for (const key of keys) out[key] = rest.length === 0 ? map(record[key]) : walk(record[key], rest);
    return out;
  };
  return walk(object, path.split(".")) as T;
}
