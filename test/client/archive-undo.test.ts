// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor, within } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ArchivedNotice } from "../../client/src/components/ArchivedNotice";
import { SelectionActions } from "../../client/src/components/SelectionActions";
import { TokenInspector } from "../../client/src/components/TokenInspector";
import type { AnyEntity } from "../../client/src/lib/types";
import { folder } from "./helpers/fake-gm";
import { FakeServer } from "./helpers/fake-server";
import { scene, token } from "./helpers/fixtures";
import { renderSessionTable, useTableTests } from "./helpers/table";

afterEach(cleanup);

describe("archiving says so and can be undone", () => {
  it("the inspector's button says Archive, not Delete", async () => {
    const onArchive = vi.fn(async () => undefined);
    render(() =>
      createComponent(TokenInspector, {
        sessionId: "s",
        token: token("t1", 1, { name: "Ogre" }),
        art: undefined,
        players: [],
        onPatch: async () => undefined,
        onArchive,
        onArt: async () => undefined,
        onClose: () => undefined,
      }),
    );
    expect(screen.queryByRole("button", { name: /Delete/ })).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Archive token" }));
    await waitFor(() => expect(onArchive).toHaveBeenCalledTimes(1));
  });

  it("the notice after archiving restores with Undo, then goes away", async () => {
    const onUndo = vi.fn(async () => undefined);
    const onDismiss = vi.fn();
    render(() => createComponent(ArchivedNotice, { label: "Ogre", onUndo, onDismiss }));
    expect(screen.getByRole("status").textContent).toContain("Archived Ogre.");
    fireEvent.click(screen.getByRole("button", { name: "Undo" }));
    await waitFor(() => expect(onUndo).toHaveBeenCalledTimes(1));
    await waitFor(() => expect(onDismiss).toHaveBeenCalledTimes(1));
  });

  it("says what was done when it was not an archive", () => {
    render(() =>
      createComponent(ArchivedNotice, { label: "a note", verb: "Deleted", onUndo: async () => undefined, onDismiss: () => undefined }),
    );
    expect(screen.getByRole("status").textContent).toContain("Deleted a note.");
  });

  it("the notice stays with the error when the restore cannot be queued", async () => {
    const onDismiss = vi.fn();
    render(() =>
      createComponent(ArchivedNotice, {
        label: "Ogre",
        onUndo: async () => {
          throw new Error("storage is full");
        },
        onDismiss,
      }),
    );
    fireEvent.click(screen.getByRole("button", { name: "Undo" }));
    expect(await screen.findByText("storage is full")).toBeTruthy();
    expect(onDismiss).not.toHaveBeenCalled();
  });
});

