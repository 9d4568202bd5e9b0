import { Show } from "solid-js";
import "./offline-notice.css";

/**
 * Notices about the app on this device, in a corner: a new version waiting to take over (it stays
 * until reloaded or put off: queued edits are in IndexedDB, a reload keeps them), and, once, that
 * the app now opens offline. The corner never takes a click meant for the table below it.
 */
export function OfflineNotice(props: { offlineReady: boolean; onReload: (() => void) | null; onDismiss: () => void }) {
  return (
    <div class="app-notices">
      <Show when={props.onReload}>
        {(reload) => (
          <div class="app-notice app-notice-action" role="status">
            A new version of the app is ready.{" "}
            <button type="button" class="button-small" onClick={() => reload()()}>
              Reload
            </button>{" "}
            <button type="button" class="button-small button-quiet" onClick={() => props.onDismiss()}>
              Later
            </button>
          </div>
        )}
      </Show>
      <Show when={props.offlineReady && !props.onReload}>
        <p class="app-notice" role="status">
          This device can now open the app without a network.
        </p>
      </Show>
    </div>
  );
}
