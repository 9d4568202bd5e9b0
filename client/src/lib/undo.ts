/**
 * Undo and redo of the GM's own confirmed actions in this tab, through
 * `POST {S}/<type>/{id}/revert {version, base_version}` (history is never rewritten: an undo is
 * one more version whose fields equal those of the version before the action).
 *
 * Each action is an entity and two versions: `before` and `after` the GM's change. Undo brings the
 * fields of `before` back, redo those of `after`, each as a new version. Versions that hold the same
 * fields are remembered as equivalent (a revert to version 2 that became version 4 holds version
 * 2's fields), so a chain of undos and redos on one entity keeps working.
 *
 * Nothing is clobbered: an undo or redo applies only while the entity still holds the fields the
 * action left (or an undo/redo of this tab put there). When anyone else changed the entity since,
 * it is refused with a message and every action on that entity is dropped (none can apply any
 * more); a 409 from the server (the change had not reached this tab yet) is treated the same way.
 * While the GM's own ops on the entity wait in the queue, it is refused until they are saved.
 *
 * The actions come from the sync layer (`SessionSync.onConfirmed`: ops this tab authored, as the
 * server confirmed them) and from the history panel's restores. The revert's change then reaches
 * the view through the normal sync path (socket or poll).
 */
import { createSignal } from "solid-js";
import { ApiError, createHistoryApi, describeError, type HistoryApi } from "./api";
import { entityLabel, fieldNames } from "./history";
import { entityKey } from "./queue";
import { getEntity } from "./store";
import type { ConfirmedOp, SessionSync } from "./sync";
import type { AnyEntity, EntityType } from "./types";

export interface UndoAction {
  entity_type: EntityType;
  id: string;
  /** The version before the GM's change, and the one it produced. */
  before: number;
  after: number;
  /** For buttons and messages: "token “Ogre”: x, y". */
  label: string;
}

export type UndoOutcome =
  | { ok: true; action: UndoAction; entity: AnyEntity }
  | { ok: false; reason: "empty" | "busy" | "pending" | "changed" | "error"; message: string };

export interface UndoDeps {
  /** The entity's version as this tab last heard it from the server; null when unknown. */
  serverVersion(type: EntityType, id: string): number | null;
  /** Whether ops of this tab on the entity still wait to be sent or confirmed. */
  hasPending(type: EntityType, id: string): boolean;
  revert(type: EntityType, id: string, version: number, baseVersion: number): Promise<AnyEntity>;
  /** How many actions are kept (oldest dropped first). */
  limit?: number;
}

export interface UndoStack {
  /** A confirmed action of the GM: pushed for undo; the redo list is cleared. */
  record(action: UndoAction): void;
  /** A revert made elsewhere in this tab (the history panel): undoable too. */
  recordRevert(type: EntityType, id: string, base: number, target: number, result: AnyEntity): void;
  /** Ops confirmed by the server (`SessionSync.onConfirmed`) → actions. */
  recordConfirmed(ops: readonly ConfirmedOp[]): void;
  undo(): Promise<UndoOutcome>;
  redo(): Promise<UndoOutcome>;
  /** Reactive: the next action to undo / redo. */
  nextUndo(): UndoAction | undefined;
  nextRedo(): UndoAction | undefined;
  busy(): boolean;
  /** Reactive: the outcome of the last undo or redo, for the UI. */
  message(): string | null;
  clearMessage(): void;
}

const DEFAULT_LIMIT = 100;

