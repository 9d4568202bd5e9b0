// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, describe, expect, it } from "vitest";
import { SessionToggles } from "../../client/src/components/SessionToggles";
import { gridOpacityOf, lightingOf, parseGridOpacity } from "../../client/src/lib/session-flags";
import { fakeSync } from "./helpers/fake-gm";
import { sessionState } from "./helpers/fixtures";

afterEach(cleanup);

function renderToggles(flags: Record<string, unknown>) {
  const fake = fakeSync({ session_state: sessionState(3, { flags }) });
  render(() => createComponent(SessionToggles, { sync: fake.sync }));
  return fake;
}

describe("session flags", () => {
  it.each([
    [{ grid_opacity: 0.2 }, 0.2],
    [{ grid_opacity: 0 }, 0],
    [{ grid_opacity: 1.5 }, 0.5],
    [{ grid_opacity: "0.3" }, 0.5],
    [{}, 0.5],
    [null, 0.5],
  ])("reads grid opacity %j as %s", (flags, expected) => {
    expect(gridOpacityOf(flags)).toBe(expected);
  });

  it("reads lighting as on only when it is true", () => {
    expect(lightingOf({ lighting: true })).toBe(true);
    expect(lightingOf({ lighting: "yes" })).toBe(false);
    expect(lightingOf(undefined)).toBe(false);
  });

  it("clamps a slider's text to 0..1 and two decimals", () => {
    expect(parseGridOpacity("0.456")).toBe(0.46);
    expect(parseGridOpacity("3")).toBe(1);
    expect(parseGridOpacity("")).toBeNull();
    expect(parseGridOpacity("x")).toBeNull();
  });
});

describe("SessionToggles", () => {
  it("switches lighting with one merge patch of the session state's flags", async () => {
    const fake = renderToggles({ lighting: false, grid_opacity: 0.5, initiative: [1] });
    const lighting = screen.getByRole("switch", { name: "Lighting" }) as HTMLInputElement;
    expect(lighting.checked).toBe(false);
    fireEvent.click(lighting);
    await waitFor(() =>
      expect(fake.writes).toEqual([{ op: "update", type: "session_state", id: "st", data: { flags: { lighting: true } } }]),
    );
  });

  it("shows lighting on when the flag says so", () => {
    renderToggles({ lighting: true });
    const lighting = screen.getByRole("switch", { name: "Lighting" }) as HTMLInputElement;
    expect(lighting.checked).toBe(true);
    expect(lighting.getAttribute("aria-checked")).toBe("true");
  });

  it("writes the grid opacity when the slider is let go, not while it moves", async () => {
    const fake = renderToggles({ grid_opacity: 0.5 });
    const slider = screen.getByLabelText("Grid opacity") as HTMLInputElement;
    expect(slider.value).toBe("0.5");
    fireEvent.input(slider, { target: { value: "0.8" } });
    expect(screen.getByText("80%")).toBeTruthy();
    expect(fake.writes).toEqual([]);
    fireEvent.change(slider, { target: { value: "0.8" } });
    await waitFor(() =>
      expect(fake.writes).toEqual([{ op: "update", type: "session_state", id: "st", data: { flags: { grid_opacity: 0.8 } } }]),
    );
  });

  it("writes nothing when the slider is let go where it started", async () => {
    const fake = renderToggles({ grid_opacity: 0.5 });
    const slider = screen.getByLabelText("Grid opacity");
    fireEvent.change(slider, { target: { value: "0.5" } });
    await Promise.resolve();
    expect(fake.writes).toEqual([]);
  });
});
