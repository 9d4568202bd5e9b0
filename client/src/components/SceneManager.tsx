import { createSignal, For, Show } from "solid-js";
import type { Scene } from "../lib/api";
import { createSubmitter } from "../lib/submit";
import { AssetUploadField } from "./AssetUploadField";
import { ErrorMessage } from "./ErrorMessage";

/**
 * The GM's scenes: view one on the table (to prepare it), activate one (what players see), upload
 * the map of the one on the table, archive one, create a new one.
 * Creating and archiving go through the sync queue (they work offline); activating is a REST call
 * because the server records it in the activation timeline.
 */
export function SceneManager(props: {
  sessionId: string;
  scenes: Scene[];
  activeSceneId: string | null;
  /** The scene on the GM's table (the active one, or one being prepared). */
  shownSceneId: string | null;
  onView: (scene: Scene) => void;
  onActivate: (scene: Scene) => Promise<unknown>;
  onCreate: (name: string) => Promise<unknown>;
  onArchive: (scene: Scene) => Promise<unknown>;
  onMapUploaded: (scene: Scene, hash: string) => Promise<unknown>;
  /** Lists the archived scenes (read when the GM opens the list). */
  listArchived: () => Promise<Scene[]>;
  onRestore: (scene: Scene) => Promise<unknown>;
}) {
  const [name, setName] = createSignal("");
  const activation = createSubmitter((scene: Scene) => props.onActivate(scene));
  const creation = createSubmitter((sceneName: string) => props.onCreate(sceneName));
  const archiving = createSubmitter((scene: Scene) => props.onArchive(scene));
  const [archived, setArchived] = createSignal<Scene[] | null>(null);
  const listing = createSubmitter(async () => setArchived(await props.listArchived()));
  const restoring = createSubmitter(async (scene: Scene) => {
    await props.onRestore(scene);
    setArchived((archived() ?? []).filter((s) => s.id !== scene.id));
  });

  async function handleSubmit(event: SubmitEvent) {
    event.preventDefault();
    const sceneName = name().trim();
    if (sceneName === "") return;
    setName("");
    await creation.run(sceneName);
  }

  return (
    <section class="card sidebar-card" aria-labelledby="scenes-heading">
      <h2 id="scenes-heading">Scenes</h2>
      <Show when={props.scenes.length > 0} fallback={<p class="empty">No scenes yet.</p>}>
        <ul class="list" aria-label="Scenes">
          <For each={props.scenes}>
            {(scene) => {
              const isActive = () => scene.id === props.activeSceneId;
              const isShown = () => scene.id === props.shownSceneId;
              return (
                <li class="list-item scene-item" classList={{ active: isActive() }} data-scene-id={scene.id}>
                  <div class="scene-row">
                    <span class="swatch" style={{ background: scene.accent_color ?? "var(--felt-light)" }} aria-hidden="true" />
                    <span class="item-name">{scene.name}</span>
                    <Show when={isActive()}>
                      <span class="badge badge-active">Active</span>
                    </Show>
                    <Show when={!isShown()}>
                      <button
                        type="button"
                        class="button-small button-quiet"
                        aria-label={`View ${scene.name}`}
                        onClick={() => props.onView(scene)}
                      >
                        View
                      </button>
                    </Show>
                    <Show when={!isActive()}>
                      <button
                        type="button"
                        class="button-small"
                        disabled={activation.pending() || scene.version === 0}
                        aria-label={`Activate ${scene.name}`}
                        onClick={() => void activation.run(scene)}
                      >
                        Activate
                      </button>
                    </Show>
                    <button
                      type="button"
                      class="button-small button-quiet"
                      aria-label={`Archive ${scene.name}`}
                      onClick={() => void archiving.run(scene)}
                    >
                      Archive
                    </button>
                  </div>
                  <Show when={isShown()}>
                    <AssetUploadField
                      sessionId={props.sessionId}
                      kind="map"
                      inputId={`map-upload-${scene.id}`}
                      label={`Map for ${scene.name}`}
                      onUploaded={(asset) => props.onMapUploaded(scene, asset.hash)}
                    />
                  </Show>
                </li>
              );
            }}
          </For>
        </ul>
      </Show>
      <ErrorMessage message={activation.error() ?? archiving.error() ?? creation.error()} />
      <div class="archived-scenes">
        <Show
          when={archived()}
          fallback={
            <button type="button" class="button-small button-quiet" disabled={listing.pending()} onClick={() => void listing.run()}>
              Show archived scenes
            </button>
          }
        >
          {(list) => (
            <>
              <h3>Archived scenes</h3>
              <Show when={list().length > 0} fallback={<p class="empty">None.</p>}>
                <ul class="list" aria-label="Archived scenes">
                  <For each={list()}>
                    {(scene) => (
                      <li class="list-item">
                        <span class="item-name">{scene.name}</span>
                        <button
                          type="button"
                          class="button-small"
                          aria-label={`Restore ${scene.name}`}
                          disabled={restoring.pending()}
                          onClick={() => void restoring.run(scene)}
                        >
                          Restore
                        </button>
                      </li>
                    )}
                  </For>
                </ul>
              </Show>
              <button type="button" class="button-small button-quiet" onClick={() => setArchived(null)}>
                Hide archived scenes
              </button>
            </>
          )}
        </Show>
        <ErrorMessage message={listing.error() ?? restoring.error()} />
      </div>
      <form class="form inline-form" onSubmit={handleSubmit}>
        <div class="field">
          <label for="scene-name">Scene name</label>
          <input
            id="scene-name"
            name="name"
            required
            maxLength={200}
            placeholder="Goblin Warren"
            value={name()}
            onInput={(event) => setName(event.currentTarget.value)}
          />
        </div>
        <button type="submit" disabled={name().trim() === ""}>
          Create scene
        </button>
      </form>
    </section>
  );
}
