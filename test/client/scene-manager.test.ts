// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor, within } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SceneManager } from "../../client/src/components/SceneManager";
import { ApiError } from "../../client/src/lib/api";
import { createRoster } from "../../client/src/lib/roster";
import { applyEntities } from "../../client/src/lib/store";
import type { AnyEntity, Scene } from "../../client/src/lib/types";
import { fakeGmApi, fakeSync, folder } from "./helpers/fake-gm";
import { scene, sessionState } from "./helpers/fixtures";
import { settle } from "./helpers/timers";

afterEach(cleanup);
beforeEach(() => localStorage.clear());

const LOCK_UNTIL = "2030-01-01T00:05:00.000Z";

function renderManager(
  options: { locks?: { scene_id: string; holder_user_id: string; expires_at: string }[]; applyUpdates?: boolean } = {},
) {
  const fake = fakeSync(
    {
      folders: {
        f1: folder("f1", 1, { name: "Act I", sort: 1 }),
        f2: folder("f2", 1, { name: "Act II", sort: 2 }),
      },
      scenes: {
        s1: scene("s1", 1, { name: "Crypt", sort: 1 }),
        s2: scene("s2", 1, { name: "Tavern", sort: 2 }),
        s3: scene("s3", 1, { name: "Road", sort: 3 }),
        s4: scene("s4", 1, { name: "Keep", sort: 1, folder_id: "f1" }),
      },
      session_state: sessionState(1, { active_scene_id: "s1" }),
    },
    { applyUpdates: options.applyUpdates ?? false },
  );
  const gm = fakeGmApi();
  gm.members.push({ user_id: "u-gm", username: "gwen", role: "gm" }, { user_id: "u-ann", username: "ann", role: "gm" });
  gm.locks.push(...(options.locks ?? []));
  const roster = createRoster({ api: gm.api, sync: fake.sync });
  const onView = vi.fn<(scene: Scene) => void>();
  const onActivate = vi.fn(async (_scene: Scene) => undefined);
  render(() =>
    createComponent(SceneManager, {
      sessionId: "sess",
      userId: "u-gm",
      sync: fake.sync,
      api: gm.api,
      roster,
      activeSceneId: "s1",
      shownSceneId: "s1",
      onView,
      onActivate,
    }),
  );
  return { fake, gm, onView, onActivate };
}

/** A drag event at a height within the target (jsdom lays nothing out: the target's box is at 0, 0 with no size). */
function drag(target: Element, type: "dragstart" | "dragover" | "drop" | "dragend", clientY = 0) {
  const event = new Event(type, { bubbles: true, cancelable: true });
  Object.defineProperty(event, "clientY", { value: clientY });
  target.dispatchEvent(event);
}

const sceneItem = (name: string) => {
  const item = screen.getByText(name, { selector: ".item-name" }).closest("li");
  if (!item) throw new Error(`no scene ${name}`);
  return item;
};
const sceneRow = (name: string) => sceneItem(name).querySelector(".scene-row") as HTMLElement;
const folderRow = (name: string) => screen.getByText(name, { selector: ".item-name" }).closest(".folder-row") as HTMLElement;

