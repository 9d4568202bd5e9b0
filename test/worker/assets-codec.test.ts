import webpDecoderFactory from "@jsquash/webp/codec/dec/webp_dec.js";
import webpDecoderWasm from "@jsquash/webp/codec/dec/webp_dec.wasm";
import { describe, expect, it } from "vitest";
import { type ImageInfo, inspectImage } from "../../domain/assets";
import { FULL_DECODE_MAX_PIXELS, makeTokenArt, TokenArtTooLarge } from "../../worker/assets/codec";
import { decodeGifInto } from "../../worker/assets/gif-stream";
import { decodePngInto, ImageDecodeError } from "../../worker/assets/png-stream";
import { BoxShrinker, boxFactor } from "../../worker/assets/shrink";
import { concat, gradient, makeBigPng, makeGif, makeJpeg, makePng, makeWebp, pngChunk } from "../helpers/images";

function inspected(bytes: Uint8Array): ImageInfo {
  const r = inspectImage(bytes);
  if (!r.ok) throw new Error(`fixture is not a valid image: ${r.message}`);
  return r.image;
}

async function decodeFull(bytes: Uint8Array): Promise<Uint8Array> {
  const image = inspected(bytes);
  const shrinker = new BoxShrinker(image.width, image.height, 1);
  if (image.type === "png") await decodePngInto(bytes, image, shrinker);
  else decodeGifInto(bytes, image, shrinker);
  return shrinker.finish().data;
}

function expected(width: number, height: number, pixel: (x: number, y: number) => number[]): Uint8Array {
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const [r = 0, g = 0, b = 0, a = 0] = pixel(x, y);
      out.set(a === 0 ? [0, 0, 0, 0] : [r, g, b, a], (y * width + x) * 4);
    }
  return out;
}

let webpDecoder: Promise<any> | undefined;
async function decodeWebp(bytes: Uint8Array): Promise<{ width: number; height: number; data: Uint8ClampedArray }> {
  webpDecoder ??= (webpDecoderFactory as any)({
    noInitialRun: true,
    instantiateWasm(imports: WebAssembly.Imports, cb: (i: WebAssembly.Instance) => void) {
      const i = new WebAssembly.Instance(webpDecoderWasm, imports);
      cb(i);
      return i.exports;
    },
  });
  return (await webpDecoder).decode(bytes);
}

const W = 13;
const H = 11;
const q = (v: number, bits: number) => Math.round((Math.round((v / 255) * ((1 << bits) - 1)) * 255) / ((1 << bits) - 1));

