import { describe, expect, it, vi } from "vitest";
import { type OpDraft, type OpSink, queueOps } from "../../client/src/lib/authoring";
import {
  buildLibraryTree,
  createFolderOp,
  dropCell,
  flattenFolders,
  folderSubtree,
  libraryDropOps,
  newTokenOps,
} from "../../client/src/lib/library";
import type { Folder, TokenArt } from "../../client/src/lib/types";
import { token } from "./helpers/fixtures";

const T0 = "2025-01-01T00:00:00.000Z";
function folder(id: string, fields: Partial<Folder> = {}): Folder {
  return {
    id,
    version: 1,
    created_at: T0,
    updated_at: T0,
    updated_by: "u-gm",
    archived_at: null,
    name: `Folder ${id}`,
    kind: "token",
    parent_id: null,
    sort: 0,
    ...fields,
  };
}
function art(id: string, tokenId: string): TokenArt {
  return {
    id,
    version: 2,
    created_at: T0,
    updated_at: T0,
    updated_by: "u-gm",
    archived_at: null,
    token_id: tokenId,
    image_asset: "c".repeat(64),
    crop: { scale: 1.5, translate_x: 12, translate_y: -4, stage_size: 256, base_scale: 2 },
  };
}
const ids = (prefix: string) => {
  let n = 0;
  return () => `${prefix}-${++n}`;
};

describe("library tree", () => {
  it("nests token folders by parent, ordered by sort then name, with their library tokens", () => {
    const tree = buildLibraryTree(
      [
        folder("f-undead", { name: "Undead", sort: 1 }),
        folder("f-beasts", { name: "Beasts", sort: 0 }),
        folder("f-ghouls", { name: "Ghouls", parent_id: "f-undead" }),
        folder("f-scenes", { name: "Dungeons", kind: "scene" }),
        folder("f-old", { name: "Old", archived_at: T0 }),
      ],
      [
        token("t-wolf", 1, { name: "Wolf", scene_id: null, folder_id: "f-beasts" }),
        token("t-ghoul", 1, { name: "Ghoul", scene_id: null, folder_id: "f-ghouls" }),
        token("t-bat", 1, { name: "bat", scene_id: null, folder_id: "f-beasts" }),
        token("t-loose", 1, { name: "Loose", scene_id: null, folder_id: "f-old" }),
        token("t-on-scene", 1, { name: "On scene", scene_id: "s1", folder_id: "f-beasts" }),
        token("t-gone", 1, { name: "Gone", scene_id: null, archived_at: T0 }),
      ],
    );
    expect(tree.folders.map((n) => n.folder.name)).toEqual(["Beasts", "Undead"]);
    expect(tree.folders[0]?.tokens.map((t) => t.name)).toEqual(["bat", "Wolf"]);
    expect(tree.folders[1]?.children.map((n) => n.folder.name)).toEqual(["Ghouls"]);
    expect(tree.folders[1]?.children[0]?.tokens.map((t) => t.id)).toEqual(["t-ghoul"]);
    // A token whose folder was archived is unfiled; scene tokens and archived ones are not in the library.
    expect(tree.tokens.map((t) => t.id)).toEqual(["t-loose"]);
    expect(flattenFolders(tree).map(({ folder: f, depth }) => [f.name, depth])).toEqual([
      ["Beasts", 0],
      ["Undead", 0],
      ["Ghouls", 1],
    ]);
  });

  it("puts folders whose parent is missing or whose parents loop at the top", () => {
    const tree = buildLibraryTree(
      [
        folder("a", { name: "A", parent_id: "b" }),
        folder("b", { name: "B", parent_id: "a" }),
        folder("c", { name: "C", parent_id: "nowhere" }),
      ],
      [],
    );
    expect(tree.folders.map((n) => n.folder.id).sort()).toEqual(["a", "b", "c"]);
  });

  it("knows the folders under a folder (where it may not move)", () => {
    const tree = buildLibraryTree([folder("a"), folder("b", { parent_id: "a" }), folder("c", { parent_id: "b" }), folder("d")], []);
    expect([...folderSubtree(tree, "a")].sort()).toEqual(["a", "b", "c"]);
  });

  it("creates a folder of kind token after its siblings", () => {
    const op = createFolderOp("f-new", "Dragons", "f-parent", [
      folder("x", { parent_id: "f-parent", sort: 4 }),
      folder("y", { parent_id: null, sort: 9 }),
    ]);
    expect(op).toEqual({
      op: "create",
      type: "folder",
      id: "f-new",
      data: { name: "Dragons", kind: "token", parent_id: "f-parent", sort: 5 },
    });
  });
});

