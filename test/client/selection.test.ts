import { describe, expect, it } from "vitest";
import {
  cellsFromPixels,
  hiddenOps,
  moveOps,
  rectFromCorners,
  rotationTowards,
  toggleInSelection,
  tokensInBox,
} from "../../client/src/lib/selection";
import { token } from "./helpers/fixtures";

const tokens = [
  token("a", 1, { x: 0, y: 0 }),
  token("b", 1, { x: 128, y: 0, width: 2, height: 2 }),
  token("c", 1, { x: 400, y: 400, hidden: true }),
];

describe("selection", () => {
  it("catches the tokens a box touches, whichever way it was drawn", () => {
    const box = rectFromCorners({ x: 200, y: 100 }, { x: 30, y: 10 });
    expect(box).toEqual({ x: 30, y: 10, width: 170, height: 90 });
    expect(tokensInBox(tokens, box, 64)).toEqual(["a", "b"]);
    expect(tokensInBox(tokens, { x: 300, y: 300, width: 50, height: 50 }, 64)).toEqual([]);
  });

  it("adds a shift-clicked token, or takes it out when it was in", () => {
    expect(toggleInSelection(["a"], "b")).toEqual(["a", "b"]);
    expect(toggleInSelection(["a", "b"], "a")).toEqual(["b"]);
  });

  it("moves every selected token that may move by the same offset, one patch each", () => {
    expect(moveOps(tokens, ["a", "b", "c"], 64, -10, (t) => t.id !== "c")).toEqual([
      { op: "update", type: "token", id: "a", patch: { x: 64, y: -10 } },
      { op: "update", type: "token", id: "b", patch: { x: 192, y: -10 } },
    ]);
    expect(moveOps(tokens, ["a"], 0, 0, () => true)).toEqual([]);
  });

  it("hides or shows only the selected tokens that are not so already", () => {
    expect(hiddenOps(tokens, ["a", "c"], true)).toEqual([{ op: "update", type: "token", id: "a", patch: { hidden: true } }]);
    expect(hiddenOps(tokens, ["a", "c"], false)).toEqual([{ op: "update", type: "token", id: "c", patch: { hidden: false } }]);
  });

  it("resizes in half cells, never below half a cell", () => {
    expect(cellsFromPixels(100, 64)).toBe(1.5);
    expect(cellsFromPixels(5, 64)).toBe(0.5);
    expect(cellsFromPixels(128, 64)).toBe(2);
  });

  it("rotates towards the pointer, snapped to 15°, within the schema's range", () => {
    expect(rotationTowards(0, -50)).toBe(0);
    expect(rotationTowards(50, 0)).toBe(90);
    expect(rotationTowards(0, 50)).toBe(180);
    expect(rotationTowards(-50, 0)).toBe(270);
    expect(rotationTowards(50, -48)).toBe(45);
    expect(rotationTowards(50, -45, 0)).toBeCloseTo(48, 0);
  });
});
