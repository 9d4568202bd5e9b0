/**
 * Scene bundles: the zip a scene is exported to and imported from, moved between sessions or
 * servers. Pure rules shared by the worker (export, import) and the CLI (verify):
 *
 *   scene.json     {format, scene, layers, tokens, token_art, assets, modules}
 *   manifest.json  {format, created_at, files: [{path, sha256, size}]} for every other file
 *   assets/<sha256>.<ext>
 *
 * A bundle is accepted only when every entry has an allowed name, every file is listed in the
 * manifest with its SHA-256, every listed file is present, scene.json is valid, every entity
 * refers only to what the bundle holds, and every asset is an acceptable image whose bytes hash
 * to its name.
 */
import { z } from "zod";
import { type AssetKind, assetKindSchema, imageExtensions, imageMime, inspectImage } from "./assets";
import {
  type AnyEntity,
  assetHashSchema,
  baseFieldsSchema,
  type EntityType,
  jsonObjectSchema,
  layerSchema,
  sceneSchema,
  tokenArtSchema,
  tokenSchema,
} from "./entities";
import { writableFields } from "./ops";
import { mapValuesAt } from "./references";
import type { EntityRegistry } from "./registry";
import { fieldIssues } from "./validation";

export const BUNDLE_FORMAT = "vtt-scene/1";
const MiB = 1024 * 1024;

export const bundleLimits = {
  /** The zip itself, as uploaded. */
  zipBytes: 48 * MiB,
  /** Everything once inflated; and per entry. */
  totalBytes: 64 * MiB,
  jsonBytes: 8 * MiB,
  assetBytes: 20 * MiB,
  entries: 1002,
  /** A file that inflates more than this many times its compressed size is treated as a bomb. */
  ratio: 200,
} as const;

const extensions = Object.values(imageExtensions).flat().join("|");
const ASSET_PATH = new RegExp(`^assets/([0-9a-f]{64})\\.(${extensions})$`);

/** The only names an entry may have: no folders of its own, no `..`, no absolute paths. */
export function isAllowedEntryName(name: string): boolean {
  return name === "scene.json" || name === "manifest.json" || ASSET_PATH.test(name);
}

export const bundleManifestSchema = z.strictObject({
  format: z.literal(BUNDLE_FORMAT),
  created_at: z.string().max(64),
  files: z
    .array(z.strictObject({ path: z.string().max(200), sha256: assetHashSchema, size: z.number().int().min(0) }))
    .max(bundleLimits.entries),
});
export type BundleManifest = z.infer<typeof bundleManifestSchema>;

export const bundleAssetSchema = z.strictObject({
  hash: assetHashSchema,
  path: z.string().regex(ASSET_PATH),
  kind: assetKindSchema,
  mime: z.enum(Object.values(imageMime) as [string, ...string[]]),
  size: z.number().int().min(1),
  width: z.number().int().min(1),
  height: z.number().int().min(1),
});

export const sceneBundleSchema = z.strictObject({
  format: z.literal(BUNDLE_FORMAT),
  exported_at: z.string().max(64),
  scene: sceneSchema,
  layers: z.array(layerSchema).max(1000),
  tokens: z.array(tokenSchema).max(20_000),
  token_art: z.array(tokenArtSchema).max(20_000),
  assets: z.array(bundleAssetSchema).max(1000),
  /** Entities of module types that live on the scene or on its tokens, by type. */
  modules: z.record(z.string().max(40), z.array(jsonObjectSchema).max(20_000)).default({}),
});
export type SceneBundle = z.infer<typeof sceneBundleSchema>;

export type BundleCheck =
  | { ok: true; bundle: SceneBundle; manifest: BundleManifest }
  | { ok: false; problems: string[]; tooLarge?: { entities: number; limit: number } };

export interface CheckOptions {
  /**
   * Inspect every asset as an image here (type sniffed, structure, the type scene.json names).
   * The worker turns it off: its upload pipeline checks each image and answers as an upload would.
   */
  images?: boolean;
  /** Refuse a bundle of more entities (scene, layers, tokens, token art, module entities). */
  maxEntities?: number;
}

/** How many entities a parsed scene.json would create, counted before its schema is checked. */
export function countBundleEntities(raw: unknown): number {
  if (typeof raw !== "object" || raw === null) return 0;
  const b = raw as Record<string, unknown>;
  const length = (v: unknown) => (Array.isArray(v) ? v.length : 0);
  const modules = typeof b.modules === "object" && b.modules !== null ? Object.values(b.modules) : [];
  return 1 + length(b.layers) + length(b.tokens) + length(b.token_art) + modules.reduce((n: number, v) => n + length(v), 0);
}

function parseJsonFile(bytes: Uint8Array | undefined, name: string, problems: string[]): unknown {
  if (!bytes) {
    problems.push(`${name} is missing`);
    return undefined;
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    problems.push(`${name} is not valid JSON`);
    return undefined;
  }
}

