import { describe, expect, it } from "vitest";
import { type BucketConfig, mutationCost, refill, retryAfterSeconds, take } from "../../domain/rate-limit";

const config: BucketConfig = { burst: 10, per_second: 5 };

describe("take", () => {
  it.each([
    // [tokens before, ms since, cost, ok, tokens after, retryAfterMs]
    { tokens: 10, elapsed: 0, cost: 1, ok: true, after: 9, retry: undefined },
    { tokens: 10, elapsed: 0, cost: 10, ok: true, after: 0, retry: undefined },
    { tokens: 0, elapsed: 0, cost: 1, ok: false, after: 0, retry: 200 },
    { tokens: 0, elapsed: 200, cost: 1, ok: true, after: 0, retry: undefined },
    { tokens: 0.5, elapsed: 0, cost: 1, ok: false, after: 0.5, retry: 100 },
    { tokens: 0, elapsed: 60_000, cost: 1, ok: true, after: 9, retry: undefined },
    { tokens: 3, elapsed: 0, cost: 5, ok: false, after: 3, retry: 400 },
    // A cost over the burst waits for a full bucket instead of never passing.
    { tokens: 10, elapsed: 0, cost: 50, ok: true, after: 0, retry: undefined },
    { tokens: 9, elapsed: 0, cost: 50, ok: false, after: 9, retry: 200 },
  ])("with $tokens tokens after $elapsed ms, a cost of $cost → ok $ok", ({ tokens, elapsed, cost, ok, after, retry }) => {
    const r = take({ tokens, at: 1000 }, cost, config, 1000 + elapsed);
    expect(r.ok).toBe(ok);
    expect(r.bucket.tokens).toBeCloseTo(after);
    expect(r.bucket.at).toBe(1000 + elapsed);
    if (!r.ok) expect(r.retryAfterMs).toBe(retry);
  });

  it("treats a missing bucket as a full one", () => {
    const r = take(undefined, 1, config, 5000);
    expect(r).toEqual({ ok: true, bucket: { tokens: 9, at: 5000 } });
  });

  it("allows exactly the burst at once, then the refill rate", () => {
    let bucket = take(undefined, 0, config, 0).bucket;
    let passed = 0;
    for (let i = 0; i < 20; i++) {
      const r = take(bucket, 1, config, 0);
      bucket = r.bucket;
      if (r.ok) passed += 1;
    }
    expect(passed).toBe(10);
    for (let ms = 100; ms <= 2000; ms += 100) {
      const r = take(bucket, 1, config, ms);
      bucket = r.bucket;
      if (r.ok) passed += 1;
    }
    expect(passed).toBe(20);
  });

  it("never refills past the burst, nor backwards in time", () => {
    expect(refill({ tokens: 2, at: 0 }, config, 1_000_000).tokens).toBe(10);
    expect(refill({ tokens: 2, at: 5000 }, config, 1000)).toEqual({ tokens: 2, at: 5000 });
  });
});

describe("mutationCost and retryAfterSeconds", () => {
  it.each([
    [1, 1],
    [50, 1],
    [51, 2],
    [500, 10],
  ])("%i ops cost %i", (ops, cost) => {
    expect(mutationCost(ops)).toBe(cost);
  });

  it.each([
    [1, 1],
    [999, 1],
    [1000, 1],
    [1001, 2],
    [0, 1],
  ])("%i ms → Retry-After %i", (ms, seconds) => {
    expect(retryAfterSeconds(ms)).toBe(seconds);
  });
});
