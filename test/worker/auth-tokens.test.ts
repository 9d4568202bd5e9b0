import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Reply, TestUser } from "../helpers/client";

const PASSWORD = "correct horse battery";
const NEW_PASSWORD = "a brand new passphrase";

afterEach(() => {
  vi.useRealTimers();
});

function advance(ms: number) {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.now() + ms);
}

function expectError(r: Reply, status: number, code: string) {
  expect(r.status).toBe(status);
  expect(r.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
}

/** The user as a script: the same account through a bearer token. */
function asBearer(user: TestUser, token: string): TestUser {
  const script = new TestUser();
  script.id = user.id;
  script.username = user.username;
  script.bearer = token;
  return script;
}

async function tokenRow(id: string) {
  return env.DB.prepare("SELECT id, user_id, name, token_hash, last_used_at, expires_at FROM api_tokens WHERE id = ?")
    .bind(id)
    .first<{ id: string; user_id: string; name: string; token_hash: string; last_used_at: string | null; expires_at: string | null }>();
}

describe("POST /api/auth/tokens", () => {
  it("answers 201 with the secret once, as the contract has it, and stores only its hash", async () => {
    const user = await TestUser.register("tok");
    const r = await user.req("POST", "/api/auth/tokens", { name: "cli" });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      token: expect.stringMatching(/^vtt_[A-Za-z0-9_-]{40,}$/),
      id: expect.any(String),
      name: "cli",
      created_at: expect.any(String),
      last_used_at: null,
      expires_at: null,
    });
    const row = await tokenRow(r.body.id);
    expect(row).toMatchObject({ user_id: user.id, name: "cli", expires_at: null });
    expect(row?.token_hash).not.toContain(r.body.token);
  });

  it("gives a token an expiry in days", async () => {
    const user = await TestUser.register("tok");
    const r = await user.req("POST", "/api/auth/tokens", { name: "week", expires_in_days: 7 });
    expect(r.status).toBe(201);
    const days = (Date.parse(r.body.expires_at) - Date.parse(r.body.created_at)) / 86_400_000;
    expect(days).toBe(7);
    expect((await tokenRow(r.body.id))?.expires_at).toBe(r.body.expires_at);
  });

  it("gives a token an expiry at an instant", async () => {
    const user = await TestUser.register("tok");
    const at = new Date(Date.now() + 3 * 3_600_000).toISOString();
    const r = await user.req("POST", "/api/auth/tokens", { name: "soon", expires_at: at });
    expect(r.status).toBe(201);
    expect(r.body.expires_at).toBe(at);
  });

  it.each([
    ["an expiry in the past", { name: "x", expires_at: "2001-01-01T00:00:00Z" }],
    ["both kinds of expiry", { name: "x", expires_in_days: 1, expires_at: new Date(Date.now() + 86_400_000).toISOString() }],
    ["zero days", { name: "x", expires_in_days: 0 }],
    ["a fractional day count", { name: "x", expires_in_days: 1.5 }],
    ["days as a string", { name: "x", expires_in_days: "7" }],
    ["a date that is not one", { name: "x", expires_at: "tomorrow" }],
    ["more than ten years", { name: "x", expires_in_days: 4000 }],
    ["an unknown field", { name: "x", scope: "admin" }],
  ])("refuses %s with 400 and stores nothing", async (_why, body) => {
    const user = await TestUser.register("tok");
    expectError(await user.req("POST", "/api/auth/tokens", body), 400, "bad_request");
    const listed = await user.req("GET", "/api/auth/tokens");
    expect(listed.body.tokens).toEqual([]);
  });
});

describe("expiry", () => {
  it("answers 401 to a token once it has expired", async () => {
    const user = await TestUser.register("tok");
    const created = await user.req("POST", "/api/auth/tokens", { name: "day", expires_in_days: 1 });
    const script = asBearer(user, created.body.token);
    expect((await script.req("GET", "/api/auth/me")).status).toBe(200);
    advance(86_400_000 + 1000);
    expectError(await script.req("GET", "/api/auth/me"), 401, "unauthorized");
    expectError(await script.req("GET", "/api/vtt/sessions"), 401, "unauthorized");
  });
});

