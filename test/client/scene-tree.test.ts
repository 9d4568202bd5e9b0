import { describe, expect, it } from "vitest";
import {
  buildSceneTree,
  effectiveParents,
  flattenFolders,
  folderAndDescendants,
  planFolderMove,
  planSceneMove,
} from "../../client/src/lib/scene-tree";
import { folder } from "./helpers/fake-gm";
import { scene } from "./helpers/fixtures";

const names = (list: { name: string }[]) => list.map((x) => x.name);

describe("buildSceneTree", () => {
  it("nests scene folders by parent and puts each scene in its folder, every level in manual order", () => {
    const tree = buildSceneTree(
      [
        folder("f1", 1, { name: "Act II", sort: 2 }),
        folder("f2", 1, { name: "Act I", sort: 1 }),
        folder("f3", 1, { name: "Dungeons", parent_id: "f2" }),
      ],
      [
        scene("s1", 1, { name: "Tavern", folder_id: "f2", sort: 2 }),
        scene("s2", 1, { name: "Road", folder_id: "f2", sort: 1 }),
        scene("s3", 1, { name: "Crypt", folder_id: "f3" }),
        scene("s4", 1, { name: "Loose" }),
      ],
    );
    expect(tree.folders.map((n) => n.folder.name)).toEqual(["Act I", "Act II"]);
    const actOne = tree.folders[0];
    expect(names(actOne?.scenes ?? [])).toEqual(["Road", "Tavern"]);
    expect(actOne?.folders.map((n) => [n.folder.name, n.depth])).toEqual([["Dungeons", 1]]);
    expect(names(actOne?.folders[0]?.scenes ?? [])).toEqual(["Crypt"]);
    expect(names(tree.scenes)).toEqual(["Loose"]);
    expect(flattenFolders(tree).map((n) => n.folder.name)).toEqual(["Act I", "Dungeons", "Act II"]);
  });

  it("shows folders and scenes whose parent is missing, archived or a token folder at the top level", () => {
    const tree = buildSceneTree(
      [
        folder("gone", 2, { archived_at: "2025-01-02T00:00:00.000Z" }),
        folder("tok", 1, { kind: "token", name: "Monsters" }),
        folder("f1", 1, { name: "Orphan", parent_id: "nowhere" }),
        folder("f2", 1, { name: "Under archived", parent_id: "gone" }),
        folder("f3", 1, { name: "Under token folder", parent_id: "tok" }),
      ],
      [
        scene("s1", 1, { name: "In archived folder", folder_id: "gone" }),
        scene("s2", 1, { name: "In unknown folder", folder_id: "nope" }),
        scene("s3", 1, { name: "In token folder", folder_id: "tok" }),
        scene("s4", 2, { name: "Archived scene", archived_at: "2025-01-02T00:00:00.000Z" }),
      ],
    );
    expect(tree.folders.map((n) => n.folder.name).sort()).toEqual(["Orphan", "Under archived", "Under token folder"]);
    expect(names(tree.scenes).sort()).toEqual(["In archived folder", "In token folder", "In unknown folder"]);
    expect(tree.byId.has("tok")).toBe(false);
  });

  it("cuts a cycle of parents at the folder with the smallest id and keeps every folder", () => {
    const tree = buildSceneTree(
      [
        folder("b", 1, { parent_id: "c" }),
        folder("c", 1, { parent_id: "a" }),
        folder("a", 1, { parent_id: "b" }),
        folder("self", 1, { parent_id: "self" }),
      ],
      [scene("s1", 1, { folder_id: "c" })],
    );
    expect(tree.folders.map((n) => n.folder.id)).toEqual(["a", "self"]);
    expect(tree.byId.get("a")?.folders.map((n) => n.folder.id)).toEqual(["c"]);
    expect(tree.byId.get("c")?.folders.map((n) => n.folder.id)).toEqual(["b"]);
    expect(tree.byId.get("c")?.scenes.map((s) => s.id)).toEqual(["s1"]);
    expect(tree.byId.size).toBe(4);
  });

  it("cuts a cycle reached from outside it without moving the folder that leads into it", () => {
    const parents = effectiveParents([
      folder("z", 1, { parent_id: "y" }),
      folder("y", 1, { parent_id: "x" }),
      folder("x", 1, { parent_id: "y" }),
    ]);
    expect(Object.fromEntries(parents)).toEqual({ z: "y", y: "x", x: null });
  });

  it("lists a folder with everything under it", () => {
    const tree = buildSceneTree([folder("a"), folder("b", 1, { parent_id: "a" }), folder("c", 1, { parent_id: "b" }), folder("d")], []);
    expect([...folderAndDescendants(tree, "a")].sort()).toEqual(["a", "b", "c"]);
  });
});

describe("planSceneMove and planFolderMove", () => {
  const folders = [folder("f1", 1, { sort: 1 }), folder("f2", 1, { sort: 2 }), folder("f3", 1, { parent_id: "f1" })];
  const scenes = [
    scene("s1", 1, { sort: 1, folder_id: "f1" }),
    scene("s2", 1, { sort: 2, folder_id: "f1" }),
    scene("s3", 1, { sort: 3, folder_id: "f1" }),
    scene("s4", 1, { sort: 1, folder_id: "f2" }),
  ];
  const tree = buildSceneTree(folders, scenes);
  const byId = (id: string) => scenes.find((s) => s.id === id) ?? scene(id);

  it("reorders a scene in its folder with one update of its sort", () => {
    expect(planSceneMove(tree, byId("s3"), "f1", { id: "s1", position: "after" })).toEqual([{ id: "s3", patch: { sort: 1.5 } }]);
  });

  it("moves a scene into another folder with one update of its sort and folder", () => {
    expect(planSceneMove(tree, byId("s1"), "f2", null)).toEqual([{ id: "s1", patch: { sort: 2, folder_id: "f2" } }]);
    expect(planSceneMove(tree, byId("s4"), "f1", { id: "s2", position: "before" })).toEqual([
      { id: "s4", patch: { sort: 1.5, folder_id: "f1" } },
    ]);
    expect(planSceneMove(tree, byId("s4"), null, null)).toEqual([{ id: "s4", patch: { sort: 0, folder_id: null } }]);
  });

  it("refuses a move into a folder that is not in the tree", () => {
    expect(planSceneMove(tree, byId("s1"), "nope", null)).toEqual([]);
  });

  it("moves a folder beside another or inside one, never inside itself or its own subfolder", () => {
    const f1 = folders[0] ?? folder("f1");
    const f2 = folders[1] ?? folder("f2");
    expect(planFolderMove(tree, f2, null, { id: "f1", position: "before" })).toEqual([{ id: "f2", patch: { sort: 0 } }]);
    expect(planFolderMove(tree, f2, "f1", null)).toEqual([{ id: "f2", patch: { sort: 1, parent_id: "f1" } }]);
    expect(planFolderMove(tree, f1, "f3", null)).toEqual([]);
    expect(planFolderMove(tree, f1, "f1", null)).toEqual([]);
  });
});
