import ChevronDown from "lucide-solid/icons/chevron-down";
import ChevronRight from "lucide-solid/icons/chevron-right";
import { createMemo, createSignal, For, Show } from "solid-js";
import { buildLibraryTree, type FolderNode, LIBRARY_DRAG_TYPE } from "../lib/library";
import { createSubmitter } from "../lib/submit";
import type { Folder, Token, TokenArt } from "../lib/types";
import { assetFileUrl } from "../lib/upload";
import { CroppedArt } from "./CroppedArt";
import { ErrorMessage } from "./ErrorMessage";

const THUMB_PX = 32;

export interface LibraryActions {
  onEdit: (tokenId: string) => void;
  /** Places a copy on the scene shown on the table (the keyboard's way to drag). */
  onPlace: (tokenId: string) => Promise<unknown>;
  onCreateFolder: (name: string, parentId: string | null) => Promise<unknown>;
  onRenameFolder: (id: string, name: string) => Promise<unknown>;
  onArchiveFolder: (id: string) => Promise<unknown>;
  /** Files a library token in a folder (null: no folder). */
  onFile: (tokenId: string, folderId: string | null) => Promise<unknown>;
}

/**
 * The GM's token library: library tokens (no scene) in nested folders. A token is dragged onto
 * the table to place a copy of it (and of its art) there, or onto a folder to file it; "Place"
 * does the same from the keyboard. Folders are created, renamed and archived here; the contents of
 * an archived folder show at the top level until it is restored.
 */
export function TokenLibrary(
  props: LibraryActions & {
    sessionId: string;
    folders: Folder[];
    tokens: Token[];
    art: Record<string, TokenArt>;
    selectedId: string | null;
    /** A scene is shown on the table (tokens can be placed). */
    canPlace: boolean;
  },
) {
  const tree = createMemo(() => buildLibraryTree(props.folders, props.tokens));
  const [folderName, setFolderName] = createSignal("");
  const acting = createSubmitter((action: () => Promise<unknown>) => action(), { serial: true });
  const [dropOnRoot, setDropOnRoot] = createSignal(false);

  function createRootFolder(event: SubmitEvent) {
    event.preventDefault();
    const name = folderName().trim();
    if (name === "") return;
    setFolderName("");
    void acting.run(() => props.onCreateFolder(name, null));
  }

  const empty = () => tree().folders.length === 0 && tree().tokens.length === 0;

  return (
    <section class="card sidebar-card token-library" aria-labelledby="library-heading">
      <h2 id="library-heading">Token library</h2>
      <p class="hint">
        {props.canPlace
          ? "Drag a token onto the table to place a copy of it there; drag it onto a folder to file it."
          : "Open a scene to place tokens."}
      </p>
      <Show when={!empty()} fallback={<p class="empty">No library tokens yet: add one with “New token”, placed on “Library”.</p>}>
        <ul
          class="library-tree"
          classList={{ "drop-here": dropOnRoot() }}
          aria-label="Token library"
          onDragOver={(event) => {
            if (![...(event.dataTransfer?.types ?? [])].includes(LIBRARY_DRAG_TYPE) || event.target !== event.currentTarget) return;
            event.preventDefault();
            setDropOnRoot(true);
          }}
          onDragLeave={() => setDropOnRoot(false)}
          onDrop={(event) => {
            setDropOnRoot(false);
            if (event.target !== event.currentTarget) return;
            const id = event.dataTransfer?.getData(LIBRARY_DRAG_TYPE);
            if (!id) return;
            event.preventDefault();
            void acting.run(() => props.onFile(id, null));
          }}
        >
          <For each={tree().folders}>{(node) => <FolderItem node={node} {...props} run={acting.run} />}</For>
          <For each={tree().tokens}>{(token) => <TokenItem token={token} {...props} />}</For>
        </ul>
      </Show>
      <form class="form inline-form" onSubmit={createRootFolder}>
        <div class="field">
          <label for="library-folder-name">New folder</label>
          <input
            id="library-folder-name"
            maxLength={200}
            placeholder="Undead"
            value={folderName()}
            onInput={(event) => setFolderName(event.currentTarget.value)}
          />
        </div>
        <button type="submit" disabled={folderName().trim() === ""}>
          Create folder
        </button>
      </form>
      <ErrorMessage message={acting.error()} />
    </section>
  );
}

type ItemProps = LibraryActions & {
  sessionId: string;
  art: Record<string, TokenArt>;
  selectedId: string | null;
  canPlace: boolean;
};

