// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { LayerEdits } from "../../client/src/components/TableCanvas";
import { TableCanvas } from "../../client/src/components/TableCanvas";
import type { GridPatch } from "../../client/src/lib/grid";
import { LIBRARY_DRAG_TYPE } from "../../client/src/lib/library";
import type { Scene, Token } from "../../client/src/lib/types";
import { scene, token } from "./helpers/fixtures";

afterEach(cleanup);
beforeEach(() => localStorage.clear());
// jsdom has no DragEvent: without one, drag events would lose their pointer position.
beforeAll(() => {
  if (!("DragEvent" in window))
    Object.defineProperty(window, "DragEvent", { value: class DragEvent extends MouseEvent {}, configurable: true });
});

const FITTED = { grid_size: 100, grid_offset_x: 30, grid_offset_y: 20, grid_scale: 5, grid_units: "ft" } satisfies Partial<Scene>;
const noEdits: LayerEdits = { addStroke() {}, eraseStrokes() {}, clearStrokes() {}, putNote() {}, deleteNote() {} };

function renderTable(tokens: Token[], options: { scene?: Partial<Scene>; gm?: boolean; hud?: () => unknown } = {}) {
  const calls = {
    onDrop: vi.fn<(t: Token, x: number, y: number) => void>(),
    onLibraryDrop: vi.fn<(id: string, x: number, y: number) => void>(),
    onFitGrid: vi.fn<(patch: GridPatch) => void>(),
  };
  render(() =>
    createComponent(TableCanvas, {
      sessionId: "sess-1",
      scene: scene("s1", 1, { name: "Crypt", ...FITTED, ...options.scene }),
      tokens,
      art: {},
      gridOpacity: 0.5,
      canMove: () => true,
      selectedId: null,
      pending: {},
      ghosts: {},
      onSelect: vi.fn(),
      onPreview: vi.fn(),
      ...calls,
      ...(options.gm === false ? {} : { layerEdits: noEdits }),
      ...(options.hud
        ? {
            get hud() {
              return options.hud?.() as never;
            },
          }
        : {}),
    }),
  );
  return calls;
}

const surface = () => document.querySelector<HTMLElement>(".table-surface") as HTMLElement;

function drag(target: Element, from: [number, number], to: [number, number], extra: Record<string, unknown> = {}) {
  fireEvent.pointerDown(target, { button: 0, pointerId: 1, clientX: from[0], clientY: from[1] });
  fireEvent.pointerMove(target, { pointerId: 1, clientX: (from[0] + to[0]) / 2, clientY: (from[1] + to[1]) / 2 });
  fireEvent.pointerMove(target, { pointerId: 1, clientX: to[0], clientY: to[1] });
  fireEvent.pointerUp(target, { pointerId: 1, clientX: to[0], clientY: to[1], ...extra });
}

function libraryDrop(x: number, y: number, extra: Record<string, unknown> = {}) {
  const dataTransfer = { types: [LIBRARY_DRAG_TYPE], getData: () => "lib-orc", dropEffect: "none" };
  fireEvent.dragOver(surface(), { dataTransfer, clientX: x, clientY: y, ...extra });
  fireEvent.drop(surface(), { dataTransfer, clientX: x, clientY: y, ...extra });
}

describe("the table drawn on the scene's grid", () => {
  it("draws the grid as a repeated one-cell tile of the scene's cell size, shifted by its offset", () => {
    renderTable([]);
    const grid = document.querySelector(".table-grid") as HTMLElement;
    expect(grid.dataset.gridSize).toBe("100");
    expect(grid.style.backgroundSize).toBe("100px 100px");
    expect(grid.style.backgroundPosition).toBe("30px 20px");
    // The tile is one cell: its top and left edges.
    const tile = decodeURIComponent(grid.style.backgroundImage);
    expect(tile).toContain("width='100' height='100'");
    expect(tile).toContain("M 100 0 L 0 0 0 100");
  });

  it("covers the table and no more, and is no inline SVG pattern (redrawn at every camera move)", () => {
    renderTable([]);
    const grid = document.querySelector(".table-grid") as HTMLElement;
    expect(grid.style.width).toBe(surface().style.width);
    expect(grid.style.height).toBe(surface().style.height);
    expect(document.querySelector(".table-surface pattern")).toBeNull();
  });

  it("sizes tokens in cells of the scene's grid", () => {
    renderTable([token("t1", 1, { name: "Ogre", width: 2, height: 1.5, x: 30, y: 20 })]);
    const ogre = screen.getByRole("button", { name: "Ogre" });
    expect(ogre.style.width).toBe("200px");
    expect(ogre.style.height).toBe("150px");
  });

  it("moves a token one of the scene's cells with the arrow keys", () => {
    const { onDrop } = renderTable([token("t1", 1, { name: "Ogre", x: 130, y: 120 })]);
    fireEvent.keyDown(screen.getByRole("button", { name: "Ogre" }), { key: "ArrowRight" });
    expect(onDrop.mock.calls[0]?.slice(1)).toEqual([230, 120]);
  });
});

