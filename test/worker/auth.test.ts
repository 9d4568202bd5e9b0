import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { create, newTable, ORIGIN, type Reply, S, seqOf, TestUser, uniqueName } from "../helpers/client";
import { one } from "../helpers/sql";

const PASSWORD = "correct horse battery";

interface RawOptions {
  body?: unknown;
  cookie?: string;
  csrf?: string;
  bearer?: string;
  headers?: Record<string, string>;
}

/** A request with exactly the credentials given: no cookie jar, no automatic CSRF header. */
async function raw(method: string, path: string, options: RawOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.cookie !== undefined) headers.cookie = options.cookie;
  if (options.csrf !== undefined) headers["x-csrf-token"] = options.csrf;
  if (options.bearer !== undefined) headers.authorization = `Bearer ${options.bearer}`;
  let payload: string | null = null;
  if (options.body !== undefined) {
    payload = JSON.stringify(options.body);
    headers["content-type"] = "application/json";
  }
  const res = await SELF.fetch(`${ORIGIN}${path}`, { method, headers, body: payload });
  const text = await res.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers };
}

function freshUsername(prefix = "u"): string {
  return uniqueName(prefix)
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, "_");
}

function expectError(r: Reply, status: number, code: string) {
  expect(r.status).toBe(status);
  expect(r.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
}

async function userRow(username: string) {
  return env.DB.prepare("SELECT id, username, password_hash FROM users WHERE username = ?")
    .bind(username)
    .first<{ id: string; username: string; password_hash: string }>();
}

async function countRows(table: string, sid: string): Promise<number> {
  const row = await one<{ n: number }>(sid, `SELECT COUNT(*) AS n FROM ${table} WHERE session_id = ?`, sid);
  return row?.n ?? 0;
}

async function makeToken(user: TestUser, name = "cli"): Promise<string> {
  const r = await user.req("POST", "/api/auth/tokens", { name });
  expect(r.status).toBe(201);
  return r.body.token;
}

/** A table whose active scene holds one token owned by the player, one not owned, and one hidden. */
async function tableWithTokens() {
  const table = await newTable();
  const { gm, player, base } = table;
  const scene = await create(gm, base, "scenes", { name: "Keep" });
  const activated = await gm.req("POST", `${base}/scenes/${scene.id}/activate`, {});
  expect(activated.status).toBe(200);
  const owned = await create(gm, base, "tokens", { name: "Hero", scene_id: scene.id, x: 1, y: 1, owner_user_ids: [player.id] });
  const other = await create(gm, base, "tokens", { name: "Orc", scene_id: scene.id, x: 2, y: 2 });
  const hidden = await create(gm, base, "tokens", { name: "Lurker", scene_id: scene.id, hidden: true, owner_user_ids: [player.id] });
  return { ...table, scene, owned, other, hidden };
}

describe("register", () => {
  it("answers 201 with the user and a CSRF token and sets the session cookie", async () => {
    const username = freshUsername();
    const r = await raw("POST", "/api/auth/register", { body: { username, password: PASSWORD } });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ user: { id: expect.any(String), username }, csrf_token: expect.any(String) });
    expect(r.body.csrf_token.length).toBeGreaterThanOrEqual(16);
    const cookie = r.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^vtt_session=[^;]{16,};/);
    const attributes = cookie
      .split(";")
      .slice(1)
      .map((a) => a.trim().toLowerCase());
    expect(attributes).toEqual(expect.arrayContaining(["httponly", "secure", "samesite=lax", "path=/"]));
    const row = await userRow(username);
    expect(row?.id).toBe(r.body.user.id);
  });

  it("stores the password only as a salted PBKDF2 hash", async () => {
    const username = freshUsername();
    const r = await raw("POST", "/api/auth/register", { body: { username, password: PASSWORD } });
    expect(r.status).toBe(201);
    const row = await userRow(username);
    expect(row?.password_hash).toMatch(/^pbkdf2-sha256\$\d{5,}\$[A-Za-z0-9_-]{16,}\$[A-Za-z0-9_-]{40,}$/);
    expect(row?.password_hash).not.toContain(PASSWORD);
    // Same password, another user: a different salt gives a different hash.
    const other = freshUsername();
    await raw("POST", "/api/auth/register", { body: { username: other, password: PASSWORD } });
    expect((await userRow(other))?.password_hash).not.toBe(row?.password_hash);
  });

  it.each([
    ["too short", "ab"],
    ["too long", "a".repeat(33)],
    ["upper case", "Alice_Smith"],
    ["a space", "alice smith"],
    ["a dot", "alice.smith"],
    ["non-ASCII", "älice"],
    ["empty", ""],
  ])("refuses a username that is %s with 400 naming the field", async (_why, username) => {
    const r = await raw("POST", "/api/auth/register", { body: { username, password: PASSWORD } });
    expectError(r, 400, "bad_request");
    expect(r.body.error.details.fields).toEqual(expect.arrayContaining([expect.objectContaining({ field: "username" })]));
    expect(await userRow(username)).toBeNull();
  });

  it("accepts usernames of exactly 3 and 32 characters of [a-z0-9_-]", async () => {
    const short = `a${Math.random().toString(36).slice(2, 4)}`.replace(/[^a-z0-9]/g, "x").padEnd(3, "x");
    const long = `${freshUsername("x")}_-`.padEnd(32, "9").slice(0, 32);
    for (const username of [short, long]) {
      const r = await raw("POST", "/api/auth/register", { body: { username, password: PASSWORD } });
      expect(r.status).toBe(201);
      expect(r.body.user.username).toBe(username);
    }
  });

  it("refuses a password under 10 characters with 400 naming the field", async () => {
    const username = freshUsername();
    const r = await raw("POST", "/api/auth/register", { body: { username, password: "123456789" } });
    expectError(r, 400, "bad_request");
    expect(r.body.error.details.fields).toEqual([expect.objectContaining({ field: "password" })]);
    expect(await userRow(username)).toBeNull();
  });

  it("answers 409 for a username that is taken and keeps the first account", async () => {
    const username = freshUsername();
    const first = await raw("POST", "/api/auth/register", { body: { username, password: PASSWORD } });
    expect(first.status).toBe(201);
    const before = await userRow(username);
    const second = await raw("POST", "/api/auth/register", { body: { username, password: "another password!" } });
    expectError(second, 409, "conflict");
    expect(second.headers.get("set-cookie")).toBeNull();
    expect(await userRow(username)).toEqual(before);
  });
});

