// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SceneEditor, type ScenePatch } from "../../client/src/components/SceneEditor";
import { TokenInspector } from "../../client/src/components/TokenInspector";
import type { Token } from "../../client/src/lib/types";
import { scene, token } from "./helpers/fixtures";

afterEach(cleanup);

function renderInspector(fields: Partial<Token> = {}) {
  const onPatch = vi.fn(async (_patch: unknown) => undefined);
  render(() =>
    createComponent(TokenInspector, {
      sessionId: "sess-1",
      token: token("t1", 1, { name: "Ogre", ...fields }),
      art: undefined,
      players: [],
      onPatch,
      onArchive: async () => undefined,
      onArt: async () => undefined,
      onClose: () => undefined,
    }),
  );
  return { onPatch };
}

describe("GM notes of a token", () => {
  it("shows the token's stats.gm_notes", () => {
    renderInspector({ stats: { hp: 9, gm_notes: "cursed" } });
    expect((screen.getByLabelText("GM notes") as HTMLTextAreaElement).value).toBe("cursed");
  });

  it("saves them as a merge patch of stats.gm_notes alone, so the other stats stay", async () => {
    const { onPatch } = renderInspector({ stats: { hp: 9 } });
    const save = screen.getByRole("button", { name: "Save notes" }) as HTMLButtonElement;
    expect(save.disabled).toBe(true);
    fireEvent.input(screen.getByLabelText("GM notes"), { target: { value: "  weak to fire " } });
    fireEvent.click(save);
    await waitFor(() => expect(onPatch).toHaveBeenCalledWith({ stats: { gm_notes: "weak to fire" } }));
  });

  it("removes them with null when emptied", async () => {
    const { onPatch } = renderInspector({ stats: { gm_notes: "old" } });
    fireEvent.input(screen.getByLabelText("GM notes"), { target: { value: "" } });
    fireEvent.click(screen.getByRole("button", { name: "Save notes" }));
    await waitFor(() => expect(onPatch).toHaveBeenCalledWith({ stats: { gm_notes: null } }));
  });
});

describe("GM notes of a scene", () => {
  function renderEditor(metadata: Record<string, unknown>) {
    const onSave = vi.fn(async (_patch: ScenePatch) => undefined);
    const onClose = vi.fn();
    render(() =>
      createComponent(SceneEditor, {
        scene: scene("s1", 2, { name: "Crypt", metadata: metadata as never }),
        folders: [],
        lockedReason: null,
        onSave,
        onClose,
      }),
    );
    return { onSave, onClose };
  }

  it("shows metadata.gm_notes and saves a change as metadata.gm_notes alone", async () => {
    const { onSave, onClose } = renderEditor({ gm_notes: "trap at the door", mood: "grim" });
    const notes = screen.getByLabelText("GM notes") as HTMLTextAreaElement;
    expect(notes.value).toBe("trap at the door");
    fireEvent.input(notes, { target: { value: "trap disarmed" } });
    fireEvent.click(screen.getByRole("button", { name: "Save scene" }));
    await waitFor(() => expect(onSave).toHaveBeenCalledWith({ metadata: { gm_notes: "trap disarmed" } }));
    await waitFor(() => expect(onClose).toHaveBeenCalled());
  });

  it("sends no notes when they did not change", async () => {
    const { onSave, onClose } = renderEditor({ gm_notes: "trap" });
    fireEvent.input(screen.getByLabelText("Name"), { target: { value: "Crypt of bones" } });
    fireEvent.click(screen.getByRole("button", { name: "Save scene" }));
    await waitFor(() => expect(onSave).toHaveBeenCalledWith({ name: "Crypt of bones" }));
    await waitFor(() => expect(onClose).toHaveBeenCalled());
  });
});
