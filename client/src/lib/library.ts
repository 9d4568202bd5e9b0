/**
 * The token library: tokens without a scene (`scene_id: null`), filed in folders of kind
 * `token` (nested by `parent_id`). A library token is a template: dropping it on a scene creates a
 * new token there with a copy of its fields and of its art.
 */
import { cellAt, cellOrigin, type Grid, gridOf, snapToCell } from "../../../domain/grid";
import type { JsonObject } from "../../../domain/merge-patch";
import { type OpDraft, plain } from "./authoring";
import type { Crop } from "./crop";
import type { Folder, Token, TokenArt } from "./types";

export interface FolderNode {
  folder: Folder;
  children: FolderNode[];
  tokens: Token[];
}

export interface LibraryTree {
  folders: FolderNode[];
  /** Library tokens in no folder (or in one that is gone). */
  tokens: Token[];
}

const byName = (a: { name: string; id: string }, b: { name: string; id: string }) =>
  a.name.localeCompare(b.name, undefined, { sensitivity: "base" }) || a.id.localeCompare(b.id);
const bySortThenName = (a: Folder, b: Folder) => a.sort - b.sort || byName(a, b);

/** The live token folders (not archived, of kind `token`). */
export function tokenFolders(folders: Iterable<Folder>): Folder[] {
  return [...folders].filter((f) => f.kind === "token" && f.archived_at === null);
}

/** The live library tokens. */
export function libraryTokens(tokens: Iterable<Token>): Token[] {
  return [...tokens].filter((t) => t.scene_id === null && t.archived_at === null);
}

/**
 * The library as a tree. A folder whose parent is missing (archived, or not loaded) or whose
 * parents loop back to it sits at the top; a token whose folder is missing is unfiled. Folders are
 * ordered by `sort`, then name; tokens by name.
 */
export function buildLibraryTree(folders: Iterable<Folder>, tokens: Iterable<Token>): LibraryTree {
  const live = tokenFolders(folders);
  const byId = new Map(live.map((f) => [f.id, f]));
  const nodes = new Map<string, FolderNode>(live.map((f) => [f.id, { folder: f, children: [], tokens: [] }]));
  const roots: FolderNode[] = [];

  for (const folder of live) {
    const node = nodes.get(folder.id);
    if (!node) continue;
    const parent = folder.parent_id !== null ? nodes.get(folder.parent_id) : undefined;
    if (parent && !reachesItself(folder.id, folder.parent_id, byId)) parent.children.push(node);
    else roots.push(node);
  }
  const unfiled: Token[] = [];
  for (const token of libraryTokens(tokens)) {
    const node = token.folder_id !== null ? nodes.get(token.folder_id) : undefined;
    (node ? node.tokens : unfiled).push(token);
  }
  const order = (list: FolderNode[]) => {
    list.sort((a, b) => bySortThenName(a.folder, b.folder));
    for (const node of list) {
      node.tokens.sort(byName);
      order(node.children);
    }
  };
  order(roots);
  return { folders: roots, tokens: unfiled.sort(byName) };
}

/** True when walking up from `parentId` comes back to `id` (a cycle of parents). */
function reachesItself(id: string, parentId: string | null, byId: Map<string, Folder>): boolean {
  const seen = new Set<string>();
  let current = parentId;
  while (current !== null && !seen.has(current)) {
    if (current === id) return true;
    seen.add(current);
    current = byId.get(current)?.parent_id ?? null;
  }
  return false;
}

/** The tree as a list, depth first, for a `<select>` of folders. */
export function flattenFolders(tree: LibraryTree): { folder: Folder; depth: number }[] {
  const out: { folder: Folder; depth: number }[] = [];
  const walk = (list: FolderNode[], depth: number) => {
    for (const node of list) {
      out.push({ folder: node.folder, depth });
      walk(node.children, depth + 1);
    }
  };
  walk(tree.folders, 0);
  return out;
}

/** Ids of a folder and of every folder under it (a folder cannot move under itself). */
export function folderSubtree(tree: LibraryTree, folderId: string): Set<string> {
  const out = new Set<string>();
  const find = (list: FolderNode[]): FolderNode | undefined => {
    for (const node of list) {
      if (node.folder.id === folderId) return node;
      const found = find(node.children);
      if (found) return found;
    }
    return undefined;
  };
  const collect = (node: FolderNode) => {
    out.add(node.folder.id);
    for (const child of node.children) collect(child);
  };
  const root = find(tree.folders);
  if (root) collect(root);
  return out;
}

