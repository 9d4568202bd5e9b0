import { unzlibSync, zlibSync } from "fflate";
import { describe, expect, it } from "vitest";
import { InflateError, Inflater } from "../../worker/assets/inflate";
import { deflate } from "../helpers/images";

function inflateAll(compressed: Uint8Array, step = compressed.length): Uint8Array {
  const parts: Uint8Array[] = [];
  const inflater = new Inflater((view) => parts.push(view.slice()));
  for (let at = 0; at < compressed.length; at += step) inflater.push(compressed.subarray(at, at + step));
  inflater.push(new Uint8Array(0), true);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
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

describe("inflate", () => {
  const kinds = ["zeros", "random", "text", "mixed"];
  const sizes = [0, 1, 100, 40_000, 300_000];
  for (const kind of kinds)
    for (const size of sizes)
      it(`round-trips ${size} bytes of ${kind} data from the runtime's and fflate's deflate, pushed whole and in pieces`, async () => {
        const data = sample(kind, size);
        for (const compressed of [
          await deflate(data),
          zlibSync(data, { level: 1 }),
          zlibSync(data, { level: 9 }),
          zlibSync(data, { level: 0 }),
        ]) {
          expect(unzlibSync(compressed)).toEqual(data);
          expect(inflateAll(compressed)).toEqual(data);
          expect(inflateAll(compressed, 7)).toEqual(data);
          expect(inflateAll(compressed, 4096)).toEqual(data);
        }
      });

  it("refuses a stream that is not zlib, a corrupt one, a truncated one and a wrong checksum", async () => {
    const good = await deflate(sample("text", 10_000));
    expect(() => inflateAll(Uint8Array.from([0x12, 0x34, 0, 0]))).toThrow(InflateError);
    const flipped = good.slice();
    flipped[good.length - 1] = (flipped[good.length - 1] ?? 0) ^ 1;
    expect(() => inflateAll(flipped)).toThrow(/Adler-32/);
    expect(() => inflateAll(good.subarray(0, good.length - 10))).toThrow(InflateError);
    const garbage = good.slice();
    for (let i = 4; i < 40; i++) garbage[i] = 0xff;
    expect(() => inflateAll(garbage)).toThrow(InflateError);
  });

  it("hands out views of one buffer: no allocation per chunk", async () => {
    const buffers = new Set<ArrayBufferLike>();
    const inflater = new Inflater((view) => buffers.add(view.buffer));
    inflater.push(await deflate(new Uint8Array(5_000_000)), true);
    expect(inflater.done).toBe(true);
    expect(buffers.size).toBe(1);
  });
});