describe("login", () => {
  it("answers 200 with the user and a fresh CSRF token and sets the session cookie", async () => {
    const user = await TestUser.register();
    const r = await raw("POST", "/api/auth/login", { body: { username: user.username, password: PASSWORD } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ user: { id: user.id, username: user.username }, csrf_token: expect.any(String) });
    const cookie = r.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^vtt_session=[^;]{16,};/);
    expect(cookie.toLowerCase()).toContain("httponly");
    const me = await raw("GET", "/api/auth/me", { cookie: cookie.split(";")[0] ?? "" });
    expect(me.status).toBe(200);
    expect(me.body.csrf_token).toBe(r.body.csrf_token);
  });

  it("answers the same 401 for an unknown user and for a wrong password", async () => {
    const user = await TestUser.register();
    const unknown = await raw("POST", "/api/auth/login", { body: { username: freshUsername("nobody"), password: PASSWORD } });
    const wrong = await raw("POST", "/api/auth/login", { body: { username: user.username, password: "not the password" } });
    expectError(unknown, 401, "unauthorized");
    expect(wrong.status).toBe(unknown.status);
    expect(wrong.body).toEqual(unknown.body);
    expect(unknown.headers.get("set-cookie")).toBeNull();
    expect(wrong.headers.get("set-cookie")).toBeNull();
  });
});

