import { createMemo, createSignal, For, onCleanup, onMount, Show } from "solid-js";
import { ApiError, describeError, type GmApi, importSceneBundle, sceneExportUrl } from "../lib/api";
import { formatClock } from "../lib/clock";
import { createSceneLocks } from "../lib/locks";
import { type DropTarget, sortAtEnd } from "../lib/ordering";
import type { Roster } from "../lib/roster";
import {
  buildSceneTree,
  flattenFolders,
  folderAndDescendants,
  type MovePatch,
  planFolderMove,
  planSceneMove,
  shownFolderOf,
  shownParentOf,
} from "../lib/scene-tree";
import { createSubmitter } from "../lib/submit";
import type { SessionSync } from "../lib/sync";
import type { Folder, Scene, Token } from "../lib/types";
import { AssetUploadField } from "./AssetUploadField";
import { ErrorMessage } from "./ErrorMessage";
import { SceneEditor, type ScenePatch } from "./SceneEditor";
import { SceneNavigator } from "./SceneNavigator";
import { SidebarSection } from "./SidebarSection";

const TOP_LEVEL = "";

/**
 * The GM's scenes: the folder tree (reorder and move by dragging), viewing a scene on the table
 * to prepare it, activating one (what players see), editing one, its map, scene locks, new
 * scenes and folders. Every edit is queued through the sync layer (shown at once, works
 * offline); activating is a REST call because the server records it in the activation timeline,
 * and locks are REST calls because they only mean something while the server can be reached.
 */
