import { describe, expect, it } from "vitest";
import {
  blockingLock,
  decideAcquire,
  decideRelease,
  earliestExpiry,
  isLockHeld,
  LOCK_PERSIST_SLACK_MS,
  LOCK_TTL_MS,
  lockExpiry,
  mustPersistExtension,
} from "../../domain/locks";

const now = Date.parse("2026-01-01T12:00:00.000Z");
const gmA = { userId: "a", role: "gm" as const };
const gmB = { userId: "b", role: "gm" as const };
const player = { userId: "p", role: "player" as const };
const held = { scene_id: "s1", holder_user_id: "a", expires_at: new Date(now + 60_000).toISOString() };
const expired = { scene_id: "s1", holder_user_id: "a", expires_at: new Date(now - 1).toISOString() };

describe("lock expiry", () => {
  it("runs five minutes from now", () => {
    expect(Date.parse(lockExpiry(now)) - now).toBe(LOCK_TTL_MS);
    expect(LOCK_TTL_MS).toBe(300_000);
  });

  it.each([
    [now + 1, true],
    [now, false],
    [now - 1000, false],
  ])("a lock expiring at %i holds: %s", (at, holds) => {
    expect(isLockHeld({ expires_at: new Date(at).toISOString() }, now)).toBe(holds);
  });

  it("finds the earliest expiry", () => {
    expect(earliestExpiry([])).toBeUndefined();
    expect(earliestExpiry([held, expired])).toBe(Date.parse(expired.expires_at));
  });

  it.each([
    [0, false],
    [LOCK_PERSIST_SLACK_MS - 1, false],
    [LOCK_PERSIST_SLACK_MS, true],
  ])("an extension by %i ms is written: %s", (by, written) => {
    const stored = new Date(now).toISOString();
    expect(mustPersistExtension(stored, new Date(now + by).toISOString())).toBe(written);
  });
});

describe("who a lock blocks", () => {
  it.each([
    ["another GM", gmB, held, true],
    ["the holder", gmA, held, false],
    ["a player", player, held, false],
    ["another GM, once expired", gmB, expired, false],
    ["anyone, without a lock", gmB, undefined, false],
  ])("%s: blocked %s", (_name, actor, lock, blocked) => {
    expect(blockingLock(lock, actor, now) !== undefined).toBe(blocked);
  });
});

describe("taking and releasing", () => {
  it.each([
    ["a free scene", undefined, gmB, { ok: true, refresh: false }],
    ["an expired lock of another GM", expired, gmB, { ok: true, refresh: false }],
    ["the holder's own lock", held, gmA, { ok: true, refresh: true }],
    ["another GM's lock", held, gmB, { ok: false, heldBy: held }],
  ])("taking %s", (_name, lock, actor, decision) => {
    expect(decideAcquire(lock, actor, now)).toEqual(decision);
  });

  it.each([
    ["nothing", undefined, gmA, "absent"],
    ["an expired lock", expired, gmB, "absent"],
    ["the holder's own lock", held, gmA, "release"],
    ["another GM's lock", held, gmB, { heldBy: held }],
  ])("releasing %s", (_name, lock, actor, decision) => {
    expect(decideRelease(lock, actor, now)).toEqual(decision);
  });
});
