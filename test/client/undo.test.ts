// @vitest-environment jsdom
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../../client/src/lib/api";
import type { ConfirmedOp, SyncDeps } from "../../client/src/lib/sync";
import type { AnyEntity, EntityType } from "../../client/src/lib/types";
import { bindUndoKeys, createSessionUndo, createUndoStack, type UndoAction, type UndoDeps } from "../../client/src/lib/undo";
import { FakeServer } from "./helpers/fake-server";
import { token } from "./helpers/fixtures";
import { useSyncHarness } from "./helpers/sync-harness";

const e = (entity: object) => entity as AnyEntity;

/**
 * A server for the stack alone: versions per entity, `revert` makes the next version (or answers
 * 409 on a stale base), and `serverVersion` is what the tab has heard, which may lag behind.
 */
function harness(initial: Record<string, number> = { "token:t1": 1 }, limit?: number) {
  const versions = new Map(Object.entries(initial));
  const heard = new Map(Object.entries(initial));
  const pending = new Set<string>();
  const reverts: [EntityType, string, number, number][] = [];
  let failNext: unknown = null;
  const deps: UndoDeps = {
    serverVersion: (type, id) => heard.get(`${type}:${id}`) ?? null,
    hasPending: (type, id) => pending.has(`${type}:${id}`),
    async revert(type, id, version, base) {
      reverts.push([type, id, version, base]);
      if (failNext) {
        const error = failNext;
        failNext = null;
        throw error;
      }
      const key = `${type}:${id}`;
      const current = versions.get(key) ?? 0;
      if (base !== current) throw new ApiError(409, "conflict", "stale", { current: { id, version: current, updated_by: "u-other" } });
      versions.set(key, current + 1);
      return e(token(id, current + 1));
    },
  };
  const stack = createUndoStack(limit === undefined ? deps : { ...deps, limit });
  /** The GM's own confirmed edit of an entity: the server moves on, and so does what the tab heard. */
  const edit = (key = "token:t1", label = "token “Ogre”: x"): UndoAction => {
    const [type, id] = key.split(":") as [EntityType, string];
    const before = versions.get(key) ?? 0;
    versions.set(key, before + 1);
    heard.set(key, before + 1);
    const action = { entity_type: type, id, before, after: before + 1, label };
    stack.record(action);
    return action;
  };
  /** Someone else's edit, heard by the tab (or not yet). */
  const foreign = (key = "token:t1", heardIt = true) => {
    const next = (versions.get(key) ?? 0) + 1;
    versions.set(key, next);
    if (heardIt) heard.set(key, next);
  };
  const fail = (error: unknown) => {
    failNext = error;
  };
  return { stack, deps, versions, heard, pending, reverts, edit, foreign, fail };
}

