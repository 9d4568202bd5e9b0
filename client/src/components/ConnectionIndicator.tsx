import { Show } from "solid-js";
import type { TransportStatus } from "../lib/transport";

const labels: Record<TransportStatus, { text: string; tone: "live" | "polling" | "offline" }> = {
  live: { text: "Live", tone: "live" },
  polling: { text: "Polling", tone: "polling" },
  connecting: { text: "Connecting…", tone: "polling" },
  reconnecting: { text: "Reconnecting…", tone: "polling" },
  offline: { text: "Offline", tone: "offline" },
  stopped: { text: "Offline", tone: "offline" },
};

/** How changes reach this table (socket, polling, nothing) and how many of ours wait to be sent. */
export function ConnectionIndicator(props: { connection: TransportStatus; pending: number }) {
  const label = () => labels[props.connection];
  return (
    <output class="connection" data-tone={label().tone} aria-label="Connection" aria-live="polite">
      <span class="connection-dot" aria-hidden="true" />
      <span class="connection-text">{label().text}</span>
      <Show when={props.pending > 0}>
        <span class="connection-pending">
          {props.pending} {props.pending === 1 ? "change" : "changes"} queued
        </span>
      </Show>
    </output>
  );
}
