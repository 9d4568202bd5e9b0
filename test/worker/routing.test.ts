import { SELF } from "cloudflare:test";
import { RegExpRouter } from "hono/router/reg-exp-router";
import { describe, expect, it } from "vitest";
import { app } from "../../worker/app";
import { create, newTable, ORIGIN } from "../helpers/client";
import { registry } from "../helpers/registry";

describe("routing", () => {
  it("uses RegExpRouter alone, which compiles every route of the app", () => {
    expect(app.router.name).toBe("RegExpRouter");
    // The same routes in a fresh RegExpRouter: building its matcher throws on a pattern it cannot serve.
    const router = new RegExpRouter<number>();
    for (const [i, r] of app.routes.entries()) router.add(r.method, r.path, i);
    for (const method of ["GET", "POST", "PATCH", "PUT", "DELETE"]) {
      expect(() => router.match(method, "/api/vtt/sessions/s1/tokens/t1")).not.toThrow();
    }
    expect(router.match("PATCH", "/api/vtt/sessions/s1/tokens/t1")[0].length).toBeGreaterThan(0);
  });

  it("serves every entity type's routes at its own path segment", () => {
    const paths = new Set(app.routes.map((r) => `${r.method} ${r.path}`));
    for (const type of registry.types) {
      const base = `/api/vtt/sessions/:sid/${registry.paths[type]}`;
      for (const route of [`GET ${base}`, `POST ${base}`, `GET ${base}/:id`, `PATCH ${base}/:id`, `DELETE ${base}/:id`]) {
        expect(paths).toContain(route);
      }
      for (const route of [`GET ${base}/:id/history`, `POST ${base}/:id/revert`, `POST ${base}/:id/restore`])
        expect(paths).toContain(route);
    }
  });

  it("answers an unknown resource of a session with the not_found envelope, after admission", async () => {
    const { gm, base } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const unknown = await gm.req("GET", `${base}/not-a-type`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("not_found");
    const write = await gm.req("PATCH", `${base}/not-a-type/${token.id}`, { x: 5 }, { "if-match": '"1"' });
    expect(write.status).toBe(404);
    // Nothing changed: the token is still at version 1 where it was.
    const read = await gm.req("GET", `${base}/tokens/${token.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: token.id, version: 1 });
    // Without credentials a session's paths answer 401 first, known or not.
    const anonymous = await SELF.fetch(`${ORIGIN}${base}/not-a-type`);
    expect(anonymous.status).toBe(401);
  });
});