describe("undo stack", () => {
  it("undoes the last action by reverting to the version before it", async () => {
    const h = harness();
    h.edit();
    const outcome = await h.stack.undo();
    expect(outcome).toMatchObject({ ok: true, entity: { version: 3 } });
    expect(h.reverts).toEqual([["token", "t1", 1, 2]]);
    expect(h.stack.nextUndo()).toBeUndefined();
    expect(h.stack.nextRedo()).toMatchObject({ before: 1, after: 2 });
    expect(h.stack.message()).toBe("Undone: token “Ogre”: x.");
  });

  it("redoes by reverting to the version after, based on the version the undo produced", async () => {
    const h = harness();
    h.edit();
    await h.stack.undo();
    const outcome = await h.stack.redo();
    expect(outcome.ok).toBe(true);
    expect(h.reverts).toEqual([
      ["token", "t1", 1, 2],
      ["token", "t1", 2, 3],
    ]);
    expect(h.stack.nextUndo()).toMatchObject({ before: 1, after: 2 });
    expect(h.stack.nextRedo()).toBeUndefined();
  });

  it("walks a chain of actions on one entity back and forth while the view lags behind", async () => {
    const h = harness();
    h.edit();
    h.edit();
    // The tab has not heard of its own reverts: it still believes version 3.
    for (const step of ["undo", "undo", "redo", "redo", "undo"] as const) {
      expect((await h.stack[step]()).ok).toBe(true);
    }
    expect(h.reverts.map(([, , version, base]) => [version, base])).toEqual([
      [2, 3],
      [1, 4],
      [2, 5],
      [3, 6],
      [2, 7],
    ]);
    expect(h.heard.get("token:t1")).toBe(3);
  });

  it("clears what could be redone when a new action is recorded", async () => {
    const h = harness();
    h.edit();
    await h.stack.undo();
    h.heard.set("token:t1", 3);
    h.edit("token:t1", "token “Ogre”: y");
    expect(h.stack.nextRedo()).toBeUndefined();
    expect(h.stack.nextUndo()?.label).toBe("token “Ogre”: y");
    expect((await h.stack.redo()).ok).toBe(false);
  });

  it("refuses to undo over someone else's change and forgets every action on that entity", async () => {
    const h = harness({ "token:t1": 1, "token:t2": 1 });
    h.edit("token:t1");
    h.edit("token:t2", "token “Elf”: x");
    h.edit("token:t1", "token “Ogre”: y");
    h.foreign("token:t1");
    const outcome = await h.stack.undo();
    expect(outcome).toMatchObject({ ok: false, reason: "changed" });
    expect(h.stack.message()).toMatch(/Undo refused: token “Ogre”: y was changed by someone else since/);
    expect(h.reverts).toEqual([]);
    expect(h.versions.get("token:t1")).toBe(4);
    // What remains is the other entity's action, still undoable.
    expect(h.stack.nextUndo()?.label).toBe("token “Elf”: x");
    expect((await h.stack.undo()).ok).toBe(true);
    expect(h.stack.nextUndo()).toBeUndefined();
  });

  it("refuses to redo over someone else's change", async () => {
    const h = harness();
    h.edit();
    await h.stack.undo();
    h.foreign();
    expect(await h.stack.redo()).toMatchObject({ ok: false, reason: "changed" });
    expect(h.reverts).toHaveLength(1);
    expect(h.stack.nextRedo()).toBeUndefined();
  });

  it("treats a 409 (a change the tab had not heard of yet) as a refusal, not a retry", async () => {
    const h = harness();
    h.edit();
    h.foreign("token:t1", false);
    const outcome = await h.stack.undo();
    expect(outcome).toMatchObject({ ok: false, reason: "changed" });
    expect(h.reverts).toEqual([["token", "t1", 1, 2]]);
    expect(h.versions.get("token:t1")).toBe(3);
    expect(h.stack.nextUndo()).toBeUndefined();
  });

  it("waits while the GM's own ops on the entity are not saved, keeping the action", async () => {
    const h = harness();
    h.edit();
    h.pending.add("token:t1");
    expect(await h.stack.undo()).toMatchObject({ ok: false, reason: "pending" });
    expect(h.reverts).toEqual([]);
    h.pending.clear();
    expect((await h.stack.undo()).ok).toBe(true);
  });

  it("keeps the action when the revert fails for another reason", async () => {
    const h = harness();
    h.edit();
    h.fail(new ApiError(0, "network_error", "The server could not be reached."));
    expect(await h.stack.undo()).toMatchObject({ ok: false, reason: "error", message: expect.stringMatching(/could not be reached/) });
    expect(h.stack.nextUndo()).toBeDefined();
    expect((await h.stack.undo()).ok).toBe(true);
  });

  it("runs one undo at a time", async () => {
    const h = harness();
    h.edit();
    h.edit();
    const [first, second] = await Promise.all([h.stack.undo(), h.stack.undo()]);
    expect(first.ok).toBe(true);
    expect(second).toMatchObject({ ok: false, reason: "busy" });
    expect(h.reverts).toHaveLength(1);
  });

  it("says so when there is nothing to undo or redo", async () => {
    const h = harness();
    expect(await h.stack.undo()).toMatchObject({ ok: false, reason: "empty" });
    expect(await h.stack.redo()).toMatchObject({ ok: false, reason: "empty" });
  });

  it("keeps at most `limit` actions, dropping the oldest", async () => {
    const h = harness({ "token:a": 1, "token:b": 1, "token:c": 1 }, 2);
    h.edit("token:a", "a");
    h.edit("token:b", "b");
    h.edit("token:c", "c");
    expect((await h.stack.undo()).ok).toBe(true);
    expect((await h.stack.undo()).ok).toBe(true);
    expect(await h.stack.undo()).toMatchObject({ ok: false, reason: "empty" });
    expect(h.reverts.map(([, id]) => id)).toEqual(["c", "b"]);
  });

  it("turns confirmed ops into actions: updates, archives and restores, not creates", () => {
    const h = harness();
    const ops: ConfirmedOp[] = [
      { entity_type: "token", id: "t9", op: "create", base_version: null, data: { name: "New" }, entity: e(token("t9", 1)) },
      {
        entity_type: "token",
        id: "t1",
        op: "update",
        base_version: 1,
        data: { x: 3, stats: { hp: 2 } },
        entity: e(token("t1", 2, { name: "Ogre" })),
      },
      { entity_type: "token", id: "t1", op: "archive", base_version: 2, data: undefined, entity: e(token("t1", 3, { name: "Ogre" })) },
    ];
    h.stack.recordConfirmed(ops);
    expect(h.stack.nextUndo()).toEqual({ entity_type: "token", id: "t1", before: 2, after: 3, label: "archive of token “Ogre”" });
    h.stack.clearMessage();
  });

  it("makes a restore from the history panel undoable", async () => {
    const h = harness({ "token:t1": 3 });
    // The panel restored version 1 on top of version 3: version 4.
    h.versions.set("token:t1", 4);
    h.stack.recordRevert("token", "t1", 3, 1, e(token("t1", 4, { name: "Ogre" })));
    expect(h.stack.nextUndo()?.label).toBe("restore of token “Ogre”");
    expect((await h.stack.undo()).ok).toBe(true);
    expect(h.reverts).toEqual([["token", "t1", 3, 4]]);
  });
});

