import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { IDENTITY_HEADERS, type SessionObject } from "../../worker/session/session-object";
import { create, newTable } from "../helpers/client";
import { TestSocket } from "../helpers/socket";

/** Sockets opened with `?patch=1` get updates as merge patches; presence joins are announced together. */

async function tableWithToken() {
  const t = await newTable();
  const scene = await create(t.gm, t.base, "scenes", { name: "Crypt" });
  await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {});
  const token = await create(t.gm, t.base, "tokens", { name: "Orc", scene_id: scene.id, x: 0, y: 0, stats: { hp: 7 } });
  return { ...t, scene, token };
}

async function patchToken(t: Awaited<ReturnType<typeof tableWithToken>>, version: number, data: Record<string, unknown>) {
  const r = await t.gm.req("PATCH", `${t.base}/tokens/${t.token.id}`, data, { "if-match": `"${version}"` });
  expect(r.status).toBe(200);
  return r.body;
}

describe("patches on the wire", () => {
  it("sends a token move as a small patch to GM and player patch sockets, and the entity to default sockets", async () => {
    const t = await tableWithToken();
    const gm = await TestSocket.open(t.gm, t.base, {}, "?patch=1");
    const player = await TestSocket.open(t.player, t.base, {}, "?patch=1");
    const plain = await TestSocket.open(t.player, t.base);
    const moved = await patchToken(t, 1, { x: 1400, y: 2200 });
    for (const socket of [gm, player]) {
      const m = await socket.next((x) => x.type === "change" && x.entity_id === t.token.id, "the move");
      expect(m).toMatchObject({
        op: "update",
        version: 2,
        entity_type: "token",
        patch: { x: 1400, y: 2200, updated_at: moved.updated_at },
      });
      expect(m.event_id).toBeUndefined();
      expect(m.entity).toBeUndefined();
      expect(m.patch.version).toBeUndefined();
      const raw = socket.raw.find((r) => r.includes('"patch"')) ?? "";
      // Measured as sent, with the seq grown to 8 digits (a long-lived session's).
      expect(new TextEncoder().encode(raw).length - String(m.seq).length + 8).toBeLessThanOrEqual(200);
    }
    const full = await plain.next((x) => x.type === "change" && x.entity_id === t.token.id, "the move");
    expect(full.patch).toBeUndefined();
    expect(full.entity).toMatchObject({ id: t.token.id, x: 1400, y: 2200, version: 2, name: "Orc" });
    expect(full.event_id).toBe(full.seq);
  });

  it("computes players' patches from their filtered views: GM notes never reach them, GMs get them", async () => {
    const t = await tableWithToken();
    const gm = await TestSocket.open(t.gm, t.base, {}, "?patch=1");
    const player = await TestSocket.open(t.player, t.base, {}, "?patch=1");
    await patchToken(t, 1, { stats: { gm_notes: "secret ambush" } });
    const forGm = await gm.next((x) => x.type === "change" && x.version === 2, "the notes change");
    expect(forGm.patch).toMatchObject({ stats: { gm_notes: "secret ambush" } });
    const forPlayer = await player.next((x) => x.type === "change" && x.version === 2, "the notes change");
    expect(forPlayer.patch.stats).toBeUndefined();
    expect(Object.keys(forPlayer.patch).sort()).toEqual(["updated_at"]);
    await patchToken(t, 2, { stats: { gm_notes: null, hp: 3 } });
    const removal = await player.next((x) => x.type === "change" && x.version === 3, "the notes removal");
    expect(removal.patch.stats).toEqual({ hp: 3 });
    expect(player.raw.join("\n")).not.toContain("gm_notes");
    expect(player.raw.join("\n")).not.toContain("secret");
  });

  it("keeps the entity for creates, archives and a token coming into view", async () => {
    const t = await tableWithToken();
    const player = await TestSocket.open(t.player, t.base, {}, "?patch=1");
    const hidden = await create(t.gm, t.base, "tokens", { name: "Ghost", scene_id: t.scene.id, hidden: true });
    const shown = await t.gm.req("PATCH", `${t.base}/tokens/${hidden.id}`, { hidden: false }, { "if-match": '"1"' });
    expect(shown.status).toBe(200);
    const reveal = await player.next((x) => x.type === "change" && x.entity_id === hidden.id, "the reveal");
    expect(reveal.patch).toBeUndefined();
    expect(reveal.entity).toMatchObject({ id: hidden.id, name: "Ghost", version: 2 });
    const made = await create(t.gm, t.base, "tokens", { name: "Imp", scene_id: t.scene.id });
    const creation = await player.next((x) => x.type === "change" && x.entity_id === made.id, "the create");
    expect(creation).toMatchObject({ op: "create", entity: { name: "Imp" } });
    expect((await t.gm.req("DELETE", `${t.base}/tokens/${made.id}`, undefined, { "if-match": '"1"' })).status).toBe(200);
    const gone = await player.next((x) => x.type === "change" && x.entity_id === made.id && x.version === 2, "the archive");
    expect(gone.patch).toBeUndefined();
    expect(gone.removed).toBe(true);
  });
});

