// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor, within } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type InviteApi, InviteButton } from "../../client/src/components/InviteButton";

afterEach(cleanup);

function renderButton() {
  let code = "first-code";
  const calls: InviteApi & { rotations: number } = {
    rotations: 0,
    getSession: vi.fn(async () => ({ invite_code: code })),
    rotateInvite: vi.fn(async () => {
      calls.rotations += 1;
      code = `code-${calls.rotations + 1}`;
      return { invite_code: code };
    }),
  };
  render(() => createComponent(InviteButton, { sessionId: "s1", sessionName: "Amber Keep", api: calls }));
  return calls;
}

const linkValue = () => (screen.getByLabelText("Invite link") as HTMLInputElement).value;

describe("InviteButton", () => {
  it("shows the session's current invite link, read from the session, when opened", async () => {
    const calls = renderButton();
    expect(screen.queryByLabelText("Invite link")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Invite" }));
    await waitFor(() => expect(linkValue()).toBe(`${location.origin}/join/first-code`));
    expect(calls.getSession).toHaveBeenCalledWith("s1");
  });

  it("copies the link to the clipboard", async () => {
    const writeText = vi.fn(async () => undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    renderButton();
    fireEvent.click(screen.getByRole("button", { name: "Invite" }));
    await waitFor(() => expect(linkValue()).toContain("first-code"));
    fireEvent.click(screen.getByRole("button", { name: "Copy link" }));
    await waitFor(() => expect(writeText).toHaveBeenCalledWith(`${location.origin}/join/first-code`));
    expect(await screen.findByText("Copied to the clipboard.")).toBeTruthy();
  });

  it("asks before replacing the link, and Keep leaves it as it was", async () => {
    const calls = renderButton();
    fireEvent.click(screen.getByRole("button", { name: "Invite" }));
    await waitFor(() => expect(linkValue()).toContain("first-code"));
    fireEvent.click(screen.getByRole("button", { name: "New link" }));
    expect(screen.getByText(/Replace the link\?/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Keep" }));
    expect(calls.rotateInvite).not.toHaveBeenCalled();
    expect(linkValue()).toContain("first-code");
  });

  it("replaces the link after the confirmation and shows the new one", async () => {
    const calls = renderButton();
    fireEvent.click(screen.getByRole("button", { name: "Invite" }));
    await waitFor(() => expect(linkValue()).toContain("first-code"));
    fireEvent.click(screen.getByRole("button", { name: "New link" }));
    fireEvent.click(screen.getByRole("button", { name: "Replace link" }));
    await waitFor(() => expect(linkValue()).toBe(`${location.origin}/join/code-2`));
    expect(calls.rotateInvite).toHaveBeenCalledWith("s1");
    expect(screen.getByText(/the old one no longer works/)).toBeTruthy();
  });

  it("says so when the session read brings no invite code", async () => {
    render(() =>
      createComponent(InviteButton, {
        sessionId: "s1",
        sessionName: "Amber Keep",
        api: { getSession: async () => ({}), rotateInvite: async () => ({ invite_code: "x" }) },
      }),
    );
    fireEvent.click(screen.getByRole("button", { name: "Invite" }));
    const dialog = await screen.findByRole("dialog", { name: "Invite players" });
    expect(await within(dialog).findByRole("alert")).toBeTruthy();
    expect(within(dialog).queryByLabelText("Invite link")).toBeNull();
  });
});
