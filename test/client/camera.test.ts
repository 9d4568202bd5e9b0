import { describe, expect, it } from "vitest";
import {
  type Camera,
  centreOn,
  clampToCover,
  clampZoom,
  firstView,
  fit as fitCamera,
  keepInView,
  MAX_ZOOM,
  MIN_ZOOM,
  pageToScreen,
  panBy,
  parseCamera,
  screenToPage,
  stepZoom,
  zoomAt,
  zoomTo,
} from "../../client/src/lib/camera";
import { createCameraStore } from "../../client/src/lib/camera-store";

const cam: Camera = { x: 100, y: -50, z: 2 };

describe("camera math", () => {
  it("converts screen to page and back", () => {
    expect(screenToPage(cam, { x: 300, y: 150 })).toEqual({ x: 100, y: 100 });
    expect(pageToScreen(cam, { x: 100, y: 100 })).toEqual({ x: 300, y: 150 });
    const p = { x: 37.5, y: -12 };
    expect(screenToPage(cam, pageToScreen(cam, p))).toEqual(p);
  });

  it("zooms around a point, which stays under it", () => {
    const point = { x: 400, y: 300 };
    const before = screenToPage(cam, point);
    const next = zoomAt(cam, point, 1.5);
    expect(next.z).toBe(3);
    const after = screenToPage(next, point);
    expect(after.x).toBeCloseTo(before.x, 9);
    expect(after.y).toBeCloseTo(before.y, 9);
  });

  it("clamps the zoom to 0.1–8, still around the point", () => {
    expect(zoomAt(cam, { x: 0, y: 0 }, 100).z).toBe(MAX_ZOOM);
    expect(zoomAt(cam, { x: 0, y: 0 }, 0.0001).z).toBe(MIN_ZOOM);
    const point = { x: 10, y: 20 };
    const page = screenToPage(cam, point);
    const far = zoomAt(cam, point, 1000);
    expect(screenToPage(far, point).x).toBeCloseTo(page.x, 9);
    expect(clampZoom(Number.NaN)).toBe(1);
    expect(zoomTo(cam, point, 1).z).toBe(1);
  });

  it("fits bounds whole and centred in the viewport", () => {
    const fitted = fitCamera({ x: 0, y: 0, width: 4096, height: 2048 }, { width: 1040, height: 800 }, 20);
    expect(fitted.z).toBeCloseTo(1000 / 4096, 9);
    // The map's corners land inside the margins, centred vertically.
    const topLeft = pageToScreen(fitted, { x: 0, y: 0 });
    const bottomRight = pageToScreen(fitted, { x: 4096, y: 2048 });
    expect(topLeft.x).toBeCloseTo(20, 9);
    expect(bottomRight.x).toBeCloseTo(1020, 9);
    expect((topLeft.y + bottomRight.y) / 2).toBeCloseTo(400, 9);
    // A tiny map is not blown up past the maximum zoom.
    expect(fitCamera({ x: 0, y: 0, width: 10, height: 10 }, { width: 1000, height: 1000 }).z).toBe(MAX_ZOOM);
    // Bounds not at the origin are centred too.
    const offset = fitCamera({ x: 500, y: 500, width: 100, height: 100 }, { width: 200, height: 200 }, 0);
    expect(pageToScreen(offset, { x: 550, y: 550 })).toEqual({ x: 100, y: 100 });
  });

  it("steps through the zoom levels from wherever the zoom is", () => {
    expect(stepZoom(1, -1)).toBe(0.75);
    expect(stepZoom(0.75, -1)).toBe(0.5);
    expect(stepZoom(1, 1)).toBe(1.25);
    expect(stepZoom(0.8, 1)).toBe(1);
    expect(stepZoom(0.8, -1)).toBe(0.75);
    expect(stepZoom(8, 1)).toBe(MAX_ZOOM);
    expect(stepZoom(0.1, -1)).toBe(MIN_ZOOM);
  });

  it("pans by screen pixels and centres on a page point", () => {
    expect(panBy(cam, 10, -5)).toEqual({ x: 110, y: -55, z: 2 });
    const centred = centreOn(cam, { x: 64, y: 32 }, { width: 390, height: 700 });
    expect(pageToScreen(centred, { x: 64, y: 32 })).toEqual({ x: 195, y: 350 });
    expect(centred.z).toBe(2);
  });

  it("reads back only well-formed cameras", () => {
    expect(parseCamera({ x: 1, y: 2, z: 3 })).toEqual({ x: 1, y: 2, z: 3 });
    expect(parseCamera({ x: 1, y: 2, z: 30 })).toBeNull();
    expect(parseCamera({ x: "1", y: 2, z: 1 })).toBeNull();
    expect(parseCamera({ x: Number.POSITIVE_INFINITY, y: 2, z: 1 })).toBeNull();
    expect(parseCamera(null)).toBeNull();
  });
});

