/** Reference paths into JSON fields (`combatants.*.token_id`), as module declarations use them. */
import { describe, expect, it } from "vitest";
import { mapValuesAt, valuesAt } from "../../domain/references";

const encounter = {
  scene_id: "s1",
  combatants: { c1: { name: "Hero", token_id: "t1" }, c2: { name: "Orc", token_id: null }, c3: { name: "Bat" } },
};

describe("valuesAt", () => {
  it("reads a plain field", () => {
    expect(valuesAt(encounter, "scene_id")).toEqual([{ path: "scene_id", value: "s1" }]);
  });

  it("reads every value of a keyed object with *, naming the concrete path of each", () => {
    expect(valuesAt(encounter, "combatants.*.token_id")).toEqual([
      { path: "combatants.c1.token_id", value: "t1" },
      { path: "combatants.c2.token_id", value: null },
    ]);
  });

  it("finds nothing where a step is missing or not an object", () => {
    expect(valuesAt(encounter, "missing.*.token_id")).toEqual([]);
    expect(valuesAt({ combatants: ["t1"] }, "combatants.*")).toEqual([]);
    expect(valuesAt({ combatants: "t1" }, "combatants.*.token_id")).toEqual([]);
    expect(valuesAt(null, "scene_id")).toEqual([]);
    expect(valuesAt({ toString: "x" }, "constructor")).toEqual([]);
  });
});

describe("mapValuesAt", () => {
  it("rewrites each value at the path and leaves the rest and the original alone", () => {
    const ids = new Map([["t1", "new-t1"]]);
    const copy = mapValuesAt(encounter, "combatants.*.token_id", (v) => (typeof v === "string" ? (ids.get(v) ?? null) : v));
    expect(copy.combatants.c1).toEqual({ name: "Hero", token_id: "new-t1" });
    expect(copy.combatants.c2).toEqual({ name: "Orc", token_id: null });
    expect(copy.combatants.c3).toEqual({ name: "Bat" });
    expect(encounter.combatants.c1.token_id).toBe("t1");
  });

  it("returns the object itself when the path leads nowhere", () => {
    expect(mapValuesAt(encounter, "missing.token_id", () => "x")).toBe(encounter);
  });
});
