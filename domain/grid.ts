/**
 * A scene's grid, fitted to its map: how many map pixels one cell is (`grid_size`), where the
 * lines start (`grid_offset_x/y`, the map pixel of a cell corner, within one cell), and how far
 * one cell is in the scene's units (`grid_scale` `grid_units`, e.g. 5 ft). Token positions are
 * map pixels; token sizes are cells, drawn at cells × grid_size.
 *
 * Pure cell math shared by the server (validation) and the web app (drawing, snapping, the
 * grid-fit tool and the ruler). Only square cells today: `grid_type` is an enum so hex grids can
 * be added without another field.
 *
 * Distances count cells the way Owlbear Rodeo and the 5e default rule do: a diagonal step is one
 * cell (Chebyshev distance), so a move of 3 right and 5 down is 5 cells.
 */

export const gridTypes = ["square"] as const;
export type GridType = (typeof gridTypes)[number];

export const GRID_SIZE_MIN = 8;
export const GRID_SIZE_MAX = 1024;
/** The cell size of a scene that was never fitted: the table's 64-px cells. */
export const DEFAULT_GRID_SIZE = 64;

export interface Grid {
  type: GridType;
  /** Map pixels per cell. */
  size: number;
  /** Map pixel of a cell corner, 0 ≤ offset < size. */
  offsetX: number;
  offsetY: number;
  /** Units per cell (e.g. 5) and their name (e.g. "ft"). */
  scale: number;
  units: string;
}

/** The grid fields of a scene; any may be missing on an optimistic copy not yet confirmed. */
export interface SceneGridFields {
  grid_type?: string | undefined;
  grid_size?: number | undefined;
  grid_offset_x?: number | undefined;
  grid_offset_y?: number | undefined;
  grid_scale?: number | undefined;
  grid_units?: string | undefined;
}

const finiteOr = (value: unknown, fallback: number) => (typeof value === "number" && Number.isFinite(value) ? value : fallback);

/** The offset brought within one cell: 130 on a 100-px grid is the same lines as 30. */
export function normalizeOffset(offset: number, size: number): number {
  const r = offset % size;
  const n = r < 0 ? r + size : r;
  // Float remainders can land a hair below `size`.
  return size - n < 1e-9 ? 0 : n;
}

/** A scene's grid, with the defaults for fields it lacks. */
export function gridOf(scene: SceneGridFields): Grid {
  const size = Math.min(GRID_SIZE_MAX, Math.max(GRID_SIZE_MIN, finiteOr(scene.grid_size, DEFAULT_GRID_SIZE)));
  return {
    type: "square",
    size,
    offsetX: normalizeOffset(finiteOr(scene.grid_offset_x, 0), size),
    offsetY: normalizeOffset(finiteOr(scene.grid_offset_y, 0), size),
    scale: finiteOr(scene.grid_scale, 5),
    units: typeof scene.grid_units === "string" ? scene.grid_units : "ft",
  };
}

/** Map pixels per cell of a scene. */
export function cellSize(scene: SceneGridFields): number {
  return gridOf(scene).size;
}

export interface Cell {
  col: number;
  row: number;
}

/** The cell a map point is in (cells left of / above the offset have negative indices). */
export function cellAt(grid: Grid, x: number, y: number): Cell {
  return { col: Math.floor((x - grid.offsetX) / grid.size), row: Math.floor((y - grid.offsetY) / grid.size) };
}

/** The top-left corner of a cell, in map pixels. */
export function cellOrigin(grid: Grid, cell: Cell): { x: number; y: number } {
  return { x: round2(grid.offsetX + cell.col * grid.size), y: round2(grid.offsetY + cell.row * grid.size) };
}

/**
 * Where a token dropped with the pointer at (x, y) goes: the top-left corner of the cell under the
 * pointer. A corner left of or above the map's edge moves one cell in, so a drop never lands off
 * the table.
 */
export function snapToCell(grid: Grid, x: number, y: number): { x: number; y: number } {
  const corner = cellOrigin(grid, cellAt(grid, x, y));
  return { x: corner.x < 0 ? round2(corner.x + grid.size) : corner.x, y: corner.y < 0 ? round2(corner.y + grid.size) : corner.y };
}

/** A dragged token's top-left corner moved to the nearest grid corner. */
export function snapToCorner(grid: Grid, x: number, y: number): { x: number; y: number } {
  const col = Math.round((x - grid.offsetX) / grid.size);
  const row = Math.round((y - grid.offsetY) / grid.size);
  return cellOrigin(grid, { col, row });
}

/** The centre of a cell, in map pixels (where the ruler's ends sit). */
export function cellCenter(grid: Grid, cell: Cell): { x: number; y: number } {
  const origin = cellOrigin(grid, cell);
  return { x: origin.x + grid.size / 2, y: origin.y + grid.size / 2 };
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface GridPatch {
  grid_size: number;
  grid_offset_x: number;
  grid_offset_y: number;
}

/**
 * The grid fitted to one map square the GM dragged a box over: cells stay square, so the size is
 * the mean of the box's sides; the offset is the box's corner brought within one cell. Null when
 * the box is too small or too large to be a cell (a click, or a slip of the mouse).
 */
export function fitGridFromBox(box: Box): GridPatch | null {
  const left = Math.min(box.x, box.x + box.width);
  const top = Math.min(box.y, box.y + box.height);
  const size = round2((Math.abs(box.width) + Math.abs(box.height)) / 2);
  if (!(size >= GRID_SIZE_MIN && size <= GRID_SIZE_MAX)) return null;
  const within = (offset: number) => {
    const rounded = round2(normalizeOffset(offset, size));
    return rounded >= size ? 0 : rounded;
  };
  return { grid_size: size, grid_offset_x: within(left), grid_offset_y: within(top) };
}

/** Cells between the cells of two map points: diagonal steps count one (Chebyshev). */
export function distanceInCells(grid: Grid, a: { x: number; y: number }, b: { x: number; y: number }): number {
  const ca = cellAt(grid, a.x, a.y);
  const cb = cellAt(grid, b.x, b.y);
  return Math.max(Math.abs(ca.col - cb.col), Math.abs(ca.row - cb.row));
}

/** A distance as the ruler shows it: "6 cells · 30 ft". */
export function formatDistance(grid: Grid, cells: number): string {
  const amount = round2(cells * grid.scale);
  const units = grid.units.trim();
  return `${cells} ${cells === 1 ? "cell" : "cells"} · ${amount}${units ? ` ${units}` : ""}`;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