describe("streaming PNG decoder", () => {
  const cases: [string, Parameters<typeof makePng>[2], (x: number, y: number) => number[]][] = [
    ["RGBA 8-bit", { colorType: 6 }, (x, y) => gradient(x, y)],
    [
      "RGBA 8-bit with varying alpha",
      { colorType: 6, pixel: (x, y) => [x * 9, y * 9, 77, (x * 20 + y) & 255] },
      (x, y) => [x * 9, y * 9, 77, (x * 20 + y) & 255],
    ],
    ["RGB 8-bit", { colorType: 2 }, (x, y) => [...gradient(x, y).slice(0, 3), 255]],
    [
      "RGB 16-bit",
      { colorType: 2, bitDepth: 16, pixel: (x, y) => [x * 257 * 9, y * 257 * 9, 1000, 65535] },
      (x, y) => [(x * 9) & 255, (y * 9) & 255, 3, 255],
    ],
    [
      "RGBA 16-bit",
      { colorType: 6, bitDepth: 16, pixel: (x, y) => [x * 257 * 9, 0, y * 257 * 9, 40000] },
      (x, y) => [(x * 9) & 255, 0, (y * 9) & 255, 156],
    ],
    ["gray 8-bit", { colorType: 0 }, (x, y) => [gradient(x, y)[0], gradient(x, y)[0], gradient(x, y)[0], 255]],
    [
      "gray 1-bit",
      { colorType: 0, bitDepth: 1, pixel: (x) => [x % 2 ? 255 : 0, 0, 0, 255] },
      (x) => [x % 2 ? 255 : 0, x % 2 ? 255 : 0, x % 2 ? 255 : 0, 255],
    ],
    [
      "gray 2-bit",
      { colorType: 0, bitDepth: 2, pixel: (x) => [x * 20, 0, 0, 255] },
      (x) => [q(x * 20, 2), q(x * 20, 2), q(x * 20, 2), 255],
    ],
    [
      "gray 4-bit",
      { colorType: 0, bitDepth: 4, pixel: (x, y) => [x * 19 + y, 0, 0, 255] },
      (x, y) => [q(x * 19 + y, 4), q(x * 19 + y, 4), q(x * 19 + y, 4), 255],
    ],
    ["gray+alpha 8-bit", { colorType: 4, pixel: (x, y) => [x * 10, 0, 0, 255 - y * 20] }, (x, y) => [x * 10, x * 10, x * 10, 255 - y * 20]],
    [
      "gray 8-bit with a tRNS color",
      { colorType: 0, pixel: (x) => [x * 10, 0, 0, 255], trns: [0, 30] },
      (x) => [x * 10, x * 10, x * 10, x * 10 === 30 ? 0 : 255],
    ],
    [
      "RGB 8-bit with a tRNS color",
      { colorType: 2, pixel: (x, y) => [x, y, 5, 255], trns: [0, 3, 0, 4, 0, 5] },
      (x, y) => [x, y, 5, x === 3 && y === 4 ? 0 : 255],
    ],
    [
      "palette 8-bit with alpha",
      {
        colorType: 3,
        palette: [
          [255, 0, 0, 255],
          [0, 255, 0, 128],
          [0, 0, 255, 0],
        ],
        index: (x, y) => (x + y) % 3,
      },
      (x, y) =>
        [
          [255, 0, 0, 255],
          [0, 255, 0, 128],
          [0, 0, 255, 0],
        ][(x + y) % 3] ?? [],
    ],
    [
      "palette 2-bit",
      {
        colorType: 3,
        bitDepth: 2,
        palette: [
          [10, 20, 30, 255],
          [40, 50, 60, 255],
          [70, 80, 90, 255],
          [1, 2, 3, 255],
        ],
        index: (x) => x % 4,
      },
      (x) =>
        [
          [10, 20, 30, 255],
          [40, 50, 60, 255],
          [70, 80, 90, 255],
          [1, 2, 3, 255],
        ][x % 4] ?? [],
    ],
    ["RGBA 8-bit interlaced (Adam7)", { colorType: 6, interlace: true }, (x, y) => gradient(x, y)],
    [
      "gray 1-bit interlaced (Adam7)",
      { colorType: 0, bitDepth: 1, interlace: true, pixel: (x, y) => [(x + y) % 2 ? 255 : 0, 0, 0, 255] },
      (x, y) => {
        const v = (x + y) % 2 ? 255 : 0;
        return [v, v, v, 255];
      },
    ],
  ];

  it.each(cases)("decodes %s exactly (all five filters used)", async (_, opts, pixel) => {
    const png = await makePng(W, H, opts);
    expect(await decodeFull(png)).toEqual(expected(W, H, pixel));
  });

  it("refuses image data shorter than the image", async () => {
    const png = await makePng(8, 8);
    const image = inspected(png);
    const short = concat(png.subarray(0, 33), pngChunk("IDAT", await deflate8()), pngChunk("IEND"));
    await expect(decodePngInto(short, image, new BoxShrinker(8, 8, 1))).rejects.toBeInstanceOf(ImageDecodeError);
  });

  it("refuses corrupt compressed data", async () => {
    const png = await makePng(8, 8);
    const bad = concat(png.subarray(0, 33), pngChunk("IDAT", [0x78, 0x9c, 0xff, 0xff, 0xff, 0x00]), pngChunk("IEND"));
    await expect(decodePngInto(bad, inspected(bad), new BoxShrinker(8, 8, 1))).rejects.toBeInstanceOf(ImageDecodeError);
  });
});

