/**
 * Fixed-window limits per user and per client address, counted in the directory database (`rate_windows`) with one
 * atomic upsert per attempt, so one count holds across every isolate and location. Every attempt
 * counts, refused ones too: a client that keeps retrying inside the window stays refused.
 *
 * Each limit's size is a [vars] setting (wrangler.toml; .dev.vars and the vitest bindings give local
 * runs their own values); a missing or invalid setting falls back to the default below. docs/API.md
 * ("Rate limits") lists them.
 */
import { sql } from "drizzle-orm";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { ApiError } from "../api-error";
import { directoryDb } from "../db/shards";
import type { AppEnv } from "../types";

export interface WindowLimit {
  /** The [vars] entry that sets how many attempts a window allows. */
  setting: string;
  /** Attempts a window allows when the setting is absent or invalid. */
  fallback: number;
  windowSeconds: number;
  /** What is counted, for the message: "session creations". */
  what: string;
}

export const WINDOW_LIMITS = {
  register: { setting: "REGISTRATIONS_PER_IP_PER_MINUTE", fallback: 10, windowSeconds: 60, what: "registrations from this address" },
  login: { setting: "LOGINS_PER_IP_PER_MINUTE", fallback: 60, windowSeconds: 60, what: "logins from this address" },
  session_create: { setting: "SESSION_CREATES_PER_MINUTE", fallback: 20, windowSeconds: 60, what: "session creations" },
  backup: { setting: "BACKUPS_PER_MINUTE", fallback: 6, windowSeconds: 60, what: "backups" },
  restore: { setting: "RESTORES_PER_MINUTE", fallback: 6, windowSeconds: 60, what: "restores" },
  integrity_check: { setting: "INTEGRITY_CHECKS_PER_MINUTE", fallback: 6, windowSeconds: 60, what: "integrity checks" },
  export: { setting: "EXPORTS_PER_MINUTE", fallback: 20, windowSeconds: 60, what: "exports" },
} as const satisfies Record<string, WindowLimit>;

export type WindowLimitName = keyof typeof WINDOW_LIMITS;

/** A positive integer from a [vars] setting, else `fallback`. */
export function positiveSetting(env: Env, name: string, fallback: number): number {
  const raw = (env as unknown as Record<string, unknown>)[name];
  const n = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : Number.NaN;
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/** The client's address as Cloudflare reports it; "unknown" where no proxy set it (local tests). */
export function clientAddress(c: Context<AppEnv>): string {
  return (c.req.header("cf-connecting-ip") ?? "unknown").slice(0, 64);
}

/**
 * Counts one attempt of `name` for `subject` (a user id or `ip:<address>`); throws 429 with
 * Retry-After (the seconds left in the window) once the window's attempts are used up.
 */
export async function takeWindow(env: Env, name: WindowLimitName, subject: string, nowMs = Date.now()): Promise<void> {
  const config: WindowLimit = WINDOW_LIMITS[name];
  const limit = positiveSetting(env, config.setting, config.fallback);
  const windowStart = Math.floor(nowMs / 1000 / config.windowSeconds) * config.windowSeconds;
  const row = await directoryDb(env).get<{ count: number }>(sql`
    INSERT INTO rate_windows (key, window_start, count) VALUES (${`${name}:${subject}`}, ${windowStart}, 1)
    ON CONFLICT (key) DO UPDATE SET
      count = CASE WHEN window_start = excluded.window_start THEN count + 1 ELSE 1 END,
      window_start = excluded.window_start
    RETURNING count`);
  if ((row?.count ?? 0) > limit) {
    const retryAfter = Math.max(1, windowStart + config.windowSeconds - Math.floor(nowMs / 1000));
    throw new ApiError(
      "rate_limited",
      `at most ${limit} ${config.what} in ${config.windowSeconds} s: retry in ${retryAfter} s`,
      { limit, window_seconds: config.windowSeconds, retry_after_ms: retryAfter * 1000 },
      { "Retry-After": String(retryAfter) },
    );
  }
}

/** A middleware counting one attempt of `name` per authenticated user (after requireUser/requireMember). */
export function limitPerUser(name: WindowLimitName) {
  return createMiddleware<AppEnv>(async (c, next) => {
    await takeWindow(c.env, name, `user:${c.get("user").id}`);
    await next();
  });
}

/** A middleware counting one attempt of `name` per client address (before authentication). */
export function limitPerAddress(name: WindowLimitName) {
  return createMiddleware<AppEnv>(async (c, next) => {
    await takeWindow(c.env, name, `ip:${clientAddress(c)}`);
    await next();
  });
}
