import UserRound from "lucide-solid/icons/user-round";
import { createSignal, onCleanup, Show } from "solid-js";
import { DEFAULT_GRID_SIZE } from "../../../domain/grid";
import { cellsFromPixels, rotationTowards, unrotate } from "../lib/selection";
import type { Token, TokenArt } from "../lib/types";
import { assetFileUrl } from "../lib/upload";
import { CroppedArt } from "./CroppedArt";

/** Pixels of one grid cell on a table whose scene gives none (the default grid's): a token of width 1 is one cell wide. */
export const CELL_PX = DEFAULT_GRID_SIZE;
/** A token's size in cells; a token queued but not yet confirmed may lack the server's defaults. */
export function cells(value: number | undefined): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : 1;
}

/** The token's border (styles.css `.token`): its art fills the box inside it. */
const BORDER_PX = 2;

/** A pointer must travel this far before a press becomes a drag (a click selects). */
const DRAG_THRESHOLD_PX = 4;
/** A press held this long without moving opens the token's menu (touch screens have no right button). */
const LONG_PRESS_MS = 550;

/**
 * One token on the table: a real `<button>` named by the token's name, so it is focusable,
 * announced, and found by role. Movable ones (a GM's, or a player's own) follow the pointer while
 * dragged, report each position to `onPreview`, and report the drop once to `onDrop`. Arrow keys
 * move a movable token by a cell; Escape deselects. A shift-click (or Ctrl/⌘) asks to add the
 * token to the selection. With `handles`, the selected token has a resize handle (in half cells)
 * and a rotate handle (15° steps; Shift for free rotation) beside it. `offset` shows the token
 * moved along with another one of the selection being dragged.
 *
 * `zoom` is the table camera's: screen distances are divided by it, so the token follows the
 * pointer at any zoom. `own` marks the viewer's own token (a ring and a badge). A right-click or a
 * long press (touch) opens the token's menu (`onMenu`, with the client point to show it at).
 */
