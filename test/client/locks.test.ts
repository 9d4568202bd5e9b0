import { createRoot } from "solid-js";
import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "../../client/src/lib/api";
import {
  applyLockMessage,
  createSceneLocks,
  dropExpired,
  KEEPALIVE_CHECK_MS,
  LOCK_REFRESH_MARGIN_MS,
  lockFromError,
  type SceneLocks,
} from "../../client/src/lib/locks";
import { fakeGmApi, fakeSync } from "./helpers/fake-gm";
import { ManualClock, settle } from "./helpers/timers";

const T = Date.parse("2030-01-01T00:00:00.000Z");
const iso = (ms: number) => new Date(ms).toISOString();
const lock = (sceneId: string, holder: string, expiresAt = iso(T + 5 * 60_000)) => ({
  scene_id: sceneId,
  holder_user_id: holder,
  expires_at: expiresAt,
});
const lockMessage = (sceneId: string, value: ReturnType<typeof lock> | null, reason = "acquired") => ({
  type: "lock",
  scene_id: sceneId,
  lock: value,
  reason,
});

describe("lock messages", () => {
  it("records an acquired or refreshed lock and forgets a released or expired one", () => {
    let locks = applyLockMessage({}, lockMessage("s1", lock("s1", "u-a")));
    expect(locks).toEqual({ s1: lock("s1", "u-a") });
    locks = applyLockMessage(locks, lockMessage("s1", lock("s1", "u-a", iso(T + 9 * 60_000)), "refreshed"));
    expect(locks.s1?.expires_at).toBe(iso(T + 9 * 60_000));
    expect(applyLockMessage(locks, lockMessage("s1", null, "released"))).toEqual({});
    expect(applyLockMessage(locks, lockMessage("s1", null, "expired"))).toEqual({});
  });

  it("leaves the locks untouched by other messages and malformed ones", () => {
    const locks = { s1: lock("s1", "u-a") };
    expect(applyLockMessage(locks, { type: "presence", left: ["c1"] })).toBe(locks);
    expect(applyLockMessage(locks, { type: "lock", scene_id: 5, lock: null })).toBe(locks);
    expect(applyLockMessage(locks, { type: "lock", scene_id: "s2", lock: { holder_user_id: "u-a" } })).toBe(locks);
    expect(applyLockMessage(locks, lockMessage("s2", null, "released"))).toBe(locks);
  });

  it("drops locks past their expiry", () => {
    const locks = { s1: lock("s1", "u-a", iso(T - 1)), s2: lock("s2", "u-a", iso(T + 1)) };
    expect(Object.keys(dropExpired(locks, T))).toEqual(["s2"]);
  });

  it("reads the lock of a 409 or a 423 and nothing else", () => {
    const held = lock("s1", "u-b");
    expect(lockFromError(new ApiError(423, "locked", "locked", { op_id: "op-1", lock: held }))).toEqual(held);
    expect(lockFromError(new ApiError(409, "conflict", "held", { lock: held }))).toEqual(held);
    expect(lockFromError(new ApiError(400, "bad_request", "no", { lock: held }))).toBeNull();
    expect(lockFromError(new Error("x"))).toBeNull();
  });
});

