/**
 * The GM's authoring actions on the table and in the library, as queued edits: each action reads
 * the view (server state with pending ops on top), builds its op drafts with the pure functions of
 * `library.ts`, `selection.ts` and `drawing.ts`, and queues them through the sync layer.
 */
import { createEffect, on } from "solid-js";
import { type OpSink, plain, queueOps } from "./authoring";
import type { Crop } from "./crop";
import { addStrokeOp, clearStrokesOps, deleteNotesOps, eraseStrokesOps, type Note, putNoteOp, type Stroke } from "./drawing";
import type { GridPatch } from "./grid";
import { artCreateOp, createFolderOp, libraryDropOps, type NewToken, newTokenOps } from "./library";
import { hiddenOps, moveOps } from "./selection";
import type { Folder, Layer, Token, TokenArt } from "./types";

/** What the actions read: the sync layer's view (`SessionSync.view`). */
export interface AuthoringView {
  tokens: Record<string, Token>;
  token_art: Record<string, TokenArt>;
  layers: Record<string, Layer>;
  folders: Record<string, Folder>;
}

export interface AuthoringDeps {
  sync: OpSink;
  view: AuthoringView;
  newId?: () => string;
  now?: () => number;
  /** Where an edit that could not be queued is reported (the canvas has no form to show it in). */
  report?: (error: unknown) => void;
}

export type TableAuthoring = ReturnType<typeof createTableAuthoring>;

export function createTableAuthoring(deps: AuthoringDeps) {
  const newId = deps.newId ?? (() => crypto.randomUUID());
  const now = deps.now ?? Date.now;
  const report =
    deps.report ?? ((error: unknown) => console.error(JSON.stringify({ level: "error", msg: "edit not queued", error: String(error) })));
  const { view, sync } = deps;
  const liveArt = (tokenId: string) => Object.values(view.token_art).find((a) => a.token_id === tokenId && a.archived_at === null);
  /** Fire and forget (canvas gestures): failures are reported, not thrown. */
  const run = (promise: Promise<unknown>) => void promise.catch(report);

  return {
    /** A new token (and its art, when one was uploaded). Resolves to its id once queued. */
    async createToken(input: NewToken): Promise<string> {
      const drafts = newTokenOps(input, newId);
      await queueOps(sync, drafts);
      return drafts[0]?.id ?? "";
    },

    /** A copy of library token `tokenId` (and of its art) on `sceneId` at (x, y); resolves to the new token's id. */
    async placeLibraryToken(tokenId: string, sceneId: string, x: number, y: number): Promise<string | null> {
      const source = view.tokens[tokenId];
      if (!source || source.scene_id !== null || source.archived_at !== null) return null;
      const drafts = libraryDropOps(plain(source), liveArt(tokenId), { sceneId, x, y }, newId);
      await queueOps(sync, drafts);
      return drafts[0]?.id ?? null;
    },

    moveMany(moves: readonly { token: Token; x: number; y: number }[]) {
      const drafts = moves.flatMap(({ token, x, y }) => moveOps([token], [token.id], x - token.x, y - token.y, () => true));
      run(queueOps(sync, drafts));
    },

    setHidden(ids: readonly string[], hidden: boolean): Promise<void> {
      return queueOps(sync, hiddenOps(Object.values(view.tokens), ids, hidden));
    },

    archiveTokens(ids: readonly string[]): Promise<void> {
      return queueOps(
        sync,
        ids.filter((id) => view.tokens[id]).map((id) => ({ op: "archive", type: "token", id })),
      );
    },

    resize(token: Token, width: number, height: number) {
      run(sync.update("token", token.id, { width, height }));
    },

    rotate(token: Token, rotation: number) {
      run(sync.update("token", token.id, { rotation }));
    },

    /** New art for a token (replacing its image and crop), or its first art. */
    async setArt(tokenId: string, hash: string, crop: Crop): Promise<void> {
      const art = liveArt(tokenId);
      if (art) await sync.update("token_art", art.id, { image_asset: hash, crop: plain(crop) });
      else await queueOps(sync, [artCreateOp(newId(), tokenId, hash, crop)]);
    },

    async saveCrop(artId: string, crop: Crop): Promise<void> {
      await sync.update("token_art", artId, { crop: plain(crop) });
    },

    async createFolder(name: string, parentId: string | null): Promise<void> {
      await queueOps(sync, [createFolderOp(newId(), name, parentId, Object.values(view.folders))]);
    },

    async renameFolder(id: string, name: string): Promise<void> {
      await sync.update("folder", id, { name });
    },

    async archiveFolder(id: string): Promise<void> {
      await sync.archive("folder", id);
    },

    async fileToken(tokenId: string, folderId: string | null): Promise<void> {
      const token = view.tokens[tokenId];
      if (!token || token.folder_id === folderId) return;
      await sync.update("token", tokenId, { folder_id: folderId });
    },

    /** A grid fitted with the grid-fit tool: one queued change of the scene. */
    fitGrid(sceneId: string, patch: GridPatch) {
      run(sync.update("scene", sceneId, { ...patch }));
    },

    /** The layer tools of the table for one scene (`TableCanvas`'s `layerEdits`). */
    layerEdits(sceneId: string) {
      const layers = () => Object.values(view.layers);
      return {
        addStroke(stroke: Stroke) {
          const op = addStrokeOp(layers(), sceneId, stroke, newId);
          if (op) run(queueOps(sync, [op]));
        },
        eraseStrokes(ids: string[]) {
          run(queueOps(sync, eraseStrokesOps(layers(), sceneId, ids)));
        },
        clearStrokes() {
          run(queueOps(sync, clearStrokesOps(layers(), sceneId)));
        },
        putNote(note: Note) {
          const op = putNoteOp(layers(), sceneId, { ...note, at: note.at || now() }, newId);
          if (op) run(queueOps(sync, [op]));
        },
        deleteNote(id: string) {
          run(queueOps(sync, deleteNotesOps(layers(), sceneId, [id])));
        },
      };
    },
  };
}

/**
 * `state` carries only the active scene's layers; the layers of a scene a GM prepares are read
 * with it (`SessionSync.loadScene`) the first time it is shown. Changes to them reach GMs over the
 * socket afterwards, so each scene is read once (again after a failed read). Call in a component.
 */
export function loadLayersOfShownScene(sceneId: () => string | undefined, loadScene: (id: string) => Promise<void>): void {
  const loaded = new Set<string>();
  createEffect(
    on(sceneId, (id) => {
      if (!id || loaded.has(id)) return;
      loaded.add(id);
      loadScene(id).catch(() => loaded.delete(id));
    }),
  );
}
