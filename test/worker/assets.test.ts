import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../../worker/app";
import { signedAssetUrl } from "../../worker/assets/signing";
import { create, newTable, ORIGIN, TestUser } from "../helpers/client";
import { concat, ihdr, makeGif, makeJpeg, makePng, makeWebp, PNG_SIG, pngChunk } from "../helpers/images";
import { shardOf } from "../helpers/shards";
import { authHeaders, fetchAnonymous, multipart, sha256, upload } from "../helpers/uploads";

const MiB = 1024 * 1024;

async function manifest(sid: string): Promise<Record<string, any>[]> {
  const { results } = await (await shardOf(sid))
    .prepare("SELECT * FROM assets WHERE session_id = ? ORDER BY created_at")
    .bind(sid)
    .all<Record<string, any>>();
  return results;
}

async function r2Bytes(hash: string): Promise<Uint8Array | null> {
  const object = await env.ASSETS.get(`assets/${hash}`);
  return object ? new Uint8Array(await object.arrayBuffer()) : null;
}

/** A request body that counts how much of itself was read. */
function countingBody(total: number, chunk = 64 * 1024, prefix: Uint8Array = new Uint8Array(0)) {
  let sent = 0;
  const stats = { pulled: 0 };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === 0 && prefix.length > 0) {
        controller.enqueue(prefix);
        sent += prefix.length;
        stats.pulled += prefix.length;
        return;
      }
      if (sent >= total) {
        controller.close();
        return;
      }
      const n = Math.min(chunk, total - sent);
      controller.enqueue(new Uint8Array(n).fill(0x41));
      sent += n;
      stats.pulled += n;
    },
  });
  return { stream, stats };
}

describe("uploading", () => {
  it.each([
    ["PNG", () => makePng(64, 48), "map.png", "image/png"],
    ["JPEG", () => makeJpeg(64, 48), "map.jpg", "image/jpeg"],
    ["WebP", () => makeWebp(64, 48), "map.webp", "image/webp"],
    ["GIF", async () => makeGif(64, 48, [[1, 2, 3]], [{ index: () => 0 }]), "map.gif", "image/gif"],
  ] as const)("accepts a %s map, stores its bytes content-addressed and records it", async (_, make, filename, mime) => {
    const { gm, base, sid } = await newTable();
    const bytes = await make();
    const r = await upload(gm, base, bytes, { filename, kind: "map" });
    expect(r.status).toBe(201);
    const hash = await sha256(bytes);
    expect(r.body.asset).toMatchObject({ hash, mime, size: bytes.length, width: 64, height: 48, kind: "map" });
    expect(r.body.asset.url).toMatch(new RegExp(`^/api/vtt/assets/${hash}\\?sid=${sid}&exp=\\d+&sig=[A-Za-z0-9_-]{43}$`));
    expect(await r2Bytes(hash)).toEqual(bytes);
    const head = await env.ASSETS.head(`assets/${hash}`);
    expect(head?.httpMetadata?.contentType).toBe(mime);
    const rows = await manifest(sid);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      hash,
      original_hash: hash,
      kind: "map",
      mime,
      size: bytes.length,
      width: 64,
      height: 48,
      uploaded_by: gm.id,
    });
    expect(rows[0]?.created_at).toEqual(expect.any(String));
    expect(rows[0]?.last_referenced_at).toEqual(expect.any(String));
  });

  it("treats an upload without kind as a map and keeps its bytes", async () => {
    const { gm, base } = await newTable();
    const bytes = await makePng(900, 700);
    const r = await upload(gm, base, bytes);
    expect(r.status).toBe(201);
    expect(r.body.asset).toMatchObject({ kind: "map", width: 900, height: 700, hash: await sha256(bytes) });
  });

  it("stores token art resized to fit 512×512 as WebP, named by the SHA-256 of the stored bytes", async () => {
    const { gm, base, sid } = await newTable();
    const original = await makePng(1024, 2048);
    const r = await upload(gm, base, original, { kind: "token", filename: "hero.png" });
    expect(r.status).toBe(201);
    expect(r.body.asset).toMatchObject({ mime: "image/webp", width: 256, height: 512, kind: "token" });
    const stored = await r2Bytes(r.body.asset.hash);
    expect(stored).not.toBeNull();
    expect(await sha256(stored ?? new Uint8Array())).toBe(r.body.asset.hash);
    expect(r.body.asset.size).toBe(stored?.length);
    const [row] = await manifest(sid);
    expect(row).toMatchObject({ hash: r.body.asset.hash, original_hash: await sha256(original), kind: "token" });
  });

  it("never upscales tiny token art", async () => {
    const { gm, base } = await newTable();
    const r = await upload(gm, base, await makeJpeg(30, 20), { kind: "token", filename: "tiny.jpg" });
    expect(r.status).toBe(201);
    expect(r.body.asset).toMatchObject({ width: 30, height: 20, mime: "image/webp" });
  });

  it("accepts the kind in the query string too", async () => {
    const { gm, base } = await newTable();
    const r = await upload(gm, base, await makePng(600, 600), { query: "?kind=token" });
    expect(r.status).toBe(201);
    expect(r.body.asset).toMatchObject({ kind: "token", width: 512, height: 512 });
  });
});

