/**
 * Per-session settings (`game_sessions.settings`), switchable by a GM without a deploy through
 * `PATCH {S}/settings` and readable by every member in `GET {S}`, `GET {S}/state`
 * (`session.settings`) and `GET {S}/settings`.
 *
 * - `realtime` (default true): the WebSocket channel. When a GM turns it off, open sockets get
 *   `{type: "realtime_off", poll_interval_ms}` and are closed (code 4503), new upgrades answer 409
 *   `conflict` with `details.reason: "realtime_off"`, and clients poll `changes?since` with
 *   `If-None-Match` every `poll_interval_ms` (jittered, with exponential backoff on errors).
 * - `poll_interval_ms` (default 4000, 3000..60000): the polling period for that fallback.
 * - `rate_limit` (optional): overrides the per-user mutation bucket of `rate-limit.ts`.
 * - `retention_days` (optional, 1..365): how long this session keeps its change log, overriding
 *   the deployment's CHANGE_LOG_RETENTION_DAYS (worker/jobs/compact-log.ts). Beyond it
 *   `changes?since` answers 410 and `resume` a reload.
 *
 * An admin holding the ADMIN_TOKEN secret reads and switches the same settings of any session
 * (worker/routes/admin.ts), through the same call to the session object as a GM.
 *
 * A session that never had its settings changed stores `{}`: read it through `resolveSettings`.
 */
import { z } from "zod";
import { type BucketConfig, MUTATION_LIMIT } from "./rate-limit";

export const POLL_INTERVAL_MIN_MS = 3000;
export const POLL_INTERVAL_MAX_MS = 60_000;
export const RETENTION_DAYS_MIN = 1;
export const RETENTION_DAYS_MAX = 365;

const retentionDaysSchema = z.number().int().min(RETENTION_DAYS_MIN).max(RETENTION_DAYS_MAX);

export const rateLimitSchema = z.strictObject({
  burst: z.number().int().min(1).max(10_000),
  per_second: z.number().min(0.1).max(2000),
});

export const sessionSettingsSchema = z.object({
  realtime: z.boolean(),
  poll_interval_ms: z.number().int().min(POLL_INTERVAL_MIN_MS).max(POLL_INTERVAL_MAX_MS),
  rate_limit: rateLimitSchema.optional(),
  retention_days: retentionDaysSchema.optional(),
});
export type SessionSettings = z.infer<typeof sessionSettingsSchema>;

/** The body of `PATCH {S}/settings`: any of the fields; `null` returns `rate_limit` or `retention_days` to the default. */
export const settingsPatchSchema = z
  .strictObject({
    realtime: z.boolean().optional(),
    poll_interval_ms: z.number().int().min(POLL_INTERVAL_MIN_MS).max(POLL_INTERVAL_MAX_MS).optional(),
    rate_limit: rateLimitSchema.nullable().optional(),
    retention_days: retentionDaysSchema.nullable().optional(),
  })
  .refine((p) => Object.keys(p).length > 0, "send at least one setting");
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;

export const DEFAULT_SETTINGS: SessionSettings = { realtime: true, poll_interval_ms: 4000 };

/** Settings as stored (possibly `{}` or partial) → complete settings; what does not parse falls back to the default. */
export function resolveSettings(stored: unknown): SessionSettings {
  const raw = typeof stored === "object" && stored !== null ? (stored as Record<string, unknown>) : {};
  const field = <K extends keyof SessionSettings>(key: K): SessionSettings[K] | undefined => {
    const parsed = sessionSettingsSchema.shape[key].safeParse(raw[key]);
    return parsed.success ? (parsed.data as SessionSettings[K]) : undefined;
  };
  const rateLimit = field("rate_limit");
  const retention = field("retention_days");
  return {
    realtime: field("realtime") ?? DEFAULT_SETTINGS.realtime,
    poll_interval_ms: field("poll_interval_ms") ?? DEFAULT_SETTINGS.poll_interval_ms,
    ...(rateLimit ? { rate_limit: rateLimit } : {}),
    ...(retention !== undefined ? { retention_days: retention } : {}),
  };
}

export function applySettingsPatch(current: SessionSettings, patch: SettingsPatch): SessionSettings {
  const { rate_limit, retention_days, ...rest } = patch;
  const next: SessionSettings = { ...current };
  if (rest.realtime !== undefined) next.realtime = rest.realtime;
  if (rest.poll_interval_ms !== undefined) next.poll_interval_ms = rest.poll_interval_ms;
  if (rate_limit === null) delete next.rate_limit;
  else if (rate_limit !== undefined) next.rate_limit = rate_limit;
  if (retention_days === null) delete next.retention_days;
  else if (retention_days !== undefined) next.retention_days = retention_days;
  return next;
}

export function mutationLimitOf(settings: SessionSettings): BucketConfig {
  return settings.rate_limit ?? MUTATION_LIMIT;
}
