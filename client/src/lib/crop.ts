/**
 * Token art crop: how an image sits in the square stage of the crop tool, and how a token draws it.
 * One definition for both, so a token shows exactly what the GM framed.
 *
 * The contract's `crop` is `{scale, translate_x, translate_y, stage_size, base_scale}`:
 *
 * - `stage_size` (S): the side of the square stage, in stage pixels (the tool's stage is
 *   `CROP_STAGE_PX` wide on screen, so a stage pixel is a CSS pixel there).
 * - `base_scale`: the scale at which the image just covers the stage, its shorter side spanning
 *   it: `S / min(w, h)` for an image of w×h pixels.
 * - `scale`: the GM's zoom on top of that, from 1 (the whole shorter side shows) to `MAX_ZOOM`.
 * - `translate_x`, `translate_y`: where the image's centre sits, in stage pixels from the stage's
 *   centre (positive: right, down).
 *
 * With k = base_scale × scale, the image pixel (u, v) lands on the stage at
 * `(S/2 + translate_x + (u − w/2)·k, S/2 + translate_y + (v − h/2)·k)`. The image always covers
 * the stage: `|translate_x| ≤ (w·k − S)/2`, `|translate_y| ≤ (h·k − S)/2` (`clampCrop`).
 *
 * A token draws the stage as a square covering its box (centred: a 2×1 token shows the middle band
 * of the stage). Readers that have the image recompute `base_scale` from its real size, so art
 * replaced under an older crop (or the schema's default crop) still covers the token.
 */
import type { Crop } from "../../../domain/entities";

export type { Crop };

/** The crop tool's stage, in CSS pixels: the `stage_size` of crops it makes. */
export const CROP_STAGE_PX = 256;
/** The most the GM may zoom in, on top of the covering scale. */
export const MAX_ZOOM = 8;

export interface ImageSize {
  width: number;
  height: number;
}

/** The scale at which an image of `size` covers a square stage of side `stage`. */
export function coverScale(size: ImageSize, stage: number): number {
  return stage / Math.max(1e-9, Math.min(size.width, size.height));
}

/** The crop of a freshly uploaded image: covering the stage, centred, not zoomed. */
export function initialCrop(size: ImageSize, stage: number = CROP_STAGE_PX): Crop {
  return { scale: 1, translate_x: 0, translate_y: 0, stage_size: stage, base_scale: round(coverScale(size, stage), 6) };
}

/**
 * The crop made valid for an image of `size`: `base_scale` recomputed, the zoom kept within
 * [1, MAX_ZOOM], the offset kept where the image still covers the stage. Idempotent.
 */
export function clampCrop(crop: Crop, size: ImageSize): Crop {
  const stage = crop.stage_size > 0 ? crop.stage_size : CROP_STAGE_PX;
  const base = round(coverScale(size, stage), 6);
  const scale = round(Math.min(MAX_ZOOM, Math.max(1, finiteOr(crop.scale, 1))), 4);
  const k = base * scale;
  const limitX = Math.max(0, (size.width * k - stage) / 2);
  const limitY = Math.max(0, (size.height * k - stage) / 2);
  return {
    scale,
    translate_x: within(round(finiteOr(crop.translate_x, 0), 2), limitX),
    translate_y: within(round(finiteOr(crop.translate_y, 0), 2), limitY),
    stage_size: stage,
    base_scale: base,
  };
}

/** The same framing on a stage of another size (the tool works on `CROP_STAGE_PX`), clamped. */
export function rescaleCrop(crop: Crop, stage: number, size: ImageSize): Crop {
  const ratio = crop.stage_size > 0 ? stage / crop.stage_size : 1;
  return clampCrop({ ...crop, stage_size: stage, translate_x: crop.translate_x * ratio, translate_y: crop.translate_y * ratio }, size);
}

/** The crop moved by (dx, dy) stage pixels (a drag on the stage), clamped. */
export function panCrop(crop: Crop, dx: number, dy: number, size: ImageSize): Crop {
  return clampCrop({ ...crop, translate_x: crop.translate_x + dx, translate_y: crop.translate_y + dy }, size);
}

/**
 * The crop zoomed to `scale`, keeping the image point under `focus` where it is (a wheel turn
 * under the pointer); `focus` is in stage pixels from the stage's centre, the centre by default.
 */
export function zoomCrop(crop: Crop, scale: number, size: ImageSize, focus: { x: number; y: number } = { x: 0, y: 0 }): Crop {
  const from = clampCrop(crop, size);
  const to = Math.min(MAX_ZOOM, Math.max(1, scale));
  const ratio = to / from.scale;
  return clampCrop(
    {
      ...from,
      scale: to,
      translate_x: focus.x - (focus.x - from.translate_x) * ratio,
      translate_y: focus.y - (focus.y - from.translate_y) * ratio,
    },
    size,
  );
}

/** Where the image pixel (u, v) lands on the stage (stage pixels from its top-left corner). */
export function stagePoint(crop: Crop, size: ImageSize, u: number, v: number): { x: number; y: number } {
  const k = crop.base_scale * crop.scale;
  const half = crop.stage_size / 2;
  return { x: half + crop.translate_x + (u - size.width / 2) * k, y: half + crop.translate_y + (v - size.height / 2) * k };
}

/** The image pixel under the stage point (x, y): the inverse of `stagePoint`. */
export function imagePoint(crop: Crop, size: ImageSize, x: number, y: number): { u: number; v: number } {
  const k = crop.base_scale * crop.scale;
  const half = crop.stage_size / 2;
  return { u: (x - half - crop.translate_x) / k + size.width / 2, v: (y - half - crop.translate_y) / k + size.height / 2 };
}

/** A type, not an interface: it must be assignable to Solid's `style` object (an index signature). */
export type ArtPlacement = {
  left: string;
  top: string;
  width: string;
  height: string;
};

/**
 * The image's box inside the stage, as CSS percentages of the stage's side, for an absolutely
 * positioned `<img>` in a square container: the same numbers in the crop tool and on a token of
 * any size. The crop is clamped to the image first.
 */
export function artPlacement(crop: Crop, size: ImageSize): ArtPlacement {
  const c = clampCrop(crop, size);
  const k = c.base_scale * c.scale;
  const s = c.stage_size;
  const width = (size.width * k) / s;
  const height = (size.height * k) / s;
  return {
    left: percent(0.5 + c.translate_x / s - width / 2),
    top: percent(0.5 + c.translate_y / s - height / 2),
    width: percent(width),
    height: percent(height),
  };
}

/** The square stage drawn over a token's box of w×h pixels: its side and offset (centred, covering). */
export function stageBox(width: number, height: number): { left: number; top: number; side: number } {
  const side = Math.max(width, height);
  return { left: (width - side) / 2, top: (height - side) / 2, side };
}

function percent(fraction: number): string {
  return `${round(fraction * 100, 4)}%`;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** `value` kept within ±limit (rounded first, so the result never passes the limit). */
function within(value: number, limit: number): number {
  const out = Math.min(limit, Math.max(-limit, value));
  return Object.is(out, -0) ? 0 : out;
}

function finiteOr(value: number, fallback: number): number {
  return Number.isFinite(value) ? value : fallback;
}
