import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  apiFromPage,
  cuttableNetwork,
  joinThroughInvite,
  launchBrowser,
  openGmTab,
  registerThroughUi,
  screenshot,
  skipReason,
  uniqueUsername,
  waitForServiceWorker,
  withFailureScreenshots,
} from "./harness.mjs";

let harness;

before(async () => {
  if (!skipReason) harness = await launchBrowser();
});

after(async () => {
  await harness?.close();
});

const connection = (page) => page.getByRole("status", { name: "Connection" });

/** Waits until `page` draws the token named `name` turned by `degrees`. */
async function waitForRotation(page, name, degrees) {
  await page.waitForFunction(
    ([n, d]) => {
      const el = [...document.querySelectorAll("button.token")].find((b) => b.getAttribute("aria-label")?.startsWith(n));
      return el instanceof HTMLElement && el.style.transform === `rotate(${d}deg)`;
    },
    [name, degrees],
    { polling: 100 },
  );
}

test("two GM tabs edit the same token, the second sees the conflict dialog, and Keep Mine wins; both players end on it", {
  skip: skipReason,
}, async () => {
  // One GM, two tabs of one browser (same cookie, same IndexedDB); only the second tab loses the network.
  const first = await harness.newUser("gm-tab-1");
  const second = { label: "gm-tab-2", context: first.context, page: await first.context.newPage(), errors: [] };
  second.page.on("pageerror", (error) => second.errors.push(`[gm-tab-2] page error: ${error.message}`));
  second.page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      second.errors.push(`[gm-tab-2] console: ${message.text()}`);
    }
  });
  const setSecondOffline = await cuttableNetwork(second);
  const players = [await harness.newUser("player-1"), await harness.newUser("player-2")];
  // The tab in front is the one acted on: a background tab draws no frames, which waits rely on.
  await first.page.bringToFront();
  const sessionName = `Glass Spire ${Date.now().toString(36)}`;

  await withFailureScreenshots("conflict-keep-mine", [first, second, ...players], async () => {
    await first.page.goto("/");
    await registerThroughUi(first.page, uniqueUsername("gm"));
    await first.page.getByLabel("Session name").fill(sessionName);
    await first.page.getByRole("button", { name: "Create session" }).click();
    const invite = await first.page.getByLabel("Invite link").inputValue();
    await first.page.getByRole("link", { name: `Open ${sessionName}` }).click();
    await first.page.getByLabel("Scene name").fill("Mirror Hall");
    await first.page.getByRole("button", { name: "Create scene" }).click();
    await first.page.getByRole("button", { name: "Activate Mirror Hall" }).click();
    await first.page.getByTestId("active-scene").filter({ hasText: "Mirror Hall" }).waitFor();
    await openGmTab(first.page, "Library");
    await first.page.getByLabel("Token name").fill("Glass knight");
    await first.page.getByRole("button", { name: "Add token" }).click();
    await first.page.getByRole("button", { name: "Glass knight", exact: true }).waitFor();
    await connection(first.page).filter({ hasText: "Live" }).filter({ hasNotText: "queued" }).waitFor();
    await waitForServiceWorker(first.page);

    // Two players join through the invite link and see the knight.
    for (const player of players) {
      await joinThroughInvite(player, invite, sessionName);
      await player.page.getByRole("button", { name: "Glass knight", exact: true }).waitFor();
      await connection(player.page).filter({ hasText: "Live" }).waitFor();
    }
    await first.page.bringToFront();

    // The same table in a second tab.
    await second.page.bringToFront();
    await second.page.goto(first.page.url());
    await second.page.getByRole("button", { name: "Glass knight", exact: true }).waitFor();
    await connection(second.page).filter({ hasText: "Live" }).waitFor();
    const sid = decodeURIComponent(new URL(first.page.url()).pathname.split("/")[2]);
    const S = `/api/vtt/sessions/${encodeURIComponent(sid)}`;
    const tokenId = await first.page.getByRole("button", { name: "Glass knight", exact: true }).getAttribute("data-token-id");

    // The second tab goes offline and turns the knight right: the change waits in its queue.
    await setSecondOffline(true);
    await connection(second.page).filter({ hasNotText: "Live" }).waitFor();
    await second.page.getByRole("button", { name: "Glass knight", exact: true }).click();
    await second.page.getByRole("button", { name: "Rotate right 15°" }).click();
    await connection(second.page).filter({ hasText: "1 change queued" }).waitFor();
    await waitForRotation(second.page, "Glass knight", 15);
    await screenshot(second.page, "conflict-keep-mine-01-tab-2-offline-edit-queued");

    // Meanwhile the first tab, online, turns it left: the server takes that one (version 2).
    await first.page.bringToFront();
    await first.page.getByRole("button", { name: "Glass knight", exact: true }).click();
    await first.page.getByRole("button", { name: "Rotate left 15°" }).click();
    await waitForRotation(first.page, "Glass knight", -15);
    await connection(first.page).filter({ hasNotText: "queued" }).waitFor();
    const byFirst = (await apiFromPage(first.page, "GET", `${S}/tokens/${tokenId}`)).body;
    assert.deepEqual([byFirst.version, byFirst.rotation], [2, -15]);
    await screenshot(first.page, "conflict-keep-mine-02-tab-1-edit-saved");

    // Back online, the second tab's queued change is stale: the dialog shows mine against the server's.
    await second.page.bringToFront();
    await setSecondOffline(false);
    const dialog = second.page.getByRole("dialog", { name: "Conflicting change" });
    await dialog.waitFor();
    const row = dialog.getByRole("row").filter({ has: second.page.getByRole("rowheader", { name: "rotation" }) });
    await row.waitFor();
    assert.equal(await row.locator(".diff-mine").textContent(), "15");
    assert.equal(await row.locator(".diff-server").textContent(), "-15");
    await screenshot(second.page, "conflict-keep-mine-03-tab-2-conflict-dialog");

    // Keep Mine: the second tab's value is sent again on top of the server's version, and wins.
    await dialog.getByRole("button", { name: "Keep Mine" }).click();
    await dialog.waitFor({ state: "detached" });
    await connection(second.page).filter({ hasText: "Live" }).filter({ hasNotText: "queued" }).waitFor();
    const final = (await apiFromPage(second.page, "GET", `${S}/tokens/${tokenId}`)).body;
    assert.deepEqual([final.version, final.rotation], [3, 15]);
    const history = (await apiFromPage(second.page, "GET", `${S}/tokens/${tokenId}/history`)).body.items;
    assert.deepEqual(
      history.map((h) => [h.version, h.op]).sort((a, b) => a[0] - b[0]),
      [
        [1, "create"],
        [2, "update"],
        [3, "update"],
      ],
    );

    // Both tabs show it.
    await waitForRotation(second.page, "Glass knight", 15);
    await screenshot(second.page, "conflict-keep-mine-04-tab-2-kept-mine");
    await first.page.bringToFront();
    await waitForRotation(first.page, "Glass knight", 15);
    await screenshot(first.page, "conflict-keep-mine-05-tab-1-shows-tab-2-value");

    // And so do both players, without reloading.
    for (const [i, player] of players.entries()) {
      await waitForRotation(player.page, "Glass knight", 15);
      await screenshot(player.page, `conflict-keep-mine-06-player-${i + 1}-shows-kept-value`);
    }

    assert.deepEqual([...first.errors, ...second.errors, ...players.flatMap((p) => p.errors)], []);
  });
});
