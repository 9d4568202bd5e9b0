import { describe, expect, it } from "vitest";
import { z } from "zod";
import { coreEntities } from "../../domain/core-entities";
import { type AnyEntity, coreEntityPaths, coreEntityTypes } from "../../domain/entities";
import { defineEntity, defineModule, type ModuleDefinition } from "../../domain/module-api";
import { opSchemasFor, planCreate, planUpdate } from "../../domain/ops";
import { canWrite } from "../../domain/permissions";
import { referencesOf } from "../../domain/references";
import { createEntityRegistry, homeOf } from "../../domain/registry";
import { isVisibleToPlayer, type PlayerView, projectForPlayer } from "../../domain/visibility";
import { modules } from "../../modules/registry";

const now = "2026-01-01T00:00:00.000Z";
const player = { userId: "p1", role: "player" as const };
const view: PlayerView = { activeSceneId: "s1", visibleTokenIds: new Set(["t1"]) };

function entity(fields: Record<string, unknown>): AnyEntity {
  return { id: "e1", version: 1, created_at: now, updated_at: now, updated_by: "gm1", archived_at: null, ...fields };
}

/** A module of the tests' own: a note on a token, which its owner may tick and players see without its secret. */
const noteModule = defineModule({
  name: "notes",
  entities: [
    defineEntity({
      type: "sticky_note",
      path: "sticky-notes",
      fields: z.strictObject({
        token_id: z.string(),
        text: z.string().default(""),
        secret: z.string().default(""),
        done: z.boolean().default(false),
      }),
      references: [{ field: "token_id", type: "token", mustBeLive: true }],
      scene: { field: "token_id", via: "token" },
      visibleToPlayer: (note, v) => typeof note.token_id === "string" && v.visibleTokenIds.has(note.token_id),
      projectForPlayer: (note) => ({ ...note, secret: "" }),
      playerMayUpdate: (_actor, _note, keys) => keys.every((k) => k === "done"),
    }),
  ],
});

function moduleWith(...entities: Parameters<typeof defineEntity>[0][]): ModuleDefinition {
  return { name: "extra", entities };
}
const fields = z.strictObject({ name: z.string() });

describe("createEntityRegistry", () => {
  it("knows the core's six types alone when built without modules", () => {
    const core = createEntityRegistry([]);
    expect(core.types).toEqual([...coreEntityTypes]);
    expect(core.moduleTypes).toEqual([]);
    expect(core.paths).toEqual(coreEntityPaths);
    expect(core.tokenCovers).toEqual([]);
    expect(core.entityTypeSchema.safeParse("encounter").success).toBe(false);
    expect(core.entityTypeSchema.safeParse("token").success).toBe(true);
  });

  it("declares the core's types through the module seam, stored in their own tables", () => {
    const core = createEntityRegistry([]);
    expect(coreEntities.map((d) => d.type)).toEqual([...coreEntityTypes]);
    for (const type of coreEntityTypes) {
      expect(core.definition(type)).toMatchObject({ type, path: coreEntityPaths[type], storage: "core" });
      expect(core.moduleEntity(type)).toBeUndefined();
    }
  });

  it("adds the modules' types after the core's, in registry order", () => {
    const registry = createEntityRegistry(modules);
    const declared = modules.flatMap((m) => m.entities.map((e) => e.type));
    expect(registry.types).toEqual([...coreEntityTypes, ...declared]);
    expect(registry.moduleTypes).toEqual(declared);
    for (const type of declared) {
      expect(registry.moduleEntity(type)).toBe(registry.definition(type));
      expect(registry.typeForPath(registry.paths[type] ?? "")).toBe(type);
      expect(registry.entityTypeSchema.safeParse(type).success).toBe(true);
    }
    expect(registry.coversTokens("fog")).toBe(true);
    expect(registry.coversTokens("token")).toBe(false);
  });

  it.each([
    ["a core type's name", moduleWith(defineEntity({ type: "token", path: "my-tokens", fields }))],
    ["a malformed name", moduleWith(defineEntity({ type: "Sticky Note", path: "sticky", fields }))],
    [
      "a name twice",
      moduleWith(defineEntity({ type: "pin", path: "pins", fields }), defineEntity({ type: "pin", path: "pins-2", fields })),
    ],
    ["core storage", moduleWith(defineEntity({ type: "pin", path: "pins", fields, storage: "core" }))],
  ])("refuses a module type with %s", (_what, module) => {
    expect(() => createEntityRegistry([module])).toThrow(/taken or malformed/);
  });

  it("refuses two types on one URL path", () => {
    expect(() => createEntityRegistry([moduleWith(defineEntity({ type: "pin", path: "tokens", fields }))])).toThrow(/share a URL path/);
  });

  it("validates the batch body against its own types", () => {
    const op = { op_id: "7d0c1d4e-4b6f-4a39-9a3e-2f9f1f1b1c1d", op: "create", entity_type: "sticky_note", data: {} };
    expect(opSchemasFor(createEntityRegistry([noteModule])).batchSchema.safeParse({ ops: [op] }).success).toBe(true);
    expect(opSchemasFor(createEntityRegistry([])).batchSchema.safeParse({ ops: [op] }).success).toBe(false);
  });
});

