// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from "@solidjs/testing-library";
import { createComponent, createSignal } from "solid-js";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type LayerEdits, TableCanvas } from "../../client/src/components/TableCanvas";
import { CELL_PX } from "../../client/src/components/TokenPiece";
import { artPlacement } from "../../client/src/lib/crop";
import type { Note } from "../../client/src/lib/drawing";
import { LIBRARY_DRAG_TYPE } from "../../client/src/lib/library";
import type { Layer, Token, TokenArt } from "../../client/src/lib/types";
import { layer, scene, token } from "./helpers/fixtures";

afterEach(cleanup);

function edits() {
  return {
    addStroke: vi.fn<LayerEdits["addStroke"]>(),
    eraseStrokes: vi.fn<LayerEdits["eraseStrokes"]>(),
    clearStrokes: vi.fn<LayerEdits["clearStrokes"]>(),
    putNote: vi.fn<LayerEdits["putNote"]>(),
    deleteNote: vi.fn<LayerEdits["deleteNote"]>(),
  };
}

interface Options {
  art?: Record<string, TokenArt>;
  layers?: Layer[];
  showNotes?: boolean;
  layerEdits?: LayerEdits;
  initialSelection?: string[];
  canMove?: (t: Token) => boolean;
}

/** The canvas with the GM's powers, its selection kept in a signal like SessionTable does. */
function renderGmTable(tokens: Token[], options: Options = {}) {
  const [selection, setSelection] = createSignal<string[]>(options.initialSelection ?? []);
  const calls = {
    onSelectMany: vi.fn((ids: string[]) => setSelection(ids)),
    onMoveMany: vi.fn<(moves: { token: Token; x: number; y: number }[]) => void>(),
    onDrop: vi.fn<(t: Token, x: number, y: number) => void>(),
    onPreview: vi.fn<(t: Token, x: number, y: number) => void>(),
    onResize: vi.fn<(t: Token, w: number, h: number) => void>(),
    onRotate: vi.fn<(t: Token, r: number) => void>(),
    onLibraryDrop: vi.fn<(id: string, x: number, y: number) => void>(),
    onNoteDeleted: vi.fn<(note: Note) => void>(),
  };
  let ids = 0;
  render(() =>
    createComponent(TableCanvas, {
      sessionId: "sess-1",
      scene: scene("s1", 1, { name: "Crypt" }),
      tokens,
      art: options.art ?? {},
      gridOpacity: 0.3,
      canMove: options.canMove ?? (() => true),
      selectedId: null,
      get selectedIds() {
        return selection();
      },
      pending: {},
      ghosts: {},
      onSelect: vi.fn(),
      ...calls,
      layers: options.layers ?? [],
      showNotes: options.showNotes ?? true,
      ...(options.layerEdits ? { layerEdits: options.layerEdits } : {}),
      newId: () => `id-${++ids}`,
      now: () => 4242,
    }),
  );
  return { ...calls, selection };
}

const surface = () => document.querySelector<HTMLElement>(".table-surface") as HTMLElement;
const button = (name: string) => screen.getByRole("button", { name });

