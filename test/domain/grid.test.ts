import { describe, expect, it } from "vitest";
import { sceneFieldsSchema } from "../../domain/entities";
import {
  cellAt,
  cellSize,
  distanceInCells,
  fitGridFromBox,
  formatDistance,
  type Grid,
  gridOf,
  normalizeOffset,
  snapToCell,
  snapToCorner,
} from "../../domain/grid";

const grid = (size: number, offsetX = 0, offsetY = 0, scale = 5, units = "ft"): Grid => ({
  type: "square",
  size,
  offsetX,
  offsetY,
  scale,
  units,
});

describe("a scene's grid", () => {
  it.each([
    ["a scene made before grids were fitted", {}, { size: 64, offsetX: 0, offsetY: 0, scale: 5, units: "ft" }],
    [
      "a fitted scene",
      { grid_size: 100, grid_offset_x: 30, grid_offset_y: 20, grid_scale: 1.5, grid_units: "m" },
      { size: 100, offsetX: 30, offsetY: 20, scale: 1.5, units: "m" },
    ],
    ["an offset beyond one cell", { grid_size: 100, grid_offset_x: 130, grid_offset_y: -20 }, { offsetX: 30, offsetY: 80 }],
    ["a size out of range", { grid_size: 2 }, { size: 8 }],
  ])("%s", (_name, scene, expected) => {
    expect(gridOf(scene)).toMatchObject(expected);
  });

  it("gives the cell size of a scene", () => {
    expect(cellSize({ grid_size: 70.5 })).toBe(70.5);
    expect(cellSize({})).toBe(64);
  });

  it.each([
    [0, 100, 0],
    [130, 100, 30],
    [-20, 100, 80],
    [200, 100, 0],
  ])("brings offset %d within a %d-px cell as %d", (offset, size, expected) => {
    expect(normalizeOffset(offset, size)).toBe(expected);
  });
});

describe("cells and snapping", () => {
  it.each([
    ["the origin", grid(64), 0, 0, { col: 0, row: 0 }],
    ["inside the first cell", grid(64), 63.9, 10, { col: 0, row: 0 }],
    ["on the next line", grid(64), 64, 128, { col: 1, row: 2 }],
    ["with an offset", grid(100, 30, 20), 129, 119, { col: 0, row: 0 }],
    ["left of and above the offset", grid(100, 30, 20), 10, 5, { col: -1, row: -1 }],
  ])("finds the cell of a point: %s", (_name, g, x, y, expected) => {
    expect(cellAt(g, x, y)).toEqual(expected);
  });

  it.each([
    ["a drop in a cell goes to its corner", grid(64), 100, 70, { x: 64, y: 64 }],
    ["with an offset", grid(100, 30, 20), 250, 170, { x: 230, y: 120 }],
    ["a drop in the partial cell at the map's edge moves one cell in", grid(100, 30, 20), 10, 5, { x: 30, y: 20 }],
    ["fractional cells", grid(70.5, 10.25, 0), 200, 80, { x: 151.25, y: 70.5 }],
  ])("snaps a library drop to a cell: %s", (_name, g, x, y, expected) => {
    expect(snapToCell(g, x, y)).toEqual(expected);
  });

  it.each([
    ["a token dragged near a corner", grid(64), 70, 120, { x: 64, y: 128 }],
    ["with an offset", grid(100, 30, 20), 170, 80, { x: 130, y: 120 }],
    ["past the first line", grid(100, 30, 20), -5, 0, { x: 30, y: 20 }],
    ["left of the first line", grid(100, 30, 20), -30, -40, { x: -70, y: -80 }],
  ])("snaps a dragged token to the nearest corner: %s", (_name, g, x, y, expected) => {
    expect(snapToCorner(g, x, y)).toEqual(expected);
  });
});

