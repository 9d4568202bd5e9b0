/**
 * The per-user write bucket, one across all of a user's sessions (docs/API.md, "Rate limits").
 *
 * Each session object keeps a bucket per user for its own session; a user writing to many
 * sessions at once would get one full bucket per session. This object, one per user (named by the
 * user id), holds the user's bucket across sessions: a session object takes from it after its own
 * bucket agreed. One object per user is one place in the world, so the count is consistent without
 * a D1 write per change (the hot path of every write); the bucket lives in memory and starts full
 * after an eviction, which only happens after seconds without writes, longer than a refill takes.
 */
import { DurableObject } from "cloudflare:workers";
import { type Bucket, type BucketConfig, MUTATION_LIMIT, take } from "../../domain/rate-limit";
import { positiveSetting } from "../middleware/rate-limit";

export type UserTake = { ok: true } | { ok: false; retryAfterMs: number };

/** The per-user bucket: [vars] USER_WRITES_BURST and USER_WRITES_PER_SECOND, else a session's default. */
export function userWriteLimit(env: Env): BucketConfig {
  return {
    burst: positiveSetting(env, "USER_WRITES_BURST", MUTATION_LIMIT.burst),
    per_second: positiveSetting(env, "USER_WRITES_PER_SECOND", MUTATION_LIMIT.per_second),
  };
}

export class UserLimiter extends DurableObject<Env> {
  #bucket: Bucket | undefined;

  /** Takes `cost` tokens of the user's write bucket. */
  takeWrites(cost: number): UserTake {
    const result = take(this.#bucket, cost, userWriteLimit(this.env), Date.now());
    this.#bucket = result.bucket;
    return result.ok ? { ok: true } : { ok: false, retryAfterMs: result.retryAfterMs };
  }

  /** The bucket as it is now (for tests and diagnostics). */
  peek(): Bucket | null {
    return this.#bucket ?? null;
  }
}

export function userLimiter(env: Env, userId: string): DurableObjectStub<UserLimiter> {
  return env.USER_LIMITER.get(env.USER_LIMITER.idFromName(userId));
}

/** Takes `cost` of `userId`'s write bucket through its object. */
export async function takeUserWrites(env: Env, userId: string, cost: number): Promise<UserTake> {
  return (await userLimiter(env, userId).takeWrites(cost)) as UserTake;
}