export function TokenPiece(props: {
  sessionId: string;
  token: Token;
  art: TokenArt | undefined;
  movable: boolean;
  /** Map pixels per grid cell (the scene's grid); the default grid's when not given. */
  cellPx?: number;
  /** Where a drag let go at (x, y) lands: the grid snaps it unless `free` (Alt held). */
  snap?: (x: number, y: number, free: boolean) => { x: number; y: number };
  selected: boolean;
  unsaved: boolean;
  offset?: { dx: number; dy: number } | null;
  handles?: boolean;
  own?: boolean;
  /** The camera's zoom (1: screen pixels are table pixels). */
  zoom?: number;
  onMenu?: ((clientX: number, clientY: number) => void) | undefined;
  onSelect: (additive: boolean) => void;
  onDeselect: () => void;
  onPreview: (x: number, y: number) => void;
  onDrop: (x: number, y: number) => void;
  onResize?: (width: number, height: number) => void;
  onRotate?: (rotation: number) => void;
}) {
  const cellPx = () => props.cellPx ?? CELL_PX;
  const [drag, setDrag] = createSignal<{ x: number; y: number } | null>(null);
  const [resizing, setResizing] = createSignal<{ width: number; height: number } | null>(null);
  const [turning, setTurning] = createSignal<number | null>(null);
  let start: { px: number; py: number; x: number; y: number; moved: boolean } | null = null;
  /** The click that follows the end of a drag is not a selection. */
  let swallowClick = false;
  let button: HTMLButtonElement | undefined;
  const zoom = () => (props.zoom && props.zoom > 0 ? props.zoom : 1);
  let longPress: ReturnType<typeof setTimeout> | undefined;
  const stopLongPress = () => clearTimeout(longPress);
  onCleanup(stopLongPress);
  const x = () => drag()?.x ?? props.token.x + (props.offset?.dx ?? 0);
  const y = () => drag()?.y ?? props.token.y + (props.offset?.dy ?? 0);
  const widthCells = () => resizing()?.width ?? cells(props.token.width);
  const heightCells = () => resizing()?.height ?? cells(props.token.height);
  const rotation = () => turning() ?? props.token.rotation ?? 0;
  const box = () => ({
    left: `${x()}px`,
    top: `${y()}px`,
    width: `${widthCells() * cellPx()}px`,
    height: `${heightCells() * cellPx()}px`,
    // No transform at all on an unturned token: a transform per token makes every pan and zoom
    // of the table's camera walk them all (measured with `npm run bench -- client`).
    transform: rotation() !== 0 ? `rotate(${rotation()}deg)` : undefined,
  });

  let pressAt: { x: number; y: number } | null = null;

  function onPointerDown(event: PointerEvent & { currentTarget: HTMLButtonElement }) {
    if (event.button !== 0) return;
    stopLongPress();
    if (props.onMenu && event.pointerType !== "mouse") {
      const { clientX, clientY } = event;
      pressAt = { x: clientX, y: clientY };
      longPress = setTimeout(() => {
        // The press became a menu: no drag, no click.
        start = null;
        setDrag(null);
        swallowClick = true;
        props.onMenu?.(clientX, clientY);
      }, LONG_PRESS_MS);
    }
    if (!props.movable) return;
    event.currentTarget.setPointerCapture?.(event.pointerId);
    start = { px: event.clientX, py: event.clientY, x: props.token.x, y: props.token.y, moved: false };
  }

  function onPointerMove(event: PointerEvent) {
    if (pressAt && Math.abs(event.clientX - pressAt.x) + Math.abs(event.clientY - pressAt.y) >= DRAG_THRESHOLD_PX) {
      stopLongPress();
      pressAt = null;
    }
    if (!start) return;
    const dx = (event.clientX - start.px) / zoom();
    const dy = (event.clientY - start.py) / zoom();
    if (!start.moved && Math.abs(dx * zoom()) + Math.abs(dy * zoom()) < DRAG_THRESHOLD_PX) return;
    start.moved = true;
    const next = { x: Math.round(start.x + dx), y: Math.round(start.y + dy) };
    setDrag(next);
    props.onPreview(next.x, next.y);
  }

  function onPointerUp(event: PointerEvent) {
    stopLongPress();
    pressAt = null;
    const letGo = start?.moved ? drag() : null;
    const dropped = letGo && props.snap ? props.snap(letGo.x, letGo.y, event.altKey) : letGo;
    swallowClick = dropped !== null;
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
      ArrowLeft: [-cellPx(), 0],
      ArrowRight: [cellPx(), 0],
      ArrowUp: [0, -cellPx()],
      ArrowDown: [0, cellPx()],
    };
    const move = step[event.key];
    if (!move) return;
    event.preventDefault();
    props.onDrop(props.token.x + move[0], props.token.y + move[1]);
  }

  // --- handles --------------------------------------------------------------------------------

  let resizeStart: { px: number; py: number; w: number; h: number } | null = null;

  function onResizeDown(event: PointerEvent & { currentTarget: HTMLButtonElement }) {
    if (event.button !== 0) return;
    event.stopPropagation();
    event.currentTarget.setPointerCapture?.(event.pointerId);
    resizeStart = { px: event.clientX, py: event.clientY, w: cells(props.token.width) * cellPx(), h: cells(props.token.height) * cellPx() };
  }

  function onResizeMove(event: PointerEvent) {
    if (!resizeStart) return;
    const { dx, dy } = unrotate(
      (event.clientX - resizeStart.px) / zoom(),
      (event.clientY - resizeStart.py) / zoom(),
      props.token.rotation ?? 0,
    );
    setResizing({
      width: cellsFromPixels(resizeStart.w + dx, cellPx()),
      height: cellsFromPixels(resizeStart.h + dy, cellPx()),
    });
  }

  function onResizeUp() {
    const next = resizing();
    resizeStart = null;
    setResizing(null);
    if (next && (next.width !== cells(props.token.width) || next.height !== cells(props.token.height))) {
      props.onResize?.(next.width, next.height);
    }
  }

  let turningFrom: { cx: number; cy: number } | null = null;

  function onRotateDown(event: PointerEvent & { currentTarget: HTMLButtonElement }) {
    if (event.button !== 0 || !button) return;
    event.stopPropagation();
    event.currentTarget.setPointerCapture?.(event.pointerId);
    const rect = button.getBoundingClientRect();
    turningFrom = { cx: rect.left + rect.width / 2, cy: rect.top + rect.height / 2 };
  }

  function onRotateMove(event: PointerEvent) {
    if (!turningFrom) return;
    setTurning(rotationTowards(event.clientX - turningFrom.cx, event.clientY - turningFrom.cy, event.shiftKey ? 0 : 15));
  }

  function onRotateUp() {
    const next = turning();
    turningFrom = null;
    setTurning(null);
    if (next !== null && next !== (props.token.rotation ?? 0)) props.onRotate?.(next);
  }

  const label = () =>
    [props.token.name, props.token.hidden ? "(hidden)" : "", props.unsaved ? "(not saved yet)" : ""].filter(Boolean).join(" ");

  return (
    <>
      <button
        ref={button}
        type="button"
        class="token"
        classList={{
          "token-hidden": props.token.hidden,
          "token-selected": props.selected,
          "token-movable": props.movable,
          "token-own": props.own === true,
          "token-dragging": drag() !== null || (props.offset ?? null) !== null,
        }}
        aria-label={label()}
        aria-pressed={props.selected}
        data-token-id={props.token.id}
        data-x={props.token.x}
        data-y={props.token.y}
        style={box()}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onPointerCancel={() => {
          stopLongPress();
          start = null;
          setDrag(null);
        }}
        onContextMenu={(event) => {
          if (!props.onMenu) return;
          event.preventDefault();
          stopLongPress();
          props.onMenu(event.clientX, event.clientY);
        }}
        onClick={(event) => {
          if (swallowClick) {
            swallowClick = false;
            return;
          }
          props.onSelect(event.shiftKey || event.ctrlKey || event.metaKey);
        }}
        onKeyDown={onKeyDown}
      >
        <Show when={props.art} fallback={<span class="token-initial">{props.token.name.slice(0, 1).toUpperCase()}</span>}>
          {(art) => (
            <CroppedArt
              src={assetFileUrl(props.sessionId, art().image_asset)}
              crop={art().crop}
              width={widthCells() * cellPx() - 2 * BORDER_PX}
              height={heightCells() * cellPx() - 2 * BORDER_PX}
            />
          )}
        </Show>
        <span class="token-name">{props.token.name}</span>
        <Show when={props.own}>
          <span class="token-own-badge" aria-hidden="true" title="Your token">
            <UserRound />
          </span>
        </Show>
      </button>
      <Show when={props.handles && props.selected && props.movable}>
        <div class="token-frame" style={box()} aria-hidden="true">
          <button
            type="button"
            class="token-handle token-handle-rotate"
            tabIndex={-1}
            aria-label={`Rotate ${props.token.name}`}
            title="Drag to rotate (Shift: free)"
            onPointerDown={onRotateDown}
            onPointerMove={onRotateMove}
            onPointerUp={onRotateUp}
            onPointerCancel={() => {
              turningFrom = null;
              setTurning(null);
            }}
          />
          <button
            type="button"
            class="token-handle token-handle-resize"
            tabIndex={-1}
            aria-label={`Resize ${props.token.name}`}
            title="Drag to resize (half cells)"
            onPointerDown={onResizeDown}
            onPointerMove={onResizeMove}
            onPointerUp={onResizeUp}
            onPointerCancel={() => {
              resizeStart = null;
              setResizing(null);
            }}
          />
          <Show when={resizing()}>
            {(next) => (
              <span class="token-size-readout">
                {next().width}×{next().height}
              </span>
            )}
          </Show>
          <Show when={turning() !== null}>
            <span class="token-size-readout">{rotation()}°</span>
          </Show>
        </div>
      </Show>
    </>
  );
}
