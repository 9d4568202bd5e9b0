// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor } from "@solidjs/testing-library";
import { createComponent, createSignal } from "solid-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { TableCanvas, useTableView } from "../../client/src/components/TableCanvas";
import type { Camera } from "../../client/src/lib/camera";
import type { CameraStore } from "../../client/src/lib/camera-store";
import { LIBRARY_DRAG_TYPE } from "../../client/src/lib/library";
import type { Token } from "../../client/src/lib/types";
import { scene, token } from "./helpers/fixtures";

afterEach(cleanup);

interface Options {
  store?: CameraStore;
  isOwn?: (t: Token) => boolean;
  selected?: string[];
  menu?: boolean;
  children?: () => unknown;
}

// jsdom lays nothing out: the viewport reads as 0×0 and the table assumes 800×600 (centre 400, 300).
function renderTable(tokens: Token[], options: Options = {}) {
  const [selection, setSelection] = createSignal<string[]>(options.selected ?? []);
  const calls = {
    onDrop: vi.fn<(t: Token, x: number, y: number) => void>(),
    onPreview: vi.fn<(t: Token, x: number, y: number) => void>(),
    onLibraryDrop: vi.fn<(id: string, x: number, y: number) => void>(),
    onHide: vi.fn<(t: Token) => void>(),
  };
  render(() =>
    createComponent(TableCanvas, {
      sessionId: "sess-1",
      scene: scene("s1", 1, { name: "Crypt" }),
      tokens,
      art: {},
      gridOpacity: 0.3,
      canMove: () => true,
      selectedId: null,
      get selectedIds() {
        return selection();
      },
      onSelectMany: setSelection,
      pending: {},
      ghosts: {},
      onSelect: vi.fn(),
      onDrop: calls.onDrop,
      onPreview: calls.onPreview,
      onLibraryDrop: calls.onLibraryDrop,
      ...(options.store ? { cameraStore: options.store } : {}),
      ...(options.isOwn ? { isOwn: options.isOwn } : {}),
      ...(options.menu
        ? {
            tokenMenu: (t: Token, close: () => void) => {
              // A module's item, as a plain element.
              const item = document.createElement("button");
              item.type = "button";
              item.setAttribute("role", "menuitem");
              item.textContent = `Hide ${t.name}`;
              item.addEventListener("click", () => {
                calls.onHide(t);
                close();
              });
              return item;
            },
          }
        : {}),
      get children() {
        return options.children?.() as never;
      },
    }),
  );
  return calls;
}

const table = () => screen.getByRole("region", { name: "Table: Crypt" });
const surface = () => document.querySelector<HTMLElement>(".table-surface") as HTMLElement;
const zoom = () => table().getAttribute("data-zoom");