describe("createSceneLocks", () => {
  const disposers: (() => void)[] = [];
  afterEach(() => {
    for (const dispose of disposers.splice(0)) dispose();
  });

  function setup(initial: ReturnType<typeof lock>[] = [], overrides: Parameters<typeof fakeGmApi>[0] = {}) {
    const clock = new ManualClock();
    clock.time = T;
    const gm = fakeGmApi(overrides);
    gm.locks.push(...initial);
    const fake = fakeSync();
    let activity: () => void = () => undefined;
    let locks: SceneLocks | undefined;
    createRoot((dispose) => {
      locks = createSceneLocks({
        api: gm.api,
        sync: fake.sync,
        userId: "u-gm",
        timers: clock,
        now: clock.now,
        onActivity: (callback) => {
          activity = callback;
          return () => undefined;
        },
      });
      disposers.push(dispose);
    });
    if (!locks) throw new Error("not created");
    const stop = locks.start();
    disposers.push(stop);
    return { locks, gm, fake, clock, work: () => activity(), stop };
  }

  it("loads the current locks when started and follows lock messages", async () => {
    const { locks, fake, gm } = setup([lock("s1", "u-other")]);
    await settle();
    expect(gm.api.listLocks).toHaveBeenCalledTimes(1);
    expect(locks.heldByOther("s1")?.holder_user_id).toBe("u-other");
    fake.emit(lockMessage("s2", lock("s2", "u-gm")));
    expect(locks.heldByMe("s2")).toBe(true);
    fake.emit(lockMessage("s1", null, "released"));
    expect(locks.lockOf("s1")).toBeUndefined();
  });

  it("reads the locks again after the socket reconnects (a full presence list)", async () => {
    const { fake, gm } = setup();
    await settle();
    fake.emit({ type: "presence", joined: [] });
    fake.emit({ type: "presence", clients: [] });
    await settle();
    expect(gm.api.listLocks).toHaveBeenCalledTimes(2);
  });

  it("takes and releases a lock through the API", async () => {
    const { locks, gm } = setup();
    expect(await locks.take("s1")).toBe(true);
    expect(gm.api.acquireLock).toHaveBeenCalledWith("s1");
    expect(locks.heldByMe("s1")).toBe(true);
    expect(await locks.release("s1")).toBe(true);
    expect(gm.api.releaseLock).toHaveBeenCalledWith("s1");
    expect(locks.lockOf("s1")).toBeUndefined();
  });

  it("shows another GM's lock and an error when taking it is refused with 409", async () => {
    const held = lock("s1", "u-other");
    const { locks } = setup([], {
      acquireLock: async () => {
        throw new ApiError(409, "conflict", "scene s1 is locked by another GM", { lock: held });
      },
    });
    expect(await locks.take("s1")).toBe(false);
    expect(locks.heldByOther("s1")).toEqual(held);
    expect(locks.error()).toMatchObject({ sceneId: "s1", lock: held });
  });

  it("keeps a 423 as a refusal while the queue still fails, and drops it once a send goes through", () => {
    const { locks, fake } = setup();
    const held = lock("s1", "u-other");
    fake.failSend(new ApiError(423, "locked", "locked", { op_id: "op-7", lock: held }), "locked");
    expect(locks.refusal()).toEqual({ lock: held, opId: "op-7" });
    expect(locks.heldByOther("s1")).toEqual(held);
    fake.sendSucceeded();
    expect(locks.refusal()).toBeNull();
  });

  it("ignores send failures other than 423", () => {
    const { locks, fake } = setup();
    fake.failSend(new ApiError(0, "network_error", "offline"), "offline");
    expect(locks.refusal()).toBeNull();
  });

  it("wakes the queue when the lock that refused a write goes away", () => {
    const { locks, fake } = setup();
    fake.failSend(new ApiError(423, "locked", "locked", { lock: lock("s1", "u-other") }), "locked");
    fake.emit(lockMessage("s2", null, "released"));
    expect(fake.sync.wake).not.toHaveBeenCalled();
    fake.emit(lockMessage("s1", null, "expired"));
    expect(fake.sync.wake).toHaveBeenCalledTimes(1);
    expect(locks.refusal()).toBeNull();
  });

  it("takes my lock again shortly before it expires while I am at work", async () => {
    const { locks, gm, clock, work } = setup();
    await locks.take("s1");
    gm.api.acquireLock.mockClear();
    // The lock from the fake API expires at 2030-01-01T00:05Z, five minutes after T.
    await clock.advance(5 * 60_000 - LOCK_REFRESH_MARGIN_MS - KEEPALIVE_CHECK_MS);
    work();
    expect(gm.api.acquireLock).not.toHaveBeenCalled();
    await clock.advance(KEEPALIVE_CHECK_MS);
    expect(gm.api.acquireLock).toHaveBeenCalledWith("s1");
  });

  it("lets my lock lapse when I have not been at work since I took it", async () => {
    const { locks, gm, clock } = setup();
    await locks.take("s1");
    gm.api.acquireLock.mockClear();
    await clock.advance(5 * 60_000);
    expect(gm.api.acquireLock).not.toHaveBeenCalled();
    expect(locks.lockOf("s1")).toBeUndefined();
  });

  it("asks the server again about a lock past its known expiry, which activity may have extended", async () => {
    const { locks, gm, clock } = setup([lock("s1", "u-other", iso(T + 60_000))]);
    await settle();
    gm.locks.splice(0, 1, lock("s1", "u-other", iso(T + 6 * 60_000)));
    await clock.advance(60_000);
    expect(gm.api.listLocks).toHaveBeenCalledTimes(2);
    expect(locks.heldByOther("s1")?.expires_at).toBe(iso(T + 6 * 60_000));
  });

  it("stops listening when the last user stops it", () => {
    const { fake, stop } = setup();
    expect(fake.listenerCount()).toBe(1);
    stop();
    expect(fake.listenerCount()).toBe(0);
  });
});