/** A new token folder, placed after its siblings. */
export function createFolderOp(id: string, name: string, parentId: string | null, folders: Iterable<Folder>): OpDraft {
  const siblings = tokenFolders(folders).filter((f) => f.parent_id === parentId);
  const sort = siblings.reduce((max, f) => Math.max(max, f.sort + 1), 0);
  return { op: "create", type: "folder", id, data: { name, kind: "token", parent_id: parentId, sort } };
}

/** The fields a token copy takes from its source (everything a client writes but the placement). */
export function tokenCopyFields(source: Token): JsonObject {
  return plain({
    name: source.name,
    stats: source.stats ?? {},
    width: source.width ?? 1,
    height: source.height ?? 1,
    rotation: source.rotation ?? 0,
    hidden: source.hidden ?? false,
    stamina: source.stamina ?? null,
    school: source.school ?? null,
    owner_user_ids: source.owner_user_ids ?? [],
  }) as JsonObject;
}

/**
 * Dropping a library token on a scene: a new token (new id) on `sceneId` at (x, y) with a copy of
 * the library token's fields, outside any folder, then a copy of its art (new id) pointing at the
 * new token. Creates in this order: the art names a token that exists by the time it is applied.
 */
export function libraryDropOps(
  source: Token,
  art: TokenArt | undefined,
  target: { sceneId: string; x: number; y: number },
  newId: () => string,
): OpDraft[] {
  const tokenId = newId();
  const drafts: OpDraft[] = [
    {
      op: "create",
      type: "token",
      id: tokenId,
      data: { ...tokenCopyFields(source), scene_id: target.sceneId, folder_id: null, x: target.x, y: target.y },
    },
  ];
  if (art) drafts.push(artCreateOp(newId(), tokenId, art.image_asset, art.crop));
  return drafts;
}

export interface NewToken {
  name: string;
  sceneId: string | null;
  folderId: string | null;
  x: number;
  y: number;
  art: { hash: string; crop: Crop } | null;
}

/** A new token (on a scene or in the library), and its art when one was uploaded. */
export function newTokenOps(input: NewToken, newId: () => string): OpDraft[] {
  const tokenId = newId();
  // The schema's defaults spelled out, so the token draws fully before the server confirms it.
  const drafts: OpDraft[] = [
    {
      op: "create",
      type: "token",
      id: tokenId,
      data: {
        name: input.name,
        scene_id: input.sceneId,
        folder_id: input.sceneId === null ? input.folderId : null,
        x: input.x,
        y: input.y,
        width: 1,
        height: 1,
        rotation: 0,
        hidden: false,
        owner_user_ids: [],
      },
    },
  ];
  if (input.art) drafts.push(artCreateOp(newId(), tokenId, input.art.hash, input.art.crop));
  return drafts;
}

export function artCreateOp(id: string, tokenId: string, hash: string, crop: Crop): OpDraft {
  return { op: "create", type: "token_art", id, data: { token_id: tokenId, image_asset: hash, crop: plain(crop) } };
}

/** The top-left of the grid cell under a point of the table (pixels), never off the table: a scene's grid, or square cells from 0. */
export function dropCell(x: number, y: number, grid: Grid | number): { x: number; y: number } {
  return snapToCell(typeof grid === "number" ? gridOf({ grid_size: grid }) : grid, x, y);
}

/** The drag-and-drop type carrying a library token's id from the library to the table. */
export const LIBRARY_DRAG_TYPE = "application/x-vtt-library-token";

/** The first grid cell, row by row from (1, 1), that no token's top-left corner is in: where "Place" puts a copy. */
export function freeCell(tokens: readonly Token[], grid: Grid | number, columns = 12): { x: number; y: number } {
  const g = typeof grid === "number" ? gridOf({ grid_size: grid }) : grid;
  const taken = new Set(
    tokens.map((t) => {
      const cell = cellAt(g, t.x ?? 0, t.y ?? 0);
      return `${cell.col},${cell.row}`;
    }),
  );
  for (let row = 1; ; row++) {
    for (let column = 1; column <= columns; column++) {
      if (!taken.has(`${column},${row}`)) return cellOrigin(g, { col: column, row });
    }
  }
}
