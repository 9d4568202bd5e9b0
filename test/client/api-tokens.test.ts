// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor, within } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, createTokensApi, type TokensApi } from "../../client/src/lib/api";
import type { ApiTokenCreated, ApiTokenInfo, ApiTokenRequest } from "../../client/src/lib/types";
import { ApiTokensPage } from "../../client/src/pages/ApiTokens";

afterEach(cleanup);

/** An in-memory account with the server's rules: the secret only in the create answer. */
function fakeTokensApi(initial: ApiTokenInfo[] = []) {
  const tokens = [...initial];
  const calls: string[] = [];
  let counter = 0;
  let failRevoke = false;
  const api: TokensApi = {
    async list() {
      calls.push("list");
      return { tokens: tokens.map((t) => ({ ...t })) };
    },
    async create(request: ApiTokenRequest): Promise<ApiTokenCreated> {
      calls.push(`create ${JSON.stringify(request)}`);
      counter += 1;
      const info: ApiTokenInfo = {
        id: `tok-${counter}`,
        name: request.name,
        created_at: "2026-01-02T10:00:00.000Z",
        last_used_at: null,
        expires_at: request.expires_in_days === undefined ? null : "2026-01-09T10:00:00.000Z",
      };
      tokens.unshift(info);
      return { ...info, token: `vtt_secret_${counter}_abcdefghijklmnop` };
    },
    async revoke(id: string) {
      calls.push(`revoke ${id}`);
      if (failRevoke) throw new ApiError(404, "not_found", "no such token");
      const at = tokens.findIndex((t) => t.id === id);
      if (at >= 0) tokens.splice(at, 1);
    },
  };
  return { api, tokens, calls, failNextRevoke: () => (failRevoke = true) };
}

const existing: ApiTokenInfo = {
  id: "tok-old",
  name: "old laptop",
  created_at: "2025-06-01T08:00:00.000Z",
  last_used_at: "2025-12-24T18:30:00.000Z",
  expires_at: null,
};

function renderPage(fake: ReturnType<typeof fakeTokensApi>) {
  render(() => createComponent(ApiTokensPage, { api: fake.api }));
}

describe("ApiTokensPage", () => {
  it("lists the tokens with when they were last used, and no secret", async () => {
    const fake = fakeTokensApi([
      existing,
      { ...existing, id: "tok-ci", name: "ci", last_used_at: null, expires_at: "2001-01-01T00:00:00.000Z" },
    ]);
    renderPage(fake);
    const list = await screen.findByRole("list", { name: "API tokens" });
    const items = within(list).getAllByRole("listitem");
    expect(items.map((i) => i.querySelector(".item-name")?.textContent)).toEqual(["old laptop", "ci"]);
    expect(items[0]?.textContent).toContain("Expires never");
    expect(items[0]?.textContent).not.toContain("Last used never");
    expect(items[1]?.textContent).toContain("Last used never");
    expect(items[1]?.textContent).toContain("Expired");
    expect(screen.queryByTestId("new-token-secret")).toBeNull();
  });

  it("creates a token with a name and an expiry, shows its secret once, and lists it", async () => {
    const fake = fakeTokensApi();
    renderPage(fake);
    await screen.findByText("No tokens yet.");
    fireEvent.input(screen.getByLabelText("Token name"), { target: { value: "  build bot " } });
    fireEvent.change(screen.getByLabelText("Expires"), { target: { value: "7" } });
    fireEvent.click(screen.getByRole("button", { name: "Create token" }));

    const secret = (await screen.findByLabelText("New token secret")) as HTMLInputElement;
    expect(secret.value).toBe("vtt_secret_1_abcdefghijklmnop");
    expect(fake.calls).toContain(`create ${JSON.stringify({ name: "build bot", expires_in_days: 7 })}`);
    const list = await screen.findByRole("list", { name: "API tokens" });
    await waitFor(() => expect(within(list).getAllByRole("listitem")).toHaveLength(1));
    expect(within(list).getByText("build bot")).toBeTruthy();
    expect(list.textContent).not.toContain("vtt_secret_1");
    // The form is ready for the next one.
    expect((screen.getByLabelText("Token name") as HTMLInputElement).value).toBe("");

    fireEvent.click(screen.getByRole("button", { name: "Done" }));
    await waitFor(() => expect(screen.queryByLabelText("New token secret")).toBeNull());
    expect(document.body.textContent).not.toContain("vtt_secret_1");
  });

  it("creates a token without expiry when Never is chosen", async () => {
    const fake = fakeTokensApi();
    renderPage(fake);
    await screen.findByText("No tokens yet.");
    fireEvent.input(screen.getByLabelText("Token name"), { target: { value: "cli" } });
    fireEvent.click(screen.getByRole("button", { name: "Create token" }));
    await screen.findByLabelText("New token secret");
    expect(fake.calls).toContain(`create ${JSON.stringify({ name: "cli" })}`);
  });

  it("copies the secret to the clipboard", async () => {
    const writeText = vi.fn(async (_text: string) => undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const fake = fakeTokensApi();
    renderPage(fake);
    await screen.findByText("No tokens yet.");
    fireEvent.input(screen.getByLabelText("Token name"), { target: { value: "cli" } });
    fireEvent.click(screen.getByRole("button", { name: "Create token" }));
    fireEvent.click(await screen.findByRole("button", { name: "Copy token" }));
    await screen.findByText("Copied to the clipboard.");
    expect(writeText).toHaveBeenCalledWith("vtt_secret_1_abcdefghijklmnop");
  });

  it("revokes a token and drops it from the list", async () => {
    const fake = fakeTokensApi([existing]);
    renderPage(fake);
    fireEvent.click(await screen.findByRole("button", { name: "Revoke old laptop" }));
    await screen.findByText("No tokens yet.");
    expect(fake.calls).toContain("revoke tok-old");
    expect(fake.tokens).toEqual([]);
  });

  it("says so when a revoke fails, and keeps the token listed", async () => {
    const fake = fakeTokensApi([existing]);
    fake.failNextRevoke();
    renderPage(fake);
    fireEvent.click(await screen.findByRole("button", { name: "Revoke old laptop" }));
    expect((await screen.findByRole("alert")).textContent).toBeTruthy();
    expect(screen.getByRole("button", { name: "Revoke old laptop" })).toBeTruthy();
  });
});

describe("createTokensApi", () => {
  it("calls the token routes with the CSRF header on changes", async () => {
    const seen: { method: string; url: string; body: unknown }[] = [];
    const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
      seen.push({ method: init?.method ?? "GET", url: String(input), body: init?.body ? JSON.parse(String(init.body)) : undefined });
      if (init?.method === "DELETE") return new Response(null, { status: 204 });
      if (init?.method === "POST") return Response.json({ ...existing, token: "vtt_x" }, { status: 201 });
      return Response.json({ tokens: [existing] });
    }) as typeof fetch;
    const api = createTokensApi(fetchImpl);
    expect((await api.list()).tokens).toEqual([existing]);
    expect((await api.create({ name: "cli", expires_in_days: 30 })).token).toBe("vtt_x");
    await api.revoke("a/b");
    expect(seen).toEqual([
      { method: "GET", url: "/api/auth/tokens", body: undefined },
      { method: "POST", url: "/api/auth/tokens", body: { name: "cli", expires_in_days: 30 } },
      { method: "DELETE", url: "/api/auth/tokens/a%2Fb", body: undefined },
    ]);
  });
});