describe("deduplication", () => {
  it("stores the same map bytes once and answers the same asset", async () => {
    const { gm, base, sid } = await newTable();
    const bytes = await makePng(50, 50, { pixel: (x, y) => [x, y, 1, 255] });
    const first = await upload(gm, base, bytes);
    const second = await upload(gm, base, bytes, { filename: "again.png" });
    expect(second.status).toBe(201);
    expect(second.body.asset.hash).toBe(first.body.asset.hash);
    expect(await manifest(sid)).toHaveLength(1);
    const listed = await env.ASSETS.list({ prefix: `assets/${first.body.asset.hash}` });
    expect(listed.objects).toHaveLength(1);
  });

  it("finds the same token original again by its hash without a second object", async () => {
    const { gm, base, sid } = await newTable();
    const original = await makePng(800, 800, { pixel: (x, y) => [x & 255, y & 255, 9, 255] });
    const first = await upload(gm, base, original, { kind: "token" });
    const second = await upload(gm, base, original, { kind: "token" });
    expect(second.body.asset).toEqual({ ...first.body.asset, url: second.body.asset.url });
    expect(await manifest(sid)).toHaveLength(1);
  });

  it("keeps a map and token art of the same original apart", async () => {
    const { gm, base, sid } = await newTable();
    const original = await makePng(700, 350);
    const map = await upload(gm, base, original, { kind: "map" });
    const token = await upload(gm, base, original, { kind: "token" });
    expect(map.body.asset.hash).not.toBe(token.body.asset.hash);
    expect((await manifest(sid)).map((r) => r.kind).sort()).toEqual(["map", "token"]);
  });

  it("shares one object between sessions that upload the same bytes", async () => {
    const one = await newTable();
    const two = await newTable();
    const bytes = await makePng(31, 17, { pixel: (x) => [x, 99, 3, 255] });
    const a = await upload(one.gm, one.base, bytes);
    const b = await upload(two.gm, two.base, bytes);
    expect(a.body.asset.hash).toBe(b.body.asset.hash);
    expect(await manifest(one.sid)).toHaveLength(1);
    expect(await manifest(two.sid)).toHaveLength(1);
    expect((await env.ASSETS.list({ prefix: `assets/${a.body.asset.hash}` })).objects).toHaveLength(1);
  });
});

