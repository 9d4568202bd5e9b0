import { A } from "@solidjs/router";
import { createMemo, createResource, createSignal, Show } from "solid-js";
import { api, type Scene, type Token, type TokenArt } from "../lib/api";
import { paths } from "../lib/paths";
import type { PreviewSender } from "../lib/preview";
import type { SessionSync } from "../lib/sync";
import { ConflictDialog } from "./ConflictDialog";
import { ConnectionIndicator } from "./ConnectionIndicator";
import { ErrorMessage } from "./ErrorMessage";
import { ModuleOverlays, ModulePanels } from "./ModuleSlots";
import { NewTokenForm } from "./NewTokenForm";
import { RoleBadge } from "./RoleBadge";
import { SceneManager } from "./SceneManager";
import { type Ghost, TableCanvas } from "./TableCanvas";
import { TokenInspector } from "./TokenInspector";
import { CELL_PX } from "./TokenPiece";

const DEFAULT_CROP = { scale: 1, translate_x: 0, translate_y: 0, stage_size: 512, base_scale: 1 };

/**
 * One session's table, drawn from the sync layer's view: the header with the connection, the
 * active scene, and for GMs the authoring sidebar. Every edit is queued through `sync` (shown at
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
  const [selectedId, setSelectedId] = createSignal<string | null>(null);
  const [showHidden, setShowHidden] = createSignal(true);
  const view = props.sync.view;
  const me = () => props.userId;
  const isGm = () => view.role === "gm";
  const scenes = createMemo(() =>
    Object.values(view.scenes)
      .filter((s) => s.archived_at === null)
      .sort((a, b) => a.sort - b.sort || a.created_at.localeCompare(b.created_at) || a.name.localeCompare(b.name)),
  );
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
  // Members join over time: read them again whenever the GM selects a token.
  const [members] = createResource(
    () => (isGm() ? (selectedId() ?? false) : false),
    () => api.getSession(props.sessionId).then((detail) => detail.members),
  );
  const players = () => (members.error ? [] : (members.latest ?? [])).filter((m) => m.role === "player");

  async function createToken(name: string, sceneId: string | null) {
    const offset = sceneTokens().length % 10;
    // The schema's defaults spelled out, so the token draws fully before the server confirms it.
    await props.sync.create("token", {
      name,
      scene_id: sceneId,
      x: CELL_PX * (1 + offset),
      y: CELL_PX * (1 + offset),
      width: 1,
      height: 1,
      rotation: 0,
      hidden: false,
      owner_user_ids: [],
    });
  }

  async function setTokenArt(token: Token, hash: string) {
    const art = artByToken()[token.id];
    if (art) await props.sync.update("token_art", art.id, { image_asset: hash });
    else await props.sync.create("token_art", { token_id: token.id, image_asset: hash, crop: DEFAULT_CROP });
  }

  return (
    <div class="page table-page">
      <div class="page-heading">
        <h1>{view.session?.name}</h1>
        <Show when={view.role}>{(role) => <RoleBadge role={role()} />}</Show>
        <ConnectionIndicator connection={view.connection} pending={view.sync.pending} />
        <Show when={props.connectedUsers > 0}>
          <span class="presence">
            {props.connectedUsers === 1 ? "1 person at the table" : `${props.connectedUsers} people at the table`}
          </span>
        </Show>
        <span class="seq" title="Change sequence of this session">
          seq {view.seq}
        </span>
        <button type="button" class="button-quiet" onClick={() => void props.sync.reload()}>
          Reload
        </button>
      </div>
      <ErrorMessage message={view.sync.loadError} />
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

      <div class="table-layout" classList={{ "with-sidebar": isGm() }}>
        <div class="table-main">
          <div class="table-toolbar">
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
            <Show when={isGm() && view.session_state}>
              {(state) => (
                <label class="toggle grid-control">
                  Grid{" "}
                  <input
                    type="range"
                    min="0"
                    max="1"
                    step="0.05"
                    aria-label="Grid opacity"
                    value={gridOpacity()}
                    onChange={(event) =>
                      void props.sync.update("session_state", state().id, { flags: { grid_opacity: Number(event.currentTarget.value) } })
                    }
                  />
                </label>
              )}
            </Show>
            <Show when={isGm()}>
              <label class="toggle">
                <input type="checkbox" checked={showHidden()} onChange={(event) => setShowHidden(event.currentTarget.checked)} /> Show
                hidden tokens
              </label>
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
                pending={view.pending}
                ghosts={props.ghosts}
                onSelect={(id) => setSelectedId(id)}
                onPreview={(token, x, y) => props.preview.move(token.id, x, y)}
                onDrop={(token, x, y) => {
                  props.preview.cancel();
                  void props.sync.update("token", token.id, { x, y });
                }}
              >
                <ModuleOverlays {...moduleProps()} scene={scene} cellPx={CELL_PX} tokens={sceneTokens()} />
              </TableCanvas>
            )}
          </Show>
          <ModulePanels {...moduleProps()} />
        </div>

        <Show when={isGm()}>
          <aside class="table-sidebar" aria-label="GM tools">
            <Show when={selected()}>
              {(token) => (
                <TokenInspector
                  sessionId={props.sessionId}
                  token={token()}
                  art={artByToken()[token().id]}
                  players={players()}
                  onPatch={(patch) => props.sync.update("token", token().id, patch)}
                  onArchive={async () => {
                    await props.sync.archive("token", token().id);
                    setSelectedId(null);
                  }}
                  onArt={(hash) => setTokenArt(token(), hash)}
                  onClose={() => setSelectedId(null)}
                />
              )}
            </Show>
            <SceneManager
              sessionId={props.sessionId}
              scenes={scenes()}
              activeSceneId={activeSceneId()}
              shownSceneId={shownScene()?.id ?? null}
              onView={(scene) => setViewedId(scene.id)}
              onActivate={async (scene: Scene) => {
                await api.activateScene(props.sessionId, scene.id);
                setViewedId(null);
              }}
              onCreate={(name) => props.sync.create("scene", { name, accent_color: null, map_asset: null, sort: 0 })}
              onArchive={(scene) => props.sync.archive("scene", scene.id)}
              onMapUploaded={(scene, hash) => props.sync.update("scene", scene.id, { map_asset: hash })}
              listArchived={async () => (await api.listArchivedScenes(props.sessionId)).items.filter((scene) => scene.archived_at !== null)}
              onRestore={(scene) => props.sync.restore("scene", scene.id, scene.version)}
            />
            <NewTokenForm scenes={scenes()} defaultSceneId={shownScene()?.id ?? null} onCreate={createToken} />
          </aside>
        </Show>
      </div>

      <Show when={conflict()}>{(c) => <ConflictDialog conflict={c()} onResolve={(r) => props.sync.resolveConflict(r)} />}</Show>
    </div>
  );
}