describe("GET /api/auth/tokens", () => {
  it("lists the caller's tokens with name, created, last used and expiry, never a secret", async () => {
    const user = await TestUser.register("tok");
    const a = await user.req("POST", "/api/auth/tokens", { name: "laptop" });
    const b = await user.req("POST", "/api/auth/tokens", { name: "ci", expires_in_days: 30 });
    const other = await TestUser.register("tok");
    await other.req("POST", "/api/auth/tokens", { name: "theirs" });
    const r = await user.req("GET", "/api/auth/tokens");
    expect(r.status).toBe(200);
    expect(r.body.tokens).toHaveLength(2);
    expect(r.body.tokens).toEqual(
      expect.arrayContaining([
        { id: a.body.id, name: "laptop", created_at: a.body.created_at, last_used_at: null, expires_at: null },
        { id: b.body.id, name: "ci", created_at: b.body.created_at, last_used_at: null, expires_at: b.body.expires_at },
      ]),
    );
    const text = JSON.stringify(r.body);
    expect(text).not.toContain(a.body.token);
    expect(text).not.toContain("token_hash");
  });

  it("answers 401 without a login", async () => {
    const anonymous = new TestUser();
    expectError(await anonymous.req("GET", "/api/auth/tokens"), 401, "unauthorized");
  });

  it("records last use at most once a minute", async () => {
    const user = await TestUser.register("tok");
    const created = await user.req("POST", "/api/auth/tokens", { name: "cli" });
    const script = asBearer(user, created.body.token);
    await script.req("GET", "/api/auth/me");
    const first = (await tokenRow(created.body.id))?.last_used_at;
    expect(first).toEqual(expect.any(String));
    advance(20_000);
    await script.req("GET", "/api/auth/me");
    expect((await tokenRow(created.body.id))?.last_used_at).toBe(first);
    advance(60_000);
    await script.req("GET", "/api/auth/me");
    const third = (await tokenRow(created.body.id))?.last_used_at;
    expect(Date.parse(third ?? "")).toBeGreaterThan(Date.parse(first ?? ""));
    const listed = await user.req("GET", "/api/auth/tokens");
    expect(listed.body.tokens[0].last_used_at).toBe(third);
  });
});

describe("DELETE /api/auth/tokens/{id}", () => {
  it("answers 204, removes the token, and the token then gets 401", async () => {
    const user = await TestUser.register("tok");
    const created = await user.req("POST", "/api/auth/tokens", { name: "cli" });
    const script = asBearer(user, created.body.token);
    expect((await script.req("GET", "/api/auth/me")).status).toBe(200);
    const r = await user.req("DELETE", `/api/auth/tokens/${created.body.id}`);
    expect(r.status).toBe(204);
    expect(await tokenRow(created.body.id)).toBeNull();
    expectError(await script.req("GET", "/api/auth/me"), 401, "unauthorized");
    expect((await user.req("GET", "/api/auth/tokens")).body.tokens).toEqual([]);
  });

  it("answers 404 for another user's token and leaves it working", async () => {
    const owner = await TestUser.register("tok");
    const created = await owner.req("POST", "/api/auth/tokens", { name: "mine" });
    const intruder = await TestUser.register("tok");
    expectError(await intruder.req("DELETE", `/api/auth/tokens/${created.body.id}`), 404, "not_found");
    expect(await tokenRow(created.body.id)).not.toBeNull();
    expect((await asBearer(owner, created.body.token).req("GET", "/api/auth/me")).status).toBe(200);
  });

  it.each([
    ["an unknown id", "00000000-0000-0000-0000-000000000000"],
    ["a malformed id", "not%20an%20id"],
    ["a very long id", "a".repeat(300)],
  ])("answers 404 for %s", async (_why, id) => {
    const user = await TestUser.register("tok");
    expectError(await user.req("DELETE", `/api/auth/tokens/${id}`), 404, "not_found");
  });

  it("answers 403 csrf to a cookie request without the CSRF token, and keeps the token", async () => {
    const user = await TestUser.register("tok");
    const created = await user.req("POST", "/api/auth/tokens", { name: "cli" });
    expectError(await user.req("DELETE", `/api/auth/tokens/${created.body.id}`, undefined, { "x-csrf-token": "" }), 403, "csrf");
    expect(await tokenRow(created.body.id)).not.toBeNull();
  });
});

