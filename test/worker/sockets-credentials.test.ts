import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CLOSE_CODES } from "../../domain/protocol";
import type { SessionObject, SocketAttachment } from "../../worker/session/session-object";
import { newTable, TestUser } from "../helpers/client";
import { shardOf } from "../helpers/shards";
import { TestSocket } from "../helpers/socket";

const PASSWORD = "correct horse battery";

afterEach(() => {
  vi.useRealTimers();
});

function stubOf(sid: string) {
  return env.SESSION.get(env.SESSION.idFromName(sid));
}

/** The same account through a bearer token. */
async function bearerOf(user: TestUser, body: Record<string, unknown> = {}) {
  const created = await user.req("POST", "/api/auth/tokens", { name: "socket", ...body });
  expect(created.status).toBe(201);
  const script = new TestUser();
  script.id = user.id;
  script.username = user.username;
  script.bearer = created.body.token;
  return { script, id: created.body.id as string };
}

/** A second cookie login of the same account (another device). */
async function secondLogin(user: TestUser): Promise<TestUser> {
  const device = new TestUser();
  const r = await device.req("POST", "/api/auth/login", { username: user.username, password: PASSWORD });
  expect(r.status).toBe(200);
  device.id = user.id;
  device.username = user.username;
  return device;
}

async function disconnectedAt(sid: string, clientId: string): Promise<string | null | undefined> {
  const row = await (await shardOf(sid))
    .prepare("SELECT disconnected_at FROM session_clients WHERE session_id = ? AND client_id = ?")
    .bind(sid, clientId)
    .first<{ disconnected_at: string | null }>();
  return row?.disconnected_at;
}

async function openWithId(user: TestUser, base: string) {
  const socket = await TestSocket.open(user, base);
  const hello = socket.all("hello")[0];
  return { socket, clientId: hello.client_id as string };
}

