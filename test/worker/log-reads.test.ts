/**
 * Reads of seqs D1 does not hold yet are answered from the session's write log: a socket's
 * `resume` from before the log and `GET changes?since=` get D1's rows up to the seq D1 holds, then
 * the log's changes after it, as each audience was sent them, at once: no wait for D1, no reload.
 * Also after the object restarted with its log still waiting for D1.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { SessionObject } from "../../worker/session/session-object";
import { create, newTable, seqOf, type TestUser } from "../helpers/client";
import { makePng } from "../helpers/images";
import { shardOf } from "../helpers/shards";
import { TestSocket } from "../helpers/socket";
import { upload } from "../helpers/uploads";
import { d1Seq, failD1, forgetSentTexts, heroTable, recover, sessionStub, streamed, withLog } from "../helpers/write-log";

const answerOf = (socket: TestSocket) => socket.next((m) => m.type === "resumed" || m.type === "reload", "the resume's answer");

/** D1's change log: seqs 1…`last`, each once. */
async function expectGapFreeUpTo(sid: string, last: number): Promise<void> {
  const { results } = await (await shardOf(sid))
    .prepare("SELECT seq FROM change_log WHERE session_id = ? ORDER BY seq")
    .bind(sid)
    .all<{ seq: number }>();
  expect(results.map((r) => r.seq)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
}

/**
 * D1 refuses the log's commits, and a writer is answered 503 after 100 ms (so a read that waits
 * for D1, as before, gives up at once and reloads instead of hanging the test).
 */
async function holdInLog(sid: string): Promise<void> {
  await failD1(sid);
  await withLog(sid, (log) => {
    log.answerTimeoutMs = 100;
  });
}

const changes = (user: TestUser, base: string, since: number) => user.req("GET", `${base}/changes?since=${since}`);

/** A session with an active scene, a visible token and a hidden one's place in it. */
async function sceneTable() {
  const t = await newTable();
  const scene = await create(t.gm, t.base, "scenes", { name: "Crypt" });
  await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {});
  const scout = await create(t.gm, t.base, "tokens", { name: "Scout", scene_id: scene.id, stats: { hp: 9 } });
  return { ...t, scene, scout, before: await seqOf(t.gm, t.base) };
}

/**
 * Logged, with D1 refusing them: a hidden token's creation (before+1), GM notes on the visible
 * token (before+2), then the visible token hidden (before+3). Returns the writes' answers.
 */
async function logSecrets(t: Awaited<ReturnType<typeof sceneTable>>, gmSocket: TestSocket) {
  await holdInLog(t.sid);
  const writes = [
    await t.gm.req("POST", `${t.base}/tokens`, { name: "Lurker", scene_id: t.scene.id, hidden: true }),
    await t.gm.req(
      "PATCH",
      `${t.base}/tokens/${t.scout.id}`,
      { stats: { hp: 8, gm_notes: "secretly a doppelganger" } },
      { "if-match": '"1"' },
    ),
    await t.gm.req("PATCH", `${t.base}/tokens/${t.scout.id}`, { hidden: true }, { "if-match": '"2"' }),
  ];
  await gmSocket.next((m) => m.type === "change" && m.seq === t.before + 3, "the last logged change");
  // Logged and broadcast, not in D1: the writers were told so.
  expect(writes.map((w) => [w.status, w.body.error?.details?.reason])).toEqual([
    [503, "not_yet_durable"],
    [503, "not_yet_durable"],
    [503, "not_yet_durable"],
  ]);
  expect(await withLog(t.sid, (log) => log.size)).toBe(3);
  expect(await d1Seq(t.sid)).toBe(t.before);
}

