// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor, within } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MembersPanel } from "../../client/src/components/MembersPanel";
import { ApiError } from "../../client/src/lib/api";
import { createRoster, PRESENCE_DEBOUNCE_MS } from "../../client/src/lib/roster";
import type { ConnectedClient } from "../../client/src/lib/types";
import { fakeGmApi, fakeSync } from "./helpers/fake-gm";
import { ManualClock, settle } from "./helpers/timers";

afterEach(cleanup);
beforeEach(() => localStorage.clear());

const client = (id: string, userId: string, fields: Partial<ConnectedClient> = {}): ConnectedClient => ({
  client_id: id,
  user_id: userId,
  role: "player",
  connected_at: "2025-01-01T10:00:00.000Z",
  last_seen: "2025-01-01T10:05:00.000Z",
  capabilities: {},
  ...fields,
});

function renderPanel(overrides: Parameters<typeof fakeGmApi>[0] = {}) {
  const clock = new ManualClock();
  const gm = fakeGmApi(overrides);
  gm.members.push(
    { user_id: "u-gm", username: "gwen", role: "gm" },
    { user_id: "u-ann", username: "ann", role: "player" },
    { user_id: "u-bob", username: "bob", role: "player" },
  );
  gm.clients.push(client("c1", "u-gm", { role: "gm", capabilities: { version: "1.4.0", touch: false } }), client("c2", "u-ann"));
  const fake = fakeSync();
  const roster = createRoster({ api: gm.api, sync: fake.sync, timers: clock });
  render(() => createComponent(MembersPanel, { userId: "u-gm", roster }));
  return { gm, fake, clock };
}

