import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import {
  apiFromPage,
  artifactsDir,
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

/** The map's squares: 100 px, their lines starting 30 px from the left and 20 px from the top. */
const CELL = 100;
const OFFSET = { x: 30, y: 20 };
const MAP = { width: 760, height: 540 };

/** A parchment map with 2-px dark lines at x = 30 + 100k and y = 20 + 100k (RGB PNG). */
function gridMapPng() {
  const { width, height } = MAP;
  const onLine = (v, offset) => (((v - offset) % CELL) + CELL) % CELL < 2;
  const rows = Buffer.alloc(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    const row = y * (1 + width * 3);
    for (let x = 0; x < width; x++) {
      const line = onLine(x, OFFSET.x) || onLine(y, OFFSET.y);
      rows.set(line ? [40, 30, 20] : [214, 196, 150], row + 1 + x * 3);
    }
  }
  return encodePng(width, height, rows);
}

/** One row of pixels (RGBA) of a PNG screenshot, decoded by the page's own canvas. */
async function pixelRow(page, png, y) {
  return page.evaluate(
    async ([base64, row]) => {
      const image = new Image();
      image.src = `data:image/png;base64,${base64}`;
      await image.decode();
      const canvas = document.createElement("canvas");
      canvas.width = image.naturalWidth;
      canvas.height = image.naturalHeight;
      const context = canvas.getContext("2d");
      context.drawImage(image, 0, 0);
      return [...context.getImageData(0, row, canvas.width, 1).data];
    },
    [png.toString("base64"), y],
  );
}

/** Columns of a row where two RGBA rows differ: where the grid overlay drew. */
function changedColumns(a, b) {
  const out = [];
  for (let x = 0; x * 4 < a.length; x++) {
    const d = Math.abs(a[x * 4] - b[x * 4]) + Math.abs(a[x * 4 + 1] - b[x * 4 + 1]) + Math.abs(a[x * 4 + 2] - b[x * 4 + 2]);
    if (d > 12) out.push(x);
  }
  return out;
}

test("the GM fits the grid to a map's squares, tokens snap to its cells, and the ruler counts them", { skip: skipReason }, async () => {
  const gm = await harness.newUser("gm");
  const sessionName = `Grid Hall ${Date.now().toString(36)}`;
  await gm.page.setViewportSize({ width: 1600, height: 1800 });

  await withFailureScreenshots("grid", [gm], async () => {
    const page = gm.page;
    await page.goto("/");
    await registerThroughUi(page, uniqueUsername("gm"));
    await page.getByLabel("Session name").fill(sessionName);
    await page.getByRole("button", { name: "Create session" }).click();
    const invite = await page.getByLabel("Invite link").inputValue();
    await page.getByRole("link", { name: `Open ${sessionName}` }).click();
    await page.getByRole("heading", { name: sessionName, level: 1 }).waitFor();
    await page.getByRole("status", { name: "Connection" }).filter({ hasText: "Live" }).waitFor();
    await page.getByLabel("Scene name").fill("Flagstones");
    await page.getByRole("button", { name: "Create scene" }).click();
    await page.getByRole("button", { name: "Activate Flagstones" }).click();
    await page.getByTestId("active-scene").filter({ hasText: "Flagstones" }).waitFor();
    await page.getByLabel("Map for Flagstones").setInputFiles({ name: "flagstones.png", mimeType: "image/png", buffer: gridMapPng() });
    await waitForImage(page, "img.table-map");
    await page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, "grid-01-map-before-fitting");
    const early = await page.locator(".table-surface").boundingBox();
    assert.ok(early);
    await writeFile(
      path.join(artifactsDir, "grid-01b-map-close-up-before-fitting.png"),
      await page.screenshot({ clip: { x: early.x, y: early.y, width: MAP.width, height: MAP.height } }),
    );

    // The GM picks the grid-fit tool and drags a box over one of the map's squares.
    const tools = page.getByRole("toolbar", { name: "Table tools" });
    await tools.getByRole("button", { name: "Fit grid", exact: true }).click();
    const surface = page.locator(".table-surface");
    const table = await surface.boundingBox();
    assert.ok(table);
    const at = (x, y) => ({ x: table.x + x, y: table.y + y });
    const from = at(OFFSET.x + 3 * CELL, OFFSET.y + 2 * CELL);
    const to = at(OFFSET.x + 4 * CELL, OFFSET.y + 3 * CELL);
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    for (let step = 1; step <= 10; step++)
      await page.mouse.move(from.x + ((to.x - from.x) * step) / 10, from.y + ((to.y - from.y) * step) / 10);
    await screenshot(page, "grid-02-gm-drags-a-box-over-one-square");
    await page.mouse.up();
    await page.getByRole("status").filter({ hasText: "Grid fitted" }).waitFor();
    await page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();

    // The scene saved the fitted grid.
    const sid = decodeURIComponent(new URL(page.url()).pathname.split("/")[2]);
    const sceneId = await surface.getAttribute("data-scene-id");
    const saved = (await apiFromPage(page, "GET", `/api/vtt/sessions/${sid}/scenes/${sceneId}`)).body;
    assert.ok(Math.abs(saved.grid_size - CELL) <= 1, `grid_size ${saved.grid_size}`);
    assert.ok(Math.abs(saved.grid_offset_x - OFFSET.x) <= 1, `grid_offset_x ${saved.grid_offset_x}`);
    assert.ok(Math.abs(saved.grid_offset_y - OFFSET.y) <= 1, `grid_offset_y ${saved.grid_offset_y}`);
    assert.equal(saved.grid_type, "square");

    // Back to selecting; the overlay's lines fall on the map's lines.
    await tools.getByRole("button", { name: "Select", exact: true }).click();
    await page.mouse.move(5, 5);
    const clip = { x: table.x, y: table.y, width: MAP.width, height: MAP.height };
    const withGrid = await page.screenshot({ clip });
    await page.evaluate(() => {
      document.querySelector(".table-grid").style.visibility = "hidden";
    });
    const withoutGrid = await page.screenshot({ clip });
    await page.evaluate(() => {
      document.querySelector(".table-grid").style.visibility = "";
    });
    await screenshot(page, "grid-03-grid-fitted-to-the-map");
    await writeFile(path.join(artifactsDir, "grid-03b-map-close-up-with-fitted-grid.png"), withGrid);
    // A row through the middle of a row of squares: the overlay draws only its vertical lines there.
    const row = OFFSET.y + CELL + CELL / 2;
    const drawn = changedColumns(await pixelRow(page, withGrid, row), await pixelRow(page, withoutGrid, row));
    const mapLines = [];
    for (let x = OFFSET.x; x < MAP.width; x += CELL) mapLines.push(x);
    assert.ok(drawn.length > 0, "the overlay draws lines over the map");
    for (const x of drawn) {
      assert.ok(
        mapLines.some((line) => x >= line - 2 && x <= line + 3),
        `overlay pixel at x=${x} lies on a map line (${mapLines.join(", ")})`,
      );
    }
    for (const line of mapLines) {
      assert.ok(
        drawn.some((x) => x >= line - 2 && x <= line + 3),
        `the map line at x=${line} has the overlay on it`,
      );
    }

    // A token dragged from the library lands on the corner of the cell under the pointer.
    await openGmTab(page, "Library");
    await page.getByLabel("Token name").fill("Sentinel");
    await page.getByLabel("Place on").selectOption({ label: "Library (no scene)" });
    await page.getByRole("button", { name: "Add token" }).click();
    const libraryItem = page.getByRole("list", { name: "Token library" }).getByRole("listitem", { name: "Sentinel" });
    await libraryItem.waitFor();
    await page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();
    await page.evaluate(() => window.scrollTo(0, 0));
    await libraryItem.dragTo(surface, { targetPosition: { x: OFFSET.x + 2 * CELL + 63, y: OFFSET.y + CELL + 41 } });
    const sentinel = page.getByRole("button", { name: "Sentinel", exact: true });
    await sentinel.waitFor();
    assert.deepEqual(
      { x: Number(await sentinel.getAttribute("data-x")), y: Number(await sentinel.getAttribute("data-y")) },
      { x: OFFSET.x + 2 * CELL, y: OFFSET.y + CELL },
    );
    const tokenBox = await sentinel.boundingBox();
    assert.ok(tokenBox);
    assert.ok(Math.abs(tokenBox.width - CELL) <= 1, `a one-cell token is one cell wide (${tokenBox.width})`);
    await page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();
    await page.getByRole("button", { name: "Deselect" }).click();

    // The ruler: from the first square to six squares right and two down reads six cells (5 ft each).
    await tools.getByRole("button", { name: "Measure", exact: true }).click();
    const a = at(OFFSET.x + 40, OFFSET.y + 40);
    const b = at(OFFSET.x + 6 * CELL + 40, OFFSET.y + 2 * CELL + 40);
    await page.mouse.move(a.x, a.y);
    await page.mouse.down();
    for (let step = 1; step <= 10; step++) await page.mouse.move(a.x + ((b.x - a.x) * step) / 10, a.y + ((b.y - a.y) * step) / 10);
    await page.mouse.up();
    await page.getByText("6 cells · 30 ft").waitFor();
    await screenshot(page, "grid-04-token-snapped-and-ruler");

    // The GM runs an encounter: the token and a free combatant, started and begun.
    await tools.getByRole("button", { name: "Select", exact: true }).click();
    await openGmTab(page, "Initiative");
    const gmPanel = page.getByTestId("initiative-panel");
    await gmPanel.getByRole("button", { name: "New encounter" }).click();
    await gmPanel.getByText("No combatants yet.").waitFor();
    await gmPanel.getByRole("button", { name: "Add token", exact: true }).click();
    await gmPanel.getByTestId("initiative-combatant").first().waitFor();
    await gmPanel.getByLabel("Name of a combatant without a token").fill("Goblin");
    await gmPanel.getByRole("button", { name: "Add", exact: true }).click();
    await gmPanel.getByTestId("initiative-combatant").nth(1).waitFor();
    for (const [name, score] of [
      ["Sentinel", "15"],
      ["Goblin", "12"],
    ]) {
      // A row drawn again when the server confirms an earlier edit loses a value typed into it: type it again then.
      const field = gmPanel.getByLabel(`Initiative of ${name}`);
      for (let attempt = 1; ; attempt++) {
        await field.fill(score);
        await field.press("Tab");
        const kept = await page
          .waitForFunction(
            ([label, value]) => document.querySelector(`input[aria-label="${label}"]`)?.value === value,
            [`Initiative of ${name}`, score],
            {
              timeout: 2_000,
            },
          )
          .then(
            () => true,
            () => false,
          );
        if (kept) break;
        assert.ok(attempt < 3, `the initiative of ${name} is kept`);
      }
    }
    await page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();
    await gmPanel.getByRole("button", { name: "Start (show to players)" }).click();
    await page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();
    await gmPanel.getByRole("button", { name: "Begin round 1" }).click();

    // The order floats over the table with the current combatant marked, and a ring marks its token.
    const current = (p) => p.locator('[data-testid="initiative-overlay-row"][aria-current="step"]');
    await current(page).filter({ hasText: "Sentinel" }).waitFor();
    assert.deepEqual(await page.getByTestId("initiative-overlay-row").locator(".initiative-overlay-name").allTextContents(), [
      "Sentinel",
      "Goblin",
    ]);
    const ringBox = await page.locator(".initiative-ring").boundingBox();
    const sentinelBox = await sentinel.boundingBox();
    assert.ok(ringBox && sentinelBox);
    const centre = (b) => [b.x + b.width / 2, b.y + b.height / 2];
    for (const [r, t] of centre(ringBox).map((v, i) => [v, centre(sentinelBox)[i]]))
      assert.ok(Math.abs(r - t) <= 4, "the ring is around the token");

    // A player joining sees the fitted grid, the order over the table and the ring.
    const player = await harness.newUser("player");
    await joinThroughInvite(player, invite, sessionName);
    await waitForImage(player.page, "img.table-map");
    await current(player.page).filter({ hasText: "Sentinel" }).waitFor();
    await player.page.locator(".initiative-ring").waitFor();
    assert.equal(await player.page.locator(".table-grid").getAttribute("data-grid-size"), String(saved.grid_size));
    await screenshot(page, "grid-05-gm-initiative-over-the-table");
    await screenshot(player.page, "grid-06-player-sees-initiative-and-ring");
    // The GM moves the turn from the overlay: the player's overlay follows.
    await page.getByTestId("initiative-overlay").getByRole("button", { name: "Next combatant" }).click();
    await current(player.page).filter({ hasText: "Goblin" }).waitFor();
    await current(page).filter({ hasText: "Goblin" }).waitFor();
    await player.page.getByRole("button", { name: "Collapse the initiative order" }).click();
    assert.equal(await player.page.getByTestId("initiative-overlay-row").count(), 0);
    assert.deepEqual([...gm.errors, ...player.errors], []);
  });
});
