import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { describeCreated, main } from "../../cli/main.ts";
import { type FakeServer, startFakeServer } from "./fake-server";

let fake: FakeServer;

beforeEach(async () => {
  fake = await startFakeServer();
});

afterEach(async () => {
  vi.restoreAllMocks();
  await fake.close();
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
    fake.answer = { status: 201, json: created };
    const r = await run(["import", "--session", "sid", "--file", await bundleFile(), "--url", fake.url, "--token", "t"]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      'imported scene s1 "Crypt (imported)" (2 layers, 10 tokens, 1 token_art, 2 assets, 3 initiative_entry, 1 condition)\n',
    );
    expect(r.out).not.toContain("[object Object]");
    expect(fake.seen).toHaveLength(1);
    expect(fake.seen[0]).toMatchObject({ method: "POST", url: "/api/vtt/sessions/sid/import" });
    expect(fake.seen[0]?.body.byteLength).toBe(1234);
    expect(fake.seen[0]?.headers["idempotency-key"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("sends --name as the scene's name and --key as the Idempotency-Key", async () => {
    fake.answer = { status: 201, json: { ...created, scene: { id: "s1", name: "Tomb & Ash" } } };
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
      fake.url,
      "--token",
      "t",
    ]);
    expect(r.code).toBe(0);
    expect(fake.seen[0]?.url).toBe("/api/vtt/sessions/sid/import?name=Tomb%20%26%20Ash");
    expect(fake.seen[0]?.headers["idempotency-key"]).toBe(key);
    expect(r.out).toContain('"Tomb & Ash"');
  });

  it("refuses a --key that is not a UUID without calling the server", async () => {
    const r = await run(["import", "--session", "sid", "--file", await bundleFile(), "--key", "nope", "--url", fake.url, "--token", "t"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--key must be a UUID");
    expect(fake.seen).toHaveLength(0);
  });

  it("names the key to resume with when the server fails part-way", async () => {
    fake.answer = { status: 503, json: { error: { code: "unavailable", message: "try again" } } };
    const r = await run(["import", "--session", "sid", "--file", await bundleFile(), "--url", fake.url, "--token", "t"]);
    expect(r.code).toBe(6);
    const key = fake.seen[0]?.headers["idempotency-key"];
    expect(r.err).toContain(`retry with --key ${key}`);
  });
});

describe("describeCreated", () => {
  it("lists counts and flattens module counts", () => {
    expect(describeCreated({ tokens: 1, modules: { fog: 2 } })).toBe("1 tokens, 2 fog");
  });
});