describe("fitting the grid from a box over one map square", () => {
  it.each([
    ["a box on the offset", { x: 30, y: 20, width: 100, height: 100 }, { grid_size: 100, grid_offset_x: 30, grid_offset_y: 20 }],
    ["a box on a later square", { x: 330, y: 420, width: 100, height: 100 }, { grid_size: 100, grid_offset_x: 30, grid_offset_y: 20 }],
    ["a box dragged up and left", { x: 430, y: 520, width: -100, height: -100 }, { grid_size: 100, grid_offset_x: 30, grid_offset_y: 20 }],
    [
      "a slightly uneven box keeps square cells",
      { x: 130, y: 120, width: 98, height: 102 },
      { grid_size: 100, grid_offset_x: 30, grid_offset_y: 20 },
    ],
    ["a fractional box", { x: 0, y: 0, width: 70.5, height: 70.5 }, { grid_size: 70.5, grid_offset_x: 0, grid_offset_y: 0 }],
    ["a box at the corner of a cell", { x: 200, y: 0, width: 100, height: 100 }, { grid_size: 100, grid_offset_x: 0, grid_offset_y: 0 }],
  ])("%s", (_name, box, expected) => {
    expect(fitGridFromBox(box)).toEqual(expected);
  });

  it.each([
    ["a click", { x: 10, y: 10, width: 2, height: 3 }],
    ["a box larger than any cell", { x: 0, y: 0, width: 2000, height: 2000 }],
  ])("refuses %s", (_name, box) => {
    expect(fitGridFromBox(box)).toBeNull();
  });

  it("fits a grid the scene schema accepts", () => {
    const patch = fitGridFromBox({ x: 1234.567, y: 99.999, width: 77.77, height: 77.79 });
    expect(patch).not.toBeNull();
    expect(sceneFieldsSchema.safeParse({ name: "Map", ...patch }).success).toBe(true);
  });
});

describe("distances", () => {
  it.each([
    ["the same cell", grid(64), { x: 5, y: 5 }, { x: 60, y: 60 }, 0],
    ["one step right", grid(64), { x: 5, y: 5 }, { x: 70, y: 5 }, 1],
    ["a diagonal counts one a step", grid(64), { x: 0, y: 0 }, { x: 64 * 3 + 1, y: 64 * 3 + 1 }, 3],
    ["3 right and 5 down", grid(64), { x: 0, y: 0 }, { x: 64 * 3, y: 64 * 5 }, 5],
    ["backwards", grid(100, 30, 20), { x: 650, y: 150 }, { x: 50, y: 150 }, 6],
  ])("counts cells: %s", (_name, g, a, b, expected) => {
    expect(distanceInCells(g, a, b)).toBe(expected);
  });

  it.each([
    [grid(64), 6, "6 cells · 30 ft"],
    [grid(64), 1, "1 cell · 5 ft"],
    [grid(64, 0, 0, 1.5, "m"), 3, "3 cells · 4.5 m"],
    [grid(64, 0, 0, 1, ""), 2, "2 cells · 2"],
  ])("writes %s cells as words", (g, cells, expected) => {
    expect(formatDistance(g, cells)).toBe(expected);
  });
});

describe("the scene schema's grid fields", () => {
  it("gives a new scene the table's 64-px square grid", () => {
    expect(sceneFieldsSchema.parse({ name: "Map" })).toMatchObject({
      grid_type: "square",
      grid_size: 64,
      grid_offset_x: 0,
      grid_offset_y: 0,
    });
  });

  it.each([
    ["a size below 8", { grid_size: 4 }, "grid_size"],
    ["a size above 1024", { grid_size: 2048 }, "grid_size"],
    ["a negative offset", { grid_offset_x: -1 }, "grid_offset_x"],
    ["an offset of a whole cell", { grid_size: 100, grid_offset_y: 100 }, "grid_offset_y"],
    ["a hex grid (not yet)", { grid_type: "hex" }, "grid_type"],
    ["a size that is text", { grid_size: "64" }, "grid_size"],
  ])("refuses %s", (_name, fields, field) => {
    const parsed = sceneFieldsSchema.safeParse({ name: "Map", ...fields });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.path.join("."))).toContain(field);
  });
});
