import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  checkerPng,
  cuttableNetwork,
  joinThroughInvite,
  launchBrowser,
  openGmTab,
  registerThroughUi,
  screenshot,
  skipReason,
  uniqueUsername,
  waitForImage,
  withFailureScreenshots,
} from "./harness.mjs";

let harness;

before(async () => {
  if (!skipReason) harness = await launchBrowser();
});

after(async () => {
  await harness?.close();
});

/** Drags the token named `name` on `page` by (dx, dy) pixels with the mouse, in small steps. */
async function dragToken(page, name, dx, dy) {
  await page.getByRole("button", { name, exact: true }).scrollIntoViewIfNeeded();
  const box = await page.getByRole("button", { name, exact: true }).boundingBox();
  assert.ok(box, `${name} is on the table`);
  const from = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  for (let step = 1; step <= 8; step++) await page.mouse.move(from.x + (dx * step) / 8, from.y + (dy * step) / 8);
  await page.mouse.up();
}

/** The token's confirmed-or-queued position as the table draws it (`data-x`, `data-y`). */
async function position(page, name) {
  const token = page.getByRole("button", { name, exact: true });
  return { x: Number(await token.getAttribute("data-x")), y: Number(await token.getAttribute("data-y")) };
}

/** Waits until the token named `name` sits at `x` on `page`. */
async function waitForX(page, name, x) {
  await page.waitForFunction(
    ([tokenName, expected]) => {
      const token = [...document.querySelectorAll("button.token")].find((b) => b.getAttribute("aria-label") === tokenName);
      return token !== undefined && Number(token.getAttribute("data-x")) === expected;
    },
    [name, x],
  );
}

