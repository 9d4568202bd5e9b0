import { describe, expect, it } from "vitest";
import type { AnyEntity, EntityType } from "../../domain/entities";
import { planArchive, planCreate, planUpdate } from "../../domain/ops";
import { canWrite } from "../../domain/permissions";
import { referencesOf } from "../../domain/references";
import { isVisibleToPlayer, type PlayerView, projectForPlayer } from "../../domain/visibility";
import { registry } from "../helpers/registry";

const gm = { userId: "gm1", role: "gm" as const };
const player = { userId: "p1", role: "player" as const };
const now = "2026-01-01T00:00:00.000Z";

function entity(fields: Record<string, unknown>): AnyEntity {
  return { id: "e1", version: 1, created_at: now, updated_at: now, updated_by: "gm1", archived_at: null, ...fields };
}

describe("planCreate", () => {
  it("fills the defaults of a token and records its creator", () => {
    const r = planCreate(registry, "token", "t1", { name: "Orc" }, gm, now);
    expect(r).toMatchObject({
      ok: true,
      entity: { id: "t1", version: 1, name: "Orc", x: 0, y: 0, hidden: false, owner_user_ids: [], created_by: "gm1" },
    });
  });

  it("refuses unknown fields with the field named", () => {
    const r = planCreate(registry, "scene", "s1", { name: "A", colour: "red" }, gm, now);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(JSON.stringify(r.details)).toContain("colour");
  });

  it("refuses a player", () => {
    expect(planCreate(registry, "scene", "s1", { name: "A" }, player, now)).toMatchObject({ ok: false, code: "forbidden" });
  });

  it("refuses a second session state", () => {
    expect(planCreate(registry, "session_state", "x", {}, gm, now)).toMatchObject({ ok: false, code: "bad_request" });
  });
});

describe("planUpdate", () => {
  const token = entity({
    name: "Orc",
    scene_id: "s1",
    stats: { hp: 7, ac: 12 },
    owner_user_ids: ["p1"],
    x: 0,
    y: 0,
    rotation: 0,
    width: 1,
    height: 1,
    hidden: false,
    stamina: null,
    school: null,
    folder_id: null,
    created_by: "gm1",
  });

  it("applies a merge patch, bumps the version and records the author", () => {
    const r = planUpdate(registry, "token", token, { x: 3, stats: { hp: null, mp: 2 } }, gm, "later");
    expect(r).toMatchObject({ ok: true, entity: { x: 3, stats: { ac: 12, mp: 2 }, version: 2, updated_at: "later" } });
  });

  it("resets a nullable field to null and a defaulted field to its default on null", () => {
    const r = planUpdate(registry, "token", { ...token, school: "fire", width: 3 }, { school: null, width: null }, gm, now);
    expect(r).toMatchObject({ ok: true, entity: { school: null, width: 1 } });
  });

  it("refuses null for a required field", () => {
    expect(planUpdate(registry, "token", token, { name: null }, gm, now)).toMatchObject({ ok: false, code: "bad_request" });
  });

  it.each(["id", "version", "created_by", "updated_by", "archived_at"])("refuses to write the server field %s", (field) => {
    expect(planUpdate(registry, "token", token, { [field]: "x" }, gm, now)).toMatchObject({ ok: false, code: "bad_request" });
  });

  it("lets an owning player move and rotate a token", () => {
    expect(planUpdate(registry, "token", token, { x: 1, y: 2, rotation: 90 }, player, now)).toMatchObject({ ok: true });
  });

  it.each([
    ["rename it", { name: "Mine" }],
    ["move and rename it", { x: 1, name: "Mine" }],
    ["hide it", { hidden: true }],
  ])("does not let a player %s", (_what, patch) => {
    expect(planUpdate(registry, "token", token, patch, player, now)).toMatchObject({ ok: false, code: "forbidden" });
  });

  it("does not let a player move a token they do not own", () => {
    expect(planUpdate(registry, "token", { ...token, owner_user_ids: ["p2"] }, { x: 1 }, player, now)).toMatchObject({
      ok: false,
      code: "forbidden",
    });
  });
});

