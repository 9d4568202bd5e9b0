/**
 * Accounts: API tokens (create with an optional expiry, list, revoke), password changes, and the
 * per-username back-off of failed logins. Shared by the worker and the app's API tokens page.
 */
import { z } from "zod";
import { passwordSchema } from "./api";

/** The longest expiry a token may be given: ten years. */
export const MAX_TOKEN_DAYS = 3650;

/**
 * `POST /api/auth/tokens`: `{name}` as the contract has it, plus an optional expiry given either as
 * a number of days or as an instant (not both). Without one the token never expires.
 */
export const apiTokenCreateSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(100),
    expires_in_days: z.number().int().min(1).max(MAX_TOKEN_DAYS).optional(),
    expires_at: z.iso.datetime({ offset: true }).optional(),
  })
  .refine((b) => b.expires_in_days === undefined || b.expires_at === undefined, {
    message: "give expires_in_days or expires_at, not both",
  });
export type ApiTokenCreate = z.infer<typeof apiTokenCreateSchema>;

/** One token as `GET /api/auth/tokens` lists it: never its secret. */
export interface ApiTokenInfo {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
}

/** `POST /api/auth/tokens` → 201: the secret, shown this once, and the token's listing. */
export interface ApiTokenCreated extends ApiTokenInfo {
  token: string;
}

/** The instant a token made at `now` expires, or null; an error message when the request is unusable. */
export function tokenExpiry(body: ApiTokenCreate, now: Date): { expires_at: string | null } | { error: string } {
  if (body.expires_in_days !== undefined) return { expires_at: new Date(now.getTime() + body.expires_in_days * 86_400_000).toISOString() };
  if (body.expires_at === undefined) return { expires_at: null };
  const at = Date.parse(body.expires_at);
  if (!(at > now.getTime())) return { error: "expires_at must be in the future" };
  if (at > now.getTime() + MAX_TOKEN_DAYS * 86_400_000) return { error: `expires_at may be at most ${MAX_TOKEN_DAYS} days away` };
  return { expires_at: new Date(at).toISOString() };
}

/** `POST /api/auth/password`. */
export const passwordChangeSchema = z.strictObject({
  current_password: z.string().max(1024),
  new_password: passwordSchema,
});

/**
 * Failed logins per username: the first `free_failures` cost nothing; from then on each failure
 * refuses the username for `base_seconds`, doubling with every further failure up to
 * `max_seconds`. A success clears the count; failures a day old are forgotten.
 */
export const LOGIN_BACKOFF = { free_failures: 5, base_seconds: 30, max_seconds: 900, forget_after_seconds: 86_400 } as const;

/** Seconds a username is refused after its `failures`-th consecutive failure (0: not at all). */
export function loginLockSeconds(failures: number): number {
  if (failures < LOGIN_BACKOFF.free_failures) return 0;
  const exponent = Math.min(failures - LOGIN_BACKOFF.free_failures, 20);
  return Math.min(LOGIN_BACKOFF.max_seconds, LOGIN_BACKOFF.base_seconds * 2 ** exponent);
}
