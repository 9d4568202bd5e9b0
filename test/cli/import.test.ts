import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { describeCreated, main } from "../../cli/main.ts";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  bytes: number;
}

let server: Server;
let url: string;
let seen: Seen[];
let answer: { status: number; body: unknown };

beforeEach(async () => {
  seen = [];
  server = createServer((req, res) => {
    let bytes = 0;
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
    });
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, bytes });
      res.writeHead(answer.status, { "content-type": "application/json" });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  vi.restoreAllMocks();
  await new Promise((resolve) => server.close(resolve));
});

async function bundleFile(): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), "vtt-cli-")), "scene.zip");
  await writeFile(file, new Uint8Array(1234));
  return file;
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    err += String(chunk);
    return true;
  });
  const code = await main(args);
  vi.restoreAllMocks();
  return { code, out, err };
}

const created = {
  scene: { id: "s1", name: "Crypt (imported)" },
  created: { layers: 2, tokens: 10, token_art: 1, assets: 2, modules: { initiative_entry: 3, condition: 1 } },
};

describe("vtt import", () => {
  it("prints what was created, module entities by type", async () => {
    answer = { status: 201, body: created };
    const r = await run(["import", "--session", "sid", "--file", await bundleFile(), "--url", url, "--token", "t"]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      'imported scene s1 "Crypt (imported)" (2 layers, 10 tokens, 1 token_art, 2 assets, 3 initiative_entry, 1 condition)\n',
    );
    expect(r.out).not.toContain("[object Object]");
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: "POST", url: "/api/vtt/sessions/sid/import", bytes: 1234 });
    expect(seen[0]?.headers["idempotency-key"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("sends --name as the scene's name and --key as the Idempotency-Key", async () => {
    answer = { status: 201, body: { ...created, scene: { id: "s1", name: "Tomb & Ash" } } };
    const key = "0b6f1f2e-5d4c-4a3b-9c2d-1e0f9a8b7c6d";
    const r = await run([
      "import",
      "--session",
      "sid",
      "--file",
      await bundleFile(),
      "--name",
      "Tomb & Ash",
      "--key",
      key,
      "--url",
      url,
      "--token",
      "t",
    ]);
    expect(r.code).toBe(0);
    expect(seen[0]?.url).toBe("/api/vtt/sessions/sid/import?name=Tomb%20%26%20Ash");
    expect(seen[0]?.headers["idempotency-key"]).toBe(key);
    expect(r.out).toContain('"Tomb & Ash"');
  });

  it("refuses a --key that is not a UUID without calling the server", async () => {
    const r = await run(["import", "--session", "sid", "--file", await bundleFile(), "--key", "nope", "--url", url, "--token", "t"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--key must be a UUID");
    expect(seen).toHaveLength(0);
  });

  it("names the key to resume with when the server fails part-way", async () => {
    answer = { status: 503, body: { error: { code: "unavailable", message: "try again" } } };
    const r = await run(["import", "--session", "sid", "--file", await bundleFile(), "--url", url, "--token", "t"]);
    expect(r.code).toBe(6);
    const key = seen[0]?.headers["idempotency-key"];
    expect(r.err).toContain(`retry with --key ${key}`);
  });
});

describe("describeCreated", () => {
  it("lists counts and flattens module counts", () => {
    expect(describeCreated({ tokens: 1, modules: { fog: 2 } })).toBe("1 tokens, 2 fog");
  });
});