/** Checks an unpacked bundle; `sha256` hashes bytes to lowercase hex (WebCrypto or node:crypto). */
export async function checkBundle(
  registry: EntityRegistry,
  files: ReadonlyMap<string, Uint8Array>,
  sha256: (bytes: Uint8Array) => Promise<string>,
  options: CheckOptions = {},
): Promise<BundleCheck> {
  const problems: string[] = [];
  for (const name of files.keys()) {
    if (!isAllowedEntryName(name)) problems.push(`unexpected entry ${JSON.stringify(name.slice(0, 100))}`);
  }
  const sceneRaw = parseJsonFile(files.get("scene.json"), "scene.json", problems);
  const entities = countBundleEntities(sceneRaw);
  if (options.maxEntities !== undefined && entities > options.maxEntities) {
    return {
      ok: false,
      problems: [`the bundle holds ${entities} entities: at most ${options.maxEntities}`],
      tooLarge: { entities, limit: options.maxEntities },
    };
  }
  const manifestParsed = bundleManifestSchema.safeParse(parseJsonFile(files.get("manifest.json"), "manifest.json", problems));
  const sceneParsed = sceneBundleSchema.safeParse(sceneRaw);
  if (!manifestParsed.success) {
    if (files.has("manifest.json"))
      problems.push(`manifest.json is invalid: ${JSON.stringify(fieldIssues(manifestParsed.error).slice(0, 3))}`);
    return { ok: false, problems };
  }
  const manifest = manifestParsed.data;
  const listed = new Map(manifest.files.map((f) => [f.path, f]));
  for (const [name, bytes] of files) {
    if (name === "manifest.json") continue;
    const entry = listed.get(name);
    if (!entry) {
      problems.push(`${name} is not in the manifest`);
      continue;
    }
    if (entry.size !== bytes.byteLength || (await sha256(bytes)) !== entry.sha256) problems.push(`${name} does not match its checksum`);
  }
  for (const path of listed.keys()) if (!files.has(path)) problems.push(`${path} is listed but missing`);
  if (!sceneParsed.success) {
    if (files.has("scene.json")) problems.push(`scene.json is invalid: ${JSON.stringify(fieldIssues(sceneParsed.error).slice(0, 3))}`);
    return { ok: false, problems };
  }
  const bundle = sceneParsed.data;

  // Every file an asset names must be in the bundle, hash to its name and be an acceptable image.
  const assetHashes = new Set<string>();
  for (const asset of bundle.assets) {
    const bytes = files.get(asset.path);
    const match = ASSET_PATH.exec(asset.path);
    if (!bytes || match?.[1] !== asset.hash) {
      problems.push(`asset ${asset.hash} has no file of that name`);
      continue;
    }
    if ((await sha256(bytes)) !== asset.hash) {
      problems.push(`${asset.path} does not hash to its name`);
      continue;
    }
    if (options.images !== false) {
      const inspected = inspectImage(bytes);
      if (!inspected.ok) problems.push(`${asset.path} is not an acceptable image: ${inspected.message}`);
      else if (imageMime[inspected.image.type] !== asset.mime) problems.push(`${asset.path} is not a ${asset.mime}`);
    }
    assetHashes.add(asset.hash);
  }

  // References stay inside the bundle.
  const tokenIds = new Set(bundle.tokens.map((t) => t.id));
  if (bundle.scene.map_asset !== null && !assetHashes.has(bundle.scene.map_asset))
    problems.push("the scene's map_asset is not in the bundle");
  for (const layer of bundle.layers) if (layer.scene_id !== bundle.scene.id) problems.push(`layer ${layer.id} is not on the scene`);
  for (const token of bundle.tokens) if (token.scene_id !== bundle.scene.id) problems.push(`token ${token.id} is not on the scene`);
  for (const art of bundle.token_art) {
    if (!tokenIds.has(art.token_id)) problems.push(`token art ${art.id} names a token not in the bundle`);
    if (!assetHashes.has(art.image_asset)) problems.push(`token art ${art.id} names an asset not in the bundle`);
  }
  const moduleIds = checkModuleEntities(registry, bundle, tokenIds, problems);
  const ids = [
    bundle.scene.id,
    ...bundle.layers.map((l) => l.id),
    ...bundle.tokens.map((t) => t.id),
    ...bundle.token_art.map((a) => a.id),
    ...moduleIds,
  ];
  if (new Set(ids).size !== ids.length) problems.push("an id appears twice in the bundle");
  return problems.length > 0 ? { ok: false, problems: problems.slice(0, 50) } : { ok: true, bundle, manifest };
}

/**
 * Module entities must be of a registered type that lives on a scene, valid for its schema, and
 * on this scene or one of its tokens. Returns their ids.
 */
