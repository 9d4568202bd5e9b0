import Circle from "lucide-solid/icons/circle";
import Eraser from "lucide-solid/icons/eraser";
import Grid3x3 from "lucide-solid/icons/grid-3x3";
import LineSquiggle from "lucide-solid/icons/line-squiggle";
import MousePointer2 from "lucide-solid/icons/mouse-pointer-2";
import Pencil from "lucide-solid/icons/pencil";
import RulerIcon from "lucide-solid/icons/ruler";
import Slash from "lucide-solid/icons/slash";
import Square from "lucide-solid/icons/square";
import StickyNote from "lucide-solid/icons/sticky-note";
import { createSignal, For, type JSX, onCleanup, Show } from "solid-js";
import type { StrokeKind } from "../lib/drawing";

export type LayerTool = "select" | "draw" | "note" | "erase" | "ruler" | "grid";

export const DRAWING_COLORS = [
  { name: "Brass", value: "#f0c364" },
  { name: "Ember", value: "#e0664f" },
  { name: "Sky", value: "#7fb4d9" },
  { name: "Moss", value: "#8fd694" },
  { name: "Parchment", value: "#ece3cf" },
  { name: "Ink", value: "#1b1b1b" },
] as const;

export const DRAWING_WIDTHS = [2, 4, 8, 16] as const;

const tools: { tool: LayerTool; label: string; hint: string; icon: typeof Pencil }[] = [
  {
    tool: "select",
    label: "Select",
    hint: "Select and move tokens; drag empty table to pan, Shift-drag to select several",
    icon: MousePointer2,
  },
  { tool: "draw", label: "Draw", hint: "Draw on the table: players see drawings", icon: Pencil },
  { tool: "note", label: "Note", hint: "Pin a note: only GMs see notes", icon: StickyNote },
  { tool: "erase", label: "Erase", hint: "Click or drag over drawings (or click a note) to erase", icon: Eraser },
  {
    tool: "ruler",
    label: "Measure",
    hint: "Drag on the table to measure a distance (only you see it)",
    icon: RulerIcon,
  },
  { tool: "grid", label: "Fit grid", hint: "Drag a box over one square of the map to fit the grid to it", icon: Grid3x3 },
];

const shapes: { kind: StrokeKind; label: string; icon: typeof Pencil }[] = [
  { kind: "free", label: "Freehand", icon: LineSquiggle },
  { kind: "line", label: "Line", icon: Slash },
  { kind: "rect", label: "Rectangle", icon: Square },
  { kind: "ellipse", label: "Ellipse", icon: Circle },
];

export interface DrawingStyle {
  kind: StrokeKind;
  color: string;
  width: number;
}

/**
 * The GM's tools, floating over the table: what a press on the table does, and how drawings look.
 * `children` are more tools (the game modules', e.g. the fog brushes; a ruler), after a divider.
 */
export function LayerToolbar(props: {
  children?: JSX.Element;
  tool: LayerTool;
  style: DrawingStyle;
  hasDrawings: boolean;
  onTool: (tool: LayerTool) => void;
  onStyle: (style: DrawingStyle) => void;
  onClearDrawings: () => void;
}) {
  const [confirming, setConfirming] = createSignal(false);
  // Escape puts the drawing, note, eraser, ruler or grid-fit tool down (not while typing, e.g. a note's text).
  const onKey = (event: KeyboardEvent) => {
    if (event.key !== "Escape" || props.tool === "select") return;
    const target = event.target;
    if (target instanceof Element && target.closest("input, textarea, select, [contenteditable='true']")) return;
    props.onTool("select");
  };
  window.addEventListener("keydown", onKey);
  onCleanup(() => window.removeEventListener("keydown", onKey));

  return (
    <div class="layer-toolbar" role="toolbar" aria-label="Table tools">
      <div class="tool-group">
        <For each={tools}>
          {(entry) => (
            <button
              type="button"
              class="button-small tool-button"
              classList={{ "button-quiet": props.tool !== entry.tool }}
              aria-pressed={props.tool === entry.tool}
              aria-label={entry.label}
              title={entry.hint}
              onClick={() => props.onTool(entry.tool)}
            >
              <entry.icon aria-hidden={true} />
              <span class="tool-label">{entry.label}</span>
            </button>
          )}
        </For>
      </div>
      <Show when={props.tool === "draw"}>
        <fieldset class="tool-group">
          <legend class="visually-hidden">Shape</legend>
          <For each={shapes}>
            {(shape) => (
              <button
                type="button"
                class="button-small tool-button"
                classList={{ "button-quiet": props.style.kind !== shape.kind }}
                aria-pressed={props.style.kind === shape.kind}
                aria-label={shape.label}
                title={shape.label}
                onClick={() => props.onStyle({ ...props.style, kind: shape.kind })}
              >
                <shape.icon aria-hidden={true} />
              </button>
            )}
          </For>
        </fieldset>
        <fieldset class="tool-group">
          <legend class="visually-hidden">Colour</legend>
          <For each={DRAWING_COLORS}>
            {(color) => (
              <button
                type="button"
                class="color-swatch"
                classList={{ chosen: props.style.color === color.value }}
                style={{ background: color.value }}
                aria-label={`Colour ${color.name}`}
                aria-pressed={props.style.color === color.value}
                onClick={() => props.onStyle({ ...props.style, color: color.value })}
              />
            )}
          </For>
        </fieldset>
        <label class="toggle">
          Width{" "}
          <select
            aria-label="Line width"
            value={String(props.style.width)}
            onChange={(event) => props.onStyle({ ...props.style, width: Number(event.currentTarget.value) })}
          >
            <For each={DRAWING_WIDTHS}>{(width) => <option value={String(width)}>{width} px</option>}</For>
          </select>
        </label>
      </Show>
      <Show when={props.hasDrawings}>
        <Show
          when={confirming()}
          fallback={
            <button type="button" class="button-small button-quiet" onClick={() => setConfirming(true)}>
              Clear drawings
            </button>
          }
        >
          <span class="confirm">
            Clear every drawing of this scene?{" "}
            <button
              type="button"
              class="button-small button-danger-inline"
              onClick={() => {
                setConfirming(false);
                props.onClearDrawings();
              }}
            >
              Clear
            </button>{" "}
            <button type="button" class="button-small button-quiet" onClick={() => setConfirming(false)}>
              Keep
            </button>
          </span>
        </Show>
      </Show>
      <Show when={props.children}>
        <div class="tool-group tool-group-modules">{props.children}</div>
      </Show>
    </div>
  );
}
