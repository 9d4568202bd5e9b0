/**
 * Who is signed in. `user()` is `undefined` while the first `GET /api/auth/me` is in flight, `null`
 * when signed out, and the user otherwise. The CSRF token travels with it into the API client.
 * With no network the user last signed in on this device stands in (lib/known-user.ts), so the
 * table opens from IndexedDB; the server is asked again when the network returns.
 */
import { createSignal } from "solid-js";
import { api, setCsrfToken, setUnauthorizedHandler } from "./api";
import { forgetAuth, rememberAuth, restoreUser } from "./known-user";
import type { AuthResponse, User } from "./types";

const [user, setUser] = createSignal<User | null | undefined>(undefined);

export { user };

function applyAuth(auth: AuthResponse): User {
  setCsrfToken(auth.csrf_token);
  // The same user again (checked once the network is back) keeps the same object: pages keyed on it do not restart.
  setUser((current) => (current && current.id === auth.user.id && current.username === auth.user.username ? current : auth.user));
  return auth.user;
}

function signIn(auth: AuthResponse): User {
  rememberAuth(auth);
  return applyAuth(auth);
}

function signOutLocally(): void {
  setCsrfToken(null);
  setUser(null);
  forgetAuth();
}

setUnauthorizedHandler(signOutLocally);

/** Restores the signed-in user from the cookie at start-up (or from this device, offline). */
export async function loadCurrentUser(): Promise<void> {
  try {
    const restored = await restoreUser(api.me);
    if (restored === null) {
      signOutLocally();
      return;
    }
    applyAuth(restored.auth);
    if (restored.source === "device" && typeof window !== "undefined") {
      window.addEventListener("online", () => void loadCurrentUser().catch(() => undefined), { once: true });
    }
  } catch (error) {
    signOutLocally();
    throw error;
  }
}

export async function login(username: string, password: string): Promise<User> {
  return signIn(await api.login(username, password));
}

export async function register(username: string, password: string): Promise<User> {
  return signIn(await api.register(username, password));
}

export async function logout(): Promise<void> {
  try {
    await api.logout();
  } finally {
    signOutLocally();
  }
}