export function SceneManager(props: {
  sessionId: string;
  userId: string;
  sync: Pick<SessionSync, "view" | "create" | "update" | "archive" | "submit" | "listen" | "onSendError" | "wake">;
  api: Pick<GmApi, "listLocks" | "acquireLock" | "releaseLock">;
  roster: Pick<Roster, "usernames" | "start">;
  activeSceneId: string | null;
  /** The scene on the GM's table (the active one, or one being prepared). */
  shownSceneId: string | null;
  onView: (scene: Scene) => void;
  onActivate: (scene: Scene) => Promise<unknown>;
  /** `POST {S}/import` with progress (tests pass a double). */
  importBundle?: (file: File, onProgress: (fraction: number) => void) => Promise<{ scene: Scene }>;
  /** Archives a scene or folder and offers its Undo (the table's notice); a plain queued archive when not given. */
  archive?: (type: "scene" | "folder", id: string, label: string) => Promise<unknown>;
}) {
  const view = props.sync.view;
  const locks = createSceneLocks({ api: props.api, sync: props.sync, userId: props.userId });
  onMount(() => {
    const stopLocks = locks.start();
    const stopRoster = props.roster.start();
    onCleanup(() => {
      stopLocks();
      stopRoster();
    });
  });

  const tree = createMemo(() => buildSceneTree(Object.values(view.folders), Object.values(view.scenes)));
  const folderOptions = () => flattenFolders(tree()).map((n) => ({ id: n.folder.id, name: n.folder.name, depth: n.depth }));
  const [editingSceneId, setEditingSceneId] = createSignal<string | null>(null);
  const [editingFolderId, setEditingFolderId] = createSignal<string | null>(null);
  const [sceneName, setSceneName] = createSignal("");
  const [sceneFolder, setSceneFolder] = createSignal(TOP_LEVEL);
  const [folderName, setFolderName] = createSignal("");
  const [folderParent, setFolderParent] = createSignal(TOP_LEVEL);

  const activation = createSubmitter((scene: Scene) => props.onActivate(scene));
  const [actionError, setActionError] = createSignal<string | null>(null);
  const archive = (type: "scene" | "folder", id: string, label: string) =>
    props.archive ? props.archive(type, id, label) : props.sync.archive(type, id);
  /** Runs a queued edit; unlike a submitter, never drops one because another is under way. */
  async function act(run: () => Promise<unknown>): Promise<void> {
    setActionError(null);
    try {
      await run();
    } catch (cause) {
      setActionError(describeError(cause));
    }
  }
  const holderName = (userId: string) => props.roster.usernames()[userId] ?? "another GM";
  const nameOfScene = (id: string) => view.scenes[id]?.name ?? "This scene";
  const existingFolder = (id: string) => (id !== TOP_LEVEL && tree().byId.has(id) ? id : null);

  /** One move is one action (a renumbering touches several siblings): one batch, all or nothing. */
  async function queueMoves(type: "scene" | "folder", patches: MovePatch[], extra: Record<string, unknown> = {}, ownId?: string) {
    await props.sync.submit(
      patches.map(({ id, patch }) => ({ op: "update" as const, type, id, patch: id === ownId ? { ...patch, ...extra } : patch })),
    );
  }

  const moveScene = (scene: Scene, folderId: string | null, target: DropTarget) =>
    act(() => queueMoves("scene", planSceneMove(tree(), scene, folderId, target)));
  const moveFolder = (folder: Folder, parentId: string | null, target: DropTarget) =>
    act(() => queueMoves("folder", planFolderMove(tree(), folder, parentId, target)));

  async function saveScene(scene: Scene, patch: ScenePatch) {
    const { folder_id: folderId, ...fields } = patch;
    const target = folderId === undefined ? null : existingFolder(folderId ?? TOP_LEVEL);
    if (folderId !== undefined && target !== shownFolderOf(tree(), scene)) {
      // Into another folder: at its end, together with the other fields in the same update.
      const moves = planSceneMove(tree(), scene, target, null);
      await queueMoves("scene", moves, fields, scene.id);
      if (moves.some((m) => m.id === scene.id)) return;
    }
    if (Object.keys(fields).length > 0) await props.sync.update("scene", scene.id, fields);
  }

  async function saveFolder(folder: Folder, name: string, parentId: string | null) {
    const fields = name !== folder.name ? { name } : {};
    if (parentId !== shownParentOf(tree(), folder.id)) {
      const moves = planFolderMove(tree(), folder, parentId, null);
      await queueMoves("folder", moves, fields, folder.id);
      if (moves.some((m) => m.id === folder.id)) return;
    }
    if (Object.keys(fields).length > 0) await props.sync.update("folder", folder.id, fields);
  }

  function createScene(event: SubmitEvent) {
    event.preventDefault();
    const name = sceneName().trim();
    if (name === "") return;
    const folderId = existingFolder(sceneFolder());
    setSceneName("");
    const siblings = folderId === null ? tree().scenes : (tree().byId.get(folderId)?.scenes ?? []);
    // The schema's defaults spelled out, so the scene shows (and edits) fully before the server confirms it.
    void act(async () => {
      const op = await props.sync.create("scene", {
        name,
        description: "",
        map_asset: null,
        grid_scale: 5,
        grid_units: "ft",
        accent_color: null,
        folder_id: folderId,
        sort: sortAtEnd(siblings),
        metadata: {},
      });
      // The new scene goes on the GM's table at once, to be prepared (players still see the active one).
      const created = view.scenes[op.id];
      if (created) props.onView(created);
    });
  }

  function createFolder(event: SubmitEvent) {
    event.preventDefault();
    const name = folderName().trim();
    if (name === "") return;
    const parentId = existingFolder(folderParent());
    setFolderName("");
    const siblings = (parentId === null ? tree().folders : (tree().byId.get(parentId)?.folders ?? [])).map((n) => n.folder);
    void act(() => props.sync.create("folder", { name, kind: "scene", parent_id: parentId, sort: sortAtEnd(siblings) }));
  }

  const lockedReason = (sceneId: string): string | null => {
    const lock = locks.heldByOther(sceneId);
    return lock
      ? `Locked for editing by ${holderName(lock.holder_user_id)} until ${formatClock(lock.expires_at)}. You can edit it once they unlock it or the lock expires.`
      : null;
  };

  const lockError = () => {
    const e = locks.error();
    if (!e) return null;
    if (e.lock)
      return `${nameOfScene(e.sceneId)} is locked by ${holderName(e.lock.holder_user_id)} until ${formatClock(e.lock.expires_at)}.`;
    return `The lock of ${nameOfScene(e.sceneId)} could not be changed: ${e.message}`;
  };

  function SceneDetails(detailProps: { scene: Scene }) {
    const scene = () => detailProps.scene;
    const editing = () => editingSceneId() === scene().id;
    const shown = () => props.shownSceneId === scene().id;
    return (
      <>
        <Show when={editing()}>
          <SceneEditor
            scene={scene()}
            folders={folderOptions()}
            lockedReason={lockedReason(scene().id)}
            onSave={(patch) => saveScene(scene(), patch)}
            onClose={() => setEditingSceneId(null)}
          />
        </Show>
        <Show when={editing() || shown()}>
          <a
            class="button button-small button-quiet scene-export"
            href={sceneExportUrl(props.sessionId, scene().id)}
            download=""
            aria-label={`Export ${scene().name}`}
          >
            Export scene
          </a>
        </Show>
        <Show when={(editing() || shown()) && !locks.heldByOther(scene().id)}>
          <AssetUploadField
            sessionId={props.sessionId}
            kind="map"
            inputId={`map-upload-${scene().id}`}
            label={`Map for ${scene().name}`}
            onUploaded={(asset) => props.sync.update("scene", scene().id, { map_asset: asset.hash })}
          />
        </Show>
      </>
    );
  }

  function FolderEditor(editorProps: { folder: Folder }) {
    const folder = () => editorProps.folder;
    const [name, setName] = createSignal(folder().name);
    const [parent, setParent] = createSignal(shownParentOf(tree(), folder().id) ?? TOP_LEVEL);
    const excluded = () => folderAndDescendants(tree(), folder().id);
    // A folder that holds something asks before it is archived; an empty one goes at once (Undo still offered).
    const [confirmingArchive, setConfirmingArchive] = createSignal(false);
    const contents = () => describeContents(view, folder().id);
    const archiveFolder = () => {
      setConfirmingArchive(false);
      setEditingFolderId(null);
      void act(() => archive("folder", folder().id, `folder ${folder().name}`));
    };
    const submit = (event: SubmitEvent) => {
      event.preventDefault();
      const trimmed = name().trim();
      if (trimmed === "") return;
      setEditingFolderId(null);
      void act(() => saveFolder(folder(), trimmed, existingFolder(parent())));
    };
    return (
      <form class="form folder-editor" aria-label={`Edit folder ${folder().name}`} onSubmit={submit}>
        <div class="field">
          <label for={`folder-name-${folder().id}`}>Name</label>
          <input
            id={`folder-name-${folder().id}`}
            required
            maxLength={200}
            value={name()}
            onInput={(event) => setName(event.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for={`folder-parent-${folder().id}`}>Inside</label>
          <select id={`folder-parent-${folder().id}`} value={parent()} onChange={(event) => setParent(event.currentTarget.value)}>
            <option value={TOP_LEVEL}>Top level</option>
            <For each={folderOptions().filter((f) => !excluded().has(f.id))}>
              {(f) => <option value={f.id}>{`${"\u00a0\u00a0".repeat(f.depth)}${f.name}`}</option>}
            </For>
          </select>
        </div>
        <div class="button-row">
          <button type="submit" class="button-small">
            Save folder
          </button>
          <button type="button" class="button-small button-quiet" onClick={() => setEditingFolderId(null)}>
            Cancel
          </button>
          <button
            type="button"
            class="button-small button-quiet button-archive"
            aria-label={`Archive folder ${folder().name}`}
            onClick={() => (contents() ? setConfirmingArchive(true) : archiveFolder())}
          >
            Archive folder
          </button>
        </div>
        <Show when={confirmingArchive() && contents()}>
          {(held) => (
            <p class="confirm">
              Archive folder {folder().name}? It holds {held()}; they move to the top level until it is restored.{" "}
              <button type="button" class="button-small button-danger-inline" onClick={archiveFolder}>
                Archive it
              </button>{" "}
              <button type="button" class="button-small button-quiet" onClick={() => setConfirmingArchive(false)}>
                Keep
              </button>
            </p>
          )}
        </Show>
        <p class="hint">Archiving it moves its scenes and folders to the top level until it is restored.</p>
      </form>
    );
  }

  // Import of a scene bundle (a zip exported here or elsewhere), with the upload's progress.
  const [importProgress, setImportProgress] = createSignal<number | null>(null);
  const [importedName, setImportedName] = createSignal<string | null>(null);
  const [importError, setImportError] = createSignal<string | null>(null);
  async function importBundle(input: HTMLInputElement) {
    const file = input.files?.[0];
    if (!file) return;
    setImportError(null);
    setImportedName(null);
    setImportProgress(0);
    try {
      const send =
        props.importBundle ?? ((f: File, progress: (fraction: number) => void) => importSceneBundle(props.sessionId, f, progress));
      const { scene } = await send(file, setImportProgress);
      setImportedName(scene.name);
      // The new scene arrives by the socket; say so now, and fetch news in case it is not connected.
      props.sync.wake();
    } catch (cause) {
      const problems = cause instanceof ApiError && Array.isArray(cause.details?.problems) ? cause.details.problems : [];
      const first = problems.find((p): p is string => typeof p === "string");
      setImportError(`${describeError(cause)}${first ? ` (${first})` : ""}`);
    } finally {
      setImportProgress(null);
      input.value = "";
    }
  }

  const sceneCount = () => Object.values(view.scenes).filter((s) => s.archived_at === null).length;

  return (
    <SidebarSection id="scenes" title="Scenes" summary={sceneCount()}>
      <Show when={locks.refusal()}>
        {(refusal) => (
          <div class="banner lock-banner" role="alert">
            <strong>Not saved yet.</strong> {nameOfScene(refusal().lock.scene_id)} is locked for editing by{" "}
            {holderName(refusal().lock.holder_user_id)} until {formatClock(refusal().lock.expires_at)}. Your change is kept and will be sent
            when the lock is released or expires.
          </div>
        )}
      </Show>
      <SceneNavigator
        tree={tree()}
        activeSceneId={props.activeSceneId}
        shownSceneId={props.shownSceneId}
        editingSceneId={editingSceneId()}
        editingFolderId={editingFolderId()}
        locks={locks}
        usernames={props.roster.usernames()}
        activating={activation.pending()}
        sceneDetails={(scene) => <SceneDetails scene={scene} />}
        folderDetails={(folder) => <FolderEditor folder={folder} />}
        onView={props.onView}
        onActivate={(scene) => void activation.run(scene)}
        onEdit={(scene) => setEditingSceneId(editingSceneId() === scene.id ? null : scene.id)}
        onArchive={(scene) => {
          if (editingSceneId() === scene.id) setEditingSceneId(null);
          void act(() => archive("scene", scene.id, scene.name));
        }}
        onToggleLock={(scene) => void (locks.heldByMe(scene.id) ? locks.release(scene.id) : locks.take(scene.id))}
        onEditFolder={(folder) => setEditingFolderId(editingFolderId() === folder.id ? null : folder.id)}
        onMoveScene={moveScene}
        onMoveFolder={moveFolder}
      />
      <ErrorMessage message={activation.error() ?? actionError() ?? lockError()} />
      <form class="form inline-form" onSubmit={createScene}>
        <div class="field">
          <label for="scene-name">Scene name</label>
          <input
            id="scene-name"
            name="name"
            required
            maxLength={200}
            placeholder="Goblin Warren"
            value={sceneName()}
            onInput={(event) => setSceneName(event.currentTarget.value)}
          />
        </div>
        <Show when={folderOptions().length > 0}>
          <div class="field">
            <label for="scene-folder">In folder</label>
            <select id="scene-folder" value={sceneFolder()} onChange={(event) => setSceneFolder(event.currentTarget.value)}>
              <option value={TOP_LEVEL}>Top level</option>
              <For each={folderOptions()}>{(f) => <option value={f.id}>{`${"\u00a0\u00a0".repeat(f.depth)}${f.name}`}</option>}</For>
            </select>
          </div>
        </Show>
        <button type="submit" disabled={sceneName().trim() === ""}>
          Create scene
        </button>
      </form>
      <form class="form inline-form" onSubmit={createFolder}>
        <div class="field">
          <label for="folder-name">Folder name</label>
          <input
            id="folder-name"
            name="folder"
            required
            maxLength={200}
            placeholder="Act I"
            value={folderName()}
            onInput={(event) => setFolderName(event.currentTarget.value)}
          />
        </div>
        <Show when={folderOptions().length > 0}>
          <div class="field">
            <label for="folder-parent">Inside</label>
            <select id="folder-parent" value={folderParent()} onChange={(event) => setFolderParent(event.currentTarget.value)}>
              <option value={TOP_LEVEL}>Top level</option>
              <For each={folderOptions()}>{(f) => <option value={f.id}>{`${"\u00a0\u00a0".repeat(f.depth)}${f.name}`}</option>}</For>
            </select>
          </div>
        </Show>
        <button type="submit" class="button-quiet" disabled={folderName().trim() === ""}>
          Create folder
        </button>
      </form>
      <div class="field scene-import">
        <label for="scene-import">Import a scene (a .zip bundle)</label>
        <input
          id="scene-import"
          type="file"
          accept=".zip,application/zip"
          disabled={importProgress() !== null}
          onChange={(event) => void importBundle(event.currentTarget)}
        />
        <Show when={importProgress() !== null}>
          <progress max="1" value={importProgress() ?? 0} aria-label="Import progress" />
        </Show>
        <Show when={importedName()}>
          {(name) => (
            <p class="hint" role="status">
              Imported “{name()}” as a new scene.
            </p>
          )}
        </Show>
        <ErrorMessage message={importError()} />
      </div>
    </SidebarSection>
  );
}

const plural = (count: number, one: string) => `${count} ${one}${count === 1 ? "" : "s"}`;

/** What a folder directly holds, in words ("2 scenes and 1 folder"); empty when it holds nothing live. */
function describeContents(
  view: { scenes: Record<string, Scene>; tokens: Record<string, Token>; folders: Record<string, Folder> },
  folderId: string,
): string {
  const scenes = Object.values(view.scenes).filter((s) => s.archived_at === null && s.folder_id === folderId).length;
  const tokens = Object.values(view.tokens).filter((t) => t.archived_at === null && t.folder_id === folderId).length;
  const folders = Object.values(view.folders).filter((f) => f.archived_at === null && f.parent_id === folderId).length;
  const parts = [plural(scenes, "scene"), plural(tokens, "token"), plural(folders, "folder")].filter((part) => !part.startsWith("0 "));
  return parts.length <= 1 ? (parts[0] ?? "") : `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}`;
}