describe("the table's camera", () => {
  it("zooms with the buttons around the centre of the view, shows the zoom, and goes back to 100%", () => {
    renderTable([]);
    expect(zoom()).toBe("1.000");
    fireEvent.click(screen.getByRole("button", { name: "Zoom in" }));
    expect(zoom()).toBe("1.250");
    // The page point at the centre (400, 300) stays there: x = 400 - 400 × 1.25.
    expect(surface().style.transform).toBe("translate(-100px, -75px) scale(1.25)");
    expect(screen.getByRole("button", { name: "Zoom to 100%" }).textContent).toBe("125%");
    fireEvent.click(screen.getByRole("button", { name: "Zoom out" }));
    fireEvent.click(screen.getByRole("button", { name: "Zoom out" }));
    expect(zoom()).toBe("0.750");
    fireEvent.click(screen.getByRole("button", { name: "Zoom out" }));
    expect(zoom()).toBe("0.500");
    fireEvent.click(screen.getByRole("button", { name: "Zoom to 100%" }));
    expect(zoom()).toBe("1.000");
  });

  it("fits the map (without one, the table's default size) into the view", () => {
    renderTable([]);
    fireEvent.click(screen.getByRole("button", { name: "Fit map" }));
    // 1600 × 1024 into 800 × 600 less 16 px margins: min(768 / 1600, 568 / 1024) = 0.48.
    expect(zoom()).toBe("0.480");
    expect(screen.getByRole("button", { name: "Zoom to 100%" }).textContent).toBe("48%");
  });

  it("zooms with + and - and pans with the arrow keys while nothing is selected", () => {
    renderTable([token("a", 1, { name: "Ann" })]);
    fireEvent.keyDown(document.body, { key: "+" });
    expect(zoom()).toBe("1.250");
    fireEvent.keyDown(document.body, { key: "-" });
    expect(zoom()).toBe("1.000");
    fireEvent.keyDown(document.body, { key: "ArrowRight" });
    fireEvent.keyDown(document.body, { key: "ArrowDown" });
    expect(surface().style.transform).toBe("translate(-64px, -64px) scale(1)");
    // Keys typed in a field are the field's.
    const input = document.createElement("input");
    document.body.append(input);
    fireEvent.keyDown(input, { key: "+" });
    expect(zoom()).toBe("1.000");
    input.remove();
  });

  it("pans with a drag on the empty table, keeping the selection the click after it would clear", () => {
    // jsdom has no pointer capture; the gesture library asks for it.
    const proto = Element.prototype as unknown as Record<string, unknown>;
    for (const name of ["setPointerCapture", "releasePointerCapture"]) proto[name] ??= () => undefined;
    proto.hasPointerCapture ??= () => false;
    renderTable([token("a", 1, { name: "Ann", x: 640, y: 640 })], { selected: ["a"] });
    const pointer = { pointerId: 5, pointerType: "mouse", isPrimary: true };
    fireEvent.pointerDown(surface(), { ...pointer, button: 0, buttons: 1, clientX: 100, clientY: 100 });
    for (let i = 1; i <= 5; i++) {
      fireEvent.pointerMove(surface(), { ...pointer, buttons: 1, clientX: 100 + i * 20, clientY: 100 + i * 10 });
    }
    fireEvent.pointerUp(surface(), { ...pointer, button: 0, buttons: 0, clientX: 200, clientY: 150 });
    fireEvent.click(surface());
    const [x, y] = (table().getAttribute("data-camera") ?? "").split(",").map(Number);
    expect(x).toBeGreaterThan(80);
    expect(y).toBeGreaterThan(35);
    expect(screen.getByRole("button", { name: "Ann" }).getAttribute("aria-pressed")).toBe("true");
    // A plain click on the empty table still clears it.
    fireEvent.click(surface());
    expect(screen.getByRole("button", { name: "Ann" }).getAttribute("aria-pressed")).toBe("false");
  });

  it("leaves the arrow keys to the selection when there is one", () => {
    renderTable([token("a", 1, { name: "Ann" })], { selected: ["a"] });
    fireEvent.keyDown(document.body, { key: "ArrowRight" });
    expect(surface().style.transform).toBe("translate(0px, 0px) scale(1)");
  });

  it("moves a dragged token by the pointer's distance divided by the zoom", () => {
    const { onDrop } = renderTable([token("a", 1, { name: "Ann", x: 64, y: 64 })]);
    fireEvent.click(screen.getByRole("button", { name: "Zoom to 100%" }));
    for (let i = 0; i < 3; i++) fireEvent.keyDown(document.body, { key: "+" });
    expect(zoom()).toBe("2.000");
    const ann = screen.getByRole("button", { name: "Ann" });
    fireEvent.pointerDown(ann, { button: 0, pointerId: 1, clientX: 10, clientY: 10 });
    fireEvent.pointerMove(ann, { pointerId: 1, clientX: 10 + 2 * 64, clientY: 10 + 2 * 32 });
    // Alt: a free drop, so the grid's snapping (tested at zoom in grid-table.test.ts) leaves the point as it is.
    fireEvent.pointerUp(ann, { pointerId: 1, altKey: true });
    expect(onDrop.mock.calls[0]?.slice(1)).toEqual([128, 96]);
  });

  it("drops a library token at the page point under the pointer at any zoom", () => {
    // jsdom has no DragEvent: without one, drag events would lose their pointer position.
    if (!("DragEvent" in window)) {
      Object.defineProperty(window, "DragEvent", { value: class DragEvent extends MouseEvent {}, configurable: true });
    }
    const { onLibraryDrop } = renderTable([]);
    fireEvent.click(screen.getByRole("button", { name: "Fit map" }));
    // Zoom 0.48 around the centre: translate(16, 54.24); client = page × 0.48 + translate.
    const dataTransfer = { types: [LIBRARY_DRAG_TYPE], getData: () => "lib-1", dropEffect: "none" };
    fireEvent.dragOver(surface(), { dataTransfer, clientX: 352, clientY: 150 });
    fireEvent.drop(surface(), { dataTransfer, clientX: 352, clientY: 150 });
    // Page (700, 200) is in the cell at (640, 192).
    expect(onLibraryDrop).toHaveBeenCalledWith("lib-1", 640, 192);
  });

  it("gives the tools inside it one screen-to-page conversion", () => {
    let view: ReturnType<typeof useTableView>;
    renderTable([], {
      children: () => {
        view = useTableView();
        return null;
      },
    });
    fireEvent.click(screen.getByRole("button", { name: "Zoom in" }));
    expect(view?.toPage(400, 300)).toEqual({ x: 400, y: 300 });
    expect(view?.toPage(525, 300)).toEqual({ x: 500, y: 300 });
    expect(view?.camera().z).toBe(1.25);
  });

  it("restores this person's camera for the scene and keeps the new one after a change", async () => {
    const saved: Camera[] = [];
    const store: CameraStore = {
      load: vi.fn(async () => ({ x: 10, y: 20, z: 2 })),
      save: vi.fn(async (_scene: string, camera: Camera) => {
        saved.push(camera);
      }),
    };
    renderTable([], { store });
    await waitFor(() => expect(zoom()).toBe("2.000"));
    expect(store.load).toHaveBeenCalledWith("s1");
    expect(surface().style.transform).toBe("translate(10px, 20px) scale(2)");
    fireEvent.click(screen.getByRole("button", { name: "Zoom to 100%" }));
    await waitFor(() => expect(saved.at(-1)?.z).toBe(1));
    expect(store.save).toHaveBeenLastCalledWith("s1", saved.at(-1));
  });
});

