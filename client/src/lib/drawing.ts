/**
 * The `drawings` and `notes` layers of a scene: what their free-JSON `payload` holds, and the
 * merge patches that change it.
 *
 * Payloads key their items by id in an object, not in an array:
 *
 *   drawings: {"strokes": {"<id>": {"kind", "points": [x0, y0, x1, y1, ...], "color", "width", "at"}}}
 *   notes:    {"notes":   {"<id>": {"x", "y", "text", "at"}}}
 *
 * A JSON Merge Patch (RFC 7396) replaces an array wholesale but merges objects key by key, so
 * keyed items make every edit a small patch that touches one item: `{payload: {strokes: {id:
 * stroke}}}` adds a stroke, `{..: {id: null}}` removes one. Two GMs drawing at the same time add
 * different keys, and the queue's version chain keeps one GM's edits in order. `at` (ms since the
 * epoch) orders strokes bottom to top, ties broken by id: object key order is not relied upon.
 * Coordinates are table pixels (the same space as token `x`/`y`). A payload that holds an array
 * (written by another tool) is read too, and converted to the keyed form by the next edit.
 *
 * The first edit of a scene's drawings (or notes) creates the layer, with the item in its payload.
 */
import type { JsonObject } from "../../../domain/merge-patch";
import type { OpDraft } from "./authoring";
import type { Layer } from "./types";

export const strokeKinds = ["free", "line", "rect", "ellipse"] as const;
export type StrokeKind = (typeof strokeKinds)[number];

export interface Stroke {
  id: string;
  kind: StrokeKind;
  /** Flat x, y pairs in table pixels: every sample of a freehand stroke, two corners of a shape. */
  points: number[];
  color: string;
  width: number;
  at: number;
}

export interface Note {
  id: string;
  x: number;
  y: number;
  text: string;
  at: number;
}

export type LayerKind = "drawings" | "notes";

/** Where new layers of each kind go: drawings under notes (both under the tokens' plane, see TableCanvas). */
export const DEFAULT_Z_INDEX: Record<LayerKind, number> = { drawings: 10, notes: 20 };
export const MAX_NOTE_LENGTH = 2000;

/** A scene's live layers, bottom to top: by `z_index`, then creation, then id. */
export function orderedLayers(layers: Iterable<Layer>, sceneId: string): Layer[] {
  return [...layers]
    .filter((l) => l.scene_id === sceneId && l.archived_at === null)
    .sort(
      (a, b) => (a.z_index ?? 0) - (b.z_index ?? 0) || (a.created_at ?? "").localeCompare(b.created_at ?? "") || a.id.localeCompare(b.id),
    );
}

/**
 * The layer of `kind` new items go to: the top-most one of the scene (several can exist when two
 * GMs created one at the same time offline; all of them are drawn).
 */
export function targetLayer(layers: Iterable<Layer>, sceneId: string, kind: LayerKind): Layer | undefined {
  return orderedLayers(layers, sceneId)
    .filter((l) => l.layer_type === kind)
    .at(-1);
}

/** The strokes of a drawings layer, bottom to top; malformed entries are skipped. */
export function readStrokes(payload: unknown): Stroke[] {
  return readItems(payload, "strokes", toStroke).sort(byTime);
}

/** The notes of a notes layer, oldest first; malformed entries are skipped. */
export function readNotes(payload: unknown): Note[] {
  return readItems(payload, "notes", toNote).sort(byTime);
}

function readItems<T>(payload: unknown, key: string, parse: (id: string, value: unknown) => T | null): T[] {
  const bag = isObject(payload) ? payload[key] : undefined;
  const entries: [string, unknown][] = Array.isArray(bag)
    ? bag.map((item, i) => [isObject(item) && typeof item.id === "string" ? item.id : `item-${i}`, item])
    : isObject(bag)
      ? Object.entries(bag)
      : [];
  return entries.flatMap(([id, value]) => {
    const item = parse(id, value);
    return item ? [item] : [];
  });
}

function toStroke(id: string, value: unknown): Stroke | null {
  if (!isObject(value) || !Array.isArray(value.points)) return null;
  const points = value.points.filter((p): p is number => typeof p === "number" && Number.isFinite(p));
  if (points.length < 2 || points.length % 2 !== 0) return null;
  const kind = strokeKinds.includes(value.kind as StrokeKind) ? (value.kind as StrokeKind) : "free";
  return {
    id,
    kind,
    points,
    color: typeof value.color === "string" && /^#[0-9a-fA-F]{6}$/.test(value.color) ? value.color : "#f0c364",
    width: typeof value.width === "number" && value.width > 0 && value.width <= 64 ? value.width : 3,
    at: typeof value.at === "number" ? value.at : 0,
  };
}

function toNote(id: string, value: unknown): Note | null {
  if (!isObject(value) || typeof value.x !== "number" || typeof value.y !== "number") return null;
  return {
    id,
    x: value.x,
    y: value.y,
    text: typeof value.text === "string" ? value.text : "",
    at: typeof value.at === "number" ? value.at : 0,
  };
}