describe("POST /api/auth/password", () => {
  it("changes the password: the new one logs in, the old one no longer does", async () => {
    const user = await TestUser.register("pw");
    const r = await user.req("POST", "/api/auth/password", { current_password: PASSWORD, new_password: NEW_PASSWORD });
    expect(r.status).toBe(204);
    const fresh = new TestUser();
    expect((await fresh.req("POST", "/api/auth/login", { username: user.username, password: PASSWORD })).status).toBe(401);
    expect((await fresh.req("POST", "/api/auth/login", { username: user.username, password: NEW_PASSWORD })).status).toBe(200);
  });

  it("ends every other login and every API token, and keeps the current login", async () => {
    const user = await TestUser.register("pw");
    const otherDevice = new TestUser();
    await otherDevice.req("POST", "/api/auth/login", { username: user.username, password: PASSWORD });
    expect((await otherDevice.req("GET", "/api/auth/me")).status).toBe(200);
    const created = await user.req("POST", "/api/auth/tokens", { name: "cli" });
    const script = asBearer(user, created.body.token);
    expect((await script.req("GET", "/api/auth/me")).status).toBe(200);

    expect((await user.req("POST", "/api/auth/password", { current_password: PASSWORD, new_password: NEW_PASSWORD })).status).toBe(204);

    expect((await user.req("GET", "/api/auth/me")).status).toBe(200);
    expectError(await otherDevice.req("GET", "/api/auth/me"), 401, "unauthorized");
    expectError(await script.req("GET", "/api/auth/me"), 401, "unauthorized");
    const logins = await env.DB.prepare("SELECT COUNT(*) AS n FROM login_sessions WHERE user_id = ?").bind(user.id).first<{ n: number }>();
    expect(logins?.n).toBe(1);
    const tokens = await env.DB.prepare("SELECT COUNT(*) AS n FROM api_tokens WHERE user_id = ?").bind(user.id).first<{ n: number }>();
    expect(tokens?.n).toBe(0);
  });

  it("answers 403 with the envelope to a wrong current password and changes nothing", async () => {
    const user = await TestUser.register("pw");
    const created = await user.req("POST", "/api/auth/tokens", { name: "cli" });
    const before = await env.DB.prepare("SELECT password_hash FROM users WHERE id = ?").bind(user.id).first<{ password_hash: string }>();
    expectError(
      await user.req("POST", "/api/auth/password", { current_password: "not my password", new_password: NEW_PASSWORD }),
      403,
      "forbidden",
    );
    const after = await env.DB.prepare("SELECT password_hash FROM users WHERE id = ?").bind(user.id).first<{ password_hash: string }>();
    expect(after?.password_hash).toBe(before?.password_hash);
    expect(await tokenRow(created.body.id)).not.toBeNull();
  });

  it.each([
    ["a short new password", { current_password: PASSWORD, new_password: "short" }],
    ["a missing current password", { new_password: NEW_PASSWORD }],
    ["a number for a password", { current_password: PASSWORD, new_password: 1234567890123 }],
  ])("refuses %s with 400", async (_why, body) => {
    const user = await TestUser.register("pw");
    expectError(await user.req("POST", "/api/auth/password", body), 400, "bad_request");
    expect((await new TestUser().req("POST", "/api/auth/login", { username: user.username, password: PASSWORD })).status).toBe(200);
  });

  it("answers 401 without a login", async () => {
    expectError(
      await new TestUser().req("POST", "/api/auth/password", { current_password: PASSWORD, new_password: NEW_PASSWORD }),
      401,
      "unauthorized",
    );
  });
});