describe("SceneManager: the navigator", () => {
  it("shows folders with their scenes inside and the rest at the top level, in manual order", () => {
    renderManager();
    const tree = screen.getByRole("list", { name: "Scenes" });
    const top = [...tree.children].map((li) => li.querySelector(".item-name")?.textContent);
    expect(top).toEqual(["Act I", "Act II", "Crypt", "Tavern", "Road"]);
    expect(within(screen.getByRole("list", { name: "In Act I" })).getByText("Keep")).toBeTruthy();
    expect(within(screen.getByRole("list", { name: "In Act II" })).getByText("Empty: drag scenes here.")).toBeTruthy();
  });

  it("reorders a scene dropped on the top half of another with one update of its sort", async () => {
    const { fake } = renderManager();
    drag(sceneRow("Road"), "dragstart");
    drag(sceneItem("Tavern"), "dragover", -1);
    expect(sceneItem("Tavern").classList.contains("drop-before")).toBe(true);
    drag(sceneItem("Tavern"), "drop", -1);
    await waitFor(() => expect(fake.writes).toEqual([{ op: "update", type: "scene", id: "s3", data: { sort: 1.5 } }]));
    // A move is one action (a renumbering touches several siblings): one batch.
    expect(fake.sync.submit).toHaveBeenCalledTimes(1);
  });

  it("clears the drop marker when the drag leaves the tree", () => {
    renderManager();
    drag(sceneRow("Road"), "dragstart");
    drag(sceneItem("Tavern"), "dragover", -1);
    const leave = new Event("dragleave", { bubbles: true });
    Object.defineProperty(leave, "relatedTarget", { value: document.body });
    sceneItem("Tavern").dispatchEvent(leave);
    expect(sceneItem("Tavern").classList.contains("drop-before")).toBe(false);
  });

  it("drops on the bottom half after the scene", async () => {
    const { fake } = renderManager();
    drag(sceneRow("Crypt"), "dragstart");
    drag(sceneItem("Tavern"), "drop", 1);
    await waitFor(() => expect(fake.writes).toEqual([{ op: "update", type: "scene", id: "s1", data: { sort: 2.5 } }]));
  });

  it("moves a scene dropped on a folder into it with one update of its folder and sort", async () => {
    const { fake } = renderManager();
    drag(sceneRow("Tavern"), "dragstart");
    drag(folderRow("Act I"), "dragover");
    expect(folderRow("Act I").classList.contains("drop-into")).toBe(true);
    drag(folderRow("Act I"), "drop");
    await waitFor(() => expect(fake.writes).toEqual([{ op: "update", type: "scene", id: "s2", data: { sort: 2, folder_id: "f1" } }]));
  });

  it("takes a scene out of its folder on the top-level drop zone", async () => {
    const { fake } = renderManager();
    drag(sceneRow("Keep"), "dragstart");
    const zone = await screen.findByText("Drop here to move it to the top level");
    drag(zone, "drop");
    await waitFor(() => expect(fake.writes).toEqual([{ op: "update", type: "scene", id: "s4", data: { sort: 4, folder_id: null } }]));
    expect(screen.queryByText("Drop here to move it to the top level")).toBeNull();
  });

  it("nests a folder dropped on the middle of another, and puts it beside one dropped on its edge", async () => {
    const { fake } = renderManager();
    drag(folderRow("Act II"), "dragstart");
    drag(folderRow("Act I"), "drop", 0);
    await waitFor(() => expect(fake.writes).toEqual([{ op: "update", type: "folder", id: "f2", data: { sort: 0, parent_id: "f1" } }]));
    drag(folderRow("Act II"), "dragstart");
    drag(folderRow("Act I"), "drop", -1);
    await waitFor(() => expect(fake.writes[1]).toEqual({ op: "update", type: "folder", id: "f2", data: { sort: 0 } }));
  });

  it("does not let a folder be dropped into itself", async () => {
    const { fake } = renderManager();
    drag(folderRow("Act I"), "dragstart");
    drag(folderRow("Act I"), "drop", 0);
    await settle();
    expect(fake.writes).toEqual([]);
  });

  it("moves a scene with the arrow keys on its move handle", async () => {
    const { fake } = renderManager();
    const handle = screen.getByRole("button", { name: "Move scene Tavern" });
    expect(handle.getAttribute("aria-describedby")).toBe("scene-move-help");
    fireEvent.keyDown(handle, { key: "ArrowUp" });
    await waitFor(() => expect(fake.writes).toEqual([{ op: "update", type: "scene", id: "s2", data: { sort: 0 } }]));
    fireEvent.keyDown(screen.getByRole("button", { name: "Move scene Crypt" }), { key: "ArrowUp" });
    await settle();
    expect(fake.writes).toHaveLength(1);
  });

  it("keeps the focus on the move handle of a scene moved with the keyboard", async () => {
    renderManager({ applyUpdates: true });
    const handle = screen.getByRole("button", { name: "Move scene Road" });
    handle.focus();
    fireEvent.keyDown(handle, { key: "ArrowUp" });
    await waitFor(() => {
      const top = [...screen.getByRole("list", { name: "Scenes" }).children].map((li) => li.querySelector(".item-name")?.textContent);
      expect(top.slice(2)).toEqual(["Crypt", "Road", "Tavern"]);
    });
    await waitFor(() => expect(document.activeElement?.getAttribute("aria-label")).toBe("Move scene Road"));
  });

  it("folds a folder from its toggle button", () => {
    renderManager();
    const toggle = screen.getByRole("button", { name: "Act I, 1 scene" });
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    fireEvent.click(toggle);
    expect(toggle.getAttribute("aria-expanded")).toBe("false");
    expect(document.getElementById("folder-contents-f1")?.hidden).toBe(true);
  });

  it("views, activates and archives scenes, and archives folders", async () => {
    const { fake, onView, onActivate } = renderManager();
    expect(screen.queryByRole("button", { name: "View Crypt" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Activate Crypt" })).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "View Road" }));
    expect(onView).toHaveBeenCalledWith(expect.objectContaining({ id: "s3" }));
    fireEvent.click(screen.getByRole("button", { name: "Activate Road" }));
    await waitFor(() => expect(onActivate).toHaveBeenCalledWith(expect.objectContaining({ id: "s3" })));
    fireEvent.click(screen.getByRole("button", { name: "Archive Road" }));
    // A scene takes its tokens to the archive: it asks first, and Keep leaves it.
    expect(screen.getByText(/Archive Road and its tokens\?/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Keep" }));
    expect(fake.writes).toEqual([]);
    fireEvent.click(screen.getByRole("button", { name: "Archive Road" }));
    fireEvent.click(screen.getByRole("button", { name: "Archive it" }));
    fireEvent.click(screen.getByRole("button", { name: "Edit folder Act II" }));
    fireEvent.click(screen.getByRole("button", { name: "Archive folder Act II" }));
    await waitFor(() =>
      expect(fake.writes).toEqual([
        { op: "archive", type: "scene", id: "s3" },
        { op: "archive", type: "folder", id: "f2" },
      ]),
    );
  });
});

describe("SceneManager: archiving a folder", () => {
  it("asks first when the folder holds scenes, saying how many, and Keep changes nothing", async () => {
    const { fake } = renderManager();
    fireEvent.click(screen.getByRole("button", { name: "Edit folder Act I" }));
    fireEvent.click(screen.getByRole("button", { name: "Archive folder Act I" }));
    expect(screen.getByText(/Archive folder Act I\? It holds 1 scene; they move to the top level/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Keep" }));
    await settle();
    expect(fake.writes).toEqual([]);
    expect(screen.queryByText(/Archive folder Act I\?/)).toBeNull();
    // The folder and its scene are where they were.
    expect(within(screen.getByRole("list", { name: "In Act I" })).getByText("Keep")).toBeTruthy();
  });

  it("archives the folder once confirmed", async () => {
    const { fake } = renderManager();
    fireEvent.click(screen.getByRole("button", { name: "Edit folder Act I" }));
    fireEvent.click(screen.getByRole("button", { name: "Archive folder Act I" }));
    expect(fake.writes).toEqual([]);
    fireEvent.click(screen.getByRole("button", { name: "Archive it" }));
    await waitFor(() => expect(fake.writes).toEqual([{ op: "archive", type: "folder", id: "f1" }]));
  });

  it("counts scenes and folders inside", async () => {
    const { fake } = renderManager();
    const inner = folder("f2", 2, { name: "Act II", sort: 2, parent_id: "f1" });
    fake.sync.store.update((w) => applyEntities(w, [{ type: "folder", entity: inner as unknown as AnyEntity }]));
    fireEvent.click(screen.getByRole("button", { name: "Edit folder Act I" }));
    fireEvent.click(screen.getByRole("button", { name: "Archive folder Act I" }));
    expect(screen.getByText(/It holds 1 scene and 1 folder;/)).toBeTruthy();
  });

  it("archives an empty folder at once, without asking", async () => {
    const { fake } = renderManager();
    fireEvent.click(screen.getByRole("button", { name: "Edit folder Act II" }));
    fireEvent.click(screen.getByRole("button", { name: "Archive folder Act II" }));
    expect(screen.queryByText(/Archive folder Act II\?/)).toBeNull();
    expect(screen.queryByRole("button", { name: "Archive it" })).toBeNull();
    await waitFor(() => expect(fake.writes).toEqual([{ op: "archive", type: "folder", id: "f2" }]));
  });
});

describe("SceneManager: creating and editing", () => {
  it("creates a scene at the end of the chosen folder, with the schema's defaults", async () => {
    const { fake } = renderManager();
    fireEvent.input(screen.getByLabelText("Scene name"), { target: { value: "Bridge" } });
    fireEvent.change(screen.getByLabelText("In folder"), { target: { value: "f1" } });
    fireEvent.click(screen.getByRole("button", { name: "Create scene" }));
    await waitFor(() => expect(fake.sync.create).toHaveBeenCalledTimes(1));
    expect(fake.sync.create.mock.calls[0]?.slice(0, 2)).toEqual([
      "scene",
      {
        name: "Bridge",
        description: "",
        map_asset: null,
        grid_scale: 5,
        grid_units: "ft",
        accent_color: null,
        folder_id: "f1",
        sort: 2,
        metadata: {},
      },
    ]);
  });

  it("puts a new scene on the GM's table at once", async () => {
    const { fake, onView } = renderManager();
    // As the real sync layer does: a queued create shows in the view at once.
    fake.sync.create.mockImplementation(async (type, data, id) => {
      const sceneId = id ?? "new-scene";
      fake.store.update((w) => ({ ...w, scenes: { ...w.scenes, [sceneId]: scene(sceneId, 1, data as Partial<Scene>) } }));
      return { uuid: "op-x", entity_type: type, op: "create", id: sceneId, payload: {}, base_version: null, created_at: 0 };
    });
    fireEvent.input(screen.getByLabelText("Scene name"), { target: { value: "Bridge" } });
    fireEvent.click(screen.getByRole("button", { name: "Create scene" }));
    await waitFor(() => expect(onView).toHaveBeenCalledTimes(1));
    expect(onView.mock.calls[0]?.[0]).toMatchObject({ id: "new-scene", name: "Bridge" });
  });

  it("creates a folder of scenes, at the top level or inside another", async () => {
    const { fake } = renderManager();
    fireEvent.input(screen.getByLabelText("Folder name"), { target: { value: "Act III" } });
    fireEvent.click(screen.getByRole("button", { name: "Create folder" }));
    await waitFor(() =>
      expect(fake.sync.create).toHaveBeenCalledWith("folder", { name: "Act III", kind: "scene", parent_id: null, sort: 3 }),
    );
    fireEvent.input(screen.getByLabelText("Folder name"), { target: { value: "Caves" } });
    fireEvent.change(screen.getByLabelText("Inside"), { target: { value: "f1" } });
    fireEvent.click(screen.getByRole("button", { name: "Create folder" }));
    await waitFor(() =>
      expect(fake.sync.create).toHaveBeenLastCalledWith("folder", { name: "Caves", kind: "scene", parent_id: "f1", sort: 0 }),
    );
  });

  it("saves only the fields that changed, in one update", async () => {
    const { fake } = renderManager();
    fireEvent.click(screen.getByRole("button", { name: "Edit scene Tavern" }));
    const form = screen.getByRole("form", { name: "Edit scene Tavern" });
    fireEvent.input(within(form).getByLabelText("Name"), { target: { value: "  Inn  " } });
    fireEvent.input(within(form).getByLabelText("Grid scale"), { target: { value: "10" } });
    fireEvent.input(within(form).getByLabelText("Units"), { target: { value: "m" } });
    fireEvent.input(within(form).getByLabelText("Description"), { target: { value: "Smoky." } });
    fireEvent.click(within(form).getByLabelText("Use an accent colour"));
    fireEvent.click(within(form).getByRole("button", { name: "Save scene" }));
    await waitFor(() =>
      expect(fake.writes).toEqual([
        {
          op: "update",
          type: "scene",
          id: "s2",
          data: { name: "Inn", description: "Smoky.", grid_scale: 10, grid_units: "m", accent_color: "#d4a547" },
        },
      ]),
    );
    await waitFor(() => expect(screen.queryByRole("form", { name: "Edit scene Tavern" })).toBeNull());
  });

  it("moves a scene to another folder from its editor with its other changes in the same update", async () => {
    const { fake } = renderManager();
    fireEvent.click(screen.getByRole("button", { name: "Edit scene Road" }));
    const form = screen.getByRole("form", { name: "Edit scene Road" });
    fireEvent.change(within(form).getByLabelText("Folder"), { target: { value: "f1" } });
    fireEvent.input(within(form).getByLabelText("Name"), { target: { value: "Old road" } });
    fireEvent.click(within(form).getByRole("button", { name: "Save scene" }));
    await waitFor(() =>
      expect(fake.writes).toEqual([{ op: "update", type: "scene", id: "s3", data: { sort: 2, folder_id: "f1", name: "Old road" } }]),
    );
  });

  it("refuses an invalid grid scale without queueing anything", async () => {
    const { fake } = renderManager();
    fireEvent.click(screen.getByRole("button", { name: "Edit scene Tavern" }));
    const form = screen.getByRole("form", { name: "Edit scene Tavern" });
    fireEvent.input(within(form).getByLabelText("Grid scale"), { target: { value: "" } });
    fireEvent.click(within(form).getByRole("button", { name: "Save scene" }));
    expect((await within(form).findByRole("alert")).textContent).toBe("The grid scale is a number above 0, at most 100000.");
    expect(fake.writes).toEqual([]);
  });

  it("renames a folder and moves it into another from its editor", async () => {
    const { fake } = renderManager();
    fireEvent.click(screen.getByRole("button", { name: "Edit folder Act II" }));
    const form = screen.getByRole("form", { name: "Edit folder Act II" });
    expect(
      within(form)
        .getAllByRole("option")
        .map((o) => o.textContent?.trim()),
    ).toEqual(["Top level", "Act I"]);
    fireEvent.input(within(form).getByLabelText("Name"), { target: { value: "Interlude" } });
    fireEvent.change(within(form).getByLabelText("Inside"), { target: { value: "f1" } });
    fireEvent.click(within(form).getByRole("button", { name: "Save folder" }));
    await waitFor(() =>
      expect(fake.writes).toEqual([{ op: "update", type: "folder", id: "f2", data: { sort: 0, parent_id: "f1", name: "Interlude" } }]),
    );
  });

  it("shows the map upload of the scene on the table", () => {
    renderManager();
    expect(screen.getByLabelText("Map for Crypt")).toBeTruthy();
    expect(screen.queryByLabelText("Map for Tavern")).toBeNull();
  });
});

describe("SceneManager: locks", () => {
  it("shows who holds a scene's lock and until when, and keeps me from editing it", async () => {
    renderManager({ locks: [{ scene_id: "s2", holder_user_id: "u-ann", expires_at: LOCK_UNTIL }] });
    await waitFor(() => expect(sceneItem("Tavern").querySelector(".lock-badge")?.textContent).toMatch(/^Locked by ann until /));
    expect(screen.queryByRole("button", { name: "Lock scene Tavern" })).toBeNull();
    expect((screen.getByRole("button", { name: "Archive Tavern" }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByRole("button", { name: "Edit scene Tavern" }));
    const form = screen.getByRole("form", { name: "Edit scene Tavern" });
    expect(form.textContent).toContain("Locked for editing by ann");
    expect((within(form).getByRole("button", { name: "Save scene" }) as HTMLButtonElement).disabled).toBe(true);
    expect((within(form).getByLabelText("Name") as HTMLInputElement).closest("fieldset")?.disabled).toBe(true);
  });

  it("takes and releases a lock from the scene's row", async () => {
    const { gm } = renderManager();
    fireEvent.click(screen.getByRole("button", { name: "Lock scene Crypt" }));
    await waitFor(() => expect(gm.api.acquireLock).toHaveBeenCalledWith("s1"));
    await waitFor(() => expect(sceneItem("Crypt").querySelector(".lock-badge")?.textContent).toMatch(/^Locked by you until /));
    fireEvent.click(screen.getByRole("button", { name: "Unlock scene Crypt" }));
    await waitFor(() => expect(gm.api.releaseLock).toHaveBeenCalledWith("s1"));
    await waitFor(() => expect(sceneItem("Crypt").querySelector(".lock-badge")).toBeNull());
  });

  it("follows lock messages from the socket", async () => {
    const { fake } = renderManager();
    await settle();
    fake.emit({
      type: "lock",
      scene_id: "s3",
      lock: { scene_id: "s3", holder_user_id: "u-ann", expires_at: LOCK_UNTIL },
      reason: "acquired",
    });
    await waitFor(() => expect(sceneItem("Road").querySelector(".lock-badge")?.textContent).toMatch(/^Locked by ann/));
    fake.emit({ type: "lock", scene_id: "s3", lock: null, reason: "released" });
    await waitFor(() => expect(sceneItem("Road").querySelector(".lock-badge")).toBeNull());
  });

  it("says when taking a lock fails because another GM holds it", async () => {
    const { gm } = renderManager();
    gm.api.acquireLock.mockImplementation(async () => {
      throw new ApiError(409, "conflict", "scene s3 is locked by another GM", {
        lock: { scene_id: "s3", holder_user_id: "u-ann", expires_at: LOCK_UNTIL },
      });
    });
    fireEvent.click(screen.getByRole("button", { name: "Lock scene Road" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/^Road is locked by ann until /);
  });

  it("explains a write refused with 423 until the queue gets it through", async () => {
    const { fake } = renderManager();
    await settle();
    fake.failSend(
      new ApiError(423, "locked", "scene s2 is locked for editing by another GM", {
        op_id: "op-1",
        lock: { scene_id: "s2", holder_user_id: "u-ann", expires_at: LOCK_UNTIL },
      }),
      "scene s2 is locked for editing by another GM",
    );
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toMatch(/Not saved yet\. Tavern is locked for editing by ann until .+ Your change is kept/);
    fake.sendSucceeded();
    await waitFor(() => expect(screen.queryByRole("alert")).toBeNull());
  });
});

describe("scene export and import", () => {
  function renderWithImport(importBundle: (file: File, onProgress: (fraction: number) => void) => Promise<{ scene: Scene }>) {
    const fake = fakeSync({ scenes: { s1: scene("s1", 1, { name: "Crypt" }) }, session_state: sessionState(1, { active_scene_id: "s1" }) });
    const gm = fakeGmApi();
    render(() =>
      createComponent(SceneManager, {
        sessionId: "sess 1",
        userId: "u-gm",
        sync: fake.sync,
        api: gm.api,
        roster: createRoster({ api: gm.api, sync: fake.sync }),
        activeSceneId: "s1",
        shownSceneId: "s1",
        onView: vi.fn(),
        onActivate: vi.fn(async () => undefined),
        importBundle,
      }),
    );
    return { fake };
  }

  const zip = () => new File([new Uint8Array([0x50, 0x4b, 3, 4])], "crypt.zip", { type: "application/zip" });

  it("offers the shown scene's bundle for download from the export route", () => {
    renderWithImport(async () => ({ scene: scene("x", 1) }));
    const link = screen.getByRole("link", { name: "Export Crypt" });
    expect(link.getAttribute("href")).toBe("/api/vtt/sessions/sess%201/scenes/s1/export");
    expect(link.hasAttribute("download")).toBe(true);
  });

  it("uploads a bundle with progress and says which scene it made", async () => {
    let report: (fraction: number) => void = () => undefined;
    let finish: (value: { scene: Scene }) => void = () => undefined;
    const importBundle = vi.fn(
      (_file: File, onProgress: (fraction: number) => void) =>
        new Promise<{ scene: Scene }>((resolve) => {
          report = onProgress;
          finish = resolve;
        }),
    );
    const { fake } = renderWithImport(importBundle);
    const input = screen.getByLabelText("Import a scene (a .zip bundle)") as HTMLInputElement;
    fireEvent.change(input, { target: { files: [zip()] } });
    await waitFor(() => expect(importBundle).toHaveBeenCalledTimes(1));
    expect(importBundle.mock.calls[0]?.[0].name).toBe("crypt.zip");
    report(0.4);
    await waitFor(() => expect((screen.getByRole("progressbar", { name: "Import progress" }) as HTMLProgressElement).value).toBe(0.4));
    expect(input.disabled).toBe(true);
    finish({ scene: scene("s9", 1, { name: "Crypt (copy)" }) });
    expect(await screen.findByText("Imported “Crypt (copy)” as a new scene.")).toBeTruthy();
    expect(screen.queryByRole("progressbar")).toBeNull();
    expect(fake.sync.wake).toHaveBeenCalled();
  });

  it("says why a bundle was refused", async () => {
    renderWithImport(async () => {
      throw new ApiError(400, "bad_request", "the bundle is not acceptable", { problems: ["manifest.json is missing"] });
    });
    fireEvent.change(screen.getByLabelText("Import a scene (a .zip bundle)"), { target: { files: [zip()] } });
    expect(await screen.findByText("the bundle is not acceptable (manifest.json is missing)")).toBeTruthy();
  });
});
