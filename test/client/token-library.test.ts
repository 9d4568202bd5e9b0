// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor, within } from "@solidjs/testing-library";
import { createComponent, createSignal } from "solid-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { NewTokenForm, type NewTokenInput } from "../../client/src/components/NewTokenForm";
import { TokenLibrary } from "../../client/src/components/TokenLibrary";
import { initialCrop } from "../../client/src/lib/crop";
import { LIBRARY_DRAG_TYPE } from "../../client/src/lib/library";
import type { Folder } from "../../client/src/lib/types";
import { scene, token } from "./helpers/fixtures";

vi.mock("../../client/src/lib/upload", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../client/src/lib/upload")>();
  return {
    ...original,
    uploadAsset: vi.fn(async (_sid: string, _file: File, _kind: string, onProgress: (f: number) => void) => {
      onProgress(1);
      return { hash: "b".repeat(64), mime: "image/webp", size: 100, width: 300, height: 200, url: "/signed" };
    }),
  };
});

afterEach(cleanup);

function folder(id: string, fields: Partial<Folder> = {}): Folder {
  return {
    id,
    version: 1,
    created_at: "",
    updated_at: "",
    updated_by: "",
    archived_at: null,
    name: id,
    kind: "token",
    parent_id: null,
    sort: 0,
    ...fields,
  };
}

function renderLibrary() {
  const actions = {
    onEdit: vi.fn(),
    onPlace: vi.fn(async () => undefined),
    onCreateFolder: vi.fn(async () => undefined),
    onRenameFolder: vi.fn(async () => undefined),
    onArchiveFolder: vi.fn(async () => undefined),
    onFile: vi.fn(async () => undefined),
  };
  render(() =>
    createComponent(TokenLibrary, {
      sessionId: "sess-1",
      folders: [folder("f-undead", { name: "Undead" }), folder("f-ghouls", { name: "Ghouls", parent_id: "f-undead" })],
      tokens: [
        token("t-ghoul", 1, { name: "Ghoul", scene_id: null, folder_id: "f-ghouls" }),
        token("t-rat", 1, { name: "Rat", scene_id: null }),
        token("t-on-scene", 1, { name: "Guard", scene_id: "s1" }),
      ],
      art: {},
      selectedId: null,
      canPlace: true,
      ...actions,
    }),
  );
  return actions;
}

function fakeDataTransfer() {
  const data = new Map<string, string>();
  return {
    data,
    get types() {
      return [...data.keys()];
    },
    setData: (type: string, value: string) => data.set(type, value),
    getData: (type: string) => data.get(type) ?? "",
    effectAllowed: "none",
    dropEffect: "none",
  };
}

