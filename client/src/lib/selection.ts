/**
 * Several tokens at once on the table: which ones a selection box catches, and the edits that
 * move, resize, rotate, hide or show a selection (one merge patch per token, queued in order).
 */

import type { OpDraft } from "./authoring";
import type { Token } from "./types";

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The rectangle spanned by two corners, whichever way the pointer went. */
export function rectFromCorners(a: { x: number; y: number }, b: { x: number; y: number }): Rect {
  return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), width: Math.abs(a.x - b.x), height: Math.abs(a.y - b.y) };
}

/** A token's box on the table, in pixels (unrotated). */
export function tokenRect(token: Token, cellPx: number): Rect {
  return { x: token.x ?? 0, y: token.y ?? 0, width: size(token.width) * cellPx, height: size(token.height) * cellPx };
}

/** The ids of the tokens whose box the selection box touches, in the order given. */
export function tokensInBox(tokens: readonly Token[], box: Rect, cellPx: number): string[] {
  return tokens
    .filter((t) => {
      const r = tokenRect(t, cellPx);
      return r.x < box.x + box.width && box.x < r.x + r.width && r.y < box.y + box.height && box.y < r.y + r.height;
    })
    .map((t) => t.id);
}

/** Shift-click: the selection with `id` added, or taken out when it was in. */
export function toggleInSelection(selection: readonly string[], id: string): string[] {
  return selection.includes(id) ? selection.filter((s) => s !== id) : [...selection, id];
}

/** Moves every token of `ids` that may move by (dx, dy) pixels: one `{x, y}` patch each. */
export function moveOps(
  tokens: readonly Token[],
  ids: readonly string[],
  dx: number,
  dy: number,
  canMove: (t: Token) => boolean,
): OpDraft[] {
  if (dx === 0 && dy === 0) return [];
  const wanted = new Set(ids);
  return tokens
    .filter((t) => wanted.has(t.id) && canMove(t))
    .map((t) => ({ op: "update", type: "token", id: t.id, patch: { x: Math.round(t.x + dx), y: Math.round(t.y + dy) } }));
}

/** Sets `hidden` on every token of `ids` that is not already so. */
export function hiddenOps(tokens: readonly Token[], ids: readonly string[], hidden: boolean): OpDraft[] {
  const wanted = new Set(ids);
  return tokens
    .filter((t) => wanted.has(t.id) && t.hidden !== hidden)
    .map((t) => ({ op: "update", type: "token", id: t.id, patch: { hidden } }));
}

/** The smallest size a resize handle makes, in cells, and its step. */
export const SIZE_STEP = 0.5;

/** A size in cells from a length in pixels: whole half cells, at least one half. */
/**
 * A pointer movement on screen (dx, dy) in the frame of a token turned by `degrees`: dragging a
 * turned token's resize handle along its own edges grows it along them.
 */
export function unrotate(dx: number, dy: number, degrees: number): { dx: number; dy: number } {
  const a = (-degrees * Math.PI) / 180;
  const cos = Math.cos(a);
  const sin = Math.sin(a);
  return { dx: dx * cos - dy * sin, dy: dx * sin + dy * cos };
}

export function cellsFromPixels(pixels: number, cellPx: number): number {
  return Math.min(1000, Math.max(SIZE_STEP, Math.round(pixels / cellPx / SIZE_STEP) * SIZE_STEP));
}

/**
 * The rotation (degrees, within the schema's ±360) that points a token's top towards (dx, dy)
 * from its centre, snapped to `snap` degrees (0: free).
 */
export function rotationTowards(dx: number, dy: number, snap = 15): number {
  const degrees = (Math.atan2(dy, dx) * 180) / Math.PI + 90;
  const snapped = snap > 0 ? Math.round(degrees / snap) * snap : Math.round(degrees * 10) / 10;
  const wrapped = ((snapped % 360) + 360) % 360;
  return wrapped === 360 ? 0 : wrapped;
}

function size(value: number | undefined): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : 1;
}