describe("me and logout", () => {
  it("answers me with the user and the CSRF token of the login", async () => {
    const user = await TestUser.register();
    const r = await user.req("GET", "/api/auth/me");
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ user: { id: user.id, username: user.username }, csrf_token: user.csrf });
  });

  it("answers me with 401 without a cookie or with an unknown one", async () => {
    expectError(await raw("GET", "/api/auth/me"), 401, "unauthorized");
    expectError(await raw("GET", "/api/auth/me", { cookie: "vtt_session=not-a-real-login-cookie-value" }), 401, "unauthorized");
  });

  it("answers 401 to a login cookie past its expiry", async () => {
    const user = await TestUser.register();
    expect((await raw("GET", "/api/auth/me", { cookie: user.cookie })).status).toBe(200);
    await env.DB.prepare("UPDATE login_sessions SET expires_at = ? WHERE user_id = ?").bind("2000-01-01T00:00:00.000Z", user.id).run();
    expectError(await raw("GET", "/api/auth/me", { cookie: user.cookie }), 401, "unauthorized");
    expectError(
      await raw("POST", "/api/vtt/sessions", { cookie: user.cookie, csrf: user.csrf, body: { name: "Late" } }),
      401,
      "unauthorized",
    );
  });

  it.each([
    ["GET", "/api/vtt/sessions"],
    ["POST", "/api/vtt/sessions"],
    ["POST", "/api/vtt/sessions/join"],
    ["GET", "/state"],
    ["POST", "/scenes"],
    ["PUT", "/members/x"],
  ])("answers 401 to %s %s without credentials", async (method, path) => {
    const { sid } = await newTable();
    const url = path.startsWith("/api/") ? path : `${S(sid)}${path}`;
    const r = await raw(method, url, method === "GET" ? {} : { body: { name: "x", invite_code: "x", role: "gm" } });
    expectError(r, 401, "unauthorized");
  });

  it("logs out with 204, clears the cookie and the old cookie no longer works", async () => {
    const user = await TestUser.register();
    const cookie = user.cookie;
    const out = await raw("POST", "/api/auth/logout", { cookie, csrf: user.csrf });
    expect(out.status).toBe(204);
    expect(out.body).toBeNull();
    expect(out.headers.get("set-cookie") ?? "").toMatch(/^vtt_session=;/);
    expectError(await raw("GET", "/api/auth/me", { cookie }), 401, "unauthorized");
    expectError(await raw("GET", "/api/vtt/sessions", { cookie }), 401, "unauthorized");
  });

  it("refuses a logout without the CSRF token and keeps the login", async () => {
    const user = await TestUser.register();
    const out = await raw("POST", "/api/auth/logout", { cookie: user.cookie });
    expectError(out, 403, "csrf");
    expect((await raw("GET", "/api/auth/me", { cookie: user.cookie })).status).toBe(200);
  });
});

describe("CSRF", () => {
  it("refuses a cookie POST without X-CSRF-Token with 403 csrf and creates nothing", async () => {
    const { gm, base, sid } = await newTable();
    const before = await seqOf(gm, base);
    const r = await raw("POST", `${base}/scenes`, { cookie: gm.cookie, body: { name: "Sneaky" } });
    expectError(r, 403, "csrf");
    expect(await countRows("scenes", sid)).toBe(0);
    expect(await seqOf(gm, base)).toBe(before);
  });

  it("refuses a cookie POST with a wrong X-CSRF-Token with 403 csrf and creates nothing", async () => {
    const { gm, base, sid } = await newTable();
    const r = await raw("POST", `${base}/scenes`, { cookie: gm.cookie, csrf: `${gm.csrf}x`, body: { name: "Sneaky" } });
    expectError(r, 403, "csrf");
    expect(await countRows("scenes", sid)).toBe(0);
  });

  it("refuses a CSRF token of another login of another user", async () => {
    const { gm, base, sid } = await newTable();
    const other = await TestUser.register();
    const r = await raw("POST", `${base}/scenes`, { cookie: gm.cookie, csrf: other.csrf, body: { name: "Sneaky" } });
    expectError(r, 403, "csrf");
    expect(await countRows("scenes", sid)).toBe(0);
  });

  it("refuses a cookie PATCH without X-CSRF-Token and leaves the entity as it was", async () => {
    const { gm, base } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "Crypt" });
    const r = await raw("PATCH", `${base}/scenes/${scene.id}`, {
      cookie: gm.cookie,
      body: { name: "Renamed" },
      headers: { "if-match": '"1"' },
    });
    expectError(r, 403, "csrf");
    const after = await gm.req("GET", `${base}/scenes/${scene.id}`);
    expect(after.body).toMatchObject({ name: "Crypt", version: 1 });
  });

  it("refuses a cookie DELETE with a wrong X-CSRF-Token and leaves the entity live", async () => {
    const { gm, base } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "Crypt" });
    const r = await raw("DELETE", `${base}/scenes/${scene.id}`, { cookie: gm.cookie, csrf: "wrong" });
    expectError(r, 403, "csrf");
    const after = await gm.req("GET", `${base}/scenes/${scene.id}`);
    expect(after.body).toMatchObject({ archived_at: null, version: 1 });
  });

  it("refuses a cookie PUT of a member without X-CSRF-Token and changes no role", async () => {
    const { gm, player, sid } = await newTable();
    const r = await raw("PUT", `${S(sid)}/members/${player.id}`, { cookie: gm.cookie, body: { role: "gm" } });
    expectError(r, 403, "csrf");
    const row = await env.DB.prepare("SELECT role FROM session_members WHERE session_id = ? AND user_id = ?")
      .bind(sid, player.id)
      .first<{ role: string }>();
    expect(row?.role).toBe("player");
  });

  it("needs no CSRF token on a GET", async () => {
    const { gm, base } = await newTable();
    const r = await raw("GET", `${base}/state`, { cookie: gm.cookie });
    expect(r.status).toBe(200);
    expect(r.body.seq).toEqual(expect.any(Number));
  });
});

