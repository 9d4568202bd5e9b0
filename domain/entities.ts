/**
 * What a scene, a folder, a layer, a token, a token art and the session state are: their zod
 * schemas (one source of truth for validation and for the TypeScript types on both sides), the
 * fields a client may write, and the defaults a new entity gets. Their declarations to the save
 * system are in core-entities.ts; every type, module ones included, is known to an
 * `EntityRegistry` (registry.ts).
 */
import { z } from "zod";
import { assetHashSchema, coordinate, finite, idSchema, jsonObjectSchema, nameSchema } from "./fields";
import { DEFAULT_GRID_SIZE, GRID_SIZE_MAX, GRID_SIZE_MIN, gridTypes } from "./grid";

export const coreEntityTypes = ["scene", "folder", "layer", "token", "token_art", "session_state"] as const;
export type CoreEntityType = (typeof coreEntityTypes)[number];
/**
 * An entity type: a core one, or one a game module declares (known only to the registry the
 * composition root builds, so any string here).
 */
export type EntityType = CoreEntityType | (string & {});

/** Whether a type is one of the core's six (stored in a table of its own). */
export function isCoreType(type: string): type is CoreEntityType {
  return (coreEntityTypes as readonly string[]).includes(type);
}

/** URL segment of each core entity type under `/api/vtt/sessions/{sid}/`. */
export const coreEntityPaths = {
  scene: "scenes",
  folder: "folders",
  layer: "layers",
  token: "tokens",
  token_art: "token-art",
  session_state: "session-state",
} as const satisfies Record<CoreEntityType, string>;

export { assetHashSchema, idSchema, jsonObjectSchema };

const name = nameSchema;

export const baseFieldsSchema = z.object({
  id: idSchema,
  version: z.number().int().min(1),
  created_at: z.string(),
  updated_at: z.string(),
  updated_by: z.string(),
  archived_at: z.string().nullable(),
});
export type BaseFields = z.infer<typeof baseFieldsSchema>;

export const sceneFieldsSchema = z
  .strictObject({
    name,
    description: z.string().max(20_000).default(""),
    map_asset: assetHashSchema.nullable().default(null),
    grid_scale: finite.positive().max(100_000).default(5),
    grid_units: z.string().max(16).default("ft"),
    // The grid fitted to the map (domain/grid.ts): only square cells are accepted today.
    grid_type: z.enum(gridTypes).default("square"),
    grid_size: finite.min(GRID_SIZE_MIN).max(GRID_SIZE_MAX).default(DEFAULT_GRID_SIZE),
    grid_offset_x: finite.min(0).max(GRID_SIZE_MAX).default(0),
    grid_offset_y: finite.min(0).max(GRID_SIZE_MAX).default(0),
    accent_color: z
      .string()
      .regex(/^#[0-9a-fA-F]{6}$/, "a colour is #rrggbb")
      .nullable()
      .default(null),
    folder_id: idSchema.nullable().default(null),
    sort: finite.default(0),
    metadata: jsonObjectSchema.default({}),
  })
  .superRefine((scene, ctx) => {
    // A grid offset is where the lines start within one cell.
    for (const field of ["grid_offset_x", "grid_offset_y"] as const) {
      if (scene[field] >= scene.grid_size) ctx.addIssue({ code: "custom", path: [field], message: "a grid offset is below grid_size" });
    }
  });

export const folderFieldsSchema = z.strictObject({
  name,
  kind: z.enum(["scene", "token"]),
  parent_id: idSchema.nullable().default(null),
  sort: finite.default(0),
});

export const layerTypes = ["map", "drawings", "notes", "fog"] as const;
export const layerFieldsSchema = z.strictObject({
  scene_id: idSchema,
  layer_type: z.enum(layerTypes),
  payload: jsonObjectSchema.default({}),
  z_index: z.number().int().min(-1000).max(1000).default(0),
});

export const tokenFieldsSchema = z.strictObject({
  scene_id: idSchema.nullable().default(null),
  name,
  folder_id: idSchema.nullable().default(null),
  stats: jsonObjectSchema.default({}),
  width: finite.positive().max(1000).default(1),
  height: finite.positive().max(1000).default(1),
  x: coordinate.default(0),
  y: coordinate.default(0),
  rotation: finite.min(-360).max(360).default(0),
  hidden: z.boolean().default(false),
  stamina: finite.nullable().default(null),
  school: z.string().max(100).nullable().default(null),
  owner_user_ids: z.array(idSchema).max(50).default([]),
});

export const cropSchema = z.strictObject({
  scale: finite.positive().max(100),
  translate_x: coordinate,
  translate_y: coordinate,
  stage_size: finite.positive().max(16_384),
  base_scale: finite.positive().max(100),
});
export type Crop = z.infer<typeof cropSchema>;

export const tokenArtFieldsSchema = z.strictObject({
  token_id: idSchema,
  image_asset: assetHashSchema,
  crop: cropSchema.default({ scale: 1, translate_x: 0, translate_y: 0, stage_size: 512, base_scale: 1 }),
});

export const sessionStateFieldsSchema = z.strictObject({
  active_scene_id: idSchema.nullable().default(null),
  flags: jsonObjectSchema.default({ lighting: false, grid_opacity: 0.5 }),
});

/** Fields the server sets on top of the common ones. */
export const serverFields = {
  scene: {},
  folder: {},
  layer: {},
  token: { created_by: z.string() },
  token_art: {},
  session_state: { gm_user_ids: z.array(z.string()) },
} as const;

export const sceneSchema = baseFieldsSchema.extend(sceneFieldsSchema.shape);
export const folderSchema = baseFieldsSchema.extend(folderFieldsSchema.shape);
export const layerSchema = baseFieldsSchema.extend(layerFieldsSchema.shape);
export const tokenSchema = baseFieldsSchema.extend(tokenFieldsSchema.shape).extend(serverFields.token);
export const tokenArtSchema = baseFieldsSchema.extend(tokenArtFieldsSchema.shape);
export const sessionStateSchema = baseFieldsSchema.extend(sessionStateFieldsSchema.shape).extend(serverFields.session_state);

export type Scene = z.infer<typeof sceneSchema>;
export type Folder = z.infer<typeof folderSchema>;
export type Layer = z.infer<typeof layerSchema>;
export type Token = z.infer<typeof tokenSchema>;
export type TokenArt = z.infer<typeof tokenArtSchema>;
export type SessionState = z.infer<typeof sessionStateSchema>;

export interface EntityMap {
  scene: Scene;
  folder: Folder;
  layer: Layer;
  token: Token;
  token_art: TokenArt;
  session_state: SessionState;
}
export type Entity = EntityMap[CoreEntityType];
export type AnyEntity = BaseFields & Record<string, unknown>;
