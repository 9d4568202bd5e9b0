/** Where the app's pages live, so links and redirects are spelled once. */
export const paths = {
  home: "/",
  login: (next?: string) => (next === undefined ? "/login" : `/login?next=${encodeURIComponent(next)}`),
  join: (inviteCode: string) => `/join/${encodeURIComponent(inviteCode)}`,
  session: (sid: string) => `/s/${encodeURIComponent(sid)}`,
  tokens: "/tokens",
};

/** A `next` redirect target only if it is a path on this origin (never `//evil.example`). */
export function safeNext(next: string | undefined): string {
  return next?.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : paths.home;
}

/** The link a GM hands to players: `/join/<invite_code>` on this origin. */
export function inviteLink(inviteCode: string, origin: string = window.location.origin): string {
  return `${origin}${paths.join(inviteCode)}`;
}