describe("presence on connect", () => {
  it("announces joins made together in one message to everyone connected", async () => {
    const t = await newTable();
    const watcher = await TestSocket.open(t.gm, t.base);
    const stub = env.SESSION.get(env.SESSION.idFromName(t.sid));
    const joined = await runInDurableObject(stub, async (instance: SessionObject) => {
      const upgrade = () =>
        instance.fetch(
          new Request(`https://vtt.test${t.base}/ws`, {
            headers: {
              upgrade: "websocket",
              [IDENTITY_HEADERS.user]: t.player.id,
              [IDENTITY_HEADERS.role]: "player",
              [IDENTITY_HEADERS.session]: t.sid,
            },
          }),
        );
      const responses = await Promise.all(Array.from({ length: 5 }, upgrade));
      const received: string[][] = [];
      for (const r of responses) {
        expect(r.status).toBe(101);
        const ws = r.webSocket as WebSocket;
        const mine: string[] = [];
        ws.addEventListener("message", (e) => {
          mine.push(String(e.data));
        });
        ws.accept();
        received.push(mine);
      }
      return received.length;
    });
    expect(joined).toBe(5);
    const presence = await watcher.next((m) => m.type === "presence" && Array.isArray(m.joined), "the joins");
    expect(presence.joined).toHaveLength(5);
    expect(new Set(presence.joined.map((c: { client_id: string }) => c.client_id)).size).toBe(5);
    // One message for the five: nothing else announced them.
    const hello = await TestSocket.open(t.gm, t.base);
    await watcher.next((m) => m.type === "presence" && m.joined?.[0]?.client_id === hello.messages[0].client_id, "the next join");
    expect(watcher.all("presence").filter((m) => m.joined)).toHaveLength(2);
  });

  it("tells a socket that joined in the same moment only of the joins after its own", async () => {
    const t = await newTable();
    const a = await TestSocket.open(t.gm, t.base);
    const b = await TestSocket.open(t.player, t.base);
    const aId = a.messages[0].client_id;
    const bId = b.messages[0].client_id;
    // b's first presence lists everyone (a included); a hears of b.
    const list = await b.next((m) => m.type === "presence" && m.clients, "the list");
    expect(list.clients.map((c: { client_id: string }) => c.client_id).sort()).toEqual([aId, bId].sort());
    const heard = await a.next((m) => m.type === "presence" && m.joined, "b's join");
    expect(heard.joined.map((c: { client_id: string }) => c.client_id)).toEqual([bId]);
    b.close();
    const left = await a.next((m) => m.type === "presence" && m.left, "b leaving");
    expect(left.left).toEqual([bId]);
    expect(b.all("presence").some((m) => m.joined?.some((c: { client_id: string }) => c.client_id === bId))).toBe(false);
  });
});
