import { describe, expect, it } from "vitest";
import type { OpDraft } from "../../client/src/lib/authoring";
import {
  addStrokeOp,
  clearStrokesOps,
  deleteNotesOps,
  eraseStrokesOps,
  hitStroke,
  orderedLayers,
  putNoteOp,
  readNotes,
  readStrokes,
  type Stroke,
  simplifyPoints,
  strokePath,
  targetLayer,
} from "../../client/src/lib/drawing";
import type { Layer } from "../../client/src/lib/types";
import { applyMergePatch, type Json } from "../../domain/merge-patch";
import { layer } from "./helpers/fixtures";

const stroke = (id: string, fields: Partial<Stroke> = {}): Stroke => ({
  id,
  kind: "free",
  points: [0, 0, 10, 10],
  color: "#ff0000",
  width: 4,
  at: 1000,
  ...fields,
});
const newId = () => "layer-new";

/** The layer after the op's merge patch, as the server computes it. */
function applied(target: Layer, op: OpDraft | null | undefined): Layer {
  if (op?.op !== "update") throw new Error("expected an update");
  return applyMergePatch(target as unknown as Json, op.patch) as unknown as Layer;
}

describe("drawings layer", () => {
  it("creates the scene's drawings layer on the first stroke, with the stroke in it", () => {
    const op = addStrokeOp([layer("map", 1, { layer_type: "map" })], "s1", stroke("k1"), newId);
    expect(op).toEqual({
      op: "create",
      type: "layer",
      id: "layer-new",
      data: {
        scene_id: "s1",
        layer_type: "drawings",
        z_index: 10,
        payload: { strokes: { k1: { kind: "free", points: [0, 0, 10, 10], color: "#ff0000", width: 4, at: 1000 } } },
      },
    });
  });

  it("adds a stroke with a merge patch naming only that stroke; the others stay", () => {
    const existing = layer("d1", 3, { layer_type: "drawings", payload: { strokes: { k1: { points: [1, 1, 2, 2], at: 1 } } } });
    const op = addStrokeOp([existing], "s1", stroke("k2"), newId);
    expect(op).toEqual({ op: "update", type: "layer", id: "d1", patch: { payload: { strokes: { k2: expect.any(Object) } } } });
    expect(readStrokes(applied(existing, op).payload).map((s) => s.id)).toEqual(["k1", "k2"]);
  });

  it("erases one stroke with a null in the patch", () => {
    const existing = layer("d1", 3, { layer_type: "drawings", payload: { strokes: { k1: stroke("k1"), k2: stroke("k2", { at: 2000 }) } } });
    const ops = eraseStrokesOps([existing], "s1", ["k1", "unknown"]);
    expect(ops).toEqual([{ op: "update", type: "layer", id: "d1", patch: { payload: { strokes: { k1: null } } } }]);
    expect(readStrokes(applied(existing, ops[0]).payload).map((s) => s.id)).toEqual(["k2"]);
  });

  it("converts a payload holding an array into the keyed form without losing strokes", () => {
    const existing = layer("d1", 2, { layer_type: "drawings", payload: { strokes: [{ ...stroke("old"), id: "old" }] } });
    const after = applied(existing, addStrokeOp([existing], "s1", stroke("k2", { at: 5000 }), newId));
    expect(Array.isArray(after.payload.strokes)).toBe(false);
    expect(readStrokes(after.payload).map((s) => s.id)).toEqual(["old", "k2"]);
  });

  it("clears all drawings of the scene", () => {
    const a = layer("d1", 1, { layer_type: "drawings", payload: { strokes: { k1: stroke("k1") } } });
    const b = layer("d2", 1, { layer_type: "drawings", scene_id: "other", payload: { strokes: { k2: stroke("k2") } } });
    expect(clearStrokesOps([a, b], "s1")).toEqual([{ op: "update", type: "layer", id: "d1", patch: { payload: { strokes: null } } }]);
  });

  it("draws strokes bottom to top by time, skipping malformed ones", () => {
    const strokes = readStrokes({
      strokes: { late: stroke("late", { at: 9 }), early: stroke("early", { at: 1 }), bad: { points: [1] }, worse: "x" },
    });
    expect(strokes.map((s) => s.id)).toEqual(["early", "late"]);
  });

  it("writes new strokes to the top-most drawings layer and orders layers by z_index", () => {
    const low = layer("low", 1, { layer_type: "drawings", z_index: -5 });
    const high = layer("high", 1, { layer_type: "drawings", z_index: 30 });
    const notes = layer("n", 1, { layer_type: "notes", z_index: 0 });
    expect(orderedLayers([high, notes, low], "s1").map((l) => l.id)).toEqual(["low", "n", "high"]);
    expect(targetLayer([high, notes, low], "s1", "drawings")?.id).toBe("high");
  });
});

