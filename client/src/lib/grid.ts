/**
 * The table's grid in the web app: the scene's grid (domain/grid.ts), where a drop lands with or
 * without snapping, and the snapping choice each user keeps in their browser.
 */
import { createSignal } from "solid-js";
import { type Grid, snapToCell, snapToCorner } from "../../../domain/grid";

export { cellSize, type Grid, type GridPatch, gridOf } from "../../../domain/grid";

/** Where a drop from the library lands: the corner of the cell under the pointer, or the pointer itself. */
export function libraryDropPoint(grid: Grid, x: number, y: number, snap: boolean): { x: number; y: number } {
  return snap ? snapToCell(grid, x, y) : { x: Math.max(0, Math.round(x)), y: Math.max(0, Math.round(y)) };
}

/** Where a dragged token's top-left lands: the nearest grid corner, or where it was let go. */
export function tokenDropPoint(grid: Grid, x: number, y: number, snap: boolean): { x: number; y: number } {
  return snap ? snapToCorner(grid, x, y) : { x: Math.round(x), y: Math.round(y) };
}

const SNAP_KEY = "vtt.grid.snap";

function storage(): Storage | undefined {
  try {
    return typeof localStorage === "undefined" ? undefined : localStorage;
  } catch {
    // Storage can be switched off (privacy settings); the choice then lasts for the page.
    return undefined;
  }
}

/** Whether drops snap to the grid (on unless this browser's user switched it off), remembered across visits. */
export function createSnapSetting(userId = "") {
  const key = userId ? `${SNAP_KEY}.${userId}` : SNAP_KEY;
  const [snap, setSnapSignal] = createSignal(storage()?.getItem(key) !== "off");
  const setSnap = (on: boolean) => {
    setSnapSignal(on);
    try {
      storage()?.setItem(key, on ? "on" : "off");
    } catch {
      // A full or refused storage keeps the choice for this page only.
    }
  };
  return { snap, setSnap };
}
