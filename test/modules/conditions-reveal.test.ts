/** Conditions put on a hidden token reach players with the change that shows the token. */
import { describe, expect, it } from "vitest";
import { create, newTable } from "../helpers/client";
import { TestSocket } from "../helpers/socket";

describe("conditions of a token that comes into view", () => {
  it("travel with the reveal, live and in changes?since, except hidden ones", async () => {
    const t = await newTable();
    const scene = await create(t.gm, t.base, "scenes", { name: "Lair" });
    await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {});
    const lurker = await create(t.gm, t.base, "tokens", { name: "Lurker", scene_id: scene.id, hidden: true });
    const socket = await TestSocket.open(t.player, t.base);
    const prone = await create(t.gm, t.base, "conditions", { token_id: lurker.id, kind: "prone" });
    const secret = await create(t.gm, t.base, "conditions", { token_id: lurker.id, kind: "poisoned", hidden: true });
    const since = (await t.player.req("GET", `${t.base}/state`)).body.seq;

    await t.gm.req("PATCH", `${t.base}/tokens/${lurker.id}`, { hidden: false }, { "if-match": '"1"' });
    const reveal = await socket.next((m) => m.type === "change" && m.entity_id === lurker.id, "the reveal");
    expect(reveal.related).toEqual([{ entity_type: "condition", entity: expect.objectContaining({ id: prone.id, kind: "prone" }) }]);
    expect(socket.raw.join("\n")).not.toContain(secret.id);

    const delta = await t.player.req("GET", `${t.base}/changes?since=${since}`);
    const row = delta.body.changes.find((c: { entity_id: string }) => c.entity_id === lurker.id);
    expect(row.related.map((r: { entity: { id: string } }) => r.entity.id)).toEqual([prone.id]);
    socket.close();
  });
});
