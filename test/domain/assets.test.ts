import { describe, expect, it } from "vitest";
import {
  checkDimensions,
  containsMarkup,
  extensionAgrees,
  extensionOf,
  fitWithin,
  type Inspection,
  inspectImage,
  sniffImageType,
} from "../../domain/assets";
import { concat, ihdr, le32, makeGif, makeJpeg, makePng, makeWebp, PNG_SIG, pngChunk, subBlocks } from "../helpers/images";

const be16 = (n: number) => [(n >>> 8) & 255, n & 255];
const le16 = (n: number) => [n & 255, (n >>> 8) & 255];
const le24 = (n: number) => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255];

/** A JPEG skeleton: SOI, SOF0 with the given size, SOS, a few entropy bytes, EOI. */
function jpegHeader(width: number, height: number, opts: { app?: Uint8Array; eoi?: boolean; sof?: number } = {}): Uint8Array {
  const sof = [0xff, opts.sof ?? 0xc0, ...be16(17), 8, ...be16(height), ...be16(width), 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
  const sos = [0xff, 0xda, ...be16(12), 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0];
  const app = opts.app ? [0xff, 0xe1, ...be16(opts.app.length + 2), ...opts.app] : [];
  return concat([0xff, 0xd8], app, sof, sos, [0x12, 0x34, 0xff, 0x00, 0x56], opts.eoi === false ? [] : [0xff, 0xd9]);
}

function riff(chunks: Uint8Array[]): Uint8Array {
  const body = concat("WEBP", ...chunks);
  return concat("RIFF", le32(body.length), body);
}
function webpChunk(fourcc: string, data: number[] | Uint8Array): Uint8Array {
  const bytes = data instanceof Uint8Array ? data : Uint8Array.from(data);
  return concat(fourcc, le32(bytes.length), bytes, bytes.length % 2 ? [0] : []);
}
const vp8x = (w: number, h: number, flags = 0) => webpChunk("VP8X", [flags, 0, 0, 0, ...le24(w - 1), ...le24(h - 1)]);
const vp8l = (w: number, h: number) => {
  const bits = ((w - 1) & 0x3fff) | (((h - 1) & 0x3fff) << 14);
  return webpChunk("VP8L", [0x2f, ...le32(bits), 0, 0, 0]);
};

function gifHeader(width: number, height: number, tail: (Uint8Array | number[])[] = []): Uint8Array {
  return concat("GIF89a", [...le16(width), ...le16(height), 0x80, 0, 0], [0, 0, 0, 255, 255, 255], ...tail);
}
const gifFrame = (w: number, h: number) =>
  concat([0x2c, 0, 0, 0, 0, ...le16(w), ...le16(h), 0], [2], subBlocks(Uint8Array.from([0x44, 0x01])));

const fail = (r: Inspection) => (r.ok ? "ok" : r.reason);
const dims = (r: Inspection) => (r.ok ? [r.image.type, r.image.width, r.image.height] : r.reason);

describe("sniffing", () => {
  it.each([
    ["PNG", concat(PNG_SIG, [0, 0]), "png"],
    ["JPEG", [0xff, 0xd8, 0xff, 0xe0], "jpeg"],
    ["WebP", concat("RIFF", [0, 0, 0, 0], "WEBPVP8 "), "webp"],
    ["GIF87a", "GIF87a....", "gif"],
    ["GIF89a", "GIF89a....", "gif"],
  ] as const)("recognizes %s by its magic bytes", (_, bytes, type) => {
    expect(sniffImageType(concat(bytes))).toEqual({ type });
  });

  it.each([
    ["an SVG", '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "svg"],
    ["an SVG with an XML prolog", '<?xml version="1.0"?>\n<svg></svg>', "svg"],
    ["an HTML page", "<!DOCTYPE html><html><script>alert(1)</script>", "html"],
    ["a PDF", "%PDF-1.7", "pdf"],
    ["a ZIP", concat([0x50, 0x4b, 0x03, 0x04], "rest"), "zip"],
    ["a BMP", "BM......", "bmp"],
    ["a RIFF that is not WebP", concat("RIFF", [4, 0, 0, 0], "AVI "), "unknown"],
    ["an AVIF", concat([0, 0, 0, 0x1c], "ftypavif"), "avif"],
    ["nothing", new Uint8Array(0), "empty"],
    ["a PNG signature cut short", PNG_SIG.slice(0, 7), "unknown"],
  ] as const)("refuses %s", (_, bytes, detected) => {
    expect(sniffImageType(concat(bytes))).toEqual({ type: null, detected });
  });
});

describe("extensions", () => {
  it.each([
    ["map.PNG", "png", true],
    ["photo.jpeg", "jpeg", true],
    ["photo.jpg", "jpeg", true],
    ["art.webp", "webp", true],
    ["anim.gif", "gif", true],
    ["shell.png", "jpeg", false],
    ["evil.svg", "png", false],
    ["noext", "png", false],
    [".png", "png", false],
    ["dir.png/file", "png", false],
    ["a.png.html", "png", false],
  ] as const)("%s agrees with %s: %s", (name, type, agrees) => {
    expect(extensionAgrees(type, name)).toBe(agrees);
  });

  it("takes the extension of the last path segment, lowercased", () => {
    expect(extensionOf("C:\\maps\\Dungeon.Map.JPG")).toBe("jpg");
  });
});

describe("reading dimensions from headers", () => {
  it("reads PNG, JPEG, WebP and GIF made by real encoders", async () => {
    expect(dims(inspectImage(await makePng(33, 17)))).toEqual(["png", 33, 17]);
    expect(dims(inspectImage(await makeJpeg(40, 24)))).toEqual(["jpeg", 40, 24]);
    expect(dims(inspectImage(await makeWebp(21, 9)))).toEqual(["webp", 21, 9]);
    expect(dims(inspectImage(await makeWebp(21, 9, undefined, true)))).toEqual(["webp", 21, 9]);
    expect(dims(inspectImage(makeGif(12, 7, [[0, 0, 0]], [{ index: () => 0 }])))).toEqual(["gif", 12, 7]);
  });

  it.each([
    ["a PNG IHDR", () => concat(PNG_SIG, ihdr(20_000, 10), pngChunk("IDAT", [0]), pngChunk("IEND")), ["png", 20_000, 10]],
    ["a progressive JPEG SOF2", () => jpegHeader(300, 200, { sof: 0xc2 }), ["jpeg", 300, 200]],
    ["a baseline JPEG SOF0", () => jpegHeader(65_535, 2), ["jpeg", 65_535, 2]],
    ["a WebP VP8X canvas", () => riff([vp8x(16_384, 3_000), vp8l(10, 10)]), ["webp", 16_384, 3_000]],
    ["a WebP VP8L frame", () => riff([vp8l(5_000, 4_000)]), ["webp", 5_000, 4_000]],
    ["a GIF logical screen", () => gifHeader(40_000, 3, [gifFrame(1, 1), [0x3b]]), ["gif", 40_000, 3]],
  ] as const)("reads %s without decoding", (_, make, expected) => {
    expect(dims(inspectImage(make()))).toEqual(expected);
  });
});

describe("decompression-bomb limits", () => {
  it.each([
    [16_384, 3_051, null],
    [7_071, 7_071, null],
    [16_385, 10, "px a side"],
    [10, 16_385, "px a side"],
    [8_000, 8_000, "megapixels"],
    [65_535, 65_535, "px a side"],
  ] as const)("%i×%i → %s", (w, h, problem) => {
    const result = checkDimensions(w, h);
    if (problem === null) expect(result).toBeNull();
    else expect(result).toContain(problem);
  });
});

describe("structural checks", () => {
  it.each([
    ["a PNG cut inside a chunk", async () => (await makePng(20, 20)).slice(0, 60), "truncated"],
    ["a PNG without IEND", async () => concat(PNG_SIG, ihdr(2, 2), pngChunk("IDAT", [1, 2, 3])), "truncated"],
    ["a PNG without image data", async () => concat(PNG_SIG, ihdr(2, 2), pngChunk("IEND")), "corrupt"],
    ["a PNG whose first chunk is not IHDR", async () => concat(PNG_SIG, pngChunk("IDAT", [1]), ihdr(2, 2), pngChunk("IEND")), "corrupt"],
    ["a PNG with an invalid bit depth", async () => concat(PNG_SIG, ihdr(2, 2, 3, 2), pngChunk("IDAT", [1]), pngChunk("IEND")), "corrupt"],
    [
      "a PNG with an unknown critical chunk",
      async () => concat(PNG_SIG, ihdr(2, 2), pngChunk("ABCD"), pngChunk("IDAT", [1]), pngChunk("IEND")),
      "corrupt",
    ],
    ["a JPEG without EOI", async () => jpegHeader(10, 10, { eoi: false }), "truncated"],
    [
      "a real JPEG cut in half",
      async () => {
        const j = await makeJpeg(64, 64);
        return j.slice(0, j.length >> 1);
      },
      "truncated",
    ],
    ["a JPEG that is only SOI", async () => Uint8Array.from([0xff, 0xd8, 0xff]), "truncated"],
    ["a WebP shorter than its RIFF size", async () => (await makeWebp(16, 16)).slice(0, 30), "truncated"],
    ["a WebP without an image chunk", async () => riff([webpChunk("EXIF", [1, 2, 3, 4])]), "corrupt"],
    ["a GIF without its trailer", async () => gifHeader(4, 4, [gifFrame(1, 1)]), "truncated"],
    ["a GIF without frames", async () => gifHeader(4, 4, [[0x3b]]), "corrupt"],
    ["a GIF with an unknown block", async () => gifHeader(4, 4, [[0x99], [0x3b]]), "corrupt"],
    ["a GIF frame larger than its screen", async () => gifHeader(4, 4, [gifFrame(60_000, 60_000), [0x3b]]), "corrupt"],
  ] as const)("refuses %s as %s", async (_, make, reason) => {
    expect(fail(inspectImage(await make()))).toBe(reason);
  });

  it.each([
    ["HTML after a PNG's IEND", async () => concat(await makePng(4, 4), "<html><script>alert(1)</script></html>")],
    ["a ZIP after a JPEG's EOI", async () => concat(await makeJpeg(8, 8), [0x50, 0x4b, 0x03, 0x04], "payload")],
    ["script after a GIF's trailer", async () => concat(makeGif(2, 2, [[0, 0, 0]], [{ index: () => 0 }]), "*/alert(1)//")],
    ["bytes after a WebP's RIFF container", async () => concat(await makeWebp(4, 4), "<?php system($_GET['c']); ?>")],
  ] as const)("refuses a polyglot with %s as trailing_data", async (_, make) => {
    expect(fail(inspectImage(await make()))).toBe("trailing_data");
  });

  it.each([
    [
      "a PNG tEXt chunk",
      async () => {
        const png = await makePng(4, 4, { extraChunks: [pngChunk("tEXt", concat("Comment\0", "<script>alert(1)</script>"))] });
        return png;
      },
    ],
    ["a JPEG APP1 segment", async () => jpegHeader(8, 8, { app: concat("Exif\0\0<SCRIPT src=//evil>") })],
    [
      "a GIF comment",
      async () => gifHeader(2, 2, [[0x21, 0xfe], subBlocks(concat("<html><body onload=alert(1)>")), gifFrame(1, 1), [0x3b]]),
    ],
    ["a WebP XMP chunk", async () => riff([vp8x(4, 4, 0x04), vp8l(4, 4), webpChunk("XMP ", concat("<svg onload=alert(1)>"))])],
  ] as const)("refuses markup hidden in %s as embedded_markup", async (_, make) => {
    expect(fail(inspectImage(await make()))).toBe("embedded_markup");
  });

  it("accepts zero padding after the end and harmless metadata", async () => {
    const png = await makePng(4, 4, { extraChunks: [pngChunk("tEXt", concat("Title\0", "A <b>bold</b> map & a 'quote'"))] });
    expect(fail(inspectImage(concat(png, [0, 0, 0, 0])))).toBe("ok");
    expect(fail(inspectImage(jpegHeader(8, 8, { app: concat('<x:xmpmeta><rdf:RDF><?xpacket end="w"?>') })))).toBe("ok");
  });

  it("finds markup regardless of case and only inside the range asked", () => {
    const bytes = concat("....<ScRiPt>....");
    expect(containsMarkup(bytes)).toBe(true);
    expect(containsMarkup(bytes, 0, 6)).toBe(false);
    expect(containsMarkup(concat("JavaScript:void(0)"))).toBe(true);
  });
});

describe("fitting token art", () => {
  it.each([
    [4096, 4096, 512, 512],
    [4096, 1024, 512, 128],
    [1000, 3000, 171, 512],
    [512, 512, 512, 512],
    [100, 40, 100, 40],
    [1, 1, 1, 1],
    [16_384, 3, 512, 1],
    [513, 2, 512, 2],
  ] as const)("%i×%i fits as %i×%i (never upscaled, aspect kept)", (w, h, ew, eh) => {
    expect(fitWithin(w, h)).toEqual({ width: ew, height: eh });
  });
});