describe("resume from before the write log, with D1 failing", () => {
  it("gives a GM D1's rows, then the log's changes as broadcast, then `resumed`, at once; after recovery nothing twice", async () => {
    const { gm, base, sid, token, before } = await heroTable();
    const resumer = await TestSocket.open(gm, base);
    await holdInLog(sid);
    const writes = [
      await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": '"1"' }),
      await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 2 }, { "if-match": '"2"' }),
    ];
    expect(writes.map((w) => w.status)).toEqual([503, 503]);
    const live = [
      await resumer.next((m) => m.type === "change" && m.seq === before + 1, "the first change"),
      await resumer.next((m) => m.type === "change" && m.seq === before + 2, "the second change"),
    ];
    const from = resumer.messages.length;
    // From before the log: the token's creation (seq `before`) is in D1, its updates only in the log.
    resumer.send({ type: "resume", since: before - 1 });
    expect(await answerOf(resumer)).toEqual({ type: "resumed", seq: before + 2 });
    const seen = streamed(resumer, from);
    expect(seen.map((m) => [m.type, m.seq])).toEqual([
      ["change", before],
      ["change", before + 1],
      ["change", before + 2],
      ["resumed", before + 2],
    ]);
    expect(seen[0]).toMatchObject({ entity_id: token.id, op: "create", version: 1 });
    expect(seen.slice(1, 3)).toEqual(live);
    // Nothing reached D1 meanwhile.
    expect(await d1Seq(sid)).toBe(before);
    expect(await withLog(sid, (log) => log.size)).toBe(2);

    // D1 back: the log lands once, gap-free, and the next write reaches the socket once, live.
    expect(await recover(sid)).toBe(0);
    await expectGapFreeUpTo(sid, before + 2);
    expect(await (await shardOf(sid)).prepare("SELECT version, x FROM tokens WHERE id = ?").bind(token.id).first()).toEqual({
      version: 3,
      x: 2,
    });
    const next = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 3 }, { "if-match": '"3"' });
    expect(next.status).toBe(200);
    await resumer.next((m) => m.type === "change" && m.seq === before + 3, "the next change");
    const changeSeqs = streamed(resumer, from)
      .filter((m) => m.type === "change")
      .map((m) => m.seq);
    expect(changeSeqs).toEqual([before, before + 1, before + 2, before + 3]);
    await expectGapFreeUpTo(sid, before + 3);
    resumer.close();
  });

  it("gives a player what the player filter let through live: no hidden token, no GM notes, the removal", async () => {
    const t = await sceneTable();
    const { player, gm, base, sid, before, scout } = t;
    const resumer = await TestSocket.open(player, base);
    const watcher = await TestSocket.open(player, base);
    const gmSocket = await TestSocket.open(gm, base);
    const watched = watcher.messages.length;
    await logSecrets(t, gmSocket);
    await watcher.next((m) => m.type === "change" && m.seq === before + 3, "the player's removal");
    const from = resumer.messages.length;
    resumer.send({ type: "resume", since: before - 1 });
    expect(await answerOf(resumer)).toEqual({ type: "resumed", seq: before + 3 });
    const seen = streamed(resumer, from);
    // D1's row of the visible token's creation, then exactly what a player's live socket got.
    expect(seen[0]).toMatchObject({ type: "change", seq: before, entity_id: scout.id, op: "create", entity: { stats: { hp: 9 } } });
    expect(seen.slice(1, -1)).toEqual(streamed(watcher, watched));
    expect(seen.slice(1).map((m) => [m.type, m.seq, m.removed ?? false])).toEqual([
      ["change", before + 2, false],
      ["change", before + 3, true],
      ["resumed", before + 3, false],
    ]);
    expect(seen[1].entity.stats).toEqual({ hp: 8 });
    const text = resumer.raw.join("\n");
    expect(text).not.toContain("Lurker");
    expect(text).not.toContain("doppelganger");

    // The GM's resume from the same seq gets everything, notes included.
    const gmFrom = gmSocket.messages.length;
    gmSocket.send({ type: "resume", since: before - 1 });
    expect(await answerOf(gmSocket)).toEqual({ type: "resumed", seq: before + 3 });
    const gmSeen = streamed(gmSocket, gmFrom);
    expect(gmSeen.map((m) => m.seq)).toEqual([before, before + 1, before + 2, before + 3, before + 3]);
    expect(gmSeen[1]).toMatchObject({ op: "create", entity: { name: "Lurker", hidden: true } });
    expect(gmSeen[2].entity.stats).toEqual({ hp: 8, gm_notes: "secretly a doppelganger" });

    expect(await recover(sid)).toBe(0);
    await expectGapFreeUpTo(sid, before + 3);
    const lurkers = await (await shardOf(sid))
      .prepare("SELECT count(*) AS n FROM tokens WHERE session_id = ? AND name = 'Lurker'")
      .bind(sid)
      .first<{ n: number }>();
    expect(lurkers?.n).toBe(1);
    resumer.close();
    watcher.close();
    gmSocket.close();
  });
});

