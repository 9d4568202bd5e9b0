import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../../worker/app";
import { ORIGIN } from "../helpers/client";

const broken = (what: string) =>
  new Proxy(
    {},
    {
      get() {
        return () => {
          throw new Error(`${what} is down`);
        };
      },
    },
  );

describe("GET /api/vtt/health", () => {
  it("answers 200 after really querying D1 and writing, reading and deleting an R2 object", async () => {
    const res = await SELF.fetch(`${ORIGIN}/api/vtt/health`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.status).toBe("ok");
    expect(body.checks.db.ok).toBe(true);
    expect(body.checks.storage.ok).toBe(true);
    expect(body.checks.backlog.ok).toBe(true);
    const leftovers = await env.ASSETS.list({ prefix: "health/" });
    expect(leftovers.objects).toEqual([]);
  });

  it("answers 503 naming storage when R2 fails", async () => {
    const res = await app.request("/api/vtt/health", {}, { ...env, ASSETS: broken("R2") });
    expect(res.status).toBe(503);
    const body = (await res.json()) as any;
    expect(body.checks.storage).toMatchObject({ ok: false, error: "R2 is down" });
    expect(body.checks.db.ok).toBe(true);
    expect(body.error).toMatchObject({ code: "unavailable", message: "failing: storage" });
  });

  it("answers 503 naming the database when D1 fails", async () => {
    const res = await app.request("/api/vtt/health", {}, { ...env, DB: broken("D1") });
    expect(res.status).toBe(503);
    const body = (await res.json()) as any;
    expect(body.checks.db.ok).toBe(false);
    expect(body.error.message).toContain("db");
  });
});

describe("GET /api/vtt/health on a sharded service", () => {
  it("lists the directory and every shard, each with its query time", async () => {
    const res = await app.request("/api/vtt/health", {}, env);
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.status).toBe("ok");
    expect(body.databases.map((d: any) => [d.name, d.role, d.region, d.ok])).toEqual([
      ["DB", "directory", "", true],
      ["DB_SHARD_1", "shard", "weur", true],
      ["DB_SHARD_2", "shard", "enam", true],
    ]);
    for (const d of body.databases) expect(d.ms).toEqual(expect.any(Number));
    expect(body.checks.db.ok).toBe(true);
  });

  it("names the one failing shard: degraded, 503, the others still answering", async () => {
    const res = await app.request("/api/vtt/health", {}, { ...env, DB_SHARD_2: broken("shard 2") } as unknown as Env);
    expect(res.status).toBe(503);
    const body = (await res.json()) as any;
    expect(body.status).toBe("degraded");
    expect(body.databases.map((d: any) => [d.name, d.ok])).toEqual([
      ["DB", true],
      ["DB_SHARD_1", true],
      ["DB_SHARD_2", false],
    ]);
    expect(body.databases[2]).toMatchObject({ ok: false, error: "shard 2 is down" });
    expect(body.checks.db).toMatchObject({ ok: false, error: "DB_SHARD_2: shard 2 is down" });
    expect(body.checks.storage.ok).toBe(true);
    expect(body.error).toMatchObject({ code: "unavailable" });
    expect(body.error.message).toContain("db (DB_SHARD_2)");
  });

  it("is unavailable when the directory fails, naming it", async () => {
    const res = await app.request("/api/vtt/health", {}, { ...env, DB: broken("directory") } as unknown as Env);
    expect(res.status).toBe(503);
    const body = (await res.json()) as any;
    expect(body.status).toBe("unavailable");
    expect(body.databases.find((d: any) => d.name === "DB")).toMatchObject({ ok: false, error: "directory is down" });
    expect(body.databases.filter((d: any) => d.ok).map((d: any) => d.name)).toEqual(["DB_SHARD_1", "DB_SHARD_2"]);
    expect(body.error.message).toContain("db (DB)");
  });
});
