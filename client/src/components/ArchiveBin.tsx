import { createSignal, For, Show } from "solid-js";
import { describeError, type GmApi } from "../lib/api";
import type { SessionSync } from "../lib/sync";
import type { AnyEntity, EntityType } from "../lib/types";
import { SidebarSection } from "./SidebarSection";

type BinType = Extract<EntityType, "scene" | "token" | "folder">;

const groups: { type: BinType; title: string; plural: string }[] = [
  { type: "scene", title: "Scenes", plural: "scenes" },
  { type: "token", title: "Tokens", plural: "tokens" },
  { type: "folder", title: "Folders", plural: "folders" },
];

function nameOf(entity: AnyEntity): string {
  const name = (entity as { name?: unknown }).name;
  return typeof name === "string" && name !== "" ? name : entity.id;
}

function archivedOn(entity: AnyEntity): string {
  if (!entity.archived_at) return "";
  const date = new Date(entity.archived_at);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/**
 * What was archived (scenes, tokens, folders: nothing is ever erased), read on demand from
 * `GET {S}/<type>?archived=true`, and restored through the sync queue like any other edit. A
 * restored entity leaves the bin at once and reappears in the session when the server confirms it.
 */
export function ArchiveBin(props: { api: Pick<GmApi, "listArchived">; sync: Pick<SessionSync, "restore" | "view"> }) {
  return (
    <SidebarSection id="archive" title="Archive">
      <p class="hint">Archived things are kept: restore them here.</p>
      <For each={groups}>{(group) => <ArchiveGroup {...group} api={props.api} sync={props.sync} />}</For>
    </SidebarSection>
  );
}

function ArchiveGroup(props: {
  type: BinType;
  title: string;
  plural: string;
  api: Pick<GmApi, "listArchived">;
  sync: Pick<SessionSync, "restore" | "view">;
}) {
  const [items, setItems] = createSignal<AnyEntity[] | null>(null);
  const [loading, setLoading] = createSignal(false);
  const [restoring, setRestoring] = createSignal<ReadonlySet<string>>(new Set());
  const [error, setError] = createSignal<string | null>(null);

  async function load() {
    setLoading(true);
    setError(null);
    try {
      const { items: list } = await props.api.listArchived(props.type);
      setItems(list.filter((e) => e.archived_at !== null).sort((a, b) => (b.archived_at ?? "").localeCompare(a.archived_at ?? "")));
    } catch (cause) {
      setError(describeError(cause));
    } finally {
      setLoading(false);
    }
  }

  async function restore(entity: AnyEntity) {
    setRestoring(new Set([...restoring(), entity.id]));
    setError(null);
    try {
      await props.sync.restore(props.type, entity.id, entity.version);
      setItems((items() ?? []).filter((e) => e.id !== entity.id));
    } catch (cause) {
      setError(`${nameOf(entity)}: ${describeError(cause)}`);
    } finally {
      const next = new Set(restoring());
      next.delete(entity.id);
      setRestoring(next);
    }
  }

  /** Where a token was, or what kind of folder: enough to tell two of the same name apart. */
  const context = (entity: AnyEntity): string => {
    if (props.type === "token") {
      const sceneId = (entity as { scene_id?: unknown }).scene_id;
      if (typeof sceneId !== "string") return "library";
      return props.sync.view.scenes[sceneId]?.name ?? "an archived scene";
    }
    if (props.type === "folder") return (entity as { kind?: unknown }).kind === "token" ? "token folder" : "scene folder";
    return "";
  };

  return (
    <div class="archive-group">
      <div class="archive-heading">
        <h3>{props.title}</h3>
        <Show
          when={items()}
          fallback={
            <button type="button" class="button-small button-quiet" disabled={loading()} onClick={() => void load()}>
              Show archived {props.plural}
            </button>
          }
        >
          <button type="button" class="button-small button-quiet" disabled={loading()} onClick={() => void load()}>
            Refresh<span class="visually-hidden"> archived {props.plural}</span>
          </button>
          <button type="button" class="button-small button-quiet" onClick={() => setItems(null)}>
            Hide archived {props.plural}
          </button>
        </Show>
      </div>
      <Show when={items()}>
        {(list) => (
          <Show when={list().length > 0} fallback={<p class="empty">No archived {props.plural}.</p>}>
            <ul class="list archive-list" aria-label={`Archived ${props.plural}`}>
              <For each={list()}>
                {(entity) => (
                  <li class="list-item archive-item">
                    <span class="item-name">
                      {nameOf(entity)}
                      <Show when={context(entity)}>{(text) => <span class="hint"> · {text()}</span>}</Show>
                      <span class="archive-date">{archivedOn(entity)}</span>
                    </span>
                    <button
                      type="button"
                      class="button-small"
                      aria-label={`Restore ${nameOf(entity)}`}
                      disabled={restoring().has(entity.id)}
                      onClick={() => void restore(entity)}
                    >
                      Restore
                    </button>
                  </li>
                )}
              </For>
            </ul>
          </Show>
        )}
      </Show>
      <Show when={error()}>
        {(message) => (
          <p class="error" role="alert">
            {message()}
          </p>
        )}
      </Show>
    </div>
  );
}
