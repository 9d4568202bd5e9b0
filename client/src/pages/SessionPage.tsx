import { A, useParams } from "@solidjs/router";
import { createEffect, createSignal, Match, on, onCleanup, Switch } from "solid-js";
import type { PresenceClient } from "../../../domain/protocol";
import { ErrorMessage } from "../components/ErrorMessage";
import { SessionTable } from "../components/SessionTable";
import type { Ghost } from "../components/TableCanvas";
import { describeError } from "../lib/api";
import { user } from "../lib/auth";
import { useClientModules } from "../lib/modules";
import { paths } from "../lib/paths";
import { createPreviewSender } from "../lib/preview";
import { type SessionSync, startSessionSync } from "../lib/sync";
import type { InboundMessage } from "../lib/transport";

type PresenceMessage = { clients: PresenceClient[] } | { joined: PresenceClient[] } | { left: string[] };

/** The connected clients after a `presence` message: a full list, arrivals or departures. */
function applyPresence(current: Record<string, string>, message: PresenceMessage): Record<string, string> {
  if ("clients" in message) return Object.fromEntries(message.clients.map((c) => [c.client_id, c.user_id]));
  if ("joined" in message) return { ...current, ...Object.fromEntries(message.joined.map((c) => [c.client_id, c.user_id])) };
  const next = { ...current };
  for (const id of message.left) delete next[id];
  return next;
}

/** How long a ghost of someone else's drag stays without a new preview. */
const GHOST_TTL_MS = 1500;

/**
 * `/s/:sid`: the table. Everything on it comes from the sync layer (`startSessionSync`): the cached
 * world at once, then the server's, kept current over the socket (or by polling), with our own
 * changes shown as soon as they are queued. GMs get the authoring sidebar; players see the active
 * scene and may drag only the tokens given to them. The game modules are the app's
 * (`useClientModules`, provided by main.tsx).
 */
export function SessionPage() {
  const params = useParams<{ sid: string }>();
  const modules = useClientModules();
  const [sync, setSync] = createSignal<SessionSync | null>(null);
  const [startError, setStartError] = createSignal<string | null>(null);
  const [ghosts, setGhosts] = createSignal<Record<string, Ghost>>({});
  /** Who is connected (client id → user id), from the socket's `presence` messages. */
  const [present, setPresent] = createSignal<Record<string, string>>({});
  const ghostTimers = new Map<string, ReturnType<typeof setTimeout>>();

  function dropGhost(id: string) {
    clearTimeout(ghostTimers.get(id));
    ghostTimers.delete(id);
    const { [id]: _gone, ...rest } = ghosts();
    setGhosts(rest);
  }

  function onMessage(message: InboundMessage) {
    if (message.type === "presence") {
      setPresent(applyPresence(present(), message as PresenceMessage));
      return;
    }
    if (message.type !== "preview") return;
    const { entity_id: id, x, y, rotation } = message as { entity_id?: unknown; x?: unknown; y?: unknown; rotation?: unknown };
    if (typeof id !== "string" || typeof x !== "number" || typeof y !== "number") return;
    setGhosts({ ...ghosts(), [id]: { x, y, rotation: typeof rotation === "number" ? rotation : 0 } });
    clearTimeout(ghostTimers.get(id));
    ghostTimers.set(
      id,
      setTimeout(() => dropGhost(id), GHOST_TTL_MS),
    );
  }

  createEffect(
    on(
      () => [params.sid, user()?.id] as const,
      ([sid, userId]) => {
        setSync(null);
        setStartError(null);
        setPresent({});
        if (!userId) return;
        let started: SessionSync | null = null;
        let cancelled = false;
        startSessionSync(sid, userId, modules, { onMessage })
          .then((s) => {
            if (cancelled) void s.stop();
            else {
              started = s;
              setSync(s);
            }
          })
          .catch((cause: unknown) => {
            if (!cancelled) setStartError(describeError(cause));
          });
        onCleanup(() => {
          cancelled = true;
          void started?.stop();
        });
      },
    ),
  );
  onCleanup(() => {
    for (const timer of ghostTimers.values()) clearTimeout(timer);
  });

  const preview = createPreviewSender((message) => sync()?.transport.send({ ...message }) ?? false);

  return (
    <Switch>
      {/* Keyed: another session (a new sync) is a new table, with its own selection. */}
      <Match when={sync()?.view.session ? sync() : null} keyed>
        {(s) => (
          <SessionTable
            sessionId={params.sid}
            userId={user()?.id ?? ""}
            sync={s}
            ghosts={ghosts()}
            preview={preview}
            connectedUsers={new Set(Object.values(present())).size}
          />
        )}
      </Match>
      <Match when={startError() ?? sync()?.view.sync.loadError}>
        {(message) => (
          <div class="page narrow">
            <h1>Session unavailable</h1>
            <ErrorMessage message={message()} />
            <p>
              <button type="button" onClick={() => void sync()?.reload()}>
                Try again
              </button>{" "}
              <A href={paths.home}>Back to my sessions</A>
            </p>
          </div>
        )}
      </Match>
      <Match when={true}>
        <p class="status" role="status">
          Loading session…
        </p>
      </Match>
    </Switch>
  );
}
