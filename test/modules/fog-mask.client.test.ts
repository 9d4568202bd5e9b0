import { describe, expect, it } from "vitest";
import { chunkId, fogIdFor } from "../../modules/fog/domain";
import {
  chunksOfFog,
  countRevealed,
  type FogChunkOp,
  type FogShape,
  fogOfScene,
  fogOps,
  gridOf,
  Mask,
  type Point,
  type StoredChunk,
} from "../../modules/fog/editing";
import { CELLS_PER_CHUNK, CHUNK_CELLS, decodeChunk, encodeChunk, MAX_ENCODED_CHUNK } from "../../modules/fog/mask";

/** A seeded generator, so a failing case can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function cellsWith(fill: (i: number) => number): Uint8Array {
  return Uint8Array.from({ length: CELLS_PER_CHUNK }, (_, i) => fill(i));
}

const b64 = (bytes: number[]) => btoa(String.fromCharCode(...bytes));

/** The length of the run-length form, computed independently of the encoder. */
function rleLength(cells: Uint8Array): number {
  let bytes = 0;
  let value = 0;
  let run = 0;
  const push = (n: number) => {
    bytes += n < 0x80 ? 1 : n < 0x4000 ? 2 : 3;
  };
  for (const c of cells) {
    if (c === value) run++;
    else {
      push(run);
      value = c;
      run = 1;
    }
  }
  push(run);
  return 1 + 4 * Math.ceil(bytes / 3);
}

const FOG = { id: "fog-s1", scene_id: "s1", cell_px: 8, width_px: 4096, height_px: 4096 };

/** Every cell of a mask after applying `ops` to `stored`. */
function apply(stored: StoredChunk[], ops: FogChunkOp[]): StoredChunk[] {
  const byId = new Map(stored.map((c) => [c.id, { ...c }]));
  for (const op of ops) {
    if (op.op === "create") byId.set(op.id, { id: op.id, cx: op.data.cx, cy: op.data.cy, bits: op.data.bits });
    else {
      const held = byId.get(op.id);
      if (!held) throw new Error(`update of unknown chunk ${op.id}`);
      held.bits = op.data.bits;
    }
  }
  return [...byId.values()];
}

const decoded = new WeakMap<StoredChunk[], Map<string, Uint8Array | null>>();

/** Whether the cell is revealed in these chunks. */
function revealedIn(chunks: StoredChunk[], col: number, row: number): boolean {
  let byKey = decoded.get(chunks);
  if (!byKey) {
    byKey = new Map(chunks.map((c) => [`${c.cx},${c.cy}`, decodeChunk(c.bits)]));
    decoded.set(chunks, byKey);
  }
  const cells = byKey.get(`${Math.floor(col / CHUNK_CELLS)},${Math.floor(row / CHUNK_CELLS)}`);
  return cells?.[(row % CHUNK_CELLS) * CHUNK_CELLS + (col % CHUNK_CELLS)] === 1;
}

function distToSegment(x: number, y: number, a: Point, b: Point): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const l = dx * dx + dy * dy;
  const t = l === 0 ? 0 : Math.max(0, Math.min(1, ((x - a.x) * dx + (y - a.y) * dy) / l));
  return Math.hypot(a.x + t * dx - x, a.y + t * dy - y);
}

