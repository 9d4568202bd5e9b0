import { A } from "@solidjs/router";
import Archive from "lucide-solid/icons/archive";
import ChevronDown from "lucide-solid/icons/chevron-down";
import ChevronUp from "lucide-solid/icons/chevron-up";
import Eye from "lucide-solid/icons/eye";
import EyeOff from "lucide-solid/icons/eye-off";
import PanelRightClose from "lucide-solid/icons/panel-right-close";
import PanelRightOpen from "lucide-solid/icons/panel-right-open";
import Redo2 from "lucide-solid/icons/redo-2";
import RefreshCw from "lucide-solid/icons/refresh-cw";
import Undo2 from "lucide-solid/icons/undo-2";
import Users from "lucide-solid/icons/users";
import { createMemo, createResource, createSignal, onCleanup, onMount, Show } from "solid-js";
import type { Json } from "../../../domain/merge-patch";
import { api, createGmApi } from "../lib/api";
import { plain } from "../lib/authoring";
import { createCameraStore } from "../lib/camera-store";
import { clearStrokesOps, type Note } from "../lib/drawing";
import { type GridPatch, gridOf } from "../lib/grid";
import { buildLibraryTree, flattenFolders, freeCell } from "../lib/library";
import { sortSiblings } from "../lib/ordering";
import { paths } from "../lib/paths";
import type { PreviewSender } from "../lib/preview";
import { entityKey, nextBaseVersion } from "../lib/queue";
import { createRoster } from "../lib/roster";
import { lightingOf } from "../lib/session-flags";
import type { SessionSync } from "../lib/sync";
import { createTableAuthoring, loadLayersOfShownScene } from "../lib/table-authoring";
import type { Scene, Token, TokenArt } from "../lib/types";
import { bindUndoKeys, createSessionUndo } from "../lib/undo";
import { ArchiveBin } from "./ArchiveBin";
import { ArchivedNotice } from "./ArchivedNotice";
import { ConflictDialog } from "./ConflictDialog";
import { ConnectionIndicator } from "./ConnectionIndicator";
import { ErrorMessage } from "./ErrorMessage";
import { HistoryPanel } from "./HistoryPanel";
import { InviteButton } from "./InviteButton";
import { MembersPanel } from "./MembersPanel";
import { ModuleHuds, ModuleOverlays, ModulePanels, ModuleTokenMenuItems, ModuleTools, modulePanelTabs } from "./ModuleSlots";
import { NewTokenForm, type NewTokenInput } from "./NewTokenForm";
import { RoleBadge } from "./RoleBadge";
import { SceneManager } from "./SceneManager";
import { SelectionActions } from "./SelectionActions";
import { SessionToggles } from "./SessionToggles";
import { type SidebarTab, SidebarTabs } from "./SidebarTabs";
import { type Ghost, TableCanvas } from "./TableCanvas";
import { TokenInspector } from "./TokenInspector";
import { TokenLibrary } from "./TokenLibrary";

const PANEL_KEY = "vtt.gm-panel";
const DOCK_KEY = "vtt.table-dock";

function readFlag(key: string, fallback: boolean): boolean {
  try {
    const stored = globalThis.localStorage?.getItem(key);
    return stored === "open" ? true : stored === "closed" ? false : fallback;
  } catch {
    return fallback;
  }
}

function writeFlag(key: string, open: boolean): void {
  try {
    globalThis.localStorage?.setItem(key, open ? "open" : "closed");
  } catch {
    // Private mode or storage full: the choice is forgotten.
  }
}

const narrowScreen = () => typeof matchMedia === "function" && matchMedia("(max-width: 700px)").matches;
const readPanelOpen = () => readFlag(PANEL_KEY, !narrowScreen());
const writePanelOpen = (open: boolean) => writeFlag(PANEL_KEY, open);
const readDockOpen = () => readFlag(DOCK_KEY, !narrowScreen());
const writeDockOpen = (open: boolean) => writeFlag(DOCK_KEY, open);

/**
 * One session's table, drawn from the sync layer's view: a compact header with the connection,
 * a strip for notices (never over the map), the table filling the rest of the window with its
 * floating tools, and for GMs the authoring panel in tabs (Scenes, Library, Token, the modules'
 * (Initiative), People, Archive, History, Settings; nothing above them) that folds away to give the table the whole window. Every edit is queued through `sync` (shown at
 * once, sent when it can be); only activating a scene is a direct call (it is recorded in the
 * activation timeline). Players may drag the tokens whose `owner_user_ids` name them.
 */
