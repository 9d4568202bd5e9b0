import assert from "node:assert/strict";
import { test } from "node:test";
import {
  baseUrl,
  joinThroughInvite,
  openGmTab,
  registerThroughUi,
  screenshot,
  skipReason,
  uniqueUsername,
  useBrowser,
  withFailureScreenshots,
} from "./harness.mjs";

const harness = useBrowser();

test("the GM copies the invite link from the table after a reload, a fourth user joins with it, and a replaced link is refused", {
  skip: skipReason,
}, async () => {
  const gm = await harness.newUser("gm");
  await gm.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseUrl });
  const players = [await harness.newUser("player-1"), await harness.newUser("player-2")];
  const fourth = await harness.newUser("player-3");
  const late = await harness.newUser("late");
  const sessionName = `Copper Gate ${Date.now().toString(36)}`;

  await withFailureScreenshots("invite-table-link", [gm, ...players, fourth, late], async () => {
    await gm.page.goto("/");
    await registerThroughUi(gm.page, uniqueUsername("gm"));
    await gm.page.getByLabel("Session name").fill(sessionName);
    await gm.page.getByRole("button", { name: "Create session" }).click();
    const created = await gm.page.getByLabel("Invite link").inputValue();
    for (const player of players) await joinThroughInvite(player, created, sessionName);

    // At the table, after a reload: the link shown once at creation is gone from the page, the Invite button has it.
    await gm.page.getByRole("link", { name: `Open ${sessionName}` }).click();
    await gm.page.getByRole("heading", { name: sessionName, level: 1 }).waitFor();
    await gm.page.reload();
    await gm.page.getByRole("heading", { name: sessionName, level: 1 }).waitFor();
    await gm.page.getByRole("button", { name: "Invite" }).click();
    const popover = gm.page.getByRole("dialog", { name: "Invite players" });
    await popover.getByLabel("Invite link").waitFor();
    await popover.getByRole("button", { name: "Copy link" }).click();
    await popover.getByText("Copied to the clipboard.").waitFor();
    const copied = await gm.page.evaluate(() => navigator.clipboard.readText());
    assert.equal(copied, created);
    await screenshot(gm.page, "invite-table-link-01-gm-copied-link-at-table");
    await gm.page.keyboard.press("Escape");
    await popover.waitFor({ state: "detached" });

    // A fourth user joins with the copied link.
    await joinThroughInvite(fourth, copied, sessionName);
    await fourth.page.getByText("Player", { exact: true }).waitFor();
    await screenshot(fourth.page, "invite-table-link-02-fourth-user-joined");

    // People name the connected devices by browser and OS, never the raw user agent.
    await openGmTab(gm.page, "People");
    const clients = gm.page.getByRole("list", { name: "Connected clients" });
    await clients.getByText("Chrome on Linux").first().waitFor();
    assert.equal(await clients.getByText(/Mozilla|AppleWebKit/).count(), 0);

    // A new link, after a confirmation: the old one stops working.
    await gm.page.getByRole("button", { name: "Invite" }).click();
    await popover.getByLabel("Invite link").waitFor();
    await popover.getByRole("button", { name: "New link" }).click();
    await popover.getByText(/Replace the link\?/).waitFor();
    await screenshot(gm.page, "invite-table-link-03-confirm-new-link");
    await popover.getByRole("button", { name: "Replace link" }).click();
    await popover.getByText(/the old one no longer works/).waitFor();
    const rotated = await popover.getByLabel("Invite link").inputValue();
    assert.notEqual(rotated, created);
    assert.ok(rotated.startsWith(`${baseUrl}/join/`));
    await screenshot(gm.page, "invite-table-link-04-new-link");

    // The old link is refused like an unknown code; the new one works.
    await late.page.goto(created);
    await registerThroughUi(late.page, uniqueUsername("late"));
    await late.page.getByText("no session has that invite code").waitFor();
    await screenshot(late.page, "invite-table-link-05-old-link-refused");
    const sid = decodeURIComponent(new URL(gm.page.url()).pathname.split("/")[2]);
    const refused = await late.page.evaluate(async (id) => (await fetch(`/api/vtt/sessions/${encodeURIComponent(id)}/state`)).status, sid);
    assert.equal(refused, 404);
    await late.page.goto(rotated);
    await late.page.getByRole("heading", { name: sessionName, level: 1 }).waitFor();

    // Members who joined with the old link stay members.
    await players[0].page.reload();
    await players[0].page.getByRole("heading", { name: sessionName, level: 1 }).waitFor();

    assert.deepEqual([...gm.errors, ...players.flatMap((p) => p.errors), ...fourth.errors], []);
  });
});
