import { createEffect, createMemo, createSignal, For, type JSX, on } from "solid-js";

export interface SidebarTab {
  id: string;
  label: string;
  content: JSX.Element;
}

const TAB_KEY = "vtt.sidebar.tab";

function readTab(ids: readonly string[], fallback: string): string {
  try {
    const stored = globalThis.localStorage?.getItem(TAB_KEY);
    return stored && ids.includes(stored) ? stored : fallback;
  } catch {
    return fallback;
  }
}

/**
 * The GM panel's tabs (WAI-ARIA tabs: arrow keys, Home and End move between them, the chosen one
 * is remembered in this browser). Every panel stays mounted, hidden while its tab is not chosen,
 * so drafts, uploads in progress and loaded lists survive a switch.
 */
export function SidebarTabs(props: {
  tabs: SidebarTab[];
  label: string;
  /** Brings a tab to the front each time a new request object comes (e.g. the Token tab when a token is picked on the table). */
  show?: { id: string } | null;
}) {
  // Read once: each read of `props.tabs` may build the panels anew.
  const tabs = createMemo(() => props.tabs);
  const ids = () => tabs().map((t) => t.id);
  const [current, setCurrent] = createSignal(readTab(ids(), tabs()[0]?.id ?? ""));
  createEffect(
    on(
      () => props.show,
      (request) => {
        if (request && ids().includes(request.id)) choose(request.id);
      },
      { defer: true },
    ),
  );
  const tabButtons: HTMLButtonElement[] = [];

  function choose(id: string, focus = false) {
    setCurrent(id);
    try {
      globalThis.localStorage?.setItem(TAB_KEY, id);
    } catch {
      // Forgotten next time: the first tab opens.
    }
    if (focus) tabButtons[ids().indexOf(id)]?.focus();
  }

  function onKeyDown(event: KeyboardEvent) {
    const list = ids();
    const index = list.indexOf(current());
    const next =
      event.key === "ArrowRight" || event.key === "ArrowDown"
        ? (index + 1) % list.length
        : event.key === "ArrowLeft" || event.key === "ArrowUp"
          ? (index - 1 + list.length) % list.length
          : event.key === "Home"
            ? 0
            : event.key === "End"
              ? list.length - 1
              : -1;
    if (next < 0) return;
    event.preventDefault();
    choose(list[next] as string, true);
  }

  return (
    <div class="sidebar-tabs">
      <div class="tab-list" role="tablist" aria-label={props.label} onKeyDown={onKeyDown}>
        <For each={tabs()}>
          {(tab, index) => (
            <button
              ref={(el) => {
                tabButtons[index()] = el;
              }}
              type="button"
              role="tab"
              id={`tab-${tab.id}`}
              class="tab"
              aria-selected={current() === tab.id}
              aria-controls={`tabpanel-${tab.id}`}
              tabIndex={current() === tab.id ? 0 : -1}
              onClick={() => choose(tab.id)}
            >
              {tab.label}
            </button>
          )}
        </For>
      </div>
      <For each={tabs()}>
        {(tab) => (
          <div role="tabpanel" id={`tabpanel-${tab.id}`} class="tab-panel" aria-labelledby={`tab-${tab.id}`} hidden={current() !== tab.id}>
            {tab.content}
          </div>
        )}
      </For>
    </div>
  );
}
