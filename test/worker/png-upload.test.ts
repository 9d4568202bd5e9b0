import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { inspectImage } from "../../domain/assets";
import { crc32, findBadPngCrc, pngChunks, stripPngMetadata } from "../../worker/assets/png-chunks";
import { decodePngInto } from "../../worker/assets/png-stream";
import { BoxShrinker } from "../../worker/assets/shrink";
import { newTable } from "../helpers/client";
import { makePng, pngChunk } from "../helpers/images";
import { shardOf } from "../helpers/shards";
import { sha256, upload } from "../helpers/uploads";

const text = (s: string) => [...new TextEncoder().encode(s)];

/** A map carrying every kind of chunk that should not be stored. */
function withMetadata(width = 24, height = 16): Promise<Uint8Array> {
  return makePng(width, height, {
    extraChunks: [
      pngChunk("tEXt", text("Author\0Somebody")),
      pngChunk("zTXt", text("Comment\0\0x")),
      pngChunk("iTXt", text("Title\0\0\0\0\0A title")),
      pngChunk("eXIf", text("MM\0*\0\0\0\b\0\0")),
      pngChunk("tIME", [7, 234, 12, 4, 10, 0, 0]),
      pngChunk("prIv", [1, 2, 3, 4]),
      pngChunk("pHYs", [0, 0, 11, 19, 0, 0, 11, 19, 1]),
    ],
  });
}

async function pixels(bytes: Uint8Array): Promise<Uint8Array> {
  const inspected = inspectImage(bytes);
  if (!inspected.ok) throw new Error(inspected.message);
  const shrinker = new BoxShrinker(inspected.image.width, inspected.image.height, 1);
  await decodePngInto(bytes, inspected.image, shrinker);
  return shrinker.finish().data;
}

const types = (bytes: Uint8Array) => pngChunks(bytes).map((c) => c.type);

async function assetCount(sid: string): Promise<number> {
  return (
    (await (await shardOf(sid)).prepare("SELECT COUNT(*) AS n FROM assets WHERE session_id = ?").bind(sid).first<{ n: number }>())?.n ?? -1
  );
}

describe("PNG chunk CRCs", () => {
  it("computes the CRC-32 of zlib and PNG", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it.each([
    ["IDAT", "its image data"],
    ["tEXt", "an ancillary text chunk"],
  ])("refuses an upload whose %s chunk fails its CRC (%s) with 415 and stores nothing", async (type) => {
    const { gm, base, sid } = await newTable();
    const bytes = await makePng(16, 16, { extraChunks: [pngChunk("tEXt", text("Comment\0fine"))] });
    const chunk = pngChunks(bytes).find((c) => c.type === type);
    if (!chunk) throw new Error(`no ${type}`);
    bytes[chunk.at + 8] = (bytes[chunk.at + 8] ?? 0) ^ 0x01;
    expect(findBadPngCrc(bytes)).toBe(type);
    const r = await upload(gm, base, bytes, { filename: "map.png", kind: "map" });
    expect(r.status).toBe(415);
    expect(r.body.error).toMatchObject({ code: "unsupported_media_type", details: { reason: "corrupt", chunk: type } });
    expect(await assetCount(sid)).toBe(0);
    expect(await env.ASSETS.head(`assets/${await sha256(bytes)}`)).toBeNull();
  });
});

describe("PNG maps are stored without text, metadata and private chunks", () => {
  it("drops tEXt, zTXt, iTXt, eXIf, tIME and private chunks, keeping the pixels and the public ones", async () => {
    const { gm, base, sid } = await newTable();
    const original = await withMetadata();
    const r = await upload(gm, base, original, { filename: "map.png", kind: "map" });
    expect(r.status).toBe(201);
    const object = await env.ASSETS.get(`assets/${r.body.asset.hash}`);
    const stored = new Uint8Array(await (object as R2ObjectBody).arrayBuffer());
    expect(types(stored)).toEqual(["IHDR", "pHYs", "IDAT", "IEND"]);
    expect(await pixels(stored)).toEqual(await pixels(original));
    expect(r.body.asset).toMatchObject({ hash: await sha256(stored), size: stored.byteLength, width: 24, height: 16, mime: "image/png" });
    const row = await (await shardOf(sid))
      .prepare("SELECT original_hash FROM assets WHERE session_id = ? AND hash = ?")
      .bind(sid, r.body.asset.hash)
      .first();
    expect(row).toEqual({ original_hash: await sha256(original) });

    // The same file again is found by its original hash: one asset.
    const again = await upload(gm, base, original, { filename: "map.png", kind: "map" });
    expect(again.body.asset.hash).toBe(r.body.asset.hash);
    expect(await assetCount(sid)).toBe(1);
  });

  it("stores a PNG with nothing to drop byte for byte", async () => {
    const { gm, base } = await newTable();
    const bytes = await makePng(20, 20, { extraChunks: [pngChunk("gAMA", [0, 0, 0xb1, 0x8f])] });
    const r = await upload(gm, base, bytes, { filename: "map.png", kind: "map" });
    expect(r.status).toBe(201);
    expect(r.body.asset.hash).toBe(await sha256(bytes));
    expect(stripPngMetadata(bytes)).toBe(bytes);
  });

  it("keeps the chunks of an animated PNG", () => {
    const png = new Uint8Array([
      ...[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
      ...pngChunk("IHDR", [0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]),
      ...pngChunk("acTL", [0, 0, 0, 1, 0, 0, 0, 0]),
      ...pngChunk("fcTL", new Array(26).fill(0)),
      ...pngChunk("IDAT", [1]),
      ...pngChunk("tEXt", text("a\0b")),
      ...pngChunk("IEND"),
    ]);
    expect(types(stripPngMetadata(png))).toEqual(["IHDR", "acTL", "fcTL", "IDAT", "IEND"]);
  });
});
