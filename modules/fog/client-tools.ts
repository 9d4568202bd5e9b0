/**
 * The fog module's web app state and writes, shared by its panel and its overlay: the tool a GM
 * holds (per session sync, so the panel and the overlay of one table see the same one), the
 * scene's fog and chunks as the data layer shows them (pending ops included), and the
 * submission of one stroke's chunk ops as one batch.
 *
 * Imports of the data layer are type-only: `modules/client.ts`, which imports this module, is
 * itself read by the data layer.
 */
import { createSignal } from "solid-js";
import type { SessionSync } from "../../client/src/lib/sync";
import type { AnyEntity, Scene } from "../../client/src/lib/types";
import { assetFileUrl } from "../../client/src/lib/upload";
import type { FogFields } from "./domain";
import { chunksOfFog, type FogChunkOp, type FogMode, fogOfScene, type StoredChunk } from "./editing";
import { fogIdFor } from "./ids";
import { MAX_MASK_PX } from "./mask";

export type FogShapeTool = "brush" | "rect" | "ellipse";

export interface FogTool {
  shape: FogShapeTool;
  mode: FogMode;
}

export const MIN_BRUSH_RADIUS = 8;
export const MAX_BRUSH_RADIUS = 320;
export const DEFAULT_BRUSH_RADIUS = 64;
/** The mask when the map's size is unknown (no map, or it would not load). */
export const DEFAULT_MASK_PX = 4096;

export interface FogToolState {
  tool: () => FogTool | null;
  setTool: (tool: FogTool | null) => void;
  radius: () => number;
  setRadius: (radius: number) => void;
}

const toolStates = new WeakMap<SessionSync, FogToolState>();

/** The GM's fog tool for this session's table; null: no tool, the overlay lets pointers through. */
export function fogToolState(sync: SessionSync): FogToolState {
  let state = toolStates.get(sync);
  if (!state) {
    const [tool, setTool] = createSignal<FogTool | null>(null);
    const [radius, setRadius] = createSignal(DEFAULT_BRUSH_RADIUS);
    state = {
      tool,
      setTool: (next) => setTool(next),
      radius,
      setRadius: (next) => setRadius(Math.min(MAX_BRUSH_RADIUS, Math.max(MIN_BRUSH_RADIUS, Math.round(next)))),
    };
    toolStates.set(sync, state);
  }
  return state;
}

export type FogEntity = AnyEntity & FogFields;

function entitiesOf(sync: SessionSync, type: "fog" | "fog_chunk"): AnyEntity[] {
  return Object.values(sync.view.modules[type] ?? {});
}

/** The scene's fog as the table shows it (pending edits included), if any. */
export function sceneFog(sync: SessionSync, sceneId: string): FogEntity | undefined {
  return fogOfScene(entitiesOf(sync, "fog"), sceneId) as FogEntity | undefined;
}

/** The fog's stored chunks as the table shows them (pending edits included). */
export function fogChunks(sync: SessionSync, fogId: string): StoredChunk[] {
  return chunksOfFog(fogId, entitiesOf(sync, "fog_chunk"));
}

/** Queues the chunk ops of one stroke as one action: one batch, which the server applies whole or not at all. */
export async function submitFogOps(sync: SessionSync, ops: readonly FogChunkOp[]): Promise<void> {
  if (ops.length === 0) return;
  await sync.submit(
    ops.map((op) =>
      op.op === "create"
        ? { op: "create" as const, type: "fog_chunk" as const, id: op.id, data: op.data }
        : { op: "update" as const, type: "fog_chunk" as const, id: op.id, patch: op.data },
    ),
  );
}

/** The fields of a new fog for a scene: its mask as large as the map (clamped), 8 px cells. */
export function newFogFields(sceneId: string, size: { width: number; height: number } | null): FogFields {
  const clamp = (n: number) => Math.min(MAX_MASK_PX, Math.max(1, Math.round(n)));
  return {
    scene_id: sceneId,
    enabled: true,
    cell_px: 8,
    width_px: size ? clamp(size.width) : DEFAULT_MASK_PX,
    height_px: size ? clamp(size.height) : DEFAULT_MASK_PX,
  };
}

/**
 * The natural size of the scene's map image, or null when the scene has none, the page has no
 * `Image` (tests) or it does not load within `timeoutMs`. The table has loaded the same URL, so
 * this is normally answered from the browser's cache.
 */
export function mapSize(
  sessionId: string,
  scene: Pick<Scene, "map_asset">,
  timeoutMs = 5000,
): Promise<{ width: number; height: number } | null> {
  const hash = scene.map_asset;
  if (!hash || typeof Image === "undefined") return Promise.resolve(null);
  return new Promise((resolve) => {
    const image = new Image();
    const done = (size: { width: number; height: number } | null) => {
      clearTimeout(timer);
      image.onload = null;
      image.onerror = null;
      resolve(size);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    image.onload = () => done(image.naturalWidth > 0 ? { width: image.naturalWidth, height: image.naturalHeight } : null);
    image.onerror = () => done(null);
    image.src = assetFileUrl(sessionId, hash);
  });
}

/** Turns fog on for a scene: creates its fog (with the id every GM's app gives it) or enables it again. */
export async function enableFog(sync: SessionSync, sessionId: string, scene: Scene): Promise<void> {
  const existing = sceneFog(sync, scene.id);
  if (existing) {
    if (!existing.enabled) await sync.update("fog", existing.id, { enabled: true });
    return;
  }
  const size = await mapSize(sessionId, scene);
  // A fog may have arrived while the map loaded.
  const arrived = sceneFog(sync, scene.id);
  if (arrived) {
    if (!arrived.enabled) await sync.update("fog", arrived.id, { enabled: true });
    return;
  }
  await sync.create("fog", { ...newFogFields(scene.id, size) }, fogIdFor(scene.id));
}