describe("API tokens", () => {
  it("answers 201 with a token and stores only its SHA-256 hash", async () => {
    const user = await TestUser.register();
    const r = await user.req("POST", "/api/auth/tokens", { name: "my script" });
    expect(r.status).toBe(201);
    expect(r.body.token).toEqual(expect.any(String));
    const rows = await env.DB.prepare("SELECT * FROM api_tokens WHERE user_id = ?").bind(user.id).all<Record<string, unknown>>();
    expect(rows.results).toHaveLength(1);
    const stored = rows.results[0] ?? {};
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(r.body.token)));
    const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
    expect(stored.token_hash).toBe(hex);
    expect(Object.values(stored)).not.toContain(r.body.token);
    expect(JSON.stringify(stored)).not.toContain(r.body.token);
  });

  it("refuses a token without a name with 400", async () => {
    const user = await TestUser.register();
    const r = await user.req("POST", "/api/auth/tokens", { name: "   " });
    expectError(r, 400, "bad_request");
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM api_tokens WHERE user_id = ?").bind(user.id).first<{ n: number }>();
    expect(rows?.n).toBe(0);
  });

  it("refuses to create a token without credentials with 401", async () => {
    expectError(await raw("POST", "/api/auth/tokens", { body: { name: "x" } }), 401, "unauthorized");
  });

  it("authenticates a bearer token without cookie and without CSRF, reads and writes", async () => {
    const { gm, base, sid } = await newTable();
    const token = await makeToken(gm);
    const me = await raw("GET", "/api/auth/me", { bearer: token });
    expect(me.status).toBe(200);
    expect(me.body.user).toEqual({ id: gm.id, username: gm.username });
    const created = await raw("POST", `${base}/scenes`, { bearer: token, body: { name: "Scripted" } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: "Scripted", version: 1, updated_by: gm.id });
    expect(await countRows("scenes", sid)).toBe(1);
  });

  it("answers 401 to a wrong bearer token even when a valid cookie and CSRF token come with it", async () => {
    const { gm, base, sid } = await newTable();
    const token = await makeToken(gm);
    const wrong = `${token.slice(0, -4)}AAAA` === token ? `${token.slice(0, -4)}BBBB` : `${token.slice(0, -4)}AAAA`;
    const r = await raw("POST", `${base}/scenes`, { bearer: wrong, cookie: gm.cookie, csrf: gm.csrf, body: { name: "Nope" } });
    expectError(r, 401, "unauthorized");
    expect(await countRows("scenes", sid)).toBe(0);
    const get = await raw("GET", `${base}/state`, { bearer: wrong, cookie: gm.cookie });
    expectError(get, 401, "unauthorized");
  });

  it("answers 401 to a malformed Authorization header even with a valid cookie", async () => {
    const { gm, base } = await newTable();
    const r = await raw("GET", `${base}/state`, { cookie: gm.cookie, headers: { authorization: "Basic Zm9vOmJhcg==" } });
    expectError(r, 401, "unauthorized");
  });
});

