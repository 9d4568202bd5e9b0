import { describe, expect, it } from "vitest";
import {
  artPlacement,
  CROP_STAGE_PX,
  clampCrop,
  imagePoint,
  initialCrop,
  MAX_ZOOM,
  panCrop,
  rescaleCrop,
  stageBox,
  stagePoint,
  zoomCrop,
} from "../../client/src/lib/crop";
import { cropSchema } from "../../domain/entities";

const wide = { width: 512, height: 256 };
const square = { width: 400, height: 400 };

describe("crop math", () => {
  it("starts covering the stage: the shorter side spans it, centred, not zoomed", () => {
    expect(initialCrop(wide)).toEqual({ scale: 1, translate_x: 0, translate_y: 0, stage_size: CROP_STAGE_PX, base_scale: 1 });
    expect(initialCrop({ width: 96, height: 128 }, 512).base_scale).toBeCloseTo(512 / 96, 5);
  });

  it("produces exactly the contract's crop fields, valid for the schema", () => {
    const crop = zoomCrop(panCrop(initialCrop(wide), 40, 0, wide), 2.5, wide, { x: 30, y: -20 });
    expect(Object.keys(crop).sort()).toEqual(["base_scale", "scale", "stage_size", "translate_x", "translate_y"]);
    expect(cropSchema.parse(crop)).toEqual(crop);
  });

  it("maps image pixels to the stage and back (round trip)", () => {
    const crop = { scale: 1.75, translate_x: 31.5, translate_y: -12.25, stage_size: 256, base_scale: 0.64 };
    for (const [u, v] of [
      [0, 0],
      [400, 400],
      [123.5, 321],
    ] as const) {
      const p = stagePoint(crop, square, u, v);
      const back = imagePoint(crop, square, p.x, p.y);
      expect(back.u).toBeCloseTo(u, 9);
      expect(back.v).toBeCloseTo(v, 9);
    }
    // The image's centre sits at the stage's centre plus the offset.
    expect(stagePoint(crop, square, 200, 200)).toEqual({ x: 128 + 31.5, y: 128 - 12.25 });
  });

  it("keeps the image point under the pointer fixed while zooming", () => {
    const start = initialCrop(square);
    const focus = { x: 40, y: -30 };
    const under = imagePoint(start, square, 128 + focus.x, 128 + focus.y);
    const zoomed = zoomCrop(start, 3, square, focus);
    const after = imagePoint(zoomed, square, 128 + focus.x, 128 + focus.y);
    expect(after.u).toBeCloseTo(under.u, 1);
    expect(after.v).toBeCloseTo(under.v, 1);
    // Zooming back out around the same point returns to where it started.
    expect(zoomCrop(zoomed, 1, square, focus)).toEqual(start);
  });

  it("clamps the offset so the image always covers the stage", () => {
    // 512×256 at base 1: 256 px of slack horizontally (±128), none vertically.
    const panned = panCrop(initialCrop(wide), 500, 80, wide);
    expect(panned.translate_x).toBe(128);
    expect(panned.translate_y).toBe(0);
    expect(panCrop(panned, -1000, 0, wide).translate_x).toBe(-128);
    const zoomed = zoomCrop(initialCrop(wide), 2, wide);
    expect(panCrop(zoomed, 1000, 1000, wide)).toMatchObject({ translate_x: 384, translate_y: 128 });
    // Every corner of the stage still shows image.
    const c = panCrop(zoomed, 1000, 1000, wide);
    expect(imagePoint(c, wide, 0, 0).u).toBeGreaterThanOrEqual(0);
    expect(imagePoint(c, wide, 0, 0).v).toBeGreaterThanOrEqual(0);
  });

  it("clamps the zoom between 1 and the maximum, and pulls the offset in when zooming out", () => {
    expect(zoomCrop(initialCrop(square), 0.2, square).scale).toBe(1);
    expect(zoomCrop(initialCrop(square), 50, square).scale).toBe(MAX_ZOOM);
    const far = panCrop(zoomCrop(initialCrop(square), 4, square), 300, 300, square);
    const out = zoomCrop(far, 1, square);
    expect(out).toMatchObject({ scale: 1, translate_x: 0, translate_y: 0 });
  });

  it("is idempotent, and recomputes the base scale for the image it is applied to", () => {
    const crop = panCrop(zoomCrop(initialCrop(wide), 1.37, wide, { x: 11, y: 7 }), 13.333, -9.877, wide);
    expect(clampCrop(crop, wide)).toEqual(crop);
    // The schema's default crop (base 1, stage 512) on a small image: covering, centred.
    const fallback = clampCrop({ scale: 1, translate_x: 0, translate_y: 0, stage_size: 512, base_scale: 1 }, { width: 96, height: 96 });
    expect(fallback.base_scale).toBeCloseTo(512 / 96, 5);
  });
});

describe("art placement (CSS)", () => {
  it("places an uncropped square image exactly over the stage", () => {
    expect(artPlacement(initialCrop(square), square)).toEqual({ left: "0%", top: "0%", width: "100%", height: "100%" });
  });

  it("centres a wide image, overflowing left and right", () => {
    expect(artPlacement(initialCrop(wide), wide)).toEqual({ left: "-50%", top: "0%", width: "200%", height: "100%" });
  });

  it("follows zoom and offset in fractions of the stage, whatever the stage's size on screen", () => {
    const crop = { scale: 2, translate_x: 64, translate_y: -32, stage_size: 256, base_scale: 0.64 };
    // Image 400 px at k = 1.28: 512 stage px = 200% of the stage; its left edge at 128 + 64 − 256 = −64 px = −25%.
    expect(artPlacement(crop, square)).toEqual({ left: "-25%", top: "-62.5%", width: "200%", height: "200%" });
    const bigger = { ...crop, stage_size: 512, translate_x: 128, translate_y: -64 };
    expect(artPlacement(bigger, square)).toEqual(artPlacement(crop, square));
  });

  it("never leaves part of the stage uncovered, even for an out-of-range stored crop", () => {
    const placed = artPlacement({ scale: 1, translate_x: 900, translate_y: -900, stage_size: 256, base_scale: 0.1 }, wide);
    const left = Number.parseFloat(placed.left);
    const width = Number.parseFloat(placed.width);
    expect(left).toBeLessThanOrEqual(0);
    expect(left + width).toBeGreaterThanOrEqual(100);
    expect(Number.parseFloat(placed.top)).toBeLessThanOrEqual(0);
  });

  it("covers a token's box with the square stage, centred", () => {
    expect(stageBox(128, 64)).toEqual({ left: 0, top: -32, side: 128 });
    expect(stageBox(64, 64)).toEqual({ left: 0, top: 0, side: 64 });
  });
});

describe("crop on another stage size", () => {
  it("keeps the framing when moved to a stage of another size", () => {
    const crop = { scale: 2, translate_x: 100, translate_y: -50, stage_size: 512, base_scale: 1.28 };
    const rescaled = rescaleCrop(crop, 256, square);
    expect(rescaled).toEqual({ scale: 2, translate_x: 50, translate_y: -25, stage_size: 256, base_scale: 0.64 });
    expect(artPlacement(rescaled, square)).toEqual(artPlacement(crop, square));
  });
});
