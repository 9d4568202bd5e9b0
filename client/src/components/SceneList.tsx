import { For, Show } from "solid-js";
import type { Scene } from "../lib/api";

/**
 * The scenes of a session. A GM sees them all and may activate one (the scene players see); a
 * player only ever receives the active scene.
 */
export function SceneList(props: {
  scenes: Scene[];
  activeSceneId: string | null;
  canActivate: boolean;
  activating: boolean;
  onActivate: (scene: Scene) => void;
}) {
  return (
    <Show when={props.scenes.length > 0} fallback={<p class="empty">No scenes yet.</p>}>
      <ul class="list" aria-label="Scenes">
        <For each={props.scenes}>
          {(scene) => {
            const isActive = () => scene.id === props.activeSceneId;
            return (
              <li class="list-item" classList={{ active: isActive() }} data-scene-id={scene.id}>
                <span class="swatch" style={{ background: scene.accent_color ?? "var(--felt-light)" }} aria-hidden="true" />
                <span class="item-name">{scene.name}</span>
                <Show when={isActive()}>
                  <span class="badge badge-active">Active</span>
                </Show>
                <Show when={props.canActivate && !isActive()}>
                  <button
                    type="button"
                    class="button-small"
                    disabled={props.activating}
                    aria-label={`Activate ${scene.name}`}
                    onClick={() => props.onActivate(scene)}
                  >
                    Activate
                  </button>
                </Show>
              </li>
            );
          }}
        </For>
      </ul>
    </Show>
  );
}