describe("dropping a library token on a scene", () => {
  const source = token("t-lib", 3, {
    name: "Skeleton",
    scene_id: null,
    folder_id: "f-undead",
    stats: { hp: 13, gm_notes: "weak to blunt" },
    width: 2,
    height: 1,
    rotation: 45,
    stamina: 7,
    school: "necromancy",
    owner_user_ids: ["u-ann"],
    x: 999,
    y: 999,
  });

  it("creates a new token on the scene at the drop cell, a copy of the library token's fields", () => {
    const [create] = libraryDropOps(source, undefined, { sceneId: "s1", x: 192, y: 64 }, ids("new"));
    expect(create).toEqual({
      op: "create",
      type: "token",
      id: "new-1",
      data: {
        name: "Skeleton",
        scene_id: "s1",
        folder_id: null,
        stats: { hp: 13, gm_notes: "weak to blunt" },
        width: 2,
        height: 1,
        x: 192,
        y: 64,
        rotation: 45,
        hidden: false,
        stamina: 7,
        school: "necromancy",
        owner_user_ids: ["u-ann"],
      },
    });
  });

  it("copies the art with a new id, pointing at the new token, same image and crop", () => {
    const drafts = libraryDropOps(source, art("a-lib", "t-lib"), { sceneId: "s1", x: 0, y: 0 }, ids("new"));
    expect(drafts.map((d) => [d.op, d.type, d.id])).toEqual([
      ["create", "token", "new-1"],
      ["create", "token_art", "new-2"],
    ]);
    expect(drafts[1]).toMatchObject({
      data: {
        token_id: "new-1",
        image_asset: "c".repeat(64),
        crop: { scale: 1.5, translate_x: 12, translate_y: -4, stage_size: 256, base_scale: 2 },
      },
    });
  });

  it("shares no objects with the library token (editing the copy leaves the template alone)", () => {
    const [create] = libraryDropOps(source, undefined, { sceneId: "s1", x: 0, y: 0 }, ids("new"));
    const data = create?.op === "create" ? create.data : {};
    expect(data.stats).not.toBe(source.stats);
    expect(data.owner_user_ids).not.toBe(source.owner_user_ids);
  });

  it("snaps the drop point to the top-left of its grid cell", () => {
    expect(dropCell(130, 63.9, 64)).toEqual({ x: 128, y: 0 });
    expect(dropCell(-5, 64, 64)).toEqual({ x: 0, y: 64 });
  });

  it("queues the token before its art, both entering the queue at once", async () => {
    const calls: string[] = [];
    let release: () => void = () => undefined;
    const persisted = new Promise<void>((resolve) => {
      release = resolve;
    });
    const sink: OpSink = {
      create: vi.fn(async (type, _data, id) => {
        calls.push(`create ${type} ${id}`);
        await persisted;
      }),
      update: vi.fn(async () => undefined),
      archive: vi.fn(async () => undefined),
    };
    const done = queueOps(sink, libraryDropOps(source, art("a-lib", "t-lib"), { sceneId: "s1", x: 0, y: 0 }, ids("new")));
    // Both ops are in the queue before the first one is persisted.
    expect(calls).toEqual(["create token new-1", "create token_art new-2"]);
    release();
    await done;
  });
});

describe("a new token", () => {
  it("in the library keeps its folder and gets its art with the crop from the tool", () => {
    const crop = { scale: 2, translate_x: 10, translate_y: 0, stage_size: 256, base_scale: 1 };
    const drafts: OpDraft[] = newTokenOps(
      { name: "Lich", sceneId: null, folderId: "f-undead", x: 64, y: 64, art: { hash: "d".repeat(64), crop } },
      ids("n"),
    );
    expect(drafts).toEqual([
      {
        op: "create",
        type: "token",
        id: "n-1",
        data: {
          name: "Lich",
          scene_id: null,
          folder_id: "f-undead",
          x: 64,
          y: 64,
          width: 1,
          height: 1,
          rotation: 0,
          hidden: false,
          owner_user_ids: [],
        },
      },
      { op: "create", type: "token_art", id: "n-2", data: { token_id: "n-1", image_asset: "d".repeat(64), crop } },
    ]);
  });

  it("on a scene is in no folder and has no art unless one was uploaded", () => {
    const drafts = newTokenOps({ name: "Rat", sceneId: "s1", folderId: "f-x", x: 0, y: 0, art: null }, ids("n"));
    expect(drafts).toHaveLength(1);
    expect(drafts[0]).toMatchObject({ data: { scene_id: "s1", folder_id: null } });
  });
});
