// @vitest-environment jsdom
import { fireEvent, screen, waitFor, within } from "@solidjs/testing-library";
import { beforeEach, describe, expect, it } from "vitest";
import type { AnyEntity } from "../../client/src/lib/types";
import { FakeServer } from "./helpers/fake-server";
import { scene, token } from "./helpers/fixtures";
import { renderSessionTable, useTableTests } from "./helpers/table";

const running = useTableTests();
// The table remembers its panel and open sections in this browser: each test starts without them.
beforeEach(() => localStorage.clear());

async function gmTable() {
  const server = new FakeServer();
  server.put("scene", scene("s1", 1, { name: "Crypt" }) as unknown as AnyEntity, "create");
  server.put("token", token("t1", 1, { name: "Ogre", scene_id: "s1" }) as unknown as AnyEntity, "create");
  server.edit("session_state", "st", { active_scene_id: "s1" });
  await renderSessionTable(server, "u-gm", running);
  const panel = await screen.findByRole("complementary", { name: "GM tools" });
  return { panel };
}

const tabNames = (panel: HTMLElement) =>
  within(panel)
    .getAllByRole("tab")
    .map((t) => t.textContent?.trim());

describe("the GM panel", () => {
  it("has nothing above its tabs: the initiative and conditions panels are in tabs", async () => {
    const { panel } = await gmTable();
    expect(panel.firstElementChild?.classList.contains("sidebar-tabs")).toBe(true);
    expect(panel.firstElementChild?.firstElementChild?.getAttribute("role")).toBe("tablist");
    expect(tabNames(panel)).toEqual(["Scenes", "Library", "Token", "Initiative", "People", "Archive", "History", "Settings"]);
    for (const id of ["initiative-panel", "conditions-panel"]) {
      const element = panel.querySelector(`[data-testid="${id}"]`);
      expect(element, id).not.toBeNull();
      expect(element?.closest("[role='tabpanel']"), `${id} is in a tab`).not.toBeNull();
    }
    expect(panel.querySelector("[data-testid='initiative-panel']")?.closest("[role='tabpanel']")?.id).toBe("tabpanel-module-initiative");
    expect(panel.querySelector("[data-testid='conditions-panel']")?.closest("[role='tabpanel']")?.id).toBe("tabpanel-token");
    // Every module panel of the GM's sits in a tab.
    for (const section of panel.querySelectorAll(".module-panel")) expect(section.closest("[role='tabpanel']")).not.toBeNull();
  });

  it("opens the Initiative tab on demand, and the Token tab when a token is picked on the table", async () => {
    const { panel } = await gmTable();
    fireEvent.click(within(panel).getByRole("tab", { name: "Initiative" }));
    expect(within(panel).getByRole("tab", { name: "Initiative" }).getAttribute("aria-selected")).toBe("true");
    expect(panel.querySelector("#tabpanel-module-initiative")?.hasAttribute("hidden")).toBe(false);
    expect(within(panel).queryByRole("button", { name: "Archive token" })).toBeNull();
    fireEvent.click(await screen.findByRole("button", { name: "Ogre" }));
    await waitFor(() => expect(within(panel).getByRole("tab", { name: "Token" }).getAttribute("aria-selected")).toBe("true"));
    expect(within(panel).getByRole("button", { name: "Archive token" })).toBeTruthy();
    expect(panel.querySelector("#tabpanel-module-initiative")?.hasAttribute("hidden")).toBe(true);
    expect(panel.querySelector("#tabpanel-token")?.hasAttribute("hidden")).toBe(false);
  });
});
