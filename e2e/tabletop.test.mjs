/**
 * The full-window table: a GM fits the map, zooms (wheel and buttons), pans, and drops a library
 * token at 50% zoom under the pointer; a player on a phone pans with one finger, pinch-zooms with
 * two and drags their own token by touch, which the GM sees move. Touches go through the DevTools
 * protocol (`Input.dispatchTouchEvent`): playwright's touchscreen only taps.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir } from "node:fs/promises";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  baseUrl,
  encodePng,
  joinThroughInvite,
  openGmTab,
  registerThroughUi,
  screenshot,
  skipReason,
  uniqueUsername,
  useBrowser,
  waitForImage,
  withFailureScreenshots,
} from "./harness.mjs";

const harness = useBrowser();

const docsImg = fileURLToPath(new URL("../docs/img/", import.meta.url));

// --- a generated map --------------------------------------------------------------------------

/**
 * A dungeon map as a PNG: dark rock, flagstone rooms joined by corridors, a pool, 64 px squares
 * (the table's cell) drawn faintly on the floors. Deterministic, so screenshots compare.
 */
function dungeonPng(width, height) {
  const px = Buffer.alloc(width * height * 3);
  const set = (x, y, [r, g, b]) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const i = (y * width + x) * 3;
    px[i] = r;
    px[i + 1] = g;
    px[i + 2] = b;
  };
  let seed = 7;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  // Rock.
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const n = ((x * 13 + y * 7) ^ (x * y)) % 11;
      set(x, y, [34 + n, 32 + n, 38 + n]);
    }
  }
  const floor = (x0, y0, w, h) => {
    for (let y = y0; y < y0 + h; y++) {
      for (let x = x0; x < x0 + w; x++) {
        const stone = ((Math.floor(x / 32) + Math.floor(y / 32)) % 2) * 6;
        const edge = x % 64 === 0 || y % 64 === 0 ? -18 : 0;
        const grain = Math.floor(rand() * 6);
        set(x, y, [150 + stone + edge + grain, 132 + stone + edge + grain, 104 + stone + edge + grain]);
      }
    }
    // Walls.
    for (let t = 0; t < 10; t++) {
      for (let x = x0 - 10; x < x0 + w + 10; x++) {
        set(x, y0 - 1 - t, [70, 62, 58]);
        set(x, y0 + h + t, [70, 62, 58]);
      }
      for (let y = y0 - 10; y < y0 + h + 10; y++) {
        set(x0 - 1 - t, y, [70, 62, 58]);
        set(x0 + w + t, y, [70, 62, 58]);
      }
    }
  };
  const rooms = [
    [128, 128, 640, 448],
    [1024, 192, 768, 512],
    [192, 832, 512, 576],
    [960, 960, 896, 448],
  ];
  for (const [x, y, w, h] of rooms) floor(x, y, w, h);
  // Corridors (drawn after the walls, so they cut through them).
  const corridor = (x0, y0, w, h) => {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) set(x, y, [128, 114, 92]);
  };
  corridor(758, 320, 276, 128);
  corridor(384, 566, 128, 276);
  corridor(694, 1088, 276, 128);
  corridor(1344, 694, 128, 276);
  // A pool in the great hall.
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const d = Math.hypot((x - 1400) / 1.4, y - 1180);
      if (d < 150) set(x, y, [38 + Math.floor(d / 6), 78 + Math.floor(d / 5), 112 + Math.floor(d / 4)]);
    }
  }
  const rows = Buffer.alloc(height * (1 + width * 3));
  for (let y = 0; y < height; y++) px.copy(rows, y * (1 + width * 3) + 1, y * width * 3, (y + 1) * width * 3);
  return encodePng(width, height, rows);
}

// --- the table as the page shows it --------------------------------------------------------------

const MAP = { width: 2048, height: 1536 };

/** The camera of the table on `page`: `{x, y, z}` from the viewport's `data-camera`. */
async function cameraOf(page) {
  const [x, y, z] = (await page.locator(".table-viewport").getAttribute("data-camera")).split(",").map(Number);
  return { x, y, z };
}

async function viewportBox(page) {
  const box = await page.locator(".table-viewport").boundingBox();
  assert.ok(box, "the table is on screen");
  return box;
}

