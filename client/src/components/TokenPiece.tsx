import { createSignal, Show } from "solid-js";
import type { Token, TokenArt } from "../lib/api";
import { assetFileUrl } from "../lib/upload";

/** Pixels of one grid cell on the table: a token of width 1 is one cell wide. */
export const CELL_PX = 64;
/** A token's size in cells; a token queued but not yet confirmed may lack the server's defaults. */
export function cells(value: number | undefined): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : 1;
}

/** A pointer must travel this far before a press becomes a drag (a click selects). */
const DRAG_THRESHOLD_PX = 4;

/**
 * One token on the table: a real `<button>` named by the token's name, so it is focusable,
 * announced, and found by role. Movable ones (a GM's, or a player's own) follow the pointer while
 * dragged, report each position to `onPreview`, and report the drop once to `onDrop`. Arrow keys
 * move a movable token by a cell; Escape deselects.
 */
export function TokenPiece(props: {
  sessionId: string;
  token: Token;
  art: TokenArt | undefined;
  movable: boolean;
  selected: boolean;
  unsaved: boolean;
  onSelect: () => void;
  onDeselect: () => void;
  onPreview: (x: number, y: number) => void;
  onDrop: (x: number, y: number) => void;
}) {
  const [drag, setDrag] = createSignal<{ x: number; y: number } | null>(null);
  let start: { px: number; py: number; x: number; y: number; moved: boolean } | null = null;
  const x = () => drag()?.x ?? props.token.x;
  const y = () => drag()?.y ?? props.token.y;

  function onPointerDown(event: PointerEvent & { currentTarget: HTMLButtonElement }) {
    if (!props.movable || event.button !== 0) return;
    event.currentTarget.setPointerCapture?.(event.pointerId);
    start = { px: event.clientX, py: event.clientY, x: props.token.x, y: props.token.y, moved: false };
  }

  function onPointerMove(event: PointerEvent) {
    if (!start) return;
    const dx = event.clientX - start.px;
    const dy = event.clientY - start.py;
    if (!start.moved && Math.abs(dx) + Math.abs(dy) < DRAG_THRESHOLD_PX) return;
    start.moved = true;
    const next = { x: Math.round(start.x + dx), y: Math.round(start.y + dy) };
    setDrag(next);
    props.onPreview(next.x, next.y);
  }

  function onPointerUp() {
    const dropped = start?.moved ? drag() : null;
    start = null;
    if (dropped) props.onDrop(dropped.x, dropped.y);
    setDrag(null);
  }

  function onKeyDown(event: KeyboardEvent) {
    if (event.key === "Escape") {
      props.onDeselect();
      return;
    }
    if (!props.movable) return;
    const step: Record<string, [number, number]> = {
      ArrowLeft: [-CELL_PX, 0],
      ArrowRight: [CELL_PX, 0],
      ArrowUp: [0, -CELL_PX],
      ArrowDown: [0, CELL_PX],
    };
    const move = step[event.key];
    if (!move) return;
    event.preventDefault();
    props.onDrop(props.token.x + move[0], props.token.y + move[1]);
  }

  const label = () =>
    [props.token.name, props.token.hidden ? "(hidden)" : "", props.unsaved ? "(not saved yet)" : ""].filter(Boolean).join(" ");

  return (
    <button
      type="button"
      class="token"
      classList={{
        "token-hidden": props.token.hidden,
        "token-selected": props.selected,
        "token-movable": props.movable,
        "token-dragging": drag() !== null,
      }}
      aria-label={label()}
      aria-pressed={props.selected}
      data-token-id={props.token.id}
      data-x={props.token.x}
      data-y={props.token.y}
      style={{
        left: `${x()}px`,
        top: `${y()}px`,
        width: `${cells(props.token.width) * CELL_PX}px`,
        height: `${cells(props.token.height) * CELL_PX}px`,
        transform: `rotate(${props.token.rotation ?? 0}deg)`,
      }}
      onPointerDown={onPointerDown}
      onPointerMove={onPointerMove}
      onPointerUp={onPointerUp}
      onPointerCancel={() => {
        start = null;
        setDrag(null);
      }}
      onClick={() => props.onSelect()}
      onKeyDown={onKeyDown}
    >
      <Show when={props.art} fallback={<span class="token-initial">{props.token.name.slice(0, 1).toUpperCase()}</span>}>
        {(art) => <img class="token-art" src={assetFileUrl(props.sessionId, art().image_asset)} alt="" draggable={false} />}
      </Show>
      <span class="token-name">{props.token.name}</span>
    </button>
  );
}
