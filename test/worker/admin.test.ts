import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CLOSE_CODES } from "../../domain/protocol";
import worker from "../../worker/index";
import { newTable, ORIGIN, type Reply } from "../helpers/client";
import { TestSocket } from "../helpers/socket";

const ADMIN_TOKEN = "test-admin-token-0123456789";

/** A request to the worker with ADMIN_TOKEN configured as `token` (unset when empty). */
async function call(method: string, path: string, options: { body?: unknown; headers?: Record<string, string>; token?: string } = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const request = new Request(`${ORIGIN}${path}`, {
    method,
    headers,
    body: options.body === undefined ? null : typeof options.body === "string" ? options.body : JSON.stringify(options.body),
  });
  const ctx = createExecutionContext();
  const res = await worker.fetch(request, { ...env, ADMIN_TOKEN: options.token ?? ADMIN_TOKEN } as Env, ctx);
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers } satisfies Reply;
}

const bearer = (token = ADMIN_TOKEN) => ({ authorization: `Bearer ${token}` });
const adminPath = (sid: string) => `/api/vtt/admin/sessions/${sid}/settings`;
const asAdmin = (method: string, sid: string, body?: unknown) => call(method, adminPath(sid), { body, headers: bearer() });

function expectError(reply: Reply, status: number, code: string) {
  expect(reply.status).toBe(status);
  expect(reply.body).toMatchObject({ error: { code, message: expect.any(String) } });
}

async function liveTable() {
  const t = await newTable();
  const gmSocket = await TestSocket.open(t.gm, t.base);
  const playerSocket = await TestSocket.open(t.player, t.base);
  return { ...t, gmSocket, playerSocket };
}

