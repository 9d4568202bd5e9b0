import { describe, expect, it } from "vitest";
import { MUTATION_LIMIT } from "../../domain/rate-limit";
import { applySettingsPatch, DEFAULT_SETTINGS, mutationLimitOf, resolveSettings, settingsPatchSchema } from "../../domain/settings";

describe("resolveSettings", () => {
  it.each([
    ["nothing stored", {}, DEFAULT_SETTINGS],
    ["not an object", "junk", DEFAULT_SETTINGS],
    ["real time off", { realtime: false }, { realtime: false, poll_interval_ms: 4000 }],
    ["a poll interval out of range", { poll_interval_ms: 10 }, DEFAULT_SETTINGS],
    ["a rate limit", { rate_limit: { burst: 5, per_second: 1 } }, { ...DEFAULT_SETTINGS, rate_limit: { burst: 5, per_second: 1 } }],
    ["a broken rate limit", { rate_limit: { burst: -1 } }, DEFAULT_SETTINGS],
    ["a retention window", { retention_days: 7 }, { ...DEFAULT_SETTINGS, retention_days: 7 }],
    ["a retention window out of range", { retention_days: 0 }, DEFAULT_SETTINGS],
  ])("%s", (_name, stored, resolved) => {
    expect(resolveSettings(stored)).toEqual(resolved);
  });
});

describe("settings patches", () => {
  it.each([
    [{ realtime: false }, true],
    [{ poll_interval_ms: 3000 }, true],
    [{ poll_interval_ms: 60_000 }, true],
    [{ poll_interval_ms: 2999 }, false],
    [{ poll_interval_ms: 60_001 }, false],
    [{ poll_interval_ms: 3000.5 }, false],
    [{ rate_limit: null }, true],
    [{ rate_limit: { burst: 0, per_second: 1 } }, false],
    [{}, false],
    [{ realtime: "off" }, false],
    [{ colour: "red" }, false],
    [{ retention_days: 1 }, true],
    [{ retention_days: 365 }, true],
    [{ retention_days: null }, true],
    [{ retention_days: 0 }, false],
    [{ retention_days: 366 }, false],
    [{ retention_days: 1.5 }, false],
  ])("%j is valid: %s", (patch, valid) => {
    expect(settingsPatchSchema.safeParse(patch).success).toBe(valid);
  });

  it("merges a patch, and `rate_limit: null` returns to the default limit", () => {
    const limited = applySettingsPatch(DEFAULT_SETTINGS, { rate_limit: { burst: 3, per_second: 1 }, realtime: false });
    expect(limited).toEqual({ realtime: false, poll_interval_ms: 4000, rate_limit: { burst: 3, per_second: 1 } });
    expect(mutationLimitOf(limited)).toEqual({ burst: 3, per_second: 1 });
    const back = applySettingsPatch(limited, { rate_limit: null });
    expect(back).toEqual({ realtime: false, poll_interval_ms: 4000 });
    expect(mutationLimitOf(back)).toEqual(MUTATION_LIMIT);
  });

  it("sets a retention window, and `retention_days: null` returns to the deployment's", () => {
    const kept = applySettingsPatch(DEFAULT_SETTINGS, { retention_days: 90 });
    expect(kept).toEqual({ ...DEFAULT_SETTINGS, retention_days: 90 });
    expect(applySettingsPatch(kept, { realtime: false })).toEqual({ realtime: false, poll_interval_ms: 4000, retention_days: 90 });
    expect(applySettingsPatch(kept, { retention_days: null })).toEqual(DEFAULT_SETTINGS);
  });
});
