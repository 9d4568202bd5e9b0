import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  checkerPng,
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

/** The session id of the table `page` shows (`/s/<id>`). */
function sessionIdOf(page) {
  return decodeURIComponent(new URL(page.url()).pathname.split("/")[2]);
}

/** A GET of the session's API with the page's cookie; returns the parsed body. */
async function getJson(page, path) {
  return page.evaluate(
    async (url) => {
      const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
      return response.json();
    },
    `/api/vtt/sessions/${encodeURIComponent(sessionIdOf(page))}/${path}`,
  );
}

/** Waits until the table on `page` has applied the session's changes up to `seq` (the heading's "seq N"). */
async function waitForSeq(page, seq) {
  await page.waitForFunction((wanted) => {
    const match = /seq (\d+)/.exec(document.querySelector(".page-heading .seq")?.textContent ?? "");
    return match !== null && Number(match[1]) >= wanted;
  }, seq);
}

/** What the initiative panel on `page` shows: the turn line, the names in order, whose turn it is. */
async function initiativeShown(page) {
  return page.getByTestId("initiative-panel").evaluate((panel) => {
    const nameOf = (row) => (row.querySelector(".item-name")?.textContent ?? "").replace(/^▶\s*/, "").trim();
    const rows = [...panel.querySelectorAll('[data-testid="initiative-combatant"]')];
    return {
      turn: panel.querySelector('[data-testid="initiative-turn"]')?.textContent?.trim() ?? null,
      order: rows.map(nameOf),
      current: rows.filter((row) => row.getAttribute("aria-current") === "step").map(nameOf),
      ids: rows.map((row) => row.getAttribute("data-combatant-id")),
    };
  });
}

/** How many badges of the condition `id` the table on `page` draws. */
function badgeCount(page, id) {
  return page.locator(`[data-testid="condition-badge"][data-condition-id="${id}"]`).count();
}

/** The cells (first, last) whose centres lie in [lo, hi] map pixels, as the fog's rectangle tool paints them. */
function cellRange(lo, hi, cellPx) {
  return [Math.ceil(lo / cellPx - 0.5), Math.floor(hi / cellPx - 0.5)];
}

/** A stored fog chunk's 64 × 64 cells (1 = revealed), decoded as modules/fog/mask.ts encodes them. */
function decodeChunk(text) {
  const bytes = Buffer.from(text.slice(1), "base64");
  const cells = new Uint8Array(64 * 64);
  if (text[0] === "b") {
    for (let i = 0; i < cells.length; i++) cells[i] = ((bytes[i >> 3] ?? 0) >> (i & 7)) & 1;
    return cells;
  }
  assert.equal(text[0], "r", `a chunk is run-length ("r") or bitmap ("b") encoded: ${text}`);
  let at = 0;
  let value = 0;
  for (let i = 0; i < bytes.length; ) {
    let run = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[i++];
      run |= (b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7;
    }
    if (value) cells.fill(1, at, at + run);
    at += run;
    value ^= 1;
  }
  assert.equal(at, cells.length, "the runs of a chunk add up to its cells");
  return cells;
}