describe("the rules read the registry passed in", () => {
  const registry = createEntityRegistry([noteModule]);
  const note = entity({ token_id: "t1", text: "hi", secret: "a trap", done: false });

  it("validates and fills a module type's fields", () => {
    expect(planCreate(registry, "sticky_note", "n1", { token_id: "t1" }, { userId: "gm1", role: "gm" }, now)).toMatchObject({
      ok: true,
      entity: { id: "n1", text: "", done: false },
    });
    expect(() => planCreate(createEntityRegistry([]), "sticky_note", "n1", { token_id: "t1" }, { userId: "gm1", role: "gm" }, now)).toThrow(
      /unknown entity type/,
    );
  });

  it("shows players what the type's rule allows, as its projection", () => {
    expect(isVisibleToPlayer(registry, "sticky_note", note, view)).toBe(true);
    expect(isVisibleToPlayer(registry, "sticky_note", { ...note, token_id: "t9" }, view)).toBe(false);
    expect(isVisibleToPlayer(registry, "sticky_note", { ...note, archived_at: now }, view)).toBe(false);
    expect(projectForPlayer(registry, "sticky_note", note, view)).toMatchObject({ text: "hi", secret: "" });
    // A registry without the module knows no rule: players see none of it.
    expect(isVisibleToPlayer(createEntityRegistry([]), "sticky_note", note, view)).toBe(false);
  });

  it("lets a player write what the type's playerMayUpdate allows", () => {
    expect(canWrite(registry, player, "sticky_note", "update", note, ["done"])).toBe(true);
    expect(canWrite(registry, player, "sticky_note", "update", note, ["text"])).toBe(false);
    expect(canWrite(registry, player, "sticky_note", "create")).toBe(false);
    expect(planUpdate(registry, "sticky_note", note, { done: true }, player, now)).toMatchObject({
      ok: true,
      entity: { done: true, version: 2 },
    });
  });

  it("takes references from the declaration, core types' included", () => {
    expect(referencesOf(registry, "sticky_note", note)).toEqual([
      { field: "token_id", target: "entity", type: "token", id: "t1", mustBeLive: true },
    ]);
    expect(referencesOf(registry, "folder", entity({ kind: "token", parent_id: "f1" }))).toEqual([
      { field: "parent_id", target: "entity", type: "folder", id: "f1", folderKind: "token" },
    ]);
    expect(referencesOf(registry, "scene", entity({ folder_id: null, map_asset: "a".repeat(64) }))).toEqual([
      { field: "map_asset", target: "asset", hash: "a".repeat(64) },
    ]);
  });

  it("tells where an entity lives", () => {
    expect(homeOf(registry, "sticky_note", note)).toEqual({ tokenId: "t1" });
    expect(homeOf(registry, "scene", entity({ id: "s1" }))).toEqual({ sceneId: "s1" });
    expect(homeOf(registry, "layer", entity({ scene_id: "s2" }))).toEqual({ sceneId: "s2" });
    expect(homeOf(registry, "token_art", entity({ token_id: "t1" }))).toEqual({ tokenId: "t1" });
    expect(homeOf(registry, "token", entity({ scene_id: null }))).toBeNull();
    expect(homeOf(registry, "folder", entity({ kind: "scene" }))).toBeNull();
    expect(homeOf(registry, "session_state", entity({}))).toBeNull();
  });
});
