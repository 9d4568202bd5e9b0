import { createSignal, Show } from "solid-js";
import { createSubmitter } from "../lib/submit";
import type { Token } from "../lib/types";
import { ErrorMessage } from "./ErrorMessage";

/** Several tokens selected on the table (shift-click or a selection box): what the GM can do with all of them. */
export function SelectionActions(props: {
  tokens: Token[];
  onHidden: (hidden: boolean) => Promise<unknown>;
  onArchive: () => Promise<unknown>;
  onClear: () => void;
}) {
  const acting = createSubmitter((action: () => Promise<unknown>) => action(), { serial: true });
  const hiddenCount = () => props.tokens.filter((t) => t.hidden).length;
  const [confirming, setConfirming] = createSignal(false);

  return (
    <section class="card sidebar-card" aria-labelledby="selection-heading">
      <div class="card-heading">
        <h2 id="selection-heading">{props.tokens.length} tokens selected</h2>
        <button type="button" class="button-small button-quiet" onClick={() => props.onClear()}>
          Deselect
        </button>
      </div>
      <p class="hint">
        Drag one of them to move them all; arrow keys move them by a cell. {hiddenCount()} of {props.tokens.length} hidden from players.
      </p>
      <div class="button-row">
        <button
          type="button"
          disabled={acting.pending() || hiddenCount() === props.tokens.length}
          onClick={() => void acting.run(() => props.onHidden(true))}
        >
          Hide all
        </button>
        <button
          type="button"
          disabled={acting.pending() || hiddenCount() === 0}
          onClick={() => void acting.run(() => props.onHidden(false))}
        >
          Show all
        </button>
      </div>
      <Show
        when={confirming()}
        fallback={
          <button type="button" class="button-danger" disabled={acting.pending()} onClick={() => setConfirming(true)}>
            Archive {props.tokens.length} tokens
          </button>
        }
      >
        <p class="confirm">
          Archive {props.tokens.length} tokens? They leave the table; Undo or the archive brings them back.{" "}
          <button
            type="button"
            class="button-small button-danger-inline"
            disabled={acting.pending()}
            onClick={() => {
              setConfirming(false);
              void acting.run(() => props.onArchive());
            }}
          >
            Archive them
          </button>{" "}
          <button type="button" class="button-small button-quiet" onClick={() => setConfirming(false)}>
            Keep
          </button>
        </p>
      </Show>
      <ErrorMessage message={acting.error()} />
    </section>
  );
}