describe("chunk encoding", () => {
  it("encodes an empty chunk as one run and a full one as an empty run then a full one", () => {
    expect(encodeChunk(new Uint8Array(CELLS_PER_CHUNK))).toBe(`r${b64([0x80, 0x20])}`);
    expect(encodeChunk(cellsWith(() => 1))).toBe(`r${b64([0, 0x80, 0x20])}`);
  });

  it("round-trips empty, full, striped, single-cell and random chunks", () => {
    const random = rng(1);
    const cases = [
      cellsWith(() => 0),
      cellsWith(() => 1),
      cellsWith((i) => (Math.floor(i / CHUNK_CELLS) % 2 === 0 ? 1 : 0)),
      cellsWith((i) => (i === 0 ? 1 : 0)),
      cellsWith((i) => (i === CELLS_PER_CHUNK - 1 ? 1 : 0)),
      cellsWith((i) => i % 2),
      ...Array.from({ length: 20 }, (_, k) => cellsWith(() => (random() < k / 20 ? 1 : 0))),
    ];
    for (const cells of cases) {
      const text = encodeChunk(cells);
      expect(text.length).toBeLessThanOrEqual(MAX_ENCODED_CHUNK);
      expect(decodeChunk(text)).toEqual(cells);
    }
  });

  it("chooses the shorter form: runs for smooth chunks, the bitmap for noisy ones", () => {
    const random = rng(2);
    let runs = 0;
    let bitmaps = 0;
    for (let k = 0; k <= 40; k++) {
      const density = k / 40;
      const cells = cellsWith(() => (random() < density ? 1 : 0));
      const text = encodeChunk(cells);
      expect(text.length).toBe(Math.min(rleLength(cells), MAX_ENCODED_CHUNK));
      if (text[0] === "r") runs++;
      else bitmaps++;
    }
    // Both forms occur over the densities tried.
    expect(runs).toBeGreaterThan(0);
    expect(bitmaps).toBeGreaterThan(0);
    const checkerboard = cellsWith((i) => (i + Math.floor(i / CHUNK_CELLS)) % 2);
    expect(encodeChunk(checkerboard)).toMatch(/^b/);
    expect(encodeChunk(checkerboard)).toHaveLength(MAX_ENCODED_CHUNK);
  });

  it("refuses a chunk of the wrong size", () => {
    expect(() => encodeChunk(new Uint8Array(10))).toThrow(RangeError);
  });

  it.each([
    ["empty", ""],
    ["a prefix alone", "r"],
    ["an unknown prefix", `x${b64([0x80, 0x20])}`],
    ["base64 with whitespace", `r${b64([0x80, 0x20])} `],
    ["base64 without padding", `r${b64([0, 0x80, 0x20, 1]).replace(/=+$/, "")}`],
    ["characters outside base64", "r$$$$"],
    ["runs that end short", `r${b64([0xff, 0x1f])}`],
    ["runs that overflow", `r${b64([0x81, 0x20])}`],
    ["an empty run after the first", `r${b64([10, 0, 0xf6, 0x1f])}`],
    ["a varint of four bytes", `r${b64([0x80, 0x80, 0x80, 0x01])}`],
    ["a bitmap one byte short", `b${b64(Array.from({ length: 511 }, () => 0))}`],
    ["a bitmap one byte long", `b${btoa("\0".repeat(513))}`],
    ["an overlong text", `r${"A".repeat(MAX_ENCODED_CHUNK + 3)}`],
  ])("rejects %s", (_name, text) => {
    expect(decodeChunk(text)).toBeNull();
  });

  it("accepts both forms of the same cells", () => {
    const cells = cellsWith((i) => (i < 100 ? 1 : 0));
    const bitmap = new Uint8Array(CELLS_PER_CHUNK / 8);
    for (let i = 0; i < 100; i++) bitmap[i >> 3] = (bitmap[i >> 3] ?? 0) | (1 << (i & 7));
    expect(decodeChunk(`b${b64([...bitmap])}`)).toEqual(cells);
    expect(decodeChunk(encodeChunk(cells))).toEqual(cells);
  });
});

describe("the mask grid", () => {
  it("counts cells and chunks from the fog's size, rounding partial ones up", () => {
    expect(gridOf(FOG)).toEqual({ cellPx: 8, cols: 512, rows: 512, chunksX: 8, chunksY: 8 });
    expect(gridOf({ cell_px: 8, width_px: 1000, height_px: 513 })).toEqual({ cellPx: 8, cols: 125, rows: 65, chunksX: 2, chunksY: 2 });
  });
});

