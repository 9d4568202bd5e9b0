import { describe, expect, it } from "vitest";
import {
  cellsFromPixels,
  hiddenOps,
  moveOps,
  rectFromCorners,
  rotationTowards,
  toggleInSelection,
  tokensInBox,
  unrotate,
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

describe("unrotate", () => {
  const round = (v: { dx: number; dy: number }) => ({ dx: Math.round(v.dx * 1000) / 1000 + 0, dy: Math.round(v.dy * 1000) / 1000 + 0 });

  it("leaves a movement alone for an unturned token", () => {
    expect(round(unrotate(30, -10, 0))).toEqual({ dx: 30, dy: -10 });
  });

  it("reads a movement in the frame of a turned token: along its own width and height", () => {
    // Turned a quarter clockwise, the token's width runs down the screen and its height leftwards.
    expect(round(unrotate(0, 40, 90))).toEqual({ dx: 40, dy: 0 });
    expect(round(unrotate(-40, 0, 90))).toEqual({ dx: 0, dy: 40 });
    expect(round(unrotate(0, 40, -90))).toEqual({ dx: -40, dy: 0 });
  });
});