describe("planArchive", () => {
  it("sets archived_at and bumps the version, and restore clears it", () => {
    const scene = entity({ name: "A" });
    const archived = planArchive(registry, "scene", scene, "archive", gm, "t2");
    expect(archived).toMatchObject({ ok: true, entity: { archived_at: "t2", version: 2 } });
    if (!archived.ok) return;
    expect(planArchive(registry, "scene", archived.entity, "restore", gm, "t3")).toMatchObject({
      ok: true,
      entity: { archived_at: null, version: 3 },
    });
  });
});

describe("canWrite", () => {
  it.each([
    ["gm", "scene", "create", true],
    ["gm", "token", "archive", true],
    ["player", "scene", "create", false],
    ["player", "token", "archive", false],
    ["player", "session_state", "activate", false],
  ] as const)("%s may %s… a %s: %s", (role, type, kind, allowed) => {
    expect(canWrite(registry, { userId: "u", role }, type, kind)).toBe(allowed);
  });
});

describe("the player filter", () => {
  const view: PlayerView = { activeSceneId: "s1", visibleTokenIds: new Set(["t1"]) };
  const cases: [string, EntityType, Record<string, unknown>, boolean][] = [
    ["the active scene", "scene", { id: "s1" }, true],
    ["another scene", "scene", { id: "s2" }, false],
    ["a visible token on the active scene", "token", { scene_id: "s1", hidden: false }, true],
    ["a hidden token on the active scene", "token", { scene_id: "s1", hidden: true }, false],
    ["a token on another scene", "token", { scene_id: "s2", hidden: false }, false],
    ["a library token", "token", { scene_id: null, hidden: false }, false],
    ["an archived token", "token", { scene_id: "s1", hidden: false, archived_at: now }, false],
    ["a drawings layer of the active scene", "layer", { scene_id: "s1", layer_type: "drawings" }, true],
    ["the fog layer of the active scene", "layer", { scene_id: "s1", layer_type: "fog" }, true],
    ["the notes layer of the active scene", "layer", { scene_id: "s1", layer_type: "notes" }, false],
    ["a layer of another scene", "layer", { scene_id: "s2", layer_type: "map" }, false],
    ["art of a visible token", "token_art", { token_id: "t1" }, true],
    ["art of another token", "token_art", { token_id: "t9" }, false],
    ["a folder", "folder", { kind: "scene" }, false],
    ["the session state", "session_state", {}, true],
  ];

  it.each(cases)("decides on %s", (_what, type, fields, visible) => {
    expect(isVisibleToPlayer(registry, type, entity(fields), view)).toBe(visible);
  });

  it("shows nothing but the session state when no scene is active", () => {
    const none: PlayerView = { activeSceneId: null, visibleTokenIds: new Set() };
    expect(isVisibleToPlayer(registry, "scene", entity({ id: "s1" }), none)).toBe(false);
    expect(isVisibleToPlayer(registry, "session_state", entity({}), none)).toBe(true);
  });

  it("removes GM notes from what a player receives", () => {
    const scene = projectForPlayer(registry, "scene", entity({ metadata: { gm_notes: "the butler did it", mood: "dark" } }));
    expect(scene.metadata).toEqual({ mood: "dark" });
    const token = projectForPlayer(registry, "token", entity({ stats: { gm_notes: "secretly a dragon", hp: 3 } }));
    expect(token.stats).toEqual({ hp: 3 });
  });
});

describe("referencesOf", () => {
  it("lists what a token names", () => {
    expect(referencesOf(registry, "token", entity({ scene_id: "s1", folder_id: "f1" }))).toEqual([
      { field: "scene_id", target: "entity", type: "scene", id: "s1" },
      { field: "folder_id", target: "entity", type: "folder", id: "f1", folderKind: "token" },
    ]);
  });

  it("lists only changed references on an update", () => {
    const before = entity({ scene_id: "s1", folder_id: "f1" });
    expect(referencesOf(registry, "token", { ...before, folder_id: "f2" }, before)).toEqual([
      { field: "folder_id", target: "entity", type: "folder", id: "f2", folderKind: "token" },
    ]);
  });
});
