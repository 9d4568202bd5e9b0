/**
 * Fog of war: per scene, a `fog` entity says whether fog is on and how fine its grid is, and
 * `fog_chunk` entities hold the revealed cells of one CHUNK_CELLS² square each (mask.ts), so a
 * brush stroke writes and broadcasts only the chunks it touched. Both live on their scene: the
 * state carries only the active scene's, players see those of the active scene (the mask, not
 * what lies under it), and only GMs write.
 */
import { z } from "zod";
import { idSchema } from "../../domain/fields";
import { defineEntity, defineModule } from "../../domain/module-api";
import type { PlayerView } from "../../domain/visibility";
import { fogCover } from "./cover";
import { CHUNK_CELLS, isEncodedChunk, MAX_ENCODED_CHUNK, MAX_MASK_PX } from "./mask";

export { chunkId, fogIdFor } from "./ids";
export { MAX_MASK_PX } from "./mask";

export const fogFieldsSchema = z.strictObject({
  scene_id: idSchema,
  enabled: z.boolean().default(true),
  /** Map pixels a fog cell covers. */
  cell_px: z.number().int().min(2).max(256).default(8),
  /** The masked area, in map pixels from the top left. */
  width_px: z.number().int().min(1).max(MAX_MASK_PX).default(4096),
  height_px: z.number().int().min(1).max(MAX_MASK_PX).default(4096),
});
export type FogFields = z.infer<typeof fogFieldsSchema>;

/** The largest chunk index: a MAX_MASK_PX mask at the finest cell (2 px) has 128 chunks a side. */
export const MAX_CHUNK_INDEX = MAX_MASK_PX / 2 / CHUNK_CELLS - 1;

const chunkIndex = z.number().int().min(0).max(MAX_CHUNK_INDEX);

export const fogChunkFieldsSchema = z.strictObject({
  scene_id: idSchema,
  fog_id: idSchema,
  cx: chunkIndex,
  cy: chunkIndex,
  bits: z.string().max(MAX_ENCODED_CHUNK).refine(isEncodedChunk, "not an encoded fog chunk"),
});
export type FogChunkFields = z.infer<typeof fogChunkFieldsSchema>;

const onActiveScene = (entity: Readonly<Record<string, unknown>>, view: PlayerView) =>
  view.activeSceneId !== null && entity.scene_id === view.activeSceneId;

export const fogModule = defineModule({
  name: "fog",
  entities: [
    defineEntity({
      type: "fog",
      path: "fog",
      fields: fogFieldsSchema,
      references: [{ field: "scene_id", type: "scene" }],
      scene: { field: "scene_id", via: "scene" },
      visibleToPlayer: onActiveScene,
    }),
    defineEntity({
      type: "fog_chunk",
      path: "fog-chunks",
      fields: fogChunkFieldsSchema,
      references: [
        { field: "scene_id", type: "scene" },
        { field: "fog_id", type: "fog" },
      ],
      scene: { field: "scene_id", via: "scene" },
      visibleToPlayer: onActiveScene,
    }),
  ],
  // Tokens wholly under the fog of the active scene are not sent to players (cover.ts).
  coversTokens: { types: ["fog", "fog_chunk"], cover: fogCover },
});
