/**
 * One person's view of the table: the page (scene pixels, where tokens, drawings and the map
 * live) seen through a camera `{x, y, z}`. A page point `p` shows at screen point
 * `p * z + (x, y)`, screen points being relative to the table viewport's top left. The table draws
 * everything in one container transformed by `translate(x, y) scale(z)`, so a pan or a zoom
 * changes one CSS transform whatever the number of tokens.
 *
 * Pure functions: no DOM, no state. The table holds the camera in a signal; lib/camera-store.ts
 * keeps it per user and scene in this browser.
 */

export interface Camera {
  x: number;
  y: number;
  z: number;
}

export interface Point {
  x: number;
  y: number;
}

export interface Bounds {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Size {
  width: number;
  height: number;
}

export const MIN_ZOOM = 0.1;
export const MAX_ZOOM = 8;
/** The zoom levels the buttons and `+`/`-` step through (a wheel or a pinch zooms freely in between). */
export const ZOOM_LEVELS = [0.1, 0.15, 0.25, 0.33, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 4, 6, 8] as const;
/** One press of an arrow key, in screen pixels. */
export const PAN_STEP_PX = 64;

export const IDENTITY: Camera = { x: 0, y: 0, z: 1 };

export function clampZoom(z: number): number {
  if (!Number.isFinite(z)) return 1;
  return Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, z));
}

/** The page point under a screen point (viewport-relative). */
export function screenToPage(camera: Camera, point: Point): Point {
  return { x: (point.x - camera.x) / camera.z, y: (point.y - camera.y) / camera.z };
}

/** Where a page point shows on screen (viewport-relative). */
export function pageToScreen(camera: Camera, point: Point): Point {
  return { x: point.x * camera.z + camera.x, y: point.y * camera.z + camera.y };
}

/**
 * Zooms by `factor` around a screen point: the page point under it stays under it. The zoom is
 * clamped to MIN_ZOOM..MAX_ZOOM (a factor past the limits zooms to the limit, still around the point).
 */
export function zoomAt(camera: Camera, point: Point, factor: number): Camera {
  const z = clampZoom(camera.z * factor);
  const page = screenToPage(camera, point);
  return { x: point.x - page.x * z, y: point.y - page.y * z, z };
}

/** Sets the zoom to `z` around a screen point. */
export function zoomTo(camera: Camera, point: Point, z: number): Camera {
  return zoomAt(camera, point, z / camera.z);
}

/** The next zoom level up (`direction` 1) or down (-1) from `z`: 0.8 steps up to 1 and down to 0.75. */
export function stepZoom(z: number, direction: 1 | -1): number {
  const epsilon = 1e-6;
  if (direction > 0) return ZOOM_LEVELS.find((level) => level > z + epsilon) ?? MAX_ZOOM;
  return [...ZOOM_LEVELS].reverse().find((level) => level < z - epsilon) ?? MIN_ZOOM;
}

/** Moves the view by a screen distance (a drag of the table by (dx, dy) pixels). */
export function panBy(camera: Camera, dx: number, dy: number): Camera {
  return { x: camera.x + dx, y: camera.y + dy, z: camera.z };
}

/**
 * The camera showing `bounds` (page pixels) whole and centred in a viewport of `viewport` size,
 * `margin` screen pixels kept free on every side.
 */
export function fit(bounds: Bounds, viewport: Size, margin = 16): Camera {
  const availableW = Math.max(1, viewport.width - 2 * margin);
  const availableH = Math.max(1, viewport.height - 2 * margin);
  const z = clampZoom(Math.min(availableW / Math.max(1, bounds.width), availableH / Math.max(1, bounds.height)));
  return {
    x: (viewport.width - bounds.width * z) / 2 - bounds.x * z,
    y: (viewport.height - bounds.height * z) / 2 - bounds.y * z,
    z,
  };
}

/** The camera that puts a page point at the centre of the viewport, keeping the zoom. */
export function centreOn(camera: Camera, point: Point, viewport: Size): Camera {
  return { x: viewport.width / 2 - point.x * camera.z, y: viewport.height / 2 - point.y * camera.z, z: camera.z };
}

/** The CSS transform of the table's page container. */
export function cameraTransform(camera: Camera): string {
  return `translate(${camera.x}px, ${camera.y}px) scale(${camera.z})`;
}

/** A camera read back from storage, or null when it is not one (wrong types, out of range). */
export function parseCamera(value: unknown): Camera | null {
  if (typeof value !== "object" || value === null) return null;
  const { x, y, z } = value as Record<string, unknown>;
  if (typeof x !== "number" || typeof y !== "number" || typeof z !== "number") return null;
  if (![x, y, z].every(Number.isFinite) || z < MIN_ZOOM || z > MAX_ZOOM) return null;
  return { x, y, z };
}

/** Below this zoom a first view shows tokens too small to read or touch: it covers the window instead of fitting. */
export const FIRST_VIEW_MIN_FIT = 0.5;

/** One axis of `clampToCover`: the map's screen span [start, start + length) against the window's [0, view). */
function coverAxis(offset: number, start: number, length: number, view: number): number {
  if (length <= view) return (view - length) / 2 - start;
  return Math.min(0 - start, Math.max(view - start - length, offset));
}

/**
 * The camera moved the least so the map (`bounds`) covers the window along each axis it is larger
 * than, and is centred along each axis it is smaller than: no table past the map's edge shows
 * where the map could fill the view.
 */
export function clampToCover(camera: Camera, bounds: Bounds, viewport: Size): Camera {
  const { z } = camera;
  return {
    x: coverAxis(camera.x, bounds.x * z, bounds.width * z, viewport.width),
    y: coverAxis(camera.y, bounds.y * z, bounds.height * z, viewport.height),
    z,
  };
}

/**
 * The camera moved the least so at least `keep` screen pixels of the map (`bounds`) stay in the
 * window along each axis (less when the map or the window is smaller): a pan cannot lose the map.
 */
export function keepInView(camera: Camera, bounds: Bounds, viewport: Size, keep = 96): Camera {
  const { z } = camera;
  const axis = (offset: number, start: number, length: number, view: number) => {
    const k = Math.min(keep, length, view);
    return Math.min(view - k - start, Math.max(k - start - length, offset));
  };
  return {
    x: axis(camera.x, bounds.x * z, bounds.width * z, viewport.width),
    y: axis(camera.y, bounds.y * z, bounds.height * z, viewport.height),
    z,
  };
}

/**
 * A person's first view of a scene (no camera kept for it): the whole map when it fits at a
 * readable zoom up to 100% (a desktop; a small map shows at 100%, centred), else (a phone) the
 * map covering the window at up to 100%, around
 * `focus` (the viewer's own token) or the map's centre, never past the map's edges.
 */
export function firstView(bounds: Bounds, viewport: Size, focus?: Point): Camera {
  // biome-ignore lint/suspicious/noFocusedTests: the camera's fit(), not a focused test
  const fitted = fit(bounds, viewport);
  if (fitted.z >= FIRST_VIEW_MIN_FIT && fitted.z <= 1) return fitted;
  const z =
    fitted.z > 1
      ? 1
      : clampZoom(Math.min(1, Math.max(viewport.width / Math.max(1, bounds.width), viewport.height / Math.max(1, bounds.height))));
  const centre = focus ?? { x: bounds.x + bounds.width / 2, y: bounds.y + bounds.height / 2 };
  return clampToCover(centreOn({ x: 0, y: 0, z }, centre, viewport), bounds, viewport);
}
