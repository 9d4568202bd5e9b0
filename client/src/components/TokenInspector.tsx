import { createSignal, For, Show } from "solid-js";
import type { SessionMember, Token, TokenArt } from "../lib/api";
import { createSubmitter } from "../lib/submit";
import { AssetUploadField } from "./AssetUploadField";
import { ErrorMessage } from "./ErrorMessage";

/** What the GM can change on the selected token. Every change is one queued merge patch. */
export function TokenInspector(props: {
  sessionId: string;
  token: Token;
  art: TokenArt | undefined;
  /** The session's players, who may be given the token (they can then move it). */
  players: SessionMember[];
  onPatch: (patch: Partial<Pick<Token, "hidden" | "rotation" | "width" | "height" | "owner_user_ids">>) => Promise<unknown>;
  onArchive: () => Promise<unknown>;
  onArt: (hash: string) => Promise<unknown>;
  onClose: () => void;
}) {
  const patching = createSubmitter((patch: Parameters<typeof props.onPatch>[0]) => props.onPatch(patch));
  const archiving = createSubmitter(() => props.onArchive());
  const [width, setWidth] = createSignal<string | null>(null);
  const [height, setHeight] = createSignal<string | null>(null);

  function rotate(delta: number) {
    // The schema keeps rotation within ±360; wrap into (-360, 360).
    const next = (props.token.rotation + delta) % 360;
    void patching.run({ rotation: next });
  }

  function applySize(event: SubmitEvent) {
    event.preventDefault();
    const w = Number(width() ?? props.token.width);
    const h = Number(height() ?? props.token.height);
    if (!(w > 0 && h > 0 && w <= 1000 && h <= 1000)) return;
    setWidth(null);
    setHeight(null);
    void patching.run({ width: w, height: h });
  }

  return (
    <section class="card sidebar-card" aria-labelledby="inspector-heading">
      <div class="card-heading">
        <h2 id="inspector-heading">{props.token.name}</h2>
        <button type="button" class="button-small button-quiet" onClick={() => props.onClose()}>
          Deselect
        </button>
      </div>
      <p class="hint">
        {props.token.hidden ? "Hidden from players" : "Visible to players"} · rotation {props.token.rotation}° · {props.token.width}×
        {props.token.height} cells
      </p>
      <div class="button-row">
        <button type="button" onClick={() => void patching.run({ hidden: !props.token.hidden })}>
          {props.token.hidden ? "Show to players" : "Hide from players"}
        </button>
        <button type="button" aria-label="Rotate left 15°" onClick={() => rotate(-15)}>
          ⟲ 15°
        </button>
        <button type="button" aria-label="Rotate right 15°" onClick={() => rotate(15)}>
          ⟳ 15°
        </button>
      </div>
      <form class="form inline-form" onSubmit={applySize}>
        <div class="field">
          <label for="token-width">Width</label>
          <input
            id="token-width"
            type="number"
            min="0.25"
            max="1000"
            step="0.25"
            value={width() ?? String(props.token.width)}
            onInput={(event) => setWidth(event.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="token-height">Height</label>
          <input
            id="token-height"
            type="number"
            min="0.25"
            max="1000"
            step="0.25"
            value={height() ?? String(props.token.height)}
            onInput={(event) => setHeight(event.currentTarget.value)}
          />
        </div>
        <button type="submit">Resize</button>
      </form>
      <Show when={props.players.length > 0}>
        <fieldset class="owners">
          <legend>Players who may move it</legend>
          <For each={props.players}>
            {(player) => {
              const owners = () => props.token.owner_user_ids ?? [];
              return (
                <label class="toggle">
                  <input
                    type="checkbox"
                    checked={owners().includes(player.user_id)}
                    onChange={(event) => {
                      const rest = owners().filter((id) => id !== player.user_id);
                      void patching.run({ owner_user_ids: event.currentTarget.checked ? [...rest, player.user_id] : rest });
                    }}
                  />{" "}
                  {player.username}
                </label>
              );
            }}
          </For>
        </fieldset>
      </Show>
      <AssetUploadField
        sessionId={props.sessionId}
        kind="token"
        inputId={`token-art-${props.token.id}`}
        label={props.art ? "Replace token art" : "Token art"}
        onUploaded={(asset) => props.onArt(asset.hash)}
      />
      <button type="button" class="button-danger" disabled={archiving.pending()} onClick={() => void archiving.run()}>
        Delete token
      </button>
      <ErrorMessage message={patching.error() ?? archiving.error()} />
    </section>
  );
}
