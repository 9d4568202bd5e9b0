import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "../../cli/main.ts";
import { type FakeServer, startFakeServer } from "./fake-server";

let fake: FakeServer;

beforeEach(async () => {
  fake = await startFakeServer();
});

afterEach(async () => {
  vi.restoreAllMocks();
  await fake.close();
});

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
  const code = await main([...args, "--url", fake.url, "--token", "tok"]);
  vi.restoreAllMocks();
  return { code, out, err };
}

describe("vtt export", () => {
  it("downloads the bundle to --out with the API token", async () => {
    const zip = new Uint8Array([80, 75, 3, 4, 1, 2, 3, 4, 5]);
    fake.answer = { status: 200, zip };
    const out = join(await mkdtemp(join(tmpdir(), "vtt-cli-")), "scene.zip");
    const r = await run(["export", "--session", "s/1", "--scene", "sc1", "--out", out]);
    expect(r.code).toBe(0);
    expect(fake.seen[0]).toMatchObject({ method: "GET", url: "/api/vtt/sessions/s%2F1/scenes/sc1/export" });
    expect(fake.seen[0]?.headers.authorization).toBe("Bearer tok");
    expect(new Uint8Array(await readFile(out))).toEqual(zip);
    expect(r.out).toContain(`exported to ${out} (9 bytes)`);
  });

  it("names the error envelope and exits 4 on a 404, leaving no file", async () => {
    fake.answer = { status: 404, json: { error: { code: "not_found", message: "no such scene" } } };
    const out = join(await mkdtemp(join(tmpdir(), "vtt-cli-")), "scene.zip");
    const r = await run(["export", "--session", "s1", "--scene", "nope", "--out", out]);
    expect(r.code).toBe(4);
    expect(r.err).toContain("GET /api/vtt/sessions/s1/scenes/nope/export failed with 404: not_found: no such scene");
    await expect(stat(out)).rejects.toThrow();
  });
});

describe("vtt backup and restore", () => {
  it("backs up and prints the manifest", async () => {
    fake.answer = {
      status: 201,
      json: {
        backup: {
          kind: "full",
          session_id: "s1",
          created_at: "2026-01-01T00:00:00.000Z",
          seq: 7,
          from_seq: 0,
          files: [{ name: "tokens", sha256: "x", rows: 3, bytes: 10 }],
        },
      },
    };
    const r = await run(["backup", "--session", "s1"]);
    expect(r.code).toBe(0);
    expect(fake.seen[0]).toMatchObject({ method: "POST", url: "/api/vtt/sessions/s1/backups" });
    expect(r.out).toBe("backup of seq 7 at 2026-01-01T00:00:00.000Z: tokens (3)\n");
  });

  it("restores to --at and prints the new session", async () => {
    fake.answer = {
      status: 201,
      json: { session: { id: "s2", name: "Table", created_at: "x" }, invite_code: "i", restored_seq: 5, seq: 9 },
    };
    const r = await run(["restore", "--session", "s1", "--at", "2026-01-01T10:00:00Z"]);
    expect(r.code).toBe(0);
    expect(fake.seen[0]).toMatchObject({ method: "POST", url: "/api/vtt/sessions/s1/restore" });
    expect(fake.seen[0]?.headers["content-type"]).toContain("application/json");
    expect(JSON.parse(fake.seen[0]?.body.toString("utf8") ?? "")).toEqual({ at: "2026-01-01T10:00:00.000Z" });
    expect(r.out).toBe('restored into session s2 "Table" (state at seq 5)\n');
  });

  it("exits 3 on a refused token", async () => {
    fake.answer = { status: 401, json: { error: { code: "unauthorized", message: "bad token" } } };
    const r = await run(["backup", "--session", "s1"]);
    expect(r.code).toBe(3);
    expect(r.err).toContain("failed with 401: unauthorized: bad token");
  });
});