describe("admin settings", () => {
  it("reads a session's settings without being a member of it", async () => {
    const { sid } = await newTable();
    const r = await asAdmin("GET", sid);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ settings: { realtime: true, poll_interval_ms: 4000 } });
  });

  it("switches a flag, and members read it in settings, state and the session", async () => {
    const t = await newTable();
    const r = await asAdmin("PATCH", t.sid, { poll_interval_ms: 9000, retention_days: 14 });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ settings: { realtime: true, poll_interval_ms: 9000, retention_days: 14 } });
    expect((await t.player.req("GET", `${t.base}/settings`)).body.settings).toEqual(r.body.settings);
    expect((await t.player.req("GET", `${t.base}/state`)).body.session.settings).toMatchObject({ poll_interval_ms: 9000 });
    expect((await asAdmin("GET", t.sid)).body.settings).toEqual(r.body.settings);
  });

  it("tells connected sockets of a change, as a GM's change does", async () => {
    const t = await liveTable();
    expect((await asAdmin("PATCH", t.sid, { poll_interval_ms: 8000 })).status).toBe(200);
    for (const socket of [t.gmSocket, t.playerSocket]) {
      expect(await socket.next((m) => m.type === "settings")).toEqual({
        type: "settings",
        settings: { realtime: true, poll_interval_ms: 8000 },
      });
    }
    t.gmSocket.close();
    t.playerSocket.close();
  });

  it("turns real time off: sockets are told and closed, upgrades refused; and on again", async () => {
    const t = await liveTable();
    expect((await asAdmin("PATCH", t.sid, { realtime: false, poll_interval_ms: 5000 })).status).toBe(200);
    for (const socket of [t.gmSocket, t.playerSocket]) {
      expect(await socket.next((m) => m.type === "realtime_off")).toEqual({ type: "realtime_off", poll_interval_ms: 5000 });
      expect((await socket.waitClosed()).code).toBe(CLOSE_CODES.realtime_off);
    }
    const refused = await TestSocket.connect(t.player, t.base);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: "conflict", details: { reason: "realtime_off" } });
    expect((await asAdmin("PATCH", t.sid, { realtime: true })).status).toBe(200);
    const back = await TestSocket.open(t.player, t.base);
    expect(back.all("hello")).toHaveLength(1);
    back.close();
  });

  it("answers 401 to a missing or wrong bearer and changes nothing", async () => {
    const { sid, gm, base } = await newTable();
    const path = adminPath(sid);
    const missing = await call("PATCH", path, { body: { realtime: false } });
    expectError(missing, 401, "unauthorized");
    expect(missing.headers.get("www-authenticate")).toContain("Bearer");
    expectError(
      await call("PATCH", path, { body: { realtime: false }, headers: bearer("test-admin-token-0123456788") }),
      401,
      "unauthorized",
    );
    expectError(await call("PATCH", path, { body: { realtime: false }, headers: bearer("short") }), 401, "unauthorized");
    expectError(await call("GET", path, { headers: { authorization: "Basic dGVzdA==" } }), 401, "unauthorized");
    // Authentication comes first: a stranger learns nothing from a bad body or an unknown session.
    expectError(await call("PATCH", path, { body: { realtime: "no" } }), 401, "unauthorized");
    expectError(await call("GET", adminPath("no-such-session"), { headers: bearer("wrong") }), 401, "unauthorized");
    expect((await gm.req("GET", `${base}/settings`)).body.settings.realtime).toBe(true);
  });

  it("refuses members, a GM included, by cookie or API token", async () => {
    const { sid, gm, player, base } = await newTable();
    const token = (await gm.req("POST", "/api/auth/tokens", { name: "cli" })).body.token as string;
    const byCookie = await call("PATCH", adminPath(sid), {
      body: { realtime: false },
      headers: { cookie: gm.cookie, "x-csrf-token": gm.csrf },
    });
    expectError(byCookie, 401, "unauthorized");
    expectError(await call("PATCH", adminPath(sid), { body: { realtime: false }, headers: bearer(token) }), 401, "unauthorized");
    expectError(await call("GET", adminPath(sid), { headers: { cookie: player.cookie } }), 401, "unauthorized");
    expect((await gm.req("GET", `${base}/settings`)).body.settings.realtime).toBe(true);
  });

  it("does not exist while ADMIN_TOKEN is unset", async () => {
    const { sid } = await newTable();
    expectError(await call("GET", adminPath(sid), { headers: bearer(), token: "" }), 404, "not_found");
    expectError(await call("PATCH", adminPath(sid), { body: { realtime: false }, headers: bearer(""), token: "" }), 404, "not_found");
  });

  it("answers 400 to invalid settings and changes nothing, telling no socket", async () => {
    const t = await liveTable();
    for (const body of [
      {},
      { poll_interval_ms: 100 },
      { realtime: "no" },
      { retention_days: 0 },
      { retention_days: 400 },
      { colour: "red" },
    ]) {
      const r = await asAdmin("PATCH", t.sid, body);
      expectError(r, 400, "bad_request");
    }
    expectError(await call("PATCH", adminPath(t.sid), { body: "{not json", headers: bearer() }), 400, "bad_request");
    expect((await asAdmin("GET", t.sid)).body.settings).toEqual({ realtime: true, poll_interval_ms: 4000 });
    // The first settings message a socket gets is the one of the next valid change.
    expect((await asAdmin("PATCH", t.sid, { poll_interval_ms: 7000 })).status).toBe(200);
    expect(await t.playerSocket.next((m) => m.type === "settings")).toMatchObject({ settings: { poll_interval_ms: 7000 } });
    expect(t.playerSocket.all("settings")).toHaveLength(1);
    t.gmSocket.close();
    t.playerSocket.close();
  });

  it("answers 404 to an unknown or malformed session id", async () => {
    expectError(await asAdmin("GET", "no-such-session"), 404, "not_found");
    expectError(await asAdmin("PATCH", "no-such-session", { realtime: false }), 404, "not_found");
    expectError(await asAdmin("GET", "bad%20id"), 404, "not_found");
  });
});
