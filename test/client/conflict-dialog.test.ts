// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor, within } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ConflictDialog } from "../../client/src/components/ConflictDialog";
import type { AnyEntity } from "../../client/src/lib/api";
import type { Conflict, Resolution } from "../../client/src/lib/conflict";
import type { QueuedOp } from "../../client/src/lib/queue";
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
});