describe("membership", () => {
  it.each([
    ["GET", "/state"],
    ["GET", "/changes?since=0"],
    ["GET", "/scenes"],
    ["GET", "/scenes/:scene"],
    ["GET", "/tokens/:token"],
    ["GET", "/session-state"],
    ["GET", "/ws"],
    ["POST", "/batch"],
    ["POST", "/scenes"],
    ["PATCH", "/scenes/:scene"],
    ["DELETE", "/scenes/:scene"],
    ["PUT", "/members/:self"],
  ])("answers 404, never 403, to a non-member's %s %s", async (method, path) => {
    const { gm, base, sid } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "Secret" });
    const token = await create(gm, base, "tokens", { name: "Secret token", scene_id: scene.id });
    const stranger = await TestUser.register("stranger");
    const url = base + path.replace(":scene", scene.id).replace(":token", token.id).replace(":self", stranger.id);
    const body =
      method === "POST" && path === "/batch"
        ? { ops: [{ op_id: crypto.randomUUID(), entity_type: "scene", op: "create", data: { name: "In" } }] }
        : method === "PUT"
          ? { role: "gm" }
          : method === "GET" || method === "DELETE"
            ? undefined
            : { name: "In" };
    const headers: Record<string, string> = { "if-match": '"1"' };
    if (path === "/ws") headers.upgrade = "websocket";
    const before = await seqOf(gm, base);
    const r = await stranger.req(method, url, body, headers);
    expectError(r, 404, "not_found");
    expect(JSON.stringify(r.body)).not.toContain("Secret");
    expect(await seqOf(gm, base)).toBe(before);
    expect(await countRows("scenes", sid)).toBe(1);
    const member = await env.DB.prepare("SELECT role FROM session_members WHERE session_id = ? AND user_id = ?")
      .bind(sid, stranger.id)
      .first();
    expect(member).toBeNull();
  });

  it("answers the same 404 for a session that does not exist", async () => {
    const stranger = await TestUser.register("stranger");
    const { gm, base } = await newTable();
    const real = await stranger.req("GET", `${base}/state`);
    const missing = await stranger.req("GET", `${S(crypto.randomUUID())}/state`);
    expect(missing.status).toBe(404);
    expect(real.body).toEqual(missing.body);
    expect((await gm.req("GET", `${base}/state`)).status).toBe(200);
  });

  it("answers 404 to joining with an invite code that does not exist", async () => {
    const { sid } = await newTable();
    const user = await TestUser.register();
    const r = await user.req("POST", "/api/vtt/sessions/join", { invite_code: "not-a-real-invite-code" });
    expectError(r, 404, "not_found");
    const member = await env.DB.prepare("SELECT COUNT(*) AS n FROM session_members WHERE user_id = ?").bind(user.id).first<{ n: number }>();
    expect(member?.n).toBe(0);
    expect((await user.req("GET", `${S(sid)}/state`)).status).toBe(404);
  });

  it("lets a player join as a player and lists the session with its role", async () => {
    const { player, sid } = await newTable();
    const r = await player.req("GET", "/api/vtt/sessions");
    expect(r.status).toBe(200);
    expect(r.body.sessions).toEqual([{ id: sid, name: "Table", role: "player" }]);
  });
});

