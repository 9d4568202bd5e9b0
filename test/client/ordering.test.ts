import { describe, expect, it } from "vitest";
import { compareSortable, keyboardTarget, planMove, sortAtEnd, sortBetween } from "../../client/src/lib/ordering";

const items = (...pairs: [string, number][]) => pairs.map(([id, sort]) => ({ id, sort, name: id }));

describe("sortBetween", () => {
  it.each([
    [undefined, undefined, 0],
    [undefined, 4, 3],
    [4, undefined, 5],
    [1, 2, 1.5],
    [-3, -2, -2.5],
    [1, 1, null],
    [2, 1, null],
    [1, 1 + Number.EPSILON, null],
  ] as const)("between %s and %s is %s", (before, after, expected) => {
    expect(sortBetween(before, after)).toBe(expected);
  });
});

describe("planMove", () => {
  it("gives the moved item one fractional value between its new neighbours", () => {
    const list = items(["a", 1], ["b", 2], ["c", 3]);
    expect(planMove(list, "c", { id: "b", position: "before" })).toEqual([{ id: "c", sort: 1.5 }]);
    expect(planMove(list, "a", { id: "b", position: "after" })).toEqual([{ id: "a", sort: 2.5 }]);
  });

  it("puts an item before the first or after the last with one update", () => {
    const list = items(["a", 1], ["b", 2], ["c", 3]);
    expect(planMove(list, "c", { id: "a", position: "before" })).toEqual([{ id: "c", sort: 0 }]);
    expect(planMove(list, "a", null)).toEqual([{ id: "a", sort: 4 }]);
  });

  it("plans nothing when the item lands where it already is", () => {
    const list = items(["a", 1], ["b", 2], ["c", 3]);
    expect(planMove(list, "b", { id: "a", position: "after" })).toEqual([]);
    expect(planMove(list, "b", { id: "c", position: "before" })).toEqual([]);
    expect(planMove(list, "c", null)).toEqual([]);
    expect(planMove(list, "b", { id: "b", position: "before" })).toEqual([]);
  });

  it("places an item coming from elsewhere among the siblings", () => {
    expect(planMove(items(["a", 1], ["b", 2]), "x", { id: "b", position: "before" })).toEqual([{ id: "x", sort: 1.5 }]);
    expect(planMove([], "x", null)).toEqual([{ id: "x", sort: 0 }]);
  });

  it("renumbers the siblings when equal values leave no room, the moved item first", () => {
    const list = items(["a", 0], ["b", 0], ["c", 0]);
    expect(planMove(list, "c", { id: "b", position: "before" })).toEqual([
      { id: "c", sort: 2 },
      { id: "a", sort: 1 },
      { id: "b", sort: 3 },
    ]);
  });

  it("renumbers only the siblings whose value changes", () => {
    const list = items(["a", 1], ["b", 2], ["c", 2], ["d", 4]);
    expect(planMove(list, "d", { id: "c", position: "before" })).toEqual([
      { id: "d", sort: 3 },
      { id: "c", sort: 4 },
    ]);
  });

  it("orders by sort, then name, then id before planning", () => {
    const list = [
      { id: "z", sort: 1, name: "Alpha" },
      { id: "y", sort: 1, name: "Beta" },
    ];
    expect(
      [...list]
        .reverse()
        .sort(compareSortable)
        .map((s) => s.id),
    ).toEqual(["z", "y"]);
  });
});

describe("keyboardTarget and sortAtEnd", () => {
  it("moves up before the previous sibling and down after the next, nothing past either end", () => {
    const list = items(["a", 1], ["b", 2], ["c", 3]);
    expect(keyboardTarget(list, "b", -1)).toEqual({ id: "a", position: "before" });
    expect(keyboardTarget(list, "b", 1)).toEqual({ id: "c", position: "after" });
    expect(keyboardTarget(list, "a", -1)).toBeNull();
    expect(keyboardTarget(list, "c", 1)).toBeNull();
  });

  it("puts a new item after the largest value, as a whole number", () => {
    expect(sortAtEnd([])).toBe(0);
    expect(sortAtEnd(items(["a", 3], ["b", 1.5]))).toBe(4);
    expect(sortAtEnd(items(["a", 2.5]))).toBe(3);
  });
});