describe("a socket whose credential ends is closed", () => {
  it("on logout: that login's sockets close with 4401 in every session, other logins' stay open", async () => {
    const t = await newTable();
    const second = await t.gm.req("POST", "/api/vtt/sessions", { name: "Second table" });
    const base2 = `/api/vtt/sessions/${second.body.session.id}`;
    const device = await secondLogin(t.gm);
    const a = await openWithId(t.gm, t.base);
    const b = await openWithId(t.gm, base2);
    const kept = await openWithId(device, t.base);
    const playerSocket = await TestSocket.open(t.player, t.base);

    expect((await t.gm.req("POST", "/api/auth/logout")).status).toBe(204);

    expect(await a.socket.waitClosed()).toEqual({ code: CLOSE_CODES.credential_ended, reason: "logged out" });
    expect((await b.socket.waitClosed()).code).toBe(CLOSE_CODES.credential_ended);
    expect(await disconnectedAt(t.sid, a.clientId)).toEqual(expect.any(String));
    // The other device and the player are untouched: their next message still reaches them.
    kept.socket.send({ type: "resume", since: 0 });
    await kept.socket.next((m) => m.type === "resumed");
    expect(kept.socket.closed).toBeUndefined();
    expect(playerSocket.closed).toBeUndefined();
    expect(await disconnectedAt(t.sid, kept.clientId)).toBeNull();
  });

  it("on revoking an API token: the sockets it opened close, the cookie's stay", async () => {
    const t = await newTable();
    const { script, id } = await bearerOf(t.gm);
    const scripted = await openWithId(script, t.base);
    const browser = await openWithId(t.gm, t.base);
    expect((await t.gm.req("DELETE", `/api/auth/tokens/${id}`)).status).toBe(204);
    expect(await scripted.socket.waitClosed()).toEqual({ code: CLOSE_CODES.credential_ended, reason: "the token was revoked" });
    expect(await disconnectedAt(t.sid, scripted.clientId)).toEqual(expect.any(String));
    browser.socket.send({ type: "resume", since: 0 });
    await browser.socket.next((m) => m.type === "resumed");
    expect(browser.socket.closed).toBeUndefined();
    // The revoked token cannot open a new one.
    const again = await TestSocket.connect(script, t.base);
    expect(again.status).toBe(401);
  });

  it("on a password change: every socket but the current login's closes", async () => {
    const t = await newTable();
    const device = await secondLogin(t.player);
    const { script } = await bearerOf(t.player);
    const current = await openWithId(t.player, t.base);
    const other = await openWithId(device, t.base);
    const scripted = await openWithId(script, t.base);
    const r = await t.player.req("POST", "/api/auth/password", { current_password: PASSWORD, new_password: "another passphrase" });
    expect(r.status).toBe(204);
    expect((await other.socket.waitClosed()).code).toBe(CLOSE_CODES.credential_ended);
    expect((await scripted.socket.waitClosed()).code).toBe(CLOSE_CODES.credential_ended);
    current.socket.send({ type: "resume", since: 0 });
    await current.socket.next((m) => m.type === "resumed");
    expect(current.socket.closed).toBeUndefined();
  });

  it("keeps the credential through hibernation: a logout after an eviction still closes the socket", async () => {
    const t = await newTable();
    const { socket } = await openWithId(t.gm, t.base);
    await evictDurableObject(stubOf(t.sid), { webSockets: "hibernate" });
    expect((await t.gm.req("POST", "/api/auth/logout")).status).toBe(204);
    expect((await socket.waitClosed()).code).toBe(CLOSE_CODES.credential_ended);
  });

  it("when the token expires: the object's alarm closes the socket", async () => {
    const t = await newTable();
    const { script, id } = await bearerOf(t.gm, { expires_in_days: 1 });
    const { socket, clientId } = await openWithId(script, t.base);
    const attachment = await runInDurableObject(stubOf(t.sid), (_instance: SessionObject, state) => {
      const ws = state.getWebSockets(`client:${clientId}`)[0];
      return ws?.deserializeAttachment() as SocketAttachment;
    });
    expect(attachment.credentialId).toBe(id);
    expect(attachment.credentialExpiresAt).toBeGreaterThan(Date.now());
    const alarmAt = await runInDurableObject(stubOf(t.sid), (_instance: SessionObject, state) => state.storage.getAlarm());
    expect(alarmAt).toBeLessThanOrEqual(attachment.credentialExpiresAt ?? 0);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime((attachment.credentialExpiresAt ?? 0) + 1000);
    // Alarms due before the expiry (acks, locks) run first and leave the socket alone until then.
    for (let i = 0; i < 5 && !socket.closed; i++) {
      await runDurableObjectAlarm(stubOf(t.sid));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await socket.waitClosed()).toEqual({ code: CLOSE_CODES.credential_ended, reason: "the login expired" });
  });

  it("does not close a socket whose token has not expired when the alarm runs", async () => {
    const t = await newTable();
    const { script } = await bearerOf(t.gm, { expires_in_days: 2 });
    const { socket } = await openWithId(script, t.base);
    await runDurableObjectAlarm(stubOf(t.sid));
    socket.send({ type: "resume", since: 0 });
    await socket.next((m) => m.type === "resumed");
    expect(socket.closed).toBeUndefined();
  });

  it("ignores a credential header sent by the client", async () => {
    const t = await newTable();
    const { socket, clientId } = await TestSocket.open(t.gm, t.base, {
      "x-vtt-credential-expires": "1",
      "x-vtt-credential": "forged",
    }).then(async (s) => ({ socket: s, clientId: s.all("hello")[0].client_id as string }));
    const attachment = await runInDurableObject(stubOf(t.sid), (_instance: SessionObject, state) => {
      const ws = state.getWebSockets(`client:${clientId}`)[0];
      return ws?.deserializeAttachment() as SocketAttachment;
    });
    expect(attachment.credentialId).not.toBe("forged");
    expect(attachment.credentialExpiresAt).toBeGreaterThan(Date.now() + 86_400_000);
    expect(socket.closed).toBeUndefined();
  });
});