function FolderItem(props: ItemProps & { node: FolderNode; run: (action: () => Promise<unknown>) => Promise<unknown> }) {
  const [open, setOpen] = createSignal(true);
  const [renaming, setRenaming] = createSignal<string | null>(null);
  const [adding, setAdding] = createSignal<string | null>(null);
  const [confirmArchive, setConfirmArchive] = createSignal(false);
  const [dropHere, setDropHere] = createSignal(false);
  const folder = () => props.node.folder;
  const count = () => props.node.tokens.length;

  return (
    <li class="library-folder" data-folder-id={folder().id}>
      {/* biome-ignore lint/a11y/noStaticElementInteractions: a drop zone (files a dragged token here); "Library folder" in the inspector does it by keyboard */}
      <div
        class="folder-row"
        classList={{ "drop-here": dropHere() }}
        onDragOver={(event) => {
          if (![...(event.dataTransfer?.types ?? [])].includes(LIBRARY_DRAG_TYPE)) return;
          event.preventDefault();
          if (event.dataTransfer) event.dataTransfer.dropEffect = "move";
          setDropHere(true);
        }}
        onDragLeave={() => setDropHere(false)}
        onDrop={(event) => {
          setDropHere(false);
          const id = event.dataTransfer?.getData(LIBRARY_DRAG_TYPE);
          if (!id) return;
          event.preventDefault();
          event.stopPropagation();
          void props.run(() => props.onFile(id, folder().id));
        }}
      >
        <button
          type="button"
          class="folder-toggle"
          aria-expanded={open()}
          aria-label={`${open() ? "Collapse" : "Expand"} ${folder().name}`}
          onClick={() => setOpen(!open())}
        >
          {open() ? <ChevronDown size={16} aria-hidden="true" /> : <ChevronRight size={16} aria-hidden="true" />}
        </button>
        <Show
          when={renaming() !== null}
          fallback={
            <span class="item-name folder-name">
              {folder().name} <span class="count">({count()})</span>
            </span>
          }
        >
          <form
            class="rename-inline"
            onSubmit={(event) => {
              event.preventDefault();
              const name = (renaming() ?? "").trim();
              setRenaming(null);
              if (name !== "" && name !== folder().name) void props.run(() => props.onRenameFolder(folder().id, name));
            }}
          >
            <input
              aria-label={`New name for ${folder().name}`}
              maxLength={200}
              value={renaming() ?? ""}
              onInput={(event) => setRenaming(event.currentTarget.value)}
              onKeyDown={(event) => {
                if (event.key === "Escape") setRenaming(null);
              }}
            />
            <button type="submit" class="button-small">
              Save
            </button>
          </form>
        </Show>
        <Show when={renaming() === null}>
          <button
            type="button"
            class="button-small button-quiet"
            aria-label={`New folder in ${folder().name}`}
            title="New folder inside"
            onClick={() => setAdding("")}
          >
            +
          </button>
          <button
            type="button"
            class="button-small button-quiet"
            aria-label={`Rename ${folder().name}`}
            onClick={() => setRenaming(folder().name)}
          >
            Rename
          </button>
          <button
            type="button"
            class="button-small button-quiet"
            aria-label={`Archive ${folder().name}`}
            onClick={() => setConfirmArchive(true)}
          >
            Archive
          </button>
        </Show>
      </div>
      <Show when={confirmArchive()}>
        <p class="confirm">
          Archive {folder().name}? What it holds shows at the top level until it is restored.{" "}
          <button
            type="button"
            class="button-small"
            onClick={() => {
              setConfirmArchive(false);
              void props.run(() => props.onArchiveFolder(folder().id));
            }}
          >
            Archive folder
          </button>{" "}
          <button type="button" class="button-small button-quiet" onClick={() => setConfirmArchive(false)}>
            Keep
          </button>
        </p>
      </Show>
      <Show when={adding() !== null}>
        <form
          class="rename-inline"
          onSubmit={(event) => {
            event.preventDefault();
            const name = (adding() ?? "").trim();
            setAdding(null);
            if (name !== "") {
              setOpen(true);
              void props.run(() => props.onCreateFolder(name, folder().id));
            }
          }}
        >
          <input
            aria-label={`Name of the new folder in ${folder().name}`}
            maxLength={200}
            value={adding() ?? ""}
            onInput={(event) => setAdding(event.currentTarget.value)}
            onKeyDown={(event) => {
              if (event.key === "Escape") setAdding(null);
            }}
          />
          <button type="submit" class="button-small">
            Create
          </button>
        </form>
      </Show>
      <Show when={open() && (props.node.children.length > 0 || props.node.tokens.length > 0)}>
        <ul class="library-tree nested" aria-label={folder().name}>
          <For each={props.node.children}>{(child) => <FolderItem {...props} node={child} />}</For>
          <For each={props.node.tokens}>{(token) => <TokenItem {...props} token={token} />}</For>
        </ul>
      </Show>
    </li>
  );
}

function TokenItem(props: ItemProps & { token: Token }) {
  const placing = createSubmitter(() => props.onPlace(props.token.id));
  const art = () => props.art[props.token.id];

  return (
    <li
      class="library-token"
      classList={{ selected: props.selectedId === props.token.id }}
      draggable={true}
      data-token-id={props.token.id}
      aria-label={props.token.name}
      onDragStart={(event) => {
        if (!event.dataTransfer) return;
        event.dataTransfer.setData(LIBRARY_DRAG_TYPE, props.token.id);
        event.dataTransfer.setData("text/plain", props.token.name);
        event.dataTransfer.effectAllowed = "copyMove";
      }}
    >
      <span class="library-thumb" style={{ width: `${THUMB_PX}px`, height: `${THUMB_PX}px` }}>
        <Show when={art()} fallback={<span class="token-initial">{props.token.name.slice(0, 1).toUpperCase()}</span>}>
          {(a) => <CroppedArt src={assetFileUrl(props.sessionId, a().image_asset)} crop={a().crop} width={THUMB_PX} height={THUMB_PX} />}
        </Show>
      </span>
      <span class="item-name">{props.token.name}</span>
      <button
        type="button"
        class="button-small button-quiet"
        aria-label={`Edit ${props.token.name}`}
        onClick={() => props.onEdit(props.token.id)}
      >
        Edit
      </button>
      <Show when={props.canPlace}>
        <button
          type="button"
          class="button-small"
          aria-label={`Place ${props.token.name} on the table`}
          disabled={placing.pending()}
          onClick={() => void placing.run()}
        >
          Place
        </button>
      </Show>
    </li>
  );
}