function checkModuleEntities(registry: EntityRegistry, bundle: SceneBundle, tokenIds: ReadonlySet<string>, problems: string[]): string[] {
  const ids: string[] = [];
  for (const [type, entities] of Object.entries(bundle.modules)) {
    const def = registry.moduleEntity(type);
    if (!def?.scene) {
      problems.push(`${JSON.stringify(type.slice(0, 40))} is not a module entity type of this server that lives on a scene`);
      continue;
    }
    const writable = Object.keys(def.fields.shape);
    for (const raw of entities) {
      // The module's own schema, whole (with its object-level rules), on the fields it declares.
      const base = baseFieldsSchema.safeParse(raw);
      const fields = def.fields.safeParse(Object.fromEntries(Object.entries(raw).filter(([key]) => writable.includes(key))));
      if (!base.success || !fields.success) {
        const error = base.success ? fields.error : base.error;
        problems.push(`a ${type} is invalid: ${JSON.stringify(error ? fieldIssues(error).slice(0, 3) : [])}`);
        continue;
      }
      const entity = { ...base.data, ...fields.data } as AnyEntity;
      const home = entity[def.scene.field];
      const onScene = def.scene.via === "scene" ? home === bundle.scene.id : typeof home === "string" && tokenIds.has(home);
      if (!onScene) problems.push(`${type} ${entity.id} is not on the scene`);
      ids.push(entity.id);
    }
  }
  return ids;
}

export type Unpacked = { ok: true; files: Map<string, Uint8Array> } | { ok: false; problems: string[] };

/**
 * Unzips a bundle within the limits, looking at each entry's name and declared sizes before
 * inflating anything: unexpected names (path traversal included), too many entries, oversized or
 * suspiciously compressible entries (zip bombs) refuse the whole bundle. A declared size that
 * lies is caught afterwards by the manifest's sizes and checksums.
 */
export function unpackBundle(zip: Uint8Array, unzip: typeof import("fflate").unzipSync): Unpacked {
  const problems: string[] = [];
  if (zip.byteLength > bundleLimits.zipBytes) return { ok: false, problems: [`the bundle is over ${bundleLimits.zipBytes} bytes`] };
  const seen = new Set<string>();
  let entries = 0;
  let total = 0;
  let files: Record<string, Uint8Array>;
  try {
    files = unzip(zip, {
      filter(file) {
        entries += 1;
        total += file.originalSize;
        const limit = file.name.endsWith(".json") ? bundleLimits.jsonBytes : bundleLimits.assetBytes;
        if (!isAllowedEntryName(file.name)) problems.push(`unexpected entry ${JSON.stringify(file.name.slice(0, 100))}`);
        else if (seen.has(file.name)) problems.push(`${file.name} appears twice`);
        else if (file.originalSize > limit) problems.push(`${file.name} is over ${limit} bytes`);
        else if (file.size > 0 && file.originalSize / file.size > bundleLimits.ratio && file.originalSize > 1024 * 1024) {
          problems.push(`${file.name} inflates ${Math.round(file.originalSize / file.size)} times: refused as a zip bomb`);
        }
        seen.add(file.name);
        if (entries > bundleLimits.entries) problems.push(`more than ${bundleLimits.entries} entries`);
        if (total > bundleLimits.totalBytes) problems.push(`over ${bundleLimits.totalBytes} bytes once unpacked`);
        // Inflate nothing once anything is wrong.
        return problems.length === 0;
      },
    });
  } catch (error) {
    return { ok: false, problems: [...problems, `not a readable zip: ${error instanceof Error ? error.message : String(error)}`] };
  }
  if (problems.length > 0) return { ok: false, problems: [...new Set(problems)].slice(0, 50) };
  return { ok: true, files: new Map(Object.entries(files)) };
}

/** The name an imported scene gets: the one asked for, else the bundle's with " (imported)". */
export function importedSceneName(bundleName: string, asked?: string): string {
  if (asked !== undefined && asked.trim() !== "") return asked.trim();
  const suffix = " (imported)";
  return `${bundleName.slice(0, 200 - suffix.length).trimEnd()}${suffix}`;
}

/** What each asset of the bundle is used as: a map (a scene's map_asset), token art, or both. */
export function assetUses(bundle: SceneBundle): Map<string, Set<AssetKind>> {
  const uses = new Map<string, Set<AssetKind>>();
  const use = (hash: string, kind: AssetKind) => uses.set(hash, (uses.get(hash) ?? new Set<AssetKind>()).add(kind));
  if (bundle.scene.map_asset !== null) use(bundle.scene.map_asset, "map");
  for (const art of bundle.token_art) use(art.image_asset, "token");
  return uses;
}

