import { env, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "../../worker/api-error";
import { addScanner, type ScanInput } from "../../worker/assets/scanner";
import { sha256Hex } from "../../worker/lib/crypto";
import { importFootprint, makeBundle, postImport } from "../helpers/bundles";
import { newTable } from "../helpers/client";
import { concat, deflate, ihdr, makePng, PNG_SIG, pngChunk } from "../helpers/images";
import { shardOf } from "../helpers/shards";

/** A well-formed PNG whose header declares `width`×`height` (its data is never decoded). */
async function declaredPng(width: number, height: number): Promise<Uint8Array> {
  return concat(PNG_SIG, ihdr(width, height), pngChunk("IDAT", await deflate(new Uint8Array(64))), pngChunk("IEND"));
}

async function assetRows(sid: string) {
  return (
    await (
      await shardOf(sid)
    )
      .prepare("SELECT hash, kind, mime, size, width, height, original_hash, r2_key FROM assets WHERE session_id = ? ORDER BY kind")
      .bind(sid)
      .all<any>()
  ).results;
}

let removeScanner: (() => void) | undefined;
afterEach(() => {
  removeScanner?.();
  removeScanner = undefined;
});

describe("an import's images go through the upload pipeline", () => {
  it("refuses a map whose PNG declares 30000×30000 (the bundle says 1×1) with 413 and stores nothing", async () => {
    const { gm, base, sid } = await newTable();
    const before = await importFootprint(sid);
    const r = await postImport(gm, base, await makeBundle({ map: { bytes: await declaredPng(30_000, 30_000), width: 1, height: 1 } }));
    expect(r.status).toBe(413);
    expect(r.body.error).toMatchObject({ code: "payload_too_large", details: { reason: "dimensions", width: 30_000, height: 30_000 } });
    expect(r.body.error.details.asset).toMatch(/^assets\/[0-9a-f]{64}\.png$/);
    expect(await importFootprint(sid)).toEqual(before);
  });

  it("refuses an asset whose scene.json names another type than its bytes with 415", async () => {
    const { gm, base, sid } = await newTable();
    const before = await importFootprint(sid);
    const r = await postImport(gm, base, await makeBundle({ map: { bytes: await makePng(16, 16), mime: "image/jpeg" } }));
    expect(r.status).toBe(415);
    expect(r.body.error).toMatchObject({
      code: "unsupported_media_type",
      details: { reason: "declared_type_mismatch", sniffed: "image/png" },
    });
    expect(await importFootprint(sid)).toEqual(before);
  });

  it("refuses an asset named by a hash its bytes do not have with 400", async () => {
    const { gm, base, sid } = await newTable();
    const before = await importFootprint(sid);
    const r = await postImport(gm, base, await makeBundle({ map: { bytes: await makePng(16, 16), hash: "ab".repeat(32) } }));
    expect(r.status).toBe(400);
    expect(r.body.error.details.problems).toEqual(expect.arrayContaining([expect.stringContaining("does not hash to its name")]));
    expect(await importFootprint(sid)).toEqual(before);
  });

  it("records the size, type and dimensions measured from the bytes, not the bundle's claims", async () => {
    const { gm, base, sid } = await newTable();
    const bytes = await makePng(64, 48);
    const r = await postImport(gm, base, await makeBundle({ map: { bytes, width: 1, height: 1, size: 1, kind: "token" } }));
    expect(r.status).toBe(201);
    const [row] = await assetRows(sid);
    expect(row).toMatchObject({
      hash: await sha256Hex(bytes),
      kind: "map",
      mime: "image/png",
      size: bytes.byteLength,
      width: 64,
      height: 48,
    });
    expect(r.body.scene.map_asset).toBe(row.hash);
    expect((await env.ASSETS.head(row.r2_key))?.size).toBe(bytes.byteLength);
  });

  it("resizes token art to fit 512×512 and re-encodes it as WebP, the art naming the new asset", async () => {
    const { gm, base, sid } = await newTable();
    const original = await makePng(1024, 600);
    const r = await postImport(gm, base, await makeBundle({ tokens: 1, art: [{ bytes: original, width: 1024, height: 600 }] }));
    expect(r.status).toBe(201);
    const [row] = await assetRows(sid);
    expect(row).toMatchObject({ kind: "token", mime: "image/webp", width: 512, height: 300, original_hash: await sha256Hex(original) });
    const stored = new Uint8Array(await ((await env.ASSETS.get(row.r2_key)) as R2ObjectBody).arrayBuffer());
    expect(await sha256Hex(stored)).toBe(row.hash);
    const art = await (await shardOf(sid))
      .prepare("SELECT image_asset FROM token_art WHERE session_id = ?")
      .bind(sid)
      .first<{ image_asset: string }>();
    expect(art?.image_asset).toBe(row.hash);
  });

  it("strips text and private chunks from an imported PNG map", async () => {
    const { gm, base, sid } = await newTable();
    const bytes = await makePng(32, 32, {
      extraChunks: [pngChunk("tEXt", [...new TextEncoder().encode("Author\0someone")]), pngChunk("prVt", [1, 2, 3])],
    });
    const r = await postImport(gm, base, await makeBundle({ map: { bytes } }));
    expect(r.status).toBe(201);
    const [row] = await assetRows(sid);
    const stored = new Uint8Array(await ((await env.ASSETS.get(row.r2_key)) as R2ObjectBody).arrayBuffer());
    const text = new TextDecoder("latin1").decode(stored);
    expect(text).not.toContain("tEXt");
    expect(text).not.toContain("prVt");
    expect(row).toMatchObject({ hash: await sha256Hex(stored), original_hash: await sha256Hex(bytes), size: stored.byteLength });
  });

  it("calls the scanner hook for every image, and a refusal stores nothing", async () => {
    const calls: Pick<ScanInput, "kind" | "sessionId" | "filename">[] = [];
    removeScanner = addScanner({
      name: "test-scanner",
      async scan(input) {
        calls.push({ kind: input.kind, sessionId: input.sessionId, filename: input.filename });
        const infected = new TextDecoder("latin1").decode(input.bytes).includes("EICAR-TEST");
        return infected ? { ok: false, error: new ApiError("unsupported_media_type", "infected", { reason: "scanner" }) } : { ok: true };
      },
    });
    const clean = await newTable();
    const ok = await postImport(
      clean.gm,
      clean.base,
      await makeBundle({ map: { bytes: await makePng(16, 16) }, tokens: 1, art: [{ bytes: await makePng(20, 20) }] }),
    );
    expect(ok.status).toBe(201);
    expect(
      calls
        .filter((c) => c.sessionId === clean.sid)
        .map((c) => c.kind)
        .sort(),
    ).toEqual(["map", "token"]);

    const target = await newTable();
    const before = await importFootprint(target.sid);
    const infected = await makePng(16, 16, { extraChunks: [pngChunk("tEXt", [...new TextEncoder().encode("Comment\0EICAR-TEST")])] });
    const r = await postImport(
      target.gm,
      target.base,
      await makeBundle({ map: { bytes: await makePng(8, 8) }, tokens: 1, art: [{ bytes: infected }] }),
    );
    expect(r.status).toBe(415);
    expect(r.body.error.details.reason).toBe("scanner");
    expect(calls.some((c) => c.sessionId === target.sid && c.kind === "token")).toBe(true);
    expect(await importFootprint(target.sid)).toEqual(before);
  });
});

describe("the upload throttle counts an import's images", () => {
  async function windowCount(userId: string): Promise<number> {
    const row = await env.DB.prepare("SELECT count FROM asset_upload_windows WHERE user_id = ?").bind(userId).first<{ count: number }>();
    return row?.count ?? 0;
  }

  it("counts one upload per image the bundle uses", async () => {
    const { gm, base } = await newTable();
    const r = await postImport(
      gm,
      base,
      await makeBundle({
        map: { bytes: await makePng(16, 16) },
        tokens: 3,
        art: [{ bytes: await makePng(10, 10) }, { bytes: await makePng(12, 12) }, { bytes: await makePng(14, 14) }],
      }),
    );
    expect(r.status).toBe(201);
    expect(await windowCount(gm.id)).toBe(4);
  });

  it("answers 429 with Retry-After past the limit and leaves no asset rows", async () => {
    const { gm, base, sid } = await newTable();
    const window = Math.floor(Date.now() / 60_000) * 60;
    await env.DB.prepare("INSERT INTO asset_upload_windows (user_id, window_start, count) VALUES (?, ?, 28)").bind(gm.id, window).run();
    const before = await importFootprint(sid);
    const r = await postImport(
      gm,
      base,
      await makeBundle({
        map: { bytes: await makePng(16, 16) },
        tokens: 2,
        art: [{ bytes: await makePng(10, 10) }, { bytes: await makePng(11, 11) }],
      }),
    );
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe("rate_limited");
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await importFootprint(sid)).toEqual(before);
  });
});

