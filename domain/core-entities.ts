/**
 * The core's six entity types declared to the save system through the same seam as a game
 * module's (domain/module-api.ts): their fields, URL paths, references, where they live, what
 * players see of them and what players may change. Stored in tables of their own
 * (`storage: "core"`); every registry (registry.ts) starts with them.
 */
import {
  coreEntityPaths,
  folderFieldsSchema,
  layerFieldsSchema,
  sceneFieldsSchema,
  serverFields,
  sessionStateFieldsSchema,
  tokenArtFieldsSchema,
  tokenFieldsSchema,
} from "./entities";
import { defineEntity, type EntityDefinition } from "./module-api";
import { playerMovableFields } from "./permissions";
import { gmNotesKey, isTokenVisible } from "./visibility";

/** The entity without the GM notes kept under `gm_notes` of its JSON field `field`. */
function withoutGmNotes(field: string) {
  return <E extends Readonly<Record<string, unknown>>>(entity: E): E => {
    const bag = entity[field];
    if (typeof bag !== "object" || bag === null || !(gmNotesKey in bag)) return entity;
    const { [gmNotesKey]: _notes, ...rest } = bag as Record<string, unknown>;
    return { ...entity, [field]: rest };
  };
}

export const coreEntities = [
  defineEntity({
    type: "scene",
    path: coreEntityPaths.scene,
    fields: sceneFieldsSchema as unknown as EntityDefinition["fields"],
    storage: "core",
    references: [{ field: "folder_id", type: "folder", folderKind: "scene" }],
    assets: ["map_asset"],
    scene: { field: "id", via: "scene" },
    // Players see the active scene only, its GM notes (`metadata.gm_notes`) removed.
    visibleToPlayer: (scene, view) => view.activeSceneId !== null && scene.id === view.activeSceneId,
    projectForPlayer: withoutGmNotes("metadata"),
    projectionIgnoresView: true,
  }),
  defineEntity({
    type: "folder",
    path: coreEntityPaths.folder,
    fields: folderFieldsSchema,
    storage: "core",
    references: [{ field: "parent_id", type: "folder", folderKind: (folder) => (folder.kind === "token" ? "token" : "scene") }],
    // Players see no folders.
  }),
  defineEntity({
    type: "layer",
    path: coreEntityPaths.layer,
    fields: layerFieldsSchema,
    storage: "core",
    references: [{ field: "scene_id", type: "scene" }],
    scene: { field: "scene_id", via: "scene" },
    // The active scene's layers but its notes (the `fog` layer is the mask itself).
    visibleToPlayer: (layer, view) => view.activeSceneId !== null && layer.scene_id === view.activeSceneId && layer.layer_type !== "notes",
  }),
  defineEntity({
    type: "token",
    path: coreEntityPaths.token,
    fields: tokenFieldsSchema,
    serverFields: serverFields.token,
    storage: "core",
    references: [
      { field: "scene_id", type: "scene" },
      { field: "folder_id", type: "folder", folderKind: "token" },
    ],
    scene: { field: "scene_id", via: "scene" },
    visibleToPlayer: (token, view) => isTokenVisible(token, view.activeSceneId, view),
    projectForPlayer: withoutGmNotes("stats"),
    projectionIgnoresView: true,
    // A player moves and rotates the tokens whose `owner_user_ids` name them, nothing else.
    playerMayUpdate: (actor, token, patchKeys) =>
      Array.isArray(token.owner_user_ids) &&
      token.owner_user_ids.includes(actor.userId) &&
      patchKeys.every((k) => (playerMovableFields as readonly string[]).includes(k)),
  }),
  defineEntity({
    type: "token_art",
    path: coreEntityPaths.token_art,
    fields: tokenArtFieldsSchema,
    storage: "core",
    references: [{ field: "token_id", type: "token" }],
    assets: ["image_asset"],
    scene: { field: "token_id", via: "token" },
    // Art follows its token.
    visibleToPlayer: (art, view) =>
      view.activeSceneId !== null && typeof art.token_id === "string" && view.visibleTokenIds.has(art.token_id),
  }),
  defineEntity({
    type: "session_state",
    path: coreEntityPaths.session_state,
    fields: sessionStateFieldsSchema,
    serverFields: serverFields.session_state,
    storage: "core",
    references: [{ field: "active_scene_id", type: "scene", mustBeLive: true }],
    visibleToPlayer: () => true,
  }),
] as const satisfies readonly EntityDefinition[];