const byTime = (a: { at: number; id: string }, b: { at: number; id: string }) => a.at - b.at || a.id.localeCompare(b.id);

function strokeData(stroke: Stroke): JsonObject {
  return { kind: stroke.kind, points: [...stroke.points], color: stroke.color, width: stroke.width, at: stroke.at };
}

function noteData(note: Note): JsonObject {
  return { x: note.x, y: note.y, text: note.text, at: note.at };
}

/**
 * The op that writes `items` (id → value, null removes) into the `key` map of the scene's layer
 * of `kind`: a merge patch of that layer, or the layer's creation when the scene has none yet.
 * A layer holding the array form gets the whole map (the array converted), once.
 */
function layerItemsOp(
  layers: Iterable<Layer>,
  sceneId: string,
  kind: LayerKind,
  key: string,
  items: Record<string, JsonObject | null>,
  newId: () => string,
): OpDraft | null {
  const layer = targetLayer(layers, sceneId, kind);
  if (!layer) {
    const added = Object.fromEntries(Object.entries(items).filter((entry): entry is [string, JsonObject] => entry[1] !== null));
    if (Object.keys(added).length === 0) return null;
    return {
      op: "create",
      type: "layer",
      id: newId(),
      data: { scene_id: sceneId, layer_type: kind, payload: { [key]: added }, z_index: DEFAULT_Z_INDEX[kind] },
    };
  }
  if (Object.keys(items).length === 0) return null;
  if (!Array.isArray(layer.payload?.[key])) return { op: "update", type: "layer", id: layer.id, patch: { payload: { [key]: items } } };
  // The array form: the whole map replaces it (merging an object into an array replaces the array).
  const existing: [string, JsonObject][] =
    kind === "drawings"
      ? readStrokes(layer.payload).map((s) => [s.id, strokeData(s)])
      : readNotes(layer.payload).map((n) => [n.id, noteData(n)]);
  const whole: Record<string, JsonObject> = Object.fromEntries(existing);
  for (const [id, value] of Object.entries(items)) {
    if (value === null) delete whole[id];
    else whole[id] = value;
  }
  return { op: "update", type: "layer", id: layer.id, patch: { payload: { [key]: whole } } };
}

/** A finished stroke: one op adding it (creating the scene's drawings layer on first use). */
export function addStrokeOp(layers: Iterable<Layer>, sceneId: string, stroke: Stroke, newId: () => string): OpDraft | null {
  return layerItemsOp(layers, sceneId, "drawings", "strokes", { [stroke.id]: strokeData(stroke) }, newId);
}

/** Erases strokes by id from whichever drawings layers of the scene hold them: one op per layer. */
export function eraseStrokesOps(layers: Iterable<Layer>, sceneId: string, ids: readonly string[]): OpDraft[] {
  return removeItemsOps(layers, sceneId, "drawings", "strokes", ids);
}

/** Adds or edits a note, in the layer that holds it (the whole note is written: small, and its text is what changed). */
export function putNoteOp(layers: Iterable<Layer>, sceneId: string, note: Note, newId: () => string): OpDraft | null {
  const all = [...layers];
  const holder = orderedLayers(all, sceneId).find((l) => l.layer_type === "notes" && readNotes(l.payload).some((n) => n.id === note.id));
  const data = noteData({ ...note, text: note.text.slice(0, MAX_NOTE_LENGTH) });
  return layerItemsOp(holder ? [holder] : all, sceneId, "notes", "notes", { [note.id]: data }, newId);
}

export function deleteNotesOps(layers: Iterable<Layer>, sceneId: string, ids: readonly string[]): OpDraft[] {
  return removeItemsOps(layers, sceneId, "notes", "notes", ids);
}

/** Clears every drawing of the scene: one op per drawings layer that has strokes. */
export function clearStrokesOps(layers: Iterable<Layer>, sceneId: string): OpDraft[] {
  return orderedLayers(layers, sceneId)
    .filter((l) => l.layer_type === "drawings" && readStrokes(l.payload).length > 0)
    .map((l): OpDraft => ({ op: "update", type: "layer", id: l.id, patch: { payload: { strokes: null } } }));
}

/** Removes items by id from every layer of `kind` holding some of them: one op per layer. */
function removeItemsOps(layers: Iterable<Layer>, sceneId: string, kind: LayerKind, key: string, ids: readonly string[]): OpDraft[] {
  const out: OpDraft[] = [];
  for (const layer of orderedLayers(layers, sceneId).filter((l) => l.layer_type === kind)) {
    const held = new Set((kind === "drawings" ? readStrokes(layer.payload) : readNotes(layer.payload)).map((item) => item.id));
    const gone = ids.filter((id) => held.has(id));
    if (gone.length === 0) continue;
    // The layer exists: no id is ever needed for a creation here.
    const op = layerItemsOp([layer], sceneId, kind, key, Object.fromEntries(gone.map((id) => [id, null])), () => layer.id);
    if (op) out.push(op);
  }
  return out;
}

