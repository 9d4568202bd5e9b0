import assert from "node:assert/strict";
import { test } from "node:test";
import {
  apiFromPage,
  cuttableNetwork,
  openGmTab,
  registerThroughUi,
  screenshot,
  skipReason,
  uniqueUsername,
  useBrowser,
  waitForServiceWorker,
  withFailureScreenshots,
} from "./harness.mjs";

const harness = useBrowser();

const connection = (page) => page.getByRole("status", { name: "Connection" });
const inspector = (page) => page.locator("section[aria-labelledby='inspector-heading']");

test("two GM tabs queue two edits each of one token: one dialog lists every conflicting field, and the server ends on each choice", {
  skip: skipReason,
}, async () => {
  const first = await harness.newUser("gm-tab-1");
  const second = { label: "gm-tab-2", context: first.context, page: await first.context.newPage(), errors: [] };
  second.page.on("pageerror", (error) => second.errors.push(`[gm-tab-2] page error: ${error.message}`));
  second.page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      second.errors.push(`[gm-tab-2] console: ${message.text()}`);
    }
  });
  const setSecondOffline = await cuttableNetwork(second);
  await first.page.bringToFront();
  const sessionName = `Tide Hall ${Date.now().toString(36)}`;

  await withFailureScreenshots("conflict-all-fields", [first, second], async () => {
    await first.page.goto("/");
    await registerThroughUi(first.page, uniqueUsername("gm"));
    await first.page.getByLabel("Session name").fill(sessionName);
    await first.page.getByRole("button", { name: "Create session" }).click();
    await first.page.getByRole("link", { name: `Open ${sessionName}` }).click();
    await first.page.getByLabel("Scene name").fill("Flooded Nave");
    await first.page.getByRole("button", { name: "Create scene" }).click();
    await first.page.getByRole("button", { name: "Activate Flooded Nave" }).click();
    await first.page.getByTestId("active-scene").filter({ hasText: "Flooded Nave" }).waitFor();
    await openGmTab(first.page, "Library");
    await first.page.getByLabel("Token name").fill("Coral guard");
    await first.page.getByRole("button", { name: "Add token" }).click();
    await first.page.getByRole("button", { name: "Coral guard", exact: true }).waitFor();
    await connection(first.page).filter({ hasText: "Live" }).filter({ hasNotText: "queued" }).waitFor();
    await waitForServiceWorker(first.page);
    const sid = decodeURIComponent(new URL(first.page.url()).pathname.split("/")[2]);
    const S = `/api/vtt/sessions/${encodeURIComponent(sid)}`;
    const tokenId = await first.page.getByRole("button", { name: "Coral guard", exact: true }).getAttribute("data-token-id");

    await second.page.bringToFront();
    await second.page.goto(first.page.url());
    await second.page.getByRole("button", { name: "Coral guard", exact: true }).waitFor();
    await connection(second.page).filter({ hasText: "Live" }).waitFor();

    // The second tab, offline, queues two edits: a resize (width, height), then a turn (rotation).
    await setSecondOffline(true);
    await connection(second.page).filter({ hasNotText: "Live" }).waitFor();
    await second.page.getByRole("button", { name: "Coral guard", exact: true }).click();
    await inspector(second.page).getByLabel("Width").fill("2");
    await inspector(second.page).getByLabel("Height").fill("2");
    await inspector(second.page).getByRole("button", { name: "Resize" }).click();
    await inspector(second.page).getByRole("button", { name: "Rotate right 15°" }).click();
    await connection(second.page).filter({ hasText: "2 changes queued" }).waitFor();
    await screenshot(second.page, "conflict-all-fields-01-tab-2-two-edits-queued");

    // The first tab, online, makes two edits of its own: a turn the other way and a new name.
    await first.page.bringToFront();
    await first.page.getByRole("button", { name: "Coral guard", exact: true }).click();
    await inspector(first.page).getByRole("button", { name: "Rotate left 15°" }).click();
    await connection(first.page).filter({ hasNotText: "queued" }).waitFor();
    await inspector(first.page).getByLabel("Name").fill("Coral captain");
    await inspector(first.page).getByRole("button", { name: "Rename" }).click();
    await first.page.getByRole("button", { name: "Coral captain", exact: true }).waitFor();
    await connection(first.page).filter({ hasText: "Live" }).filter({ hasNotText: "queued" }).waitFor();
    const byFirst = (await apiFromPage(first.page, "GET", `${S}/tokens/${tokenId}`)).body;
    assert.deepEqual([byFirst.version, byFirst.rotation, byFirst.name, byFirst.width], [3, -15, "Coral captain", 1]);

    // Back online, the second tab gets one dialog with the fields of both its edits.
    await second.page.bringToFront();
    await setSecondOffline(false);
    const dialog = second.page.getByRole("dialog", { name: "Conflicting change" });
    await dialog.waitFor();
    await dialog.getByText("your 2 queued changes", { exact: false }).waitFor();
    const fields = await dialog.getByRole("rowheader").allTextContents();
    assert.deepEqual(fields, ["width", "height", "rotation"]);
    const cells = async (field) => {
      const row = dialog.getByRole("row").filter({ has: second.page.getByRole("rowheader", { name: field, exact: true }) });
      return [await row.locator(".diff-mine").textContent(), await row.locator(".diff-server").textContent()];
    };
    assert.deepEqual(await cells("width"), ["2", "1"]);
    assert.deepEqual(await cells("height"), ["2", "1"]);
    assert.deepEqual(await cells("rotation"), ["15", "-15"]);
    // Who changed the server's side: the same GM, in the other tab.
    assert.match(await dialog.getByTestId("conflict-author").textContent(), /changed by you \(in another tab or on another device\) at/);
    assert.equal(await second.page.getByRole("dialog", { name: "Conflicting change" }).count(), 1);
    await screenshot(second.page, "conflict-all-fields-02-one-dialog-all-fields");

    // Merge: the size is mine, the rotation the server's.
    await dialog.getByRole("radio", { name: "Keep mine for width" }).check();
    await dialog.getByRole("radio", { name: "Keep mine for height" }).check();
    await dialog.getByRole("radio", { name: "Use server for rotation" }).check();
    await dialog.getByRole("button", { name: "Merge Fields" }).click();
    await dialog.waitFor({ state: "detached" });
    await connection(second.page).filter({ hasText: "Live" }).filter({ hasNotText: "queued" }).waitFor();
    // No second dialog: the later edit was resolved with the first, not sent over the server's rotation.
    assert.equal(await second.page.getByRole("dialog", { name: "Conflicting change" }).count(), 0);

    const final = (await apiFromPage(second.page, "GET", `${S}/tokens/${tokenId}`)).body;
    assert.deepEqual(
      { name: final.name, rotation: final.rotation, width: final.width, height: final.height },
      { name: "Coral captain", rotation: -15, width: 2, height: 2 },
    );
    const history = (await apiFromPage(second.page, "GET", `${S}/tokens/${tokenId}/history`)).body.items;
    assert.equal(history.length, 4, "create, two edits of the first tab, one merged edit of the second");
    await screenshot(second.page, "conflict-all-fields-03-tab-2-merged");

    await first.page.bringToFront();
    await first.page.waitForFunction(
      (id) => {
        const el = document.querySelector(`button.token[data-token-id="${id}"]`);
        return el instanceof HTMLElement && el.style.transform === "rotate(-15deg)";
      },
      tokenId,
      { polling: 100 },
    );
    await inspector(first.page).getByText("2×2 cells", { exact: false }).waitFor();
    await screenshot(first.page, "conflict-all-fields-04-tab-1-sees-merge");

    assert.deepEqual([...first.errors, ...second.errors], []);
  });
});