describe("players", () => {
  it("answers 403 to a player creating a scene and creates nothing", async () => {
    const { player, gm, base, sid } = await newTable();
    const before = await seqOf(gm, base);
    const r = await player.req("POST", `${base}/scenes`, { name: "Mine" });
    expectError(r, 403, "forbidden");
    expect(await countRows("scenes", sid)).toBe(0);
    expect(await seqOf(gm, base)).toBe(before);
  });

  it("answers 403 to a player creating a token and creates nothing", async () => {
    const { player, scene, base, sid } = await tableWithTokens();
    const before = await countRows("tokens", sid);
    const r = await player.req("POST", `${base}/tokens`, { name: "Summon", scene_id: scene.id, owner_user_ids: [player.id] });
    expectError(r, 403, "forbidden");
    expect(await countRows("tokens", sid)).toBe(before);
  });

  it("answers 403 to a player patching the active scene and leaves it unchanged", async () => {
    const { player, gm, scene, base } = await tableWithTokens();
    const r = await player.req("PATCH", `${base}/scenes/${scene.id}`, { name: "Renamed" }, { "if-match": '"1"' });
    expectError(r, 403, "forbidden");
    expect((await gm.req("GET", `${base}/scenes/${scene.id}`)).body).toMatchObject({ name: "Keep", version: 1 });
  });

  it("answers 403 to a player archiving the active scene and leaves it live", async () => {
    const { player, gm, scene, base } = await tableWithTokens();
    const r = await player.req("DELETE", `${base}/scenes/${scene.id}`);
    expectError(r, 403, "forbidden");
    expect((await gm.req("GET", `${base}/scenes/${scene.id}`)).body).toMatchObject({ archived_at: null, version: 1 });
  });

  it("answers 403 to a player archiving their own token", async () => {
    const { player, gm, owned, base } = await tableWithTokens();
    const r = await player.req("DELETE", `${base}/tokens/${owned.id}`);
    expectError(r, 403, "forbidden");
    expect((await gm.req("GET", `${base}/tokens/${owned.id}`)).body).toMatchObject({ archived_at: null, version: 1 });
  });

  it("answers 403 to a player changing the session state", async () => {
    const { player, gm, base } = await tableWithTokens();
    const state = await gm.req("GET", `${base}/session-state`);
    const r = await player.req("PATCH", `${base}/session-state`, { flags: { lighting: true } }, { "if-match": `"${state.body.version}"` });
    expectError(r, 403, "forbidden");
    expect((await gm.req("GET", `${base}/session-state`)).body).toEqual(state.body);
  });

  it("answers 403 to a player putting a member and changes no role", async () => {
    const { player, gm, sid } = await newTable();
    const r = await player.req("PUT", `${S(sid)}/members/${player.id}`, { role: "gm" });
    expectError(r, 403, "forbidden");
    const other = await player.req("PUT", `${S(sid)}/members/${gm.id}`, { role: "player" });
    expectError(other, 403, "forbidden");
    const roles = await env.DB.prepare("SELECT user_id, role FROM session_members WHERE session_id = ? ORDER BY role")
      .bind(sid)
      .all<{ user_id: string; role: string }>();
    expect(roles.results).toEqual([
      { user_id: gm.id, role: "gm" },
      { user_id: player.id, role: "player" },
    ]);
  });

  it("answers 403 to a player sending a batch that creates content", async () => {
    const { player, gm, base, sid } = await newTable();
    const before = await seqOf(gm, base);
    const r = await player.req("POST", `${base}/batch`, {
      ops: [{ op_id: crypto.randomUUID(), entity_type: "scene", op: "create", data: { name: "Mine" } }],
    });
    expectError(r, 403, "forbidden");
    expect(await countRows("scenes", sid)).toBe(0);
    expect(await seqOf(gm, base)).toBe(before);
  });

  it("lets a player move and rotate a token whose owner_user_ids name them", async () => {
    const { player, gm, owned, base } = await tableWithTokens();
    const r = await player.req("PATCH", `${base}/tokens/${owned.id}`, { x: 7, y: -3, rotation: 90 }, { "if-match": '"1"' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: owned.id, x: 7, y: -3, rotation: 90, version: 2, updated_by: player.id, name: "Hero" });
    expect(r.headers.get("etag")).toBe('"2"');
    expect((await gm.req("GET", `${base}/tokens/${owned.id}`)).body).toMatchObject({ x: 7, y: -3, rotation: 90, version: 2 });
  });

  it("answers 403 to a player renaming a token they own and leaves it unchanged", async () => {
    const { player, gm, owned, base } = await tableWithTokens();
    const r = await player.req("PATCH", `${base}/tokens/${owned.id}`, { name: "Renamed" }, { "if-match": '"1"' });
    expectError(r, 403, "forbidden");
    const mixed = await player.req("PATCH", `${base}/tokens/${owned.id}`, { x: 9, hidden: true }, { "if-match": '"1"' });
    expectError(mixed, 403, "forbidden");
    expect((await gm.req("GET", `${base}/tokens/${owned.id}`)).body).toMatchObject({ name: "Hero", x: 1, hidden: false, version: 1 });
  });

  it("answers 403 to a player moving a visible token they do not own", async () => {
    const { player, gm, other, base } = await tableWithTokens();
    const r = await player.req("PATCH", `${base}/tokens/${other.id}`, { x: 50 }, { "if-match": '"1"' });
    expectError(r, 403, "forbidden");
    expect((await gm.req("GET", `${base}/tokens/${other.id}`)).body).toMatchObject({ x: 2, version: 1 });
  });

  it("answers 404 to a player reading or moving a hidden token on the active scene, even one they own", async () => {
    const { player, gm, hidden, base } = await tableWithTokens();
    expectError(await player.req("GET", `${base}/tokens/${hidden.id}`), 404, "not_found");
    const r = await player.req("PATCH", `${base}/tokens/${hidden.id}`, { x: 4 }, { "if-match": '"1"' });
    expectError(r, 404, "not_found");
    expect(JSON.stringify(r.body)).not.toContain("Lurker");
    expect((await gm.req("GET", `${base}/tokens/${hidden.id}`)).body).toMatchObject({ x: 0, version: 1 });
  });
});

