/**
 * Upload throttle per user: a fixed one-minute window counted in the directory database (it is per
 * user, across sessions and shards) with one atomic upsert, so it holds across isolates and needs
 * no Durable Object. Every attempt counts (refused ones too: they cost the same reading and
 * checking), and it is taken before the body is read.
 */
import { sql } from "drizzle-orm";
import { ApiError } from "../api-error";
import { directoryDb } from "../db/shards";

export const UPLOAD_WINDOW_SECONDS = 60;
export const DEFAULT_UPLOADS_PER_MINUTE = 30;

export function uploadsPerMinute(env: Env): number {
  const raw: string | undefined = env.ASSET_UPLOADS_PER_MINUTE;
  const n = Number(raw);
  return raw !== undefined && raw !== "" && Number.isInteger(n) && n > 0 ? n : DEFAULT_UPLOADS_PER_MINUTE;
}

/** Counts one upload attempt of `userId`; throws 429 with Retry-After over the limit. */
export function takeUploadSlot(env: Env, userId: string, nowMs = Date.now()): Promise<void> {
  return takeUploadSlots(env, userId, 1, nowMs);
}

/**
 * Counts `n` upload attempts at once (an import counts each image of its bundle as an upload);
 * throws 429 with Retry-After when the window holds more than the limit after them.
 */
export async function takeUploadSlots(env: Env, userId: string, n: number, nowMs = Date.now()): Promise<void> {
  if (n <= 0) return;
  const limit = uploadsPerMinute(env);
  const window = Math.floor(nowMs / 1000 / UPLOAD_WINDOW_SECONDS) * UPLOAD_WINDOW_SECONDS;
  const row = await directoryDb(env).get<{ count: number }>(sql`
    INSERT INTO asset_upload_windows (user_id, window_start, count) VALUES (${userId}, ${window}, ${n})
    ON CONFLICT (user_id) DO UPDATE SET
      count = CASE WHEN window_start = excluded.window_start THEN count + excluded.count ELSE excluded.count END,
      window_start = excluded.window_start
    RETURNING count`);
  if ((row?.count ?? 0) > limit) {
    const retryAfter = Math.max(1, window + UPLOAD_WINDOW_SECONDS - Math.floor(nowMs / 1000));
    throw new ApiError(
      "rate_limited",
      `at most ${limit} uploads a minute`,
      { limit, window_seconds: UPLOAD_WINDOW_SECONDS },
      {
        "Retry-After": String(retryAfter),
      },
    );
  }
}
