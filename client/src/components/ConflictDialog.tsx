import { createSignal, For, onMount, Show } from "solid-js";
import { formatClock } from "../lib/clock";
import { type Choice, type Conflict, conflictDiffs, keepMine, mergeFields, type Resolution, useServer } from "../lib/conflict";

function show(value: unknown): string {
  if (value === undefined) return "—";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

const typeNames: Record<string, string> = {
  scene: "scene",
  folder: "folder",
  layer: "layer",
  token: "token",
  token_art: "token art",
  session_state: "session state",
};

/** "14:05, 4 December" in the reader's locale: when the server's side was changed. */
function formatWhen(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${formatClock(iso)}, ${date.toLocaleDateString(undefined, { day: "numeric", month: "long" })}`;
}

/**
 * A queued change the server refused (someone changed the entity first): the fields that differ
 * over all my queued edits of the entity, mine against the server's, who changed the server's
 * side and when, and the three ways out of `conflict.ts` (each for all of those edits). Modal:
 * focus moves into it.
 */
export function ConflictDialog(props: {
  conflict: Conflict;
  onResolve: (resolution: Resolution) => void | Promise<void>;
  uuid?: () => string;
  /** A member's display name for a user id (undefined: not known). */
  nameOf?: (userId: string) => string | undefined;
}) {
  const diffs = () => conflictDiffs(props.conflict);
  const edits = () => 1 + (props.conflict.related?.length ?? 0);
  const changedBy = () => {
    const server = props.conflict.server;
    if (!server) return null;
    const userId = typeof server.updated_by === "string" ? server.updated_by : null;
    const name = userId ? (props.nameOf?.(userId) ?? "another member") : "someone";
    const when = typeof server.updated_at === "string" ? server.updated_at : null;
    return { name, when };
  };
  const [choices, setChoices] = createSignal<Record<string, Choice>>({});
  const [busy, setBusy] = createSignal(false);
  const uuid = () => (props.uuid ?? (() => crypto.randomUUID()))();
  const name = () => {
    const server = props.conflict.server as { name?: unknown } | null;
    const payload = props.conflict.op.payload as { name?: unknown };
    const value = server?.name ?? payload.name;
    return typeof value === "string" ? value : props.conflict.op.id;
  };
  const choiceOf = (field: string): Choice => choices()[field] ?? "mine";
  let heading: HTMLHeadingElement | undefined;
  onMount(() => heading?.focus());

  async function resolve(make: () => Resolution) {
    if (busy()) return;
    setBusy(true);
    try {
      await props.onResolve(make());
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="dialog-backdrop">
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="conflict-title" aria-describedby="conflict-description">
        <h2 id="conflict-title" tabIndex={-1} ref={heading}>
          Conflicting change
        </h2>
        <p id="conflict-description">
          Someone changed the {typeNames[props.conflict.op.entity_type] ?? props.conflict.op.entity_type} “{name()}” before{" "}
          {edits() === 1 ? "your change" : `your ${edits()} queued changes`} reached the server.
          <Show when={props.conflict.server === null}> It is gone on the server.</Show>
        </p>
        <Show when={changedBy()}>
          {(by) => (
            <p class="conflict-author" data-testid="conflict-author">
              Server's version: changed by <strong>{by().name}</strong>
              <Show when={by().when}>
                {(when) => (
                  <>
                    {" "}
                    at <time dateTime={when()}>{formatWhen(when())}</time>
                  </>
                )}
              </Show>
              .
            </p>
          )}
        </Show>
        <Show when={diffs().length > 0} fallback={<p class="empty">Your change and the server's agree: nothing differs.</p>}>
          <table class="diff-table">
            <caption class="visually-hidden">Fields that differ</caption>
            <thead>
              <tr>
                <th scope="col">Field</th>
                <th scope="col">Mine</th>
                <th scope="col">Server</th>
                <th scope="col">Merge: keep</th>
              </tr>
            </thead>
            <tbody>
              <For each={diffs()}>
                {(diff) => (
                  <tr>
                    <th scope="row">{diff.field}</th>
                    <td class="diff-mine">{show(diff.local)}</td>
                    <td class="diff-server">{show(diff.server)}</td>
                    <td>
                      <fieldset class="choice">
                        <legend class="visually-hidden">Keep for {diff.field}</legend>
                        <label>
                          <input
                            type="radio"
                            name={`merge-${diff.field}`}
                            checked={choiceOf(diff.field) === "mine"}
                            onChange={() => setChoices({ ...choices(), [diff.field]: "mine" })}
                            aria-label={`Keep mine for ${diff.field}`}
                          />{" "}
                          Mine
                        </label>
                        <label>
                          <input
                            type="radio"
                            name={`merge-${diff.field}`}
                            checked={choiceOf(diff.field) === "server"}
                            onChange={() => setChoices({ ...choices(), [diff.field]: "server" })}
                            aria-label={`Use server for ${diff.field}`}
                          />{" "}
                          Server
                        </label>
                      </fieldset>
                    </td>
                  </tr>
                )}
              </For>
            </tbody>
          </table>
        </Show>
        <div class="dialog-actions">
          <button
            type="button"
            disabled={busy() || props.conflict.server === null}
            onClick={() => void resolve(() => keepMine(props.conflict, uuid()))}
          >
            Keep Mine
          </button>
          <button type="button" disabled={busy()} onClick={() => void resolve(() => useServer())}>
            Use Server
          </button>
          <button
            type="button"
            disabled={busy() || diffs().length === 0}
            onClick={() => {
              const picked: Record<string, Choice> = {};
              for (const diff of diffs()) picked[diff.field] = choiceOf(diff.field);
              void resolve(() => mergeFields(props.conflict, picked, uuid()));
            }}
          >
            Merge Fields
          </button>
        </div>
      </div>
    </div>
  );
}