describe("the first view and the pan limits", () => {
  it("with no camera kept, a phone's first view shows the map covering the window, where fitting would make it tiny", async () => {
    // A phone's table (jsdom lays nothing out: the viewport's size is given).
    const rect = vi.spyOn(HTMLElement.prototype, "getBoundingClientRect").mockImplementation(function (this: HTMLElement) {
      return this.classList.contains("table-viewport") ? new DOMRect(0, 0, 390, 734) : new DOMRect(0, 0, 0, 0);
    });
    try {
      const store: CameraStore = { load: vi.fn(async () => null), save: vi.fn(async () => undefined) };
      renderTable([], { store });
      // No map: the table's default 1600 × 1024. Fitting would be 0.24; covering is 734 / 1024.
      await waitFor(() => expect(zoom()).toBe((734 / 1024).toFixed(3)));
      const [x, y] = (table().getAttribute("data-camera") ?? "").split(",").map(Number);
      expect(y).toBeCloseTo(0, 1);
      expect(x).toBeCloseTo((390 - 1600 * (734 / 1024)) / 2, 1);
    } finally {
      rect.mockRestore();
    }
  });

  it("with no camera kept, a wide window opens at 100% on the map's corner, clear of the floating bars", async () => {
    const store: CameraStore = { load: vi.fn(async () => null), save: vi.fn(async () => undefined) };
    renderTable([], { store });
    await waitFor(() => expect(store.load).toHaveBeenCalled());
    await Promise.resolve();
    expect(surface().style.transform).toBe("translate(24px, 64px) scale(1)");
  });

  it("keeps a camera it restored rather than the first view", async () => {
    const store: CameraStore = { load: vi.fn(async () => ({ x: -10, y: -20, z: 2 })), save: vi.fn(async () => undefined) };
    renderTable([], { store });
    await waitFor(() => expect(surface().style.transform).toBe("translate(-10px, -20px) scale(2)"));
  });

  it("never pans the map out of the window", () => {
    renderTable([]);
    for (let i = 0; i < 40; i++) fireEvent.keyDown(document.body, { key: "ArrowLeft" });
    for (let i = 0; i < 40; i++) fireEvent.keyDown(document.body, { key: "ArrowUp" });
    // 40 × 64 px right and down would put the map's corner at (2560, 2560): it stops 96 px inside.
    expect(surface().style.transform).toBe("translate(704px, 504px) scale(1)");
    for (let i = 0; i < 80; i++) fireEvent.keyDown(document.body, { key: "ArrowRight" });
    // The other way: the map's right edge (1600) stops 96 px inside the window's left.
    expect(surface().style.transform).toBe("translate(-1504px, 504px) scale(1)");
  });
});

