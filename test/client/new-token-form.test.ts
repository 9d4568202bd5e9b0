// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { NewTokenForm, type NewTokenInput } from "../../client/src/components/NewTokenForm";
import { scene } from "./helpers/fixtures";

afterEach(cleanup);

function renderForm() {
  const onCreate = vi.fn(async (_input: NewTokenInput) => undefined);
  render(() =>
    createComponent(NewTokenForm, {
      sessionId: "sess",
      scenes: [scene("s1", 1, { name: "Crypt" }), scene("s2", 1, { name: "Tower" })],
      defaultSceneId: "s1",
      folders: [],
      onCreate,
    }),
  );
  return { onCreate };
}

const placeOn = () => screen.getByLabelText("Place on") as HTMLSelectElement;

async function add(name: string) {
  fireEvent.input(screen.getByLabelText("Token name"), { target: { value: name } });
  fireEvent.click(screen.getByRole("button", { name: "Add token" }));
}

describe("NewTokenForm", () => {
  it("says where the token goes", () => {
    renderForm();
    expect(screen.getByTestId("new-token-target").textContent).toBe("Adds it to Crypt.");
    fireEvent.change(placeOn(), { target: { value: "" } });
    expect(screen.getByTestId("new-token-target").textContent).toBe("Adds it to the library.");
  });

  it("uses the picked target once, then goes back to the scene on the table", async () => {
    const { onCreate } = renderForm();
    fireEvent.change(placeOn(), { target: { value: "s2" } });
    await add("Gargoyle");
    await waitFor(() => expect(onCreate).toHaveBeenCalledTimes(1));
    expect(onCreate.mock.calls[0]?.[0]).toMatchObject({ name: "Gargoyle", sceneId: "s2" });
    expect(placeOn().value).toBe("s1");
    expect(screen.getByTestId("new-token-target").textContent).toBe("Adds it to Crypt.");
    // The first submission settles before the next one is made.
    await new Promise((resolve) => setTimeout(resolve, 0));
    await add("Bat");
    await waitFor(() => expect(onCreate).toHaveBeenCalledTimes(2));
    expect(onCreate.mock.calls[1]?.[0]).toMatchObject({ name: "Bat", sceneId: "s1" });
  });
});
