import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newTable, ORIGIN } from "../helpers/client";
import { makePng } from "../helpers/images";
import { shardOf } from "../helpers/shards";
import { authHeaders, multipart } from "../helpers/uploads";

const MiB = 2 ** 20;
const enc = new TextEncoder();

async function assetCount(sid: string): Promise<number> {
  return (
    (await (await shardOf(sid)).prepare("SELECT COUNT(*) AS n FROM assets WHERE session_id = ?").bind(sid).first<{ n: number }>())?.n ?? -1
  );
}

/** A body sent as the given chunks, counting how many bytes the worker pulled. */
function chunked(chunks: Uint8Array[]) {
  const stats = { pulled: 0 };
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks[i++];
      if (!next) {
        controller.close();
        return;
      }
      stats.pulled += next.length;
      controller.enqueue(next);
    },
  });
  return { stream, stats };
}

async function post(
  gm: Awaited<ReturnType<typeof newTable>>["gm"],
  base: string,
  body: BodyInit,
  contentType: string,
): Promise<{ status: number; body: any }> {
  const res = await SELF.fetch(`${ORIGIN}${base}/assets`, {
    method: "POST",
    headers: { ...authHeaders(gm), "content-type": contentType },
    body,
    // @ts-expect-error: workerd wants duplex for streamed request bodies
    duplex: "half",
  });
  return { status: res.status, body: await res.json() };
}

const part = (headers: string, data: string) => `--b\r\n${headers}\r\n\r\n${data}\r\n`;
const filePart = (data = "x", name = "file") => part(`Content-Disposition: form-data; name="${name}"; filename="a.png"`, data);

describe("hostile multipart bodies", () => {
  it.each([
    ["multipart without a boundary", "multipart/form-data", `${filePart()}--b--\r\n`, "file"],
    ["a boundary over 70 characters", `multipart/form-data; boundary=${"b".repeat(71)}`, `${filePart()}--b--\r\n`, "file"],
    ["multipart/mixed", "multipart/mixed; boundary=b", `${filePart()}--b--\r\n`, "file"],
    ["a body that does not start with its boundary", "multipart/form-data; boundary=b", `--c\r\n\r\nx\r\n--c--\r\n`, "file"],
    ["a file in another field", "multipart/form-data; boundary=b", `${filePart("x", "image")}--b--\r\n`, "file"],
    [
      "a field sent twice",
      "multipart/form-data; boundary=b",
      `${part('Content-Disposition: form-data; name="kind"', "map")}${part('Content-Disposition: form-data; name="kind"', "map")}--b--\r\n`,
      "file",
    ],
    ["a part without a name", "multipart/form-data; boundary=b", `${part("Content-Disposition: form-data", "x")}--b--\r\n`, "file"],
    [
      "a part that is not form-data",
      "multipart/form-data; boundary=b",
      `${part('Content-Disposition: attachment; name="file"; filename="a.png"', "x")}--b--\r\n`,
      "file",
    ],
    [
      "too many parts",
      "multipart/form-data; boundary=b",
      `${Array.from({ length: 17 }, (_, i) => part(`Content-Disposition: form-data; name="f${i}"`, "v")).join("")}--b--\r\n`,
      "file",
    ],
    [
      "part headers over 8 KiB",
      "multipart/form-data; boundary=b",
      `${part(`Content-Disposition: form-data; name="kind"\r\nX-Pad: ${"p".repeat(9000)}`, "map")}--b--\r\n`,
      "file",
    ],
    ["a body cut inside a part's headers", "multipart/form-data; boundary=b", `--b\r\nContent-Disposition: form-da`, "file"],
    ["an empty body", "multipart/form-data; boundary=b", "", "file"],
  ])("answers 400 to %s, naming the field, and stores nothing", async (_, type, body, field) => {
    const { gm, base, sid } = await newTable();
    const r = await post(gm, base, body, type);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("bad_request");
    expect(r.body.error.details.fields[0].field).toBe(field);
    expect(await assetCount(sid)).toBe(0);
  });

  it("answers 400 to a field that is not UTF-8", async () => {
    const { gm, base, sid } = await newTable();
    const head = enc.encode('--b\r\nContent-Disposition: form-data; name="kind"\r\n\r\n');
    const body = new Uint8Array([...head, 0xff, 0xfe, ...enc.encode(`\r\n${filePart()}--b--\r\n`)]);
    const r = await post(gm, base, body, "multipart/form-data; boundary=b");
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/UTF-8/);
    expect(await assetCount(sid)).toBe(0);
  });

  it("answers 413 to a text field over 1 KiB", async () => {
    const { gm, base, sid } = await newTable();
    const body = `${part('Content-Disposition: form-data; name="kind"', "m".repeat(2000))}${filePart()}--b--\r\n`;
    const r = await post(gm, base, body, "multipart/form-data; boundary=b");
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe("payload_too_large");
    expect(await assetCount(sid)).toBe(0);
  });

  it("stops reading a map file at 20 MiB without a declared length", async () => {
    const { gm, base, sid } = await newTable();
    const head = enc.encode('--b\r\nContent-Disposition: form-data; name="file"; filename="huge.png"\r\n\r\n');
    const chunks = [head, ...Array.from({ length: 60 }, () => new Uint8Array(MiB / 2).fill(0x41))];
    const { stream, stats } = chunked(chunks);
    const r = await post(gm, base, stream, "multipart/form-data; boundary=b");
    expect(r.status).toBe(413);
    expect(r.body.error.details).toMatchObject({ kind: "map", limit: 20 * MiB });
    expect(stats.pulled).toBeLessThan(23 * MiB);
    expect(await assetCount(sid)).toBe(0);
  });
});

describe("well-formed multipart bodies in awkward shapes", () => {
  it("accepts a body split byte by byte around the boundaries, with an epilogue in a chunk of its own", async () => {
    const { gm, base, sid } = await newTable();
    const png = await makePng(8, 8);
    const { body } = multipart(
      [
        { name: "kind", data: "map" },
        { name: "file", filename: "a.png", type: "image/png", data: png },
      ],
      "edge",
    );
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < body.length; ) {
      const n = at < 120 || at > body.length - 30 ? 1 : 97;
      chunks.push(body.slice(at, at + n));
      at += n;
    }
    chunks.push(enc.encode("an epilogue the parser never needs\r\n"));
    const r = await post(gm, base, chunked(chunks).stream, "multipart/form-data; boundary=edge");
    expect(r.status).toBe(201);
    expect(r.body.asset).toMatchObject({ kind: "map", mime: "image/png", width: 8, height: 8 });
    expect(await assetCount(sid)).toBe(1);
  });

  it("takes the filename from filename* (RFC 5987) and a quoted boundary", async () => {
    const { gm, base, sid } = await newTable();
    const png = await makePng(8, 8);
    const head = enc.encode(
      `--q b\r\nContent-Disposition: form-data; name="file"; filename="fallback.png"; filename*=UTF-8''carte%20%C3%A9t%C3%A9.png\r\nContent-Type: image/png\r\n\r\n`,
    );
    const body = new Uint8Array([...head, ...png, ...enc.encode("\r\n--q b--\r\n")]);
    const r = await post(gm, base, body, 'multipart/form-data; boundary="q b"');
    expect(r.status).toBe(201);
    expect(await assetCount(sid)).toBe(1);
  });
});
