import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DEFAULT_SOCKETS_PER_USER, socketsPerUser } from "../../worker/session/socket-limits";
import { newTable, ORIGIN } from "../helpers/client";
import { shardOf } from "../helpers/shards";
import { TestSocket } from "../helpers/socket";

async function openClients(sid: string, userId: string): Promise<number> {
  const row = await (await shardOf(sid))
    .prepare("SELECT COUNT(*) AS n FROM session_clients WHERE session_id = ? AND user_id = ? AND disconnected_at IS NULL")
    .bind(sid, userId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

describe("sockets per user per session", () => {
  it("defaults to 20 and reads SOCKETS_PER_USER_PER_SESSION", () => {
    expect(DEFAULT_SOCKETS_PER_USER).toBe(20);
    expect(socketsPerUser(env)).toBe(20);
    expect(socketsPerUser({ ...env, SOCKETS_PER_USER_PER_SESSION: "3" } as Env)).toBe(3);
    expect(socketsPerUser({ ...env, SOCKETS_PER_USER_PER_SESSION: "lots" } as Env)).toBe(20);
  });

  it("refuses the upgrade past the cap with 429, the envelope and Retry-After; the open ones keep working", async () => {
    const t = await newTable();
    const sockets: TestSocket[] = [];
    for (let i = 0; i < DEFAULT_SOCKETS_PER_USER; i++) sockets.push(await TestSocket.open(t.player, t.base));
    const refused = await TestSocket.connect(t.player, t.base);
    expect(refused.socket).toBeUndefined();
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({
      error: {
        code: "rate_limited",
        message: expect.stringContaining(String(DEFAULT_SOCKETS_PER_USER)),
        details: expect.objectContaining({ reason: "too_many_sockets", limit: DEFAULT_SOCKETS_PER_USER }),
      },
    });
    expect(await openClients(t.sid, t.player.id)).toBe(DEFAULT_SOCKETS_PER_USER);

    // Another user of the same session is not affected, and the server stays healthy.
    const gmSocket = await TestSocket.open(t.gm, t.base);
    const health = await SELF.fetch(`${ORIGIN}/api/vtt/health`);
    expect(health.status).toBe(200);
    await health.text();

    // A change still reaches the sockets already open.
    const scene = await t.gm.req("POST", `${t.base}/scenes`, { name: "Cap" });
    expect(scene.status).toBe(201);
    await gmSocket.next((m) => m.type === "change" && m.entity_id === scene.body.id);

    // Closing one frees a place.
    const first = sockets[0];
    first?.ws.close(1000, "done");
    await first?.waitClosed();
    let admitted: TestSocket | undefined;
    for (let i = 0; i < 20 && !admitted; i++) {
      const attempt = await TestSocket.connect(t.player, t.base);
      admitted = attempt.socket;
      if (!admitted) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(admitted).toBeDefined();
  });

  it("sends Retry-After with the refusal", async () => {
    const t = await newTable();
    for (let i = 0; i < DEFAULT_SOCKETS_PER_USER; i++) await TestSocket.open(t.gm, t.base);
    const res = await SELF.fetch(`${ORIGIN}${t.base}/ws`, { headers: { upgrade: "websocket", cookie: t.gm.cookie } });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe("rate_limited");
  });
});
