import assert from "node:assert/strict";
import { test } from "node:test";
import {
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

test("the indicator says Offline within 5 s of going offline, and from the start of a reload made offline", {
  skip: skipReason,
}, async () => {
  const gm = await harness.newUser("gm");
  const sessionName = `Salt Marsh ${Date.now().toString(36)}`;
  // Every text the indicator shows, from the first paint of each load.
  await gm.context.addInitScript(() => {
    window.__indicatorTexts = [];
    new MutationObserver(() => {
      const el = document.querySelector("output.connection .connection-text");
      const text = el?.textContent;
      if (text && window.__indicatorTexts.at(-1) !== text) window.__indicatorTexts.push(text);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });

  await withFailureScreenshots("status-offline", [gm], async () => {
    await gm.page.goto("/");
    await registerThroughUi(gm.page, uniqueUsername("gm"));
    await gm.page.getByLabel("Session name").fill(sessionName);
    await gm.page.getByRole("button", { name: "Create session" }).click();
    await gm.page.getByRole("link", { name: `Open ${sessionName}` }).click();
    await gm.page.getByLabel("Scene name").fill("Reed Beds");
    await gm.page.getByRole("button", { name: "Create scene" }).click();
    await gm.page.getByRole("button", { name: "Activate Reed Beds" }).click();
    await gm.page.getByTestId("active-scene").filter({ hasText: "Reed Beds" }).waitFor();
    await connection(gm.page).filter({ hasText: "Live" }).filter({ hasNotText: "queued" }).waitFor();
    await waitForServiceWorker(gm.page);

    // The page goes offline; its socket is not closed for it (the network just stops carrying anything).
    const devtools = await gm.context.newCDPSession(gm.page);
    await devtools.send("Network.enable");
    await devtools.send("Network.emulateNetworkConditions", { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const wentOffline = Date.now();
    await connection(gm.page).filter({ hasText: "Offline" }).waitFor({ timeout: 5_000 });
    const tookMs = Date.now() - wentOffline;
    assert.ok(tookMs <= 5_000, `Offline shown after ${tookMs} ms`);

    // A change made now waits, and the indicator says so instead of Live.
    await openGmTab(gm.page, "Library");
    await gm.page.getByLabel("Token name").fill("Marsh lantern");
    await gm.page.getByRole("button", { name: "Add token" }).click();
    await connection(gm.page).filter({ hasText: "Offline" }).filter({ hasText: "1 change queued" }).waitFor();
    await screenshot(gm.page, "status-offline-01-offline-with-queued-change");

    // A reload made offline (the service worker serves the app): Offline from the start, never Connecting or Live.
    await devtools.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await devtools.detach();
    await gm.context.setOffline(true);
    await gm.page.reload();
    await gm.page.getByRole("heading", { name: sessionName, level: 1 }).waitFor();
    await connection(gm.page).filter({ hasText: "Offline" }).waitFor();
    await gm.page.getByRole("button", { name: /^Marsh lantern/ }).waitFor();
    // Give the transport time to try (and fail) to connect.
    await gm.page.waitForTimeout(3_000);
    const seen = await gm.page.evaluate(() => window.__indicatorTexts);
    assert.deepEqual(seen, ["Offline"], `the indicator showed ${JSON.stringify(seen)} after an offline reload`);
    await screenshot(gm.page, "status-offline-02-offline-reload");

    // Back online: Live, and the queued change is sent.
    await gm.context.setOffline(false);
    await connection(gm.page).filter({ hasText: "Live" }).filter({ hasNotText: "queued" }).waitFor({ timeout: 30_000 });
    const sid = decodeURIComponent(new URL(gm.page.url()).pathname.split("/")[2]);
    const tokens = await gm.page.evaluate(
      async (id) => (await (await fetch(`/api/vtt/sessions/${encodeURIComponent(id)}/tokens`, { cache: "no-store" })).json()).items,
      sid,
    );
    assert.deepEqual(
      tokens.map((t) => t.name),
      ["Marsh lantern"],
    );
    await screenshot(gm.page, "status-offline-03-back-online");
    // Chromium logs each refused socket attempt while offline; those are the network's, not the app's.
    assert.deepEqual(
      gm.errors.filter((e) => !/WebSocket connection to .* failed: .*ERR_INTERNET_DISCONNECTED/.test(e)),
      [],
    );
  });
});