test("the GM's table reaches two players live: new tokens, hiding, and a move made while one was offline", {
  skip: skipReason,
}, async () => {
  const gm = await harness.newUser("gm");
  const ann = await harness.newUser("player-ann");
  const bob = await harness.newUser("player-bob");
  const sessionName = `Sunken Crypt ${Date.now().toString(36)}`;

  const setAnnOffline = await cuttableNetwork(ann, { context: true });

  await withFailureScreenshots("table", [gm, ann, bob], async () => {
    // The GM creates a session; both players join through the invite link and wait at the table.
    await gm.page.goto("/");
    await registerThroughUi(gm.page, uniqueUsername("gm"));
    await gm.page.getByLabel("Session name").fill(sessionName);
    await gm.page.getByRole("button", { name: "Create session" }).click();
    const invite = await gm.page.getByLabel("Invite link").inputValue();

    const usernames = new Map();
    for (const player of [ann, bob]) {
      usernames.set(player, uniqueUsername(player.label.slice(-3)));
      await player.page.goto(invite);
      await registerThroughUi(player.page, usernames.get(player));
      await player.page.getByRole("heading", { name: sessionName, level: 1 }).waitFor();
      await player.page.getByText("The GM has not opened a scene yet.").waitFor();
      await player.page.getByRole("status", { name: "Connection" }).filter({ hasText: "Live" }).waitFor();
    }

    // The GM opens the table, creates a scene and activates it.
    await gm.page.getByRole("link", { name: `Open ${sessionName}` }).click();
    await gm.page.getByRole("heading", { name: sessionName, level: 1 }).waitFor();
    await gm.page.getByRole("status", { name: "Connection" }).filter({ hasText: "Live" }).waitFor();
    await gm.page.getByLabel("Scene name").fill("Flooded Vault");
    await gm.page.getByRole("button", { name: "Create scene" }).click();
    await gm.page.getByRole("button", { name: "Activate Flooded Vault" }).click();
    await gm.page.getByTestId("active-scene").filter({ hasText: "Flooded Vault" }).waitFor();

    // A map for the scene, uploaded with a progress bar.
    await gm.page.getByLabel("Map for Flooded Vault").setInputFiles({
      name: "vault.png",
      mimeType: "image/png",
      buffer: checkerPng(640, [40, 70, 90], [30, 52, 68]),
    });
    await waitForImage(gm.page, "img.table-map");

    // The GM makes a library token with art: uploaded, then framed with the crop tool (zoom, then a drag).
    await openGmTab(gm.page, "Library");
    await gm.page.getByLabel("Token name").fill("Drowned knight");
    await gm.page.getByLabel("Place on").selectOption({ label: "Library (no scene)" });
    await gm.page.getByLabel("Art for the new token").setInputFiles({
      name: "knight.png",
      mimeType: "image/png",
      buffer: checkerPng(96, [200, 180, 120], [120, 90, 60]),
    });
    const cropReadout = gm.page.getByRole("status", { name: "Crop" });
    await cropReadout.waitFor();
    await gm.page.getByRole("slider", { name: "Zoom" }).fill("2");
    const stage = gm.page.getByRole("application", { name: /Crop area/ });
    const stageBox = await stage.boundingBox();
    assert.ok(stageBox);
    const grip = { x: stageBox.x + stageBox.width / 2, y: stageBox.y + stageBox.height / 2 };
    await gm.page.mouse.move(grip.x, grip.y);
    await gm.page.mouse.down();
    for (let step = 1; step <= 6; step++) await gm.page.mouse.move(grip.x + step * 6, grip.y - step * 4);
    await gm.page.mouse.up();
    const shownCrop = JSON.parse(await cropReadout.getAttribute("data-crop"));
    assert.equal(shownCrop.scale, 2);
    assert.deepEqual([shownCrop.translate_x, shownCrop.translate_y], [36, -24]);
    await screenshot(gm.page, "table-01a-gm-crops-token-art");
    await gm.page.getByRole("button", { name: "Add token" }).click();
    const libraryItem = gm.page.getByRole("list", { name: "Token library" }).getByRole("listitem", { name: "Drowned knight" });
    await libraryItem.waitFor();
    await gm.page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();

    // Dragged from the library onto the table: a copy of the token and of its art lands in the cell under the pointer.
    // (A window tall enough to show both: the automated drag is lost if the page scrolls in between.)
    const surface = gm.page.locator(".table-surface");
    await gm.page.setViewportSize({ width: 1280, height: 1800 });
    await gm.page.evaluate(() => window.scrollTo(0, 0));
    await libraryItem.dragTo(surface, { targetPosition: { x: 3 * 64 + 20, y: 2 * 64 + 20 } });
    await gm.page.setViewportSize({ width: 1280, height: 860 });
    const gmToken = gm.page.getByRole("button", { name: "Drowned knight", exact: true });
    await gmToken.waitFor();
    await waitForImage(gm.page, "button.token img.token-art");
    assert.deepEqual(await position(gm.page, "Drowned knight"), { x: 3 * 64, y: 2 * 64 });
    await gm.page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();
    await gm.page.getByRole("button", { name: "Deselect" }).click();
    await screenshot(gm.page, "table-01-gm-scene-and-token");

    // The server holds exactly the crop the tool showed, on the library token's art and on the copy's.
    const sessionId = decodeURIComponent(new URL(gm.page.url()).pathname.split("/")[2]);
    const placedId = await gmToken.getAttribute("data-token-id");
    const stored = await gm.page.evaluate(async (sid) => {
      const get = async (path) => (await fetch(`/api/vtt/sessions/${sid}/${path}`, { headers: { Accept: "application/json" } })).json();
      return { tokens: (await get("tokens")).items, art: (await get("token-art")).items };
    }, sessionId);
    const libraryToken = stored.tokens.find((t) => t.name === "Drowned knight" && t.scene_id === null);
    const placedToken = stored.tokens.find((t) => t.id === placedId);
    assert.ok(libraryToken && placedToken, "the library token and its copy on the scene are stored");
    assert.notEqual(placedToken.id, libraryToken.id);
    assert.equal(placedToken.scene_id, await surface.getAttribute("data-scene-id"));
    const artOf = (tokenId) => stored.art.find((a) => a.token_id === tokenId);
    assert.deepEqual(artOf(libraryToken.id)?.crop, shownCrop);
    assert.deepEqual(artOf(placedToken.id)?.crop, shownCrop);
    assert.equal(artOf(placedToken.id)?.image_asset, artOf(libraryToken.id)?.image_asset);
    assert.notEqual(artOf(placedToken.id)?.id, artOf(libraryToken.id)?.id);

    // Both players see the scene and the token without reloading.
    for (const player of [ann, bob]) {
      await player.page.getByTestId("active-scene").filter({ hasText: "Flooded Vault" }).waitFor();
      await player.page.getByRole("button", { name: "Drowned knight", exact: true }).waitFor();
      await waitForImage(player.page, "img.table-map");
      await waitForImage(player.page, "button.token img.token-art");
      assert.deepEqual(JSON.parse(await player.page.locator("button.token img.token-art").getAttribute("data-crop")), shownCrop);
    }
    await screenshot(ann.page, "table-02-player-sees-token-live");

    // The GM draws on the table and pins a note: players see the drawing live, never the note.
    await gm.page.getByRole("toolbar", { name: "Table tools" }).getByRole("button", { name: "Draw", exact: true }).click();
    await gm.page.evaluate(() => window.scrollTo(0, 0));
    const tableBox = await gm.page.locator(".table-surface").boundingBox();
    assert.ok(tableBox);
    const pen = { x: tableBox.x + 420, y: tableBox.y + 300 };
    await gm.page.mouse.move(pen.x, pen.y);
    await gm.page.mouse.down();
    for (let step = 1; step <= 10; step++) await gm.page.mouse.move(pen.x + step * 12, pen.y + Math.round(20 * Math.sin(step / 2)));
    await gm.page.mouse.up();
    await gm.page.getByRole("toolbar", { name: "Table tools" }).getByRole("button", { name: "Note", exact: true }).click();
    await gm.page.mouse.click(tableBox.x + 520, tableBox.y + 420);
    await gm.page.getByRole("textbox", { name: "Note text" }).fill("The knight wakes when the water rises");
    await gm.page.getByRole("button", { name: "Save note" }).click();
    await gm.page.getByRole("button", { name: /^Note: The knight wakes/ }).waitFor();
    await gm.page.getByRole("toolbar", { name: "Table tools" }).getByRole("button", { name: "Select", exact: true }).click();
    await gm.page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();
    for (const player of [ann, bob]) {
      await player.page.locator("svg.drawings-layer path[data-stroke-id]").waitFor();
      assert.equal(await player.page.locator(".note-pin").count(), 0);
      assert.equal(await player.page.getByRole("toolbar", { name: "Table tools" }).count(), 0);
    }
    await screenshot(bob.page, "table-02a-player-sees-drawing-not-note");

    // The GM clears the drawings by mistake: the notice offers Undo, which brings the same drawing back for everyone.
    const drawn = gm.page.locator("svg.drawings-layer path[data-stroke-id]").first();
    const [strokeId, strokePath] = [await drawn.getAttribute("data-stroke-id"), await drawn.getAttribute("d")];
    await gm.page.getByRole("toolbar", { name: "Table tools" }).getByRole("button", { name: "Clear drawings" }).click();
    await gm.page.getByRole("toolbar", { name: "Table tools" }).getByRole("button", { name: "Clear", exact: true }).click();
    const cleared = gm.page.getByRole("status").filter({ hasText: "Cleared the drawings of Flooded Vault." });
    await cleared.waitFor();
    for (const page of [gm.page, bob.page]) await page.locator("svg.drawings-layer path[data-stroke-id]").waitFor({ state: "detached" });
    await screenshot(gm.page, "table-02b-gm-cleared-drawings-undo");
    await cleared.getByRole("button", { name: "Undo" }).click();
    await cleared.waitFor({ state: "detached" });
    for (const player of [gm, ann, bob]) {
      const back = player.page.locator(`svg.drawings-layer path[data-stroke-id="${strokeId}"]`);
      await back.waitFor();
      assert.equal(await back.getAttribute("d"), strokePath);
    }
    await gm.page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();

    // The GM hides the token: the players stop seeing it; the GM still does, marked hidden.
    await gmToken.click();
    await gm.page.getByRole("button", { name: "Hide from players" }).click();
    await gm.page.getByRole("button", { name: "Drowned knight (hidden)", exact: true }).waitFor();
    for (const player of [ann, bob]) {
      await player.page.getByRole("button", { name: "Drowned knight", exact: true }).waitFor({ state: "detached" });
    }
    await screenshot(gm.page, "table-03-gm-token-hidden");
    await screenshot(bob.page, "table-04-player-token-gone");
    assert.equal(await bob.page.locator("button.token").count(), 0);

    // Shown again, it comes back for both.
    await gm.page.getByRole("button", { name: "Show to players" }).click();
    for (const player of [ann, bob]) {
      await player.page.getByRole("button", { name: "Drowned knight", exact: true }).waitFor();
    }

    // The GM turns the grid up; the players' grid follows (the session state's `grid_opacity` flag).
    await openGmTab(gm.page, "Settings");
    await gm.page.getByLabel("Grid opacity").fill("0.9");
    for (const player of [ann, bob]) {
      await player.page.waitForFunction(() => document.querySelector(".table-grid")?.style.opacity === "0.9");
    }
    await bob.page.getByText("3 people at the table").waitFor();

    // Ann goes offline. The GM drags the token; Bob sees the drag's ghost, then the drop.
    const start = await position(gm.page, "Drowned knight");
    await setAnnOffline(true);
    await ann.page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "Live" }).waitFor();
    const box = await gm.page.getByRole("button", { name: "Drowned knight", exact: true }).boundingBox();
    assert.ok(box);
    const from = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
    await gm.page.mouse.move(from.x, from.y);
    await gm.page.mouse.down();
    for (let step = 1; step <= 10; step++) await gm.page.mouse.move(from.x + step * 20, from.y + step * 10);
    await bob.page.locator("[data-ghost-for]").first().waitFor();
    await screenshot(bob.page, "table-05-player-sees-drag-preview");
    await gm.page.mouse.up();
    // The drop snaps the token's corner to the nearest corner of the scene's 64-px grid.
    const moved = { x: Math.round((start.x + 200) / 64) * 64, y: Math.round((start.y + 100) / 64) * 64 };
    await waitForX(gm.page, "Drowned knight", moved.x);
    await gm.page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();
    await waitForX(bob.page, "Drowned knight", moved.x);
    assert.deepEqual(await position(bob.page, "Drowned knight"), moved);
    await screenshot(gm.page, "table-06-gm-moved-token");
    // Offline, Ann still shows the token where it was.
    assert.deepEqual(await position(ann.page, "Drowned knight"), start);
    await screenshot(ann.page, "table-07-player-offline-old-position");

    // Ann comes back online and shows the GM's position, without a reload.
    await setAnnOffline(false);
    await waitForX(ann.page, "Drowned knight", moved.x);
    assert.deepEqual(await position(ann.page, "Drowned knight"), moved);
    await screenshot(ann.page, "table-08-player-back-online");

    // The GM gives the token to Bob: Bob may drag it, Ann still may not.
    await gm.page.getByRole("button", { name: "Drowned knight", exact: true }).click();
    await gm.page.getByRole("checkbox", { name: usernames.get(bob) }).check();
    await bob.page.locator("button.token.token-movable").waitFor();
    assert.equal(await ann.page.locator("button.token.token-movable").count(), 0);
    const bobBox = await bob.page.getByRole("button", { name: "Drowned knight", exact: true }).boundingBox();
    assert.ok(bobBox);
    const grab = { x: bobBox.x + bobBox.width / 2, y: bobBox.y + bobBox.height / 2 };
    await bob.page.mouse.move(grab.x, grab.y);
    await bob.page.mouse.down();
    for (let step = 1; step <= 8; step++) await bob.page.mouse.move(grab.x + step * 16, grab.y);
    await bob.page.mouse.up();
    const byBob = { x: moved.x + 128, y: moved.y };
    for (const user of [gm, ann, bob]) await waitForX(user.page, "Drowned knight", byBob.x);
    assert.deepEqual(await position(gm.page, "Drowned knight"), byBob);
    await screenshot(bob.page, "table-09-player-moved-own-token");

    // Rotate and resize reach the players; deleting the token takes it off every table.
    await gm.page.getByRole("button", { name: "Rotate right 15°" }).click();
    await gm.page.getByLabel("Width").fill("2");
    await gm.page.getByLabel("Height").fill("2");
    await gm.page.getByRole("button", { name: "Resize" }).click();
    await ann.page.waitForFunction(() => {
      const token = document.querySelector("button.token");
      return token instanceof HTMLElement && token.style.transform === "rotate(15deg)" && token.style.width === "128px";
    });
    await screenshot(ann.page, "table-10-player-sees-rotated-resized-token");
    await gm.page.getByRole("button", { name: "Archive token" }).click();
    for (const user of [gm, ann, bob]) {
      await user.page.getByRole("button", { name: /^Drowned knight/ }).waitFor({ state: "detached" });
    }

    // The GM prepares another scene: its tokens stay off the players' table.
    await openGmTab(gm.page, "Scenes");
    await gm.page.getByLabel("Scene name").fill("Drowned Chapel");
    await gm.page.getByRole("button", { name: "Create scene" }).click();
    // A new scene is on the GM's table at once, to be prepared.
    await gm.page.getByText("Preparing Drowned Chapel").waitFor();
    await openGmTab(gm.page, "Library");
    await gm.page.getByLabel("Token name").fill("Eel swarm");
    await gm.page.getByRole("button", { name: "Add token" }).click();
    await gm.page.getByRole("button", { name: "Eel swarm", exact: true }).waitFor();
    await gm.page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();
    await screenshot(gm.page, "table-11-gm-prepares-another-scene");
    await gm.page.getByRole("button", { name: "Back to the active scene" }).click();
    await gm.page.getByRole("button", { name: "Eel swarm", exact: true }).waitFor({ state: "detached" });
    for (const player of [ann, bob]) {
      assert.equal(await player.page.getByRole("button", { name: "Eel swarm" }).count(), 0);
      assert.equal(await player.page.getByText("Drowned Chapel").count(), 0);
    }

    // Archived, the scene leaves the list; restored, it comes back.
    await openGmTab(gm.page, "Scenes");
    const sceneList = gm.page.getByRole("list", { name: "Scenes", exact: true });
    // A scene takes its tokens along: Archive asks first, then the notice offers Undo.
    await gm.page.getByRole("button", { name: "Archive Drowned Chapel" }).click();
    await gm.page.getByRole("button", { name: "Archive it" }).click();
    await sceneList.getByText("Drowned Chapel").waitFor({ state: "detached" });
    const archivedNotice = gm.page.getByRole("status").filter({ hasText: "Archived Drowned Chapel." });
    await archivedNotice.waitFor();
    await screenshot(gm.page, "table-11b-gm-archived-scene-with-undo");
    await archivedNotice.getByRole("button", { name: "Dismiss" }).click();
    await gm.page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();
    await openGmTab(gm.page, "Archive");
    await gm.page.getByRole("button", { name: "Show archived scenes" }).click();
    await gm.page.getByRole("button", { name: "Restore Drowned Chapel" }).click();
    await openGmTab(gm.page, "Scenes");
    await sceneList.getByText("Drowned Chapel").waitFor();
    await screenshot(gm.page, "table-12-gm-restored-scene");

    assert.deepEqual([...gm.errors, ...ann.errors, ...bob.errors], []);
  });
});

