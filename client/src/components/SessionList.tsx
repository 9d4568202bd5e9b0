import { A } from "@solidjs/router";
import { For, Show } from "solid-js";
import { paths } from "../lib/paths";
import type { SessionSummary } from "../lib/types";
import { RoleBadge } from "./RoleBadge";

/** The sessions the caller belongs to, each a link to its table. */
export function SessionList(props: { sessions: SessionSummary[] }) {
  return (
    <Show
      when={props.sessions.length > 0}
      fallback={<p class="empty">No sessions yet. Create one, or open an invite link from your GM.</p>}
    >
      <ul class="list" aria-label="Sessions">
        <For each={props.sessions}>
          {(session) => (
            <li class="list-item">
              <A href={paths.session(session.id)}>{session.name}</A>
              <RoleBadge role={session.role} />
            </li>
          )}
        </For>
      </ul>
    </Show>
  );
}
