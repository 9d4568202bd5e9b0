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