describe("first views and pan limits", () => {
  const map = { x: 0, y: 0, width: 2048, height: 1536 };
  const phone = { width: 390, height: 734 };
  const desktop = { width: 1280, height: 820 };

  it("fits the whole map on a desktop", () => {
    expect(firstView(map, desktop)).toEqual(fitCamera(map, desktop));
    expect(firstView(map, desktop).z).toBeCloseTo(0.513, 3);
  });

  it("covers a phone's window with the map, around the viewer's token, never past the map's edges", () => {
    // Fitting would be 0.23: covering the 734 px height gives 734 / 1536.
    const z = 734 / 1536;
    const centred = firstView(map, phone);
    expect(centred.z).toBeCloseTo(z, 6);
    expect(centred.y).toBeCloseTo(0, 6);
    expect(centred.x).toBeCloseTo((390 - 2048 * z) / 2, 6);
    // A token near the map's top left: the map's corner at the window's, no table beyond it.
    expect(firstView(map, phone, { x: 96, y: 96 })).toEqual({ x: 0, y: 0, z });
    // Near the right edge: the map's right edge at the window's.
    const right = firstView(map, phone, { x: 2000, y: 800 });
    expect(right.x + 2048 * z).toBeCloseTo(390, 6);
    // A small map on a big window is never blown up past 100%.
    expect(firstView({ x: 0, y: 0, width: 300, height: 200 }, desktop).z).toBe(1);
  });

  it("clamps a camera so the map covers the window where it is larger, and centres it where smaller", () => {
    expect(clampToCover({ x: 368, y: 268, z: 1 }, map, { width: 800, height: 600 })).toEqual({ x: 0, y: 0, z: 1 });
    expect(clampToCover({ x: -5000, y: -5000, z: 1 }, map, { width: 800, height: 600 })).toEqual({ x: -1248, y: -936, z: 1 });
    expect(clampToCover({ x: 7, y: 9, z: 0.25 }, map, { width: 800, height: 600 })).toEqual({ x: 144, y: 108, z: 0.25 });
  });

  it("keeps some of the map in the window whatever the pan", () => {
    const view = { width: 800, height: 600 };
    // Far past the bottom right: the map's bottom right corner 96 px inside the window's top left.
    expect(keepInView({ x: -9000, y: -9000, z: 1 }, map, view)).toEqual({ x: 96 - 2048, y: 96 - 1536, z: 1 });
    expect(keepInView({ x: 9000, y: 9000, z: 2 }, map, view)).toEqual({ x: 800 - 96, y: 600 - 96, z: 2 });
    // A camera that shows the map is left alone.
    expect(keepInView(cam, map, view)).toEqual(cam);
    // A map smaller than the margin stays whole in the window.
    expect(keepInView({ x: -500, y: 0, z: 0.02 }, map, view).x).toBeCloseTo(2048 * 0.02 - 2048 * 0.02, 6);
  });
});

describe("camera store", () => {
  it("keeps each user's camera per session and scene", async () => {
    const ann = createCameraStore("ann", "s1");
    await ann.save("scene-a", { x: 5, y: 6, z: 0.5 });
    await ann.save("scene-b", { x: -1, y: 0, z: 4 });
    expect(await ann.load("scene-a")).toEqual({ x: 5, y: 6, z: 0.5 });
    expect(await ann.load("scene-b")).toEqual({ x: -1, y: 0, z: 4 });
    // Another user of the same browser, or another session, starts from nothing.
    expect(await createCameraStore("bob", "s1").load("scene-a")).toBeNull();
    expect(await createCameraStore("ann", "s2").load("scene-a")).toBeNull();
    // A fresh store (a reload) reads the same.
    expect(await createCameraStore("ann", "s1").load("scene-a")).toEqual({ x: 5, y: 6, z: 0.5 });
  });
});