describe("TokenLibrary", () => {
  it("lists library tokens in nested folders, not scene tokens", () => {
    renderLibrary();
    const tree = screen.getByRole("list", { name: "Token library" });
    const undead = within(tree).getByRole("list", { name: "Undead" });
    const ghouls = within(undead).getByRole("list", { name: "Ghouls" });
    expect(within(ghouls).getByRole("listitem", { name: "Ghoul" })).toBeTruthy();
    expect(within(tree).getByRole("listitem", { name: "Rat" })).toBeTruthy();
    expect(screen.queryByText("Guard")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Collapse Undead" }));
    expect(screen.queryByText("Ghoul")).toBeNull();
  });

  it("starts a drag that carries the library token's id", () => {
    renderLibrary();
    const dataTransfer = fakeDataTransfer();
    fireEvent.dragStart(screen.getByRole("listitem", { name: "Rat" }), { dataTransfer });
    expect(dataTransfer.getData(LIBRARY_DRAG_TYPE)).toBe("t-rat");
    expect(dataTransfer.effectAllowed).toBe("copyMove");
  });

  it("files a token dropped on a folder", async () => {
    const { onFile } = renderLibrary();
    const dataTransfer = fakeDataTransfer();
    dataTransfer.setData(LIBRARY_DRAG_TYPE, "t-rat");
    const row = document.querySelector('[data-folder-id="f-ghouls"] .folder-row') as HTMLElement;
    fireEvent.dragOver(row, { dataTransfer });
    fireEvent.drop(row, { dataTransfer });
    await waitFor(() => expect(onFile).toHaveBeenCalledWith("t-rat", "f-ghouls"));
  });

  it("places a copy from the keyboard and opens a token in the inspector", async () => {
    const { onPlace, onEdit } = renderLibrary();
    fireEvent.click(screen.getByRole("button", { name: "Place Rat on the table" }));
    await waitFor(() => expect(onPlace).toHaveBeenCalledWith("t-rat"));
    fireEvent.click(screen.getByRole("button", { name: "Edit Ghoul" }));
    expect(onEdit).toHaveBeenCalledWith("t-ghoul");
  });

  it("creates folders at the top and inside a folder, renames and archives them", async () => {
    const actions = renderLibrary();
    fireEvent.input(screen.getByLabelText("New folder"), { target: { value: "Beasts" } });
    fireEvent.click(screen.getByRole("button", { name: "Create folder" }));
    await waitFor(() => expect(actions.onCreateFolder).toHaveBeenCalledWith("Beasts", null));

    fireEvent.click(screen.getByRole("button", { name: "New folder in Undead" }));
    fireEvent.input(screen.getByLabelText("Name of the new folder in Undead"), { target: { value: "Liches" } });
    fireEvent.click(screen.getByRole("button", { name: "Create" }));
    await waitFor(() => expect(actions.onCreateFolder).toHaveBeenCalledWith("Liches", "f-undead"));

    fireEvent.click(screen.getByRole("button", { name: "Rename Ghouls" }));
    fireEvent.input(screen.getByLabelText("New name for Ghouls"), { target: { value: "Ghasts" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(actions.onRenameFolder).toHaveBeenCalledWith("f-ghouls", "Ghasts"));

    fireEvent.click(screen.getByRole("button", { name: "Archive Undead" }));
    expect(actions.onArchiveFolder).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole("button", { name: "Archive folder" }));
    await waitFor(() => expect(actions.onArchiveFolder).toHaveBeenCalledWith("f-undead"));
  });
});

describe("NewTokenForm", () => {
  function renderForm() {
    const onCreate = vi.fn(async (_input: NewTokenInput) => undefined);
    render(() =>
      createComponent(NewTokenForm, {
        sessionId: "sess-1",
        scenes: [scene("s1", 1, { name: "Crypt" })],
        defaultSceneId: null,
        folders: [{ folder: folder("f-undead", { name: "Undead" }), depth: 0 }],
        onCreate,
      }),
    );
    return onCreate;
  }

  it("creates a library token in a folder with uploaded art and the crop the tool shows", async () => {
    const onCreate = renderForm();
    fireEvent.input(screen.getByLabelText("Token name"), { target: { value: "Lich" } });
    fireEvent.change(screen.getByLabelText("Library folder"), { target: { value: "f-undead" } });
    const file = new File([new Uint8Array([1, 2, 3])], "lich.png", { type: "image/png" });
    fireEvent.change(screen.getByLabelText("Art for the new token"), { target: { files: [file] } });
    const stage = await screen.findByRole("application", { name: /Crop area/ });
    expect(screen.getByRole("button", { name: "Add token" })).toHaveProperty("disabled", true);
    const img = stage.querySelector("img") as HTMLImageElement;
    expect(img.getAttribute("src")).toBe(`/api/vtt/sessions/sess-1/assets/${"b".repeat(64)}/file`);
    Object.defineProperty(img, "naturalWidth", { value: 300 });
    Object.defineProperty(img, "naturalHeight", { value: 200 });
    fireEvent.load(img);
    fireEvent.keyDown(stage, { key: "+" });
    fireEvent.keyDown(stage, { key: "ArrowRight" });
    const shown = JSON.parse(screen.getByRole("status", { name: "Crop" }).getAttribute("data-crop") ?? "null");
    expect(shown).not.toEqual(initialCrop({ width: 300, height: 200 }));
    fireEvent.click(screen.getByRole("button", { name: "Add token" }));
    await waitFor(() =>
      expect(onCreate).toHaveBeenCalledWith({
        name: "Lich",
        sceneId: null,
        folderId: "f-undead",
        art: { hash: "b".repeat(64), crop: shown },
      }),
    );
  });

  it("follows the scene on the table again when the GM shows another one", () => {
    const [shownScene, setShownScene] = createSignal<string | null>("s1");
    render(() =>
      createComponent(NewTokenForm, {
        sessionId: "sess-1",
        scenes: [scene("s1", 1, { name: "Crypt" }), scene("s2", 1, { name: "Chapel" })],
        get defaultSceneId() {
          return shownScene();
        },
        folders: [],
        onCreate: async () => undefined,
      }),
    );
    const placeOn = screen.getByLabelText("Place on") as HTMLSelectElement;
    expect(placeOn.value).toBe("s1");
    fireEvent.change(placeOn, { target: { value: "" } });
    expect(placeOn.value).toBe("");
    setShownScene("s2");
    expect(placeOn.value).toBe("s2");
  });

  it("creates a token on a scene without art and without folder", async () => {
    const onCreate = renderForm();
    fireEvent.input(screen.getByLabelText("Token name"), { target: { value: "Rat" } });
    fireEvent.change(screen.getByLabelText("Place on"), { target: { value: "s1" } });
    expect(screen.queryByLabelText("Library folder")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Add token" }));
    await waitFor(() => expect(onCreate).toHaveBeenCalledWith({ name: "Rat", sceneId: "s1", folderId: null, art: null }));
  });
});