describe("snapping drops to the grid", () => {
  it("drops a dragged token on the nearest grid corner", () => {
    const { onDrop } = renderTable([token("t1", 1, { name: "Ogre", x: 130, y: 120 })]);
    drag(screen.getByRole("button", { name: "Ogre" }), [0, 0], [143, 61]);
    // Let go at (273, 181): the nearest corner of 100-px cells starting at (30, 20).
    expect(onDrop.mock.calls).toHaveLength(1);
    expect(onDrop.mock.calls[0]?.slice(1)).toEqual([230, 220]);
  });

  it("drops a dragged token where it was let go when Alt is held", () => {
    const { onDrop } = renderTable([token("t1", 1, { name: "Ogre", x: 130, y: 120 })]);
    drag(screen.getByRole("button", { name: "Ogre" }), [0, 0], [143, 61], { altKey: true });
    expect(onDrop.mock.calls[0]?.slice(1)).toEqual([273, 181]);
  });

  it("drops a library token on the corner of the cell under the pointer", () => {
    const { onLibraryDrop } = renderTable([]);
    libraryDrop(250, 170);
    expect(onLibraryDrop).toHaveBeenCalledWith("lib-orc", 230, 120);
  });

  it("drops a library token where the pointer is when Alt is held", () => {
    const { onLibraryDrop } = renderTable([]);
    libraryDrop(250, 170, { altKey: true });
    expect(onLibraryDrop).toHaveBeenCalledWith("lib-orc", 250, 170);
  });

  it("drops freely once snapping is switched off, and remembers the choice", () => {
    const first = renderTable([token("t1", 1, { name: "Ogre", x: 130, y: 120 })]);
    const toggle = screen.getByRole("checkbox", { name: "Snap to grid" }) as HTMLInputElement;
    expect(toggle.checked).toBe(true);
    // The tooltip says the choice is this browser's, not the table's.
    expect(toggle.closest("label")?.title).toMatch(/Kept in this browser only/);
    fireEvent.click(toggle);
    drag(screen.getByRole("button", { name: "Ogre" }), [0, 0], [143, 61]);
    expect(first.onDrop.mock.calls[0]?.slice(1)).toEqual([273, 181]);
    cleanup();

    const second = renderTable([]);
    expect((screen.getByRole("checkbox", { name: "Snap to grid" }) as HTMLInputElement).checked).toBe(false);
    libraryDrop(250, 170);
    expect(second.onLibraryDrop).toHaveBeenCalledWith("lib-orc", 250, 170);
  });
});