/** The page point (scene pixels) under a client point, at the page's camera. */
async function pageAt(page, clientX, clientY) {
  const cam = await cameraOf(page);
  const vp = await viewportBox(page);
  return { x: (clientX - vp.x - cam.x) / cam.z, y: (clientY - vp.y - cam.y) / cam.z };
}

/** Waits until the camera differs from `before`, and returns it. */
async function cameraChange(page, before) {
  const text = `${before.x.toFixed(1)},${before.y.toFixed(1)},${before.z.toFixed(4)}`;
  await page.waitForFunction((was) => document.querySelector(".table-viewport")?.getAttribute("data-camera") !== was, text);
  return cameraOf(page);
}

/** Whether the client point is on the empty table (not on a token, a tool or a panel). */
async function emptyTableAt(page, x, y) {
  return page.evaluate(
    ([px, py]) => {
      const hit = document.elementFromPoint(px, py);
      return hit?.classList.contains("table-surface") === true;
    },
    [x, y],
  );
}

async function tokenPosition(page, name) {
  const token = page.getByRole("button", { name, exact: true });
  return { x: Number(await token.getAttribute("data-x")), y: Number(await token.getAttribute("data-y")) };
}

async function createTableWithMap(gm, sessionName, sceneName) {
  await gm.page.goto("/");
  await registerThroughUi(gm.page, uniqueUsername("gm"));
  await gm.page.getByLabel("Session name").fill(sessionName);
  await gm.page.getByRole("button", { name: "Create session" }).click();
  const invite = await gm.page.getByLabel("Invite link").inputValue();
  await gm.page.getByRole("link", { name: `Open ${sessionName}` }).click();
  await gm.page.getByRole("heading", { name: sessionName, level: 1 }).waitFor();
  await gm.page.getByRole("status", { name: "Connection" }).filter({ hasText: "Live" }).waitFor();
  await gm.page.getByLabel("Scene name").fill(sceneName);
  await gm.page.getByRole("button", { name: "Create scene" }).click();
  await gm.page.getByRole("button", { name: `Activate ${sceneName}` }).click();
  await gm.page.getByTestId("active-scene").filter({ hasText: sceneName }).waitFor();
  await gm.page.getByLabel(`Map for ${sceneName}`).setInputFiles({
    name: "keep.png",
    mimeType: "image/png",
    buffer: dungeonPng(MAP.width, MAP.height),
  });
  await waitForImage(gm.page, "img.table-map");
  return invite;
}

async function addToken(page, name, placeOn) {
  await openGmTab(page, "Library");
  await page.getByLabel("Token name").fill(name);
  if (placeOn) await page.getByLabel("Place on").selectOption({ label: placeOn });
  await page.getByRole("button", { name: "Add token", exact: true }).click();
}

// --- the GM at a desktop -------------------------------------------------------------------------