describe("refusing what is not an allowed image", () => {
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>';
  const html = "<!doctype html><html><body><script>fetch('/api/auth/tokens')</script></body></html>";

  const cases = [
    ["an SVG", async () => new TextEncoder().encode(svg), "map.svg", undefined, 415, "unsupported_type"],
    ["an SVG renamed .png", async () => new TextEncoder().encode(svg), "map.png", "image/png", 415, "unsupported_type"],
    ["HTML renamed .png", async () => new TextEncoder().encode(html), "map.png", "image/png", 415, "unsupported_type"],
    ["a PDF", async () => new TextEncoder().encode("%PDF-1.4\n..."), "map.png", undefined, 415, "unsupported_type"],
    ["an empty file", async () => new Uint8Array(0), "map.png", undefined, 415, "unsupported_type"],
    ["a PNG named .jpg", () => makePng(8, 8), "map.jpg", undefined, 415, "extension_mismatch"],
    ["a JPEG named .png", () => makeJpeg(8, 8), "map.png", undefined, 415, "extension_mismatch"],
    ["a GIF with no extension", async () => makeGif(2, 2, [[0, 0, 0]], [{ index: () => 0 }]), "map", undefined, 415, "extension_mismatch"],
    ["a PNG sent as image/gif", () => makePng(8, 8), "map.png", "image/gif", 415, "declared_type_mismatch"],
    ["a PNG with HTML after IEND", async () => concat(await makePng(8, 8), html), "map.png", undefined, 415, "trailing_data"],
    [
      "a JPEG with a ZIP appended",
      async () => concat(await makeJpeg(8, 8), [0x50, 0x4b, 3, 4], "zipzip"),
      "x.jpg",
      undefined,
      415,
      "trailing_data",
    ],
    [
      "a PNG with script in a text chunk",
      () => makePng(8, 8, { extraChunks: [pngChunk("tEXt", concat("Comment\0", "<script>alert(1)</script>"))] }),
      "map.png",
      undefined,
      415,
      "embedded_markup",
    ],
    ["a truncated PNG", async () => (await makePng(64, 64)).slice(0, 90), "map.png", undefined, 415, "truncated"],
    [
      "a truncated JPEG",
      async () => {
        const j = await makeJpeg(64, 64);
        return j.slice(0, j.length - 40);
      },
      "map.jpg",
      undefined,
      415,
      "truncated",
    ],
    ["a truncated WebP", async () => (await makeWebp(32, 32)).slice(0, 40), "map.webp", undefined, 415, "truncated"],
    [
      "a PNG declaring 20000×20000",
      async () => concat(PNG_SIG, ihdr(20_000, 20_000), pngChunk("IDAT", [0x78, 0x9c, 3, 0, 0, 0, 0, 1]), pngChunk("IEND")),
      "bomb.png",
      undefined,
      413,
      "dimensions",
    ],
    [
      "a PNG declaring 10000×6000 (60 megapixels)",
      async () => concat(PNG_SIG, ihdr(10_000, 6_000), pngChunk("IDAT", [0x78, 0x9c, 3, 0, 0, 0, 0, 1]), pngChunk("IEND")),
      "bomb.png",
      undefined,
      413,
      "dimensions",
    ],
    [
      "a GIF declaring a 65535-px screen",
      async () => concat("GIF89a", [255, 255, 1, 0, 0, 0, 0], [0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0, 0x3b]),
      "bomb.gif",
      undefined,
      413,
      "dimensions",
    ],
  ] as const;
  it.each(cases.map(([name, make, filename, type, status, reason]) => ({ name, make, filename, type, status, reason })))(
    "refuses $name with $status ($reason)",
    async ({ make, filename, type, status, reason }) => {
      const { gm, base, sid } = await newTable();
      const r = await upload(gm, base, await make(), { filename, ...(type ? { type } : {}) });
      expect(r.status).toBe(status);
      expect(r.body.error.code).toBe(status === 415 ? "unsupported_media_type" : "payload_too_large");
      expect(r.body.error.details.reason).toBe(reason);
      expect(await manifest(sid)).toEqual([]);
    },
  );

  it("refuses a declared-size bomb as token art before decoding it", async () => {
    const { gm, base } = await newTable();
    const bomb = concat(PNG_SIG, ihdr(16_384, 16_384), pngChunk("IDAT", [0x78, 0x9c, 3, 0, 0, 0, 0, 1]), pngChunk("IEND"));
    const r = await upload(gm, base, bomb, { kind: "token", filename: "bomb.png" });
    expect(r.status).toBe(413);
    expect(r.body.error.details).toMatchObject({ reason: "dimensions", width: 16_384, height: 16_384 });
  });

  it("refuses PNG token art whose image data is shorter than its header says", async () => {
    const { gm, base } = await newTable();
    const png = await makePng(64, 64);
    const idat = await makePng(8, 8).then((p) => p.subarray(33, p.length - 12));
    const lying = concat(png.subarray(0, 33), idat, pngChunk("IEND"));
    const r = await upload(gm, base, lying, { kind: "token" });
    expect(r.status).toBe(415);
    expect(r.body.error.details.reason).toBe("undecodable");
  });
});

