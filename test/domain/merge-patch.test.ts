import { describe, expect, it } from "vitest";
import { applyMergePatch, createMergePatch, type Json, jsonTextDepth } from "../../domain/merge-patch";

// The examples of RFC 7396, appendix A.
const rfcExamples: [Json, Json, Json][] = [
  [{ a: "b" }, { a: "c" }, { a: "c" }],
  [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
  [{ a: "b" }, { a: null }, {}],
  [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
  [{ a: ["b"] }, { a: "c" }, { a: "c" }],
  [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
  [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
  [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
  [
    ["a", "b"],
    ["c", "d"],
    ["c", "d"],
  ],
  [{ a: "b" }, ["c"], ["c"]],
  [{ a: "foo" }, null, null],
  [{ a: "foo" }, "bar", "bar"],
  [{ e: null }, { a: 1 }, { e: null, a: 1 }],
  [[1, 2], { a: "b", c: null }, { a: "b" }],
  [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
];

describe("applyMergePatch", () => {
  it.each(rfcExamples)("applies %j + %j = %j (RFC 7396)", (target, patch, result) => {
    expect(applyMergePatch(target, patch)).toEqual(result);
  });

  it("does not mutate its inputs", () => {
    const target = { a: { b: 1 } };
    const patch = { a: { c: 2 } };
    applyMergePatch(target, patch);
    expect(target).toEqual({ a: { b: 1 } });
    expect(patch).toEqual({ a: { c: 2 } });
  });
});

describe("createMergePatch", () => {
  const pairs: [Json, Json][] = [
    [{ a: 1 }, { a: 2 }],
    [{ a: 1, b: 2 }, { a: 1 }],
    [{ a: { b: 1, c: 2 } }, { a: { b: 1 } }],
    [{ a: [1, 2] }, { a: [1, 2, 3] }],
    [{ a: { b: 1 } }, { a: "x" }],
    [{}, { a: { b: { c: 1 } } }],
  ];

  it.each(pairs)("turns %j into %j when applied", (from, to) => {
    expect(applyMergePatch(from, createMergePatch(from, to))).toEqual(to);
  });

  it("is empty for equal documents", () => {
    expect(createMergePatch({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toEqual({});
  });

  it("names only what changed", () => {
    expect(createMergePatch({ x: 1, y: 2, stats: { hp: 3, ac: 4 } }, { x: 5, y: 2, stats: { hp: 2, ac: 4 } })).toEqual({
      x: 5,
      stats: { hp: 2 },
    });
  });
});

describe("jsonTextDepth", () => {
  it.each([
    ["{}", 1],
    ['{"a":[1,{"b":2}]}', 3],
    ['"[[[["', 0],
    ['{"a":"\\"[["}', 1],
    ["[".repeat(100) + "]".repeat(100), 100],
  ])("measures %s as %i", (text, depth) => {
    expect(jsonTextDepth(text)).toBe(depth);
  });
});
