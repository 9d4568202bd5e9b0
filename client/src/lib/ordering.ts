/**
 * Manual ordering of scenes and folders by their `sort` field. A move gives the moved item a
 * fractional sort value between its new neighbours, so one drag is one update. Only when the
 * neighbours leave no room (equal values, e.g. items created with the default 0, or values so
 * close that their midpoint rounds onto one of them) are the siblings renumbered 1, 2, 3, ...
 */

export interface Sortable {
  id: string;
  sort: number;
  name?: string;
}

export interface SortUpdate {
  id: string;
  sort: number;
}

/** Where a moved item lands: before or after a sibling; `null` is the end of the list. */
export type DropTarget = { id: string; position: "before" | "after" } | null;

/** The display order: `sort`, then name, then id, so that equal sort values still order stably. */
export function compareSortable(a: Sortable, b: Sortable): number {
  return a.sort - b.sort || (a.name ?? "").localeCompare(b.name ?? "") || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export function sortSiblings<T extends Sortable>(items: readonly T[]): T[] {
  return [...items].sort(compareSortable);
}

/** A sort value strictly between two neighbours (either may be missing), or null when there is no room. */
export function sortBetween(before: number | undefined, after: number | undefined): number | null {
  if (before === undefined && after === undefined) return 0;
  if (before === undefined) return after === undefined ? 0 : after - 1;
  if (after === undefined) return before + 1;
  if (!(before < after)) return null;
  const middle = before + (after - before) / 2;
  return middle > before && middle < after && Number.isFinite(middle) ? middle : null;
}

/** The sort value that puts a new item at the end of `siblings`. */
export function sortAtEnd(siblings: readonly Sortable[]): number {
  let last: number | undefined;
  for (const s of siblings) if (last === undefined || s.sort > last) last = s.sort;
  return last === undefined ? 0 : Math.floor(last) + 1;
}

/**
 * The sort updates that move `movedId` to `target` among `siblings` (the destination's items in
 * display order; the moved item is among them when it stays in the same parent). Empty when the
 * item would land where it already is. Otherwise the moved item's update comes first; a
 * renumbering adds updates for the siblings whose value changes.
 */
export function planMove(siblings: readonly Sortable[], movedId: string, target: DropTarget): SortUpdate[] {
  const ordered = sortSiblings(siblings);
  const currentIndex = ordered.findIndex((s) => s.id === movedId);
  const others = ordered.filter((s) => s.id !== movedId);
  let index = others.length;
  if (target && target.id !== movedId) {
    const at = others.findIndex((s) => s.id === target.id);
    if (at >= 0) index = target.position === "after" ? at + 1 : at;
  } else if (target && currentIndex >= 0) {
    return [];
  }
  if (currentIndex >= 0 && currentIndex === index) return [];

  const sort = sortBetween(others[index - 1]?.sort, others[index]?.sort);
  if (sort !== null) return [{ id: movedId, sort }];

  const order = [...others.slice(0, index).map((s) => s.id), movedId, ...others.slice(index).map((s) => s.id)];
  const previous = new Map(others.map((s) => [s.id, s.sort]));
  const updates: SortUpdate[] = [{ id: movedId, sort: index + 1 }];
  order.forEach((id, i) => {
    if (id !== movedId && previous.get(id) !== i + 1) updates.push({ id, sort: i + 1 });
  });
  return updates;
}

/** The neighbour a keyboard move (up or down by one) lands next to, or null at either end. */
export function keyboardTarget(siblings: readonly Sortable[], id: string, direction: -1 | 1): DropTarget {
  const ordered = sortSiblings(siblings);
  const index = ordered.findIndex((s) => s.id === id);
  if (index < 0) return null;
  const neighbour = ordered[index + direction];
  if (!neighbour) return null;
  return { id: neighbour.id, position: direction < 0 ? "before" : "after" };
}
