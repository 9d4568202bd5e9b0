// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor, within } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ArchiveBin } from "../../client/src/components/ArchiveBin";
import type { AnyEntity, EntityType } from "../../client/src/lib/types";
import { fakeGmApi, fakeSync, folder } from "./helpers/fake-gm";
import { scene, token } from "./helpers/fixtures";

afterEach(cleanup);
beforeEach(() => localStorage.clear());

const ARCHIVED = "2025-01-03T12:00:00.000Z";
const e = (entity: object) => entity as AnyEntity;

function renderBin(restoreFails = false) {
  const archived: Record<string, AnyEntity[]> = {
    scene: [e(scene("s9", 4, { name: "Drowned Chapel", archived_at: ARCHIVED }))],
    token: [
      e(token("t9", 2, { name: "Eel swarm", scene_id: "s1", archived_at: ARCHIVED })),
      e(token("t8", 3, { name: "Lost key", scene_id: null, archived_at: ARCHIVED })),
    ],
    folder: [e(folder("f9", 2, { name: "Act III", archived_at: ARCHIVED }))],
  };
  const gm = fakeGmApi({ listArchived: async (type: EntityType) => ({ items: archived[type] ?? [] }) });
  const fake = fakeSync({ scenes: { s1: scene("s1", 1, { name: "Crypt" }) } });
  if (restoreFails) {
    fake.sync.restore.mockImplementation(async () => {
      throw new Error("IndexedDB is full");
    });
  }
  render(() => createComponent(ArchiveBin, { api: gm.api, sync: fake.sync }));
  return { gm, fake };
}

describe("ArchiveBin", () => {
  it("reads archived scenes only when asked, and lists them", async () => {
    const { gm } = renderBin();
    expect(gm.api.listArchived).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole("button", { name: "Show archived scenes" }));
    const list = await screen.findByRole("list", { name: "Archived scenes" });
    expect(gm.api.listArchived).toHaveBeenCalledWith("scene");
    expect(within(list).getByText("Drowned Chapel")).toBeTruthy();
  });

  it("restores a scene through the sync queue with its archived version, and takes it out of the bin", async () => {
    const { fake } = renderBin();
    fireEvent.click(screen.getByRole("button", { name: "Show archived scenes" }));
    fireEvent.click(await screen.findByRole("button", { name: "Restore Drowned Chapel" }));
    await waitFor(() => expect(fake.sync.restore).toHaveBeenCalledWith("scene", "s9", 4));
    await screen.findByText("No archived scenes.");
  });

  it("restores tokens and folders too, telling where a token was", async () => {
    const { gm, fake } = renderBin();
    fireEvent.click(screen.getByRole("button", { name: "Show archived tokens" }));
    const tokens = await screen.findByRole("list", { name: "Archived tokens" });
    expect(gm.api.listArchived).toHaveBeenCalledWith("token");
    expect(tokens.textContent).toContain("Eel swarm · Crypt");
    expect(tokens.textContent).toContain("Lost key · library");
    fireEvent.click(within(tokens).getByRole("button", { name: "Restore Eel swarm" }));
    await waitFor(() => expect(fake.sync.restore).toHaveBeenCalledWith("token", "t9", 2));

    fireEvent.click(screen.getByRole("button", { name: "Show archived folders" }));
    fireEvent.click(await screen.findByRole("button", { name: "Restore Act III" }));
    await waitFor(() => expect(fake.sync.restore).toHaveBeenCalledWith("folder", "f9", 2));
  });

  it("keeps an item in the bin and says why when its restore cannot be queued", async () => {
    renderBin(true);
    fireEvent.click(screen.getByRole("button", { name: "Show archived scenes" }));
    fireEvent.click(await screen.findByRole("button", { name: "Restore Drowned Chapel" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Drowned Chapel: IndexedDB is full");
    expect(screen.getByRole("button", { name: "Restore Drowned Chapel" })).toBeTruthy();
  });

  it("hides a list again", async () => {
    renderBin();
    fireEvent.click(screen.getByRole("button", { name: "Show archived scenes" }));
    await screen.findByRole("list", { name: "Archived scenes" });
    fireEvent.click(screen.getByRole("button", { name: "Hide archived scenes" }));
    expect(screen.queryByRole("list", { name: "Archived scenes" })).toBeNull();
  });
});
