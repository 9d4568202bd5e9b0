import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { writeFullBackup } from "../../worker/backup/backup";
import { compactChangeLogs } from "../../worker/jobs/compact-log";
import { create, newTable, seqOf, type TestUser } from "../helpers/client";
import { shardOf } from "../helpers/shards";
import { TestSocket } from "../helpers/socket";

const longAgo = "2000-01-01T00:00:00.000Z";

async function age(sid: string, upToSeq: number, at = longAgo) {
  await (await shardOf(sid)).prepare("UPDATE change_log SET created_at = ? WHERE session_id = ? AND seq <= ?").bind(at, sid, upToSeq).run();
}

const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();

async function logSeqs(sid: string): Promise<number[]> {
  const { results } = await (await shardOf(sid))
    .prepare("SELECT seq FROM change_log WHERE session_id = ? ORDER BY seq")
    .bind(sid)
    .all<{ seq: number }>();
  return results.map((r) => r.seq);
}

/** A token edited five times: versions 1..6. */
async function editedToken(gm: TestUser, base: string) {
  const token = await create(gm, base, "tokens", { name: "Hero", stats: { hp: 10 } });
  for (let v = 1; v <= 5; v++) {
    const r = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: v * 10, stats: { hp: 10 - v } }, { "if-match": `"${v}"` });
    expect(r.status).toBe(200);
  }
  return token;
}

describe("change-log retention", () => {
  it("compacts rows past the window: replay inside it is unchanged, 410 below it", async () => {
    const { gm, base, sid } = await newTable();
    const token = await editedToken(gm, base);
    const keepFrom = (await seqOf(gm, base)) - 2; // the last two edits stay in the window
    const before = (await gm.req("GET", `${base}/changes?since=${keepFrom}`)).body;
    await writeFullBackup(env, sid, new Date());
    await age(sid, keepFrom);
    const result = await compactChangeLogs(env, new Date());
    expect(result.rows).toBe(keepFrom);
    expect(await logSeqs(sid)).toEqual([keepFrom + 1, keepFrom + 2]);
    expect((await gm.req("GET", `${base}/changes?since=${keepFrom}`)).body).toEqual(before);
    const old = await gm.req("GET", `${base}/changes?since=${keepFrom - 1}`);
    expect(old.status).toBe(410);
    expect((await gm.req("GET", `${base}/tokens/${token.id}`)).body).toMatchObject({ version: 6, x: 50 });
  });

  it("keeps history starting from a baseline, and reverts to any version still in it", async () => {
    const { gm, base, sid } = await newTable();
    const token = await editedToken(gm, base);
    await writeFullBackup(env, sid, new Date());
    await age(sid, (await seqOf(gm, base)) - 2);
    await compactChangeLogs(env, new Date());
    const history = await gm.req("GET", `${base}/tokens/${token.id}/history`);
    expect(history.body.items.map((i: any) => [i.version, i.op])).toEqual([
      [6, "update"],
      [5, "update"],
      [4, "snapshot"],
    ]);
    expect(history.body.items[2].diff).toMatchObject({ name: "Hero", x: 30, stats: { hp: 7 }, version: 4 });
    const revert = await gm.req("POST", `${base}/tokens/${token.id}/revert`, { version: 4, base_version: 6 });
    expect(revert.status).toBe(200);
    expect(revert.body).toMatchObject({ version: 7, x: 30, stats: { hp: 7 } });
    expect((await gm.req("POST", `${base}/tokens/${token.id}/revert`, { version: 2, base_version: 7 })).status).toBe(404);
  });

  it("never compacts what no backup holds yet", async () => {
    const { gm, base, sid } = await newTable();
    await editedToken(gm, base);
    const all = await logSeqs(sid);
    await age(sid, all.length);
    await compactChangeLogs(env, new Date());
    expect(await logSeqs(sid)).toEqual(all);
    // A backup at this seq; later rows, however old, stay until a backup holds them.
    await writeFullBackup(env, sid, new Date());
    const scene = await create(gm, base, "scenes", { name: "Later" });
    await age(sid, all.length + 1);
    await compactChangeLogs(env, new Date());
    expect(await logSeqs(sid)).toEqual([all.length + 1]);
    expect((await gm.req("GET", `${base}/scenes/${scene.id}/history`)).body.items).toHaveLength(1);
  });

  it("keeps rows younger than the window", async () => {
    const { gm, base, sid } = await newTable();
    await editedToken(gm, base);
    await writeFullBackup(env, sid, new Date());
    const all = await logSeqs(sid);
    expect(await compactChangeLogs(env, new Date())).toMatchObject({ rows: 0 });
    expect(await logSeqs(sid)).toEqual(all);
  });
});

