/**
 * Editing a fog mask, as pure functions shared by the web app, the tests and the benchmark.
 *
 * A `Mask` is a working set over one fog's stored chunks: a chunk is decoded the first time a
 * shape touches it, copied before its first change, and at the end `changes()` lists only the
 * chunks whose cells differ from what was stored. `fogOps` turns that into the ops of one batch:
 * a create (with the deterministic `chunkId`) for a chunk no one painted yet, a merge patch
 * `{bits}` for a stored one. A stroke that changes nothing yields no op.
 *
 * Shapes are in map pixels (the fog's `cell_px` a cell, from the map's top left). A cell belongs
 * to a shape when its centre does; a brush also always takes the cells under its points, so a
 * click with a small brush still paints. Cells outside the mask (`width_px` × `height_px`) are
 * never painted, so the edge chunks keep their outer cells hidden.
 */
import type { FogChunkFields, FogFields } from "./domain";
import { chunkId, fogIdFor } from "./ids";
import { CELLS_PER_CHUNK, CHUNK_CELLS, type ChunkCells, decodeChunk, encodeChunk } from "./mask";

export interface Point {
  x: number;
  y: number;
}

export type FogShape =
  /** A polyline of points (one point: a dab) swept by a disc of `radius` px. */
  | { kind: "brush"; points: readonly Point[]; radius: number }
  /** The rectangle with these two opposite corners. */
  | { kind: "rect"; from: Point; to: Point }
  /** The ellipse inscribed in the rectangle with these two opposite corners. */
  | { kind: "ellipse"; from: Point; to: Point }
  /** A closed polygon (even-odd rule), at least three points. */
  | { kind: "polygon"; points: readonly Point[] }
  /** The whole mask. */
  | { kind: "all" };

export type FogMode = "reveal" | "hide";

export type FogGeometry = Pick<FogFields, "cell_px" | "width_px" | "height_px">;

/** A fog as the ops need it: its id, scene and geometry. */
export type FogRef = FogGeometry & { id: string; scene_id: string };

/** The cell grid of a fog: `cols` × `rows` cells in `chunksX` × `chunksY` chunks. */
export interface Grid {
  cellPx: number;
  cols: number;
  rows: number;
  chunksX: number;
  chunksY: number;
}

export function gridOf(fog: FogGeometry): Grid {
  const cols = Math.ceil(fog.width_px / fog.cell_px);
  const rows = Math.ceil(fog.height_px / fog.cell_px);
  return { cellPx: fog.cell_px, cols, rows, chunksX: Math.ceil(cols / CHUNK_CELLS), chunksY: Math.ceil(rows / CHUNK_CELLS) };
}

/** A stored chunk as the mask reads it. */
export interface StoredChunk {
  id: string;
  cx: number;
  cy: number;
  bits: string;
}

/** A chunk whose cells changed: `id` is the stored chunk's, or null for one to create. */
export interface ChunkChange {
  cx: number;
  cy: number;
  id: string | null;
  bits: string;
}

export type FogChunkOp = { op: "create"; id: string; data: FogChunkFields } | { op: "update"; id: string; data: { bits: string } };

type Entity = Readonly<Record<string, unknown>>;

const isLive = (e: Entity) => e.archived_at === null || e.archived_at === undefined;

/**
 * The fog of a scene among `fogs` (entities of type `fog`): the live one with the id the app
 * gives it, else the oldest. Several can exist only if written by hand or imported twice.
 */
export function fogOfScene<T extends Entity>(fogs: Iterable<T>, sceneId: string): T | undefined {
  let best: T | undefined;
  const preferred = fogIdFor(sceneId);
  for (const fog of fogs) {
    if (fog.scene_id !== sceneId || !isLive(fog)) continue;
    if (fog.id === preferred) return fog;
    if (
      !best ||
      String(fog.created_at) < String(best.created_at) ||
      (fog.created_at === best.created_at && String(fog.id) < String(best.id))
    )
      best = fog;
  }
  return best;
}

/**
 * The live chunks of a fog among `entities` (of type `fog_chunk`), one per square: where two
 * name the same square (written by hand), the one with the deterministic id, else the smallest id.
 */
