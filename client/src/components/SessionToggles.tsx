import { createSignal, Show } from "solid-js";
import { gridOpacityOf, lightingOf, parseGridOpacity } from "../lib/session-flags";
import { createSubmitter } from "../lib/submit";
import type { SessionSync } from "../lib/sync";
import { ErrorMessage } from "./ErrorMessage";

/**
 * The GM's table-wide switches, stored in `session_state.flags` and applied by every client's
 * table: lighting on or off, and the grid's opacity. Each change is one queued merge patch of
 * `flags` (other flags are left alone); the slider writes when it is let go, not on every step.
 */
export function SessionToggles(props: { sync: Pick<SessionSync, "view" | "update"> }) {
  const state = () => props.sync.view.session_state;
  const flags = () => state()?.flags;
  const [draft, setDraft] = createSignal<number | null>(null);
  const saving = createSubmitter(
    async (patch: { lighting?: boolean; grid_opacity?: number }) => {
      const id = state()?.id;
      if (!id) return;
      await props.sync.update("session_state", id, { flags: patch });
    },
    { serial: true },
  );
  const opacity = () => draft() ?? gridOpacityOf(flags());

  async function commitOpacity(text: string) {
    const value = parseGridOpacity(text);
    setDraft(null);
    if (value === null || value === gridOpacityOf(flags())) return;
    await saving.run({ grid_opacity: value });
  }

  return (
    <Show when={state()}>
      <fieldset class="session-toggles">
        <legend class="visually-hidden">Table settings</legend>
        <label class="toggle switch-toggle">
          <input
            type="checkbox"
            role="switch"
            aria-checked={lightingOf(flags())}
            checked={lightingOf(flags())}
            onChange={(event) => void saving.run({ lighting: event.currentTarget.checked })}
          />
          <span class="switch-track" aria-hidden="true" />
          Lighting
        </label>
        <label class="toggle grid-control">
          Grid{" "}
          <input
            type="range"
            min="0"
            max="1"
            step="0.05"
            aria-label="Grid opacity"
            value={opacity()}
            onInput={(event) => setDraft(parseGridOpacity(event.currentTarget.value))}
            onChange={(event) => void commitOpacity(event.currentTarget.value)}
          />
          <output class="grid-value">{Math.round(opacity() * 100)}%</output>
        </label>
        <ErrorMessage message={saving.error()} />
      </fieldset>
    </Show>
  );
}
