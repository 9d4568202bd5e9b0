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
      entityRef(ref.field, ref.type as EntityType, ref.mustBeLive ? { mustBeLive: true } : {});
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