describe("my token", () => {
  it("marks the viewer's own tokens and centres on each in turn", () => {
    renderTable(
      [
        token("a", 1, { name: "Ann", x: 0, y: 0 }),
        token("b", 1, { name: "Bob", x: 1000, y: 600 }),
        token("c", 1, { name: "Cat", x: 320, y: 320 }),
      ],
      { isOwn: (t) => t.id !== "c" },
    );
    expect(screen.getByRole("button", { name: "Ann" }).classList.contains("token-own")).toBe(true);
    expect(screen.getByRole("button", { name: "Cat" }).classList.contains("token-own")).toBe(false);
    const mine = screen.getByRole("button", { name: "My tokens (next)" });
    fireEvent.click(mine);
    // Ann's centre (32, 32) would go to the view's centre (400, 300), showing table above and left
    // of the map: the map's corner stays at the view's instead, with Ann in view.
    expect(surface().style.transform).toBe("translate(0px, 0px) scale(1)");
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Ann" }));
    fireEvent.click(mine);
    expect(surface().style.transform).toBe("translate(-632px, -332px) scale(1)");
    fireEvent.click(mine);
    expect(surface().style.transform).toBe("translate(0px, 0px) scale(1)");
  });

  it("offers no such button to someone without a token", () => {
    renderTable([token("a", 1, { name: "Ann" })], { isOwn: () => false });
    expect(screen.queryByRole("button", { name: /My token/ })).toBeNull();
  });
});

describe("the token menu", () => {
  it("opens on a right-click with the given items, runs one and closes", () => {
    const { onHide } = renderTable([token("a", 1, { name: "Ann" })], { menu: true });
    expect(screen.queryByRole("menu")).toBeNull();
    fireEvent.contextMenu(screen.getByRole("button", { name: "Ann" }), { clientX: 50, clientY: 60 });
    const menu = screen.getByRole("menu", { name: "Ann menu" });
    expect(document.activeElement).toBe(screen.getByRole("menuitem", { name: "Hide Ann" }));
    fireEvent.click(screen.getByRole("menuitem", { name: "Hide Ann" }));
    expect(onHide).toHaveBeenCalledTimes(1);
    expect(menu.isConnected).toBe(false);
  });

  it("closes with Escape, giving focus back to the token", () => {
    renderTable([token("a", 1, { name: "Ann" })], { menu: true });
    fireEvent.contextMenu(screen.getByRole("button", { name: "Ann" }));
    fireEvent.keyDown(screen.getByRole("menu"), { key: "Escape" });
    expect(screen.queryByRole("menu")).toBeNull();
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Ann" }));
  });

  it("opens on a long press of a finger, and not after the finger moved", () => {
    vi.useFakeTimers();
    try {
      renderTable([token("a", 1, { name: "Ann" })], { menu: true });
      const ann = screen.getByRole("button", { name: "Ann" });
      fireEvent.pointerDown(ann, { button: 0, pointerId: 1, pointerType: "touch", clientX: 10, clientY: 10 });
      fireEvent.pointerMove(ann, { pointerId: 1, pointerType: "touch", clientX: 40, clientY: 10 });
      vi.advanceTimersByTime(1000);
      fireEvent.pointerUp(ann, { pointerId: 1, pointerType: "touch" });
      expect(screen.queryByRole("menu")).toBeNull();
      fireEvent.pointerDown(ann, { button: 0, pointerId: 2, pointerType: "touch", clientX: 10, clientY: 10 });
      vi.advanceTimersByTime(1000);
      expect(screen.getByRole("menu", { name: "Ann menu" })).toBeTruthy();
    } finally {
      vi.useRealTimers();
    }
  });

  it("offers no menu when the table gives no items", () => {
    renderTable([token("a", 1, { name: "Ann" })]);
    fireEvent.contextMenu(screen.getByRole("button", { name: "Ann" }));
    expect(screen.queryByRole("menu")).toBeNull();
  });
});
