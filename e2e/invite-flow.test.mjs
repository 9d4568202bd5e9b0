import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  baseUrl,
  launchBrowser,
  openGmTab,
  registerThroughUi,
  screenshot,
  skipReason,
  uniqueUsername,
  withFailureScreenshots,
} from "./harness.mjs";

let harness;

before(async () => {
  if (!skipReason) harness = await launchBrowser();
});

after(async () => {
  await harness?.close();
});

test("a player joins through the GM's invite link and sees the scene the GM activates", {
  skip: skipReason,
}, async () => {
  const gm = await harness.newUser("gm");
  const player = await harness.newUser("player");
  const sessionName = `Amber Keep ${Date.now().toString(36)}`;

  await withFailureScreenshots("invite-flow", [gm, player], async () => {
    // The GM registers (the home page sends a signed-out visitor to sign in) and creates a session.
    await gm.page.goto("/");
    await registerThroughUi(gm.page, uniqueUsername("gm"));
    await gm.page.getByRole("heading", { name: "My sessions" }).waitFor();
    await gm.page.getByLabel("Session name").fill(sessionName);
    await gm.page.getByRole("button", { name: "Create session" }).click();

    const invite = await gm.page.getByLabel("Invite link").inputValue();
    assert.match(invite, /\/join\/[^/]+$/);
    assert.ok(invite.startsWith(`${baseUrl}/join/`), `invite link ${invite} is on this origin`);
    await gm.page.getByRole("list", { name: "Sessions" }).getByRole("link", { name: sessionName }).waitFor();
    const sessionHref = await gm.page.getByRole("link", { name: `Open ${sessionName}` }).getAttribute("href");
    assert.match(sessionHref ?? "", /^\/s\/[^/]+$/);
    await screenshot(gm.page, "invite-flow-01-gm-session-created");

    // The player opens the invite link signed out: sign-up first, then the join, then the table.
    await player.page.goto(invite);
    await player.page.waitForURL(/\/login\?next=/);
    await player.page.getByRole("heading", { name: "Sign in" }).waitFor();
    await screenshot(player.page, "invite-flow-02-player-asked-to-sign-in");
    await registerThroughUi(player.page, uniqueUsername("player"));
    await player.page.waitForURL((url) => url.pathname === sessionHref);
    await player.page.getByRole("heading", { name: sessionName, level: 1 }).waitFor();
    await player.page.getByText("Player", { exact: true }).waitFor();
    await player.page.getByText("The GM has not opened a scene yet.").waitFor();
    await screenshot(player.page, "invite-flow-03-player-joined");

    // The GM opens the table, creates two scenes and a token, and activates one scene.
    await gm.page.getByRole("link", { name: `Open ${sessionName}` }).click();
    await gm.page.getByRole("heading", { name: sessionName, level: 1 }).waitFor();
    const scenes = gm.page.getByRole("list", { name: "Scenes" });
    for (const name of ["Goblin Warren", "Dragon Hoard"]) {
      await gm.page.getByLabel("Scene name").fill(name);
      await gm.page.getByRole("button", { name: "Create scene" }).click();
      await scenes.getByText(name, { exact: true }).waitFor();
    }
    await gm.page.getByRole("button", { name: "Activate Goblin Warren" }).click();
    await gm.page.getByTestId("active-scene").filter({ hasText: "Goblin Warren" }).waitFor();
    await openGmTab(gm.page, "Library");
    await gm.page.getByLabel("Token name").fill("Goblin archer");
    await gm.page.getByRole("button", { name: "Add token" }).click();
    await gm.page.getByRole("button", { name: "Goblin archer", exact: true }).waitFor();
    await screenshot(gm.page, "invite-flow-04-gm-scene-active");

    // After a reload too (the live path is e2e/table.test.mjs) the player sees the active scene and its token, nothing else.
    await player.page.reload();
    await player.page.getByTestId("active-scene").filter({ hasText: "Goblin Warren" }).waitFor();
    await player.page.getByRole("button", { name: "Goblin archer", exact: true }).waitFor();
    assert.equal(await player.page.getByText("Dragon Hoard").count(), 0);
    const sid = decodeURIComponent(sessionHref.slice("/s/".length));
    const visible = await player.page.evaluate(async (id) => {
      const response = await fetch(`/api/vtt/sessions/${encodeURIComponent(id)}/state`, { credentials: "include" });
      const state = await response.json();
      return {
        status: response.status,
        scenes: state.scenes.map((s) => s.name),
        tokens: state.tokens.map((t) => t.name),
      };
    }, sid);
    assert.deepEqual(visible, { status: 200, scenes: ["Goblin Warren"], tokens: ["Goblin archer"] });
    await screenshot(player.page, "invite-flow-05-player-sees-active-scene");

    assert.deepEqual([...gm.errors, ...player.errors], []);
  });
});
