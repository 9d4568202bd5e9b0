import { SELF } from "cloudflare:test";
import { strToU8, zipSync } from "fflate";
import { BUNDLE_FORMAT } from "../../domain/bundle";
import { sha256Hex } from "../../worker/lib/crypto";
import { ORIGIN, type Reply, type TestUser } from "./client";
import { shardOf } from "./shards";

const meta = {
  version: 1,
  created_at: "2026-01-01T00:00:00.000Z",
  updated_at: "2026-01-01T00:00:00.000Z",
  updated_by: "u",
  archived_at: null,
};

export interface BundleAsset {
  bytes: Uint8Array;
  /** What scene.json says about it; by default the truth (a PNG's real size, type and hash). */
  hash?: string;
  mime?: string;
  kind?: "map" | "token";
  width?: number;
  height?: number;
  size?: number;
}

export interface BundleSpec {
  name?: string;
  map?: BundleAsset;
  tokens?: number;
  /** Token art for the first tokens, one asset each (cycled). */
  art?: BundleAsset[];
  /** Raw scene.json edits after it is built. */
  edit?: (bundle: any) => void;
}

/** A scene bundle built by hand (zip, manifest with checksums), so tests control every claim in it. */
export async function makeBundle(spec: BundleSpec = {}): Promise<Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  const assets: any[] = [];
  const add = async (a: BundleAsset, kind: "map" | "token") => {
    const hash = a.hash ?? (await sha256Hex(a.bytes));
    const path = `assets/${hash}.png`;
    files[path] = a.bytes;
    if (!assets.some((x) => x.hash === hash))
      assets.push({
        hash,
        path,
        kind: a.kind ?? kind,
        mime: a.mime ?? "image/png",
        size: a.size ?? a.bytes.byteLength,
        width: a.width ?? 1,
        height: a.height ?? 1,
      });
    return hash;
  };
  const mapHash = spec.map ? await add(spec.map, "map") : null;
  const tokens = Array.from({ length: spec.tokens ?? 0 }, (_, i) => ({
    id: `t${i}`,
    ...meta,
    scene_id: "s",
    name: `Token ${i}`,
    x: i % 100,
    y: Math.floor(i / 100),
    created_by: "u",
  }));
  const art: any[] = [];
  for (const [i, a] of (spec.art ?? []).entries()) {
    const token = tokens[i];
    if (!token) break;
    art.push({ id: `a${i}`, ...meta, token_id: token.id, image_asset: await add(a, "token") });
  }
  const bundle: any = {
    format: BUNDLE_FORMAT,
    exported_at: meta.created_at,
    scene: { id: "s", ...meta, name: spec.name ?? "Crypt", map_asset: mapHash },
    layers: [{ id: "l", ...meta, scene_id: "s", layer_type: "drawings", payload: { lines: [] } }],
    tokens,
    token_art: art,
    assets,
    modules: {},
  };
  spec.edit?.(bundle);
  files["scene.json"] = strToU8(JSON.stringify(bundle));
  const manifest = {
    format: BUNDLE_FORMAT,
    created_at: meta.created_at,
    files: await Promise.all(
      Object.entries(files).map(async ([path, bytes]) => ({ path, sha256: await sha256Hex(bytes), size: bytes.byteLength })),
    ),
  };
  files["manifest.json"] = strToU8(JSON.stringify(manifest));
  return zipSync(files, { level: 1 });
}

/** POST {base}/import with the zip as body. */
export async function postImport(
  user: TestUser,
  base: string,
  zip: Uint8Array,
  opts: { query?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const res = await SELF.fetch(`${ORIGIN}${base}/import${opts.query ?? ""}`, {
    method: "POST",
    headers: { cookie: user.cookie, "x-csrf-token": user.csrf, "content-type": "application/zip", ...opts.headers },
    body: zip,
  });
  const text = await res.text();
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, headers: res.headers };
}

/** Rows an import could leave behind in a session. */
export async function importFootprint(sid: string) {
  return (await shardOf(sid))
    .prepare(
      `SELECT (SELECT COUNT(*) FROM scenes WHERE session_id = ?1) AS scenes, (SELECT COUNT(*) FROM tokens WHERE session_id = ?1) AS tokens,
      (SELECT COUNT(*) FROM assets WHERE session_id = ?1) AS assets, (SELECT COUNT(*) FROM asset_deletions WHERE session_id = ?1) AS tombstones,
      (SELECT seq FROM game_sessions WHERE id = ?1) AS seq`,
    )
    .bind(sid)
    .first();
}