describe("MembersPanel", () => {
  it("lists the members with their role, marks who is online, and offers no role change for oneself", async () => {
    renderPanel();
    const members = await screen.findByRole("list", { name: "Members" });
    await waitFor(() => expect(within(members).getAllByRole("listitem")).toHaveLength(3));
    const rows = within(members).getAllByRole("listitem");
    expect(rows.map((r) => r.querySelector(".item-name")?.textContent)).toEqual(["gwen (you)", "ann", "bob"]);
    expect(within(rows[0] as HTMLElement).getByText("GM")).toBeTruthy();
    expect(within(rows[1] as HTMLElement).getByRole("img", { name: "online" })).toBeTruthy();
    expect(within(rows[2] as HTMLElement).getByRole("img", { name: "offline" })).toBeTruthy();
    expect(within(rows[0] as HTMLElement).queryByRole("button")).toBeNull();
    expect(screen.getByRole("button", { name: "Make ann a co-GM" })).toBeTruthy();
  });

  it("lists the connected clients with their times and capabilities", async () => {
    renderPanel();
    const clients = await screen.findByRole("list", { name: "Connected clients" });
    await waitFor(() => expect(clients.querySelector('[data-client-id="c2"]')).not.toBeNull());
    const capabilities = screen.getByRole("list", { name: "Capabilities of gwen" });
    expect(
      within(capabilities)
        .getAllByRole("listitem")
        .map((li) => li.textContent),
    ).toEqual(["version: 1.4.0", "touch: false"]);
    expect(clients.querySelector('[data-client-id="c2"]')?.textContent).toContain("ann");
    expect(clients.querySelectorAll("time")).toHaveLength(4);
  });

  it("names each connected device by browser and OS, never by its raw user agent", async () => {
    const clock = new ManualClock();
    const gm = fakeGmApi();
    gm.members.push({ user_id: "u-gm", username: "gwen", role: "gm" }, { user_id: "u-ann", username: "ann", role: "player" });
    const ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0";
    gm.clients.push(
      client("c1", "u-gm", { role: "gm", capabilities: { user_agent: ua }, device: { browser: "Firefox", os: "Windows" } }),
      client("c2", "u-ann", { device: { browser: "Safari", os: "iOS" } }),
      client("c3", "u-ann", { device: { browser: null, os: null } }),
    );
    const fake = fakeSync();
    render(() => createComponent(MembersPanel, { userId: "u-gm", roster: createRoster({ api: gm.api, sync: fake.sync, timers: clock }) }));
    const clients = await screen.findByRole("list", { name: "Connected clients" });
    await waitFor(() => expect(clients.querySelector('[data-client-id="c3"]')).not.toBeNull());
    expect(clients.querySelector('[data-client-id="c1"]')?.textContent).toContain("Firefox on Windows");
    expect(clients.querySelector('[data-client-id="c2"]')?.textContent).toContain("Safari on iOS");
    expect(clients.querySelector('[data-client-id="c3"]')?.textContent).toContain("Unknown device");
    expect(clients.textContent).not.toContain("Mozilla");
  });

  it("reads the clients again after presence messages, once per burst", async () => {
    const { gm, fake, clock } = renderPanel();
    await screen.findByRole("list", { name: "Connected clients" });
    expect(gm.api.listClients).toHaveBeenCalledTimes(1);
    gm.clients.push(client("c3", "u-bob"));
    fake.emit({ type: "presence", joined: [{ client_id: "c3", user_id: "u-bob", role: "player", connected_at: "x" }] });
    fake.emit({ type: "presence", left: ["c9"] });
    await clock.advance(PRESENCE_DEBOUNCE_MS);
    expect(gm.api.listClients).toHaveBeenCalledTimes(2);
    // bob was a member already: the members are not read again.
    expect(gm.api.getSession).toHaveBeenCalledTimes(1);
    await waitFor(() =>
      expect(screen.getByRole("list", { name: "Connected clients" }).querySelector('[data-client-id="c3"]')).not.toBeNull(),
    );
  });

  it("reads the members again when someone unknown connects (a player who just joined)", async () => {
    const { gm, fake, clock } = renderPanel();
    await screen.findByRole("list", { name: "Members" });
    gm.members.push({ user_id: "u-cat", username: "cat", role: "player" });
    gm.clients.push(client("c4", "u-cat"));
    fake.emit({ type: "presence", joined: [{ client_id: "c4", user_id: "u-cat", role: "player", connected_at: "x" }] });
    await clock.advance(PRESENCE_DEBOUNCE_MS);
    expect(gm.api.getSession).toHaveBeenCalledTimes(2);
    await screen.findByRole("button", { name: "Make cat a co-GM" });
  });

  it("promotes a player to co-GM and back", async () => {
    const { gm } = renderPanel();
    fireEvent.click(await screen.findByRole("button", { name: "Make ann a co-GM" }));
    await waitFor(() => expect(gm.api.setMemberRole).toHaveBeenCalledWith("u-ann", "gm"));
    fireEvent.click(await screen.findByRole("button", { name: "Make ann a player" }));
    await waitFor(() => expect(gm.api.setMemberRole).toHaveBeenLastCalledWith("u-ann", "player"));
    await screen.findByRole("button", { name: "Make ann a co-GM" });
  });

  it("shows why a role change was refused", async () => {
    renderPanel({
      setMemberRole: async () => {
        throw new ApiError(400, "bad_request", "a session needs at least one GM");
      },
    });
    fireEvent.click(await screen.findByRole("button", { name: "Make bob a co-GM" }));
    expect((await screen.findByRole("alert")).textContent).toBe("bob: a session needs at least one GM");
  });

  it("starts folded when it was folded before in this browser", () => {
    localStorage.setItem("vtt.sidebar.members", "closed");
    renderPanel();
    expect(screen.getByRole("button", { name: "People" }).getAttribute("aria-expanded")).toBe("false");
    expect(document.getElementById("members-body")?.hidden).toBe(true);
  });

  it("folds away and remembers it", async () => {
    renderPanel();
    const toggle = screen.getByRole("button", { name: "People" });
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    fireEvent.click(toggle);
    expect(toggle.getAttribute("aria-expanded")).toBe("false");
    expect(document.getElementById("members-body")?.hidden).toBe(true);
    expect(localStorage.getItem("vtt.sidebar.members")).toBe("closed");
    await settle();
  });
});
