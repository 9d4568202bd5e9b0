/**
 * The API's description tells the truth: the served document is the checked-in one
 * (docs/openapi.json, docs/protocol.json: `npm run openapi`), every route of the app is in it,
 * and real answers of the main flows match the response schemas it states for them.
 */
import { SELF } from "cloudflare:test";
import { inspectRoutes } from "hono/dev";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import checkedInDocument from "../../docs/openapi.json?raw";
import checkedInProtocol from "../../docs/protocol.json?raw";
import { app } from "../../worker/app";
import { create, newTable, ORIGIN, type Reply, TestUser } from "../helpers/client";
import { makePng } from "../helpers/images";
import { upload } from "../helpers/uploads";

type Json = Record<string, any>;

async function served(path: string): Promise<Json> {
  const res = await SELF.fetch(`${ORIGIN}${path}`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/json");
  return res.json();
}

const documentPromise = served("/api/openapi.json");

/** `/api/vtt/sessions/:sid/state` → `/api/vtt/sessions/{sid}/state`. */
const openApiPath = (path: string) => path.replace(/:([A-Za-z_]+)/g, "{$1}");

/** A schema of the document with its `$ref`s replaced by what they name (the document has no cycles). */
function inline(document: Json, node: unknown): unknown {
  if (Array.isArray(node)) return node.map((n) => inline(document, n));
  if (node && typeof node === "object") {
    const ref = (node as Json).$ref;
    if (typeof ref === "string") return inline(document, document.components.schemas[ref.split("/").pop() ?? ""]);
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, inline(document, v)]));
  }
  return node;
}

/**
 * Fails unless the document states `status` for the operation and the answer matches it: the
 * JSON body against the stated schema (read back into zod), or the stated media type.
 */
async function expectDocumented(method: string, path: string, reply: Reply | Response, body?: unknown) {
  const document = await documentPromise;
  const operation = document.paths[openApiPath(path)]?.[method.toLowerCase()];
  expect(operation, `${method} ${path} in the document`).toBeDefined();
  const answer = operation.responses[String(reply.status)];
  expect(answer, `${method} ${path} states ${reply.status}`).toBeDefined();
  const content = answer.content ?? {};
  if (content["application/json"]) {
    const schema = z.fromJSONSchema(inline(document, content["application/json"].schema) as never);
    const value = reply instanceof Response ? body : reply.body;
    const checked = schema.safeParse(value);
    expect(checked.success ? [] : checked.error.issues, `${method} ${path} ${reply.status} body`).toEqual([]);
  } else if (Object.keys(content).length > 0) {
    const type = reply.headers.get("content-type") ?? "";
    expect(
      Object.keys(content).some((media) => type.startsWith(media.replace("*", ""))),
      `${method} ${path} media ${type}`,
    ).toBe(true);
  } else {
    expect(reply instanceof Response ? body : reply.body, `${method} ${path} ${reply.status} has no body`).toBeNull();
  }
}

