/** Which token boxes the fog hides from players: those whose every overlapped cell is hidden. */
import { describe, expect, it } from "vitest";
import { coverTokens, tokenBox } from "../../domain/visibility";
import { fogCover } from "../../modules/fog/cover";
import { chunkId } from "../../modules/fog/ids";
import { CELLS_PER_CHUNK, CHUNK_CELLS, encodeChunk } from "../../modules/fog/mask";

const T0 = "2025-01-01T00:00:00.000Z";
const base = { version: 1, created_at: T0, updated_at: T0, updated_by: "u", archived_at: null };

function fog(fields: Record<string, unknown> = {}) {
  return {
    type: "fog",
    entity: { ...base, id: "fog-s1", scene_id: "s1", enabled: true, cell_px: 8, width_px: 1024, height_px: 512, ...fields },
  };
}

/** A chunk of fog-s1 with the given cells (column, row within the chunk) revealed. */
function chunk(cx: number, cy: number, cells: [number, number][], fogId = "fog-s1") {
  const bits = new Uint8Array(CELLS_PER_CHUNK);
  for (const [c, r] of cells) bits[r * CHUNK_CELLS + c] = 1;
  return {
    type: "fog_chunk",
    entity: { ...base, id: chunkId(fogId, cx, cy), scene_id: "s1", fog_id: fogId, cx, cy, bits: encodeChunk(bits) },
  };
}

const box = (x: number, y: number, width = 64, height = 64) => ({ x, y, width, height });

describe("the fog's cover", () => {
  const cover = fogCover([fog(), chunk(0, 0, [[20, 20]]), chunk(1, 0, [])]);

  it.each([
    ["a token on hidden cells only", box(0, 0), true],
    ["a token overlapping one revealed cell", box(100, 100), false],
    ["a token whose corner overlaps the revealed cell", box(167, 167), false],
    ["a token starting just after the revealed cell", box(168, 168), true],
    ["a token ending just before the revealed cell", box(96, 96), true],
    ["a token on an all-hidden stored chunk", box(600, 0), true],
    ["a token on a chunk no one painted", box(600, 300), true],
    ["a token reaching past the fog's grid", box(1000, 0), false],
    ["a token left of the map", box(-10, 0), false],
    ["a large token over the revealed cell", box(0, 0, 512, 512), false],
  ])("%s: covered %s", (_what, b, covered) => {
    expect(cover?.(b)).toBe(covered);
  });

  it("covers nothing when the fog is off or missing", () => {
    expect(fogCover([fog({ enabled: false })])).toBeUndefined();
    expect(fogCover([])).toBeUndefined();
  });

  it("reads the chunks of the scene's fog only", () => {
    const other = fogCover([fog(), chunk(0, 0, [[0, 0]], "fog-other")]);
    expect(other?.(box(0, 0))).toBe(true);
  });
});

describe("a token's box on a fitted grid", () => {
  // Revealed cell (20, 20): map pixels 160–167.
  const cover = coverTokens([fogCover([fog(), chunk(0, 0, [[20, 20]])])], 32);
  const token = (x: number, y: number, width = 1, height = 1) => ({ x, y, width, height });

  it("is width × height cells of the scene's grid", () => {
    expect(tokenBox(token(10, 20, 2, 1), 32)).toEqual({ x: 10, y: 20, width: 64, height: 32 });
    expect(tokenBox(token(10, 20), 100)).toEqual({ x: 10, y: 20, width: 100, height: 100 });
    expect(tokenBox({ x: 5, y: 5 }, 50)).toEqual({ x: 5, y: 5, width: 50, height: 50 });
  });

  it.each([
    ["a one-cell token ending before the revealed cell (a 64-px box would reach it)", token(128, 128), true],
    ["a one-cell token reaching the revealed cell", token(136, 136), false],
    ["a two-cell token reaching the revealed cell", token(100, 100, 2, 2), false],
  ])("%s: covered %s", (_what, t, covered) => {
    expect(cover?.(t)).toBe(covered);
  });

  it("covers nothing without a module's cover", () => {
    expect(coverTokens([undefined], 32)).toBeUndefined();
  });
});
