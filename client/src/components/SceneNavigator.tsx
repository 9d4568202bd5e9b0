import { createSignal, For, type JSX, Show } from "solid-js";
import { type DropTarget, keyboardTarget, type Sortable } from "../lib/ordering";
import { folderAndDescendants, type SceneTree, shownParentOf } from "../lib/scene-tree";
import type { Folder, Scene, SceneLock } from "../lib/types";
import { LockBadge } from "./LockBadge";

type Dragged = { kind: "scene"; scene: Scene } | { kind: "folder"; folder: Folder };
type Position = "before" | "after" | "into";
type Hint = { key: string; position: Position };

export interface NavigatorLocks {
  lockOf(sceneId: string): SceneLock | undefined;
  heldByMe(sceneId: string): boolean;
  busy(sceneId: string): boolean;
}

const MOVE_HELP_ID = "scene-move-help";

/** Where in the element under the pointer a drop lands: halves for a scene, quarters (edge, middle, edge) for a folder. */
function dropPosition(event: DragEvent, withInto: boolean): Position {
  const rect = (event.currentTarget as HTMLElement).getBoundingClientRect();
  const y = event.clientY - rect.top;
  if (withInto) {
    if (y < rect.height / 4) return "before";
    if (y > (rect.height * 3) / 4) return "after";
    return "into";
  }
  return y < rect.height / 2 ? "before" : "after";
}

/**
 * The GM's scenes as a tree of folders. Scenes and folders are dragged (HTML5 drag and drop) to
 * reorder them or into another folder; dropped on a folder's edge a folder goes beside it, on its
 * middle inside it; a drop zone at the bottom takes anything to the top level. From the keyboard,
 * the move handle of a row moves it up and down with the arrow keys, and the editors' folder
 * pickers move it elsewhere. The tree and the moves' arithmetic come from `scene-tree.ts`.
 */
