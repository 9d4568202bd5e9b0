import { createMemo, createSignal, Show } from "solid-js";
import "./grid.css";
import { cellAt, cellCenter, distanceInCells, formatDistance, gridOf } from "../../../domain/grid";
import type { Scene } from "../lib/types";

/**
 * The ruler: drag from one cell to another to read the distance in cells and in the scene's units
 * ("6 cells · 30 ft"). Cells are counted as Owlbear Rodeo and the 5e rule do: a diagonal step is
 * one cell. The line runs between the two cells' centres. It is the user's own (never saved or
 * sent) and stays shown until the next drag. `toPage` turns a pointer's screen position into map
 * pixels.
 */
export function Ruler(props: { scene: Scene; toPage: (clientX: number, clientY: number) => { x: number; y: number } }) {
  const [ends, setEnds] = createSignal<{ a: { x: number; y: number }; b: { x: number; y: number } } | null>(null);
  let pointer: number | null = null;
  const grid = createMemo(() => gridOf(props.scene));

  const measured = createMemo(() => {
    const e = ends();
    if (!e) return null;
    const g = grid();
    const from = cellCenter(g, cellAt(g, e.a.x, e.a.y));
    const to = cellCenter(g, cellAt(g, e.b.x, e.b.y));
    return { from, to, label: formatDistance(g, distanceInCells(g, e.a, e.b)) };
  });

  function onDown(event: PointerEvent & { currentTarget: HTMLDivElement }) {
    if (event.button !== 0) return;
    event.currentTarget.setPointerCapture?.(event.pointerId);
    pointer = event.pointerId;
    const at = props.toPage(event.clientX, event.clientY);
    setEnds({ a: at, b: at });
  }

  function onMove(event: PointerEvent) {
    const e = ends();
    if (pointer !== event.pointerId || !e) return;
    setEnds({ a: e.a, b: props.toPage(event.clientX, event.clientY) });
  }

  return (
    <>
      <div
        class="ruler-input"
        data-testid="ruler-input"
        aria-hidden="true"
        onPointerDown={onDown}
        onPointerMove={onMove}
        onPointerUp={(event) => {
          if (pointer === event.pointerId) pointer = null;
        }}
        onPointerCancel={() => {
          pointer = null;
          setEnds(null);
        }}
      />
      <Show when={measured()}>
        {(m) => (
          <>
            <svg class="ruler-line" aria-hidden="true">
              <line x1={m().from.x} y1={m().from.y} x2={m().to.x} y2={m().to.y} />
              <circle cx={m().from.x} cy={m().from.y} r="4" />
              <circle cx={m().to.x} cy={m().to.y} r="4" />
            </svg>
            <output class="ruler-label" style={{ left: `${m().to.x}px`, top: `${m().to.y}px` }} aria-live="polite">
              {m().label}
            </output>
          </>
        )}
      </Show>
    </>
  );
}