export function SessionTable(props: {
  sessionId: string;
  userId: string;
  sync: SessionSync;
  ghosts: Record<string, Ghost>;
  preview: PreviewSender;
  /** People connected to the session right now (by user; from presence). */
  connectedUsers: number;
}) {
  // The GM's selection on the table (several with shift-click or a box); the inspector shows a single one.
  const [selectedIds, setSelectedIds] = createSignal<string[]>([]);
  const selectedId = () => (selectedIds().length === 1 ? (selectedIds()[0] ?? null) : null);
  const setSelectedId = (id: string | null) => setSelectedIds(id ? [id] : []);
  // Picking tokens on the table, dropping one there from the library, or "Edit" in the library
  // brings the GM panel's Token tab to the front.
  const [tabRequest, setTabRequest] = createSignal<{ id: string } | null>(null);
  const pickTokens = (ids: string[]) => {
    setSelectedIds(ids);
    if (ids.length > 0) setTabRequest({ id: "token" });
  };
  const [showHidden, setShowHidden] = createSignal(true);
  const view = props.sync.view;
  const cameraStore = createCameraStore(props.userId, props.sessionId);
  // The GM panels' calls beyond the sync layer, and who is in the session (inert until a GM panel starts it).
  const gmApi = createGmApi(props.sessionId, props.sync.modules);
  const roster = createRoster({ api: gmApi, sync: props.sync });
  const me = () => props.userId;
  const isGm = () => view.role === "gm";
  // The navigator's order (ordering.ts), so the token form's scene picker lists scenes alike.
  const scenes = createMemo(() => sortSiblings(Object.values(view.scenes).filter((s) => s.archived_at === null)));
  const activeSceneId = () => view.session_state?.active_scene_id ?? null;
  const activeScene = () => {
    const id = activeSceneId();
    return id ? view.scenes[id] : undefined;
  };
  // A GM may prepare another scene than the one players see; players always see the active one.
  const [viewedId, setViewedId] = createSignal<string | null>(null);
  const shownScene = () => {
    const id = isGm() ? viewedId() : null;
    return (id ? view.scenes[id] : undefined) ?? activeScene();
  };
  const preparing = () => {
    const shown = shownScene();
    return shown !== undefined && shown.id !== activeSceneId() ? shown : undefined;
  };
  const sceneTokens = createMemo(() => {
    const scene = shownScene();
    if (!scene) return [];
    return Object.values(view.tokens).filter(
      (t) => t.scene_id === scene.id && t.archived_at === null && (!t.hidden || (isGm() && showHidden())),
    );
  });
  const artByToken = createMemo(() => {
    const out: Record<string, TokenArt> = {};
    for (const art of Object.values(view.token_art)) if (art.archived_at === null) out[art.token_id] = art;
    return out;
  });
  const gridOpacity = () => {
    const value = view.session_state?.flags?.grid_opacity;
    return typeof value === "number" && value >= 0 && value <= 1 ? value : 0.5;
  };
  const selected = () => {
    const id = selectedId();
    const token = id ? view.tokens[id] : undefined;
    return token && token.archived_at === null ? token : undefined;
  };
  // What game modules (modules/client.ts) get to draw their panels and overlays.
  const moduleProps = () => ({
    sessionId: props.sessionId,
    userId: props.userId,
    sync: props.sync,
    isGm: isGm(),
    scene: shownScene(),
    selectedTokenId: selectedId(),
  });
  const canMove = (token: Token) => isGm() || (token.owner_user_ids ?? []).includes(me());
  const conflict = () => view.sync.conflict;
  // Undo and redo of this GM's own confirmed actions (lib/undo.ts), and the history panel.
  const { undo, history, dispose: stopUndo } = createSessionUndo(props.sessionId, props.sync);
  onCleanup(stopUndo);
  onMount(() => onCleanup(bindUndoKeys(window, undo, isGm)));
  const [historyOf, setHistoryOf] = createSignal<"token" | "scene" | null>(null);
  const historyTarget = () => {
    const kind = historyOf();
    const entity = kind === "token" ? selected() : kind === "scene" ? shownScene() : undefined;
    return kind && entity ? { type: kind, entity } : undefined;
  };
  const [memberList] = createResource(
    () => isGm() && historyOf() !== null,
    () => api.getSession(props.sessionId).then((detail) => detail.members),
  );
  const nameOf = (userId: string) =>
    userId === me()
      ? "you"
      : ((memberList.error ? undefined : memberList.latest)?.find((m) => m.user_id === userId)?.username ?? "another member");
  // Members join over time: read them again whenever the GM selects a token.
  const [members] = createResource(
    () => (isGm() ? (selectedId() ?? false) : false),
    () => api.getSession(props.sessionId).then((detail) => detail.members),
  );
  const players = () => (members.error ? [] : (members.latest ?? [])).filter((m) => m.role === "player");
  // Who changed the server's side of a conflict: the members, read when a conflict shows.
  const [conflictMembers] = createResource(
    () => conflict() !== null,
    () => api.getSession(props.sessionId).then((detail) => detail.members),
  );
  const conflictAuthorName = (userId: string) =>
    userId === me()
      ? "you (in another tab or on another device)"
      : (conflictMembers.error ? undefined : conflictMembers.latest)?.find((m) => m.user_id === userId)?.username;

  // Library, selection and layer edits (lib/table-authoring.ts), all through the sync queue.
  const authoring = createTableAuthoring({ sync: props.sync, view });
  const tokenFolderList = createMemo(() => flattenFolders(buildLibraryTree(Object.values(view.folders), [])));
  const selectedTokens = () => selectedIds().flatMap((id) => (view.tokens[id]?.archived_at === null ? [view.tokens[id]] : []));
  const sceneLayers = () => Object.values(view.layers).filter((l) => l.scene_id === shownScene()?.id);
  loadLayersOfShownScene(
    () => (isGm() ? shownScene()?.id : undefined),
    (id) => props.sync.loadScene(id),
  );

  // What the GM just archived, for the notice's Undo: a restore of each on the version its archive makes
  // (archived tokens leave the view, so it is worked out before).
  // Scenes and folders likewise; a deleted note's Undo puts it back.
  const [archived, setArchived] = createSignal<{ label: string; verb?: string; undo: () => Promise<unknown> } | null>(null);
  /** The restores that undo archiving these entities: each on the version its archive makes. */
  function restoresOf(type: "token" | "scene" | "folder", ids: string[]): () => Promise<void> {
    const versions: [string, number][] = [];
    for (const id of ids) {
      const base = nextBaseVersion(props.sync.queue.state().ops, type, id, view[`${type}s`][id]?.version ?? null);
      if (base !== null) versions.push([id, base + 1]);
    }
    return async () => {
      for (const [id, version] of versions) await props.sync.restore(type, id, version);
    };
  }
  async function archiveTokens(ids: string[], archive: () => Promise<unknown>) {
    const names = ids.map((id) => view.tokens[id]?.name ?? "a token");
    const undo = restoresOf("token", ids);
    await archive();
    setArchived({ label: ids.length === 1 ? (names[0] ?? "a token") : `${ids.length} tokens`, undo });
  }
  async function archiveWithUndo(type: "scene" | "folder", id: string, label: string) {
    const undo = restoresOf(type, [id]);
    await props.sync.archive(type, id);
    setArchived({ label, undo });
  }
  /**
   * Clears every drawing of the scene and offers the notice's Undo: each cleared layer's strokes
   * written back as one queued edit (offline too), on the version its clear makes. When the layer
   * changed since (a new stroke, another GM), Undo refuses and says so instead of overwriting it.
   */
  async function clearDrawingsWithUndo(sceneId: string) {
    const ops = props.sync.queue.state().ops;
    const drafts = clearStrokesOps(Object.values(view.layers), sceneId);
    const cleared = drafts.flatMap((draft) => {
      const layer = view.layers[draft.id];
      const base = layer ? nextBaseVersion(ops, "layer", draft.id, layer.version) : null;
      return layer && base !== null ? [{ id: draft.id, strokes: plain((layer.payload?.strokes ?? null) as Json), version: base + 1 }] : [];
    });
    if (drafts.length === 0) return;
    const label = `the drawings of ${view.scenes[sceneId]?.name ?? "this scene"}`;
    await props.sync.submit(drafts);
    setArchived({
      label,
      verb: "Cleared",
      undo: async () => {
        const pending = props.sync.queue.state().ops;
        const changed = cleared.some((c) => nextBaseVersion(pending, "layer", c.id, view.layers[c.id]?.version ?? null) !== c.version);
        if (changed) {
          throw new Error(`Undo refused: ${label} changed since they were cleared, and undoing would overwrite that change.`);
        }
        await props.sync.submit(
          cleared.map((c) => ({ op: "update" as const, type: "layer" as const, id: c.id, patch: { payload: { strokes: c.strokes } } })),
        );
      },
    });
  }
  /** A table gesture's edit that could not be queued (the canvas has no form to show it in). */
  const reportEdit = (error: unknown) => console.error(JSON.stringify({ level: "error", msg: "edit not queued", error: String(error) }));
  function noteDeleted(note: Note, restore: (note: Note) => void) {
    const text = note.text.trim();
    setArchived({
      label: text ? `note “${text.length > 24 ? `${text.slice(0, 24)}…` : text}”` : "a note",
      verb: "Deleted",
      undo: async () => restore(note),
    });
  }

  async function createToken(input: NewTokenInput) {
    const offset = sceneTokens().length % 10;
    const grid = gridOf(shownScene() ?? {});
    await authoring.createToken({ ...input, x: grid.offsetX + grid.size * (1 + offset), y: grid.offsetY + grid.size * (1 + offset) });
  }

  // The GM panel folds away to give the table the whole window; the choice is kept in this browser.
  const [panelOpen, setPanelOpen] = createSignal(readPanelOpen());
  const togglePanel = () => {
    const next = !panelOpen();
    setPanelOpen(next);
    writePanelOpen(next);
  };
  // The modules' panels float over the table's bottom left; they fold too (folded on narrow screens by default).
  const [dockOpen, setDockOpen] = createSignal(readDockOpen());
  const toggleDock = () => {
    const next = !dockOpen();
    setDockOpen(next);
    writeDockOpen(next);
  };

  const tokenMenu = (token: Token, close: () => void) => (
    <>
      <ModuleTokenMenuItems {...moduleProps()} token={token} close={close} />
      <Show when={isGm()}>
        <fieldset class="token-menu-group">
          <legend class="visually-hidden">Token</legend>
          <button
            type="button"
            role="menuitem"
            class="token-menu-item"
            tabIndex={-1}
            onClick={() => {
              void authoring.setHidden([token.id], !token.hidden);
              close();
            }}
          >
            {token.hidden ? <Eye aria-hidden="true" /> : <EyeOff aria-hidden="true" />}
            <span>{token.hidden ? "Show to players" : "Hide from players"}</span>
          </button>
          <button
            type="button"
            role="menuitem"
            class="token-menu-item"
            tabIndex={-1}
            onClick={() => {
              close();
              void archiveTokens([token.id], () => authoring.archiveTokens([token.id])).then(() =>
                setSelectedIds(selectedIds().filter((id) => id !== token.id)),
              );
            }}
          >
            <Archive aria-hidden="true" />
            <span>Archive</span>
          </button>
        </fieldset>
      </Show>
    </>
  );

  const tabs = (): SidebarTab[] => [
    {
      id: "scenes",
      label: "Scenes",
      content: (
        <SceneManager
          sessionId={props.sessionId}
          userId={props.userId}
          sync={props.sync}
          api={gmApi}
          roster={roster}
          activeSceneId={activeSceneId()}
          shownSceneId={shownScene()?.id ?? null}
          onView={(scene) => setViewedId(scene.id)}
          archive={archiveWithUndo}
          onActivate={async (scene: Scene) => {
            await api.activateScene(props.sessionId, scene.id);
            setViewedId(null);
          }}
        />
      ),
    },
    {
      id: "library",
      label: "Library",
      content: (
        <div class="stack">
          <TokenLibrary
            sessionId={props.sessionId}
            folders={Object.values(view.folders)}
            tokens={Object.values(view.tokens)}
            art={artByToken()}
            selectedId={selectedId()}
            canPlace={shownScene() !== undefined}
            onEdit={(id) => pickTokens([id])}
            onPlace={async (id) => {
              const scene = shownScene();
              if (!scene) return;
              const cell = freeCell(sceneTokens(), gridOf(scene));
              const placed = await authoring.placeLibraryToken(id, scene.id, cell.x, cell.y);
              if (placed) setSelectedId(placed);
            }}
            onCreateFolder={authoring.createFolder}
            onRenameFolder={authoring.renameFolder}
            onArchiveFolder={authoring.archiveFolder}
            onFile={authoring.fileToken}
          />
          <NewTokenForm
            sessionId={props.sessionId}
            scenes={scenes()}
            defaultSceneId={shownScene()?.id ?? null}
            folders={tokenFolderList()}
            onCreate={createToken}
          />
        </div>
      ),
    },
    {
      id: "token",
      label: "Token",
      content: (
        <div class="stack">
          <Show when={selectedTokens().length === 0}>
            <p class="empty">Pick a token on the table (Shift for several) to edit it here.</p>
          </Show>
          <Show when={selected()}>
            {(token) => (
              <TokenInspector
                sessionId={props.sessionId}
                token={token()}
                art={artByToken()[token().id]}
                players={players()}
                onPatch={(patch) => props.sync.update("token", token().id, patch)}
                onArchive={async () => {
                  const id = token().id;
                  await archiveTokens([id], () => props.sync.archive("token", id));
                  setSelectedId(null);
                }}
                folders={tokenFolderList()}
                onArt={(hash, crop) => authoring.setArt(token().id, hash, crop)}
                onCrop={async (crop) => {
                  const art = artByToken()[token().id];
                  if (art) await authoring.saveCrop(art.id, crop);
                }}
                onClose={() => setSelectedId(null)}
              />
            )}
          </Show>
          <Show when={selectedTokens().length > 1}>
            <SelectionActions
              tokens={selectedTokens()}
              onHidden={(hidden) => authoring.setHidden(selectedIds(), hidden)}
              onArchive={async () => {
                const ids = selectedIds();
                await archiveTokens(ids, () => authoring.archiveTokens(ids));
                setSelectedIds([]);
              }}
              onClear={() => setSelectedIds([])}
            />
          </Show>
          <ModulePanels {...moduleProps()} place="token" />
        </div>
      ),
    },
    ...modulePanelTabs(props.sync.modules).map((tab) => ({
      id: tab.id,
      label: tab.label,
      content: <ModulePanels {...moduleProps()} only={tab.module} />,
    })),
    { id: "people", label: "People", content: <MembersPanel userId={props.userId} roster={roster} /> },
    { id: "archive", label: "Archive", content: <ArchiveBin api={gmApi} sync={props.sync} /> },
    {
      id: "history",
      label: "History",
      content: (
        <div class="stack">
          <div class="button-row history-toggle">
            <button
              type="button"
              class="button-small"
              aria-pressed={historyOf() === "token"}
              disabled={!selected()}
              onClick={() => setHistoryOf(historyOf() === "token" ? null : "token")}
            >
              Token history
            </button>
            <button
              type="button"
              class="button-small"
              aria-pressed={historyOf() === "scene"}
              disabled={!shownScene()}
              onClick={() => setHistoryOf(historyOf() === "scene" ? null : "scene")}
            >
              Scene history
            </button>
          </div>
          <Show when={historyTarget()} fallback={<p class="empty">Select a token, or pick the scene, to see its history.</p>}>
            {(target) => (
              <HistoryPanel
                entityType={target().type}
                entity={target().entity}
                api={history}
                nameOf={nameOf}
                pending={(view.pending[entityKey(target().type, target().entity.id)] ?? 0) > 0}
                onRestored={(result, base, version) => {
                  props.sync.accept([{ type: target().type, entity: result }]);
                  undo.recordRevert(target().type, result.id, base, version, result);
                }}
                onReload={() => props.sync.reload()}
                onClose={() => setHistoryOf(null)}
              />
            )}
          </Show>
        </div>
      ),
    },
    {
      id: "settings",
      label: "Settings",
      content: (
        <div class="stack card sidebar-card">
          <SessionToggles sync={props.sync} />
          <label class="toggle">
            <input type="checkbox" checked={showHidden()} onChange={(event) => setShowHidden(event.currentTarget.checked)} /> Show hidden
            tokens
          </label>
        </div>
      ),
    },
  ];

  return (
    <div class="page table-page" classList={{ "panel-closed": isGm() && !panelOpen() }}>
      <div class="page-heading table-header">
        <h1>{view.session?.name}</h1>
        <Show when={view.role}>{(role) => <RoleBadge role={role()} />}</Show>
        <ConnectionIndicator connection={view.connection} pending={view.sync.pending} />
        <Show when={props.connectedUsers > 0}>
          <span
            class="presence"
            title={props.connectedUsers === 1 ? "1 person at the table" : `${props.connectedUsers} people at the table`}
          >
            <Users aria-hidden="true" />
            <span class="presence-text">
              {props.connectedUsers === 1 ? "1 person at the table" : `${props.connectedUsers} people at the table`}
            </span>
          </span>
        </Show>
        <span class="seq" title="Change sequence of this session">
          seq {view.seq}
        </span>
        <span class="header-actions">
          <button type="button" class="button-quiet icon-text" aria-label="Reload" title="Reload" onClick={() => void props.sync.reload()}>
            <RefreshCw aria-hidden="true" />
            <span class="header-label">Reload</span>
          </button>
          <Show when={isGm()}>
            <InviteButton sessionId={props.sessionId} sessionName={view.session?.name ?? ""} />
            <button
              type="button"
              class="button-quiet icon-text"
              aria-label="Undo"
              aria-keyshortcuts="Control+Z"
              title={undo.nextUndo() ? `Undo ${undo.nextUndo()?.label} (Ctrl+Z)` : "Nothing to undo"}
              disabled={!undo.nextUndo() || undo.busy()}
              onClick={() => void undo.undo()}
            >
              <Undo2 aria-hidden="true" />
              <span class="header-label">Undo</span>
            </button>
            <button
              type="button"
              class="button-quiet icon-text"
              aria-label="Redo"
              aria-keyshortcuts="Control+Shift+Z"
              title={undo.nextRedo() ? `Redo ${undo.nextRedo()?.label} (Ctrl+Shift+Z)` : "Nothing to redo"}
              disabled={!undo.nextRedo() || undo.busy()}
              onClick={() => void undo.redo()}
            >
              <Redo2 aria-hidden="true" />
              <span class="header-label">Redo</span>
            </button>
            <button
              type="button"
              class="button-quiet icon-text"
              aria-label="GM panel"
              aria-expanded={panelOpen()}
              aria-controls="gm-panel"
              title={panelOpen() ? "Fold the GM panel away" : "Open the GM panel"}
              onClick={togglePanel}
            >
              {panelOpen() ? <PanelRightClose aria-hidden="true" /> : <PanelRightOpen aria-hidden="true" />}
              <span class="header-label">Panel</span>
            </button>
          </Show>
        </span>
      </div>
      <div class="table-notices">
        <ErrorMessage message={view.sync.loadError} />
        <Show when={undo.message()}>
          {(text) => (
            <p class="undo-message" role="status">
              {text()}{" "}
              <button type="button" class="button-small button-quiet" onClick={() => undo.clearMessage()}>
                Dismiss
              </button>
            </p>
          )}
        </Show>
        <Show when={archived()} keyed>
          {(notice) => (
            <ArchivedNotice
              label={notice.label}
              {...(notice.verb ? { verb: notice.verb } : {})}
              onUndo={() => notice.undo()}
              onDismiss={() => setArchived(null)}
            />
          )}
        </Show>
        <Show when={view.sync.rejected}>
          {(rejected) => (
            <div class="banner" role="alert">
              The server refused a change: {rejected().error.message}{" "}
              <button type="button" class="button-small" onClick={() => void props.sync.dropRejected()}>
                Discard that change
              </button>
            </div>
          )}
        </Show>
        <Show when={view.sync.unauthorized}>
          <div class="banner" role="alert">
            Your changes wait until you sign in again. <A href={paths.home}>Sign in</A>
          </div>
        </Show>
      </div>

      <div class="table-layout" classList={{ "with-sidebar": isGm() && panelOpen() }}>
        <div class="table-main" data-lighting={lightingOf(view.session_state?.flags) ? "on" : "off"}>
          <div class="table-scene-chip">
            <Show when={activeScene()} fallback={<p class="empty">The GM has not opened a scene yet.</p>}>
              {(scene) => (
                <p class="active-scene" data-testid="active-scene">
                  {scene().name}
                </p>
              )}
            </Show>
            <Show when={preparing()}>
              {(scene) => (
                <p class="preparing">
                  Preparing <strong>{scene().name}</strong> (players do not see it){" "}
                  <button type="button" class="button-small button-quiet" onClick={() => setViewedId(null)}>
                    Back to the active scene
                  </button>
                </p>
              )}
            </Show>
          </div>
          <Show when={shownScene()} keyed>
            {(scene) => (
              <TableCanvas
                sessionId={props.sessionId}
                scene={scene}
                tokens={sceneTokens()}
                art={artByToken()}
                gridOpacity={gridOpacity()}
                canMove={canMove}
                selectedId={isGm() ? selectedId() : null}
                selectedIds={isGm() ? selectedIds() : []}
                pending={view.pending}
                ghosts={props.ghosts}
                onSelect={(id) => pickTokens(id ? [id] : [])}
                cameraStore={cameraStore}
                isOwn={(token) => (token.owner_user_ids ?? []).includes(me())}
                {...(isGm() ? { tokenMenu } : {})}
                {...(isGm()
                  ? {
                      onSelectMany: pickTokens,
                      onMoveMany: (moves: { token: Token; x: number; y: number }[]) => {
                        props.preview.cancel();
                        authoring.moveMany(moves);
                      },
                      onResize: authoring.resize,
                      onRotate: authoring.rotate,
                      layerEdits: {
                        ...authoring.layerEdits(scene.id),
                        clearStrokes: () => void clearDrawingsWithUndo(scene.id).catch(reportEdit),
                      },
                      onNoteDeleted: (note: Note) => noteDeleted(note, (back) => authoring.layerEdits(scene.id).putNote(back)),
                      onFitGrid: (patch: GridPatch) => authoring.fitGrid(scene.id, patch),
                      onLibraryDrop: (id: string, x: number, y: number) =>
                        void authoring.placeLibraryToken(id, scene.id, x, y).then((placed) => placed && pickTokens([placed])),
                      tools: <ModuleTools {...moduleProps()} scene={scene} />,
                    }
                  : {})}
                layers={sceneLayers()}
                showNotes={isGm()}
                hud={<ModuleHuds {...moduleProps()} scene={scene} />}
                onPreview={(token, x, y) => props.preview.move(token.id, x, y)}
                onDrop={(token, x, y) => {
                  props.preview.cancel();
                  // Through the authoring layer: a move that cannot be queued is reported, not left unhandled.
                  authoring.moveMany([{ token, x, y }]);
                }}
              >
                <ModuleOverlays {...moduleProps()} scene={scene} cellPx={gridOf(scene).size} tokens={sceneTokens()} />
              </TableCanvas>
            )}
          </Show>
          {/* Players see the modules' panels (initiative) floating over the table; GMs have them in their panel. */}
          <Show when={!isGm()}>
            <div class="table-dock" classList={{ folded: !dockOpen() }}>
              <button
                type="button"
                class="button-small dock-toggle"
                aria-expanded={dockOpen()}
                aria-controls="table-dock-body"
                onClick={toggleDock}
              >
                {dockOpen() ? <ChevronDown aria-hidden="true" /> : <ChevronUp aria-hidden="true" />}
                {dockOpen() ? "Fold panels" : "Panels"}
              </button>
              <div id="table-dock-body" class="table-dock-body" hidden={!dockOpen()}>
                <ModulePanels {...moduleProps()} />
              </div>
            </div>
          </Show>
        </div>

        <Show when={isGm()}>
          <aside id="gm-panel" class="table-sidebar" aria-label="GM tools" hidden={!panelOpen()}>
            <SidebarTabs label="GM panels" tabs={tabs()} show={tabRequest()} />
          </aside>
        </Show>
      </div>

      <Show when={conflict()}>
        {(c) => <ConflictDialog conflict={c()} onResolve={(r) => props.sync.resolveConflict(r)} nameOf={conflictAuthorName} />}
      </Show>
    </div>
  );
}
