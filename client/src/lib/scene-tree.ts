/**
 * The scene navigator's tree: scene folders (`kind: "scene"`) nested by `parent_id`, each with its
 * scenes (by `folder_id`), every level in manual order (`ordering.ts`). The data may be odd, as
 * it comes from several GMs' edits: a folder whose parent is missing, archived or not a scene
 * folder is shown at the top level, and so is a scene whose folder is; a cycle of parents (two
 * GMs nesting folders into each other at once) is cut at the folder with the smallest id, which
 * then shows at the top level. Nothing is ever dropped from view.
 */

import { type DropTarget, planMove, sortSiblings } from "./ordering";
import type { Folder, Scene } from "./types";

export interface FolderNode {
  folder: Folder;
  /** 0 at the top level. */
  depth: number;
  folders: FolderNode[];
  scenes: Scene[];
}

export interface SceneTree {
  folders: FolderNode[];
  /** Scenes at the top level. */
  scenes: Scene[];
  /** Folder id → its node, for the folders in the tree. */
  byId: Map<string, FolderNode>;
}

/** The parent each live scene folder is shown under (null: the top level), cycles cut. */
export function effectiveParents(folders: readonly Folder[]): Map<string, string | null> {
  const live = new Map(folders.filter((f) => f.kind === "scene" && f.archived_at === null).map((f) => [f.id, f]));
  const parent = new Map<string, string | null>();
  for (const f of live.values()) {
    const p = f.parent_id;
    parent.set(f.id, p !== null && p !== f.id && live.has(p) ? p : null);
  }
  // Walk up from every folder; a walk that comes back onto its own path has found a cycle.
  const settled = new Set<string>();
  for (const start of parent.keys()) {
    const path: string[] = [];
    const onPath = new Set<string>();
    let at: string | null = start;
    while (at !== null && !settled.has(at)) {
      if (onPath.has(at)) {
        const cycle = path.slice(path.indexOf(at));
        const cut = [...cycle].sort()[0];
        if (cut !== undefined) parent.set(cut, null);
        break;
      }
      path.push(at);
      onPath.add(at);
      at = parent.get(at) ?? null;
    }
    for (const id of path) settled.add(id);
  }
  return parent;
}

export function buildSceneTree(folders: readonly Folder[], scenes: readonly Scene[]): SceneTree {
  const parents = effectiveParents(folders);
  const byId = new Map<string, FolderNode>();
  for (const f of folders) {
    if (parents.has(f.id)) byId.set(f.id, { folder: f, depth: 0, folders: [], scenes: [] });
  }
  const top: FolderNode[] = [];
  for (const node of byId.values()) {
    const p = parents.get(node.folder.id) ?? null;
    const parentNode = p === null ? undefined : byId.get(p);
    (parentNode ? parentNode.folders : top).push(node);
  }
  const topScenes: Scene[] = [];
  for (const s of scenes) {
    if (s.archived_at !== null) continue;
    const home = s.folder_id === null ? undefined : byId.get(s.folder_id);
    (home ? home.scenes : topScenes).push(s);
  }

  const order = (nodes: FolderNode[], depth: number): FolderNode[] => {
    const sorted = sortSiblings(nodes.map((n) => ({ ...n.folder, node: n }))).map((f) => f.node);
    for (const n of sorted) {
      n.depth = depth;
      n.scenes = sortSiblings(n.scenes);
      n.folders = order(n.folders, depth + 1);
    }
    return sorted;
  };
  return { folders: order(top, 0), scenes: sortSiblings(topScenes), byId };
}

/** The folder and every folder under it (a folder may not move into any of them). */
export function folderAndDescendants(tree: SceneTree, folderId: string): Set<string> {
  const out = new Set<string>();
  const visit = (node: FolderNode) => {
    if (out.has(node.folder.id)) return;
    out.add(node.folder.id);
    for (const child of node.folders) visit(child);
  };
  const start = tree.byId.get(folderId);
  if (start) visit(start);
  return out;
}

/** Every folder in display order (depth first), for folder pickers. */
export function flattenFolders(tree: SceneTree): FolderNode[] {
  const out: FolderNode[] = [];
  const visit = (nodes: FolderNode[]) => {
    for (const n of nodes) {
      out.push(n);
      visit(n.folders);
    }
  };
  visit(tree.folders);
  return out;
}

/** One queued update of a move: a merge patch of `sort` and, when the parent changes, `folder_id` or `parent_id`. */
export interface MovePatch {
  id: string;
  patch: { sort: number; folder_id?: string | null; parent_id?: string | null };
}

/** The folder a scene is shown in: its `folder_id` when that folder is in the tree, else the top level. */
export function shownFolderOf(tree: SceneTree, scene: Pick<Scene, "folder_id">): string | null {
  return scene.folder_id !== null && tree.byId.has(scene.folder_id) ? scene.folder_id : null;
}

/** The parent a folder is shown under. */
export function shownParentOf(tree: SceneTree, folderId: string): string | null {
  for (const node of tree.byId.values()) if (node.folders.some((child) => child.folder.id === folderId)) return node.folder.id;
  return null;
}

/**
 * The updates that move a scene into `folderId` (null: the top level) at `target`: one update in
 * the usual case (its new sort, and its folder when that changes). `folder_id` is written only
 * when the shown folder changes, so a scene of an archived folder keeps it until moved elsewhere.
 */
export function planSceneMove(tree: SceneTree, scene: Scene, folderId: string | null, target: DropTarget): MovePatch[] {
  if (folderId !== null && !tree.byId.has(folderId)) return [];
  const siblings = folderId === null ? tree.scenes : (tree.byId.get(folderId)?.scenes ?? []);
  const moved = shownFolderOf(tree, scene) !== folderId;
  const updates = planMove(moved ? siblings.filter((s) => s.id !== scene.id) : siblings, scene.id, target);
  return updates.map(({ id, sort }) => ({
    id,
    patch: id === scene.id && moved ? { sort, folder_id: folderId } : { sort },
  }));
}

/** The same for a folder moving under `parentId`; empty when that would put it inside itself. */
export function planFolderMove(tree: SceneTree, folder: Folder, parentId: string | null, target: DropTarget): MovePatch[] {
  if (parentId !== null && (!tree.byId.has(parentId) || folderAndDescendants(tree, folder.id).has(parentId))) return [];
  const siblings = (parentId === null ? tree.folders : (tree.byId.get(parentId)?.folders ?? [])).map((n) => n.folder);
  const moved = shownParentOf(tree, folder.id) !== parentId;
  const updates = planMove(moved ? siblings.filter((f) => f.id !== folder.id) : siblings, folder.id, target);
  return updates.map(({ id, sort }) => ({
    id,
    patch: id === folder.id && moved ? { sort, parent_id: parentId } : { sort },
  }));
}