export function chunksOfFog(fogId: string, entities: Iterable<Entity>): StoredChunk[] {
  const bySquare = new Map<string, StoredChunk>();
  for (const e of entities) {
    if (e.fog_id !== fogId || !isLive(e)) continue;
    const { id, cx, cy, bits } = e;
    if (typeof id !== "string" || typeof cx !== "number" || typeof cy !== "number" || typeof bits !== "string") continue;
    const key = `${cx},${cy}`;
    const held = bySquare.get(key);
    const own = chunkId(fogId, cx, cy);
    if (!held || (held.id !== own && (id === own || id < held.id))) bySquare.set(key, { id, cx, cy, bits });
  }
  return [...bySquare.values()];
}

export function countRevealed(cells: ChunkCells): number {
  let n = 0;
  for (const c of cells) n += c;
  return n;
}

interface Slot {
  cx: number;
  cy: number;
  stored: StoredChunk | null;
  /** Decoded on first use. */
  cells: ChunkCells | null;
  /** The cells before the first change; null while unchanged. */
  before: ChunkCells | null;
}

const finitePoint = (p: Point) => Number.isFinite(p.x) && Number.isFinite(p.y);

/** Squared distance from (x, y) to the segment a–b. */
function distanceSq(x: number, y: number, a: Point, b: Point): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const lengthSq = dx * dx + dy * dy;
  const t = lengthSq === 0 ? 0 : Math.min(1, Math.max(0, ((x - a.x) * dx + (y - a.y) * dy) / lengthSq));
  const px = a.x + t * dx - x;
  const py = a.y + t * dy - y;
  return px * px + py * py;
}

export class Mask {
  readonly grid: Grid;
  readonly #slots = new Map<number, Slot>();

  /** Chunks outside the grid are ignored; of two for one square, the first is kept. */
  constructor(fog: FogGeometry, chunks: Iterable<StoredChunk> = []) {
    this.grid = gridOf(fog);
    for (const chunk of chunks) {
      if (chunk.cx < 0 || chunk.cy < 0 || chunk.cx >= this.grid.chunksX || chunk.cy >= this.grid.chunksY) continue;
      const key = this.#key(chunk.cx, chunk.cy);
      if (!this.#slots.has(key)) this.#slots.set(key, { cx: chunk.cx, cy: chunk.cy, stored: chunk, cells: null, before: null });
    }
  }

  #key(cx: number, cy: number): number {
    return cy * this.grid.chunksX + cx;
  }