export interface ImportOptions {
  /** The new scene's name (see `importedSceneName`); the bundle's otherwise. */
  sceneName?: string;
  /** The asset each bundle asset became here, by its use (token art is re-encoded, maps cleaned). */
  assetHash?: (bundleHash: string, kind: AssetKind) => string;
}

export interface NewEntity {
  entity_type: EntityType;
  id: string;
  data: Record<string, unknown>;
}

/**
 * What an import creates: every entity of the bundle under a new id, with only its writable
 * fields, references rewritten to the new ids, folders dropped (they belong to the source
 * session) and owners kept only when `keepOwner` says they are members here.
 */
export function entitiesToImport(
  registry: EntityRegistry,
  bundle: SceneBundle,
  newId: () => string,
  keepOwner: (userId: string) => boolean,
  options: ImportOptions = {},
): NewEntity[] {
  const asset = options.assetHash ?? ((hash: string) => hash);
  const ids = new Map<string, string>();
  const fresh = (old: string) => {
    const id = newId();
    ids.set(old, id);
    return id;
  };
  const sceneId = fresh(bundle.scene.id);
  // Module entities may name each other: every id is known before their references are rewritten.
  const moduleEntities = Object.entries(bundle.modules ?? {}).flatMap(([type, entities]) =>
    entities.map((e) => ({ type: type as EntityType, entity: e as AnyEntity, id: fresh(String(e.id)) })),
  );
  const created: NewEntity[] = [
    {
      entity_type: "scene",
      id: sceneId,
      data: {
        ...writableFields(registry, "scene", bundle.scene),
        folder_id: null,
        map_asset: bundle.scene.map_asset === null ? null : asset(bundle.scene.map_asset, "map"),
        ...(options.sceneName !== undefined ? { name: options.sceneName } : {}),
      },
    },
    ...bundle.layers.map(
      (l): NewEntity => ({ entity_type: "layer", id: fresh(l.id), data: { ...writableFields(registry, "layer", l), scene_id: sceneId } }),
    ),
    ...bundle.tokens.map(
      (t): NewEntity => ({
        entity_type: "token",
        id: fresh(t.id),
        data: {
          ...writableFields(registry, "token", t),
          scene_id: sceneId,
          folder_id: null,
          owner_user_ids: t.owner_user_ids.filter(keepOwner),
        },
      }),
    ),
    ...bundle.token_art.map(
      (a): NewEntity => ({
        entity_type: "token_art",
        id: fresh(a.id),
        data: { ...writableFields(registry, "token_art", a), token_id: ids.get(a.token_id), image_asset: asset(a.image_asset, "token") },
      }),
    ),
  ];
  for (const { type, entity, id } of moduleEntities) {
    const data: Record<string, unknown> = writableFields(registry, type, entity);
    // References to what the bundle holds follow it; to anything else (this session's entities
    // are not the source's) become null.
    let remapped = data;
    for (const ref of registry.moduleEntity(type)?.references ?? []) {
      remapped = mapValuesAt(remapped, ref.field, (old) => (typeof old === "string" ? (ids.get(old) ?? null) : old));
    }
    created.push({ entity_type: type, id, data: remapped });
  }
  return created;
}

/** An op of an import, as the session object receives it. */
export type ImportOp =
  | { op_id: string; entity_type: EntityType; op: "create"; id: string; data: Record<string, unknown> }
  | { op_id: string; entity_type: "scene"; op: "archive" | "restore"; id: string };

/**
 * The batches an import is committed in. Up to `chunkOps` entities: one batch, atomic. More: the
 * scene is created and archived in the first batch (so no one works on a half-made scene: it
 * is not in the scene list, players never see a scene that is not active), the rest follow
 * `chunkOps` at a time, and a last batch restores the scene, making it whole and visible in one
 * change. Op ids are drawn from `opId` in a fixed order, so ids derived from an idempotency key
 * name the same ops on every attempt.
 */
export function planImportChunks(entities: readonly NewEntity[], chunkOps: number, opId: () => string): ImportOp[][] {
  const creates: ImportOp[] = entities.map((e) => ({ op_id: opId(), op: "create", ...e }));
  const [scene] = entities;
  if (creates.length <= chunkOps || !scene || scene.entity_type !== "scene") return [creates];
  const archive: ImportOp = { op_id: opId(), entity_type: "scene", op: "archive", id: scene.id };
  const restore: ImportOp = { op_id: opId(), entity_type: "scene", op: "restore", id: scene.id };
  const size = Math.max(1, chunkOps);
  const first = [creates[0] as ImportOp, archive, ...creates.slice(1, Math.max(1, size - 1))];
  const chunks: ImportOp[][] = [first];
  for (let at = Math.max(1, size - 1); at < creates.length; at += size) chunks.push(creates.slice(at, at + size));
  chunks.push([restore]);
  return chunks;
}
