/**
 * Who is in the session (its members, from `GET /api/vtt/sessions/{sid}`) and who is connected
 * right now (`GET {S}/clients`, GMs only). The socket's `presence` messages say that someone came
 * or went, but not their last activity or capabilities: each one (a burst counts once) reads the
 * clients again, and the members too when someone unknown arrived (a player who just joined).
 * Inert until a panel `start`s it, so a player's table never asks for GM-only lists.
 */
import { createSignal } from "solid-js";
import { describeError, type GmApi } from "./api";
import type { SessionSync } from "./sync";
import { defaultTimers, type InboundMessage, type Timers } from "./transport";
import type { ConnectedClient, Role, SessionMember } from "./types";

/** Presence messages closer together than this cause one read. */
export const PRESENCE_DEBOUNCE_MS = 300;

export interface RosterDeps {
  api: Pick<GmApi, "getSession" | "listClients" | "setMemberRole">;
  sync: Pick<SessionSync, "listen">;
  timers?: Timers;
}

export interface Roster {
  members(): SessionMember[];
  clients(): ConnectedClient[];
  /** User id → username, for everyone in the session. */
  usernames(): Record<string, string>;
  error(): string | null;
  loading(): boolean;
  refresh(): Promise<void>;
  setRole(userId: string, role: Role): Promise<void>;
  /** Loads the lists and follows presence; returns the stop (starts are counted). */
  start(): () => void;
}

export function createRoster(deps: RosterDeps): Roster {
  const timers = deps.timers ?? defaultTimers;
  const [members, setMembers] = createSignal<SessionMember[]>([]);
  const [clients, setClients] = createSignal<ConnectedClient[]>([]);
  const [error, setError] = createSignal<string | null>(null);
  const [loading, setLoading] = createSignal(false);
  let membersDue = false;
  let timer: unknown = null;

  async function loadMembers() {
    const detail = await deps.api.getSession();
    setMembers(detail.members);
  }

  async function loadClients() {
    const { clients: list } = await deps.api.listClients();
    setClients(list);
  }

  async function refresh(withMembers = true): Promise<void> {
    setLoading(true);
    try {
      await Promise.all([withMembers ? loadMembers() : Promise.resolve(), loadClients()]);
      setError(null);
    } catch (cause) {
      setError(describeError(cause));
    } finally {
      setLoading(false);
    }
  }

  function handle(message: InboundMessage) {
    if (message.type !== "presence") return;
    const known = new Set(members().map((m) => m.user_id));
    if (arrivals(message).some((userId) => !known.has(userId))) membersDue = true;
    if (timer !== null) return;
    timer = timers.setTimeout(() => {
      timer = null;
      const withMembers = membersDue;
      membersDue = false;
      void refresh(withMembers);
    }, PRESENCE_DEBOUNCE_MS);
  }

  async function setRole(userId: string, role: Role): Promise<void> {
    const { member } = await deps.api.setMemberRole(userId, role);
    setMembers(members().map((m) => (m.user_id === member.user_id ? { ...m, role: member.role } : m)));
    // Their socket is closed (4403) and reconnects with the new role: the clients list follows by presence.
  }

  let starts = 0;
  let unlisten: (() => void) | null = null;

  function start(): () => void {
    starts += 1;
    if (starts === 1) {
      unlisten = deps.sync.listen(handle);
      void refresh();
    }
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      starts -= 1;
      if (starts === 0) {
        unlisten?.();
        unlisten = null;
        if (timer !== null) timers.clearTimeout(timer);
        timer = null;
      }
    };
  }

  return {
    members,
    clients,
    usernames: () => Object.fromEntries(members().map((m) => [m.user_id, m.username])),
    error,
    loading,
    refresh: () => refresh(true),
    setRole,
    start,
  };
}

/** The user ids a presence message brings (`joined`, or the full `clients` list). */
function arrivals(message: InboundMessage): string[] {
  const { joined, clients } = message as { joined?: unknown; clients?: unknown };
  const list = joined ?? clients;
  if (!Array.isArray(list)) return [];
  return list.flatMap((client: unknown) => {
    const userId = typeof client === "object" && client !== null ? (client as { user_id?: unknown }).user_id : undefined;
    return typeof userId === "string" ? [userId] : [];
  });
}
