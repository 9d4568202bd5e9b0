import { describe, expect, it } from "vitest";
import {
  ARCHIVED_FIELD,
  applyResolution,
  type Conflict,
  conflictDiffs,
  diffFields,
  keepMine,
  mergeFields,
  useServer,
} from "../../client/src/lib/conflict";
import type { QueuedOp } from "../../client/src/lib/queue";
import type { AnyEntity } from "../../client/src/lib/types";
import { token } from "./helpers/fixtures";

function op(fields: Partial<QueuedOp> = {}): QueuedOp {
  return {
    uuid: "op-1",
    entity_type: "token",
    op: "update",
    id: "t1",
    payload: {},
    base_version: 3,
    created_at: 0,
    ...fields,
  };
}

const server = (fields: Parameters<typeof token>[2] = {}, version = 5) => token("t1", version, fields) as unknown as AnyEntity;

function conflictOf(queued: QueuedOp, serverEntity: AnyEntity | null = server()): Conflict {
  return { op: queued, server: serverEntity, detectedAt: 0, dependents: 0 };
}

describe("diffFields", () => {
  it.each([
    {
      name: "a scalar the server holds differently",
      payload: { x: 10 },
      server: { x: 4 },
      diff: [{ field: "x", local: 10, server: 4 }],
    },
    { name: "nothing for a field already equal", payload: { x: 4 }, server: { x: 4 }, diff: [] },
    {
      name: "a nested patch merged into the server's object",
      payload: { stats: { hp: 3 } },
      server: { stats: { hp: 9, ac: 12 } },
      diff: [{ field: "stats", local: { hp: 3, ac: 12 }, server: { hp: 9, ac: 12 } }],
    },
    {
      name: "null as the field's new value",
      payload: { school: null },
      server: { school: "fire" },
      diff: [{ field: "school", local: null, server: "fire" }],
    },
    {
      name: "several fields, only the differing ones",
      payload: { x: 1, y: 2, name: "Same" },
      server: { x: 1, y: 0, name: "Same" },
      diff: [{ field: "y", local: 2, server: 0 }],
    },
  ])("lists $name", ({ payload, server: fields, diff }) => {
    expect(diffFields(op({ payload }), server(fields))).toEqual(diff);
  });

  it("compares an archive op on the archived pseudo-field", () => {
    expect(diffFields(op({ op: "archive", payload: {} }), server())).toEqual([{ field: ARCHIVED_FIELD, local: true, server: false }]);
    expect(diffFields(op({ op: "archive" }), server({ archived_at: "2025-01-01T00:00:00Z" }))).toEqual([]);
  });

  it("shows every field of a create against a missing server value", () => {
    expect(diffFields(op({ op: "create", payload: { name: "A" }, base_version: null }), null)).toEqual([
      { field: "name", local: "A", server: undefined },
    ]);
  });
});

describe("keepMine", () => {
  it("rebases the op on the server's version with a new op id, same fields", () => {
    const resolution = keepMine(conflictOf(op({ payload: { x: 10 } })), "op-2");
    expect(resolution).toEqual({ kind: "replace", choice: "keep_mine", op: op({ uuid: "op-2", payload: { x: 10 }, base_version: 5 }) });
  });

  it("turns a create whose id exists into an update of it", () => {
    const resolution = keepMine(conflictOf(op({ op: "create", base_version: null, payload: { name: "Mine" } }), server({}, 2)), "op-2");
    expect(resolution.kind === "replace" && resolution.op).toMatchObject({ op: "update", base_version: 2, payload: { name: "Mine" } });
  });

  it("refuses when the entity is gone on the server", () => {
    expect(() => keepMine(conflictOf(op(), null), "op-2")).toThrow(/gone/);
  });
});

describe("useServer", () => {
  it("drops the op", () => {
    expect(useServer()).toEqual({ kind: "drop", choice: "use_server" });
  });
});

describe("mergeFields", () => {
  const queued = op({ payload: { x: 10, y: 20, name: "Mine" } });
  const remote = server({ x: 1, y: 2, name: "Theirs" });

  it.each([
    { choices: { x: "mine", y: "server", name: "mine" }, payload: { x: 10, name: "Mine" } },
    { choices: { x: "mine" }, payload: { x: 10 } },
    { choices: { x: "mine", y: "mine", name: "mine" }, payload: { x: 10, y: 20, name: "Mine" } },
  ] as const)("keeps only the fields chosen as mine: $choices", ({ choices, payload }) => {
    const resolution = mergeFields(conflictOf(queued, remote), choices, "op-2");
    expect(resolution).toEqual({ kind: "replace", choice: "merge_fields", op: { ...queued, uuid: "op-2", payload, base_version: 5 } });
  });

  it("drops the op when every field is the server's", () => {
    expect(mergeFields(conflictOf(queued, remote), { x: "server", y: "server", name: "server" }, "op-2")).toEqual({
      kind: "drop",
      choice: "merge_fields",
    });
  });

  it("sends a nested field as the original patch, so the server's other keys survive", () => {
    const resolution = mergeFields(
      conflictOf(op({ payload: { stats: { hp: 3 } } }), server({ stats: { hp: 9, ac: 12 } })),
      { stats: "mine" },
      "op-2",
    );
    expect(resolution.kind === "replace" && resolution.op.payload).toEqual({ stats: { hp: 3 } });
  });
});

