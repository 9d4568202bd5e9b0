import { createSignal, For, onCleanup, onMount, Show } from "solid-js";
import { describeError } from "../lib/api";
import { formatClock } from "../lib/clock";
import type { Roster } from "../lib/roster";
import type { ConnectedClient, Role, SessionMember } from "../lib/types";
import { RoleBadge } from "./RoleBadge";
import { SidebarSection } from "./SidebarSection";

function capabilityText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** "Firefox on Windows", from the names the server parsed out of the user agent. */
export function deviceLabel(device: ConnectedClient["device"]): string {
  const browser = device?.browser ?? null;
  const os = device?.os ?? null;
  if (browser && os) return `${browser} on ${os}`;
  if (browser) return browser;
  if (os) return `A browser on ${os}`;
  return "Unknown device";
}

/**
 * The session's people: its members, whom a GM may promote to co-GM or make a player again
 * (`PUT {S}/members/{user_id}`), and the clients connected right now with when they connected,
 * when they were last heard from and what they report about themselves. Kept current by the
 * socket's presence messages (see `roster.ts`).
 */
export function MembersPanel(props: { userId: string; roster: Roster }) {
  const [changing, setChanging] = createSignal<string | null>(null);
  const [roleError, setRoleError] = createSignal<string | null>(null);
  onMount(() => onCleanup(props.roster.start()));

  const online = () => new Set(props.roster.clients().map((c) => c.user_id));
  const nameOf = (userId: string) => props.roster.usernames()[userId] ?? userId;
  const members = () =>
    [...props.roster.members()].sort((a, b) => (a.role === b.role ? a.username.localeCompare(b.username) : a.role === "gm" ? -1 : 1));
  const clients = () => [...props.roster.clients()].sort((a, b) => a.connected_at.localeCompare(b.connected_at));

  async function changeRole(member: SessionMember, role: Role) {
    setChanging(member.user_id);
    setRoleError(null);
    try {
      await props.roster.setRole(member.user_id, role);
    } catch (cause) {
      setRoleError(`${member.username}: ${describeError(cause)}`);
    } finally {
      setChanging(null);
    }
  }

  return (
    <SidebarSection
      id="members"
      title="People"
      summary={`${online().size} online`}
      actions={
        <button
          type="button"
          class="button-small button-quiet"
          aria-label="Refresh people"
          disabled={props.roster.loading()}
          onClick={() => void props.roster.refresh()}
        >
          Refresh
        </button>
      }
    >
      <h3 class="subheading">Members</h3>
      <Show when={members().length > 0} fallback={<p class="empty">{props.roster.loading() ? "Loading…" : "No members."}</p>}>
        <ul class="list member-list" aria-label="Members">
          <For each={members()}>
            {(member) => {
              const isMe = () => member.user_id === props.userId;
              const isOnline = () => online().has(member.user_id);
              return (
                <li class="list-item member-item">
                  <span class="presence-dot" classList={{ online: isOnline() }} role="img" aria-label={isOnline() ? "online" : "offline"} />
                  <span class="item-name">
                    {member.username}
                    <Show when={isMe()}>
                      <span class="hint"> (you)</span>
                    </Show>
                  </span>
                  <RoleBadge role={member.role} />
                  <Show when={!isMe()}>
                    <button
                      type="button"
                      class="button-small button-quiet"
                      disabled={changing() !== null}
                      aria-label={member.role === "gm" ? `Make ${member.username} a player` : `Make ${member.username} a co-GM`}
                      onClick={() => void changeRole(member, member.role === "gm" ? "player" : "gm")}
                    >
                      {member.role === "gm" ? "Make player" : "Make co-GM"}
                    </button>
                  </Show>
                </li>
              );
            }}
          </For>
        </ul>
      </Show>
      <h3 class="subheading">Connected now</h3>
      <Show when={clients().length > 0} fallback={<p class="empty">Nobody is connected.</p>}>
        <ul class="list client-list" aria-label="Connected clients">
          <For each={clients()}>{(client) => <ClientItem client={client} name={nameOf(client.user_id)} />}</For>
        </ul>
      </Show>
      <Show when={roleError() ?? props.roster.error()}>
        {(message) => (
          <p class="error" role="alert">
            {message()}
          </p>
        )}
      </Show>
    </SidebarSection>
  );
}

function ClientItem(props: { client: ConnectedClient; name: string }) {
  // The raw user agent stays out of sight: the device line says what it names.
  const capabilities = () => Object.entries(props.client.capabilities ?? {}).filter(([key]) => key !== "user_agent");
  return (
    <li class="list-item client-item" data-client-id={props.client.client_id}>
      <div class="client-row">
        <span class="item-name">{props.name}</span>
        <RoleBadge role={props.client.role} />
      </div>
      <p class="client-device">{deviceLabel(props.client.device)}</p>
      <p class="hint client-times">
        connected <time dateTime={props.client.connected_at}>{formatClock(props.client.connected_at)}</time> · last seen{" "}
        <time dateTime={props.client.last_seen}>{formatClock(props.client.last_seen)}</time>
      </p>
      <Show when={capabilities().length > 0}>
        <ul class="capabilities" aria-label={`Capabilities of ${props.name}`}>
          <For each={capabilities()}>
            {([key, value]) => (
              <li class="capability">
                {key}: {capabilityText(value)}
              </li>
            )}
          </For>
        </ul>
      </Show>
    </li>
  );
}