describe("painting shapes", () => {
  it("reveals a rectangle crossing a chunk corner: one create per touched chunk, exactly its cells", () => {
    const ops = fogOps(FOG, [], { kind: "rect", from: { x: 500, y: 500 }, to: { x: 540, y: 540 } }, "reveal");
    // Cells whose centre lies in [500, 540]: 62..67 on both axes, across chunks 0 and 1.
    expect(ops.map((op) => op.id)).toEqual([chunkId(FOG.id, 0, 0), chunkId(FOG.id, 1, 0), chunkId(FOG.id, 0, 1), chunkId(FOG.id, 1, 1)]);
    for (const op of ops) {
      expect(op.op).toBe("create");
      if (op.op !== "create") continue;
      expect(op.data).toMatchObject({ scene_id: "s1", fog_id: FOG.id });
    }
    const after = apply([], ops);
    for (let row = 56; row < 74; row++) {
      for (let col = 56; col < 74; col++) expect(revealedIn(after, col, row)).toBe(col >= 62 && col <= 67 && row >= 62 && row <= 67);
    }
    expect(after.map((c) => countRevealed(decodeChunk(c.bits) as Uint8Array))).toEqual([4, 8, 8, 16]);
  });

  it("paints a brush stroke cell-accurately: centres within the radius of the polyline, and the cells under its points", () => {
    const random = rng(3);
    const fog = { ...FOG, width_px: 1024, height_px: 1024 };
    for (let trial = 0; trial < 12; trial++) {
      const points = Array.from({ length: 1 + Math.floor(random() * 6) }, () => ({ x: random() * 1100 - 40, y: random() * 1100 - 40 }));
      const radius = trial === 0 ? 2 : 8 + random() * 150;
      const after = apply([], fogOps(fog, [], { kind: "brush", points, radius }, "reveal"));
      const segments = points.length === 1 ? [[points[0], points[0]]] : points.slice(1).map((p, i) => [points[i], p]);
      const wrong: string[] = [];

      for (let row = 0; row < 128; row++) {
        for (let col = 0; col < 128; col++) {
          const x = (col + 0.5) * 8;
          const y = (row + 0.5) * 8;
          const near = segments.some(([a, b]) => distToSegment(x, y, a as Point, b as Point) <= radius);
          const under = points.some((p) => Math.floor(p.x / 8) === col && Math.floor(p.y / 8) === row);
          if (revealedIn(after, col, row) !== (near || under)) wrong.push(`${col},${row}`);
        }
      }
      expect(wrong, `trial ${trial}`).toEqual([]);
    }
  });

  it("paints an ellipse and a polygon by their cells' centres", () => {
    const fog = { ...FOG, width_px: 1024, height_px: 1024 };
    const ellipse = apply([], fogOps(fog, [], { kind: "ellipse", from: { x: 300, y: 100 }, to: { x: 700, y: 400 } }, "reveal"));
    const triangle: Point[] = [
      { x: 100, y: 600 },
      { x: 900, y: 700 },
      { x: 450, y: 1000 },
    ];
    const polygon = apply([], fogOps(fog, [], { kind: "polygon", points: triangle }, "reveal"));
    const inTriangle = (x: number, y: number) => {
      const sign = (p: Point, q: Point) => (x - q.x) * (p.y - q.y) - (p.x - q.x) * (y - q.y);
      const [a, b, c] = triangle as [Point, Point, Point];
      const d = [sign(a, b), sign(b, c), sign(c, a)];
      return !(d.some((v) => v < 0) && d.some((v) => v > 0));
    };
    const wrong: string[] = [];
    for (let row = 0; row < 128; row++) {
      for (let col = 0; col < 128; col++) {
        const x = (col + 0.5) * 8;
        const y = (row + 0.5) * 8;
        if (revealedIn(ellipse, col, row) !== ((x - 500) / 200) ** 2 + ((y - 250) / 150) ** 2 <= 1) wrong.push(`ellipse ${col},${row}`);
        if (revealedIn(polygon, col, row) !== inTriangle(x, y)) wrong.push(`polygon ${col},${row}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(ellipse.length).toBeGreaterThan(1);
    expect(polygon.length).toBeGreaterThan(1);
  });

  it("never paints past the mask's border: the edge chunks keep their outer cells hidden", () => {
    const fog = { ...FOG, width_px: 1000, height_px: 520 };
    // 125 × 65 cells: the last chunk column holds 61 cells, the last chunk row one.
    const all = apply([], fogOps(fog, [], { kind: "all" }, "reveal"));
    expect(all).toHaveLength(4);
    const count = (cx: number, cy: number) =>
      countRevealed(decodeChunk(all.find((c) => c.cx === cx && c.cy === cy)?.bits ?? "") ?? new Uint8Array());
    expect([count(0, 0), count(1, 0), count(0, 1), count(1, 1)]).toEqual([64 * 64, 61 * 64, 64, 61]);
    const brushed = apply(
      [],
      [
        ...fogOps(fog, [], { kind: "brush", points: [{ x: 990, y: 510 }], radius: 100 }, "reveal"),
        ...fogOps({ ...fog, id: "other" }, [], { kind: "rect", from: { x: 900, y: 300 }, to: { x: 1200, y: 800 } }, "reveal"),
        ...fogOps({ ...fog, id: "third" }, [], { kind: "ellipse", from: { x: 800, y: 200 }, to: { x: 1300, y: 900 } }, "reveal"),
      ],
    );
    expect(brushed.length).toBeGreaterThanOrEqual(6);
    for (const chunk of brushed) {
      const cells = decodeChunk(chunk.bits) as Uint8Array;
      for (let i = 0; i < CELLS_PER_CHUNK; i++) {
        const col = chunk.cx * CHUNK_CELLS + (i % CHUNK_CELLS);
        const row = chunk.cy * CHUNK_CELLS + Math.floor(i / CHUNK_CELLS);
        if (col >= 125 || row >= 65) expect(cells[i]).toBe(0);
      }
    }
    expect(fogOps(fog, [], { kind: "brush", points: [{ x: 1500, y: 100 }], radius: 50 }, "reveal")).toEqual([]);
  });

  it("updates only the stored chunks that changed, under their own ids, and creates the rest", () => {
    const revealed = apply([], fogOps(FOG, [], { kind: "rect", from: { x: 0, y: 0 }, to: { x: 1023, y: 1023 } }, "reveal"));
    expect(revealed).toHaveLength(4);
    // Imported chunks keep ids of their own: edits go to those ids, not to chunkId.
    const stored = revealed.map((c, i) => ({ ...c, id: `imported-${i}` }));
    const ops = fogOps(FOG, stored, { kind: "brush", points: [{ x: 512, y: 100 }], radius: 40 }, "hide");
    expect(ops).toEqual([
      { op: "update", id: "imported-0", data: { bits: expect.any(String) } },
      { op: "update", id: "imported-1", data: { bits: expect.any(String) } },
    ]);
    const more = fogOps(FOG, stored, { kind: "rect", from: { x: 1000, y: 0 }, to: { x: 1100, y: 20 } }, "reveal");
    expect(more.map((op) => [op.op, op.id])).toEqual([["create", chunkId(FOG.id, 2, 0)]]);
  });

  it("yields no op for strokes that change nothing", () => {
    const stored = apply([], fogOps(FOG, [], { kind: "rect", from: { x: 0, y: 0 }, to: { x: 600, y: 600 } }, "reveal"));
    const noOps: [StoredChunk[], FogShape, "reveal" | "hide"][] = [
      [stored, { kind: "rect", from: { x: 10, y: 10 }, to: { x: 500, y: 500 } }, "reveal"],
      [stored, { kind: "brush", points: [{ x: 2000, y: 2000 }], radius: 100 }, "hide"],
      [[], { kind: "all" }, "hide"],
      [stored, { kind: "rect", from: { x: 10, y: 10 }, to: { x: 10, y: 500 } }, "reveal"],
      [stored, { kind: "ellipse", from: { x: 3000, y: 3000 }, to: { x: 3000, y: 3200 } }, "reveal"],
      [
        stored,
        {
          kind: "polygon",
          points: [
            { x: 3000, y: 3000 },
            { x: 3500, y: 3500 },
          ],
        },
        "reveal",
      ],
      [stored, { kind: "brush", points: [], radius: 100 }, "reveal"],
      [stored, { kind: "brush", points: [{ x: -500, y: -500 }], radius: 100 }, "reveal"],
    ];
    for (const [chunks, shape, mode] of noOps) expect(fogOps(FOG, chunks, shape, mode)).toEqual([]);
  });

  it("yields no op when one batch reveals then hides the same cells", () => {
    const shape: FogShape = { kind: "rect", from: { x: 100, y: 100 }, to: { x: 900, y: 300 } };
    const mask = new Mask(FOG, []);
    expect(mask.paint(shape, "reveal")).toBeGreaterThan(0);
    expect(mask.paint(shape, "hide")).toBeGreaterThan(0);
    expect(mask.changes()).toEqual([]);
  });

  it("hides everything with one update per stored chunk that had revealed cells", () => {
    const stored = apply([], fogOps(FOG, [], { kind: "rect", from: { x: 0, y: 0 }, to: { x: 600, y: 100 } }, "reveal"));
    const blank = { id: chunkId(FOG.id, 5, 5), cx: 5, cy: 5, bits: encodeChunk(new Uint8Array(CELLS_PER_CHUNK)) };
    const ops = fogOps(FOG, [...stored, blank], { kind: "all" }, "hide");
    expect(ops.map((op) => op.id)).toEqual(stored.map((c) => c.id));
    expect(ops.every((op) => op.op === "update" && op.data.bits === blank.bits)).toBe(true);
  });

  it("reveals everything of a 4096 px mask with 64 creates", () => {
    const ops = fogOps(FOG, [], { kind: "all" }, "reveal");
    expect(ops).toHaveLength(64);
    const mask = new Mask(FOG, apply([], ops));
    expect(mask.revealedCount()).toBe(512 * 512);
    expect(mask.isRevealed(511, 511)).toBe(true);
    expect(mask.isRevealed(512, 0)).toBe(false);
  });

  it("decodes only the chunks a shape touches", () => {
    const stored = apply([], fogOps(FOG, [], { kind: "all" }, "reveal"));
    // Chunk (7, 7) counts how often its bits are read: a stroke far from it must not read them.
    let reads = 0;
    const watched = stored.map((c) => {
      if (c.cx !== 7 || c.cy !== 7) return c;
      const { bits, ...rest } = c;
      const get = () => {
        reads += 1;
        return bits;
      };
      return Object.defineProperty({ ...rest }, "bits", { enumerable: true, get }) as typeof c;
    });
    expect(fogOps(FOG, watched, { kind: "brush", points: [{ x: 20, y: 20 }], radius: 8 }, "hide")).toHaveLength(1);
    expect(reads).toBe(0);
    const poisoned = stored.map((c) => (c.cx === 7 && c.cy === 7 ? { ...c, bits: "garbage" } : c));
    const mask = new Mask(FOG, poisoned);
    expect(mask.isRevealed(7 * 64, 7 * 64)).toBe(false);
    expect(mask.isRevealed(0, 0)).toBe(true);
  });

  it("refuses shapes with non-finite coordinates", () => {
    const mask = new Mask(FOG, []);
    expect(() => mask.paint({ kind: "brush", points: [{ x: Number.NaN, y: 0 }], radius: 4 }, "reveal")).toThrow(RangeError);
    expect(() => mask.paint({ kind: "rect", from: { x: 0, y: 0 }, to: { x: Number.POSITIVE_INFINITY, y: 4 } }, "reveal")).toThrow(
      RangeError,
    );
  });
});

describe("finding a scene's fog and chunks", () => {
  const entity = (fields: { id: string } & Record<string, unknown>) => ({
    archived_at: null,
    created_at: "2025-01-01T00:00:00.000Z",
    ...fields,
  });

  it("prefers the fog with the app's id for the scene, else the oldest live one", () => {
    const fogs = [
      entity({ id: "b", scene_id: "s1", created_at: "2025-01-02T00:00:00.000Z" }),
      entity({ id: "a", scene_id: "s1", created_at: "2025-01-03T00:00:00.000Z" }),
      entity({ id: "old", scene_id: "s1", created_at: "2025-01-01T00:00:00.000Z", archived_at: "2025-01-04T00:00:00.000Z" }),
      entity({ id: "other", scene_id: "s2" }),
    ];
    expect(fogOfScene(fogs, "s1")?.id).toBe("b");
    expect(fogOfScene([...fogs, entity({ id: fogIdFor("s1"), scene_id: "s1", created_at: "2025-02-01T00:00:00.000Z" })], "s1")?.id).toBe(
      fogIdFor("s1"),
    );
    expect(fogOfScene(fogs, "s3")).toBeUndefined();
  });

  it("keeps one live chunk per square of the fog, the one with the deterministic id first", () => {
    const bits = encodeChunk(new Uint8Array(CELLS_PER_CHUNK));
    const chunks = chunksOfFog("f", [
      entity({ id: "z", fog_id: "f", cx: 0, cy: 0, bits }),
      entity({ id: chunkId("f", 0, 0), fog_id: "f", cx: 0, cy: 0, bits }),
      entity({ id: "b", fog_id: "f", cx: 1, cy: 0, bits }),
      entity({ id: "a", fog_id: "f", cx: 1, cy: 0, bits }),
      entity({ id: "gone", fog_id: "f", cx: 2, cy: 0, bits, archived_at: "2025-01-04T00:00:00.000Z" }),
      entity({ id: "elsewhere", fog_id: "g", cx: 3, cy: 0, bits }),
    ]);
    expect(chunks.map((c) => c.id).sort()).toEqual(["a", chunkId("f", 0, 0)].sort());
  });
});