export function SceneNavigator(props: {
  tree: SceneTree;
  activeSceneId: string | null;
  shownSceneId: string | null;
  editingSceneId: string | null;
  editingFolderId: string | null;
  locks: NavigatorLocks;
  usernames: Record<string, string>;
  activating: boolean;
  /** What shows under a scene's row (its editor, its map upload), if anything. */
  sceneDetails?: (scene: Scene) => JSX.Element;
  /** What shows under a folder's row while it is edited. */
  folderDetails?: (folder: Folder) => JSX.Element;
  onView: (scene: Scene) => void;
  onActivate: (scene: Scene) => void;
  onEdit: (scene: Scene) => void;
  onArchive: (scene: Scene) => void;
  onToggleLock: (scene: Scene) => void;
  /** Opens or closes the folder's editor (`folderDetails`), where it is renamed, moved or archived. */
  onEditFolder: (folder: Folder) => void;
  onMoveScene: (scene: Scene, folderId: string | null, target: DropTarget) => unknown;
  onMoveFolder: (folder: Folder, parentId: string | null, target: DropTarget) => unknown;
}) {
  let root: HTMLDivElement | undefined;
  const [dragged, setDragged] = createSignal<Dragged | null>(null);
  const [hint, setHint] = createSignal<Hint | null>(null);
  const [closed, setClosed] = createSignal<ReadonlySet<string>>(new Set());
  /** The scene whose Archive waits for a confirmation (it takes the scene's tokens with it). */
  const [confirmingArchive, setConfirmingArchive] = createSignal<string | null>(null);

  const hintAt = (key: string) => {
    const h = hint();
    return h && h.key === key ? h.position : null;
  };
  const endDrag = () => {
    setDragged(null);
    setHint(null);
  };
  const toggleFolder = (id: string) => {
    const next = new Set(closed());
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setClosed(next);
  };
  const scenesIn = (folderId: string | null): Scene[] =>
    folderId === null ? props.tree.scenes : (props.tree.byId.get(folderId)?.scenes ?? []);
  const foldersIn = (parentId: string | null): Folder[] =>
    (parentId === null ? props.tree.folders : (props.tree.byId.get(parentId)?.folders ?? [])).map((n) => n.folder);

  /** After a keyboard move the row is re-rendered elsewhere: give its handle the focus back. */
  async function moveAndRefocus(move: () => unknown, handleKey: string) {
    await move();
    queueMicrotask(() => root?.querySelector<HTMLElement>(`[data-move-handle="${handleKey}"]`)?.focus());
  }

  function arrowMove(event: KeyboardEvent, siblings: Sortable[], id: string, move: (target: DropTarget) => unknown, key: string) {
    if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
    event.preventDefault();
    const target = keyboardTarget(siblings, id, event.key === "ArrowUp" ? -1 : 1);
    if (target) void moveAndRefocus(() => move(target), key);
  }

  function startDrag(event: DragEvent, item: Dragged, label: string) {
    setDragged(item);
    if (event.dataTransfer) {
      event.dataTransfer.effectAllowed = "move";
      // Some browsers start a drag only with data set.
      event.dataTransfer.setData("text/plain", label);
    }
  }

  function allowDrop(event: DragEvent, key: string, position: Position) {
    event.preventDefault();
    event.stopPropagation();
    if (event.dataTransfer) event.dataTransfer.dropEffect = "move";
    const current = hint();
    if (!current || current.key !== key || current.position !== position) setHint({ key, position });
  }

  function SceneItem(itemProps: { scene: Scene; folderId: string | null }) {
    const scene = () => itemProps.scene;
    const key = () => `scene:${scene().id}`;
    const isActive = () => scene().id === props.activeSceneId;
    const isShown = () => scene().id === props.shownSceneId;
    const isEditing = () => scene().id === props.editingSceneId;
    const lock = () => props.locks.lockOf(scene().id);
    const mine = () => props.locks.heldByMe(scene().id);
    const lockedByOther = () => lock() !== undefined && !mine();
    const unsaved = () => scene().version === 0;
    const isDragged = () => {
      const d = dragged();
      return d?.kind === "scene" && d.scene.id === scene().id;
    };
    return (
      <li
        class="list-item scene-item"
        classList={{
          active: isActive(),
          shown: isShown(),
          dragging: isDragged(),
          "drop-before": hintAt(key()) === "before",
          "drop-after": hintAt(key()) === "after",
        }}
        data-scene-id={scene().id}
        onDragOver={(event) => {
          if (dragged()?.kind === "scene") allowDrop(event, key(), dropPosition(event, false));
        }}
        onDrop={(event) => {
          const d = dragged();
          if (d?.kind !== "scene") return;
          event.preventDefault();
          event.stopPropagation();
          const position = dropPosition(event, false) === "before" ? "before" : "after";
          endDrag();
          void props.onMoveScene(d.scene, itemProps.folderId, { id: scene().id, position });
        }}
      >
        {/* biome-ignore lint/a11y/noStaticElementInteractions: the mouse drag; the row's move handle does the same from the keyboard */}
        <div
          class="scene-row"
          draggable={!unsaved()}
          onDragStart={(event) => startDrag(event, { kind: "scene", scene: scene() }, scene().name)}
          onDragEnd={endDrag}
        >
          <button
            type="button"
            class="drag-handle"
            data-move-handle={key()}
            aria-label={`Move scene ${scene().name}`}
            aria-describedby={MOVE_HELP_ID}
            disabled={unsaved()}
            onKeyDown={(event) =>
              arrowMove(
                event,
                scenesIn(itemProps.folderId),
                scene().id,
                (target) => props.onMoveScene(scene(), itemProps.folderId, target),
                key(),
              )
            }
          />
          <span class="swatch" style={{ background: scene().accent_color ?? "var(--felt-light)" }} aria-hidden="true" />
          <span class="item-name">{scene().name}</span>
          <Show when={isActive()}>
            <span class="badge badge-active">Active</span>
          </Show>
        </div>
        <Show when={lock()}>{(l) => <LockBadge lock={l()} mine={mine()} holderName={props.usernames[l().holder_user_id]} />}</Show>
        <div class="scene-actions">
          <Show when={!isShown()}>
            <button
              type="button"
              class="button-small button-quiet"
              aria-label={`View ${scene().name}`}
              onClick={() => props.onView(scene())}
            >
              View
            </button>
          </Show>
          <Show when={!isActive()}>
            <button
              type="button"
              class="button-small button-quiet button-activate"
              title="Show it to the players"
              disabled={props.activating || unsaved()}
              aria-label={`Activate ${scene().name}`}
              onClick={() => props.onActivate(scene())}
            >
              Activate
            </button>
          </Show>
          <button
            type="button"
            class="button-small button-quiet"
            aria-label={`Edit scene ${scene().name}`}
            aria-expanded={isEditing()}
            onClick={() => props.onEdit(scene())}
          >
            Edit
          </button>
          <Show when={!lockedByOther()}>
            <button
              type="button"
              class="button-small button-quiet"
              aria-label={mine() ? `Unlock scene ${scene().name}` : `Lock scene ${scene().name}`}
              title={mine() ? "Let other GMs edit it again" : "Keep other GMs from editing it while you work on it"}
              disabled={props.locks.busy(scene().id) || unsaved()}
              onClick={() => props.onToggleLock(scene())}
            >
              {mine() ? "Unlock" : "Lock"}
            </button>
          </Show>
          <Show
            when={confirmingArchive() === scene().id}
            fallback={
              <button
                type="button"
                class="button-small button-quiet"
                aria-label={`Archive ${scene().name}`}
                disabled={lockedByOther()}
                onClick={() => setConfirmingArchive(scene().id)}
              >
                Archive
              </button>
            }
          >
            <span class="confirm">
              Archive {scene().name} and its tokens?{" "}
              <button
                type="button"
                class="button-small button-danger-inline"
                disabled={lockedByOther()}
                onClick={() => {
                  setConfirmingArchive(null);
                  props.onArchive(scene());
                }}
              >
                Archive it
              </button>{" "}
              <button type="button" class="button-small button-quiet" onClick={() => setConfirmingArchive(null)}>
                Keep
              </button>
            </span>
          </Show>
        </div>
        {props.sceneDetails?.(scene())}
      </li>
    );
  }

  function FolderBranch(branchProps: { folder: Folder }) {
    const folder = () => branchProps.folder;
    const key = () => `folder:${folder().id}`;
    const open = () => !closed().has(folder().id);
    const children = () => foldersIn(folder().id);
    const scenes = () => scenesIn(folder().id);
    const parentId = () => shownParentOf(props.tree, folder().id);
    const isEditing = () => folder().id === props.editingFolderId;
    const accepts = () => {
      const d = dragged();
      if (!d) return false;
      if (d.kind === "scene") return true;
      return !folderAndDescendants(props.tree, d.folder.id).has(folder().id);
    };
    return (
      <li class="folder-item" data-folder-id={folder().id}>
        {/* biome-ignore lint/a11y/noStaticElementInteractions: the mouse drag and drop; the move handle and the folder editor do the same from the keyboard */}
        <div
          class="folder-row"
          classList={{
            "drop-before": hintAt(key()) === "before",
            "drop-after": hintAt(key()) === "after",
            "drop-into": hintAt(key()) === "into",
          }}
          draggable={folder().version !== 0}
          onDragStart={(event) => startDrag(event, { kind: "folder", folder: folder() }, folder().name)}
          onDragEnd={endDrag}
          onDragOver={(event) => {
            const d = dragged();
            if (!d || !accepts()) return;
            allowDrop(event, key(), d.kind === "scene" ? "into" : dropPosition(event, true));
          }}
          onDrop={(event) => {
            const d = dragged();
            if (!d || !accepts()) return;
            event.preventDefault();
            event.stopPropagation();
            const position = d.kind === "scene" ? "into" : dropPosition(event, true);
            endDrag();
            if (d.kind === "scene") void props.onMoveScene(d.scene, folder().id, null);
            else if (position === "into") void props.onMoveFolder(d.folder, folder().id, null);
            else void props.onMoveFolder(d.folder, parentId(), { id: folder().id, position });
          }}
        >
          <button
            type="button"
            class="drag-handle"
            data-move-handle={key()}
            aria-label={`Move folder ${folder().name}`}
            aria-describedby={MOVE_HELP_ID}
            onKeyDown={(event) =>
              arrowMove(event, foldersIn(parentId()), folder().id, (target) => props.onMoveFolder(folder(), parentId(), target), key())
            }
          />
          <button
            type="button"
            class="folder-toggle"
            aria-label={`${folder().name}, ${scenes().length === 1 ? "1 scene" : `${scenes().length} scenes`}`}
            aria-expanded={open()}
            aria-controls={`folder-contents-${folder().id}`}
            onClick={() => toggleFolder(folder().id)}
          >
            <span class="folder-icon" aria-hidden="true" />
            <span class="item-name">{folder().name}</span>
            <span class="folder-count">{scenes().length}</span>
          </button>
          <button
            type="button"
            class="button-small button-quiet"
            aria-label={`Edit folder ${folder().name}`}
            aria-expanded={isEditing()}
            onClick={() => props.onEditFolder(folder())}
          >
            Edit
          </button>
        </div>
        <Show when={isEditing()}>{props.folderDetails?.(folder())}</Show>
        <ul id={`folder-contents-${folder().id}`} class="list folder-contents" aria-label={`In ${folder().name}`} hidden={!open()}>
          <For each={children()}>{(child) => <FolderBranch folder={child} />}</For>
          <For each={scenes()}>{(scene) => <SceneItem scene={scene} folderId={folder().id} />}</For>
          <Show when={children().length === 0 && scenes().length === 0}>
            <li class="folder-empty">Empty: drag scenes here.</li>
          </Show>
        </ul>
      </li>
    );
  }

  const isEmpty = () => props.tree.folders.length === 0 && props.tree.scenes.length === 0;

  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: clears the drop marker when a mouse drag leaves the tree
    <div
      class="scene-navigator"
      ref={root}
      onDragLeave={(event) => {
        if (!root?.contains(event.relatedTarget as Node | null)) setHint(null);
      }}
    >
      <p id={MOVE_HELP_ID} class="visually-hidden">
        Press the up or down arrow key to move it; drag it with the mouse to reorder it or put it into a folder.
      </p>
      <Show when={!isEmpty()} fallback={<p class="empty">No scenes yet.</p>}>
        <ul class="list scene-tree" aria-label="Scenes">
          <For each={foldersIn(null)}>{(folder) => <FolderBranch folder={folder} />}</For>
          <For each={props.tree.scenes}>{(scene) => <SceneItem scene={scene} folderId={null} />}</For>
        </ul>
      </Show>
      <Show when={dragged()}>
        {/* biome-ignore lint/a11y/noStaticElementInteractions: a drop target of a mouse drag; keyboard users move with the arrow keys */}
        <div
          class="drop-zone"
          classList={{ "drop-into": hintAt("root") !== null }}
          onDragOver={(event) => allowDrop(event, "root", "into")}
          onDrop={(event) => {
            const d = dragged();
            event.preventDefault();
            endDrag();
            if (d?.kind === "scene") void props.onMoveScene(d.scene, null, null);
            else if (d?.kind === "folder") void props.onMoveFolder(d.folder, null, null);
          }}
        >
          Drop here to move it to the top level
        </div>
      </Show>
    </div>
  );
}
