// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Ghost, TableCanvas } from "../../client/src/components/TableCanvas";
import { CELL_PX } from "../../client/src/components/TokenPiece";
import type { Token } from "../../client/src/lib/types";
import { scene, token } from "./helpers/fixtures";

afterEach(cleanup);

function renderTable(
  tokens: Token[],
  options: { movable?: (t: Token) => boolean; ghosts?: Record<string, Ghost>; mapAsset?: string } = {},
) {
  const onSelect = vi.fn<(id: string | null) => void>();
  const onPreview = vi.fn<(t: Token, x: number, y: number) => void>();
  const onDrop = vi.fn<(t: Token, x: number, y: number) => void>();
  render(() =>
    createComponent(TableCanvas, {
      sessionId: "sess-1",
      scene: scene("s1", 1, { name: "Crypt", map_asset: options.mapAsset ?? null }),
      tokens,
      art: {},
      gridOpacity: 0.3,
      canMove: options.movable ?? (() => true),
      selectedId: null,
      pending: {},
      ghosts: options.ghosts ?? {},
      onSelect,
      onPreview,
      onDrop,
    }),
  );
  return { onSelect, onPreview, onDrop };
}

describe("TableCanvas", () => {
  it("draws each token as a button named by the token, hidden ones marked", () => {
    renderTable([token("t1", 1, { name: "Ogre", x: 64, y: 128 }), token("t2", 1, { name: "Ghost", hidden: true })]);
    const ogre = screen.getByRole("button", { name: "Ogre" });
    expect(ogre.style.left).toBe("64px");
    expect(ogre.style.top).toBe("128px");
    expect(ogre.style.width).toBe(`${CELL_PX}px`);
    const ghost = screen.getByRole("button", { name: "Ghost (hidden)" });
    expect(ghost.classList.contains("token-hidden")).toBe(true);
  });

  it("shows the scene's map through the session's asset file URL", () => {
    renderTable([], { mapAsset: "a".repeat(64) });
    const map = screen.getByRole("img", { name: "Map of Crypt" }) as HTMLImageElement;
    expect(map.getAttribute("src")).toBe(`/api/vtt/sessions/sess-1/assets/${"a".repeat(64)}/file`);
  });

  it("previews every position of a drag and, with Alt held (a free drop), drops once where the pointer let go", () => {
    const { onPreview, onDrop } = renderTable([token("t1", 1, { name: "Ogre", x: 100, y: 100 })]);
    const ogre = screen.getByRole("button", { name: "Ogre" });
    fireEvent.pointerDown(ogre, { button: 0, pointerId: 1, clientX: 10, clientY: 10 });
    fireEvent.pointerMove(ogre, { pointerId: 1, clientX: 30, clientY: 15 });
    fireEvent.pointerMove(ogre, { pointerId: 1, clientX: 60, clientY: 40 });
    expect(ogre.style.left).toBe("150px");
    fireEvent.pointerUp(ogre, { pointerId: 1, clientX: 60, clientY: 40, altKey: true });
    expect(onPreview.mock.calls.map(([, x, y]) => [x, y])).toEqual([
      [120, 105],
      [150, 130],
    ]);
    expect(onDrop).toHaveBeenCalledTimes(1);
    expect(onDrop.mock.calls[0]?.slice(1)).toEqual([150, 130]);
  });

  it("treats a press without movement as a click, not a move", () => {
    const { onDrop, onSelect } = renderTable([token("t1", 1, { name: "Ogre" })]);
    const ogre = screen.getByRole("button", { name: "Ogre" });
    fireEvent.pointerDown(ogre, { button: 0, pointerId: 1, clientX: 10, clientY: 10 });
    fireEvent.pointerMove(ogre, { pointerId: 1, clientX: 11, clientY: 11 });
    fireEvent.pointerUp(ogre, { pointerId: 1, clientX: 11, clientY: 11 });
    fireEvent.click(ogre);
    expect(onDrop).not.toHaveBeenCalled();
    expect(onSelect).toHaveBeenCalledWith("t1");
  });

  it("does not let a token be dragged or moved by key when it may not move", () => {
    const { onPreview, onDrop } = renderTable([token("t1", 1, { name: "Ogre" })], { movable: () => false });
    const ogre = screen.getByRole("button", { name: "Ogre" });
    fireEvent.pointerDown(ogre, { button: 0, pointerId: 1, clientX: 10, clientY: 10 });
    fireEvent.pointerMove(ogre, { pointerId: 1, clientX: 90, clientY: 90 });
    fireEvent.pointerUp(ogre, { pointerId: 1, clientX: 90, clientY: 90 });
    fireEvent.keyDown(ogre, { key: "ArrowRight" });
    expect(onPreview).not.toHaveBeenCalled();
    expect(onDrop).not.toHaveBeenCalled();
  });

  it("moves a movable token one cell with the arrow keys and deselects with Escape", () => {
    const { onDrop, onSelect } = renderTable([token("t1", 1, { name: "Ogre", x: 64, y: 64 })]);
    const ogre = screen.getByRole("button", { name: "Ogre" });
    fireEvent.keyDown(ogre, { key: "ArrowRight" });
    fireEvent.keyDown(ogre, { key: "ArrowUp" });
    expect(onDrop.mock.calls.map(([, x, y]) => [x, y])).toEqual([
      [64 + CELL_PX, 64],
      [64, 0],
    ]);
    fireEvent.keyDown(ogre, { key: "Escape" });
    expect(onSelect).toHaveBeenCalledWith(null);
  });

  it("draws someone else's drag as a ghost where their preview is", () => {
    renderTable([token("t1", 1, { name: "Ogre" })], { ghosts: { t1: { x: 300, y: 200, rotation: 0 } } });
    const ghost = document.querySelector<HTMLElement>('[data-ghost-for="t1"]');
    expect(ghost?.style.left).toBe("300px");
    expect(ghost?.style.top).toBe("200px");
    expect(screen.getByRole("button", { name: "Ogre" }).style.left).toBe("0px");
  });
});