describe("per-session retention", () => {
  /** A session whose token was edited five times, backed up, with every change but the last two `days` old. */
  async function agedTable(days: number, retention?: number) {
    const table = await newTable();
    if (retention !== undefined) {
      const set = await table.gm.req("PATCH", `${table.base}/settings`, { retention_days: retention });
      expect(set.status).toBe(200);
      expect(set.body.settings.retention_days).toBe(retention);
    }
    const token = await editedToken(table.gm, table.base);
    const keepFrom = (await seqOf(table.gm, table.base)) - 2;
    await writeFullBackup(env, table.sid, new Date());
    await age(table.sid, keepFrom, daysAgo(days));
    return { ...table, token, keepFrom, all: await logSeqs(table.sid) };
  }

  it("compacts each session by its own window in one run", async () => {
    const short = await agedTable(10, 5); // 10-day-old rows, a 5-day window: compacted
    const byDefault = await agedTable(10); // the deployment's 30 days: kept
    const long = await agedTable(40, 60); // older than 30 days, but a 60-day window: kept
    await compactChangeLogs(env, new Date());
    expect(await logSeqs(short.sid)).toEqual([short.keepFrom + 1, short.keepFrom + 2]);
    expect(await logSeqs(byDefault.sid)).toEqual(byDefault.all);
    expect(await logSeqs(long.sid)).toEqual(long.all);
    expect((await short.gm.req("GET", `${short.base}/changes?since=${short.keepFrom - 1}`)).status).toBe(410);
    expect((await byDefault.gm.req("GET", `${byDefault.base}/changes?since=0`)).status).toBe(200);
    expect((await long.gm.req("GET", `${long.base}/changes?since=0`)).status).toBe(200);
  });

  it("replays inside a session's window unchanged and answers resume below it with reload", async () => {
    const t = await agedTable(3, 2);
    const before = (await t.gm.req("GET", `${t.base}/changes?since=${t.keepFrom}`)).body;
    await compactChangeLogs(env, new Date());
    expect((await t.gm.req("GET", `${t.base}/changes?since=${t.keepFrom}`)).body).toEqual(before);
    const socket = await TestSocket.open(t.gm, t.base);
    try {
      const seq = socket.all("hello")[0].seq;
      socket.send({ type: "resume", since: t.keepFrom - 1 });
      expect(await socket.next((m) => m.type === "reload" || m.type === "resumed")).toEqual({ type: "reload", seq, reason: "gone" });
      socket.send({ type: "resume", since: t.keepFrom });
      const replayed = await socket.next((m) => m.type === "change" || m.type === "resumed");
      expect(replayed).toMatchObject({ type: "change", entity_id: t.token.id, version: 6 });
    } finally {
      socket.close();
    }
  });

  it("keeps history and revert working in a session compacted by its own window", async () => {
    const t = await agedTable(3, 1);
    await compactChangeLogs(env, new Date());
    const history = await t.gm.req("GET", `${t.base}/tokens/${t.token.id}/history`);
    expect(history.body.items.map((i: any) => [i.version, i.op])).toEqual([
      [6, "update"],
      [5, "update"],
      [4, "snapshot"],
    ]);
    const revert = await t.gm.req("POST", `${t.base}/tokens/${t.token.id}/revert`, { version: 4, base_version: 6 });
    expect(revert.status).toBe(200);
    expect(revert.body).toMatchObject({ version: 7, x: 30, stats: { hp: 7 } });
  });

  it("returns to the deployment's window when the setting is cleared", async () => {
    const t = await agedTable(10, 5);
    const cleared = await t.gm.req("PATCH", `${t.base}/settings`, { retention_days: null });
    expect(cleared.status).toBe(200);
    expect(cleared.body.settings).not.toHaveProperty("retention_days");
    await compactChangeLogs(env, new Date());
    expect(await logSeqs(t.sid)).toEqual(t.all);
  });

  it("refuses a window outside 1..365 days and keeps the one set", async () => {
    const { gm, base } = await newTable();
    expect((await gm.req("PATCH", `${base}/settings`, { retention_days: 30 })).status).toBe(200);
    for (const bad of [0, 366, 2.5, "30"]) {
      const r = await gm.req("PATCH", `${base}/settings`, { retention_days: bad });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("bad_request");
    }
    expect((await gm.req("GET", `${base}/settings`)).body.settings.retention_days).toBe(30);
  });
});