test("a co-GM's move made offline that collides with the GM's opens the conflict dialog", { skip: skipReason }, async () => {
  const gm = await harness.newUser("gm");
  const cogm = await harness.newUser("co-gm");
  const sessionName = `Twin Thrones ${Date.now().toString(36)}`;
  const setCoGmOffline = await cuttableNetwork(cogm, { context: true });

  await withFailureScreenshots("table-conflict", [gm, cogm], async () => {
    await gm.page.goto("/");
    await registerThroughUi(gm.page, uniqueUsername("gm"));
    await gm.page.getByLabel("Session name").fill(sessionName);
    await gm.page.getByRole("button", { name: "Create session" }).click();
    const invite = await gm.page.getByLabel("Invite link").inputValue();
    await gm.page.getByRole("link", { name: `Open ${sessionName}` }).click();
    await gm.page.getByLabel("Scene name").fill("Throne Room");
    await gm.page.getByRole("button", { name: "Create scene" }).click();
    await gm.page.getByRole("button", { name: "Activate Throne Room" }).click();
    await gm.page.getByTestId("active-scene").filter({ hasText: "Throne Room" }).waitFor();
    await openGmTab(gm.page, "Library");
    await gm.page.getByLabel("Token name").fill("Usurper");
    await gm.page.getByRole("button", { name: "Add token" }).click();
    await gm.page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();

    // The second user joins and the GM makes them a co-GM (the socket reconnects with the new role).
    await joinThroughInvite(cogm, invite, sessionName);
    const cogmId = await cogm.page.evaluate(async () => (await (await fetch("/api/auth/me")).json()).user.id);
    const promoted = await gm.page.evaluate(
      async ([sid, userId]) => {
        const { csrf_token } = await (await fetch("/api/auth/me")).json();
        const response = await fetch(`/api/vtt/sessions/${sid}/members/${userId}`, {
          method: "PUT",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf_token },
          body: JSON.stringify({ role: "gm" }),
        });
        return response.status;
      },
      [decodeURIComponent(new URL(gm.page.url()).pathname.split("/")[2]), cogmId],
    );
    assert.equal(promoted, 200);
    await cogm.page.locator(".page-heading").getByText("GM", { exact: true }).waitFor();
    await cogm.page.getByRole("button", { name: "Usurper", exact: true }).waitFor();
    const start = await position(cogm.page, "Usurper");

    // Offline, the co-GM drags the token: the move waits in the queue.
    await setCoGmOffline(true);
    await cogm.page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "Live" }).waitFor();
    await dragToken(cogm.page, "Usurper", 0, 192);
    await cogm.page.getByRole("status", { name: "Connection" }).filter({ hasText: "1 change queued" }).waitFor();
    await screenshot(cogm.page, "table-conflict-01-cogm-offline-move-queued");

    // Meanwhile the GM moves it elsewhere.
    await dragToken(gm.page, "Usurper", 256, 0);
    const byGm = { x: start.x + 256, y: start.y };
    await waitForX(gm.page, "Usurper", byGm.x);
    await gm.page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();

    // Back online, the co-GM's queued move is refused as stale: the dialog shows both sides.
    await setCoGmOffline(false);
    const dialog = cogm.page.getByRole("dialog", { name: "Conflicting change" });
    await dialog.waitFor();
    await dialog.getByRole("rowheader", { name: "y" }).waitFor();
    await screenshot(cogm.page, "table-conflict-02-dialog");

    // Use Server: the co-GM's move is dropped, the GM's position stays for both.
    await dialog.getByRole("button", { name: "Use Server" }).click();
    await dialog.waitFor({ state: "detached" });
    await waitForX(cogm.page, "Usurper", byGm.x);
    assert.deepEqual(await position(cogm.page, "Usurper"), byGm);
    assert.deepEqual(await position(gm.page, "Usurper"), byGm);
    await cogm.page.getByRole("status", { name: "Connection" }).filter({ hasText: "Live" }).filter({ hasNotText: "queued" }).waitFor();
    await screenshot(cogm.page, "table-conflict-03-server-kept");

    assert.deepEqual([...gm.errors, ...cogm.errors], []);
  });
});
