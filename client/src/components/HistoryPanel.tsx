import { createResource, createSignal, For, Show } from "solid-js";
import { ApiError, describeError, type HistoryApi } from "../lib/api";
import { entityLabel, type HistoryItem, summarizeVersion } from "../lib/history";
import type { AnyEntity, EntityType } from "../lib/types";
import { ErrorMessage } from "./ErrorMessage";

/**
 * Every version of one entity (the selected token, or the scene shown), newest first: who changed
 * what and when, and a button that restores a version. A restore is a revert based on the version
 * the table shows; when someone changed the entity meanwhile (409) the conflict is shown and the
 * table reloaded. The restored version reaches the table through the normal sync path, and the
 * list is read again whenever the entity's version changes.
 */
export function HistoryPanel(props: {
  entityType: EntityType;
  entity: AnyEntity;
  api: HistoryApi;
  /** A member's name for a user id. */
  nameOf: (userId: string) => string;
  /** Changes of this tab to the entity are not saved yet: restoring waits for them. */
  pending?: boolean;
  onRestored?: (result: AnyEntity, baseVersion: number, targetVersion: number) => void;
  onReload: () => unknown;
  onClose?: () => void;
}) {
  const label = () => entityLabel(props.entityType, props.entity);
  const [items, { refetch }] = createResource(
    () => ({ type: props.entityType, id: props.entity.id, version: props.entity.version }),
    ({ type, id }) => props.api.history(type, id),
  );
  // Reading `latest` of a failed resource throws: the error is shown instead.
  const list = (): HistoryItem[] => (items.error ? [] : (items.latest ?? []));
  const [restoring, setRestoring] = createSignal<number | null>(null);
  const [notice, setNotice] = createSignal<string | null>(null);
  const [error, setError] = createSignal<string | null>(null);

  async function restore(item: HistoryItem) {
    if (restoring() !== null) return;
    const base = props.entity.version;
    setRestoring(item.version);
    setNotice(null);
    setError(null);
    try {
      const result = await props.api.revert(props.entityType, props.entity.id, item.version, base);
      setNotice(`Restored version ${item.version} as version ${result.version}.`);
      props.onRestored?.(result, base, item.version);
    } catch (cause) {
      if (cause instanceof ApiError && cause.status === 409) {
        setError(conflictMessage(cause, base));
        await props.onReload();
      } else {
        setError(describeError(cause));
      }
    } finally {
      setRestoring(null);
      void refetch();
    }
  }

  function conflictMessage(cause: ApiError, base: number): string {
    const current = cause.details?.current as Partial<AnyEntity> | undefined;
    const now = typeof current?.version === "number" ? ` (now version ${current.version}` : "";
    const by = now && typeof current?.updated_by === "string" ? `, by ${props.nameOf(current.updated_by)})` : now ? ")" : "";
    return `Not restored: ${label()} changed since version ${base}${now}${by}. The table was reloaded; check the history and try again.`;
  }

  return (
    <section class="card sidebar-card history-panel" aria-labelledby={`history-${props.entity.id}`}>
      <div class="card-heading">
        <h2 id={`history-${props.entity.id}`}>History of {label()}</h2>
        <div class="button-row">
          <button type="button" class="button-small button-quiet" onClick={() => void refetch()}>
            Refresh
          </button>
          <Show when={props.onClose}>
            {(close) => (
              <button type="button" class="button-small button-quiet" onClick={() => close()()}>
                Close
              </button>
            )}
          </Show>
        </div>
      </div>
      <Show when={props.pending}>
        <p class="hint">Your latest changes are still being saved; restoring waits until they are.</p>
      </Show>
      <Show when={notice()}>
        <p class="history-notice" role="status">
          {notice()}
        </p>
      </Show>
      <ErrorMessage message={error() ?? (items.error ? describeError(items.error) : null)} />
      <Show when={items.loading && list().length === 0}>
        <p class="hint">Loading history…</p>
      </Show>
      <Show when={!items.error && !(items.loading && list().length === 0)}>
        <Show when={list().length > 0} fallback={<p class="empty">No history.</p>}>
          <ol class="history-list" aria-label={`Versions of ${label()}`}>
            <For each={list()}>
              {(item) => (
                <li class="history-item" classList={{ "history-current": item.version === props.entity.version }}>
                  <div class="history-line">
                    <span class="history-version">v{item.version}</span>
                    <span class="history-summary">{summarizeVersion(item)}</span>
                  </div>
                  <div class="history-meta">
                    {props.nameOf(item.updated_by)} · <time datetime={item.created_at}>{new Date(item.created_at).toLocaleString()}</time>
                  </div>
                  <Show when={item.version !== props.entity.version} fallback={<span class="badge badge-active">current</span>}>
                    <button
                      type="button"
                      class="button-small"
                      disabled={restoring() !== null || props.pending === true}
                      onClick={() => void restore(item)}
                    >
                      {restoring() === item.version ? "Restoring…" : "Restore this version"}
                    </button>
                  </Show>
                </li>
              )}
            </For>
          </ol>
        </Show>
      </Show>
    </section>
  );
}
