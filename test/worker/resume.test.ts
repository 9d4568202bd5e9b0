/**
 * A socket's `resume` replays outside the object's write queue: writes go on meanwhile, and the
 * changes broadcast to the resuming socket are held and sent after `resumed`, past the seq the
 * replay covers, so the socket sees each change once, in seq order.
 */
import { describe, expect, it } from "vitest";
import { create, newTable, seqOf } from "../helpers/client";
import { shardOf } from "../helpers/shards";
import { TestSocket } from "../helpers/socket";
import { d1Seq, failD1, forgetSentTexts, heroTable, recover, streamed, withLog } from "../helpers/write-log";

/** A slow replay: a resume's read of D1 happens only once `openReplay` is called. */
let openGate: (() => void) | undefined;
const slowReplay = (sid: string) =>
  withLog(sid, (_log, object) => {
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    const read = object.replayRead;
    object.replayRead = (...args) => gate.then(() => read(...args));
  });

const openReplay = (sid: string) => withLog(sid, () => openGate?.());

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("resume outside the write queue", () => {
  it("answers a resume from seqs only in the log at once, with D1 failing: `resumed`, not `reload`", async () => {
    const { gm, base, sid, token, before } = await heroTable();
    const resumer = await TestSocket.open(gm, base);
    await failD1(sid);
    const first = gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": '"1"' });
    const second = gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 2 }, { "if-match": '"2"' });
    const live = [
      await resumer.next((m) => m.type === "change" && m.seq === before + 1, "the first change"),
      await resumer.next((m) => m.type === "change" && m.seq === before + 2, "the second change"),
    ];
    const from = resumer.messages.length;
    resumer.send({ type: "resume", since: before });
    expect(await resumer.next((m) => m.type === "resumed" || m.type === "reload", "the resume's answer")).toEqual({
      type: "resumed",
      seq: before + 2,
    });
    // Answered from the log: D1 still has none of it.
    expect(streamed(resumer, from)).toEqual([...live, { type: "resumed", seq: before + 2 }]);
    expect(await withLog(sid, (log) => log.size)).toBe(2);
    expect(await d1Seq(sid)).toBe(before);
    // A resume from the last seq gets nothing but `resumed`.
    const again = resumer.messages.length;
    resumer.send({ type: "resume", since: before + 2 });
    await resumer.next((m) => m.type === "resumed", "the second answer");
    expect(streamed(resumer, again)).toEqual([{ type: "resumed", seq: before + 2 }]);
    await recover(sid);
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    resumer.close();
  });

  it("waits for D1 when a change in the log was not kept as sent, then replays from D1", async () => {
    const { gm, base, sid, token, before } = await heroTable();
    const resumer = await TestSocket.open(gm, base);
    await failD1(sid);
    const write = gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": '"1"' });
    await resumer.next((m) => m.type === "change" && m.seq === before + 1, "the change");
    await forgetSentTexts(sid);
    const from = resumer.messages.length;
    resumer.send({ type: "resume", since: before });
    await pause(100);
    expect(streamed(resumer, from)).toEqual([]);
    await recover(sid);
    await resumer.next((m) => m.type === "resumed" || m.type === "reload", "the resume's answer");
    // From D1: the row as D1 holds it.
    expect(streamed(resumer, from)).toMatchObject([
      { type: "change", seq: before + 1, entity_id: token.id, version: 2, entity: { x: 1 } },
      { type: "resumed", seq: before + 1 },
    ]);
    expect((await write).status).toBe(200);
    resumer.close();
  });

  it("tells the socket to reload when the log cannot answer and D1 does not catch up with it in time", async () => {
    const { gm, base, sid, token, before } = await heroTable();
    const resumer = await TestSocket.open(gm, base);
    await withLog(sid, (log) => {
      log.answerTimeoutMs = 100;
    });
    await failD1(sid);
    const write = gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": '"1"' });
    await resumer.next((m) => m.type === "change" && m.seq === before + 1, "the change");
    await forgetSentTexts(sid);
    const from = resumer.messages.length;
    // Only D1 can answer, and it stays behind.
    resumer.send({ type: "resume", since: before - 1 });
    await resumer.next((m) => m.type === "resumed" || m.type === "reload", "the resume's answer");
    expect(streamed(resumer, from)).toEqual([{ type: "reload", seq: before + 1, reason: "gone" }]);
    expect((await write).status).toBe(503);
    await recover(sid);
    const row = await (await shardOf(sid)).prepare("SELECT version, x FROM tokens WHERE id = ?").bind(token.id).first();
    expect(row).toEqual({ version: 2, x: 1 });
    resumer.close();
  });

  it("answers a player's resume from the log with what the player filter let through live: no hidden token, no GM notes", async () => {
    const { gm, player, base, sid } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "Crypt" });
    await gm.req("POST", `${base}/scenes/${scene.id}/activate`, {});
    const token = await create(gm, base, "tokens", { name: "Scout", scene_id: scene.id, stats: { hp: 9 } });
    const before = await seqOf(gm, base);
    const resumer = await TestSocket.open(player, base);
    const gmSocket = await TestSocket.open(gm, base);
    await failD1(sid);
    const hidden = gm.req("POST", `${base}/tokens`, { name: "Lurker", scene_id: scene.id, hidden: true });
    await gmSocket.next((m) => m.type === "change" && m.seq === before + 1, "the hidden token's creation");
    const notes = gm.req(
      "PATCH",
      `${base}/tokens/${token.id}`,
      { stats: { hp: 8, gm_notes: "secretly a doppelganger" } },
      { "if-match": '"1"' },
    );
    const live = await resumer.next((m) => m.type === "change" && m.seq === before + 2, "the player's change");
    const from = resumer.messages.length;
    resumer.send({ type: "resume", since: before });
    await resumer.next((m) => m.type === "resumed" || m.type === "reload", "the resume's answer");
    expect(streamed(resumer, from)).toEqual([live, { type: "resumed", seq: before + 2 }]);
    expect(live).toMatchObject({ entity_id: token.id, version: 2, entity: { stats: { hp: 8 } } });
    const text = resumer.raw.join("\n");
    expect(text).not.toContain("Lurker");
    expect(text).not.toContain("doppelganger");
    // The GM's resume from the same seq gets both, notes included.
    const gmFrom = gmSocket.messages.length;
    gmSocket.send({ type: "resume", since: before });
    await gmSocket.next((m) => m.type === "resumed", "the GM's answer");
    const gmSeen = streamed(gmSocket, gmFrom);
    expect(gmSeen.map((m) => [m.type, m.seq])).toEqual([
      ["change", before + 1],
      ["change", before + 2],
      ["resumed", before + 2],
    ]);
    expect(gmSeen[1].entity.stats).toEqual({ hp: 8, gm_notes: "secretly a doppelganger" });
    await recover(sid);
    expect((await hidden).status).toBe(201);
    expect((await notes).status).toBe(200);
    resumer.close();
    gmSocket.close();
  });

  it("plans and broadcasts writes while a resume waits for D1, then replays them once, in order", async () => {
    const { gm, base, sid, token, before } = await heroTable();
    const watcher = await TestSocket.open(gm, base);
    const resumer = await TestSocket.open(gm, base);
    await failD1(sid);
    const first = gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": '"1"' });
    await resumer.next((m) => m.type === "change" && m.seq === before + 1, "the first change");
    // The log cannot answer: the resume waits for D1, outside the queue.
    await forgetSentTexts(sid);
    const from = resumer.messages.length;
    resumer.send({ type: "resume", since: before - 1 });
    await pause(50);
    const second = gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 2 }, { "if-match": '"2"' });
    const third = gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 3 }, { "if-match": '"3"' });
    // Planned and broadcast while the resume waits (in the queue they would wait for it).
    expect(await watcher.next((m) => m.type === "change" && m.seq === before + 3, "the third change")).toMatchObject({ version: 4 });
    // Held for the resuming socket.
    expect(streamed(resumer, from)).toEqual([]);
    await recover(sid);
    const resumed = await resumer.next((m) => m.type === "resumed" || m.type === "reload", "the resume's answer");
    expect(resumed).toEqual({ type: "resumed", seq: before + 3 });
    await Promise.all([first, second, third]).then((rs) => expect(rs.map((r) => r.status)).toEqual([200, 200, 200]));
    // The write after it arrives live, right after.
    const fourth = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 4 }, { "if-match": '"4"' });
    expect(fourth.status).toBe(200);
    await resumer.next((m) => m.type === "change" && m.seq === before + 4, "the live change");
    const seen = streamed(resumer, from);
    expect(seen.map((m) => [m.type, m.seq])).toEqual([
      ["change", before + 3],
      ["resumed", before + 3],
      ["change", before + 4],
    ]);
    expect(seen[0]).toMatchObject({ entity_id: token.id, version: 4, entity: { x: 3 } });
    const row = await (await shardOf(sid)).prepare("SELECT version, x FROM tokens WHERE id = ?").bind(token.id).first();
    expect(row).toEqual({ version: 5, x: 4 });
    watcher.close();
    resumer.close();
  });

  it("sends the changes broadcast during a slow replay after `resumed`, each once, in seq order, without gaps", async () => {
    const { gm, base, sid } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const other = await create(gm, base, "tokens", { name: "Sidekick" });
    const before = await seqOf(gm, base);
    const resumer = await TestSocket.open(gm, base);
    const watcher = await TestSocket.open(gm, base);
    await slowReplay(sid);
    const from = resumer.messages.length;
    resumer.send({ type: "resume", since: before - 1 });
    await pause(50);
    // Logged and broadcast while the replay runs; D1 does not have them when it reads.
    await failD1(sid);
    const writes = [
      gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": '"1"' }),
      gm.req("PATCH", `${base}/tokens/${other.id}`, { y: 2 }, { "if-match": '"1"' }),
      gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 3 }, { "if-match": '"2"' }),
    ];
    const live = [];
    for (let s = before + 1; s <= before + 3; s++) live.push(await watcher.next((m) => m.type === "change" && m.seq === s, `change ${s}`));
    expect(streamed(resumer, from)).toEqual([]);
    await openReplay(sid);
    await resumer.next((m) => m.type === "change" && m.seq === before + 3, "the last held change");
    const seen = streamed(resumer, from);
    // The replay (the second token's creation, the last seq D1 holds), `resumed`, then what was held.
    expect(seen.map((m) => [m.type, m.seq])).toEqual([
      ["change", before],
      ["resumed", before],
      ["change", before + 1],
      ["change", before + 2],
      ["change", before + 3],
    ]);
    expect(seen[0]).toMatchObject({ entity_id: other.id, op: "create" });
    // Exactly what the live stream sent.
    expect(seen.slice(2)).toEqual(live);
    await recover(sid);
    expect((await Promise.all(writes)).map((r) => r.status)).toEqual([200, 200, 200]);
    const x = await (await shardOf(sid)).prepare("SELECT x FROM tokens WHERE id = ?").bind(token.id).first<{ x: number }>();
    expect(x?.x).toBe(3);
    resumer.close();
    watcher.close();
  });

  it("holds for a player only what the player filter lets through: no hidden token, no GM notes", async () => {
    const { gm, player, base, sid } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "Crypt" });
    await gm.req("POST", `${base}/scenes/${scene.id}/activate`, {});
    const token = await create(gm, base, "tokens", { name: "Scout", scene_id: scene.id, stats: { hp: 9 } });
    const before = await seqOf(gm, base);
    const resumer = await TestSocket.open(player, base);
    const watcher = await TestSocket.open(player, base);
    const gmSocket = await TestSocket.open(gm, base);
    await slowReplay(sid);
    const from = resumer.messages.length;
    const watched = watcher.messages.length;
    resumer.send({ type: "resume", since: before });
    await pause(50);
    await failD1(sid);
    const hidden = gm.req("POST", `${base}/tokens`, { name: "Lurker", scene_id: scene.id, hidden: true });
    const notes = gm.req(
      "PATCH",
      `${base}/tokens/${token.id}`,
      { stats: { hp: 8, gm_notes: "secretly a doppelganger" } },
      { "if-match": '"1"' },
    );
    await gmSocket.next((m) => m.type === "change" && m.seq === before + 2, "the GM's second change");
    await watcher.next((m) => m.type === "change" && m.seq === before + 2, "the player's change");
    await openReplay(sid);
    await resumer.next((m) => m.type === "change" && m.seq === before + 2, "the held change");
    const seen = streamed(resumer, from);
    expect(seen.map((m) => [m.type, m.seq])).toEqual([
      ["resumed", before],
      ["change", before + 2],
    ]);
    expect(seen[1]).toMatchObject({ entity_id: token.id, version: 2, entity: { stats: { hp: 8 } } });
    // The same as a player's live socket got, and nothing of the hidden token or the notes.
    expect(seen.slice(1)).toEqual(streamed(watcher, watched));
    const text = resumer.raw.join("\n");
    expect(text).not.toContain("Lurker");
    expect(text).not.toContain("doppelganger");
    await recover(sid);
    expect((await hidden).status).toBe(201);
    expect((await notes).status).toBe(200);
    const stored = await (await shardOf(sid))
      .prepare("SELECT count(*) AS n FROM tokens WHERE session_id = ? AND name = 'Lurker'")
      .bind(sid)
      .first<{ n: number }>();
    expect(stored?.n).toBe(1);
    resumer.close();
    watcher.close();
    gmSocket.close();
  });

  it("tells a resuming socket to reload once more changes than its bound were held, and sends nothing of the replay", async () => {
    const { gm, base, sid, token, before } = await heroTable();
    const resumer = await TestSocket.open(gm, base);
    const watcher = await TestSocket.open(gm, base);
    await withLog(sid, (_log, object) => {
      object.resumeHoldMax = 2;
    });
    await slowReplay(sid);
    const from = resumer.messages.length;
    resumer.send({ type: "resume", since: before - 1 });
    await pause(50);
    const writes = [];
    for (let v = 1; v <= 3; v++) {
      writes.push(await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: v }, { "if-match": `"${v}"` }));
    }
    expect(writes.map((r) => r.status)).toEqual([200, 200, 200]);
    await resumer.next((m) => m.type === "reload", "the reload");
    await openReplay(sid);
    // The next write goes to the socket live: nothing of the replay came before it.
    await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 4 }, { "if-match": '"4"' });
    await watcher.next((m) => m.type === "change" && m.seq === before + 4, "the watcher's change");
    await resumer.next((m) => m.type === "change" && m.seq === before + 4, "the live change");
    expect(streamed(resumer, from).map((m) => [m.type, m.seq])).toEqual([
      ["reload", before + 3],
      ["change", before + 4],
    ]);
    expect(streamed(resumer, from)[0]).toEqual({ type: "reload", seq: before + 3, reason: "gone" });
    resumer.close();
    watcher.close();
  });
});
