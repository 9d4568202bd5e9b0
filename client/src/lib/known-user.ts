/**
 * The last user signed in on this browser, kept in localStorage so the app can open with no
 * network: the table then renders from IndexedDB and queues edits, and the queue needs the
 * login's CSRF token once the network returns (it is bound to the session cookie, which the
 * browser keeps; a page of another site can read neither). Forgotten on sign-out and on any 401.
 */
import { ApiError } from "./api";
import type { AuthResponse } from "./types";

const STORAGE_KEY = "vtt:last-user";

/** Where the user of this page load comes from: the server, or this device while the server is out of reach. */
export type UserSource = "server" | "device";

export interface RestoredUser {
  auth: AuthResponse;
  source: UserSource;
}

function defaultStorage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    // Storage disabled (some private modes): the app only loses its offline start.
    return null;
  }
}

export function rememberAuth(auth: AuthResponse, storage: Storage | null = defaultStorage()): void {
  try {
    storage?.setItem(STORAGE_KEY, JSON.stringify({ user: auth.user, csrf_token: auth.csrf_token }));
  } catch {
    // Full or disabled: same as above.
  }
}

export function recallAuth(storage: Storage | null = defaultStorage()): AuthResponse | null {
  let raw: string | null = null;
  try {
    raw = storage?.getItem(STORAGE_KEY) ?? null;
  } catch {
    return null;
  }
  if (raw === null) return null;
  try {
    const value = JSON.parse(raw) as { user?: { id?: unknown; username?: unknown }; csrf_token?: unknown };
    const { user, csrf_token } = value;
    if (typeof user?.id !== "string" || typeof user.username !== "string" || typeof csrf_token !== "string") return null;
    return { user: { id: user.id, username: user.username }, csrf_token };
  } catch {
    return null;
  }
}

export function forgetAuth(storage: Storage | null = defaultStorage()): void {
  try {
    storage?.removeItem(STORAGE_KEY);
  } catch {
    // Nothing to forget.
  }
}

/**
 * Whether a failed `GET /api/auth/me` leaves the question open: no answer at all, a timeout, rate
 * limiting or a server error. Only a 401 says "signed out".
 */
export function serverUnreachable(error: unknown): boolean {
  if (!(error instanceof ApiError)) return false;
  return error.status === 0 || error.status === 408 || error.status === 429 || error.status >= 500;
}

/**
 * Who is signed in, at start-up: the server's answer (remembered for next time), or, when the
 * server cannot be reached, the user remembered on this device. Null when signed out (forgotten
 * then). Throws when the server is unreachable and no user is remembered, or on another error.
 */
export async function restoreUser(
  me: () => Promise<AuthResponse>,
  storage: Storage | null = defaultStorage(),
): Promise<RestoredUser | null> {
  try {
    const auth = await me();
    rememberAuth(auth, storage);
    return { auth, source: "server" };
  } catch (error) {
    if (serverUnreachable(error)) {
      const known = recallAuth(storage);
      if (known) return { auth: known, source: "device" };
    } else if (error instanceof ApiError && error.status === 401) {
      forgetAuth(storage);
      return null;
    }
    throw error;
  }
}
