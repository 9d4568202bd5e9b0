/**
 * Who is signed in. `user()` is `undefined` while the first `GET /api/auth/me` is in flight, `null`
 * when signed out, and the user otherwise. The CSRF token travels with it into the API client.
 */
import { createSignal } from "solid-js";
import { ApiError, type AuthResponse, api, setCsrfToken, setUnauthorizedHandler, type User } from "./api";

const [user, setUser] = createSignal<User | null | undefined>(undefined);

export { user };

function signIn(auth: AuthResponse): User {
  setCsrfToken(auth.csrf_token);
  setUser(auth.user);
  return auth.user;
}

function signOutLocally(): void {
  setCsrfToken(null);
  setUser(null);
}

setUnauthorizedHandler(signOutLocally);

/** Restores the signed-in user from the cookie, once at start-up. */
export async function loadCurrentUser(): Promise<void> {
  try {
    signIn(await api.me());
  } catch (error) {
    signOutLocally();
    if (!(error instanceof ApiError && error.status === 401)) throw error;
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
