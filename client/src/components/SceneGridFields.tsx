import { createSignal } from "solid-js";
import { GRID_SIZE_MAX, GRID_SIZE_MIN, gridOf } from "../../../domain/grid";
import type { Scene } from "../lib/types";

export type GridFieldsPatch = Partial<Pick<Scene, "grid_size" | "grid_offset_x" | "grid_offset_y">>;

/** The grid's typed values in the scene form: drafts from the scene as the form opens. */
export function createGridFields(scene: Scene) {
  const start = gridOf(scene);
  const [size, setSize] = createSignal(String(start.size));
  const [offsetX, setOffsetX] = createSignal(String(start.offsetX));
  const [offsetY, setOffsetY] = createSignal(String(start.offsetY));
  return {
    size,
    setSize,
    offsetX,
    setOffsetX,
    offsetY,
    setOffsetY,
    /** The changed grid fields, or why the typed values cannot be saved. */
    patch(): GridFieldsPatch | string {
      const s = Number(size());
      const x = Number(offsetX());
      const y = Number(offsetY());
      if (size().trim() === "" || !(Number.isFinite(s) && s >= GRID_SIZE_MIN && s <= GRID_SIZE_MAX)) {
        return `A grid cell is ${GRID_SIZE_MIN} to ${GRID_SIZE_MAX} map pixels.`;
      }
      for (const [text, value] of [
        [offsetX(), x],
        [offsetY(), y],
      ] as const) {
        if (text.trim() === "" || !(Number.isFinite(value) && value >= 0 && value < s)) {
          return "A grid offset is at least 0 and less than one cell.";
        }
      }
      const patch: GridFieldsPatch = {};
      if (s !== start.size) patch.grid_size = s;
      if (x !== start.offsetX) patch.grid_offset_x = x;
      if (y !== start.offsetY) patch.grid_offset_y = y;
      return patch;
    },
  };
}

/**
 * The grid's fields of the scene form: the size of one cell in map pixels and where the lines
 * start. Most GMs fit them on the table (the "Fit grid" tool); these are for exact values.
 */
export function GridFields(props: { fields: ReturnType<typeof createGridFields>; sceneId: string }) {
  const id = (field: string) => `scene-${field}-${props.sceneId}`;
  // No min/max on the inputs: the form's own check names the rule (the browser's would block the submit silently in places).
  const number = (field: string, label: string, value: () => string, set: (v: string) => void) => (
    <div class="field">
      <label for={id(field)}>{label}</label>
      <input
        id={id(field)}
        type="number"
        step="any"
        inputMode="decimal"
        value={value()}
        onInput={(event) => set(event.currentTarget.value)}
      />
    </div>
  );
  return (
    <div class="field-grid" data-testid="scene-grid-fields">
      {number("grid-size", "Cell size (map px)", props.fields.size, props.fields.setSize)}
      {number("grid-offset-x", "Grid offset x (px)", props.fields.offsetX, props.fields.setOffsetX)}
      {number("grid-offset-y", "Grid offset y (px)", props.fields.offsetY, props.fields.setOffsetY)}
    </div>
  );
}