describe("GET changes?since= past the seq D1 holds, with D1 failing", () => {
  it("answers a GM from the log: D1's seq, a seq inside the log and one before it; after recovery the same from D1", async () => {
    const { gm, base, sid } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const other = await create(gm, base, "tokens", { name: "Sidekick" });
    const before = await seqOf(gm, base);
    await holdInLog(sid);
    const writes = [
      await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": '"1"' }),
      await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 2 }, { "if-match": '"2"' }),
      await gm.req("PATCH", `${base}/tokens/${other.id}`, { y: 5 }, { "if-match": '"1"' }),
    ];
    expect(writes.map((w) => w.status)).toEqual([503, 503, 503]);
    expect(await d1Seq(sid)).toBe(before);

    // From D1's seq: one row per entity, its latest, in seq order.
    const fromD1 = await changes(gm, base, before);
    expect(fromD1.status).toBe(200);
    expect(fromD1.headers.get("etag")).toBe(`"${before + 3}"`);
    expect(fromD1.body.seq).toBe(before + 3);
    expect(fromD1.body.changes.map((c: any) => [c.seq, c.entity_id, c.version])).toEqual([
      [before + 2, token.id, 3],
      [before + 3, other.id, 2],
    ]);
    expect(fromD1.body.changes[0].entity).toMatchObject({ x: 2, version: 3 });
    // Ahead of D1 (a client that saw the first change live).
    const inside = await changes(gm, base, before + 1);
    expect(inside.status).toBe(200);
    expect(inside.body).toEqual({ seq: before + 3, changes: fromD1.body.changes });
    // From before the log: D1's row, then the log's.
    const older = await changes(gm, base, before - 2);
    expect(older.status).toBe(200);
    expect(older.body.changes.map((c: any) => [c.seq, c.entity_id])).toEqual([
      [before + 2, token.id],
      [before + 3, other.id],
    ]);
    // The last seq: nothing more.
    const last = await changes(gm, base, before + 3);
    expect(last.body).toEqual({ seq: before + 3, changes: [] });
    expect(await d1Seq(sid)).toBe(before);

    // D1 back: the same answer, now from D1; the log landed once, gap-free.
    expect(await recover(sid)).toBe(0);
    await expectGapFreeUpTo(sid, before + 3);
    const after = await changes(gm, base, before);
    expect(after.body).toEqual(fromD1.body);
    const rows = await (await shardOf(sid))
      .prepare("SELECT id, version, x, y FROM tokens WHERE session_id = ? ORDER BY name")
      .bind(sid)
      .all();
    expect(rows.results).toEqual([
      { id: token.id, version: 3, x: 2, y: 0 },
      { id: other.id, version: 2, x: 0, y: 5 },
    ]);
  });

  it("answers a player through the player filter: no hidden token, no GM notes, the removal", async () => {
    const t = await sceneTable();
    const { player, gm, base, sid, before, scout } = t;
    const gmSocket = await TestSocket.open(gm, base);
    // Before the hide: a poll from D1's seq sees the notes' change without the notes.
    await holdInLog(sid);
    await gm.req("POST", `${base}/tokens`, { name: "Lurker", scene_id: t.scene.id, hidden: true });
    await gm.req("PATCH", `${base}/tokens/${scout.id}`, { stats: { hp: 8, gm_notes: "secretly a doppelganger" } }, { "if-match": '"1"' });
    const seen = await changes(player, base, before);
    expect(seen.status).toBe(200);
    expect(seen.body).toEqual({
      seq: before + 2,
      changes: [
        expect.objectContaining({
          seq: before + 2,
          entity_id: scout.id,
          version: 2,
          entity: expect.objectContaining({ stats: { hp: 8 } }),
        }),
      ],
    });
    await gm.req("PATCH", `${base}/tokens/${scout.id}`, { hidden: true }, { "if-match": '"2"' });
    await gmSocket.next((m) => m.type === "change" && m.seq === before + 3, "the hide");
    // From before the log: D1's row of the token, replaced by its latest: the removal.
    const older = await changes(player, base, before - 1);
    expect(older.status).toBe(200);
    expect(older.body).toEqual({
      seq: before + 3,
      changes: [{ seq: before + 3, entity_type: "token", entity_id: scout.id, version: 3, op: "update", removed: true }],
    });
    const text = JSON.stringify([seen.body, older.body]);
    expect(text).not.toContain("Lurker");
    expect(text).not.toContain("doppelganger");
    // The GM gets all three.
    const gmSeen = await changes(gm, base, before);
    expect(gmSeen.body.changes.map((c: any) => [c.seq, c.entity.name])).toEqual([
      [before + 1, "Lurker"],
      [before + 3, "Scout"],
    ]);
    expect(await d1Seq(sid)).toBe(before);

    expect(await recover(sid)).toBe(0);
    await expectGapFreeUpTo(sid, before + 3);
    // From D1 the same but for the removal of a token created after `since` (never sent: nothing to remove).
    expect((await changes(player, base, before)).body).toEqual(older.body);
    expect((await changes(player, base, before - 1)).body).toEqual({ seq: before + 3, changes: [] });
    gmSocket.close();
  });
});