async function deflate8(): Promise<Uint8Array> {
  const stream = new Blob([new Uint8Array(10)]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

describe("streaming GIF decoder", () => {
  const palette: [number, number, number][] = [
    [0, 0, 0],
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
  ];
  it("decodes a frame with real LZW, long runs included", () => {
    const index = (x: number, y: number) => (x > 20 ? 1 : (x * y) % 4);
    const gif = makeGif(40, 9, palette, [{ index }]);
    return decodeFull(gif).then((out) => expect(out).toEqual(expected(40, 9, (x, y) => [...(palette[index(x, y)] ?? []), 255])));
  });

  it("decodes an interlaced frame with a transparent index", async () => {
    const index = (x: number, y: number) => (y + x) % 4;
    const gif = makeGif(10, 11, palette, [{ index, transparent: 0, interlace: true }]);
    expect(await decodeFull(gif)).toEqual(expected(10, 11, (x, y) => [...(palette[index(x, y)] ?? []), index(x, y) === 0 ? 0 : 255]));
  });

  it("places a frame smaller than the screen and leaves the rest transparent", async () => {
    const gif = makeGif(6, 6, palette, [{ index: () => 2, rect: [2, 1, 3, 2] }]);
    expect(await decodeFull(gif)).toEqual(expected(6, 6, (x, y) => (x >= 2 && x < 5 && y >= 1 && y < 3 ? [0, 255, 0, 255] : [0, 0, 0, 0])));
  });

  it("takes the first frame of an animation", async () => {
    const gif = makeGif(4, 4, palette, [{ index: () => 1 }, { index: () => 3 }]);
    expect(inspected(gif).frames).toBe(2);
    expect(await decodeFull(gif)).toEqual(expected(4, 4, () => [255, 0, 0, 255]));
  });

  it("refuses a code that is not in the table", () => {
    const gif = concat(
      "GIF89a",
      [2, 0, 2, 0, 0x80, 0, 0],
      [0, 0, 0, 255, 255, 255],
      [0x2c, 0, 0, 0, 0, 2, 0, 2, 0, 0],
      [2, 2, 0x07, 0x00, 0],
      [0x3b],
    );
    expect(() => decodeGifInto(gif, inspected(gif), new BoxShrinker(2, 2, 1))).toThrow(ImageDecodeError);
  });
});

describe("box shrinking", () => {
  it("averages with alpha weighting and keeps the grid under twice the target", () => {
    expect(boxFactor(4096, 4096)).toBe(8);
    expect(boxFactor(7000, 7000)).toBe(13);
    const s = new BoxShrinker(4, 2, 2);
    s.addRow(0, Uint8Array.from([200, 0, 0, 255, 0, 200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    s.addRow(1, Uint8Array.from([100, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    const out = s.finish();
    expect([out.width, out.height]).toEqual([2, 1]);
    // Red averaged over the two opaque pixels only; alpha over all four.
    expect([...out.data]).toEqual([150, 0, 0, 128, 0, 0, 0, 0]);
  });
});

describe("token art", () => {
  async function art(bytes: Uint8Array) {
    const out = await makeTokenArt(bytes, inspected(bytes));
    const decoded = await decodeWebp(out.bytes);
    expect(out.mime).toBe("image/webp");
    expect([decoded.width, decoded.height]).toEqual([out.width, out.height]);
    expect(inspected(out.bytes)).toMatchObject({ type: "webp", width: out.width, height: out.height });
    return { ...out, pixels: decoded.data };
  }

  it("resizes a 4096×4096 PNG to 512×512 through a 512×512 box grid", async () => {
    const png = await makeBigPng(4096, 4096, (_y, out) => {
      for (let x = 0; x < 4096; x++) out.set(x < 2048 ? [230, 20, 20, 255] : [20, 20, 230, 255], x * 4);
    });
    expect(new BoxShrinker(4096, 4096, boxFactor(4096, 4096)).outWidth).toBe(512);
    const out = await art(png);
    expect([out.width, out.height]).toEqual([512, 512]);
    // Left half red, right half blue, after resampling and lossy encoding.
    const left = out.pixels.subarray((256 * 512 + 100) * 4, (256 * 512 + 100) * 4 + 4);
    const right = out.pixels.subarray((256 * 512 + 400) * 4, (256 * 512 + 400) * 4 + 4);
    expect(left[0]).toBeGreaterThan(200);
    expect(left[2]).toBeLessThan(60);
    expect(right[2]).toBeGreaterThan(200);
    expect(right[0]).toBeLessThan(60);
  });

  it("never upscales tiny art and keeps its aspect", async () => {
    const out = await art(await makePng(40, 20));
    expect([out.width, out.height]).toEqual([40, 20]);
  });

  it.each([
    ["a tall JPEG", () => makeJpeg(600, 1800), [171, 512]],
    ["a wide PNG", () => makePng(2000, 500), [512, 128]],
    ["a lossy WebP", () => makeWebp(1024, 768), [512, 384]],
    ["a lossless WebP", () => makeWebp(700, 700, gradient, true), [512, 512]],
    ["a 1-px-high strip", () => makePng(3000, 1), [512, 1]],
  ] as const)("fits %s within 512×512", async (_, make, size) => {
    const out = await art(await make());
    expect([out.width, out.height]).toEqual(size);
  });

  it("keeps transparency", async () => {
    const out = await art(await makePng(64, 64, { pixel: (x) => (x < 32 ? [0, 0, 0, 0] : [0, 200, 0, 255]) }));
    expect(out.pixels[(32 * 64 + 5) * 4 + 3]).toBe(0);
    expect(out.pixels[(32 * 64 + 60) * 4 + 3]).toBe(255);
  });

  it("turns an animated GIF into its first frame", async () => {
    const gif = makeGif(
      600,
      300,
      [
        [250, 10, 10],
        [10, 10, 250],
      ],
      [{ index: () => 0 }, { index: () => 1 }],
    );
    const out = await art(gif);
    expect([out.width, out.height]).toEqual([512, 256]);
    expect(out.pixels[0]).toBeGreaterThan(200);
    expect(out.pixels[2]).toBeLessThan(60);
  });

  it("refuses JPEG token art over the full-decode budget before decoding", async () => {
    const header = inspected(await makeJpeg(16, 16));
    const huge = { ...header, width: 4096, height: 4096 };
    expect(huge.width * huge.height).toBeGreaterThan(FULL_DECODE_MAX_PIXELS);
    await expect(makeTokenArt(new Uint8Array(0), huge)).rejects.toBeInstanceOf(TokenArtTooLarge);
  });
});