  #cells(slot: Slot): ChunkCells {
    slot.cells ??= (slot.stored && decodeChunk(slot.stored.bits)) ?? new Uint8Array(CELLS_PER_CHUNK);
    return slot.cells;
  }

  isRevealed(col: number, row: number): boolean {
    if (col < 0 || row < 0 || col >= this.grid.cols || row >= this.grid.rows) return false;
    const slot = this.#slots.get(this.#key(Math.floor(col / CHUNK_CELLS), Math.floor(row / CHUNK_CELLS)));
    return slot ? this.#cells(slot)[(row % CHUNK_CELLS) * CHUNK_CELLS + (col % CHUNK_CELLS)] === 1 : false;
  }

  /** Revealed cells of the whole mask. */
  revealedCount(): number {
    let n = 0;
    for (const slot of this.#slots.values()) n += countRevealed(this.#cells(slot));
    return n;
  }

  /** Paints a shape; returns how many cells changed. */
  paint(shape: FogShape, mode: FogMode): number {
    const value = mode === "reveal" ? 1 : 0;
    switch (shape.kind) {
      case "all":
        return this.#paintRows(0, this.grid.rows - 1, () => [[0, this.grid.cols - 1]], value);
      case "rect":
        return this.#paintRect(shape.from, shape.to, value);
      case "ellipse":
        return this.#paintEllipse(shape.from, shape.to, value);
      case "polygon":
        return this.#paintPolygon(shape.points, value);
      case "brush":
        return this.#paintBrush(shape.points, shape.radius, value);
    }
  }

  /** The chunks whose cells differ from what was stored, in row-major chunk order. */
  changes(): ChunkChange[] {
    const out: ChunkChange[] = [];
    for (const slot of this.#slots.values()) {
      if (!slot.before || !slot.cells) continue;
      if (sameCells(slot.before, slot.cells)) continue;
      const bits = encodeChunk(slot.cells);
      if (slot.stored?.bits === bits) continue;
      out.push({ cx: slot.cx, cy: slot.cy, id: slot.stored?.id ?? null, bits });
    }
    return out.sort((a, b) => a.cy - b.cy || a.cx - b.cx);
  }

  // --- shapes as spans of cells per row ------------------------------------------------------

  /** Centre of cell `i` along an axis, in px. */
  #centre(i: number): number {
    return (i + 0.5) * this.grid.cellPx;
  }

  /** The first and last cell index whose centre lies in [lo, hi] px. */
  #cellRange(lo: number, hi: number): [number, number] {
    return [Math.ceil(lo / this.grid.cellPx - 0.5), Math.floor(hi / this.grid.cellPx - 0.5)];
  }

  #paintRows(firstRow: number, lastRow: number, spans: (row: number, y: number) => Iterable<readonly [number, number]>, value: number) {
    let changed = 0;
    const from = Math.max(0, firstRow);
    const to = Math.min(this.grid.rows - 1, lastRow);
    for (let row = from; row <= to; row++) {
      for (const [c0, c1] of spans(row, this.#centre(row))) changed += this.#fillSpan(row, c0, c1, value);
    }
    return changed;
  }

  #paintRect(from: Point, to: Point, value: number): number {
    if (!finitePoint(from) || !finitePoint(to)) throw new RangeError("a rectangle needs finite corners");
    const [r0, r1] = this.#cellRange(Math.min(from.y, to.y), Math.max(from.y, to.y));
    const cols = this.#cellRange(Math.min(from.x, to.x), Math.max(from.x, to.x));
    return this.#paintRows(r0, r1, () => [cols], value);
  }

  #paintEllipse(from: Point, to: Point, value: number): number {
    if (!finitePoint(from) || !finitePoint(to)) throw new RangeError("an ellipse needs finite corners");
    const ex = (from.x + to.x) / 2;
    const ey = (from.y + to.y) / 2;
    const rx = Math.abs(to.x - from.x) / 2;
    const ry = Math.abs(to.y - from.y) / 2;
    if (rx === 0 || ry === 0) return 0;
    const [r0, r1] = this.#cellRange(ey - ry, ey + ry);
    return this.#paintRows(
      r0,
      r1,
      (_row, y) => {
        const t = (y - ey) / ry;
        if (t * t > 1) return [];
        const half = rx * Math.sqrt(1 - t * t);
        return [this.#cellRange(ex - half, ex + half)];
      },
      value,
    );
  }

  #paintPolygon(points: readonly Point[], value: number): number {
    if (!points.every(finitePoint)) throw new RangeError("a polygon needs finite points");
    if (points.length < 3) return 0;
    const ys = points.map((p) => p.y);
    const [r0, r1] = this.#cellRange(Math.min(...ys), Math.max(...ys));
    return this.#paintRows(
      r0,
      r1,
      (_row, y) => {
        // Even-odd scanline at the row's centre; an edge counts from its lower end, not its upper.
        const xs: number[] = [];
        for (let i = 0; i < points.length; i++) {
          const a = points[i] as Point;
          const b = points[(i + 1) % points.length] as Point;
          if ((a.y <= y && y < b.y) || (b.y <= y && y < a.y)) xs.push(a.x + ((y - a.y) * (b.x - a.x)) / (b.y - a.y));
        }
        xs.sort((p, q) => p - q);
        const spans: [number, number][] = [];
        for (let i = 0; i + 1 < xs.length; i += 2) spans.push(this.#cellRange(xs[i] as number, xs[i + 1] as number));
        return spans;
      },
      value,
    );
  }

  #paintBrush(points: readonly Point[], radius: number, value: number): number {
    if (!points.every(finitePoint) || !Number.isFinite(radius)) throw new RangeError("a brush needs finite points and radius");
    if (points.length === 0) return 0;
    const r = Math.max(0, radius);
    const rSq = r * r;
    let changed = 0;
    const segments = points.length === 1 ? [[points[0], points[0]]] : points.slice(1).map((b, i) => [points[i], b]);
    for (const [a, b] of segments as [Point, Point][]) {
      const [c0, c1] = this.#cellRange(Math.min(a.x, b.x) - r, Math.max(a.x, b.x) + r);
      const [r0, r1] = this.#cellRange(Math.min(a.y, b.y) - r, Math.max(a.y, b.y) + r);
      const first = Math.max(0, c0);
      const last = Math.min(this.grid.cols - 1, c1);
      changed += this.#paintRows(
        r0,
        r1,
        (_row, y) => {
          // A capsule is convex: the cells of a row inside it are one span.
          let lo = -1;
          let hi = -1;
          for (let col = first; col <= last; col++) {
            if (distanceSq(this.#centre(col), y, a, b) <= rSq) {
              if (lo < 0) lo = col;
              hi = col;
            } else if (lo >= 0) break;
          }
          return lo < 0 ? [] : [[lo, hi] as const];
        },
        value,
      );
    }
    for (const p of points) {
      const col = Math.floor(p.x / this.grid.cellPx);
      const row = Math.floor(p.y / this.grid.cellPx);
      if (row >= 0 && row < this.grid.rows) changed += this.#fillSpan(row, col, col, value);
    }
    return changed;
  }

  /** Sets cells c0..c1 of a row (clipped to the mask); returns how many changed. */
  #fillSpan(row: number, c0: number, c1: number, value: number): number {
    const from = Math.max(0, c0);
    const to = Math.min(this.grid.cols - 1, c1);
    if (from > to || row < 0 || row >= this.grid.rows) return 0;
    const cy = Math.floor(row / CHUNK_CELLS);
    const base = (row % CHUNK_CELLS) * CHUNK_CELLS;
    let changed = 0;
    for (let col = from; col <= to; ) {
      const cx = Math.floor(col / CHUNK_CELLS);
      const end = Math.min(to, cx * CHUNK_CELLS + CHUNK_CELLS - 1);
      const key = this.#key(cx, cy);
      let slot = this.#slots.get(key);
      // Hiding never needs a chunk no one painted: its cells are hidden already.
      if (!slot && value === 0) {
        col = end + 1;
        continue;
      }
      if (!slot) {
        slot = { cx, cy, stored: null, cells: null, before: null };
        this.#slots.set(key, slot);
      }
      const cells = this.#cells(slot);
      for (let c = col; c <= end; c++) {
        const i = base + (c % CHUNK_CELLS);
        if (cells[i] === value) continue;
        slot.before ??= cells.slice();
        cells[i] = value;
        changed++;
      }
      col = end + 1;
    }
    return changed;
  }
}

function sameCells(a: ChunkCells, b: ChunkCells): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The ops that store a mask's changes: creates for new chunks, `{bits}` patches for stored ones. */
export function maskOps(fog: Pick<FogRef, "id" | "scene_id">, mask: Mask): FogChunkOp[] {
  return mask.changes().map((change): FogChunkOp => {
    if (change.id !== null) return { op: "update", id: change.id, data: { bits: change.bits } };
    return {
      op: "create",
      id: chunkId(fog.id, change.cx, change.cy),
      data: { scene_id: fog.scene_id, fog_id: fog.id, cx: change.cx, cy: change.cy, bits: change.bits },
    };
  });
}

/** The ops of one stroke or shape (or several, painted in order) on a fog with these stored chunks. */
export function fogOps(fog: FogRef, chunks: Iterable<StoredChunk>, shapes: FogShape | readonly FogShape[], mode: FogMode): FogChunkOp[] {
  const mask = new Mask(fog, chunks);
  for (const shape of Array.isArray(shapes) ? (shapes as readonly FogShape[]) : [shapes as FogShape]) mask.paint(shape, mode);
  return maskOps(fog, mask);
}
