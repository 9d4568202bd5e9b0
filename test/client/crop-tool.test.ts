// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CropTool } from "../../client/src/components/CropTool";
import { TokenInspector } from "../../client/src/components/TokenInspector";
import { artPlacement, type Crop, initialCrop } from "../../client/src/lib/crop";
import type { TokenArt } from "../../client/src/lib/types";
import { token } from "./helpers/fixtures";

afterEach(cleanup);

/** jsdom loads no images: give the image its natural size and fire its load. */
function loadImage(img: HTMLImageElement, width: number, height: number) {
  Object.defineProperty(img, "naturalWidth", { value: width, configurable: true });
  Object.defineProperty(img, "naturalHeight", { value: height, configurable: true });
  fireEvent.load(img);
}

const shown = (): Crop => JSON.parse(screen.getByRole("status", { name: "Crop" }).getAttribute("data-crop") ?? "null");
const stage = () => screen.getByRole("application", { name: /Crop area/ });
const image = () => stage().querySelector("img") as HTMLImageElement;

function renderTool(initial: Crop | null = null) {
  const onChange = vi.fn<(crop: Crop) => void>();
  const onSave = vi.fn(async (_crop: Crop) => undefined);
  const onCancel = vi.fn();
  render(() => createComponent(CropTool, { src: "/art.png", initial, label: "Crop the art", onChange, onSave, onCancel }));
  return { onChange, onSave, onCancel };
}

describe("CropTool", () => {
  it("starts covering the stage once the image is loaded", () => {
    const { onChange } = renderTool();
    expect(screen.getByText("Loading the image…")).toBeTruthy();
    loadImage(image(), 512, 256);
    expect(shown()).toEqual(initialCrop({ width: 512, height: 256 }));
    expect(onChange).toHaveBeenLastCalledWith(shown());
    expect(image().style.width).toBe("200%");
  });

  it("pans with a drag, clamped so the image covers the stage", () => {
    renderTool();
    loadImage(image(), 512, 256);
    fireEvent.pointerDown(stage(), { button: 0, pointerId: 1, clientX: 100, clientY: 100 });
    fireEvent.pointerMove(stage(), { pointerId: 1, clientX: 150, clientY: 130 });
    expect(shown()).toMatchObject({ translate_x: 50, translate_y: 0 });
    fireEvent.pointerMove(stage(), { pointerId: 1, clientX: 400, clientY: 130 });
    expect(shown().translate_x).toBe(128);
    fireEvent.pointerUp(stage(), { pointerId: 1 });
    // Released: further moves do nothing.
    fireEvent.pointerMove(stage(), { pointerId: 1, clientX: 0, clientY: 0 });
    expect(shown().translate_x).toBe(128);
  });

  it("zooms with the wheel around the pointer, with the slider, and with + and −", () => {
    renderTool();
    loadImage(image(), 400, 400);
    // jsdom lays nothing out: the stage's top-left is at (0, 0), its centre at (128, 128).
    fireEvent.wheel(stage(), { deltaY: -300, clientX: 128, clientY: 128 });
    const zoomed = shown();
    expect(zoomed.scale).toBeGreaterThan(1.5);
    expect(zoomed).toMatchObject({ translate_x: 0, translate_y: 0 });
    fireEvent.wheel(stage(), { deltaY: -100, clientX: 228, clientY: 128 });
    expect(shown().translate_x).toBeLessThan(0);
    fireEvent.input(screen.getByRole("slider", { name: "Zoom" }), { target: { value: "3" } });
    expect(shown().scale).toBe(3);
    fireEvent.keyDown(stage(), { key: "-" });
    expect(shown().scale).toBeCloseTo(3 / 1.1, 3);
    fireEvent.keyDown(stage(), { key: "ArrowLeft", shiftKey: true });
    expect(image().style.left).toBe(artPlacement(shown(), { width: 400, height: 400 }).left);
  });

  it("saves exactly the crop it shows, and resets to the covering crop", async () => {
    const { onSave, onCancel } = renderTool();
    loadImage(image(), 300, 600);
    fireEvent.keyDown(stage(), { key: "+" });
    fireEvent.keyDown(stage(), { key: "ArrowDown" });
    const visible = shown();
    fireEvent.click(screen.getByRole("button", { name: "Save crop" }));
    await waitFor(() => expect(onSave).toHaveBeenCalledWith(visible));
    fireEvent.click(screen.getByRole("button", { name: "Reset crop" }));
    expect(shown()).toEqual(initialCrop({ width: 300, height: 600 }));
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(onCancel).toHaveBeenCalled();
  });

  it("re-crops from the stored crop, moved onto its own stage size", () => {
    renderTool({ scale: 2, translate_x: 100, translate_y: 0, stage_size: 512, base_scale: 1.28 });
    loadImage(image(), 400, 400);
    expect(shown()).toEqual({ scale: 2, translate_x: 50, translate_y: 0, stage_size: 256, base_scale: 0.64 });
  });
});

describe("TokenInspector art", () => {
  const art: TokenArt = {
    id: "art-1",
    version: 3,
    created_at: "",
    updated_at: "",
    updated_by: "",
    archived_at: null,
    token_id: "t1",
    image_asset: "a".repeat(64),
    crop: { scale: 1, translate_x: 0, translate_y: 0, stage_size: 256, base_scale: 1 },
  };

  function renderInspector(overrides: { scene_id?: string | null } = {}) {
    const onCrop = vi.fn(async (_crop: Crop) => undefined);
    const onPatch = vi.fn(async () => undefined);
    render(() =>
      createComponent(TokenInspector, {
        sessionId: "sess-1",
        token: token("t1", 1, { name: "Ogre", ...overrides }),
        art,
        players: [],
        folders: [{ folder: { id: "f1", name: "Giants" } as never, depth: 0 }],
        onPatch,
        onArchive: async () => undefined,
        onArt: async () => undefined,
        onCrop,
        onClose: () => undefined,
      }),
    );
    return { onCrop, onPatch };
  }

  it("re-crops existing art and saves the new crop", async () => {
    const { onCrop } = renderInspector();
    fireEvent.click(screen.getByRole("button", { name: "Crop art" }));
    loadImage(image(), 256, 256);
    fireEvent.keyDown(stage(), { key: "+" });
    fireEvent.keyDown(stage(), { key: "ArrowRight" });
    const visible = shown();
    expect(visible).toMatchObject({ translate_x: 4 });
    fireEvent.click(screen.getByRole("button", { name: "Save crop" }));
    await waitFor(() => expect(onCrop).toHaveBeenCalledWith(visible));
    await waitFor(() => expect(screen.queryByRole("application", { name: /Crop area/ })).toBeNull());
  });

  it("renames a token and files a library token in a folder", async () => {
    const { onPatch } = renderInspector({ scene_id: null });
    fireEvent.input(screen.getByLabelText("Name"), { target: { value: "Hill giant" } });
    fireEvent.click(screen.getByRole("button", { name: "Rename" }));
    await waitFor(() => expect(onPatch).toHaveBeenCalledWith({ name: "Hill giant" }));
    fireEvent.change(screen.getByLabelText("Library folder"), { target: { value: "f1" } });
    await waitFor(() => expect(onPatch).toHaveBeenCalledWith({ folder_id: "f1" }));
  });

  it("offers no folder for a token on a scene", () => {
    renderInspector({ scene_id: "s1" });
    expect(screen.queryByLabelText("Library folder")).toBeNull();
  });
});
