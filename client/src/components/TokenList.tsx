import { For, Show } from "solid-js";
import type { Scene, Token } from "../lib/api";

/** Tokens with where they stand: a scene (at x, y) or the library (no scene). */
export function TokenList(props: { tokens: Token[]; scenes: Scene[]; showHidden: boolean }) {
  const sceneName = (sceneId: string | null) =>
    sceneId === null ? "Library" : (props.scenes.find((s) => s.id === sceneId)?.name ?? "Unknown scene");

  return (
    <Show when={props.tokens.length > 0} fallback={<p class="empty">No tokens yet.</p>}>
      <table class="table">
        <caption class="visually-hidden">Tokens</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Scene</th>
            <th scope="col">Position</th>
            <Show when={props.showHidden}>
              <th scope="col">Visibility</th>
            </Show>
          </tr>
        </thead>
        <tbody>
          <For each={props.tokens}>
            {(token) => (
              <tr data-token-id={token.id}>
                <th scope="row">{token.name}</th>
                <td>{sceneName(token.scene_id)}</td>
                <td>
                  {token.x}, {token.y}
                </td>
                <Show when={props.showHidden}>
                  <td>{token.hidden ? "Hidden from players" : "Visible"}</td>
                </Show>
              </tr>
            )}
          </For>
        </tbody>
      </table>
    </Show>
  );
}