describe("selecting several tokens", () => {
  it("adds and removes tokens with shift-click; a plain click selects only that one", () => {
    const { selection } = renderGmTable([token("a", 1, { name: "Ann" }), token("b", 1, { name: "Bob", x: 128 })]);
    fireEvent.click(button("Ann"));
    fireEvent.click(button("Bob"), { shiftKey: true });
    expect(selection()).toEqual(["a", "b"]);
    expect(button("Ann").getAttribute("aria-pressed")).toBe("true");
    fireEvent.click(button("Ann"), { shiftKey: true });
    expect(selection()).toEqual(["b"]);
    fireEvent.click(button("Ann"));
    expect(selection()).toEqual(["a"]);
  });

  it("selects the tokens a box drawn with Shift on the empty table touches, and keeps them after the click that ends it", () => {
    const { selection } = renderGmTable([
      token("a", 1, { name: "Ann", x: 64, y: 64 }),
      token("b", 1, { name: "Bob", x: 192, y: 64 }),
      token("c", 1, { name: "Cat", x: 640, y: 640 }),
    ]);
    // Without Shift a drag on the empty table pans it: no box.
    fireEvent.pointerDown(surface(), { button: 0, pointerId: 9, clientX: 40, clientY: 40 });
    fireEvent.pointerMove(surface(), { pointerId: 9, clientX: 220, clientY: 100 });
    expect(document.querySelector(".selection-box")).toBeNull();
    fireEvent.pointerUp(surface(), { pointerId: 9, clientX: 220, clientY: 100 });
    expect(selection()).toEqual([]);
    fireEvent.pointerDown(surface(), { button: 0, pointerId: 1, clientX: 40, clientY: 40, shiftKey: true });
    fireEvent.pointerMove(surface(), { pointerId: 1, clientX: 220, clientY: 100 });
    expect(document.querySelector(".selection-box")).not.toBeNull();
    fireEvent.pointerUp(surface(), { pointerId: 1, clientX: 220, clientY: 100 });
    fireEvent.click(surface());
    expect(selection()).toEqual(["a", "b"]);
    // A click on the empty table (no box) clears the selection.
    fireEvent.pointerDown(surface(), { button: 0, pointerId: 2, clientX: 900, clientY: 900 });
    fireEvent.pointerUp(surface(), { pointerId: 2, clientX: 900, clientY: 900 });
    fireEvent.click(surface());
    expect(selection()).toEqual([]);
  });

  it("moves the whole selection when one of its tokens is dragged (a free drop, Alt held); the others follow during the drag", () => {
    const tokens = [
      token("a", 1, { name: "Ann", x: 0, y: 0 }),
      token("b", 1, { name: "Bob", x: 128, y: 64 }),
      token("c", 1, { name: "Cat", x: 300 }),
    ];
    const { onMoveMany, onDrop, selection } = renderGmTable(tokens, { initialSelection: ["a", "b"] });
    fireEvent.pointerDown(button("Ann"), { button: 0, pointerId: 1, clientX: 10, clientY: 10 });
    fireEvent.pointerMove(button("Ann"), { pointerId: 1, clientX: 74, clientY: 42 });
    expect(button("Bob").style.left).toBe("192px");
    expect(button("Bob").style.top).toBe("96px");
    expect(button("Cat").style.left).toBe("300px");
    fireEvent.pointerUp(button("Ann"), { pointerId: 1, clientX: 74, clientY: 42, altKey: true });
    // The click that ends a drag leaves the selection as it was.
    fireEvent.click(button("Ann"));
    expect(selection()).toEqual(["a", "b"]);
    expect(onDrop).not.toHaveBeenCalled();
    expect(onMoveMany.mock.calls[0]?.[0].map((m) => [m.token.id, m.x, m.y])).toEqual([
      ["a", 64, 32],
      ["b", 192, 96],
    ]);
  });

  it("moves the selection with the arrow keys, leaving out tokens that may not move", () => {
    const tokens = [token("a", 1, { name: "Ann" }), token("b", 1, { name: "Bob", x: 128 }), token("c", 1, { name: "Cat", x: 256 })];
    const { onMoveMany } = renderGmTable(tokens, { initialSelection: ["a", "b", "c"], canMove: (t) => t.id !== "c" });
    fireEvent.keyDown(button("Ann"), { key: "ArrowDown" });
    expect(onMoveMany.mock.calls[0]?.[0].map((m) => [m.token.id, m.x, m.y])).toEqual([
      ["a", 0, CELL_PX],
      ["b", 128, CELL_PX],
    ]);
  });
});

