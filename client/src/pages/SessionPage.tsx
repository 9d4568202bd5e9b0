import { A, useParams } from "@solidjs/router";
import { createEffect, createMemo, createSignal, Match, on, Show, Switch } from "solid-js";
import { CreateSceneForm } from "../components/CreateSceneForm";
import { CreateTokenForm } from "../components/CreateTokenForm";
import { ErrorMessage } from "../components/ErrorMessage";
import { RoleBadge } from "../components/RoleBadge";
import { SceneList } from "../components/SceneList";
import { TokenList } from "../components/TokenList";
import { api, describeError, type Scene, type SessionSnapshot } from "../lib/api";
import { user } from "../lib/auth";
import { paths } from "../lib/paths";
import { createSubmitter } from "../lib/submit";

/**
 * `/s/:sid`: one table. Loads `GET {S}/state` (what the caller may see: all of it for a GM, the
 * active scene and its visible tokens for a player) and lists scenes and tokens. Changes by others
 * show after "Reload" until the real-time socket is wired in.
 */
export function SessionPage() {
  const params = useParams<{ sid: string }>();
  const [snapshot, setSnapshot] = createSignal<SessionSnapshot | null>(null);
  const [loadError, setLoadError] = createSignal<string | null>(null);
  const [loading, setLoading] = createSignal(false);

  async function load(sid: string) {
    setLoading(true);
    try {
      const next = await api.getState(sid);
      if (sid !== params.sid) return;
      setSnapshot(next);
      setLoadError(null);
    } catch (cause) {
      if (sid === params.sid) setLoadError(describeError(cause));
    } finally {
      setLoading(false);
    }
  }

  createEffect(
    on(
      () => params.sid,
      (sid) => {
        setSnapshot(null);
        setLoadError(null);
        void load(sid);
      },
    ),
  );

  const reload = () => load(params.sid);
  const isGm = createMemo(() => {
    const me = user();
    return me ? (snapshot()?.session_state.gm_user_ids ?? []).includes(me.id) : false;
  });
  // `state` lists live entities; archived ones only come with `?archived=true`, but stay safe.
  const scenes = createMemo(() => snapshot()?.scenes.filter((s) => s.archived_at === null) ?? []);
  const tokens = createMemo(() => snapshot()?.tokens.filter((t) => t.archived_at === null) ?? []);
  const activeSceneId = () => snapshot()?.session_state.active_scene_id ?? null;
  const activeScene = () => scenes().find((s) => s.id === activeSceneId());
  const activation = createSubmitter(async (scene: Scene) => {
    await api.activateScene(params.sid, scene.id);
    await reload();
  });

  return (
    <Switch>
      <Match when={snapshot()}>
        {(state) => (
          <div class="page">
            <div class="page-heading">
              <h1>{state().session.name}</h1>
              <RoleBadge role={isGm() ? "gm" : "player"} />
              <span class="seq" title="Change sequence of this session">
                seq {state().seq}
              </span>
              <button type="button" class="button-quiet" onClick={reload} disabled={loading()}>
                {loading() ? "Reloading…" : "Reload"}
              </button>
            </div>
            <ErrorMessage message={loadError()} />

            <section class="card" aria-labelledby="active-scene-heading">
              <h2 id="active-scene-heading">Active scene</h2>
              <Show when={activeScene()} fallback={<p class="empty">The GM has not opened a scene yet.</p>}>
                {(scene) => (
                  <p class="active-scene" data-testid="active-scene">
                    {scene().name}
                  </p>
                )}
              </Show>
            </section>

            <Show when={isGm()}>
              <section class="card" aria-labelledby="scenes-heading">
                <h2 id="scenes-heading">Scenes</h2>
                <SceneList
                  scenes={scenes()}
                  activeSceneId={activeSceneId()}
                  canActivate={isGm()}
                  activating={activation.pending()}
                  onActivate={(scene) => void activation.run(scene)}
                />
                <ErrorMessage message={activation.error()} />
                <CreateSceneForm sessionId={params.sid} onCreated={() => void reload()} />
              </section>
            </Show>

            <section class="card" aria-labelledby="tokens-heading">
              <h2 id="tokens-heading">Tokens</h2>
              <TokenList tokens={tokens()} scenes={scenes()} showHidden={isGm()} />
              <Show when={isGm()}>
                <CreateTokenForm
                  sessionId={params.sid}
                  scenes={scenes()}
                  defaultSceneId={activeSceneId()}
                  onCreated={() => void reload()}
                />
              </Show>
            </section>
          </div>
        )}
      </Match>
      <Match when={loadError()}>
        <div class="page narrow">
          <h1>Session unavailable</h1>
          <ErrorMessage message={loadError()} />
          <p>
            <button type="button" onClick={reload}>
              Try again
            </button>{" "}
            <A href={paths.home}>Back to my sessions</A>
          </p>
        </div>
      </Match>
      <Match when={true}>
        <p class="status" role="status">
          Loading session…
        </p>
      </Match>
    </Switch>
  );
}
