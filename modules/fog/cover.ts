/**
 * Which tokens the fog hides from players on the server: a token whose every cell is hidden. The
 * cells a token covers are the fog cells its box (x, y, width × height in map pixels: the token's
 * cells of its scene's grid, rotation ignored) overlaps. A token reaching outside the fog's grid (width_px × height_px from the map's
 * top left) is not hidden: the server knows no fog there. Nothing is hidden while the fog is off.
 */
import type { TokenBox, TokenCover } from "../../domain/module-api";
import { chunksOfFog, fogOfScene, gridOf } from "./editing";
import { CHUNK_CELLS, decodeChunk } from "./mask";

type Entity = Readonly<Record<string, unknown>>;

/** The cover of the fog among `entities` (one scene's fog and chunks), or undefined when there is no fog on. */
export function fogCover(entities: readonly { type: string; entity: Entity }[]): TokenCover | undefined {
  const fogs = entities.filter((e) => e.type === "fog").map((e) => e.entity);
  const sceneId = fogs.find((f) => typeof f.scene_id === "string")?.scene_id;
  const fog = typeof sceneId === "string" ? fogOfScene(fogs, sceneId) : undefined;
  if (fog?.enabled !== true) return undefined;
  const { cell_px, width_px, height_px } = fog;
  if (typeof cell_px !== "number" || typeof width_px !== "number" || typeof height_px !== "number" || cell_px <= 0) return undefined;
  const grid = gridOf({ cell_px, width_px, height_px });
  const stored = new Map(
    chunksOfFog(
      String(fog.id),
      entities.filter((e) => e.type === "fog_chunk").map((e) => e.entity),
    ).map((c) => [`${c.cx},${c.cy}`, c.bits]),
  );
  /** Decoded on first use: null for a chunk with no revealed cell (or none stored). */
  const decoded = new Map<string, Uint8Array | null>();
  const cellsOf = (cx: number, cy: number): Uint8Array | null => {
    const key = `${cx},${cy}`;
    if (!decoded.has(key)) {
      const bits = stored.get(key);
      const cells = bits ? decodeChunk(bits) : null;
      decoded.set(key, cells?.includes(1) ? cells : null);
    }
    return decoded.get(key) ?? null;
  };

  return (box: TokenBox) => {
    const c0 = Math.floor(box.x / grid.cellPx);
    const r0 = Math.floor(box.y / grid.cellPx);
    const c1 = Math.ceil((box.x + box.width) / grid.cellPx) - 1;
    const r1 = Math.ceil((box.y + box.height) / grid.cellPx) - 1;
    if (c0 < 0 || r0 < 0 || c1 >= grid.cols || r1 >= grid.rows || c1 < c0 || r1 < r0) return false;
    for (let cy = Math.floor(r0 / CHUNK_CELLS); cy <= Math.floor(r1 / CHUNK_CELLS); cy++) {
      for (let cx = Math.floor(c0 / CHUNK_CELLS); cx <= Math.floor(c1 / CHUNK_CELLS); cx++) {
        const cells = cellsOf(cx, cy);
        if (!cells) continue;
        const rowFrom = Math.max(r0, cy * CHUNK_CELLS) - cy * CHUNK_CELLS;
        const rowTo = Math.min(r1, cy * CHUNK_CELLS + CHUNK_CELLS - 1) - cy * CHUNK_CELLS;
        const colFrom = Math.max(c0, cx * CHUNK_CELLS) - cx * CHUNK_CELLS;
        const colTo = Math.min(c1, cx * CHUNK_CELLS + CHUNK_CELLS - 1) - cx * CHUNK_CELLS;
        for (let row = rowFrom; row <= rowTo; row++) {
          for (let col = colFrom; col <= colTo; col++) if (cells[row * CHUNK_CELLS + col]) return false;
        }
      }
    }
    return true;
  };
}