describe("resize and rotate handles", () => {
  it("resizes the single selected token in half cells", () => {
    const { onResize } = renderGmTable([token("a", 1, { name: "Ann" })], { initialSelection: ["a"] });
    const handle = screen.getByRole("button", { name: "Resize Ann", hidden: true });
    fireEvent.pointerDown(handle, { button: 0, pointerId: 1, clientX: 64, clientY: 64 });
    fireEvent.pointerMove(handle, { pointerId: 1, clientX: 64 + 70, clientY: 64 + 30 });
    expect(button("Ann").style.width).toBe(`${2 * CELL_PX}px`);
    expect(button("Ann").style.height).toBe(`${1.5 * CELL_PX}px`);
    fireEvent.pointerUp(handle, { pointerId: 1 });
    expect(onResize).toHaveBeenCalledWith(expect.objectContaining({ id: "a" }), 2, 1.5);
  });

  it("rotates towards the pointer in 15° steps", () => {
    const { onRotate } = renderGmTable([token("a", 1, { name: "Ann" })], { initialSelection: ["a"] });
    const handle = screen.getByRole("button", { name: "Rotate Ann", hidden: true });
    // jsdom lays nothing out: the token's centre is at (0, 0).
    fireEvent.pointerDown(handle, { button: 0, pointerId: 1, clientX: 0, clientY: -40 });
    fireEvent.pointerMove(handle, { pointerId: 1, clientX: 40, clientY: 2 });
    expect(button("Ann").style.transform).toBe("rotate(90deg)");
    fireEvent.pointerUp(handle, { pointerId: 1 });
    expect(onRotate).toHaveBeenCalledWith(expect.objectContaining({ id: "a" }), 90);
  });

  it("shows no handles when several tokens are selected", () => {
    renderGmTable([token("a", 1, { name: "Ann" }), token("b", 1, { name: "Bob" })], { initialSelection: ["a", "b"] });
    expect(screen.queryByRole("button", { name: "Resize Ann", hidden: true })).toBeNull();
  });
});

describe("token art", () => {
  it("frames the art with its crop once the image's size is known", () => {
    const crop = { scale: 2, translate_x: 20, translate_y: -10, stage_size: 256, base_scale: 0.5 };
    const art: TokenArt = {
      id: "art-1",
      version: 1,
      created_at: "",
      updated_at: "",
      updated_by: "",
      archived_at: null,
      token_id: "a",
      image_asset: "f".repeat(64),
      crop,
    };
    renderGmTable([token("a", 1, { name: "Ann" })], { art: { a: art } });
    const img = button("Ann").querySelector<HTMLImageElement>("img.token-art");
    if (!img) throw new Error("no art");
    expect(img.getAttribute("src")).toBe(`/api/vtt/sessions/sess-1/assets/${"f".repeat(64)}/file`);
    Object.defineProperty(img, "naturalWidth", { value: 640 });
    Object.defineProperty(img, "naturalHeight", { value: 512 });
    fireEvent.load(img);
    const placed = artPlacement(crop, { width: 640, height: 512 });
    expect({ left: img.style.left, top: img.style.top, width: img.style.width, height: img.style.height }).toEqual(placed);
  });
});

describe("dropping a library token", () => {
  // jsdom has no DragEvent: without one, drag events would lose their pointer position.
  beforeAll(() => {
    if (!("DragEvent" in window)) {
      Object.defineProperty(window, "DragEvent", { value: class DragEvent extends MouseEvent {}, configurable: true });
    }
  });

  it("reports the grid cell under the pointer", () => {
    const { onLibraryDrop } = renderGmTable([]);
    const data = new Map<string, string>([[LIBRARY_DRAG_TYPE, "lib-skeleton"]]);
    const dataTransfer = { types: [...data.keys()], getData: (type: string) => data.get(type) ?? "", dropEffect: "none" };
    const over = fireEvent.dragOver(surface(), { dataTransfer, clientX: 200, clientY: 70 });
    expect(over).toBe(false); // accepted: the default was prevented
    expect(document.querySelector(".drop-cell")).not.toBeNull();
    fireEvent.drop(surface(), { dataTransfer, clientX: 200, clientY: 70 });
    expect(onLibraryDrop).toHaveBeenCalledWith("lib-skeleton", 192, 64);
  });

  it("ignores drags that carry no library token", () => {
    const { onLibraryDrop } = renderGmTable([]);
    const dataTransfer = { types: ["text/plain"], getData: (type: string) => (type === "text/plain" ? "hello" : "") };
    expect(fireEvent.dragOver(surface(), { dataTransfer, clientX: 10, clientY: 10 })).toBe(true);
    fireEvent.drop(surface(), { dataTransfer, clientX: 10, clientY: 10 });
    expect(onLibraryDrop).not.toHaveBeenCalled();
  });
});

