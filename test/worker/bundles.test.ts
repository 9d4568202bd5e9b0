import { env, SELF } from "cloudflare:test";
import { strToU8, unzipSync, zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { BUNDLE_FORMAT } from "../../domain/bundle";
import { sha256Hex } from "../../worker/lib/crypto";
import { create, newTable, ORIGIN, type TestUser } from "../helpers/client";
import { makePng } from "../helpers/images";
import { shardOf } from "../helpers/shards";

async function upload(gm: TestUser, base: string, bytes: Uint8Array, name: string, kind: "map" | "token") {
  const form = new FormData();
  form.set("kind", kind);
  form.set("file", new File([bytes], name, { type: "image/png" }));
  const res = await SELF.fetch(`${ORIGIN}${base}/assets`, {
    method: "POST",
    headers: { cookie: gm.cookie, "x-csrf-token": gm.csrf },
    body: form,
  });
  const body = (await res.json()) as any;
  if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${JSON.stringify(body)}`);
  return body.asset as { hash: string };
}

async function exportScene(gm: TestUser, base: string, sceneId: string): Promise<Uint8Array> {
  const res = await SELF.fetch(`${ORIGIN}${base}/scenes/${sceneId}/export`, { headers: { cookie: gm.cookie } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("application/zip");
  return new Uint8Array(await res.arrayBuffer());
}

async function importZip(gm: TestUser, base: string, zip: Uint8Array, query = "") {
  const res = await SELF.fetch(`${ORIGIN}${base}/import${query}`, {
    method: "POST",
    headers: { cookie: gm.cookie, "x-csrf-token": gm.csrf, "content-type": "application/zip" },
    body: zip,
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function counts(sid: string) {
  const row = await (await shardOf(sid))
    .prepare(
      "SELECT (SELECT COUNT(*) FROM scenes WHERE session_id = ?1) AS scenes, (SELECT COUNT(*) FROM tokens WHERE session_id = ?1) AS tokens, (SELECT COUNT(*) FROM assets WHERE session_id = ?1) AS assets, (SELECT seq FROM game_sessions WHERE id = ?1) AS seq",
    )
    .bind(sid)
    .first();
  return row;
}

/** A scene with a map, two layers, two tokens (one with cropped art). */
async function sceneWorld(gm: TestUser, base: string) {
  const map = await upload(gm, base, await makePng(64, 48), "map.png", "map");
  const face = await upload(gm, base, await makePng(40, 40), "face.png", "token");
  const scene = await create(gm, base, "scenes", { name: "Crypt", map_asset: map.hash, grid_scale: 10, metadata: { mood: "grim" } });
  await create(gm, base, "layers", { scene_id: scene.id, layer_type: "drawings", payload: { lines: [[0, 0, 5, 5]] } });
  await create(gm, base, "layers", { scene_id: scene.id, layer_type: "fog", payload: { mask: "1101" } });
  const hero = await create(gm, base, "tokens", { name: "Hero", scene_id: scene.id, x: 3, y: 4, stats: { hp: 12 } });
  await create(gm, base, "tokens", { name: "Orc", scene_id: scene.id, hidden: true });
  await create(gm, base, "token-art", {
    token_id: hero.id,
    image_asset: face.hash,
    crop: { scale: 1.2, translate_x: 4, translate_y: -2, stage_size: 512, base_scale: 0.9 },
  });
  return scene;
}

const SERVER = ["id", "version", "created_at", "updated_at", "updated_by", "created_by", "scene_id", "token_id"];
const strip = (e: Record<string, unknown>) => Object.fromEntries(Object.entries(e).filter(([k]) => !SERVER.includes(k)));

async function sceneContents(gm: TestUser, base: string, sceneId: string) {
  const state = (await gm.req("GET", `${base}/state`)).body;
  const scene = (await gm.req("GET", `${base}/scenes/${sceneId}`)).body;
  const tokens = state.tokens.filter((t: any) => t.scene_id === sceneId);
  const ids = new Set(tokens.map((t: any) => t.id));
  const byName = new Map(tokens.map((t: any) => [t.id, t.name]));
  // Token art is re-encoded on import like any upload: compared by what the asset is.
  const assets = new Map((await gm.req("GET", `${base}/assets`)).body.items.map((a: any) => [a.hash, a]));
  const assetOf = (hash: string) => {
    const a: any = assets.get(hash);
    return a && { kind: a.kind, mime: a.mime, width: a.width, height: a.height };
  };
  return {
    scene: strip({ ...scene, layers: undefined }),
    layers: scene.layers.map(strip).sort((a: any, b: any) => a.layer_type.localeCompare(b.layer_type)),
    tokens: tokens.map(strip).sort((a: any, b: any) => a.name.localeCompare(b.name)),
    art: state.token_art
      .filter((a: any) => ids.has(a.token_id))
      .map((a: any) => ({ ...strip(a), image_asset: assetOf(a.image_asset), token: byName.get(a.token_id) })),
  };
}

describe("scene export and import", () => {
  it("round-trips a scene into another session, equal up to ids", async () => {
    const source = await newTable();
    const scene = await sceneWorld(source.gm, source.base);
    const zip = await exportScene(source.gm, source.base, scene.id);
    const files = unzipSync(zip);
    expect(Object.keys(files).sort()).toEqual(expect.arrayContaining(["manifest.json", "scene.json"]));
    expect(Object.keys(files).filter((f) => f.startsWith("assets/"))).toHaveLength(2);

    const target = await newTable();
    const r = await importZip(target.gm, target.base, zip, "?name=Crypt");
    expect(r.status).toBe(201);
    expect(r.body.scene.id).not.toBe(scene.id);
    expect(r.body.created).toEqual({ layers: 2, tokens: 2, token_art: 1, assets: 2 });
    expect(await sceneContents(target.gm, target.base, r.body.scene.id)).toEqual(await sceneContents(source.gm, source.base, scene.id));
  });

  it("imports into the same session as a copy with new ids", async () => {
    const { gm, base } = await newTable();
    const scene = await sceneWorld(gm, base);
    const r = await importZip(gm, base, await exportScene(gm, base, scene.id));
    expect(r.status).toBe(201);
    expect((await gm.req("GET", `${base}/scenes`)).body.items).toHaveLength(2);
  });

  it("lists every file in the manifest with its SHA-256", async () => {
    const { gm, base } = await newTable();
    const scene = await sceneWorld(gm, base);
    const files = unzipSync(await exportScene(gm, base, scene.id));
    const manifest = JSON.parse(new TextDecoder().decode(files["manifest.json"]));
    expect(manifest.format).toBe(BUNDLE_FORMAT);
    const listed = manifest.files.map((f: any) => f.path).sort();
    expect(listed).toEqual(
      Object.keys(files)
        .filter((f) => f !== "manifest.json")
        .sort(),
    );
    for (const f of manifest.files) expect(await sha256Hex(files[f.path] as Uint8Array)).toBe(f.sha256);
  });

  it("is for GMs, and 404 for an unknown scene", async () => {
    const { gm, player, base } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "A" });
    const res = await SELF.fetch(`${ORIGIN}${base}/scenes/${scene.id}/export`, { headers: { cookie: player.cookie } });
    expect(res.status).toBe(403);
    const missing = await SELF.fetch(`${ORIGIN}${base}/scenes/nope/export`, { headers: { cookie: gm.cookie } });
    expect(missing.status).toBe(404);
    expect((await importZip(player, base, new Uint8Array([1]))).status).toBe(403);
  });
});

describe("hostile bundles", () => {
  /** Rebuilds a valid export with one change, re-listing checksums unless told not to. */
  async function tampered(change: (files: Record<string, Uint8Array>) => void, relist = true): Promise<Uint8Array> {
    const source = await newTable();
    const scene = await sceneWorld(source.gm, source.base);
    const files = unzipSync(await exportScene(source.gm, source.base, scene.id));
    change(files);
    if (relist) {
      const manifest = {
        format: BUNDLE_FORMAT,
        created_at: new Date().toISOString(),
        files: await Promise.all(
          Object.entries(files)
            .filter(([n]) => n !== "manifest.json")
            .map(async ([path, bytes]) => ({ path, sha256: await sha256Hex(bytes), size: bytes.byteLength })),
        ),
      };
      files["manifest.json"] = strToU8(JSON.stringify(manifest));
    }
    return zipSync(files);
  }

  const editScene = (edit: (bundle: any) => void) => (files: Record<string, Uint8Array>) => {
    const bundle = JSON.parse(new TextDecoder().decode(files["scene.json"]));
    edit(bundle);
    files["scene.json"] = strToU8(JSON.stringify(bundle));
  };

  const cases: [string, () => Promise<Uint8Array>][] = [
    ["not a zip at all", async () => strToU8("this is not a zip")],
    ["a truncated zip", async () => (await tampered(() => undefined)).slice(0, 200)],
    [
      "a file changed after the manifest",
      () =>
        tampered(
          editScene((b) => (b.scene.name = "Forged")),
          false,
        ),
    ],
    ["a missing manifest", () => tampered((f) => delete f["manifest.json"], false)],
    ["a missing scene.json", () => tampered((f) => delete f["scene.json"])],
    ["a path-traversal entry", () => tampered((f) => (f["../../etc/passwd"] = strToU8("root")))],
    ["an absolute path", () => tampered((f) => (f["/tmp/evil.json"] = strToU8("{}")))],
    ["an unexpected folder", () => tampered((f) => (f["assets/sub/x.png"] = strToU8("x")))],
    ["an invalid scene.json", () => tampered(editScene((b) => (b.scene.grid_scale = "big")))],
    ["a token off the scene", () => tampered(editScene((b) => (b.tokens[0].scene_id = "elsewhere")))],
    ["art naming an asset not in the bundle", () => tampered(editScene((b) => (b.token_art[0].image_asset = "f".repeat(64))))],
    [
      "an asset whose bytes do not hash to its name",
      () =>
        tampered((f) => {
          const name = Object.keys(f).find((n) => n.startsWith("assets/")) as string;
          f[name] = (f[name] as Uint8Array).map((b, i) => (i === 40 ? b ^ 1 : b));
        }),
    ],
    [
      "an SVG posing as a PNG asset",
      () =>
        tampered((f) => {
          const name = Object.keys(f).find((n) => n.startsWith("assets/")) as string;
          f[name] = strToU8('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
        }),
    ],
    ["a zip bomb", async () => zipSync({ "scene.json": new Uint8Array(30 * 1024 * 1024) }, { level: 9 })],
  ];

  it.each(cases)("refuses %s with 400 and creates nothing", async (_what, make) => {
    const target = await newTable();
    const zip = await make();
    const before = await counts(target.sid);
    const r = await importZip(target.gm, target.base, zip);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("bad_request");
    expect(Array.isArray(r.body.error.details.problems)).toBe(true);
    expect(await counts(target.sid)).toEqual(before);
  });

  it("refuses a zip over the size limit with 413 before reading it", async () => {
    const { gm, base } = await newTable();
    const res = await SELF.fetch(`${ORIGIN}${base}/import`, {
      method: "POST",
      headers: {
        cookie: gm.cookie,
        "x-csrf-token": gm.csrf,
        "content-type": "application/zip",
        "content-length": String(60 * 1024 * 1024),
      },
      body: new Uint8Array(10),
    });
    expect(res.status).toBe(413);
  });
});

describe("exporting a scene with many assets", () => {
  it("carries more assets than one D1 statement may name (100 distinct token images)", async () => {
    const { gm, base, sid } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "Gallery" });
    const ops: unknown[] = [];
    for (let i = 0; i < 100; i++) {
      const bytes = await makePng(8 + i, 8);
      const hash = await sha256Hex(bytes);
      await env.ASSETS.put(`assets/${hash}`, bytes);
      await (await shardOf(sid))
        .prepare(
          "INSERT INTO assets (session_id, hash, kind, mime, size, width, height, r2_key, uploaded_by, created_at) VALUES (?, ?, 'token', 'image/png', ?, ?, 8, ?, ?, ?)",
        )
        .bind(sid, hash, bytes.byteLength, 8 + i, `assets/${hash}`, gm.id, new Date().toISOString())
        .run();
      const token = `tok-${i}`;
      ops.push({ op_id: crypto.randomUUID(), entity_type: "token", op: "create", id: token, data: { name: `T${i}`, scene_id: scene.id } });
      ops.push({ op_id: crypto.randomUUID(), entity_type: "token_art", op: "create", data: { token_id: token, image_asset: hash } });
    }
    const batch = await gm.req("POST", `${base}/batch`, { ops });
    expect(batch.status).toBe(200);
    const files = unzipSync(await exportScene(gm, base, scene.id));
    expect(Object.keys(files).filter((name) => name.startsWith("assets/"))).toHaveLength(100);
  });
});