// --- geometry ---------------------------------------------------------------------------------

/** Drops samples closer than `minDistance` to the last kept one (the last sample is always kept). */
export function simplifyPoints(points: readonly number[], minDistance = 2): number[] {
  if (points.length <= 4) return points.map(Math.round);
  const out = [Math.round(points[0] ?? 0), Math.round(points[1] ?? 0)];
  for (let i = 2; i < points.length - 2; i += 2) {
    const x = points[i] ?? 0;
    const y = points[i + 1] ?? 0;
    if (Math.hypot(x - (out[out.length - 2] ?? 0), y - (out[out.length - 1] ?? 0)) >= minDistance) out.push(Math.round(x), Math.round(y));
  }
  out.push(Math.round(points[points.length - 2] ?? 0), Math.round(points[points.length - 1] ?? 0));
  return out;
}

/** The SVG path of a stroke. */
export function strokePath(stroke: Pick<Stroke, "kind" | "points">): string {
  const p = stroke.points;
  const [x0 = 0, y0 = 0] = p;
  const x1 = p[p.length - 2] ?? x0;
  const y1 = p[p.length - 1] ?? y0;
  switch (stroke.kind) {
    case "line":
      return `M ${x0} ${y0} L ${x1} ${y1}`;
    case "rect":
      return `M ${x0} ${y0} L ${x1} ${y0} L ${x1} ${y1} L ${x0} ${y1} Z`;
    case "ellipse": {
      const rx = Math.abs(x1 - x0) / 2;
      const ry = Math.abs(y1 - y0) / 2;
      const cx = (x0 + x1) / 2;
      const cy = (y0 + y1) / 2;
      return `M ${cx - rx} ${cy} A ${rx} ${ry} 0 1 0 ${cx + rx} ${cy} A ${rx} ${ry} 0 1 0 ${cx - rx} ${cy} Z`;
    }
    default: {
      if (p.length === 2) return `M ${x0} ${y0} L ${x0} ${y0}`;
      let d = `M ${x0} ${y0}`;
      for (let i = 2; i < p.length; i += 2) d += ` L ${p[i]} ${p[i + 1]}`;
      return d;
    }
  }
}

/** The top-most stroke passing within `tolerance` pixels (plus half its width) of (x, y), if any. */
export function hitStroke(strokes: readonly Stroke[], x: number, y: number, tolerance = 6): Stroke | undefined {
  for (let i = strokes.length - 1; i >= 0; i--) {
    const stroke = strokes[i];
    if (stroke && distanceToStroke(stroke, x, y) <= tolerance + stroke.width / 2) return stroke;
  }
  return undefined;
}

/** Distance from (x, y) to the drawn outline of a stroke. */
export function distanceToStroke(stroke: Pick<Stroke, "kind" | "points">, x: number, y: number): number {
  const p = stroke.points;
  const [x0 = 0, y0 = 0] = p;
  const x1 = p[p.length - 2] ?? x0;
  const y1 = p[p.length - 1] ?? y0;
  switch (stroke.kind) {
    case "line":
      return segmentDistance(x, y, x0, y0, x1, y1);
    case "rect":
      return Math.min(
        segmentDistance(x, y, x0, y0, x1, y0),
        segmentDistance(x, y, x1, y0, x1, y1),
        segmentDistance(x, y, x1, y1, x0, y1),
        segmentDistance(x, y, x0, y1, x0, y0),
      );
    case "ellipse": {
      const rx = Math.abs(x1 - x0) / 2;
      const ry = Math.abs(y1 - y0) / 2;
      const cx = (x0 + x1) / 2;
      const cy = (y0 + y1) / 2;
      if (rx < 0.5 || ry < 0.5) return segmentDistance(x, y, x0, y0, x1, y1);
      // Approximated by a 48-gon: close enough to pick a stroke under the pointer.
      let best = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 48; i++) {
        const a = (i / 48) * 2 * Math.PI;
        const b = ((i + 1) / 48) * 2 * Math.PI;
        best = Math.min(
          best,
          segmentDistance(x, y, cx + rx * Math.cos(a), cy + ry * Math.sin(a), cx + rx * Math.cos(b), cy + ry * Math.sin(b)),
        );
      }
      return best;
    }
    default: {
      if (p.length === 2) return Math.hypot(x - x0, y - y0);
      let best = Number.POSITIVE_INFINITY;
      for (let i = 0; i + 3 < p.length; i += 2) {
        best = Math.min(best, segmentDistance(x, y, p[i] ?? 0, p[i + 1] ?? 0, p[i + 2] ?? 0, p[i + 3] ?? 0));
      }
      return best;
    }
  }
}

function segmentDistance(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const length2 = dx * dx + dy * dy;
  const t = length2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / length2));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