describe("drawings and notes layers", () => {
  const drawings = (id: string, zIndex: number, strokes: Record<string, object>) =>
    layer(id, 1, { layer_type: "drawings", z_index: zIndex, payload: { strokes } });

  it("draws the scene's drawings layers under the tokens, bottom to top by z_index", () => {
    renderGmTable([token("a", 1, { name: "Ann" })], {
      layers: [
        drawings("top", 5, { s2: { kind: "line", points: [0, 0, 5, 5], color: "#ff0000", width: 2, at: 1 } }),
        drawings("bottom", -1, { s1: { kind: "rect", points: [0, 0, 5, 5], color: "#00ff00", width: 2, at: 1 } }),
        drawings("elsewhere", 0, { s3: { points: [0, 0, 1, 1] } }),
      ].map((l, i) => (i === 2 ? { ...l, scene_id: "other" } : l)),
    });
    const svgs = [...document.querySelectorAll<SVGElement>("svg.drawings-layer")];
    expect(svgs.map((s) => s.getAttribute("data-layer-id"))).toEqual(["bottom", "top"]);
    expect(document.querySelector('[data-stroke-id="s2"]')?.getAttribute("stroke")).toBe("#ff0000");
    expect(document.querySelector('[data-stroke-id="s3"]')).toBeNull();
    // Tokens come after the layers: drawn over them.
    const order = [...surface().children].map((c) => c.getAttribute("data-layer-id") ?? c.getAttribute("data-token-id")).filter(Boolean);
    expect(order).toEqual(["bottom", "top", "a"]);
  });

  it("draws, pins notes and selects with a box in table pixels at any zoom", () => {
    const layerEdits = edits();
    const { selection } = renderGmTable([token("a", 1, { name: "Ann", x: 128, y: 128 })], { layerEdits });
    // Zoom 2 around the centre of the view (jsdom: 800 × 600, so (400, 300)): client = page × 2 - (400, 300).
    fireEvent.click(screen.getByRole("button", { name: "Zoom to 100%" }));
    fireEvent.click(screen.getByRole("button", { name: "Zoom in" }));
    fireEvent.click(screen.getByRole("button", { name: "Zoom in" }));
    fireEvent.click(screen.getByRole("button", { name: "Zoom in" }));
    expect(surface().style.transform).toBe("translate(-400px, -300px) scale(2)");
    const page = (x: number, y: number) => ({ clientX: x * 2 - 400, clientY: y * 2 - 300 });
    // A box from page (100, 100) to (200, 200) catches Ann at (128, 128).
    fireEvent.pointerDown(surface(), { button: 0, pointerId: 1, shiftKey: true, ...page(100, 100) });
    fireEvent.pointerMove(surface(), { pointerId: 1, ...page(200, 200) });
    const box = document.querySelector<HTMLElement>(".selection-box");
    expect([box?.style.left, box?.style.top, box?.style.width]).toEqual(["100px", "100px", "100px"]);
    fireEvent.pointerUp(surface(), { pointerId: 1, ...page(200, 200) });
    expect(selection()).toEqual(["a"]);
    // A line drawn on screen lands between the page points under the pointer.
    fireEvent.click(screen.getByRole("button", { name: "Draw" }));
    fireEvent.click(screen.getByRole("button", { name: "Line" }));
    const input = document.querySelector<HTMLElement>(".layer-input") as HTMLElement;
    fireEvent.pointerDown(input, { button: 0, pointerId: 2, ...page(300, 250) });
    fireEvent.pointerMove(input, { pointerId: 2, ...page(360, 280) });
    fireEvent.pointerUp(input, { pointerId: 2, ...page(360, 280) });
    expect(layerEdits.addStroke.mock.calls[0]?.[0].points).toEqual([300, 250, 360, 280]);
    // A note is pinned at the page point clicked.
    fireEvent.click(screen.getByRole("button", { name: "Note" }));
    fireEvent.pointerDown(document.querySelector(".layer-input") as HTMLElement, { button: 0, pointerId: 3, ...page(420, 310) });
    fireEvent.input(screen.getByRole("textbox", { name: "Note text" }), { target: { value: "Trap" } });
    fireEvent.click(screen.getByRole("button", { name: "Save note" }));
    expect(layerEdits.putNote).toHaveBeenCalledWith(expect.objectContaining({ x: 420, y: 310, text: "Trap" }));
  });

  it("draws a freehand stroke with the chosen colour and hands it over once finished", () => {
    const layerEdits = edits();
    renderGmTable([], { layerEdits });
    fireEvent.click(screen.getByRole("button", { name: "Draw" }));
    fireEvent.click(screen.getByRole("button", { name: "Colour Ember" }));
    const input = document.querySelector<HTMLElement>(".layer-input") as HTMLElement;
    fireEvent.pointerDown(input, { button: 0, pointerId: 1, clientX: 10, clientY: 10 });
    fireEvent.pointerMove(input, { pointerId: 1, clientX: 30, clientY: 12 });
    fireEvent.pointerMove(input, { pointerId: 1, clientX: 60, clientY: 40 });
    expect(document.querySelector(".stroke-draft")).not.toBeNull();
    fireEvent.pointerUp(input, { pointerId: 1, clientX: 60, clientY: 40 });
    expect(layerEdits.addStroke).toHaveBeenCalledWith({
      id: "id-1",
      kind: "free",
      points: [10, 10, 30, 12, 60, 40],
      color: "#e0664f",
      width: 4,
      at: 4242,
    });
  });

  it("draws a rectangle from corner to corner, and nothing for a click with a shape tool", () => {
    const layerEdits = edits();
    renderGmTable([], { layerEdits });
    fireEvent.click(screen.getByRole("button", { name: "Draw" }));
    fireEvent.click(screen.getByRole("button", { name: "Rectangle" }));
    const input = document.querySelector<HTMLElement>(".layer-input") as HTMLElement;
    fireEvent.pointerDown(input, { button: 0, pointerId: 1, clientX: 10, clientY: 10 });
    fireEvent.pointerUp(input, { pointerId: 1 });
    fireEvent.pointerDown(input, { button: 0, pointerId: 2, clientX: 10, clientY: 10 });
    fireEvent.pointerMove(input, { pointerId: 2, clientX: 50, clientY: 30 });
    fireEvent.pointerMove(input, { pointerId: 2, clientX: 80, clientY: 90 });
    fireEvent.pointerUp(input, { pointerId: 2 });
    expect(layerEdits.addStroke).toHaveBeenCalledTimes(1);
    expect(layerEdits.addStroke.mock.calls[0]?.[0]).toMatchObject({ kind: "rect", points: [10, 10, 80, 90] });
  });

  it("erases the strokes the eraser passes over, in one edit", () => {
    const layerEdits = edits();
    renderGmTable([], {
      layerEdits,
      layers: [
        drawings("d", 0, {
          s1: { kind: "line", points: [0, 20, 100, 20], color: "#ff0000", width: 2, at: 1 },
          s2: { kind: "line", points: [0, 60, 100, 60], color: "#ff0000", width: 2, at: 2 },
          s3: { kind: "line", points: [0, 300, 100, 300], color: "#ff0000", width: 2, at: 3 },
        }),
      ],
    });
    fireEvent.click(screen.getByRole("button", { name: "Erase" }));
    const input = document.querySelector<HTMLElement>(".layer-input") as HTMLElement;
    fireEvent.pointerDown(input, { button: 0, pointerId: 1, clientX: 50, clientY: 22 });
    fireEvent.pointerMove(input, { pointerId: 1, clientX: 50, clientY: 59 });
    expect(document.querySelector('[data-stroke-id="s1"]')?.classList.contains("erasing")).toBe(true);
    fireEvent.pointerUp(input, { pointerId: 1 });
    expect(layerEdits.eraseStrokes).toHaveBeenCalledWith(["s1", "s2"]);
  });

  it("places a note where the GM clicks, edits and deletes notes", () => {
    const layerEdits = edits();
    renderGmTable([], {
      layerEdits,
      layers: [layer("n", 1, { layer_type: "notes", payload: { notes: { n1: { x: 300, y: 40, text: "Secret door", at: 1 } } } })],
    });
    fireEvent.click(screen.getByRole("button", { name: "Note" }));
    const input = document.querySelector<HTMLElement>(".layer-input") as HTMLElement;
    fireEvent.pointerDown(input, { button: 0, pointerId: 1, clientX: 120, clientY: 80 });
    fireEvent.input(screen.getByRole("textbox", { name: "Note text" }), { target: { value: "Ambush here" } });
    fireEvent.click(screen.getByRole("button", { name: "Save note" }));
    expect(layerEdits.putNote).toHaveBeenCalledWith({ id: "id-1", x: 120, y: 80, text: "Ambush here", at: 4242 });

    fireEvent.click(screen.getByRole("button", { name: "Note: Secret door" }));
    fireEvent.input(screen.getByRole("textbox", { name: "Note text" }), { target: { value: "Secret door (locked)" } });
    fireEvent.click(screen.getByRole("button", { name: "Save note" }));
    expect(layerEdits.putNote).toHaveBeenLastCalledWith({ id: "n1", x: 300, y: 40, text: "Secret door (locked)", at: 1 });

    fireEvent.click(screen.getByRole("button", { name: "Note: Secret door" }));
    fireEvent.click(screen.getByRole("button", { name: "Delete note" }));
    expect(layerEdits.deleteNote).toHaveBeenCalledWith("n1");
  });

  it("hands a deleted note back whole, for its Undo", () => {
    const layerEdits = edits();
    const { onNoteDeleted } = renderGmTable([], {
      layerEdits,
      layers: [layer("n", 1, { layer_type: "notes", payload: { notes: { n1: { x: 300, y: 40, text: "Secret door", at: 1 } } } })],
    });
    fireEvent.click(screen.getByRole("button", { name: "Note: Secret door" }));
    fireEvent.click(screen.getByRole("button", { name: "Delete note" }));
    expect(layerEdits.deleteNote).toHaveBeenCalledWith("n1");
    expect(onNoteDeleted).toHaveBeenCalledWith({ id: "n1", x: 300, y: 40, text: "Secret door", at: 1 });
  });

  it("shows no notes to players, and no tools without layer edits", () => {
    renderGmTable([], {
      showNotes: false,
      layers: [layer("n", 1, { layer_type: "notes", payload: { notes: { n1: { x: 3, y: 4, text: "GM only", at: 1 } } } })],
    });
    expect(screen.queryByRole("button", { name: /^Note:/ })).toBeNull();
    expect(screen.queryByRole("toolbar", { name: "Table tools" })).toBeNull();
  });

  it("clears the scene's drawings after a confirmation", () => {
    const layerEdits = edits();
    renderGmTable([], { layerEdits, layers: [drawings("d", 0, { s1: { points: [0, 0, 9, 9], at: 1 } })] });
    fireEvent.click(screen.getByRole("button", { name: "Clear drawings" }));
    expect(layerEdits.clearStrokes).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole("button", { name: "Clear" }));
    expect(layerEdits.clearStrokes).toHaveBeenCalledTimes(1);
  });
});