test("the GM fits the map to the window, zooms with the wheel and the buttons, pans, and drops a library token at 50% under the pointer", {
  skip: skipReason,
}, async () => {
  const gm = await harness.newUser("gm");
  await gm.page.setViewportSize({ width: 1440, height: 900 });
  const sessionName = `Ruined Keep ${Date.now().toString(36)}`;

  await withFailureScreenshots("tabletop-gm", [gm], async () => {
    await createTableWithMap(gm, sessionName, "Great Hall");
    for (const name of ["Knight", "Cleric", "Ranger"]) {
      await addToken(gm.page, name);
      await gm.page.getByRole("button", { name, exact: true }).waitFor();
    }
    await addToken(gm.page, "Ghoul", "Library (no scene)");
    const libraryItem = gm.page.getByRole("list", { name: "Token library" }).getByRole("listitem", { name: "Ghoul" });
    await libraryItem.waitFor();
    await gm.page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();

    // The page never scrolls: the table takes the window under the header.
    const scroll = await gm.page.evaluate(() => ({
      page: document.scrollingElement.scrollHeight,
      window: window.innerHeight,
      width: document.scrollingElement.scrollWidth,
    }));
    assert.ok(scroll.page <= scroll.window, `the page fits the window (${scroll.page} ≤ ${scroll.window})`);
    assert.ok(scroll.width <= 1440);
    const vp = await viewportBox(gm.page);
    assert.ok(vp.height >= 900 - 120, `the table takes most of the window's height (${vp.height})`);

    // Fit: the whole map, centred.
    await gm.page.getByRole("button", { name: "Fit map" }).click();
    const fitted = await cameraOf(gm.page);
    const expectedZoom = Math.min((vp.width - 32) / MAP.width, (vp.height - 32) / MAP.height);
    assert.ok(Math.abs(fitted.z - expectedZoom) < 1e-3, `fit zoom ${fitted.z} ≈ ${expectedZoom}`);
    const map = await gm.page.locator("img.table-map").boundingBox();
    assert.ok(map);
    assert.ok(map.x >= vp.x && map.y >= vp.y && map.x + map.width <= vp.x + vp.width + 0.5 && map.y + map.height <= vp.y + vp.height + 0.5);
    assert.ok(Math.abs(map.x + map.width / 2 - (vp.x + vp.width / 2)) < 2, "centred across");
    assert.ok(Math.abs(map.y + map.height / 2 - (vp.y + vp.height / 2)) < 2, "centred down");
    await gm.page.getByRole("button", { name: "Knight", exact: true }).click({ button: "right" });
    const menu = gm.page.getByRole("menu", { name: "Knight menu" });
    await menu.getByRole("menuitemcheckbox", { name: "Blinded" }).click();
    await gm.page.getByRole("img", { name: "Knight: Blinded", exact: true }).waitFor();
    await gm.page.keyboard.press("Escape");
    await menu.waitFor({ state: "detached" });
    await screenshot(gm.page, "tabletop-01-gm-fits-map");

    // The wheel zooms in around the pointer: the map point under it stays under it.
    const pointer = { x: vp.x + vp.width * 0.62, y: vp.y + vp.height * 0.4 };
    await gm.page.mouse.move(pointer.x, pointer.y);
    const underBefore = await pageAt(gm.page, pointer.x, pointer.y);
    const beforeWheel = await cameraOf(gm.page);
    await gm.page.mouse.wheel(0, -300);
    let wheeled = await cameraChange(gm.page, beforeWheel);
    await gm.page.waitForTimeout(200);
    wheeled = await cameraOf(gm.page);
    assert.ok(wheeled.z > beforeWheel.z * 1.3, `the wheel zooms in (${beforeWheel.z} → ${wheeled.z})`);
    const underAfter = await pageAt(gm.page, pointer.x, pointer.y);
    assert.ok(
      Math.abs(underAfter.x - underBefore.x) < 1 && Math.abs(underAfter.y - underBefore.y) < 1,
      "the point under the pointer stays",
    );
    assert.equal(await gm.page.evaluate(() => window.scrollY), 0, "the wheel never scrolls the page");

    // The buttons step through the zoom levels.
    await gm.page.getByRole("button", { name: "Zoom to 100%" }).click();
    assert.equal((await cameraOf(gm.page)).z, 1);
    await gm.page.getByRole("button", { name: "Zoom in" }).click();
    assert.equal((await cameraOf(gm.page)).z, 1.25);
    await gm.page.getByRole("button", { name: "Zoom to 100%" }).click();

    // A drag on empty table pans it: from a point of the lower right part that nothing covers (what
    // covers which point depends on where the zoom left the map and its tokens).
    let grab;
    for (const fy of [0.7, 0.6, 0.8, 0.5]) {
      for (const fx of [0.55, 0.65, 0.45, 0.75]) {
        const point = { x: vp.x + vp.width * fx, y: vp.y + vp.height * fy };
        if (!grab && (await emptyTableAt(gm.page, point.x, point.y))) grab = point;
      }
    }
    assert.ok(grab, "the drag starts on empty table");
    const beforePan = await cameraOf(gm.page);
    await gm.page.mouse.move(grab.x, grab.y);
    await gm.page.mouse.down();
    for (let step = 1; step <= 10; step++) await gm.page.mouse.move(grab.x - step * 15, grab.y - step * 9);
    await gm.page.mouse.up();
    const panned = await cameraOf(gm.page);
    assert.ok(Math.abs(panned.x - beforePan.x + 150) <= 6, `panned across by the drag (${panned.x - beforePan.x})`);
    assert.ok(Math.abs(panned.y - beforePan.y + 90) <= 6, `panned down by the drag (${panned.y - beforePan.y})`);
    assert.equal(panned.z, beforePan.z);
    await screenshot(gm.page, "tabletop-02-gm-zoomed-panned");

    // At 50% a library token dropped on the table lands in the cell under the pointer.
    await gm.page.getByRole("button", { name: "Zoom out" }).click();
    await gm.page.getByRole("button", { name: "Zoom out" }).click();
    assert.equal((await cameraOf(gm.page)).z, 0.5);
    const target = { x: Math.round(vp.width * 0.45), y: Math.round(vp.height * 0.55) };
    assert.ok(await emptyTableAt(gm.page, vp.x + target.x, vp.y + target.y), "the drop point is on empty table");
    const dropPage = await pageAt(gm.page, vp.x + target.x, vp.y + target.y);
    const cell = { x: Math.floor(dropPage.x / 64) * 64, y: Math.floor(dropPage.y / 64) * 64 };
    await libraryItem.dragTo(gm.page.locator(".table-viewport"), { targetPosition: target });
    const placed = gm.page.locator(".table-surface").getByRole("button", { name: "Ghoul", exact: true });
    await placed.waitFor();
    assert.deepEqual(await tokenPosition(gm.page, "Ghoul"), cell);
    const placedBox = await placed.boundingBox();
    assert.ok(placedBox);
    const drop = { x: vp.x + target.x, y: vp.y + target.y };
    assert.ok(
      drop.x >= placedBox.x && drop.x <= placedBox.x + placedBox.width && drop.y >= placedBox.y && drop.y <= placedBox.y + placedBox.height,
      "the token sits under the pointer",
    );
    await gm.page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();
    await screenshot(gm.page, "tabletop-03-gm-dropped-at-50");

    // The GM folds the panel away: the table takes the whole width; the choice stays after a reload.
    await gm.page.getByRole("button", { name: "GM panel" }).click();
    await gm.page.locator("#gm-panel").waitFor({ state: "hidden" });
    const wide = await viewportBox(gm.page);
    assert.ok(wide.width >= 1440 - 2, `the table is as wide as the window (${wide.width})`);
    const kept = await cameraOf(gm.page);
    await gm.page.reload();
    await gm.page.getByRole("heading", { name: sessionName, level: 1 }).waitFor();
    await waitForImage(gm.page, "img.table-map");
    assert.equal(await gm.page.getByRole("button", { name: "GM panel" }).getAttribute("aria-expanded"), "false");
    // The camera comes back from this browser's IndexedDB.
    await gm.page.waitForFunction((z) => document.querySelector(".table-viewport")?.getAttribute("data-zoom") === z.toFixed(3), kept.z);
    const restored = await cameraOf(gm.page);
    assert.ok(Math.abs(restored.x - kept.x) < 0.2 && Math.abs(restored.y - kept.y) < 0.2);
    await gm.page.getByRole("button", { name: "Fit map" }).click();
    await gm.page.getByRole("button", { name: "GM panel" }).click();
    await gm.page.locator("#gm-panel").waitFor();
    await gm.page.getByRole("button", { name: "Fit map" }).click();
    // The party walks into the great hall (drags at the fitted zoom move by screen distance / zoom).
    const z = (await cameraOf(gm.page)).z;
    for (const [name, to] of [
      ["Knight", { x: 1216, y: 1088 }],
      ["Cleric", { x: 1088, y: 1216 }],
      ["Ranger", { x: 1152, y: 1280 }],
    ]) {
      const token = gm.page.locator(".table-surface").getByRole("button", { name, exact: true });
      const at = await tokenPosition(gm.page, name);
      const b = await token.boundingBox();
      assert.ok(b);
      const grip = { x: b.x + b.width / 2, y: b.y + b.height / 2 };
      await gm.page.mouse.move(grip.x, grip.y);
      await gm.page.mouse.down();
      for (let step = 1; step <= 8; step++) {
        await gm.page.mouse.move(grip.x + ((to.x - at.x) * z * step) / 8, grip.y + ((to.y - at.y) * z * step) / 8);
      }
      await gm.page.mouse.up();
      const landed = await tokenPosition(gm.page, name);
      assert.ok(
        Math.abs(landed.x - to.x) <= 2 && Math.abs(landed.y - to.y) <= 2,
        `${name} lands where dragged at ${z}× (${landed.x},${landed.y})`,
      );
    }
    await openGmTab(gm.page, "Scenes");
    await gm.page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();
    await screenshot(gm.page, "tabletop-04-gm-table");
    await mkdir(docsImg, { recursive: true });
    await copyFile(await screenshot(gm.page, "tabletop-04-gm-table"), `${docsImg}gm-table.png`);
    assert.deepEqual(gm.errors, []);
  });
});

