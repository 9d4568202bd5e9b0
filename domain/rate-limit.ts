/**
 * Token buckets: the arithmetic behind every rate limit of a session. Pure functions over plain
 * values, so the rules are tested by table and the session object only keeps the buckets.
 *
 * A bucket holds up to `burst` tokens and gains `per_second` tokens a second; an action costs
 * tokens and is refused while the bucket holds fewer than it costs.
 */

export interface BucketConfig {
  /** Tokens a full bucket holds: how many actions may come at once. */
  burst: number;
  /** Tokens gained a second: the sustained rate. */
  per_second: number;
}

export interface Bucket {
  tokens: number;
  /** When `tokens` was computed, in milliseconds (Date.now()). */
  at: number;
}

export type Take = { ok: true; bucket: Bucket } | { ok: false; bucket: Bucket; retryAfterMs: number };

/**
 * Mutations per user and per session (REST writes, batches, locks, settings). Generous enough for
 * a GM writing 200 changes a second without batching (what `npm run bench` does), far above what
 * a person produces, and still a ceiling for a runaway script.
 */
export const MUTATION_LIMIT: BucketConfig = { burst: 400, per_second: 200 };

/** Messages a socket may send (everything but pings, which the runtime answers); over it, the socket is closed. */
export const SOCKET_MESSAGE_LIMIT: BucketConfig = { burst: 200, per_second: 100 };

/** Live-drag previews a socket may send; extra previews are dropped without a word (lossy by design). */
export const PREVIEW_LIMIT: BucketConfig = { burst: 10, per_second: 30 };

/** Ops a batch may carry for the price of one mutation: a 500-op batch costs 10. */
export const OPS_PER_MUTATION = 50;

export function mutationCost(opCount: number): number {
  return Math.max(1, Math.ceil(opCount / OPS_PER_MUTATION));
}

export function fullBucket(config: BucketConfig, now: number): Bucket {
  return { tokens: config.burst, at: now };
}

/** The bucket at `now`: refilled for the time since it was last computed, never over `burst`. */
export function refill(bucket: Bucket, config: BucketConfig, now: number): Bucket {
  const elapsed = Math.max(0, now - bucket.at);
  return { tokens: Math.min(config.burst, bucket.tokens + (elapsed * config.per_second) / 1000), at: Math.max(now, bucket.at) };
}

/**
 * Takes `cost` tokens (at most `burst`: a cost the bucket could never hold waits for a full one).
 * A missing bucket is a full one. On refusal, `retryAfterMs` says when the tokens will be there.
 */
export function take(bucket: Bucket | undefined, cost: number, config: BucketConfig, now: number): Take {
  const current = refill(bucket ?? fullBucket(config, now), config, now);
  const price = Math.min(Math.max(cost, 0), config.burst);
  if (current.tokens >= price) return { ok: true, bucket: { tokens: current.tokens - price, at: current.at } };
  const missing = price - current.tokens;
  const retryAfterMs = config.per_second > 0 ? Math.ceil((missing * 1000) / config.per_second) : Number.POSITIVE_INFINITY;
  return { ok: false, bucket: current, retryAfterMs };
}

/** `Retry-After` is whole seconds; never 0, which would invite an immediate retry. */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}