test("the GM runs initiative, timed conditions and fog through the UI; the player follows each step live", {
  skip: skipReason,
}, async () => {
  const gm = await harness.newUser("gm");
  const player = await harness.newUser("player");
  const sessionName = `Ember Keep ${Date.now().toString(36)}`;
  const users = [gm, player];

  await withFailureScreenshots("modules", users, async () => {
    // The GM creates a session; the player joins through the invite link and waits at the table.
    await gm.page.goto("/");
    await registerThroughUi(gm.page, uniqueUsername("gm"));
    await gm.page.getByLabel("Session name").fill(sessionName);
    await gm.page.getByRole("button", { name: "Create session" }).click();
    const invite = await gm.page.getByLabel("Invite link").inputValue();

    await player.page.goto(invite);
    await registerThroughUi(player.page, uniqueUsername("player"));
    await player.page.getByRole("heading", { name: sessionName, level: 1 }).waitFor();
    await player.page.getByText("The GM has not opened a scene yet.").waitFor();
    await player.page.getByRole("status", { name: "Connection" }).filter({ hasText: "Live" }).waitFor();
    // Set once: it would be gone if the page reloaded, so everything below arrives live.
    await player.page.evaluate(() => {
      window.__sameDocument = true;
    });

    // The GM opens the table, creates a scene, activates it and gives it a 1024 × 1024 map.
    await gm.page.getByRole("link", { name: `Open ${sessionName}` }).click();
    await gm.page.getByRole("heading", { name: sessionName, level: 1 }).waitFor();
    await gm.page.getByRole("status", { name: "Connection" }).filter({ hasText: "Live" }).waitFor();
    await gm.page.getByLabel("Scene name").fill("Cinder Hall");
    await gm.page.getByRole("button", { name: "Create scene" }).click();
    await gm.page.getByRole("button", { name: "Activate Cinder Hall" }).click();
    await gm.page.getByTestId("active-scene").filter({ hasText: "Cinder Hall" }).waitFor();
    await gm.page.getByLabel("Map for Cinder Hall").setInputFiles({
      name: "hall.png",
      mimeType: "image/png",
      buffer: checkerPng(1024, [150, 110, 70], [110, 80, 50]),
    });
    await waitForImage(gm.page, "img.table-map");

    // Three tokens on the scene.
    await openGmTab(gm.page, "Library");
    const newToken = gm.page.getByRole("region", { name: "New token" });
    const names = ["Kobold", "Paladin", "Wizard"];
    for (const name of names) {
      await newToken.getByLabel("Token name").fill(name);
      await newToken.getByRole("button", { name: "Add token", exact: true }).click();
      await gm.page.getByRole("button", { name, exact: true }).waitFor();
    }
    await gm.page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();

    await player.page.getByTestId("active-scene").filter({ hasText: "Cinder Hall" }).waitFor();
    await waitForImage(player.page, "img.table-map");
    for (const name of names) await player.page.getByRole("button", { name, exact: true }).waitFor();
    // No encounter runs yet: the player's initiative panel is empty.
    assert.equal(await player.page.getByTestId("initiative-order").count(), 0);

    // The GM creates an encounter, adds the three tokens and sets their initiative.
    // The initiative panel is in the GM panel's Initiative tab; the conditions one in the Token tab.
    await openGmTab(gm.page, "Initiative");
    const gmPanel = gm.page.getByTestId("initiative-panel");
    await gmPanel.getByRole("button", { name: "New encounter" }).click();
    await gmPanel.getByRole("region", { name: "Encounter Encounter 1" }).waitFor();
    await gmPanel.getByText("No combatants yet.").waitFor();
    for (let added = 1; added <= names.length; added++) {
      await gmPanel.getByRole("button", { name: "Add token", exact: true }).click();
      await gmPanel
        .getByTestId("initiative-combatant")
        .nth(added - 1)
        .waitFor();
    }
    assert.equal(await gmPanel.getByRole("button", { name: "Add token", exact: true }).isDisabled(), true, "every token is in");
    const initiative = { Paladin: 18, Kobold: 12, Wizard: 7 };
    for (const [name, score] of Object.entries(initiative)) {
      // The rows are drawn again when the server confirms an earlier edit; a value typed into a row
      // replaced before it was committed (on leaving the field) is lost, so type it again then.
      const field = gmPanel.getByLabel(`Initiative of ${name}`);
      for (let attempt = 1; ; attempt++) {
        await field.fill(String(score));
        await field.press("Tab");
        const kept = await gm.page
          .waitForFunction(
            ([label, value]) => document.querySelector(`input[aria-label="${label}"]`)?.value === value,
            [`Initiative of ${name}`, String(score)],
            { timeout: 2_000 },
          )
          .then(
            () => true,
            () => false,
          );
        if (kept) break;
        assert.ok(attempt < 3, `the initiative of ${name} is kept`);
      }
    }
    await gm.page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();
    const order = ["Paladin", "Kobold", "Wizard"];
    assert.deepEqual((await initiativeShown(gm.page)).order, order);
    assert.equal((await initiativeShown(gm.page)).turn, "Not started");
    // Not started yet: the player still sees no encounter.
    assert.equal(await player.page.getByTestId("initiative-order").count(), 0);

    // Started, it reaches the player: the same order, not begun.
    await gmPanel.getByRole("button", { name: "Start (show to players)" }).click();
    await gmPanel.getByText("Running", { exact: true }).waitFor();
    await player.page.getByTestId("initiative-order").waitFor();
    await player.page.getByTestId("initiative-turn").filter({ hasText: "Not started" }).waitFor();
    const playerStart = await initiativeShown(player.page);
    assert.deepEqual(playerStart.order, order);
    assert.deepEqual(playerStart.current, []);
    assert.deepEqual(
      await player.page.getByTestId("initiative-score").allTextContents(),
      order.map((name) => ` ${initiative[name]}`),
    );
    assert.deepEqual(playerStart.ids, (await initiativeShown(gm.page)).ids);

    /**
     * Presses the GM's turn button and waits until both tables applied the turn (the route's answer
     * carries the session's seq after the turn and its effects, committed as one batch). Checks both
     * show `round` and `name`'s turn in the same order; returns the route's answer.
     */
    const nextTurn = async (round, name, button = "Next turn") => {
      const answered = gm.page.waitForResponse(
        (response) => response.request().method() === "POST" && /\/modules\/initiative\/encounters\/[^/]+\/next$/.test(response.url()),
      );
      await openGmTab(gm.page, "Initiative");
      await gmPanel.getByRole("button", { name: button, exact: true }).click();
      const response = await answered;
      assert.equal(response.status(), 200);
      const result = await response.json();
      assert.equal(result.encounter.round, round);
      for (const user of users) await waitForSeq(user.page, result.seq);
      const expected = `Round ${round}: ${name}'s turn`;
      for (const user of users) {
        await user.page.getByTestId("initiative-turn").filter({ hasText: expected }).waitFor();
        const shown = await initiativeShown(user.page);
        assert.equal(shown.turn, expected, `${user.label} sees whose turn it is`);
        assert.deepEqual(shown.order, order, `${user.label} sees the turn order`);
        assert.deepEqual(shown.current, [name], `${user.label} marks the current combatant`);
      }
      return result;
    };

    const begun = await nextTurn(1, "Paladin", "Begin round 1");
    assert.deepEqual(begun.effects, []);
    await screenshot(gm.page, "modules-01-gm-encounter-started");
    await screenshot(player.page, "modules-01-player-encounter-started");

    // On the Paladin's turn the GM stuns the Kobold for 1 round and knocks the Wizard prone for 2.
    const gmConditions = gm.page.getByTestId("conditions-panel");
    const addCondition = async (tokenName, kind, rounds, endsAt) => {
      await gm.page.getByRole("button", { name: tokenName, exact: true }).click();
      const form = gmConditions.getByRole("form", { name: `Add a condition to ${tokenName}` });
      await form.getByLabel("Condition").selectOption(kind);
      await form.getByLabel("Rounds").fill(String(rounds));
      await form.getByText(`Ends when round ${endsAt} of Encounter 1 begins.`).waitFor();
      await form.getByRole("button", { name: "Add condition" }).click();
      const label = `${kind.charAt(0).toUpperCase()}${kind.slice(1)} (until round ${endsAt})`;
      await gmConditions
        .getByRole("list", { name: `Conditions of ${tokenName}` })
        .getByText(label)
        .waitFor();
      const badge = gm.page.getByRole("img", { name: `${tokenName}: ${label}`, exact: true });
      await badge.waitFor();
      return badge.getAttribute("data-condition-id");
    };
    const stunned = await addCondition("Kobold", "stunned", 1, 2);
    const prone = await addCondition("Wizard", "prone", 2, 3);
    await gm.page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();
    await player.page.getByRole("img", { name: "Kobold: Stunned (until round 2)", exact: true }).waitFor();
    await player.page.getByRole("img", { name: "Wizard: Prone (until round 3)", exact: true }).waitFor();
    // Players never get the conditions panel.
    assert.equal(await player.page.getByTestId("conditions-panel").count(), 0);
    await screenshot(gm.page, "modules-02-gm-conditions-added");
    await screenshot(player.page, "modules-02-player-conditions-added");

    /** Both tables draw exactly these badges (1: drawn, 0: gone). */
    const expectBadges = async (expected, when) => {
      for (const user of users) {
        for (const [id, count] of Object.entries(expected)) {
          assert.equal(await badgeCount(user.page, id), count, `${user.label}: badge ${id} ${when}`);
        }
      }
    };

    // Round 1 runs on: the conditions stay.
    assert.deepEqual((await nextTurn(1, "Kobold")).effects, []);
    await expectBadges({ [stunned]: 1, [prone]: 1 }, "on the Kobold's turn of round 1");
    assert.deepEqual((await nextTurn(1, "Wizard")).effects, []);
    await expectBadges({ [stunned]: 1, [prone]: 1 }, "on the Wizard's turn of round 1");

    // Round 2 begins: the stun runs out in the same batch as the turn, for both at once; prone stays.
    const round2 = await nextTurn(2, "Paladin");
    assert.deepEqual(
      round2.effects.map((e) => [e.entity_type, e.id, e.op]),
      [["condition", stunned, "archive"]],
    );
    await expectBadges({ [stunned]: 0, [prone]: 1 }, "when round 2 begins");
    await openGmTab(gm.page, "Token");
    await gmConditions.getByRole("list", { name: "Conditions of Wizard" }).getByText("Prone (until round 3)").waitFor();
    await screenshot(gm.page, "modules-03-gm-round-2-stun-expired");
    await screenshot(player.page, "modules-03-player-round-2-stun-expired");

    assert.deepEqual((await nextTurn(2, "Kobold")).effects, []);
    await expectBadges({ [stunned]: 0, [prone]: 1 }, "on the Kobold's turn of round 2");
    assert.deepEqual((await nextTurn(2, "Wizard")).effects, []);
    await expectBadges({ [stunned]: 0, [prone]: 1 }, "on the Wizard's turn of round 2");

    // Round 3 begins: prone runs out.
    const round3 = await nextTurn(3, "Paladin");
    assert.deepEqual(
      round3.effects.map((e) => [e.entity_type, e.id, e.op]),
      [["condition", prone, "archive"]],
    );
    await expectBadges({ [stunned]: 0, [prone]: 0 }, "when round 3 begins");
    await openGmTab(gm.page, "Token");
    await gmConditions.getByText("Wizard has no conditions.").waitFor();
    for (const user of users) assert.equal(await user.page.getByTestId("condition-badge").count(), 0);
    await screenshot(gm.page, "modules-04-gm-round-3-prone-expired");
    await screenshot(player.page, "modules-04-player-round-3-prone-expired");

    // The server agrees: both conditions archived, the encounter at round 3 on the Paladin.
    const archived = (await getJson(gm.page, "conditions?archived=true")).items;
    assert.deepEqual(archived.map((c) => c.id).sort(), [stunned, prone].sort());
    assert.deepEqual((await getJson(gm.page, "conditions")).items, []);
    const [encounter] = (await getJson(gm.page, "encounters")).items;
    assert.equal(encounter.round, 3);
    assert.equal(encounter.combatants[encounter.turn].name, "Paladin");
    await gm.page.getByRole("button", { name: "Deselect" }).click();

    // The GM turns fog on: the mask takes the map's size; the player's map is all hidden.
    const gmFog = gm.page.getByTestId("fog-overlay");
    const playerFog = player.page.getByTestId("fog-overlay");
    await gm.page.getByRole("toolbar", { name: "Table tools" }).getByRole("button", { name: "Fog of war" }).click();
    await gm.page.getByTestId("fog-enable").click();
    await gm.page.getByTestId("fog-disable").waitFor();
    await gmFog.waitFor();
    await gm.page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();
    const sceneId = await gm.page.locator(".table-surface").getAttribute("data-scene-id");
    const [fog] = (await getJson(gm.page, `fog?scene_id=${encodeURIComponent(sceneId)}`)).items;
    assert.deepEqual([fog.enabled, fog.width_px, fog.height_px], [true, 1024, 1024]);
    const cellPx = fog.cell_px;
    const cols = Math.ceil(fog.width_px / cellPx);
    const rows = Math.ceil(fog.height_px / cellPx);
    await playerFog.waitFor();
    assert.equal(await playerFog.getAttribute("data-fog-view"), "opaque");
    assert.equal(await playerFog.getAttribute("data-revealed-cells"), "0");
    assert.equal(await gmFog.getAttribute("data-fog-view"), "translucent");
    await screenshot(player.page, "modules-05-player-fog-on");

    // The GM reveals a rectangle, dragged on the map with the rectangle tool. Its corners sit on
    // cell edges, half a cell from the nearest cell centre, so the cells it takes do not depend
    // on sub-pixel rounding of the pointer; it spans two chunks (columns 64 and up are the second).
    const rect = { x0: 320, y0: 96, x1: 576, y1: 320 };
    const [c0, c1] = cellRange(rect.x0, rect.x1, cellPx);
    const [r0, r1] = cellRange(rect.y0, rect.y1, cellPx);
    const expectedCells = new Set();
    for (let row = r0; row <= r1; row++) for (let col = c0; col <= c1; col++) expectedCells.add(row * cols + col);
    await gm.page.getByTestId("fog-tool-rect-reveal").click();
    await gmFog.and(gm.page.locator('[data-painting="rect"]')).waitFor();
    await gm.page.evaluate(() => {
      window.scrollTo(0, 0);
      const viewport = document.querySelector(".table-viewport");
      if (viewport) viewport.scrollTo(0, 0);
    });
    const box = await gmFog.boundingBox();
    assert.ok(box);
    const toPage = (x, y) => ({ x: box.x + (x * box.width) / fog.width_px, y: box.y + (y * box.height) / fog.height_px });
    const from = toPage(rect.x0, rect.y0);
    const to = toPage(rect.x1, rect.y1);
    // Both corners must be on screen and on the fog, not under something else.
    for (const corner of [from, to]) {
      const onFog = await gm.page.evaluate(
        ([x, y]) => document.elementFromPoint(x, y)?.closest('[data-testid="fog-overlay"]') !== null,
        [corner.x, corner.y],
      );
      assert.ok(onFog, `the fog is under the pointer at ${corner.x},${corner.y}`);
    }
    await gm.page.mouse.move(from.x, from.y);
    await gm.page.mouse.down();
    for (let step = 1; step <= 8; step++) {
      await gm.page.mouse.move(from.x + ((to.x - from.x) * step) / 8, from.y + ((to.y - from.y) * step) / 8);
    }
    await gm.page.mouse.up();
    // Picking the tool closed the fog panel (out of the map's way): open it again to put the tool down.
    await gm.page.getByRole("toolbar", { name: "Table tools" }).getByRole("button", { name: "Fog of war" }).click();
    await gm.page.getByTestId("fog-tool-none").click();
    await gm.page.getByRole("status", { name: "Connection" }).filter({ hasNotText: "queued" }).waitFor();
    await gmFog.and(gm.page.locator(`[data-revealed-cells="${expectedCells.size}"]`)).waitFor();

    // The player sees exactly that area: opaque fog, the same revealed cells as the GM and the server.
    await playerFog.and(player.page.locator(`[data-revealed-cells="${expectedCells.size}"]`)).waitFor();
    assert.equal(await playerFog.getAttribute("data-fog-view"), "opaque");
    assert.equal(await playerFog.getAttribute("data-revealed-cells"), await gmFog.getAttribute("data-revealed-cells"));
    assert.equal(await playerFog.getAttribute("data-fog-chunks"), "2");

    const chunks = (await getJson(gm.page, `fog-chunks?scene_id=${encodeURIComponent(sceneId)}`)).items;
    assert.deepEqual(chunks.map((c) => [c.cx, c.cy]).sort(), [
      [0, 0],
      [1, 0],
    ]);
    const storedCells = new Set();
    for (const chunk of chunks) {
      assert.equal(chunk.fog_id, fog.id);
      decodeChunk(chunk.bits).forEach((bit, i) => {
        if (bit) storedCells.add((chunk.cy * 64 + Math.floor(i / 64)) * cols + chunk.cx * 64 + (i % 64));
      });
    }
    assert.deepEqual(
      [...storedCells].sort((a, b) => a - b),
      [...expectedCells].sort((a, b) => a - b),
    );

    // The player's fog canvas (one pixel a cell): clear exactly over the rectangle, opaque elsewhere.
    const drawn = await playerFog.evaluate((overlay) => {
      const canvas = overlay.querySelector("canvas");
      const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
      const clear = [];
      const alphas = new Set();
      for (let i = 0; i < canvas.width * canvas.height; i++) {
        if (data[i * 4 + 3] === 0) clear.push(i);
        else alphas.add(data[i * 4 + 3]);
      }
      return { width: canvas.width, height: canvas.height, clear, alphas: [...alphas] };
    });
    assert.deepEqual([drawn.width, drawn.height], [cols, rows]);
    assert.deepEqual(
      drawn.clear,
      [...expectedCells].sort((a, b) => a - b),
    );
    assert.deepEqual(drawn.alphas, [255]);
    const alphaAt = (col, row) =>
      playerFog.evaluate(
        (overlay, [x, y]) => overlay.querySelector("canvas").getContext("2d").getImageData(x, y, 1, 1).data[3],
        [col, row],
      );
    const middle = [Math.floor((c0 + c1) / 2), Math.floor((r0 + r1) / 2)];
    for (const [col, row] of [middle, [c0, r0], [c1, r1], [c0, r1], [c1, r0]]) {
      assert.equal(await alphaAt(col, row), 0, `cell ${col},${row} inside the rectangle is clear`);
    }
    for (const [col, row] of [
      [c0 - 1, r0],
      [c1 + 1, r1],
      [c0, r0 - 1],
      [c1, r1 + 1],
      [0, 0],
      [cols - 1, rows - 1],
    ]) {
      assert.equal(await alphaAt(col, row), 255, `cell ${col},${row} outside the rectangle is hidden`);
    }
    // The canvas covers the map exactly, so those cells sit over the map pixels they stand for.
    const canvasBox = await playerFog.locator("canvas").boundingBox();
    const mapBox = await player.page.locator("img.table-map").boundingBox();
    assert.deepEqual(canvasBox, mapBox);
    await screenshot(gm.page, "modules-06-gm-fog-revealed");
    await screenshot(player.page, "modules-06-player-fog-revealed");

    // All of it arrived live: the player's page never reloaded.
    assert.equal(await player.page.evaluate(() => window.__sameDocument), true);
    assert.deepEqual([...gm.errors, ...player.errors], []);
  });
});
