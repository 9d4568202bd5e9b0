import { env, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LOGIN_BACKOFF, loginLockSeconds } from "../../domain/accounts";
import { takeWindow } from "../../worker/middleware/rate-limit";
import { ORIGIN, type Reply, TestUser, uniqueName } from "../helpers/client";

const PASSWORD = "correct horse battery";
const WRONG = "wrong password 123";

afterEach(() => {
  vi.useRealTimers();
});

/** Moves the clock (of the tests and of the worker: they share the isolate) forward. */
function advance(ms: number) {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.now() + ms);
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await SELF.fetch(`${ORIGIN}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

function expectLimited(r: Reply) {
  expect(r.status).toBe(429);
  expect(r.body).toEqual({ error: expect.objectContaining({ code: "rate_limited", message: expect.any(String) }) });
  const retryAfter = Number(r.headers.get("retry-after"));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  return retryAfter;
}

async function failureRow(username: string) {
  return env.DB.prepare("SELECT failures, locked_until FROM login_failures WHERE username = ?")
    .bind(username)
    .first<{ failures: number; locked_until: number }>();
}

async function loginCount(userId: string): Promise<number> {
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM login_sessions WHERE user_id = ?").bind(userId).first<{ n: number }>();
  return row?.n ?? 0;
}

function freshAddress(): string {
  return `198.51.100.${Math.floor(Math.random() * 250) + 1}-${uniqueName("ip")}`;
}

describe("failed logins per username", () => {
  it("backs off exponentially after the free failures, up to the cap", () => {
    const free = LOGIN_BACKOFF.free_failures;
    expect(loginLockSeconds(free - 1)).toBe(0);
    expect(loginLockSeconds(free)).toBe(LOGIN_BACKOFF.base_seconds);
    expect(loginLockSeconds(free + 1)).toBe(LOGIN_BACKOFF.base_seconds * 2);
    expect(loginLockSeconds(free + 2)).toBe(LOGIN_BACKOFF.base_seconds * 4);
    expect(loginLockSeconds(free + 100)).toBe(LOGIN_BACKOFF.max_seconds);
  });

  it("answers 429 with Retry-After once the free failures are used, even to the right password", async () => {
    const user = await TestUser.register("bf");
    for (let i = 0; i < LOGIN_BACKOFF.free_failures; i++) {
      const r = await post("/api/auth/login", { username: user.username, password: WRONG });
      expect(r.status).toBe(401);
    }
    expect((await failureRow(user.username))?.failures).toBe(LOGIN_BACKOFF.free_failures);
    const before = await loginCount(user.id);
    const refused = await post("/api/auth/login", { username: user.username, password: PASSWORD });
    const retryAfter = expectLimited(refused);
    expect(retryAfter).toBeLessThanOrEqual(LOGIN_BACKOFF.base_seconds);
    expect(retryAfter).toBeGreaterThan(LOGIN_BACKOFF.base_seconds - 5);
    expect(refused.headers.get("set-cookie")).toBeNull();
    expect(await loginCount(user.id)).toBe(before);
    // A refused attempt is not checked, so it is not another failure either.
    expect((await failureRow(user.username))?.failures).toBe(LOGIN_BACKOFF.free_failures);
  });

  it("lets the right password in once the window has passed, and starts the count afresh", async () => {
    const user = await TestUser.register("bf");
    for (let i = 0; i < LOGIN_BACKOFF.free_failures; i++) await post("/api/auth/login", { username: user.username, password: WRONG });
    expect((await post("/api/auth/login", { username: user.username, password: PASSWORD })).status).toBe(429);
    advance((LOGIN_BACKOFF.base_seconds + 1) * 1000);
    const r = await post("/api/auth/login", { username: user.username, password: PASSWORD });
    expect(r.status).toBe(200);
    expect(r.body.user).toEqual({ id: user.id, username: user.username });
    expect(await failureRow(user.username)).toBeNull();
  });

  it("doubles the wait with each failure after a window passes", async () => {
    const user = await TestUser.register("bf");
    for (let i = 0; i < LOGIN_BACKOFF.free_failures; i++) await post("/api/auth/login", { username: user.username, password: WRONG });
    advance((LOGIN_BACKOFF.base_seconds + 1) * 1000);
    expect((await post("/api/auth/login", { username: user.username, password: WRONG })).status).toBe(401);
    const retryAfter = expectLimited(await post("/api/auth/login", { username: user.username, password: PASSWORD }));
    expect(retryAfter).toBeGreaterThan(LOGIN_BACKOFF.base_seconds * 2 - 5);
    expect(retryAfter).toBeLessThanOrEqual(LOGIN_BACKOFF.base_seconds * 2);
  });

  it("counts per username, whatever address the attempts come from, and unknown names alike", async () => {
    const username = uniqueName("nobody").toLowerCase();
    for (let i = 0; i < LOGIN_BACKOFF.free_failures; i++) {
      const r = await post("/api/auth/login", { username, password: WRONG }, { "cf-connecting-ip": freshAddress() });
      expect(r.status).toBe(401);
    }
    expectLimited(await post("/api/auth/login", { username, password: WRONG }, { "cf-connecting-ip": freshAddress() }));
    // Another username is not affected.
    const other = await TestUser.register("bf");
    expect((await post("/api/auth/login", { username: other.username, password: PASSWORD })).status).toBe(200);
  });

  it("treats a wrong current password on a password change as a failed login", async () => {
    const user = await TestUser.register("bf");
    const r = await user.req("POST", "/api/auth/password", { current_password: WRONG, new_password: "another long password" });
    expect(r.status).toBe(403);
    expect((await failureRow(user.username))?.failures).toBe(1);
  });
});

describe("per-address limits", () => {
  it("refuses registrations from an address whose window is used up, with Retry-After, creating nobody", async () => {
    const address = freshAddress();
    const windowStart = Math.floor(Date.now() / 60_000) * 60;
    await env.DB.prepare("INSERT INTO rate_windows (key, window_start, count) VALUES (?, ?, ?)")
      .bind(`register:ip:${address}`, windowStart, 1000)
      .run();
    const username = uniqueName("ip").toLowerCase();
    const r = await post("/api/auth/register", { username, password: PASSWORD }, { "cf-connecting-ip": address });
    const retryAfter = expectLimited(r);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await env.DB.prepare("SELECT id FROM users WHERE username = ?").bind(username).first()).toBeNull();
    // Another address registers freely.
    const other = await post("/api/auth/register", { username, password: PASSWORD }, { "cf-connecting-ip": freshAddress() });
    expect(other.status).toBe(201);
  });

  it("lets the address in again in the next window", async () => {
    const address = freshAddress();
    const windowStart = Math.floor(Date.now() / 60_000) * 60;
    await env.DB.prepare("INSERT INTO rate_windows (key, window_start, count) VALUES (?, ?, ?)")
      .bind(`login:ip:${address}`, windowStart, 1000)
      .run();
    const user = await TestUser.register("ip");
    expectLimited(await post("/api/auth/login", { username: user.username, password: PASSWORD }, { "cf-connecting-ip": address }));
    advance(61_000);
    const r = await post("/api/auth/login", { username: user.username, password: PASSWORD }, { "cf-connecting-ip": address });
    expect(r.status).toBe(200);
  });

  it("counts every attempt in a fixed window and refuses past the configured limit", async () => {
    const limited = { ...env, REGISTRATIONS_PER_IP_PER_MINUTE: "3" } as Env;
    const subject = `ip:${freshAddress()}`;
    const now = Date.UTC(2026, 0, 1, 12, 0, 10);
    for (let i = 0; i < 3; i++) await takeWindow(limited, "register", subject, now);
    await expect(takeWindow(limited, "register", subject, now + 1000)).rejects.toMatchObject({
      code: "rate_limited",
      headers: { "Retry-After": "49" },
    });
    await expect(takeWindow(limited, "register", subject, now + 50_000)).resolves.toBeUndefined();
  });

  it("lets local runs register hundreds of users a minute from one address", async () => {
    const address = "127.0.0.1";
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        post("/api/auth/register", { username: uniqueName("many").toLowerCase(), password: PASSWORD }, { "cf-connecting-ip": address }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(12).fill(201));
    const row = await env.DB.prepare("SELECT count FROM rate_windows WHERE key = ?")
      .bind(`register:ip:${address}`)
      .first<{ count: number }>();
    expect(row?.count).toBeGreaterThan(0);
  });
});