describe("size limits", () => {
  it("answers 413 from the declared length of a map over 20 MiB without reading the body", async () => {
    const { gm, base, sid } = await newTable();
    const total = 21 * MiB;
    const { stream, stats } = countingBody(total);
    const res = await SELF.fetch(`${ORIGIN}${base}/assets`, {
      method: "POST",
      headers: { ...authHeaders(gm), "content-type": "multipart/form-data; boundary=xyz", "content-length": String(total) },
      body: stream,
      // @ts-expect-error: workerd wants duplex for streamed request bodies
      duplex: "half",
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error).toMatchObject({ code: "payload_too_large", details: { kind: "map", limit: 20 * MiB } });
    expect(stats.pulled).toBeLessThan(2 * MiB);
    expect(await manifest(sid)).toEqual([]);
  });

  it("answers 413 for ?kind=token over 5 MiB from the declared length", async () => {
    const { gm, base } = await newTable();
    const { body, contentType } = multipart([{ name: "file", filename: "big.png", data: new Uint8Array(5 * MiB + 100 * 1024) }]);
    const res = await SELF.fetch(`${ORIGIN}${base}/assets?kind=token`, {
      method: "POST",
      headers: { ...authHeaders(gm), "content-type": contentType },
      body,
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error.details).toMatchObject({ kind: "token", limit: 5 * MiB });
  });

  it("stops reading token art at 5 MiB when the kind comes before the file, even without a length", async () => {
    const { gm, base } = await newTable();
    const boundary = "tokenlimit";
    const prefix = new TextEncoder().encode(
      `--${boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\ntoken\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.png"\r\n\r\n`,
    );
    const total = 15 * MiB;
    const { stream, stats } = countingBody(total, 256 * 1024, prefix);
    const res = await SELF.fetch(`${ORIGIN}${base}/assets`, {
      method: "POST",
      headers: { ...authHeaders(gm), "content-type": `multipart/form-data; boundary=${boundary}` },
      body: stream,
      // @ts-expect-error: workerd wants duplex for streamed request bodies
      duplex: "half",
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error.details).toMatchObject({ kind: "token", limit: 5 * MiB });
    expect(stats.pulled).toBeLessThan(8 * MiB);
  });

  it("answers 413 for token art over 5 MiB when the kind comes after the file", async () => {
    const { gm, base } = await newTable();
    const r = await upload(gm, base, concat(await makePng(8, 8), new Uint8Array(5 * MiB)), { kind: "token", kindLast: true });
    expect(r.status).toBe(413);
    expect(r.body.error.details).toMatchObject({ kind: "token", limit: 5 * MiB });
  });
});

describe("who may upload", () => {
  it("refuses a player with 403 and stores nothing", async () => {
    const { player, base, sid } = await newTable();
    const r = await upload(player, base, await makePng(8, 8));
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe("forbidden");
    expect(await manifest(sid)).toEqual([]);
  });

  it("answers 404 to someone outside the session", async () => {
    const { base } = await newTable();
    const stranger = await TestUser.register("x");
    expect((await upload(stranger, base, await makePng(8, 8))).status).toBe(404);
  });

  it("answers 401 without credentials and 403 without the CSRF token", async () => {
    const { gm, base } = await newTable();
    const { body, contentType } = multipart([{ name: "file", filename: "a.png", data: await makePng(8, 8) }]);
    const anonymous = await SELF.fetch(`${ORIGIN}${base}/assets`, { method: "POST", headers: { "content-type": contentType }, body });
    expect(anonymous.status).toBe(401);
    const noCsrf = await upload(gm, base, await makePng(8, 8), { headers: { "x-csrf-token": "" } });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body.error.code).toBe("csrf");
  });

  it("throttles uploads per user with 429 and Retry-After", async () => {
    const { gm, base } = await newTable();
    const png = await makePng(4, 4);
    const statuses: number[] = [];
    for (let i = 0; i < 31; i++) statuses.push((await upload(gm, base, png)).status);
    expect(statuses.slice(0, 30).every((s) => s === 201)).toBe(true);
    const last = await upload(gm, base, png);
    expect(last.status).toBe(429);
    expect(last.body.error.code).toBe("rate_limited");
    expect(Number(last.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(Number(last.headers.get("retry-after"))).toBeLessThanOrEqual(60);
  });
});

describe("malformed uploads", () => {
  it.each([
    ["a JSON body", "application/json", '{"file":"x"}', "file"],
    [
      "a multipart body without the file",
      "multipart/form-data; boundary=b",
      '--b\r\nContent-Disposition: form-data; name="kind"\r\n\r\nmap\r\n--b--\r\n',
      "file",
    ],
    [
      "an unknown kind",
      "multipart/form-data; boundary=b",
      '--b\r\nContent-Disposition: form-data; name="kind"\r\n\r\nportrait\r\n--b--\r\n',
      "kind",
    ],
    [
      "a body cut before its closing boundary",
      "multipart/form-data; boundary=b",
      '--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nabc',
      "file",
    ],
    [
      "two files",
      "multipart/form-data; boundary=b",
      '--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\na\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="b.png"\r\n\r\nb\r\n--b--\r\n',
      "file",
    ],
  ])("answers 400 to %s, naming the field", async (_, type, body, field) => {
    const { gm, base } = await newTable();
    const r = await gm.req("POST", `${base}/assets`, body, { "content-type": type });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("bad_request");
    expect(r.body.error.details.fields[0].field).toBe(field);
  });

  it("answers 503, not a URL signed with nothing, when the signing secret is missing", async () => {
    const { gm, base, sid } = await newTable();
    const { body, contentType } = multipart([{ name: "file", filename: "a.png", data: await makePng(8, 8) }]);
    const res = await app.request(
      `${ORIGIN}${base}/assets`,
      { method: "POST", headers: { ...authHeaders(gm), "content-type": contentType }, body },
      { ...env, ASSET_SIGNING_SECRET: "" },
    );
    expect(res.status).toBe(503);
    expect(((await res.json()) as any).error.message).toContain("ASSET_SIGNING_SECRET");
    expect(await manifest(sid)).toEqual([]);
  });
});

describe("signed URLs", () => {
  async function uploaded() {
    const table = await newTable();
    const bytes = await makePng(20, 10, { pixel: (x, y) => [x * 10, y * 20, 7, 255] });
    const r = await upload(table.gm, table.base, bytes);
    expect(r.status).toBe(201);
    return { ...table, bytes, asset: r.body.asset as { hash: string; url: string } };
  }

  it("serves the bytes without a login, with the sniffed type, immutable caching, nosniff and a CSP", async () => {
    const { bytes, asset } = await uploaded();
    const r = await fetchAnonymous(asset.url);
    expect(r.status).toBe(200);
    expect(r.bytes).toEqual(bytes);
    expect(r.headers.get("content-type")).toBe("image/png");
    expect(r.headers.get("x-content-type-options")).toBe("nosniff");
    expect(r.headers.get("content-security-policy")).toBe("default-src 'none'; sandbox");
    expect(r.headers.get("cache-control")).toMatch(/^private, max-age=\d+, immutable$/);
    expect(r.headers.get("etag")).toBe(`"${asset.hash}"`);
    const revalidated = await fetchAnonymous(asset.url, { "if-none-match": `"${asset.hash}"` });
    expect(revalidated.status).toBe(304);
    expect(revalidated.bytes.length).toBe(0);
  });

  it("keeps the URL valid for about a day", async () => {
    const { asset } = await uploaded();
    const exp = Number(new URL(asset.url, ORIGIN).searchParams.get("exp"));
    const now = Date.now() / 1000;
    expect(exp - now).toBeGreaterThan(24 * 3600 - 5);
    expect(exp - now).toBeLessThanOrEqual(25 * 3600);
  });

  it.each([
    ["a flipped signature character", (u: URL) => u.searchParams.set("sig", flip(u.searchParams.get("sig") ?? ""))],
    ["no signature", (u: URL) => u.searchParams.delete("sig")],
    ["a later expiry", (u: URL) => u.searchParams.set("exp", String(Number(u.searchParams.get("exp")) + 3600))],
    ["another session id", (u: URL) => u.searchParams.set("sid", "someothersession")],
    ["another hash", (u: URL) => (u.pathname = `/api/vtt/assets/${"0".repeat(64)}`)],
    ["a malformed hash", (u: URL) => (u.pathname = "/api/vtt/assets/..%2Fsecrets")],
  ])("answers 403 to %s", async (_, tamper) => {
    const { asset } = await uploaded();
    const url = new URL(asset.url, ORIGIN);
    tamper(url);
    const r = await fetchAnonymous(`${url.pathname}${url.search}`);
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe("forbidden");
  });

  it("answers 403 to an expired URL", async () => {
    const { asset, sid } = await uploaded();
    const expired = await signedAssetUrl(env, sid, asset.hash, Math.floor(Date.now() / 1000) - 1);
    const r = await fetchAnonymous(expired);
    expect(r.status).toBe(403);
    expect(r.json.error.message).toContain("expired");
  });

  it("does not serve another session's asset with this session's signature", async () => {
    const one = await uploaded();
    const two = await newTable();
    // A URL correctly signed for session two, naming session one's asset: no such asset there.
    const crossed = await signedAssetUrl(env, two.sid, one.asset.hash);
    expect((await fetchAnonymous(crossed)).status).toBe(404);
  });

  it("answers 404 to a correctly signed URL of a session the directory does not list", async () => {
    const { asset } = await uploaded();
    const unknown = crypto.randomUUID();
    const url = await signedAssetUrl(env, unknown, asset.hash);
    const r = await fetchAnonymous(url);
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe("not_found");
    expect(await env.DB.prepare("SELECT 1 FROM session_directory WHERE session_id = ?").bind(unknown).first()).toBeNull();
  });

  it("gives members a fresh URL by hash and a redirect for <img src>", async () => {
    const { gm, player, base, asset } = await uploaded();
    // Players get only assets of what they may see: make it the active scene's map.
    const scene = await create(gm, base, "scenes", { name: "Shown", map_asset: asset.hash });
    await gm.req("POST", `${base}/scenes/${scene.id}/activate`, {});
    const r = await player.req("GET", `${base}/assets/${asset.hash}`);
    expect(r.status).toBe(200);
    expect(r.body.asset.hash).toBe(asset.hash);
    expect((await fetchAnonymous(r.body.asset.url)).status).toBe(200);
    const redirect = await SELF.fetch(`${ORIGIN}${base}/assets/${asset.hash}/file`, { headers: authHeaders(player), redirect: "manual" });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("location")).toMatch(new RegExp(`^/api/vtt/assets/${asset.hash}\\?`));
    expect((await player.req("GET", `${base}/assets/${"f".repeat(64)}`)).status).toBe(404);
  });

  it("lists the session's assets to GMs only", async () => {
    const { gm, player, base, asset } = await uploaded();
    const list = await gm.req("GET", `${base}/assets`);
    expect(list.status).toBe(200);
    expect(list.body.items.map((a: any) => a.hash)).toEqual([asset.hash]);
    expect((await player.req("GET", `${base}/assets`)).status).toBe(403);
  });
});

function flip(sig: string): string {
  const c = sig[5] === "A" ? "B" : "A";
  return `${sig.slice(0, 5)}${c}${sig.slice(6)}`;
}

describe("references through real uploads", () => {
  it("accepts a scene map and token art that name assets uploaded to the session", async () => {
    const { gm, base } = await newTable();
    const map = await upload(gm, base, await makeJpeg(300, 200), { filename: "crypt.jpg" });
    const art = await upload(gm, base, await makePng(900, 900), { kind: "token", filename: "hero.png" });
    const scene = await create(gm, base, "scenes", { name: "Crypt", map_asset: map.body.asset.hash });
    expect(scene.map_asset).toBe(map.body.asset.hash);
    const token = await create(gm, base, "tokens", { name: "Hero", scene_id: scene.id });
    const tokenArt = await create(gm, base, "token-art", {
      token_id: token.id,
      image_asset: art.body.asset.hash,
      crop: { scale: 1, translate_x: 0, translate_y: 0, stage_size: 512, base_scale: 1 },
    });
    expect(tokenArt.image_asset).toBe(art.body.asset.hash);
  });

  it("refuses an asset uploaded to another session with 400", async () => {
    const one = await newTable();
    const two = await newTable();
    const map = await upload(one.gm, one.base, await makePng(10, 10, { pixel: () => [1, 2, 3, 255] }));
    const r = await two.gm.req("POST", `${two.base}/scenes`, { name: "Stolen", map_asset: map.body.asset.hash });
    expect(r.status).toBe(400);
    expect(r.body.error.details.fields[0].field).toBe("map_asset");
  });

  it("refuses the original hash of resized token art: the identity is the stored bytes", async () => {
    const { gm, base } = await newTable();
    const original = await makePng(1000, 1000);
    const art = await upload(gm, base, original, { kind: "token" });
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const crop = { scale: 1, translate_x: 0, translate_y: 0, stage_size: 512, base_scale: 1 };
    const byOriginal = await gm.req("POST", `${base}/token-art`, { token_id: token.id, image_asset: await sha256(original), crop });
    expect(byOriginal.status).toBe(400);
    expect(byOriginal.body.error.details.fields[0].field).toBe("image_asset");
    expect((await gm.req("POST", `${base}/token-art`, { token_id: token.id, image_asset: art.body.asset.hash, crop })).status).toBe(201);
  });
});