describe("GET changes?since= past D1: what hangs on a token, and when the log cannot answer", () => {
  it("keeps the art that came with a token's reveal on the token's latest row", async () => {
    const t = await newTable();
    const scene = await create(t.gm, t.base, "scenes", { name: "Lair" });
    await t.gm.req("POST", `${t.base}/scenes/${scene.id}/activate`, {});
    const lurker = await create(t.gm, t.base, "tokens", { name: "Lurker", scene_id: scene.id, hidden: true });
    const face = await upload(t.gm, t.base, await makePng(40, 40), { filename: "face.png", kind: "token" });
    expect(face.status).toBe(201);
    const art = await create(t.gm, t.base, "token-art", { token_id: lurker.id, image_asset: face.body.asset.hash });
    const before = await seqOf(t.gm, t.base);
    await holdInLog(t.sid);
    // Shown (the change carries the art), then moved (it does not).
    await t.gm.req("PATCH", `${t.base}/tokens/${lurker.id}`, { hidden: false }, { "if-match": '"1"' });
    await t.gm.req("PATCH", `${t.base}/tokens/${lurker.id}`, { x: 4 }, { "if-match": '"2"' });
    expect(await withLog(t.sid, (log) => log.size)).toBe(2);

    const delta = await changes(t.player, t.base, before);
    expect(delta.status).toBe(200);
    expect(delta.body.seq).toBe(before + 2);
    expect(delta.body.changes).toEqual([
      expect.objectContaining({
        seq: before + 2,
        entity_id: lurker.id,
        version: 3,
        entity: expect.objectContaining({ hidden: false, x: 4 }),
        related: [{ entity_type: "token_art", entity: expect.objectContaining({ id: art.id }) }],
      }),
    ]);
    expect(await recover(t.sid)).toBe(0);
    await expectGapFreeUpTo(t.sid, before + 2);
  });

  it("answers from D1 alone, as before, when a logged change was not kept as sent", async () => {
    const { gm, base, sid, token, before } = await heroTable();
    await holdInLog(sid);
    expect((await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": '"1"' })).status).toBe(503);
    expect((await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 2 }, { "if-match": '"2"' })).status).toBe(503);
    await forgetSentTexts(sid);
    // What D1 holds, consistent, without the log's part; ahead of D1 it waits for D1 and gives up.
    expect((await changes(gm, base, before)).body).toEqual({ seq: before, changes: [] });
    const ahead = await changes(gm, base, before + 1);
    expect(ahead.status).toBe(410);
    expect(ahead.body.error).toMatchObject({ code: "gone", details: { seq: before } });
    expect(await recover(sid)).toBe(0);
    const landed = await changes(gm, base, before);
    expect(landed.body.changes).toEqual([
      expect.objectContaining({ seq: before + 2, entity_id: token.id, entity: expect.objectContaining({ x: 2 }) }),
    ]);
  });
});

describe("GET changes?since= when the session object cannot be reached", () => {
  it("answers from D1 alone instead of failing", async () => {
    const { gm, base, sid, token, before } = await heroTable();
    expect((await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 5 }, { "if-match": '"1"' })).status).toBe(200);
    // The object's log read and its wait for D1 throw, as an object reset by a deploy does.
    await runInDurableObject(sessionStub(sid), (object: SessionObject) => {
      const unreachable = () => Promise.reject(new Error("Durable Object reset because its code was updated"));
      Object.assign(object, { readLog: unreachable, settle: unreachable });
    });
    const read = await changes(gm, base, before);
    expect(read.status).toBe(200);
    expect(read.body).toEqual({
      seq: before + 1,
      changes: [expect.objectContaining({ seq: before + 1, entity_id: token.id, entity: expect.objectContaining({ x: 5 }) })],
    });
    // Whether the log holds more is unknown: not a 304, but what D1 holds (nothing newer).
    const current = await gm.req("GET", `${base}/changes?since=${before + 1}`, undefined, { "if-none-match": `"${before + 1}"` });
    expect(current.status).toBe(200);
    expect(current.body).toEqual({ seq: before + 1, changes: [] });
    // Ahead of D1 with nobody to wait for: the client is told to reload, not a server error.
    const ahead = await changes(gm, base, before + 3);
    expect(ahead.status).toBe(410);
    expect(ahead.body.error).toMatchObject({ code: "gone" });
  });
});

