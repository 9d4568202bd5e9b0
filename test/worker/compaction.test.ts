import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { writeFullBackup } from "../../worker/backup/backup";
import { compactChangeLogs } from "../../worker/jobs/compact-log";
import { create, newTable, seqOf, type TestUser } from "../helpers/client";

const longAgo = "2000-01-01T00:00:00.000Z";

async function age(sid: string, upToSeq: number) {
  await env.DB.prepare("UPDATE change_log SET created_at = ? WHERE session_id = ? AND seq <= ?").bind(longAgo, sid, upToSeq).run();
}

async function logSeqs(sid: string): Promise<number[]> {
  const { results } = await env.DB.prepare("SELECT seq FROM change_log WHERE session_id = ? ORDER BY seq").bind(sid).all<{ seq: number }>();
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