describe("notes layer", () => {
  it("creates the notes layer with the first note, above drawings", () => {
    const op = putNoteOp([], "s1", { id: "n1", x: 64, y: 32, text: "Trap door", at: 5 }, newId);
    expect(op).toEqual({
      op: "create",
      type: "layer",
      id: "layer-new",
      data: { scene_id: "s1", layer_type: "notes", z_index: 20, payload: { notes: { n1: { x: 64, y: 32, text: "Trap door", at: 5 } } } },
    });
  });

  it("edits a note in the layer holding it and deletes it with a null", () => {
    const top = layer("n-top", 1, { layer_type: "notes", z_index: 50, payload: { notes: {} } });
    const holder = layer("n-low", 4, { layer_type: "notes", z_index: 1, payload: { notes: { n1: { x: 1, y: 2, text: "old", at: 1 } } } });
    const edit = putNoteOp([top, holder], "s1", { id: "n1", x: 1, y: 2, text: "new text", at: 1 }, newId);
    expect(edit).toEqual({
      op: "update",
      type: "layer",
      id: "n-low",
      patch: { payload: { notes: { n1: { x: 1, y: 2, text: "new text", at: 1 } } } },
    });
    expect(readNotes(applied(holder, edit).payload)).toEqual([{ id: "n1", x: 1, y: 2, text: "new text", at: 1 }]);
    const removal = deleteNotesOps([top, holder], "s1", ["n1"]);
    expect(removal).toEqual([{ op: "update", type: "layer", id: "n-low", patch: { payload: { notes: { n1: null } } } }]);
    expect(readNotes(applied(holder, removal[0]).payload)).toEqual([]);
  });

  it("adds a new note to the top-most notes layer", () => {
    const top = layer("n-top", 1, { layer_type: "notes", z_index: 50, payload: { notes: {} } });
    const low = layer("n-low", 1, { layer_type: "notes", z_index: 1, payload: { notes: {} } });
    expect(putNoteOp([low, top], "s1", { id: "n2", x: 0, y: 0, text: "x", at: 1 }, newId)).toMatchObject({ id: "n-top" });
  });
});

describe("stroke geometry", () => {
  it("thins a freehand stroke, keeping its ends", () => {
    expect(simplifyPoints([0, 0, 0.5, 0.5, 1, 1, 5, 5, 5.4, 5.2, 9, 9])).toEqual([0, 0, 5, 5, 9, 9]);
  });

  it("draws lines, rectangles and ellipses from two corners", () => {
    expect(strokePath({ kind: "line", points: [0, 0, 10, 20] })).toBe("M 0 0 L 10 20");
    expect(strokePath({ kind: "rect", points: [0, 0, 10, 20] })).toBe("M 0 0 L 10 0 L 10 20 L 0 20 Z");
    expect(strokePath({ kind: "ellipse", points: [0, 0, 10, 20] })).toBe("M 0 10 A 5 10 0 1 0 10 10 A 5 10 0 1 0 0 10 Z");
    expect(strokePath({ kind: "free", points: [0, 0, 1, 2, 3, 4] })).toBe("M 0 0 L 1 2 L 3 4");
  });

  it("finds the top-most stroke under the eraser", () => {
    const below = stroke("below", { kind: "line", points: [0, 50, 100, 50] });
    const above = stroke("above", { kind: "rect", points: [40, 40, 60, 60], at: 2000 });
    expect(hitStroke([below, above], 50, 41)?.id).toBe("above");
    expect(hitStroke([below, above], 10, 52)?.id).toBe("below");
    expect(hitStroke([below, above], 50, 50)?.id).toBe("below");
    expect(hitStroke([below, above], 300, 300)).toBeUndefined();
  });
});