describe("members", () => {
  it("makes a co-GM with PUT members role gm, who can then create a scene", async () => {
    const { gm, player, sid, base } = await newTable();
    const r = await gm.req("PUT", `${S(sid)}/members/${player.id}`, { role: "gm" });
    expect(r.status).toBe(200);
    expect(r.body.member).toMatchObject({ user_id: player.id, role: "gm" });
    const state = await gm.req("GET", `${base}/session-state`);
    expect(state.body.gm_user_ids).toEqual(expect.arrayContaining([gm.id, player.id]));
    const scene = await player.req("POST", `${base}/scenes`, { name: "Co-GM's scene" });
    expect(scene.status).toBe(201);
    expect(scene.body.updated_by).toBe(player.id);
    const listed = await player.req("GET", "/api/vtt/sessions");
    expect(listed.body.sessions).toEqual([expect.objectContaining({ id: sid, role: "gm" })]);
  });

  it("adds a user who was not a member yet with the role given", async () => {
    const { gm, sid, base } = await newTable();
    const newcomer = await TestUser.register("new");
    const r = await gm.req("PUT", `${S(sid)}/members/${newcomer.id}`, { role: "player" });
    expect(r.status).toBe(200);
    expect((await newcomer.req("GET", `${base}/state`)).status).toBe(200);
  });

  it("answers 404 to PUT members of a user that does not exist", async () => {
    const { gm, sid } = await newTable();
    const ghost = crypto.randomUUID();
    const r = await gm.req("PUT", `${S(sid)}/members/${ghost}`, { role: "gm" });
    expectError(r, 404, "not_found");
    const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM session_members WHERE session_id = ?").bind(sid).first<{ n: number }>();
    expect(row?.n).toBe(2);
  });

  it("answers 400 to PUT members with a role that is not gm or player", async () => {
    const { gm, player, sid } = await newTable();
    const r = await gm.req("PUT", `${S(sid)}/members/${player.id}`, { role: "owner" });
    expectError(r, 400, "bad_request");
    expect(r.body.error.details.fields).toEqual([expect.objectContaining({ field: "role" })]);
  });

  it("answers 400 to demoting the last GM and keeps them GM", async () => {
    const { gm, sid, base } = await newTable();
    const before = await gm.req("GET", `${base}/session-state`);
    const r = await gm.req("PUT", `${S(sid)}/members/${gm.id}`, { role: "player" });
    expectError(r, 400, "bad_request");
    const row = await env.DB.prepare("SELECT role FROM session_members WHERE session_id = ? AND user_id = ?")
      .bind(sid, gm.id)
      .first<{ role: string }>();
    expect(row?.role).toBe("gm");
    expect((await gm.req("GET", `${base}/session-state`)).body).toEqual(before.body);
  });

  it("lets a GM step down once there is a co-GM", async () => {
    const { gm, player, sid, base } = await newTable();
    expect((await gm.req("PUT", `${S(sid)}/members/${player.id}`, { role: "gm" })).status).toBe(200);
    const r = await gm.req("PUT", `${S(sid)}/members/${gm.id}`, { role: "player" });
    expect(r.status).toBe(200);
    const state = await player.req("GET", `${base}/session-state`);
    expect(state.body.gm_user_ids).toEqual([player.id]);
    expectError(await gm.req("POST", `${base}/scenes`, { name: "No longer" }), 403, "forbidden");
  });
});
