import { createSignal, Show } from "solid-js";
import { Portal } from "solid-js/web";
import "./grid.css";
import { fitGridFromBox, type GridPatch } from "../../../domain/grid";
import type { Scene } from "../lib/types";

/**
 * The GM fits the scene's grid to the map by dragging a box over one square of it: the box's side
 * becomes the cell size, its corner the grid's offset (domain/grid.ts `fitGridFromBox`). One drag
 * is one saved change (`onFit`); a box too small or too large to be a cell says so and saves
 * nothing. It covers the table while chosen; `toPage` turns a pointer's screen position into map
 * pixels (the table's camera decides how). Its hint goes into `hintMount` when given (the table's
 * viewport, so it stays in view whatever the camera), else beside the box.
 */
export function GridFitTool(props: {
  scene: Scene;
  toPage: (clientX: number, clientY: number) => { x: number; y: number };
  onFit: (patch: GridPatch) => void;
  hintMount?: HTMLElement | undefined;
}) {
  const [start, setStart] = createSignal<{ x: number; y: number } | null>(null);
  const [end, setEnd] = createSignal<{ x: number; y: number } | null>(null);
  const [message, setMessage] = createSignal("Drag a box over one square of the map.");
  let pointer: number | null = null;

  const box = () => {
    const a = start();
    const b = end();
    if (!a || !b) return null;
    // Cells are square: the box shows the square the grid will get.
    const side = (Math.abs(b.x - a.x) + Math.abs(b.y - a.y)) / 2;
    return { x: b.x < a.x ? a.x - side : a.x, y: b.y < a.y ? a.y - side : a.y, side, width: b.x - a.x, height: b.y - a.y };
  };

  function onDown(event: PointerEvent & { currentTarget: HTMLDivElement }) {
    if (event.button !== 0) return;
    event.currentTarget.setPointerCapture?.(event.pointerId);
    pointer = event.pointerId;
    const at = props.toPage(event.clientX, event.clientY);
    setStart(at);
    setEnd(at);
  }

  function onMove(event: PointerEvent) {
    if (pointer !== event.pointerId) return;
    setEnd(props.toPage(event.clientX, event.clientY));
  }

  function onUp(event: PointerEvent) {
    if (pointer !== event.pointerId) return;
    pointer = null;
    const a = start();
    const b = props.toPage(event.clientX, event.clientY);
    setStart(null);
    setEnd(null);
    if (!a) return;
    const patch = fitGridFromBox({ x: a.x, y: a.y, width: b.x - a.x, height: b.y - a.y });
    if (!patch) {
      setMessage("That box is too small or too large for one square: drag over exactly one square of the map.");
      return;
    }
    setMessage(`Grid fitted: ${patch.grid_size}-px squares starting at ${patch.grid_offset_x}, ${patch.grid_offset_y}.`);
    props.onFit(patch);
  }

  return (
    <>
      <div
        class="grid-fit-input"
        data-testid="grid-fit-input"
        aria-hidden="true"
        onPointerDown={onDown}
        onPointerMove={onMove}
        onPointerUp={onUp}
        onPointerCancel={() => {
          pointer = null;
          setStart(null);
          setEnd(null);
        }}
      />
      <Show when={box()}>
        {(b) => (
          <div
            class="grid-fit-box"
            aria-hidden="true"
            style={{ left: `${b().x}px`, top: `${b().y}px`, width: `${b().side}px`, height: `${b().side}px` }}
          >
            <span class="grid-fit-readout">{Math.round(b().side * 10) / 10} px</span>
          </div>
        )}
      </Show>
      <Show
        when={props.hintMount}
        fallback={
          <p class="grid-tool-hint" role="status">
            {message()}
          </p>
        }
      >
        {(mount) => (
          <Portal mount={mount()}>
            <p class="grid-tool-hint grid-tool-hint-floating" role="status">
              {message()}
            </p>
          </Portal>
        )}
      </Show>
    </>
  );
}
