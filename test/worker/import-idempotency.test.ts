import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { importFootprint, makeBundle, postImport } from "../helpers/bundles";
import { newTable } from "../helpers/client";
import { makePng } from "../helpers/images";

async function uploadCount(userId: string): Promise<number> {
  const row = await env.DB.prepare("SELECT count FROM asset_upload_windows WHERE user_id = ?").bind(userId).first<{ count: number }>();
  return row?.count ?? 0;
}

describe("Idempotency-Key on an import", () => {
  it("answers the same key with the first result and makes no second copy", async () => {
    const { gm, base, sid } = await newTable();
    const key = crypto.randomUUID();
    const zip = await makeBundle({ map: { bytes: await makePng(20, 20) }, tokens: 2, art: [{ bytes: await makePng(12, 12) }] });
    const first = await postImport(gm, base, zip, { headers: { "idempotency-key": key } });
    expect(first.status).toBe(201);
    const after = await importFootprint(sid);
    const uploads = await uploadCount(gm.id);

    const again = await postImport(gm, base, zip, { headers: { "idempotency-key": key } });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(await importFootprint(sid)).toEqual(after);
    expect(await uploadCount(gm.id)).toBe(uploads);
    expect(after).toMatchObject({ scenes: 1, tokens: 2, assets: 2 });
  });

  it("makes a new copy for another key, or none", async () => {
    const { gm, base, sid } = await newTable();
    const zip = await makeBundle({ tokens: 1 });
    expect((await postImport(gm, base, zip, { headers: { "idempotency-key": crypto.randomUUID() } })).status).toBe(201);
    expect((await postImport(gm, base, zip, { headers: { "idempotency-key": crypto.randomUUID() } })).status).toBe(201);
    expect((await postImport(gm, base, zip)).status).toBe(201);
    expect(await importFootprint(sid)).toMatchObject({ scenes: 3, tokens: 3 });
  });

  it("answers 409 to the same key with another bundle, and changes nothing", async () => {
    const { gm, base, sid } = await newTable();
    const key = crypto.randomUUID();
    expect((await postImport(gm, base, await makeBundle({ name: "One" }), { headers: { "idempotency-key": key } })).status).toBe(201);
    const before = await importFootprint(sid);
    const r = await postImport(gm, base, await makeBundle({ name: "Two" }), { headers: { "idempotency-key": key } });
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: "conflict", details: { idempotency_key: key } });
    expect(await importFootprint(sid)).toEqual(before);
  });

  it("keeps keys apart per user: a co-GM's same key is a new import", async () => {
    const table = await newTable();
    const { gm, base, sid, player } = table;
    expect((await gm.req("PUT", `${base}/members/${player.id}`, { role: "gm" })).status).toBe(200);
    const key = crypto.randomUUID();
    const zip = await makeBundle({ tokens: 1 });
    const a = await postImport(gm, base, zip, { headers: { "idempotency-key": key } });
    const b = await postImport(player, base, zip, { headers: { "idempotency-key": key } });
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(b.body.scene.id).not.toBe(a.body.scene.id);
    expect(await importFootprint(sid)).toMatchObject({ scenes: 2, tokens: 2 });
  });

  it("refuses a key that is not a UUID with 400", async () => {
    const { gm, base, sid } = await newTable();
    const before = await importFootprint(sid);
    const r = await postImport(gm, base, await makeBundle(), { headers: { "idempotency-key": "once" } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("bad_request");
    expect(await importFootprint(sid)).toEqual(before);
  });
});