describe("reads past D1 after the object restarted with its log waiting", () => {
  it("answers resumes (GM and player) and changes?since from the log read back; after recovery nothing twice", async () => {
    const t = await sceneTable();
    const { player, gm, base, sid, before, scout } = t;
    const gmSocket = await TestSocket.open(gm, base);
    await logSecrets(t, gmSocket);
    gmSocket.close();

    // A new instance reads the log back; D1 keeps refusing it.
    await evictDurableObject(sessionStub(sid));
    await holdInLog(sid);
    expect(await withLog(sid, (log) => log.size)).toBe(3);

    const gmResumer = await TestSocket.open(gm, base);
    const playerResumer = await TestSocket.open(player, base);
    expect(gmResumer.messages[0]).toMatchObject({ type: "hello", seq: before + 3 });
    const gmFrom = gmResumer.messages.length;
    gmResumer.send({ type: "resume", since: before - 1 });
    expect(await answerOf(gmResumer)).toEqual({ type: "resumed", seq: before + 3 });
    const gmSeen = streamed(gmResumer, gmFrom);
    expect(gmSeen.map((m) => m.seq)).toEqual([before, before + 1, before + 2, before + 3, before + 3]);
    expect(gmSeen[1]).toMatchObject({ entity: { name: "Lurker" } });
    expect(gmSeen[3]).toMatchObject({ entity_id: scout.id, version: 3, entity: { hidden: true } });

    const from = playerResumer.messages.length;
    playerResumer.send({ type: "resume", since: before });
    expect(await answerOf(playerResumer)).toEqual({ type: "resumed", seq: before + 3 });
    const seen = streamed(playerResumer, from);
    expect(seen.map((m) => [m.seq, m.removed ?? false])).toEqual([
      [before + 2, false],
      [before + 3, true],
      [before + 3, false],
    ]);
    expect(seen[0].entity.stats).toEqual({ hp: 8 });
    expect(playerResumer.raw.join("\n")).not.toMatch(/Lurker|doppelganger/);

    const polled = await changes(player, base, before);
    expect(polled.status).toBe(200);
    expect(polled.body).toEqual({
      seq: before + 3,
      changes: [{ seq: before + 3, entity_type: "token", entity_id: scout.id, version: 3, op: "update", removed: true }],
    });
    const gmPolled = await changes(gm, base, before);
    expect(gmPolled.body.changes.map((c: any) => [c.seq, c.entity.name])).toEqual([
      [before + 1, "Lurker"],
      [before + 3, "Scout"],
    ]);
    expect(await d1Seq(sid)).toBe(before);

    // D1 back: landed once, gap-free; the next change reaches both sockets once, after the replay.
    expect(await recover(sid)).toBe(0);
    await expectGapFreeUpTo(sid, before + 3);
    const next = await gm.req("PATCH", `${base}/tokens/${scout.id}`, { hidden: false }, { "if-match": '"3"' });
    expect(next.status).toBe(200);
    await playerResumer.next((m) => m.type === "change" && m.seq === before + 4, "the token shown again");
    await gmResumer.next((m) => m.type === "change" && m.seq === before + 4, "the GM's change");
    expect(
      streamed(gmResumer, gmFrom)
        .filter((m) => m.type === "change")
        .map((m) => m.seq),
    ).toEqual([before, before + 1, before + 2, before + 3, before + 4]);
    await expectGapFreeUpTo(sid, before + 4);
    const lurkers = await (await shardOf(sid))
      .prepare("SELECT count(*) AS n FROM tokens WHERE session_id = ? AND name = 'Lurker'")
      .bind(sid)
      .first<{ n: number }>();
    expect(lurkers?.n).toBe(1);
    gmResumer.close();
    playerResumer.close();
  });
});
