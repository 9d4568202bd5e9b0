import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { artifactsDir, baseUrl, skipReason, useBrowser, withFailureScreenshots } from "./harness.mjs";

const harness = useBrowser();

test("the API reference page renders the document with nothing loaded from another origin", { skip: skipReason }, async () => {
  const dev = await harness.newUser("developer");
  const elsewhere = [];
  const origin = new URL(baseUrl).origin;
  dev.page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith("data:") && !url.startsWith("blob:")) elsewhere.push(url);
  });

  await withFailureScreenshots("api-docs", [dev], async () => {
    const res = await dev.page.goto("/api/docs");
    assert.equal(res?.status(), 200);
    // The viewer (served from this origin) reads /api/openapi.json and lists its operations.
    await dev.page.getByRole("heading", { name: "VTT save & sync API" }).first().waitFor({ timeout: 30_000 });
    await dev.page.getByRole("heading", { name: "Register; sets the vtt_session cookie" }).first().waitFor({ timeout: 30_000 });
    // The page is one long reference: the first screenful is what a developer sees.
    await dev.page.screenshot({ path: join(artifactsDir, "api-docs-01-reference.png") });
    // The navigation lists the operations by group: the session's reads among them.
    await dev.page.getByText("reads", { exact: true }).first().click();
    await dev.page.getByText("The session's full state, filtered for players").first().waitFor();
    await dev.page.screenshot({ path: join(artifactsDir, "api-docs-02-reads.png") });
    // The hosted services' buttons are off: everything here works without them.
    assert.equal(await dev.page.getByText("Ask AI").count(), 0);
    assert.deepEqual(elsewhere, [], "the page loads nothing from another origin");
  });
});