export function createUndoStack(deps: UndoDeps): UndoStack {
  const limit = deps.limit ?? DEFAULT_LIMIT;
  const [undoList, setUndoList] = createSignal<readonly UndoAction[]>([]);
  const [redoList, setRedoList] = createSignal<readonly UndoAction[]>([]);
  const [busy, setBusy] = createSignal(false);
  const [message, setMessage] = createSignal<string | null>(null);
  /** Per entity: version → the version whose fields it holds (reverts make equivalent versions). */
  const same = new Map<string, Map<number, number>>();
  /** Per entity: the highest version this tab produced or saw confirmed (the view may lag behind). */
  const known = new Map<string, number>();

  const canonical = (key: string, version: number): number => same.get(key)?.get(version) ?? version;
  function markSame(key: string, version: number, holdsFieldsOf: number) {
    let map = same.get(key);
    if (!map) {
      map = new Map();
      same.set(key, map);
    }
    map.set(version, canonical(key, holdsFieldsOf));
  }
  function markKnown(key: string, version: number) {
    known.set(key, Math.max(version, known.get(key) ?? 0));
  }

  function record(action: UndoAction) {
    if (action.after <= action.before) return;
    markKnown(entityKey(action.entity_type, action.id), action.after);
    setUndoList((list) => [...list, action].slice(-limit));
    setRedoList([]);
  }

  function recordRevert(type: EntityType, id: string, base: number, target: number, result: AnyEntity) {
    const key = entityKey(type, id);
    markSame(key, result.version, target);
    record({ entity_type: type, id, before: base, after: result.version, label: `restore of ${entityLabel(type, result)}` });
  }

  function recordConfirmed(ops: readonly ConfirmedOp[]) {
    for (const op of ops) {
      if (op.op === "create" || op.base_version === null) continue;
      const label =
        op.op === "update"
          ? `${entityLabel(op.entity_type, op.entity)}: ${fieldNames(op.data).join(", ")}`
          : `${op.op} of ${entityLabel(op.entity_type, op.entity)}`;
      record({ entity_type: op.entity_type, id: op.id, before: op.base_version, after: op.entity.version, label });
    }
  }

  /** Drops every action on the entity from both lists: after a foreign change none can apply. */
  function forget(key: string) {
    const keep = (a: UndoAction) => entityKey(a.entity_type, a.id) !== key;
    setUndoList((list) => list.filter(keep));
    setRedoList((list) => list.filter(keep));
  }

  async function step(direction: "undo" | "redo"): Promise<UndoOutcome> {
    const list = direction === "undo" ? undoList : redoList;
    const action = list().at(-1);
    const verb = direction === "undo" ? "Undo" : "Redo";
    const refuse = (reason: Exclude<UndoOutcome, { ok: true }>["reason"], text: string): UndoOutcome => {
      if (reason !== "empty" && reason !== "busy") setMessage(text);
      return { ok: false, reason, message: text };
    };
    if (busy()) return refuse("busy", `${verb} is already running.`);
    if (!action) return refuse("empty", direction === "undo" ? "Nothing to undo." : "Nothing to redo.");
    const { entity_type: type, id } = action;
    const key = entityKey(type, id);
    if (deps.hasPending(type, id)) {
      return refuse("pending", `${verb} waits: your changes to ${action.label} are not saved yet. Try again once they are.`);
    }
    // The fields the entity must still hold, and the version to bring back.
    const [expected, target] = direction === "undo" ? [action.after, action.before] : [action.before, action.after];
    const current = Math.max(deps.serverVersion(type, id) ?? 0, known.get(key) ?? 0);
    const changedMessage = `${verb} refused: ${action.label} was changed by someone else since, and ${direction === "undo" ? "undoing" : "redoing"} would overwrite that change.`;
    if (current === 0 || canonical(key, current) !== canonical(key, expected)) {
      forget(key);
      return refuse("changed", changedMessage);
    }
    setBusy(true);
    try {
      const entity = await deps.revert(type, id, target, current);
      markSame(key, entity.version, target);
      markKnown(key, entity.version);
      if (direction === "undo") {
        setUndoList((l) => l.slice(0, -1));
        setRedoList((l) => [...l, action]);
      } else {
        setRedoList((l) => l.slice(0, -1));
        setUndoList((l) => [...l, action]);
      }
      setMessage(`${direction === "undo" ? "Undone" : "Redone"}: ${action.label}.`);
      return { ok: true, action, entity };
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        forget(key);
        return refuse("changed", changedMessage);
      }
      return refuse("error", `${verb} failed: ${describeError(error)}`);
    } finally {
      setBusy(false);
    }
  }

  return {
    record,
    recordRevert,
    recordConfirmed,
    undo: () => step("undo"),
    redo: () => step("redo"),
    nextUndo: () => undoList().at(-1),
    nextRedo: () => redoList().at(-1),
    busy,
    message,
    clearMessage: () => setMessage(null),
  };
}

/**
 * The undo stack of one session's table: actions from the sync layer (GM only), versions from the
 * server-confirmed world (archived entities from its tombstones), reverts through the API.
 * Returns the stack, the history API it uses (for the history panel) and the unsubscribe.
 */
export function createSessionUndo(sessionId: string, sync: SessionSync): { undo: UndoStack; history: HistoryApi; dispose: () => void } {
  const history = createHistoryApi(sessionId, sync.modules);
  const undo = createUndoStack({
    serverVersion(type, id) {
      const world = sync.store.world();
      return getEntity(world, type, id)?.version ?? world.tombstones[entityKey(type, id)] ?? null;
    },
    hasPending: (type, id) => sync.queue.state().ops.some((op) => op.entity_type === type && op.id === id),
    // The result is shown at once: an edit made before the socket brings it would carry an old base.
    revert: async (type, id, version, baseVersion) => {
      const entity = await history.revert(type, id, version, baseVersion);
      sync.accept([{ type, entity }]);
      return entity;
    },
  });
  const dispose = sync.onConfirmed((ops) => {
    if (sync.view.role === "gm") undo.recordConfirmed(ops);
  });
  return { undo, history, dispose };
}

/** Ctrl+Z (⌘Z) undoes, Ctrl+Shift+Z or Ctrl+Y redoes; text fields keep their own undo. Returns the unbind. */
export function bindUndoKeys(
  target: Pick<Window, "addEventListener" | "removeEventListener">,
  undo: UndoStack,
  enabled: () => boolean = () => true,
) {
  const onKey = (event: KeyboardEvent) => {
    if (!enabled() || !(event.ctrlKey || event.metaKey) || event.altKey || isTextField(event.target)) return;
    const key = event.key.toLowerCase();
    if (key === "z" && !event.shiftKey) {
      event.preventDefault();
      void undo.undo();
    } else if ((key === "z" && event.shiftKey) || (key === "y" && !event.shiftKey)) {
      event.preventDefault();
      void undo.redo();
    }
  };
  target.addEventListener("keydown", onKey as EventListener);
  return () => target.removeEventListener("keydown", onKey as EventListener);
}

function isTextField(target: EventTarget | null): boolean {
  if (typeof Element === "undefined" || !(target instanceof Element)) return false;
  if ((target as HTMLElement).isContentEditable) return true;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag !== "INPUT") return false;
  const type = (target as HTMLInputElement).type;
  return !["checkbox", "radio", "range", "button", "submit", "color", "file"].includes(type);
}
