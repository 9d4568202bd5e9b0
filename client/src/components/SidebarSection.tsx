import { createSignal, type JSX, Show } from "solid-js";

const storageKey = (id: string) => `vtt.sidebar.${id}`;

function readOpen(id: string, fallback: boolean): boolean {
  try {
    const stored = globalThis.localStorage?.getItem(storageKey(id));
    return stored === null || stored === undefined ? fallback : stored === "open";
  } catch {
    return fallback;
  }
}

function writeOpen(id: string, open: boolean): void {
  try {
    globalThis.localStorage?.setItem(storageKey(id), open ? "open" : "closed");
  } catch {
    // Private mode or storage full: the section simply forgets.
  }
}

/**
 * A card of the GM's sidebar that folds away: its heading is a button (Enter or Space toggles it,
 * `aria-expanded` tells screen readers), and the choice is remembered in this browser. Folded
 * content stays mounted, so drafts and loaded lists survive folding.
 */
export function SidebarSection(props: {
  id: string;
  title: string;
  /** Shown beside the title (a count, a status). */
  summary?: JSX.Element;
  /** Buttons on the right of the heading, visible while folded too. */
  actions?: JSX.Element;
  defaultOpen?: boolean;
  children: JSX.Element;
}) {
  const [open, setOpen] = createSignal(readOpen(props.id, props.defaultOpen ?? true));
  const toggle = () => {
    const next = !open();
    setOpen(next);
    writeOpen(props.id, next);
  };
  return (
    <section class="card sidebar-card sidebar-section" classList={{ folded: !open() }} aria-labelledby={`${props.id}-heading`}>
      <div class="card-heading">
        <h2 id={`${props.id}-heading`}>
          <button type="button" class="section-toggle" aria-expanded={open()} aria-controls={`${props.id}-body`} onClick={toggle}>
            <span class="section-chevron" aria-hidden="true" />
            {props.title}
          </button>
        </h2>
        <Show when={props.summary}>
          <span class="section-summary">{props.summary}</span>
        </Show>
        {props.actions}
      </div>
      <div id={`${props.id}-body`} class="section-body" hidden={!open()}>
        {props.children}
      </div>
    </section>
  );
}