describe("applyResolution", () => {
  const conflicted = op({ uuid: "c", base_version: 3 });
  const dependent = op({ uuid: "d", base_version: 4, payload: { y: 1 } });
  const other = op({ uuid: "o", id: "t2", base_version: 7 });
  const before = op({ uuid: "b", id: "t3", base_version: 1 });
  const queue = [before, conflicted, other, dependent];

  it("puts the rebased op in place and moves dependents onto it", () => {
    const c = conflictOf(conflicted, server({}, 5));
    const result = applyResolution(queue, c, keepMine(c, "c2"));
    expect(result.ops.map((o) => [o.uuid, o.base_version])).toEqual([
      ["b", 1],
      ["c2", 5],
      ["o", 7],
      ["d", 6],
    ]);
    expect(result.replaced.map((r) => [r.uuid, r.op.uuid])).toEqual([
      ["c", "c2"],
      ["d", "d"],
    ]);
    expect(result.removed).toEqual([]);
  });

  it("drops the op and moves dependents onto the server's version", () => {
    const result = applyResolution(queue, conflictOf(conflicted, server({}, 5)), useServer());
    expect(result.ops.map((o) => [o.uuid, o.base_version])).toEqual([
      ["b", 1],
      ["o", 7],
      ["d", 5],
    ]);
    expect(result.removed).toEqual(["c"]);
  });

  it("leaves dependents alone when no shift is needed", () => {
    const result = applyResolution([conflicted, dependent], conflictOf(conflicted, server({}, 4)), useServer());
    expect(result.ops).toEqual([dependent]);
    expect(result.replaced).toEqual([]);
  });

  it("drops dependents too when the entity is gone on the server", () => {
    const result = applyResolution(queue, conflictOf(conflicted, null), useServer());
    expect(result.ops.map((o) => o.uuid)).toEqual(["b", "o"]);
    expect(result.removed).toEqual(["c", "d"]);
  });
});

describe("several queued edits of one entity", () => {
  const first = op({ uuid: "c", base_version: 3, payload: { x: 10 } });
  const second = op({ uuid: "d", base_version: 4, payload: { name: "Mine", stats: { hp: 3 } } });
  const third = op({ uuid: "e", base_version: 5, payload: { x: 12 } });
  const other = op({ uuid: "o", id: "t2", base_version: 7, payload: { x: 1 } });
  const group = (serverEntity: AnyEntity | null = server({ x: 4, name: "Theirs" }, 5)): Conflict => ({
    op: first,
    server: serverEntity,
    detectedAt: 0,
    dependents: 2,
    related: [second, third],
  });

  it("lists every field of all of them, each with the value the last edit leaves", () => {
    const diffs = conflictDiffs(group());
    expect(diffs.map((d) => [d.field, d.local, d.server])).toEqual([
      ["x", 12, 4],
      ["name", "Mine", "Theirs"],
      ["stats", { hp: 3 }, {}],
    ]);
  });

  it("leaves out a field the edits bring back to the server's value", () => {
    const back = op({ uuid: "d", base_version: 4, payload: { x: 4 } });
    const c: Conflict = { op: first, server: server({ x: 4 }, 5), detectedAt: 0, dependents: 1, related: [back] };
    expect(conflictDiffs(c)).toEqual([]);
  });

  it("shows an archive among them on the archived pseudo-field", () => {
    const c: Conflict = { ...group(), related: [op({ uuid: "d", op: "archive", base_version: 4 })] };
    expect(conflictDiffs(c).map((d) => [d.field, d.local, d.server])).toEqual([
      ["x", 10, 4],
      [ARCHIVED_FIELD, true, false],
    ]);
  });

  it("Use Server drops all of them, and an edit queued after the conflict chains on the server's version", () => {
    const later = op({ uuid: "l", base_version: 6, payload: { y: 1 } });
    const result = applyResolution([first, other, second, third, later], group(), useServer());
    expect(result.ops.map((o) => [o.uuid, o.base_version])).toEqual([
      ["o", 7],
      ["l", 5],
    ]);
    expect(result.removed).toEqual(["c", "d", "e"]);
  });

  it("Merge Fields keeps in each edit only the fields chosen as mine, chained on the server's version", () => {
    const c = group();
    const resolution = mergeFields(c, { x: "server", name: "mine", stats: "server" }, "c2");
    const result = applyResolution([first, other, second, third], c, resolution);
    expect(result.ops.map((o) => [o.uuid, o.base_version, o.payload])).toEqual([
      ["o", 7, { x: 1 }],
      ["d", 5, { name: "Mine" }],
    ]);
    expect(result.removed).toEqual(["c", "e"]);
    expect(result.replaced.map((r) => r.uuid)).toEqual(["d"]);
  });

  it("Merge Fields with a field of the first edit mine keeps it first, the others after it", () => {
    const c = group();
    const result = applyResolution([first, second, third], c, mergeFields(c, { x: "mine", name: "server", stats: "mine" }, "c2"));
    expect(result.ops.map((o) => [o.uuid, o.base_version, o.payload])).toEqual([
      ["c2", 5, { x: 10 }],
      ["d", 6, { stats: { hp: 3 } }],
      ["e", 7, { x: 12 }],
    ]);
  });

  it("Keep Mine sends all of them on top of the server's version", () => {
    const c = group();
    const result = applyResolution([first, second, third], c, keepMine(c, "c2"));
    expect(result.ops.map((o) => [o.uuid, o.base_version])).toEqual([
      ["c2", 5],
      ["d", 6],
      ["e", 7],
    ]);
  });
});
