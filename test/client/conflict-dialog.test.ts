// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor, within } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ConflictDialog } from "../../client/src/components/ConflictDialog";
import type { Conflict, Resolution } from "../../client/src/lib/conflict";
import type { QueuedOp } from "../../client/src/lib/queue";
import type { AnyEntity } from "../../client/src/lib/types";
import { token } from "./helpers/fixtures";

afterEach(cleanup);

function conflict(
  payload: QueuedOp["payload"],
  server: AnyEntity | null = token("t1", 5, { name: "Ogre", x: 4, y: 8 }) as unknown as AnyEntity,
): Conflict {
  return {
    op: { uuid: "op-1", entity_type: "token", op: "update", id: "t1", payload, base_version: 3, created_at: 0 },
    server,
    detectedAt: 0,
    dependents: 0,
  };
}

function renderDialog(c: Conflict) {
  const onResolve = vi.fn<(resolution: Resolution) => void>();
  let n = 0;
  render(() => createComponent(ConflictDialog, { conflict: c, onResolve, uuid: () => `new-${++n}` }));
  return { onResolve, dialog: screen.getByRole("dialog", { name: "Conflicting change" }) };
}

describe("ConflictDialog", () => {
  it("is a labelled modal dialog naming the entity", () => {
    const { dialog } = renderDialog(conflict({ x: 10 }));
    expect(dialog.getAttribute("aria-modal")).toBe("true");
    expect(within(dialog).getByText(/token “Ogre”/)).toBeTruthy();
  });

  it("previews every differing field with mine and the server's value", () => {
    const { dialog } = renderDialog(conflict({ x: 10, y: 8, name: "Troll" }));
    const rows = within(dialog).getAllByRole("row").slice(1);
    const cells = rows.map((row) =>
      within(row)
        .getAllByRole("cell")
        .map((cell) => cell.textContent?.trim()),
    );
    expect(rows.map((row) => within(row).getByRole("rowheader").textContent)).toEqual(["x", "name"]);
    expect(cells.map((c) => c.slice(0, 2))).toEqual([
      ["10", "4"],
      ["Troll", "Ogre"],
    ]);
  });

  it("Keep Mine resolves with the op rebased on the server's version", async () => {
    const { dialog, onResolve } = renderDialog(conflict({ x: 10 }));
    fireEvent.click(within(dialog).getByRole("button", { name: "Keep Mine" }));
    await waitFor(() => expect(onResolve).toHaveBeenCalledTimes(1));
    const resolution = onResolve.mock.calls[0]?.[0];
    expect(resolution).toMatchObject({ kind: "replace", choice: "keep_mine", op: { base_version: 5, uuid: "new-1", payload: { x: 10 } } });
  });

  it("Use Server drops the op", async () => {
    const { dialog, onResolve } = renderDialog(conflict({ x: 10 }));
    fireEvent.click(within(dialog).getByRole("button", { name: "Use Server" }));
    await waitFor(() => expect(onResolve).toHaveBeenCalledWith({ kind: "drop", choice: "use_server" }));
  });

  it("Merge Fields keeps only the fields chosen as mine", async () => {
    const { dialog, onResolve } = renderDialog(conflict({ x: 10, name: "Troll" }));
    fireEvent.click(within(dialog).getByRole("radio", { name: "Use server for name" }));
    fireEvent.click(within(dialog).getByRole("button", { name: "Merge Fields" }));
    await waitFor(() => expect(onResolve).toHaveBeenCalledTimes(1));
    expect(onResolve.mock.calls[0]?.[0]).toMatchObject({
      kind: "replace",
      choice: "merge_fields",
      op: { op: "update", base_version: 5, payload: { x: 10 } },
    });
    const resolution = onResolve.mock.calls[0]?.[0];
    expect(resolution?.kind === "replace" ? Object.keys(resolution.op.payload) : []).toEqual(["x"]);
  });

  it("Merge Fields with every field from the server drops the op", async () => {
    const { dialog, onResolve } = renderDialog(conflict({ x: 10 }));
    fireEvent.click(within(dialog).getByRole("radio", { name: "Use server for x" }));
    fireEvent.click(within(dialog).getByRole("button", { name: "Merge Fields" }));
    await waitFor(() => expect(onResolve).toHaveBeenCalledWith({ kind: "drop", choice: "merge_fields" }));
  });

  it("offers no Keep Mine when the entity is gone on the server", () => {
    const { dialog } = renderDialog(conflict({ x: 10 }, null));
    expect(within(dialog).getByText(/It is gone on the server/)).toBeTruthy();
    expect((within(dialog).getByRole("button", { name: "Keep Mine" }) as HTMLButtonElement).disabled).toBe(true);
    expect((within(dialog).getByRole("button", { name: "Use Server" }) as HTMLButtonElement).disabled).toBe(false);
  });

  it("lists the fields of every queued edit of the entity, and Merge Fields resolves all of them", async () => {
    const base = conflict({ x: 10 });
    const c: Conflict = {
      ...base,
      dependents: 1,
      related: [{ uuid: "op-2", entity_type: "token", op: "update", id: "t1", payload: { name: "Troll" }, base_version: 4, created_at: 0 }],
    };
    const { dialog, onResolve } = renderDialog(c);
    expect(within(dialog).getByText(/your 2 queued changes/)).toBeTruthy();
    const rows = within(dialog).getAllByRole("row").slice(1);
    expect(rows.map((row) => within(row).getByRole("rowheader").textContent)).toEqual(["x", "name"]);
    fireEvent.click(within(dialog).getByRole("radio", { name: "Use server for x" }));
    fireEvent.click(within(dialog).getByRole("button", { name: "Merge Fields" }));
    await waitFor(() => expect(onResolve).toHaveBeenCalledTimes(1));
    expect(onResolve.mock.calls[0]?.[0]).toEqual({
      kind: "drop",
      choice: "merge_fields",
      related: { "op-2": { ...c.related?.[0], payload: { name: "Troll" } } },
    });
  });

  it("names who changed the server's side and when", () => {
    const server = token("t1", 5, { name: "Ogre", x: 4 }) as unknown as AnyEntity;
    server.updated_by = "u-ann";
    server.updated_at = "2026-03-04T14:05:00.000Z";
    const onResolve = vi.fn();
    render(() =>
      createComponent(ConflictDialog, {
        conflict: conflict({ x: 10 }, server),
        onResolve,
        nameOf: (id: string) => (id === "u-ann" ? "ann" : undefined),
      }),
    );
    const author = screen.getByTestId("conflict-author");
    expect(author.textContent).toContain("changed by ann");
    expect(author.querySelector("time")?.getAttribute("datetime")).toBe("2026-03-04T14:05:00.000Z");
  });

  it("says another member when the author is not known", () => {
    const server = token("t1", 5, { x: 4 }) as unknown as AnyEntity;
    server.updated_by = "u-gone";
    render(() => createComponent(ConflictDialog, { conflict: conflict({ x: 10 }, server), onResolve: vi.fn(), nameOf: () => undefined }));
    expect(screen.getByTestId("conflict-author").textContent).toContain("changed by another member");
  });
});
