// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor, within } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SceneEditor, type ScenePatch } from "../../client/src/components/SceneEditor";
import { scene } from "./helpers/fixtures";

afterEach(cleanup);

function renderEditor() {
  const onSave = vi.fn<(patch: ScenePatch) => Promise<unknown>>(async () => undefined);
  render(() =>
    createComponent(SceneEditor, {
      scene: scene("s1", 3, { name: "Crypt", grid_size: 64, grid_offset_x: 0, grid_offset_y: 0 }),
      folders: [],
      lockedReason: null,
      onSave,
      onClose: vi.fn(),
    }),
  );
  return { onSave, form: screen.getByRole("form", { name: "Edit scene Crypt" }) };
}

describe("the grid fields of the scene form", () => {
  it("saves typed cell size and offsets with the scene's other changes", async () => {
    const { onSave, form } = renderEditor();
    expect((within(form).getByLabelText("Cell size (map px)") as HTMLInputElement).value).toBe("64");
    fireEvent.input(within(form).getByLabelText("Cell size (map px)"), { target: { value: "100" } });
    fireEvent.input(within(form).getByLabelText("Grid offset x (px)"), { target: { value: "30" } });
    fireEvent.input(within(form).getByLabelText("Grid offset y (px)"), { target: { value: "20.5" } });
    fireEvent.input(within(form).getByLabelText("Name"), { target: { value: "Crypt B" } });
    fireEvent.click(within(form).getByRole("button", { name: "Save scene" }));
    await waitFor(() => expect(onSave).toHaveBeenCalledTimes(1));
    expect(onSave).toHaveBeenCalledWith({ name: "Crypt B", grid_size: 100, grid_offset_x: 30, grid_offset_y: 20.5 });
  });

  it.each([
    ["a cell below 8 px", "Cell size (map px)", "4", "A grid cell is 8 to 1024 map pixels."],
    ["an empty cell size", "Cell size (map px)", "", "A grid cell is 8 to 1024 map pixels."],
    ["an offset of a whole cell", "Grid offset x (px)", "64", "A grid offset is at least 0 and less than one cell."],
    ["a negative offset", "Grid offset y (px)", "-1", "A grid offset is at least 0 and less than one cell."],
  ])("refuses %s without saving", async (_name, label, value, message) => {
    const { onSave, form } = renderEditor();
    fireEvent.input(within(form).getByLabelText(label), { target: { value } });
    fireEvent.click(within(form).getByRole("button", { name: "Save scene" }));
    expect((await within(form).findByRole("alert")).textContent).toBe(message);
    expect(onSave).not.toHaveBeenCalled();
  });
});
