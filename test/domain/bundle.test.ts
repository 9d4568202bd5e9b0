import { describe, expect, it } from "vitest";
import { BUNDLE_FORMAT, entitiesToImport, isAllowedEntryName, type SceneBundle } from "../../domain/bundle";
import { registry } from "../helpers/registry";

const meta = { version: 3, created_at: "t", updated_at: "t", updated_by: "u", archived_at: null };
const HASH = "a".repeat(64);
const bundle = {
  format: BUNDLE_FORMAT,
  exported_at: "t",
  scene: {
    id: "s",
    ...meta,
    name: "Crypt",
    description: "",
    map_asset: HASH,
    grid_scale: 5,
    grid_units: "ft",
    accent_color: null,
    folder_id: "f",
    sort: 0,
    metadata: {},
  },
  layers: [{ id: "l", ...meta, scene_id: "s", layer_type: "fog", payload: { mask: 1 }, z_index: 0 }],
  tokens: [
    {
      id: "t",
      ...meta,
      scene_id: "s",
      name: "Hero",
      folder_id: "f2",
      stats: {},
      width: 1,
      height: 1,
      x: 2,
      y: 3,
      rotation: 0,
      hidden: false,
      stamina: null,
      school: null,
      owner_user_ids: ["member", "stranger"],
      created_by: "someone",
    },
  ],
  token_art: [
    {
      id: "a",
      ...meta,
      token_id: "t",
      image_asset: HASH,
      crop: { scale: 1, translate_x: 0, translate_y: 0, stage_size: 512, base_scale: 1 },
    },
  ],
  assets: [],
} as unknown as SceneBundle;

describe("entitiesToImport", () => {
  const ids = ["S1", "L1", "T1", "A1"];
  const made = entitiesToImport(
    registry,
    bundle,
    () => ids.shift() as string,
    (u) => u === "member",
  );

  it("gives every entity a new id and rewrites references to them", () => {
    expect(made.map((e) => [e.entity_type, e.id])).toEqual([
      ["scene", "S1"],
      ["layer", "L1"],
      ["token", "T1"],
      ["token_art", "A1"],
    ]);
    expect(made[1]?.data.scene_id).toBe("S1");
    expect(made[2]?.data.scene_id).toBe("S1");
    expect(made[3]?.data.token_id).toBe("T1");
  });

  it("keeps only writable fields, drops folders and owners who are not members", () => {
    for (const e of made)
      for (const k of ["id", "version", "created_at", "updated_by", "archived_at", "created_by"]) expect(e.data).not.toHaveProperty(k);
    expect(made[0]?.data).toMatchObject({ name: "Crypt", map_asset: HASH, folder_id: null });
    expect(made[2]?.data).toMatchObject({ name: "Hero", x: 2, y: 3, folder_id: null, owner_user_ids: ["member"] });
  });
});

describe("isAllowedEntryName", () => {
  it.each([
    ["scene.json", true],
    ["manifest.json", true],
    [`assets/${HASH}.png`, true],
    [`assets/${HASH}.jpg`, true],
    [`assets/${HASH}.svg`, false],
    ["../scene.json", false],
    ["/scene.json", false],
    [`assets/../${HASH}.png`, false],
    [`assets\\${HASH}.png`, false],
    ["other.json", false],
  ])("%s: %s", (name, allowed) => {
    expect(isAllowedEntryName(name)).toBe(allowed);
  });
});