describe("archiving many tokens asks first", () => {
  function renderActions() {
    const onArchive = vi.fn(async () => undefined);
    render(() =>
      createComponent(SelectionActions, {
        tokens: [token("t1", 1), token("t2", 1), token("t3", 1)],
        onHidden: async () => undefined,
        onArchive,
        onClear: () => undefined,
      }),
    );
    return { onArchive };
  }

  it("archives nothing until confirmed, and Keep leaves them", () => {
    const { onArchive } = renderActions();
    fireEvent.click(screen.getByRole("button", { name: "Archive 3 tokens" }));
    expect(screen.getByText(/Archive 3 tokens\?/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Keep" }));
    expect(onArchive).not.toHaveBeenCalled();
    expect(screen.getByRole("button", { name: "Archive 3 tokens" })).toBeTruthy();
  });

  it("archives them after the confirmation", async () => {
    const { onArchive } = renderActions();
    fireEvent.click(screen.getByRole("button", { name: "Archive 3 tokens" }));
    fireEvent.click(screen.getByRole("button", { name: "Archive them" }));
    await waitFor(() => expect(onArchive).toHaveBeenCalledTimes(1));
  });
});

describe("on the GM's table", () => {
  const running = useTableTests();

  it("archives the selected token, and the notice's Undo restores it on the server", async () => {
    const server = new FakeServer();
    server.put("scene", scene("s1", 1, { name: "Crypt" }) as unknown as AnyEntity, "create");
    server.put("token", token("t1", 1, { name: "Ogre", scene_id: "s1" }) as unknown as AnyEntity, "create");
    server.edit("session_state", "st", { active_scene_id: "s1" });
    await renderSessionTable(server, "u-gm", running);
    fireEvent.click(await screen.findByRole("button", { name: "Ogre" }));
    fireEvent.click(await screen.findByRole("button", { name: "Archive token" }));
    await waitFor(() => expect(server.get("token", "t1")?.archived_at).not.toBeNull());
    const notice = await screen.findByText(/Archived Ogre\./);
    fireEvent.click(within(notice).getByRole("button", { name: "Undo" }));
    await waitFor(() => expect(server.get("token", "t1")?.archived_at).toBeNull());
    expect(server.get("token", "t1")?.version).toBe(3);
    await waitFor(() => expect(screen.queryByText(/Archived Ogre\./)).toBeNull());
    expect(await screen.findByRole("button", { name: "Ogre" })).toBeTruthy();
  });

  it("archives a folder holding a scene after the confirmation, and the notice's Undo restores it on the server", async () => {
    const server = new FakeServer();
    server.put("folder", folder("f1", 1, { name: "Act I" }) as unknown as AnyEntity, "create");
    server.put("scene", scene("s1", 1, { name: "Crypt" }) as unknown as AnyEntity, "create");
    server.put("scene", scene("s2", 1, { name: "Road", folder_id: "f1" }) as unknown as AnyEntity, "create");
    server.edit("session_state", "st", { active_scene_id: "s1" });
    await renderSessionTable(server, "u-gm", running);
    fireEvent.click(await screen.findByRole("tab", { name: "Scenes" }));
    fireEvent.click(await screen.findByRole("button", { name: "Edit folder Act I" }));
    fireEvent.click(await screen.findByRole("button", { name: "Archive folder Act I" }));
    expect(await screen.findByText(/Archive folder Act I\? It holds 1 scene;/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Archive it" }));
    await waitFor(() => expect(server.get("folder", "f1")?.archived_at).not.toBeNull());
    const notice = await screen.findByText(/Archived folder Act I\./);
    fireEvent.click(within(notice).getByRole("button", { name: "Undo" }));
    await waitFor(() => expect(server.get("folder", "f1")?.archived_at).toBeNull());
    expect(server.get("folder", "f1")?.version).toBe(3);
    expect(server.get("scene", "s2")?.archived_at).toBeNull();
  });

  it("archives a scene after the confirmation, and the notice's Undo restores it on the server", async () => {
    const server = new FakeServer();
    server.put("scene", scene("s1", 1, { name: "Crypt" }) as unknown as AnyEntity, "create");
    server.put("scene", scene("s2", 1, { name: "Road", sort: 1 }) as unknown as AnyEntity, "create");
    server.edit("session_state", "st", { active_scene_id: "s1" });
    await renderSessionTable(server, "u-gm", running);
    fireEvent.click(await screen.findByRole("tab", { name: "Scenes" }));
    fireEvent.click(await screen.findByRole("button", { name: "Archive Road" }));
    fireEvent.click(await screen.findByRole("button", { name: "Archive it" }));
    await waitFor(() => expect(server.get("scene", "s2")?.archived_at).not.toBeNull());
    const notice = await screen.findByText(/Archived Road\./);
    fireEvent.click(within(notice).getByRole("button", { name: "Undo" }));
    await waitFor(() => expect(server.get("scene", "s2")?.archived_at).toBeNull());
    expect(server.get("scene", "s2")?.version).toBe(3);
    await waitFor(() => expect(screen.queryByText(/Archived Road\./)).toBeNull());
    expect(await screen.findByRole("button", { name: "Archive Road" })).toBeTruthy();
  });
});
