import { env, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { parseDevice } from "../../worker/lib/device";
import { newTable } from "../helpers/client";
import { shardOf } from "../helpers/shards";
import { TestSocket } from "../helpers/socket";

const FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0";
const SAFARI_IOS =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
const CHROME_ANDROID =
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";

describe("parseDevice", () => {
  it.each([
    { ua: FIREFOX_WINDOWS, device: { browser: "Firefox", os: "Windows" } },
    { ua: SAFARI_IOS, device: { browser: "Safari", os: "iOS" } },
    { ua: CHROME_ANDROID, device: { browser: "Chrome", os: "Android" } },
    { ua: "", device: { browser: null, os: null } },
    { ua: null, device: { browser: null, os: null } },
    { ua: "\u0000<script>alert(1)</script>", device: { browser: null, os: null } },
  ])("names $device for a user agent", ({ ua, device }) => {
    expect(parseDevice(ua)).toEqual(device);
  });
});

describe("GET {S}/clients: devices", () => {
  it("names each connected client's browser and OS, parsed from its user agent", async () => {
    const { gm, player, base } = await newTable();
    const gmSocket = await TestSocket.open(gm, base, { "user-agent": FIREFOX_WINDOWS });
    const playerSocket = await TestSocket.open(player, base, { "user-agent": SAFARI_IOS });
    try {
      const r = await gm.req("GET", `${base}/clients`);
      expect(r.status).toBe(200);
      const byUser = Object.fromEntries(r.body.clients.map((c: { user_id: string }) => [c.user_id, c]));
      expect(byUser[gm.id].device).toEqual({ browser: "Firefox", os: "Windows" });
      expect(byUser[player.id].device).toEqual({ browser: "Safari", os: "iOS" });
    } finally {
      gmSocket.ws.close();
      playerSocket.ws.close();
    }
  });

  it("keeps the device of the connection when the client reports another user agent as a capability", async () => {
    const { gm, base } = await newTable();
    const socket = await TestSocket.open(gm, base, { "user-agent": FIREFOX_WINDOWS });
    try {
      socket.send({ type: "capabilities", capabilities: { user_agent: SAFARI_IOS } });
      socket.send("ping");
      await socket.next((m) => m === "pong", "pong");
      const r = await gm.req("GET", `${base}/clients`);
      expect(r.body.clients.map((c: { device: unknown }) => c.device)).toEqual([{ browser: "Firefox", os: "Windows" }]);
    } finally {
      socket.ws.close();
    }
  });

  it("says nothing of a client whose user agent names no browser", async () => {
    const { gm, base } = await newTable();
    const socket = await TestSocket.open(gm, base, { "user-agent": "curl/8.5.0" });
    try {
      const r = await gm.req("GET", `${base}/clients`);
      expect(r.body.clients.map((c: { device: unknown }) => c.device)).toEqual([{ browser: null, os: null }]);
    } finally {
      socket.ws.close();
    }
  });

  it("lists and stores capabilities without the raw user agent, from the connection or a client's report", async () => {
    const { gm, base, sid } = await newTable();
    const socket = await TestSocket.open(gm, base, { "user-agent": FIREFOX_WINDOWS });
    try {
      const clientId = socket.all("hello")[0].client_id as string;
      const capabilitiesOf = async () =>
        JSON.parse(
          (
            await (
              await shardOf(sid)
            )
              .prepare("SELECT capabilities FROM session_clients WHERE client_id = ?")
              .bind(clientId)
              .first<{ capabilities: string }>()
          )?.capabilities ?? "null",
        );
      expect(await capabilitiesOf()).toEqual({});
      socket.send({ type: "capabilities", capabilities: { user_agent: SAFARI_IOS, app: "web" } });
      socket.send("ping");
      await socket.next((m) => m === "pong", "pong");
      const r = await gm.req("GET", `${base}/clients`);
      expect(r.status).toBe(200);
      expect(r.body.clients).toHaveLength(1);
      expect(r.body.clients[0]).toMatchObject({ client_id: clientId, user_id: gm.id, role: "gm", capabilities: { app: "web" } });
      expect(r.body.clients[0].capabilities).not.toHaveProperty("user_agent");
      expect(JSON.stringify(r.body)).not.toContain("Gecko");
      await vi.waitFor(
        async () => {
          await runDurableObjectAlarm(env.SESSION.get(env.SESSION.idFromName(sid)));
          expect(await capabilitiesOf()).toEqual({ app: "web" });
        },
        { timeout: 5000, interval: 50 },
      );
    } finally {
      socket.ws.close();
    }
  });
});
