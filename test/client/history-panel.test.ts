// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor, within } from "@solidjs/testing-library";
import { createComponent, createSignal } from "solid-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { HistoryPanel } from "../../client/src/components/HistoryPanel";
import { ApiError, type HistoryApi } from "../../client/src/lib/api";
import type { AnyEntity, EntityHistoryItem } from "../../client/src/lib/types";
import { token } from "./helpers/fixtures";

afterEach(cleanup);

const e = (entity: object) => entity as AnyEntity;
const NAMES: Record<string, string> = { "u-gm": "Morgan", "u-co": "Robin" };

const ITEMS: EntityHistoryItem[] = [
  { version: 3, seq: 9, op: "update", diff: { x: 120, y: 80, version: 3 }, updated_by: "u-co", created_at: "2025-01-01T10:02:00.000Z" },
  { version: 2, seq: 7, op: "update", diff: { name: "Troll", version: 2 }, updated_by: "u-gm", created_at: "2025-01-01T10:01:00.000Z" },
  {
    version: 1,
    seq: 5,
    op: "create",
    diff: { name: "Ogre", x: 0, version: 1 },
    updated_by: "u-gm",
    created_at: "2025-01-01T10:00:00.000Z",
  },
];

function fakeApi(overrides: Partial<HistoryApi> = {}) {
  const api = {
    history: vi.fn<HistoryApi["history"]>(async () => structuredClone(ITEMS)),
    revert: vi.fn<HistoryApi["revert"]>(async (_type, id, version, base) =>
      e(token(id, base + 1, { name: version === 1 ? "Ogre" : "Troll" })),
    ),
    ...overrides,
  };
  return api;
}

function renderPanel(api: HistoryApi, options: { pending?: boolean } = {}) {
  const [entity, setEntity] = createSignal(e(token("t1", 3, { name: "Troll", x: 120, y: 80 })));
  const onReload = vi.fn();
  const onRestored = vi.fn();
  render(() =>
    createComponent(HistoryPanel, {
      entityType: "token",
      get entity() {
        return entity();
      },
      api,
      nameOf: (id: string) => NAMES[id] ?? "another member",
      pending: options.pending ?? false,
      onReload,
      onRestored,
    }),
  );
  return { setEntity, onReload, onRestored };
}

const versions = () => within(screen.getByRole("list", { name: "Versions of token “Troll”" })).getAllByRole("listitem");

describe("HistoryPanel", () => {
  it("lists every version newest first with who, when and what changed", async () => {
    const api = fakeApi();
    renderPanel(api);
    await waitFor(() => expect(versions()).toHaveLength(3));
    expect(api.history).toHaveBeenCalledWith("token", "t1");
    const [v3, v2, v1] = versions() as [HTMLElement, HTMLElement, HTMLElement];
    expect(v3.textContent).toContain("x → 120, y → 80");
    expect(v3.textContent).toContain("Robin");
    expect(v3.querySelector("time")?.getAttribute("datetime")).toBe("2025-01-01T10:02:00.000Z");
    expect(v2.textContent).toContain("name → “Troll”");
    expect(v1.textContent).toContain("Created “Ogre”");
    expect(v1.textContent).toContain("Morgan");
    // The current version has no restore button; every other one has.
    expect(within(v3).queryByRole("button")).toBeNull();
    expect(within(v3).getByText("current")).toBeTruthy();
    expect(within(v1).getByRole("button", { name: "Restore this version" })).toBeTruthy();
  });

  it("restores a version on top of the current one and says so", async () => {
    const api = fakeApi();
    const { onRestored } = renderPanel(api);
    await waitFor(() => expect(versions()).toHaveLength(3));
    fireEvent.click(within(versions()[2] as HTMLElement).getByRole("button", { name: "Restore this version" }));
    await waitFor(() => expect(screen.getByRole("status").textContent).toBe("Restored version 1 as version 4."));
    expect(api.revert).toHaveBeenCalledWith("token", "t1", 1, 3);
    expect(onRestored).toHaveBeenCalledWith(expect.objectContaining({ version: 4 }), 3, 1);
  });

  it("shows the conflict and reloads when the entity changed meanwhile (409)", async () => {
    const api = fakeApi({
      revert: vi.fn(async () => {
        throw new ApiError(409, "conflict", "stale", { current: token("t1", 5, { updated_by: "u-co" }) });
      }),
    });
    const { onReload, onRestored } = renderPanel(api);
    await waitFor(() => expect(versions()).toHaveLength(3));
    fireEvent.click(within(versions()[1] as HTMLElement).getByRole("button", { name: "Restore this version" }));
    await waitFor(() => expect(onReload).toHaveBeenCalledTimes(1));
    expect(screen.getByRole("alert").textContent).toBe(
      "Not restored: token “Troll” changed since version 3 (now version 5, by Robin). The table was reloaded; check the history and try again.",
    );
    expect(onRestored).not.toHaveBeenCalled();
  });

  it("reads the history again when the entity reaches a new version", async () => {
    const api = fakeApi();
    const { setEntity } = renderPanel(api);
    await waitFor(() => expect(api.history).toHaveBeenCalledTimes(1));
    setEntity(e(token("t1", 4, { name: "Troll" })));
    await waitFor(() => expect(api.history).toHaveBeenCalledTimes(2));
    // Version 3 is no longer the current one: it can be restored now.
    await waitFor(() => expect(within(versions()[0] as HTMLElement).getByRole("button", { name: "Restore this version" })).toBeTruthy());
  });

  it("holds restores while the tab's own changes to the entity are unsaved", async () => {
    renderPanel(fakeApi(), { pending: true });
    await waitFor(() => expect(versions()).toHaveLength(3));
    expect(screen.getByText(/still being saved/)).toBeTruthy();
    for (const button of screen.getAllByRole("button", { name: "Restore this version" }))
      expect((button as HTMLButtonElement).disabled).toBe(true);
  });

  it("shows why the history could not be read", async () => {
    renderPanel(
      fakeApi({
        history: vi.fn(async () => {
          throw new ApiError(403, "forbidden", "only a GM may do this");
        }),
      }),
    );
    await waitFor(() => expect(screen.getByRole("alert").textContent).toBe("only a GM may do this"));
  });
});
