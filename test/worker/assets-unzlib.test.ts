import { unzlibSync, zlibSync } from "fflate";
import { describe, expect, it } from "vitest";
import { inspectImage } from "../../domain/assets";
import { decodePngInto, ImageDecodeError } from "../../worker/assets/png-stream";
import { BoxShrinker } from "../../worker/assets/shrink";
import { INFLATE_SLICE, InflateError, inflateZlib } from "../../worker/assets/unzlib";
import { newTable } from "../helpers/client";
import { concat, deflate, ihdr, PNG_SIG, pngChunk } from "../helpers/images";
import { shardOf } from "../helpers/shards";
import { upload } from "../helpers/uploads";

/** Splits `bytes` into parts of `step` bytes (as a PNG splits its image data into IDAT chunks). */
function split(bytes: Uint8Array, step = bytes.length): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += step) parts.push(bytes.subarray(at, at + step));
  return parts;
}

async function inflateAll(parts: Uint8Array[], maxOutput = 1 << 30): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const n = await inflateZlib(parts, maxOutput, (chunk) => chunks.push(chunk.slice()));
  const out = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
  expect(out.length).toBe(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function sample(kind: string, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let seed = 12345;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed >>> 24;
  };
  for (let i = 0; i < size; i++) {
    if (kind === "zeros") out[i] = 0;
    else if (kind === "random") out[i] = rnd();
    else if (kind === "text") out[i] = 97 + ((i * 7 + (i >> 5)) % 26);
    else out[i] = i % 97 < 50 ? rnd() & 3 : (i >> 8) & 255;
  }
  return out;
}