// --- a player on a phone -------------------------------------------------------------------------

test("a player on a phone pans with one finger, pinch-zooms with two, and drags their own token, which the GM sees move", {
  skip: skipReason,
}, async () => {
  const gm = await harness.newUser("gm");
  const context = await harness.browser.newContext({
    ...(baseUrl ? { baseURL: baseUrl } : {}),
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    hasTouch: true,
    isMobile: true,
  });
  context.setDefaultTimeout(15_000);
  const phonePage = await context.newPage();
  const phone = { label: "phone", context, page: phonePage, errors: [] };
  phonePage.on("pageerror", (error) => phone.errors.push(`[phone] page error: ${error.message}`));
  const sessionName = `Moonlit Ford ${Date.now().toString(36)}`;

  await withFailureScreenshots("tabletop-phone", [gm, phone], async () => {
    const invite = await createTableWithMap(gm, sessionName, "Ford");
    const username = await joinThroughInvite(phone, invite, sessionName);
    await phonePage.getByRole("status", { name: "Connection" }).filter({ hasText: "Live" }).waitFor();

    // The GM places the player's scout and a wolf, and gives the scout to the player.
    await addToken(gm.page, "Scout");
    await addToken(gm.page, "Wolf");
    await gm.page.getByRole("button", { name: "Scout", exact: true }).click();
    await gm.page.getByRole("checkbox", { name: username }).check();
    await gm.page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();
    await phonePage.locator("button.token.token-movable.token-own").waitFor();
    assert.equal(await phonePage.locator("button.token.token-own").count(), 1, "only the scout is the player's");
    await waitForImage(phonePage, "img.table-map");

    // Full screen: no page scroll, the table under a compact header.
    const vp = await viewportBox(phonePage);
    assert.ok(vp.y < 110, `a compact header (${vp.y} px)`);
    assert.ok(vp.height >= 844 - 110 && vp.width >= 388, `the table fills the phone (${vp.width}×${vp.height})`);
    assert.equal(await phonePage.evaluate(() => document.scrollingElement.scrollHeight <= window.innerHeight), true);

    // The first view of the scene (no camera kept yet) shows map in the whole window, at a zoom
    // where tokens can be touched: fitting the map would leave bands of empty table above and below.
    const first = await phonePage.locator("img.table-map").boundingBox();
    assert.ok(first);
    assert.ok(
      first.x <= vp.x + 0.5 &&
        first.y <= vp.y + 0.5 &&
        first.x + first.width >= vp.x + vp.width - 0.5 &&
        first.y + first.height >= vp.y + vp.height - 0.5,
      `the map covers the phone's table (${JSON.stringify(first)} vs ${JSON.stringify(vp)})`,
    );
    assert.ok((await cameraOf(phonePage)).z >= 0.45, "tokens are big enough to touch");
    await screenshot(phonePage, "tabletop-05a-phone-first-view");

    const cdp = await context.newCDPSession(phonePage);
    const touch = (type, points) =>
      cdp.send("Input.dispatchTouchEvent", {
        type,
        touchPoints: points.map((p, id) => ({ x: p.x, y: p.y, id, radiusX: 4, radiusY: 4, force: 1 })),
      });
    const frame = () => phonePage.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => resolve(null))));

    // One finger on empty map pans.
    const start = { x: vp.x + vp.width * 0.5, y: vp.y + vp.height * 0.62 };
    assert.ok(await emptyTableAt(phonePage, start.x, start.y), "the finger lands on empty map");
    const beforePan = await cameraOf(phonePage);
    await touch("touchStart", [start]);
    for (let step = 1; step <= 10; step++) {
      await touch("touchMove", [{ x: start.x - step * 12, y: start.y - step * 20 }]);
      await frame();
    }
    await touch("touchEnd", []);
    const panned = await cameraOf(phonePage);
    assert.ok(Math.abs(panned.x - beforePan.x + 120) <= 8, `one finger pans across (${panned.x - beforePan.x})`);
    assert.ok(Math.abs(panned.y - beforePan.y + 200) <= 8, `one finger pans down (${panned.y - beforePan.y})`);
    assert.equal(panned.z, beforePan.z);
    await screenshot(phonePage, "tabletop-05-phone-panned");

    // Two fingers spreading apart zoom in around their middle.
    const mid = { x: vp.x + vp.width * 0.5, y: vp.y + vp.height * 0.5 };
    const underBefore = await pageAt(phonePage, mid.x, mid.y);
    const beforePinch = await cameraOf(phonePage);
    await touch("touchStart", [
      { x: mid.x - 40, y: mid.y },
      { x: mid.x + 40, y: mid.y },
    ]);
    for (let step = 1; step <= 10; step++) {
      await touch("touchMove", [
        { x: mid.x - 40 - step * 6, y: mid.y },
        { x: mid.x + 40 + step * 6, y: mid.y },
      ]);
      await frame();
    }
    await touch("touchEnd", []);
    const pinched = await cameraOf(phonePage);
    assert.ok(pinched.z > beforePinch.z * 1.8, `the pinch zooms in (${beforePinch.z} → ${pinched.z})`);
    const underAfter = await pageAt(phonePage, mid.x, mid.y);
    assert.ok(Math.hypot(underAfter.x - underBefore.x, underAfter.y - underBefore.y) < 12, "the pinch keeps its middle in place");
    await screenshot(phonePage, "tabletop-06-phone-pinched");

    // "My token" centres the scout; a finger drags it; the GM sees it move.
    await phonePage.getByRole("button", { name: "Zoom to 100%" }).click();
    await phonePage.getByRole("button", { name: "My token" }).click();
    const scout = phonePage.getByRole("button", { name: "Scout", exact: true });
    const box = await scout.boundingBox();
    assert.ok(box);
    const centre = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
    // The scout stands near the map's top left corner: the view goes as close to centring it as
    // it can without showing table past the map's edges (the corner at the window's corner).
    assert.ok(
      box.x >= vp.x && box.y >= vp.y && box.x + box.width <= vp.x + vp.width && box.y + box.height <= vp.y + vp.height,
      "my token is in view",
    );
    const mapAtMine = await phonePage.locator("img.table-map").boundingBox();
    assert.ok(mapAtMine && Math.abs(mapAtMine.x - vp.x) < 1 && Math.abs(mapAtMine.y - vp.y) < 1, "no table shows above or left of the map");
    const from = await tokenPosition(phonePage, "Scout");
    await touch("touchStart", [centre]);
    for (let step = 1; step <= 10; step++) {
      await touch("touchMove", [{ x: centre.x + step * 12.8, y: centre.y + step * 19.2 }]);
      await frame();
    }
    await touch("touchEnd", []);
    const moved = { x: from.x + 128, y: from.y + 192 };
    await phonePage.waitForFunction(
      ([x, y]) => {
        const token = document.querySelector("button.token.token-own");
        return Number(token?.getAttribute("data-x")) === x && Number(token?.getAttribute("data-y")) === y;
      },
      [moved.x, moved.y],
    );
    await gm.page.waitForFunction(
      ([x, y]) => {
        const token = [...document.querySelectorAll("button.token")].find((b) => b.getAttribute("aria-label") === "Scout");
        return Number(token?.getAttribute("data-x")) === x && Number(token?.getAttribute("data-y")) === y;
      },
      [moved.x, moved.y],
    );
    assert.deepEqual(await tokenPosition(gm.page, "Scout"), moved);
    await screenshot(gm.page, "tabletop-07-gm-sees-scout-moved");
    await phonePage.getByRole("button", { name: "My token" }).click();
    await mkdir(docsImg, { recursive: true });
    await copyFile(await screenshot(phonePage, "tabletop-08-phone-table"), `${docsImg}phone-table.png`);
    assert.deepEqual([...gm.errors, ...phone.errors], []);
  });
  await context.close();
});
