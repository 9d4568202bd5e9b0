/**
 * The per-user write bucket, one across all of a user's sessions (docs/API.md, "Rate limits").
 *
 * Each session object keeps a bucket per user for its own session; a user writing to many
 * sessions at once would get one full bucket per session. This object, one per user (named by the
 * user id), holds the user's bucket across sessions: a session object takes from it after its own
 * bucket agreed. One object per user is one place in the world, so the count is consistent without
 * a D1 write per change (the hot path of every write); the bucket lives in memory and starts full
 * after an eviction, which only happens after seconds without writes, longer than a refill takes.
 *
 * A session object does not call it for every write: it takes a small lease (the write's cost plus
 * USER_WRITE_LEASE tokens when the bucket has them) and spends the lease on the user's next writes
 * in that session, so a busy writer pays one call every few writes. Tokens leased and not spent
 * are simply gone: a user may lose up to USER_WRITE_LEASE tokens per session they write to, which
 * errs on the side of the limit.
 */
import { DurableObject } from "cloudflare:workers";
import { type Bucket, type BucketConfig, MUTATION_LIMIT, take } from "../../domain/rate-limit";
import { positiveSetting } from "../middleware/rate-limit";

export type UserTake = { ok: true } | { ok: false; retryAfterMs: number };
export type UserLease = { ok: true; granted: number } | { ok: false; retryAfterMs: number };

/** Tokens a session object takes ahead of the user's next writes in it. */
export const USER_WRITE_LEASE = 8;

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

  /**
   * Takes `cost + extra` tokens if the bucket holds them, else just `cost`; refuses when it holds
   * fewer than `cost`. Returns how many were taken.
   */
  leaseWrites(cost: number, extra: number): UserLease {
    const config = userWriteLimit(this.env);
    const now = Date.now();
    const more = take(this.#bucket, cost + extra, config, now);
    if (more.ok) {
      this.#bucket = more.bucket;
      return { ok: true, granted: Math.min(cost + extra, config.burst) };
    }
    const exact = take(this.#bucket, cost, config, now);
    this.#bucket = exact.bucket;
    return exact.ok ? { ok: true, granted: Math.min(cost, config.burst) } : { ok: false, retryAfterMs: exact.retryAfterMs };
  }

  /** The bucket as it is now (for tests and diagnostics). */
  peek(): Bucket | null {
    return this.#bucket ?? null;
  }
}

export function userLimiter(env: Env, userId: string): DurableObjectStub<UserLimiter> {
  return env.USER_LIMITER.get(env.USER_LIMITER.idFromName(userId));
}

/**
 * A session object's leases of its writers' buckets: `take` spends from the lease and calls the
 * user's object only when the lease runs short. Takes run one after another, in the order the
 * writes arrived, so a write waiting for the user's object cannot be overtaken by a later one (the
 * write queue keeps arrival order). If the user's object cannot be reached the write is let
 * through: the per-session bucket still holds, and a limiter outage must not stop every table.
 */
export class UserWriteLeases {
  readonly #leases = new Map<string, number>();
  readonly #env: Env;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(env: Env) {
    this.#env = env;
  }

  take(userId: string, cost: number): Promise<UserTake> {
    const run = this.#tail.then(() => this.#take(userId, cost));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #take(userId: string, cost: number): Promise<UserTake> {
    const held = this.#leases.get(userId) ?? 0;
    if (held >= cost) {
      this.#leases.set(userId, held - cost);
      return { ok: true };
    }
    let result: UserLease;
    try {
      result = (await userLimiter(this.#env, userId).leaseWrites(cost - held, USER_WRITE_LEASE)) as UserLease;
    } catch (error) {
      console.error(JSON.stringify({ level: "error", msg: "user write limiter unreachable", user_id: userId, error: String(error) }));
      return { ok: true };
    }
    if (!result.ok) return result;
    // What the lease held went into this write; the rest of the grant is the new lease.
    this.#leases.set(userId, held + result.granted - cost);
    return { ok: true };
  }
}