describe("bundle caps", () => {
  it("refuses a bundle of more entities than IMPORT_MAX_ENTITIES with 413", async () => {
    const { gm, base, sid } = await newTable();
    const before = await importFootprint(sid);
    const zip = await makeBundle({ edit: (b) => (b.tokens = Array.from({ length: 10_000 }, () => ({}))) });
    const r = await postImport(gm, base, zip);
    expect(r.status).toBe(413);
    expect(r.body.error).toMatchObject({ code: "payload_too_large", details: { reason: "entities", entities: 10_002, limit: 10_000 } });
    expect(await importFootprint(sid)).toEqual(before);
  });

  it("refuses a body over IMPORT_MAX_BYTES with 413 while reading it, without a Content-Length", async () => {
    const { gm, base, sid } = await newTable();
    const before = await importFootprint(sid);
    const mib = new Uint8Array(1024 * 1024);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ >= 49) controller.close();
        else controller.enqueue(mib);
      },
    });
    const res = await SELF.fetch(`https://vtt.test${base}/import`, {
      method: "POST",
      headers: { cookie: gm.cookie, "x-csrf-token": gm.csrf, "content-type": "application/zip" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error.code).toBe("payload_too_large");
    expect(await importFootprint(sid)).toEqual(before);
  });
});

describe("the imported scene's name", () => {
  it('is "<name> (imported)" when the request names none', async () => {
    const { gm, base } = await newTable();
    const r = await postImport(gm, base, await makeBundle({ name: "Crypt" }));
    expect(r.status).toBe(201);
    expect(r.body.scene.name).toBe("Crypt (imported)");
    expect((await gm.req("GET", `${base}/scenes/${r.body.scene.id}`)).body.name).toBe("Crypt (imported)");
  });

  it("is the one given in ?name=", async () => {
    const { gm, base } = await newTable();
    const r = await postImport(gm, base, await makeBundle({ name: "Crypt" }), { query: `?name=${encodeURIComponent("Tomb of Ash")}` });
    expect(r.status).toBe(201);
    expect((await gm.req("GET", `${base}/scenes/${r.body.scene.id}`)).body.name).toBe("Tomb of Ash");
  });

  it("keeps the name within 200 characters", async () => {
    const { gm, base } = await newTable();
    const r = await postImport(gm, base, await makeBundle({ name: "n".repeat(200) }));
    expect(r.status).toBe(201);
    expect(r.body.scene.name).toHaveLength(200);
    expect(r.body.scene.name.endsWith(" (imported)")).toBe(true);
  });
});
