import { createSignal, onCleanup, Show } from "solid-js";
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
  // With no network the transport may still be trying to connect, or hold a socket that carries
  // nothing any more (its heartbeat has not timed out yet): say what the browser knows.
  const [online, setOnline] = createSignal(typeof navigator === "undefined" || navigator.onLine !== false);
  const update = () => setOnline(navigator.onLine !== false);
  if (typeof window !== "undefined") {
    window.addEventListener("online", update);
    window.addEventListener("offline", update);
    onCleanup(() => {
      window.removeEventListener("online", update);
      window.removeEventListener("offline", update);
    });
  }
  const label = () => (online() ? labels[props.connection] : labels.offline);
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
