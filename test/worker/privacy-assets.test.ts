/**
 * A player gets asset metadata and URLs only for assets that something they may see names: the
 * active scene's map and the art of tokens they see. Any other hash is answered exactly like an
 * unknown one (404). GMs get every asset of their session.
 */
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { create, newTable, ORIGIN, type TestUser } from "../helpers/client";
import { makePng } from "../helpers/images";
import { authHeaders, upload } from "../helpers/uploads";

/** The `/file` route without following its redirect. */
function fileRoute(user: TestUser, path: string) {
  return SELF.fetch(`${ORIGIN}${path}`, { headers: authHeaders(user), redirect: "manual" });
}

async function tableWithTwoMaps() {
  const t = await newTable();
  const shown = await upload(t.gm, t.base, await makePng(30, 20), { filename: "shown.png", kind: "map" });
  const secret = await upload(t.gm, t.base, await makePng(31, 20), { filename: "secret.png", kind: "map" });
  expect([shown.status, secret.status]).toEqual([201, 201]);
  const active = await create(t.gm, t.base, "scenes", { name: "Hall", map_asset: shown.body.asset.hash });
  const inactive = await create(t.gm, t.base, "scenes", { name: "Treasury", map_asset: secret.body.asset.hash });
  await t.gm.req("POST", `${t.base}/scenes/${active.id}/activate`, {});
  return { ...t, active, inactive, shownHash: shown.body.asset.hash as string, secretHash: secret.body.asset.hash as string };
}

const unknownHash = "0".repeat(64);

describe("assets a player may have", () => {
  it("answers a player's GET of an inactive scene's map 404, like an unknown hash", async () => {
    const t = await tableWithTwoMaps();
    const secret = await t.player.req("GET", `${t.base}/assets/${t.secretHash}`);
    const unknown = await t.player.req("GET", `${t.base}/assets/${unknownHash}`);
    expect(secret.status).toBe(404);
    expect(secret.body).toEqual(unknown.body);
    expect(JSON.stringify(secret.body)).not.toContain("sig=");
    const file = await fileRoute(t.player, `${t.base}/assets/${t.secretHash}/file`);
    expect(file.status).toBe(404);
    expect(file.headers.get("location")).toBeNull();
  });

  it("gives a player the active scene's map, and a GM both", async () => {
    const t = await tableWithTwoMaps();
    const shown = await t.player.req("GET", `${t.base}/assets/${t.shownHash}`);
    expect(shown.status).toBe(200);
    expect(shown.body.asset).toMatchObject({ hash: t.shownHash, url: expect.stringContaining("sig=") });
    const file = await fileRoute(t.player, `${t.base}/assets/${t.shownHash}/file`);
    expect(file.status).toBe(302);
    expect(file.headers.get("location")).toMatch(new RegExp(`^/api/vtt/assets/${t.shownHash}\\?`));
    for (const hash of [t.shownHash, t.secretHash]) {
      const r = await t.gm.req("GET", `${t.base}/assets/${hash}`);
      expect(r.status).toBe(200);
      expect(r.body.asset.hash).toBe(hash);
    }
  });

  it("follows the active scene: the old map is gone for players once another scene is active", async () => {
    const t = await tableWithTwoMaps();
    await t.gm.req("POST", `${t.base}/scenes/${t.inactive.id}/activate`, {});
    expect((await t.player.req("GET", `${t.base}/assets/${t.secretHash}`)).status).toBe(200);
    expect((await t.player.req("GET", `${t.base}/assets/${t.shownHash}`)).status).toBe(404);
  });

  it("gives a player the art of tokens they see, not that of hidden or library tokens", async () => {
    const t = await tableWithTwoMaps();
    const face = async (w: number) =>
      (await upload(t.gm, t.base, await makePng(w, w), { filename: "f.png", kind: "token" })).body.asset.hash as string;
    const [seen, hidden, library] = [await face(40), await face(41), await face(42)];
    const hero = await create(t.gm, t.base, "tokens", { name: "Hero", scene_id: t.active.id });
    const lurker = await create(t.gm, t.base, "tokens", { name: "Lurker", scene_id: t.active.id, hidden: true });
    const stock = await create(t.gm, t.base, "tokens", { name: "Stock", scene_id: null });
    await create(t.gm, t.base, "token-art", { token_id: hero.id, image_asset: seen });
    await create(t.gm, t.base, "token-art", { token_id: lurker.id, image_asset: hidden });
    await create(t.gm, t.base, "token-art", { token_id: stock.id, image_asset: library });
    expect((await t.player.req("GET", `${t.base}/assets/${seen}`)).status).toBe(200);
    expect((await t.player.req("GET", `${t.base}/assets/${hidden}`)).status).toBe(404);
    expect((await fileRoute(t.player, `${t.base}/assets/${library}/file`)).status).toBe(404);
    // Shown: the art comes into view with it.
    await t.gm.req("PATCH", `${t.base}/tokens/${lurker.id}`, { hidden: false }, { "if-match": '"1"' });
    expect((await t.player.req("GET", `${t.base}/assets/${hidden}`)).status).toBe(200);
  });

  it("keeps the asset list for GMs only", async () => {
    const t = await tableWithTwoMaps();
    expect((await t.player.req("GET", `${t.base}/assets`)).status).toBe(403);
  });
});