describe("snapping at any zoom", () => {
  // jsdom lays nothing out: the table assumes an 800×600 viewport, so zooming to 200% around its
  // centre gives client = page × 2 − (400, 300).
  function zoomTo200() {
    fireEvent.click(screen.getByRole("button", { name: "Zoom to 100%" }));
    for (let i = 0; i < 3; i++) fireEvent.keyDown(document.body, { key: "+" });
    expect(screen.getByRole("region", { name: "Table: Crypt" }).getAttribute("data-zoom")).toBe("2.000");
  }

  it("snaps a token dragged at 200% to the nearest grid corner of its page position", () => {
    const { onDrop } = renderTable([token("t1", 1, { name: "Ogre", x: 130, y: 120 })]);
    zoomTo200();
    // 286 × 122 screen pixels are 143 × 61 page pixels: let go at (273, 181), nearest corner (230, 220).
    drag(screen.getByRole("button", { name: "Ogre" }), [0, 0], [286, 122]);
    expect(onDrop.mock.calls[0]?.slice(1)).toEqual([230, 220]);
  });

  it("drops a library token at 200% in the cell under the pointer", () => {
    const { onLibraryDrop } = renderTable([]);
    zoomTo200();
    // Client (100, 40) is page (250, 170), in the cell whose corner is (230, 120).
    libraryDrop(100, 40);
    expect(onLibraryDrop).toHaveBeenCalledWith("lib-orc", 230, 120);
  });

  it("measures in page pixels at 200%", () => {
    renderTable([]);
    zoomTo200();
    // Page (50, 50) to (650, 260): six cells, whatever the zoom.
    fireEvent.click(screen.getByRole("button", { name: "Measure" }));
    drag(screen.getByTestId("ruler-input"), [-300, -200], [900, 220]);
    expect(screen.getByText("6 cells · 30 ft")).toBeTruthy();
  });

  it("fits the grid from a box dragged at 200%, in page pixels", () => {
    const { onFitGrid } = renderTable([], { scene: { grid_size: 64, grid_offset_x: 0, grid_offset_y: 0 } });
    zoomTo200();
    fireEvent.click(screen.getByRole("button", { name: "Fit grid" }));
    // Page (330, 420) to (430, 520): one 100-px square.
    drag(screen.getByTestId("grid-fit-input"), [260, 540], [460, 740]);
    expect(onFitGrid).toHaveBeenCalledWith({ grid_size: 100, grid_offset_x: 30, grid_offset_y: 20 });
  });
});

describe("the HUD over the table", () => {
  it("floats the modules' HUD over the viewport, outside the layer the camera zooms and pans", () => {
    renderTable([], {
      hud: () => {
        const order = document.createElement("div");
        order.textContent = "Initiative order";
        return order;
      },
    });
    const hud = screen.getByText("Initiative order");
    expect(hud.closest(".table-hud")).not.toBeNull();
    expect(hud.closest(".table-viewport")).not.toBeNull();
    expect(hud.closest(".table-surface")).toBeNull();
    // The grid, on the contrary, is drawn in the zoomed layer.
    expect(document.querySelector(".table-grid")?.closest(".table-surface")).not.toBeNull();
  });
});

describe("the grid tools on the table", () => {
  it("fits the grid from a box the GM drags over one map square", () => {
    const { onFitGrid } = renderTable([], { scene: { grid_size: 64, grid_offset_x: 0, grid_offset_y: 0 } });
    fireEvent.click(screen.getByRole("button", { name: "Fit grid" }));
    drag(screen.getByTestId("grid-fit-input"), [330, 420], [430, 520]);
    expect(onFitGrid).toHaveBeenCalledTimes(1);
    expect(onFitGrid).toHaveBeenCalledWith({ grid_size: 100, grid_offset_x: 30, grid_offset_y: 20 });
    expect(screen.getByRole("status").textContent).toContain("100-px squares");
  });

  it("saves nothing for a click with the grid-fit tool, and says why", () => {
    const { onFitGrid } = renderTable([]);
    fireEvent.click(screen.getByRole("button", { name: "Fit grid" }));
    drag(screen.getByTestId("grid-fit-input"), [100, 100], [102, 101]);
    expect(onFitGrid).not.toHaveBeenCalled();
    expect(screen.getByRole("status").textContent).toContain("too small or too large");
  });

  it("measures a drag in cells and in the scene's units", () => {
    renderTable([]);
    fireEvent.click(screen.getByRole("button", { name: "Measure" }));
    // From cell (0, 0) to cell (6, 2): six cells with diagonals counted as one.
    drag(screen.getByTestId("ruler-input"), [50, 50], [650, 260]);
    expect(screen.getByText("6 cells · 30 ft")).toBeTruthy();
  });

  it("gives players the ruler but not the grid-fit tool", () => {
    renderTable([], { gm: false, scene: { grid_scale: 1.5, grid_units: "m" } });
    expect(screen.queryByRole("button", { name: "Fit grid" })).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Measure" }));
    drag(screen.getByTestId("ruler-input"), [50, 50], [350, 50]);
    expect(screen.getByText("3 cells · 4.5 m")).toBeTruthy();
  });
});