describe("the served description", () => {
  it("is the checked-in docs/openapi.json and docs/protocol.json (run npm run openapi after changing routes)", async () => {
    expect(await documentPromise).toEqual(JSON.parse(checkedInDocument));
    expect(await served("/api/protocol.json")).toEqual(JSON.parse(checkedInProtocol));
  });

  it("serves a reference page at /api/docs that reads the document and loads its viewer from this origin only", async () => {
    const res = await SELF.fetch("https://vtt.test/api/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('src="/vendor/scalar/api-reference.js"');
    expect(html).toContain("/api/openapi.json");
    // No CDN, no fonts from elsewhere: every URL the page names is a path on this origin.
    expect(html.match(/(?:src|href)="https?:\/\/[^"]*"/g) ?? []).toEqual([]);
    expect(html).not.toContain("cdn.jsdelivr.net");
  });

  it("describes every route of the app, and nothing else", async () => {
    const document = await documentPromise;
    const routes = new Set<string>();
    for (const route of inspectRoutes(app)) {
      if (route.isMiddleware || route.method === "ALL") continue;
      // Bench routes answer only where BENCH_ROUTES=1 (load tests), never in production: not API.
      if (route.path.startsWith("/api/bench/")) continue;
      // The description itself.
      if (route.path === "/api/openapi.json" || route.path === "/api/protocol.json" || route.path === "/api/docs") continue;
      routes.add(`${route.method} ${openApiPath(route.path)}`);
    }
    const described = new Set<string>();
    for (const [path, item] of Object.entries(document.paths as Json)) {
      for (const method of Object.keys(item)) described.add(`${method.toUpperCase()} ${path}`);
    }
    expect(
      [...routes].filter((r) => !described.has(r)),
      "routes missing from the document",
    ).toEqual([]);
    expect(
      [...described].filter((d) => !routes.has(d)),
      "documented operations without a route",
    ).toEqual([]);
    expect(routes.size).toBeGreaterThan(80);
  });

  it("names the security schemes and the closed list of error codes", async () => {
    const document = await documentPromise;
    expect(document.openapi).toBe("3.1.0");
    expect(document.components.securitySchemes.session_cookie).toMatchObject({ type: "apiKey", in: "cookie", name: "vtt_session" });
    expect(document.components.securitySchemes.csrf_token).toMatchObject({ type: "apiKey", in: "header", name: "X-CSRF-Token" });
    expect(document.components.securitySchemes.bearer_token).toMatchObject({ type: "http", scheme: "bearer" });
    expect(document.components.schemas.Error.properties.error.properties.code.enum).toEqual(
      expect.arrayContaining(["bad_request", "csrf", "conflict", "gone", "locked", "precondition_required", "rate_limited"]),
    );
    const patch = document.paths["/api/vtt/sessions/{sid}/scenes/{id}"].patch;
    expect(patch.parameters.map((p: Json) => p.name)).toEqual(expect.arrayContaining(["If-Match", "Idempotency-Key", "X-CSRF-Token"]));
    expect(Object.keys(patch.responses)).toEqual(expect.arrayContaining(["200", "409", "423", "428"]));
  });
});

describe("real answers match the document", () => {
  it("state, changes, entities, batch and its 409", async () => {
    const { gm, base } = await newTable();
    await expectDocumented("GET", "/api/auth/me", await gm.req("GET", "/api/auth/me"));
    const scene = await gm.req("POST", `${base}/scenes`, { name: "Crypt" });
    await expectDocumented("POST", "/api/vtt/sessions/:sid/scenes", scene);
    const token = await create(gm, base, "tokens", { name: "Hero", scene_id: scene.body.id });

    const state = await gm.req("GET", `${base}/state`);
    expect(state.status).toBe(200);
    expect(state.body.scenes).toHaveLength(1);
    await expectDocumented("GET", "/api/vtt/sessions/:sid/state", state);
    await expectDocumented("GET", "/api/vtt/sessions/:sid/changes", await gm.req("GET", `${base}/changes?since=0`));
    await expectDocumented("GET", "/api/vtt/sessions/:sid/scenes/:id", await gm.req("GET", `${base}/scenes/${scene.body.id}`));
    await expectDocumented("GET", "/api/vtt/sessions/:sid/tokens", await gm.req("GET", `${base}/tokens`));

    const batch = await gm.req("POST", `${base}/batch`, {
      ops: [{ op_id: crypto.randomUUID(), entity_type: "token", op: "update", id: token.id, base_version: 1, data: { x: 3 } }],
    });
    expect(batch.status).toBe(200);
    await expectDocumented("POST", "/api/vtt/sessions/:sid/batch", batch);
    const stale = await gm.req("POST", `${base}/batch`, {
      ops: [{ op_id: crypto.randomUUID(), entity_type: "token", op: "update", id: token.id, base_version: 1, data: { x: 4 } }],
    });
    expect(stale.status).toBe(409);
    expect(stale.body.error.details.current.version).toBe(2);
    await expectDocumented("POST", "/api/vtt/sessions/:sid/batch", stale);

    const noIfMatch = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 5 });
    expect(noIfMatch.status).toBe(428);
    await expectDocumented("PATCH", "/api/vtt/sessions/:sid/tokens/:id", noIfMatch);
    const patched = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 5 }, { "if-match": '"2"' });
    expect(patched.body.version).toBe(3);
    await expectDocumented("PATCH", "/api/vtt/sessions/:sid/tokens/:id", patched);
    const invalid = await gm.req("POST", `${base}/batch`, { ops: "no" });
    expect(invalid.status).toBe(400);
    await expectDocumented("POST", "/api/vtt/sessions/:sid/batch", invalid);
    await expectDocumented(
      "GET",
      "/api/vtt/sessions/:sid/scenes/:id/history",
      await gm.req("GET", `${base}/scenes/${scene.body.id}/history`),
    );
  });

  it("a scene lock and another GM's 423", async () => {
    const t = await newTable();
    const coGm = await TestUser.register("cogm");
    await coGm.req("POST", "/api/vtt/sessions/join", { invite_code: t.inviteCode });
    await expectDocumented(
      "PUT",
      "/api/vtt/sessions/:sid/members/:user_id",
      await t.gm.req("PUT", `${t.base}/members/${coGm.id}`, { role: "gm" }),
    );
    const scene = await create(t.gm, t.base, "scenes", { name: "Crypt" });
    const lock = await t.gm.req("POST", `${t.base}/locks`, { scene_id: scene.id });
    expect(lock.status).toBe(201);
    await expectDocumented("POST", "/api/vtt/sessions/:sid/locks", lock);
    const locked = await coGm.req("PATCH", `${t.base}/scenes/${scene.id}`, { name: "Tower" }, { "if-match": '"1"' });
    expect(locked.status).toBe(423);
    expect(locked.body.error.details.lock.holder_user_id).toBe(t.gm.id);
    await expectDocumented("PATCH", "/api/vtt/sessions/:sid/scenes/:id", locked);
    const taken = await coGm.req("POST", `${t.base}/locks`, { scene_id: scene.id });
    expect(taken.status).toBe(409);
    await expectDocumented("POST", "/api/vtt/sessions/:sid/locks", taken);
    expect((await t.gm.req("GET", `${t.base}/scenes/${scene.id}`)).body.name).toBe("Crypt");
  });

  it("the 429 of too many session creations, with Retry-After", async () => {
    const gm = await TestUser.register("busy");
    let reply: Reply | undefined;
    for (let i = 0; i < 30; i++) {
      reply = await gm.req("POST", "/api/vtt/sessions", { name: `Table ${i}` });
      if (reply.status === 429) break;
      await expectDocumented("POST", "/api/vtt/sessions", reply);
    }
    expect(reply?.status).toBe(429);
    expect(reply?.headers.get("retry-after")).toMatch(/^\d+$/);
    if (reply) await expectDocumented("POST", "/api/vtt/sessions", reply);
    await expectDocumented("GET", "/api/vtt/sessions", await gm.req("GET", "/api/vtt/sessions"));
  });

  it("assets, export and import", async () => {
    const { gm, base } = await newTable();
    const uploaded = await upload(gm, base, await makePng(64, 48), { filename: "map.png", kind: "map" });
    expect(uploaded.status).toBe(201);
    await expectDocumented("POST", "/api/vtt/sessions/:sid/assets", uploaded);
    await expectDocumented("GET", "/api/vtt/sessions/:sid/assets", await gm.req("GET", `${base}/assets`));
    const svg = await upload(gm, base, new TextEncoder().encode("<svg xmlns='http://www.w3.org/2000/svg'/>"), { filename: "x.svg" });
    expect(svg.status).toBe(415);
    await expectDocumented("POST", "/api/vtt/sessions/:sid/assets", svg);

    const scene = await create(gm, base, "scenes", { name: "Crypt", map_asset: uploaded.body.asset.hash });
    const exported = await SELF.fetch(`${ORIGIN}${base}/scenes/${scene.id}/export`, { headers: { cookie: gm.cookie } });
    expect(exported.status).toBe(200);
    const zip = new Uint8Array(await exported.arrayBuffer());
    await expectDocumented("GET", "/api/vtt/sessions/:sid/scenes/:id/export", exported);
    const imported = await SELF.fetch(`${ORIGIN}${base}/import`, {
      method: "POST",
      headers: { cookie: gm.cookie, "x-csrf-token": gm.csrf, "content-type": "application/zip" },
      body: zip,
    });
    expect(imported.status).toBe(201);
    const body = await imported.json();
    await expectDocumented("POST", "/api/vtt/sessions/:sid/import", imported, body);
    expect((await gm.req("GET", `${base}/scenes`)).body.items).toHaveLength(2);
  });

  it("backups and a restore", async () => {
    const { gm, base } = await newTable();
    await create(gm, base, "scenes", { name: "Crypt" });
    const backup = await gm.req("POST", `${base}/backups`);
    expect(backup.status).toBe(201);
    await expectDocumented("POST", "/api/vtt/sessions/:sid/backups", backup);
    await expectDocumented("GET", "/api/vtt/sessions/:sid/backups", await gm.req("GET", `${base}/backups`));
    const restored = await gm.req("POST", `${base}/restore`, {});
    expect(restored.status).toBe(201);
    await expectDocumented("POST", "/api/vtt/sessions/:sid/restore", restored);
    const copy = await gm.req("GET", `/api/vtt/sessions/${restored.body.session.id}/scenes`);
    expect(copy.body.items.map((s: Json) => s.name)).toEqual(["Crypt"]);
  });

  it("unauthenticated, foreign and unknown requests", async () => {
    const { base } = await newTable();
    const stranger = await TestUser.register("stranger");
    await expectDocumented("GET", "/api/vtt/sessions/:sid/state", await stranger.req("GET", `${base}/state`));
    await expectDocumented("GET", "/api/vtt/sessions/:sid/state", await new TestUser().req("GET", `${base}/state`));
    const health = await SELF.fetch(`${ORIGIN}/api/vtt/health`);
    await expectDocumented("GET", "/api/vtt/health", health, await health.json());
  });
});