describe("bounded zlib inflation", () => {
  const kinds = ["zeros", "random", "text", "mixed"];
  const sizes = [0, 1, 100, 40_000, 300_000];
  for (const kind of kinds)
    for (const size of sizes)
      it(`round-trips ${size} bytes of ${kind} data from the runtime's and fflate's deflate, whole and in parts`, async () => {
        const data = sample(kind, size);
        for (const compressed of [
          await deflate(data),
          zlibSync(data, { level: 1 }),
          zlibSync(data, { level: 9 }),
          zlibSync(data, { level: 0 }),
        ]) {
          expect(unzlibSync(compressed)).toEqual(data);
          expect(await inflateAll(split(compressed))).toEqual(data);
          expect(await inflateAll(split(compressed, size > 40_000 ? 997 : 7))).toEqual(data);
          expect(await inflateAll(split(compressed, 5000))).toEqual(data);
        }
      });

  it("accepts empty parts between the data, as a PNG may have empty IDAT chunks", async () => {
    const data = sample("text", 20_000);
    const compressed = await deflate(data);
    const parts = [new Uint8Array(0), compressed.subarray(0, 100), new Uint8Array(0), compressed.subarray(100), new Uint8Array(0)];
    expect(await inflateAll(parts)).toEqual(data);
  });

  it("refuses a stream that is not zlib, one that needs a preset dictionary, and one too short to be any", async () => {
    await expect(inflateAll([Uint8Array.from([0x12, 0x34, 0, 0, 0, 0, 0, 0])])).rejects.toThrow(InflateError);
    // FDICT set (0x78 0xbb passes the header check): a PNG may not use a preset dictionary.
    await expect(inflateAll([Uint8Array.from([0x78, 0xbb, 0, 0, 0, 1, 3, 0, 0, 0, 0, 1])])).rejects.toThrow(InflateError);
    await expect(inflateAll([Uint8Array.from([0x78, 0x9c, 3])])).rejects.toThrow(InflateError);
  });

  it("leaves the compressed bytes as they were (a PNG's bytes are hashed and stored after decoding)", async () => {
    const compressed = await deflate(sample("mixed", 50_000));
    const copy = compressed.slice();
    await inflateAll(split(compressed, 1000));
    expect(compressed.byteLength).toBe(copy.byteLength);
    expect(compressed).toEqual(copy);
  });

  it("refuses bytes after the end of the stream", async () => {
    const good = await deflate(sample("text", 1000));
    await expect(inflateAll([good, Uint8Array.from([1, 2, 3])])).rejects.toThrow(InflateError);
  });

  it("refuses a wrong Adler-32 (the last four bytes), whole and in parts", async () => {
    const good = await deflate(sample("text", 10_000));
    for (const at of [good.length - 1, good.length - 4]) {
      const flipped = good.slice();
      flipped[at] = (flipped[at] ?? 0) ^ 1;
      await expect(inflateAll(split(flipped))).rejects.toThrow(InflateError);
      await expect(inflateAll(split(flipped, 3))).rejects.toThrow(InflateError);
    }
  });

  it("refuses a stream that ends early: mid-block, and with its checksum cut", async () => {
    const good = await deflate(sample("mixed", 100_000));
    for (const cut of [10, 1000, good.length / 2, good.length - 10, good.length - 2]) {
      const short = good.subarray(0, Math.floor(cut));
      await expect(inflateAll(split(short))).rejects.toThrow(InflateError);
      await expect(inflateAll(split(short, 333))).rejects.toThrow(InflateError);
    }
  });

  it("refuses corrupt compressed data", async () => {
    const garbage = (await deflate(sample("text", 10_000))).slice();
    for (let i = 4; i < 40; i++) garbage[i] = 0xff;
    await expect(inflateAll([garbage])).rejects.toThrow(InflateError);
    // A distance reaching before the start of the data (fixed block: literal 'a', then length 3 distance 2).
    await expect(inflateAll([Uint8Array.from([0x78, 0x9c, 0x4b, 0x04, 0x02, 0, 0, 0, 0, 0])])).rejects.toThrow(InflateError);
  });

  it("stops a decompression bomb one slice past its budget: the sink never gets more than the budget", async () => {
    // 256 MiB of zeros deflate to about 256 KiB: a 1000:1 bomb.
    const bomb = await new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          const zeros = new Uint8Array(1 << 20);
          for (let i = 0; i < 256; i++) controller.enqueue(zeros);
          controller.close();
        },
      }).pipeThrough(new CompressionStream("deflate")),
    ).bytes();
    expect(bomb.length).toBeLessThan(1 << 20);
    const budget = 3 << 20;
    let received = 0;
    let largest = 0;
    let error: unknown;
    try {
      await inflateZlib([bomb], budget, (chunk) => {
        received += chunk.length;
        largest = Math.max(largest, chunk.length);
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InflateError);
    expect(String(error)).toMatch(/inflates to more than 3145728 bytes/);
    expect(received).toBeLessThanOrEqual(budget);
    // One slice inflates to at most 1032 times its size (deflate's largest ratio).
    expect(largest).toBeLessThanOrEqual(1032 * INFLATE_SLICE);
  });
});

describe("PNG image data that inflates past its header's size", () => {
  /** A 16×16 RGBA PNG whose IDAT inflates to 64 MiB (the header needs 16 × 65 = 1040 bytes). */
  async function bombPng(): Promise<Uint8Array> {
    const idat = await deflate(new Uint8Array(64 << 20));
    return concat(PNG_SIG, ihdr(16, 16), pngChunk("IDAT", idat), pngChunk("IEND"));
  }

  it("is refused by the decoder before the bomb goes off", async () => {
    const bytes = await bombPng();
    const inspected = inspectImage(bytes);
    if (!inspected.ok) throw new Error(inspected.message);
    await expect(decodePngInto(bytes, inspected.image, new BoxShrinker(16, 16, 1))).rejects.toBeInstanceOf(ImageDecodeError);
  });

  it("is refused as token art with 415 and nothing stored", async () => {
    const { gm, base, sid } = await newTable();
    const r = await upload(gm, base, await bombPng(), { kind: "token", filename: "bomb.png" });
    expect(r.status).toBe(415);
    expect(r.body.error).toMatchObject({ code: "unsupported_media_type", details: { reason: "undecodable" } });
    const n = await (await shardOf(sid)).prepare("SELECT COUNT(*) AS n FROM assets WHERE session_id = ?").bind(sid).first<{ n: number }>();
    expect(n?.n).toBe(0);
  });
});
