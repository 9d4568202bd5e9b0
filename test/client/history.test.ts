import { describe, expect, it } from "vitest";
import { changedFields, entityLabel, fieldNames, formatValue, type HistoryItem, summarizeVersion } from "../../client/src/lib/history";

const item = (op: string, diff: unknown, version = 2): HistoryItem => ({
  version,
  seq: 10,
  op,
  diff,
  updated_by: "u-gm",
  created_at: "2025-01-01T00:00:00.000Z",
});

describe("summarizeVersion", () => {
  it.each([
    ["a move", item("update", { x: 120, y: 80, version: 2, updated_at: "t", updated_by: "u" }), "x → 120, y → 80"],
    ["a rename", item("update", { name: "Troll" }), "name → “Troll”"],
    ["a nested stat", item("update", { stats: { hp: 4, mp: null } }), "stats.hp → 4, stats.mp → removed"],
    ["a flag", item("update", { hidden: true }), "hidden → yes"],
    ["owners", item("update", { owner_user_ids: ["a", "b"] }), "owner_user_ids → 2 items"],
    ["a creation", item("create", { name: "Ogre", x: 0, version: 1 }, 1), "Created “Ogre”"],
    ["an archive", item("archive", { archived_at: "t" }), "Archived"],
    ["a restore", item("restore", { archived_at: null }), "Restored"],
    ["a revert that unarchives", item("update", { archived_at: null, name: "Crypt" }), "Restored; name → “Crypt”"],
    ["a compacted baseline", item("snapshot", { name: "Ogre", x: 3 }), "Earliest kept version (older changes were compacted)"],
    ["bookkeeping only", item("update", { version: 3, updated_at: "t" }), "No visible change"],
    ["many fields", item("update", { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6 }), "a → 1, b → 2, c → 3, d → 4 and 2 more"],
  ])("%s", (_name, version, summary) => {
    expect(summarizeVersion(version)).toBe(summary);
  });
});

describe("field helpers", () => {
  it("lists changed fields without bookkeeping, nested objects one level deep", () => {
    expect(changedFields({ id: "t1", version: 2, x: 1, stats: { hp: 3 }, metadata: {} })).toEqual([
      { field: "x", value: "1" },
      { field: "stats.hp", value: "3" },
      { field: "metadata", value: "empty" },
    ]);
    expect(changedFields(null)).toEqual([]);
  });

  it("formats values briefly", () => {
    expect(formatValue("x".repeat(60))).toBe(`“${"x".repeat(39)}…”`);
    expect(formatValue(1 / 3)).toBe("0.33");
    expect(formatValue([])).toBe("none");
    expect(formatValue({ a: 1 })).toBe("changed");
  });

  it("names the top-level fields of a patch once each", () => {
    expect(fieldNames({ x: 1, stats: { hp: 1, mp: 2 } })).toEqual(["x", "stats"]);
  });

  it("labels entities by type and name", () => {
    expect(entityLabel("token", { name: "Ogre" })).toBe("token “Ogre”");
    expect(entityLabel("token_art", {})).toBe("token art");
    expect(entityLabel("session_state", { flags: {} })).toBe("table settings");
  });
});