describe("undo keys", () => {
  function keys(enabled = () => true) {
    const h = harness();
    const undo = vi.spyOn(h.stack, "undo");
    const redo = vi.spyOn(h.stack, "redo");
    const unbind = bindUndoKeys(window, h.stack, enabled);
    const press = (init: KeyboardEventInit, on: EventTarget = document.body) => {
      const event = new KeyboardEvent("keydown", { bubbles: true, cancelable: true, ...init });
      on.dispatchEvent(event);
      return event;
    };
    return { undo, redo, press, unbind };
  }

  it("Ctrl+Z undoes, Ctrl+Shift+Z and Ctrl+Y redo, ⌘Z too", () => {
    const k = keys();
    expect(k.press({ key: "z", ctrlKey: true }).defaultPrevented).toBe(true);
    k.press({ key: "Z", ctrlKey: true, shiftKey: true });
    k.press({ key: "y", ctrlKey: true });
    k.press({ key: "z", metaKey: true });
    k.unbind();
    expect(k.undo).toHaveBeenCalledTimes(2);
    expect(k.redo).toHaveBeenCalledTimes(2);
  });

  it("leaves plain keys, text fields and a disabled stack alone, and unbinds", () => {
    const k = keys();
    k.press({ key: "z" });
    const input = document.createElement("input");
    document.body.append(input);
    const typed = k.press({ key: "z", ctrlKey: true }, input);
    input.remove();
    expect(typed.defaultPrevented).toBe(false);
    k.unbind();
    k.press({ key: "z", ctrlKey: true });
    expect(k.undo).not.toHaveBeenCalled();
    const off = keys(() => false);
    off.press({ key: "z", ctrlKey: true });
    off.unbind();
    expect(off.undo).not.toHaveBeenCalled();
  });
});

describe("the sync layer's confirmed ops", () => {
  const harness = useSyncHarness();
  const start = async (server: FakeServer, deps: Partial<SyncDeps> = {}) => (await harness.start(server, deps)).sync;

  it("reports ops authored in this tab once the server confirms them, with their base and the version they made", async () => {
    const server = new FakeServer();
    server.put("token", e(token("t1")));
    const sync = await start(server);
    const seen: ConfirmedOp[][] = [];
    const stop = sync.onConfirmed((ops) => seen.push(ops));
    await sync.update("token", "t1", { x: 5 });
    await vi.waitFor(() => expect(sync.view.sync.pending).toBe(0));
    expect(seen.flat()).toEqual([
      {
        entity_type: "token",
        id: "t1",
        op: "update",
        base_version: 1,
        data: { x: 5 },
        entity: expect.objectContaining({ version: 2, x: 5 }),
      },
    ]);
    stop();
    await sync.update("token", "t1", { x: 6 });
    await vi.waitFor(() => expect(sync.view.sync.pending).toBe(0));
    expect(seen.flat()).toHaveLength(1);
  });

  it("does not report ops queued before this page loaded, nor failed sends", async () => {
    const server = new FakeServer();
    server.put("token", e(token("t1")));
    const first = await start(server);
    server.failNext("batch", "network");
    await first.update("token", "t1", { x: 9 });
    await first.queue.settled();
    await first.stop();

    server.hold("batch");
    const again = await start(server, { uuid: () => "11111111-1111-4111-8111-111111111111" });
    const seen: ConfirmedOp[] = [];
    again.onConfirmed((ops) => seen.push(...ops));
    server.release("batch");
    await vi.waitFor(() => expect(again.view.sync.pending).toBe(0));
    expect(server.get("token", "t1")).toMatchObject({ x: 9, version: 2 });
    expect(seen).toEqual([]);
  });
});

describe("the session's undo stack", () => {
  const harness = useSyncHarness();

  it("shows the entity an undo made at once, so the next edit is based on it", async () => {
    const server = new FakeServer();
    server.put("token", e(token("t1", 1, { x: 0 })));
    const { sync } = await harness.start(server);
    const { undo, dispose } = createSessionUndo("sess", sync);
    await sync.update("token", "t1", { x: 5 });
    await vi.waitFor(() => expect(undo.nextUndo()).toBeDefined());
    await vi.waitFor(() => expect(sync.view.sync.pending).toBe(0));
    // The revert endpoint answers version 3 with x back at 0; no socket brings it.
    const fetchMock = vi.fn(async () => Response.json(e(token("t1", 3, { x: 0 }))));
    vi.stubGlobal("fetch", fetchMock);
    try {
      const outcome = await undo.undo();
      expect(outcome, undo.message() ?? "").toMatchObject({ ok: true });
      expect(fetchMock).toHaveBeenCalledTimes(1);
      expect(sync.view.tokens.t1).toMatchObject({ version: 3, x: 0 });
      await sync.update("token", "t1", { x: 7 });
      expect(sync.queue.state().ops.at(-1)?.base_version).toBe(3);
    } finally {
      vi.unstubAllGlobals();
      dispose();
    }
  });
});
