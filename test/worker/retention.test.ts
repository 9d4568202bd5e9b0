import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { getDb } from "../../worker/db/client";
import { compactTo } from "../../worker/jobs/compact-log";
import { retentionHour } from "../../worker/jobs/queue";
import { pruneStorage } from "../../worker/jobs/retention";
import { unsyncedBacklog } from "../../worker/metrics/backlog";
import { create, newTable, seqOf } from "../helpers/client";
import { runCron } from "../helpers/jobs";
import { flushSaveMetrics } from "../helpers/save-metrics";
import { shardOf } from "../helpers/shards";

const longAgo = "2000-01-01T00:00:00.000Z";
const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();

/** Rows of a query on the shard of session `sid`. */
async function rows<T = Record<string, unknown>>(sid: string, query: string, ...binds: unknown[]): Promise<T[]> {
  return (
    await (
      await shardOf(sid)
    )
      .prepare(query)
      .bind(...binds)
      .all<T>()
  ).results;
}

/** Rows of a query on the directory (counters, login failures, rate windows). */
async function directoryRows<T = Record<string, unknown>>(query: string, ...binds: unknown[]): Promise<T[]> {
  return (
    await env.DB.prepare(query)
      .bind(...binds)
      .all<T>()
  ).results;
}

async function addClient(sid: string, clientId: string, userId: string, at: { last_seen: string; disconnected_at: string | null }) {
  await (await shardOf(sid))
    .prepare(
      "INSERT INTO session_clients (client_id, session_id, user_id, role, connected_at, last_seen, disconnected_at, capabilities) VALUES (?, ?, ?, 'player', ?, ?, ?, '{}')",
    )
    .bind(clientId, sid, userId, at.last_seen, at.last_seen, at.disconnected_at)
    .run();
}

async function addAck(sid: string, clientId: string, userId: string, eventId: number, at: string) {
  await (await shardOf(sid))
    .prepare("INSERT INTO acknowledgements (session_id, client_id, event_id, user_id, acked_at) VALUES (?, ?, ?, ?, ?)")
    .bind(sid, clientId, eventId, userId, at)
    .run();
}

async function setRetentionDays(sid: string, days: number) {
  await (await shardOf(sid))
    .prepare("UPDATE game_sessions SET settings = json_set(settings, '$.retention_days', ?) WHERE id = ?")
    .bind(days, sid)
    .run();
}

describe("acknowledgements", () => {
  it("keep each client's latest ack inside the window; the backlog reads the same", async () => {
    const { sid, player } = await newTable();
    const [live, gone] = [`c-${crypto.randomUUID()}`, `c-${crypto.randomUUID()}`];
    await addClient(sid, live, player.id, { last_seen: daysAgo(0), disconnected_at: null });
    for (let e = 1; e <= 5; e++) await addAck(sid, live, player.id, e, daysAgo(0));
    await addAck(sid, gone, player.id, 1, longAgo);
    await addAck(sid, gone, player.id, 2, longAgo);
    const backlog = await unsyncedBacklog(await shardOf(sid));
    await pruneStorage(env, new Date());
    expect(await rows(sid, "SELECT client_id, event_id FROM acknowledgements WHERE session_id = ?", sid)).toEqual([
      { client_id: live, event_id: 5 },
    ]);
    expect(await unsyncedBacklog(await shardOf(sid))).toEqual(backlog);
  });

  it("follow a session's own window", async () => {
    const { sid, player } = await newTable();
    await setRetentionDays(sid, 1);
    await addAck(sid, "c-two-days", player.id, 3, daysAgo(2));
    const other = await newTable();
    await addAck(other.sid, "c-two-days", other.player.id, 3, daysAgo(2));
    await pruneStorage(env, new Date());
    expect(await rows(sid, "SELECT event_id FROM acknowledgements WHERE session_id = ?", sid)).toEqual([]);
    expect(await rows(other.sid, "SELECT event_id FROM acknowledgements WHERE session_id = ?", other.sid)).toEqual([{ event_id: 3 }]);
  });
});

describe("applied_ops", () => {
  async function batch(user: Awaited<ReturnType<typeof newTable>>["gm"], base: string, ops: unknown[]) {
    return user.req("POST", `${base}/batch`, { ops });
  }

  it("are pruned at and below the compacted floor and kept above it", async () => {
    const { gm, sid, base } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const early = { op_id: crypto.randomUUID(), entity_type: "token", op: "update", id: token.id, base_version: 1, data: { x: 1 } };
    expect((await batch(gm, base, [early])).status).toBe(200);
    const floor = await seqOf(gm, base);
    const late = { op_id: crypto.randomUUID(), entity_type: "token", op: "update", id: token.id, base_version: 2, data: { x: 2 } };
    const lateReply = await batch(gm, base, [late]);
    await compactTo(getDb(await shardOf(sid)), sid, floor);
    const counts = await pruneStorage(env, new Date());
    expect(counts.applied_ops).toBeGreaterThanOrEqual(1);
    expect(await rows(sid, "SELECT op_id FROM applied_ops WHERE session_id = ?", sid)).toEqual([{ op_id: late.op_id }]);
    // Inside the window a replay is still recognised: the first result, nothing applied again.
    const again = await batch(gm, base, [late]);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(lateReply.body);
    expect((await gm.req("GET", `${base}/tokens/${token.id}`)).body).toMatchObject({ version: 3, x: 2 });
  });

  it("an update replayed after its record was pruned answers 409 with the current entity and applies nothing", async () => {
    const { gm, sid, base } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const op = { op_id: crypto.randomUUID(), entity_type: "token", op: "update", id: token.id, base_version: 1, data: { x: 7 } };
    expect((await batch(gm, base, [op])).status).toBe(200);
    await compactTo(getDb(await shardOf(sid)), sid, await seqOf(gm, base));
    await pruneStorage(env, new Date());
    expect(await rows(sid, "SELECT op_id FROM applied_ops WHERE session_id = ?", sid)).toEqual([]);
    const seq = await seqOf(gm, base);
    const replay = await batch(gm, base, [op]);
    expect(replay.status).toBe(409);
    expect(replay.body.error.details).toMatchObject({ op_id: op.op_id, current: { id: token.id, version: 2, x: 7 } });
    expect(await seqOf(gm, base)).toBe(seq);
  });

  it("a create without an id replayed after its record was pruned answers 409: no second entity", async () => {
    const { gm, sid, base } = await newTable();
    const op = { op_id: crypto.randomUUID(), entity_type: "token", op: "create", data: { name: "Once" } };
    const first = await batch(gm, base, [op]);
    expect(first.status).toBe(200);
    expect(first.body.results[0].entity.id).toBe(op.op_id);
    await compactTo(getDb(await shardOf(sid)), sid, await seqOf(gm, base));
    await pruneStorage(env, new Date());
    const replay = await batch(gm, base, [op]);
    expect(replay.status).toBe(409);
    expect(replay.body.error.details.current).toMatchObject({ id: op.op_id, name: "Once" });
    expect(await rows(sid, "SELECT id FROM tokens WHERE session_id = ? AND name = 'Once'", sid)).toHaveLength(1);
  });
});

describe("a REST write without If-Match", () => {
  it("an archive replayed with an Idempotency-Key after its record was pruned changes nothing more", async () => {
    const { gm, sid, base } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const key = crypto.randomUUID();
    const first = await gm.req("DELETE", `${base}/tokens/${token.id}`, undefined, { "idempotency-key": key });
    expect(first.body).toMatchObject({ version: 2 });
    const inside = await gm.req("DELETE", `${base}/tokens/${token.id}`, undefined, { "idempotency-key": key });
    expect(inside.body).toEqual(first.body);
    await compactTo(getDb(await shardOf(sid)), sid, await seqOf(gm, base));
    await pruneStorage(env, new Date());
    const seq = await seqOf(gm, base);
    const after = await gm.req("DELETE", `${base}/tokens/${token.id}`, undefined, { "idempotency-key": key });
    expect(after.status).toBe(200);
    expect(after.body).toEqual(first.body);
    expect(await seqOf(gm, base)).toBe(seq);
  });
});

describe("session_clients", () => {
  it("are dropped once not seen within the session's window, connected or not", async () => {
    const { sid, player } = await newTable();
    await addClient(sid, "c-old-left", player.id, { last_seen: longAgo, disconnected_at: longAgo });
    await addClient(sid, "c-old-stuck", player.id, { last_seen: longAgo, disconnected_at: null });
    await addClient(sid, "c-recent-left", player.id, { last_seen: daysAgo(2), disconnected_at: daysAgo(2) });
    await addClient(sid, "c-live", player.id, { last_seen: daysAgo(0), disconnected_at: null });
    await pruneStorage(env, new Date());
    const kept = await rows<{ client_id: string }>(
      sid,
      "SELECT client_id FROM session_clients WHERE session_id = ? ORDER BY client_id",
      sid,
    );
    expect(kept.map((r) => r.client_id)).toEqual(["c-live", "c-recent-left"]);
    await setRetentionDays(sid, 1);
    await pruneStorage(env, new Date());
    expect(await rows(sid, "SELECT client_id FROM session_clients WHERE session_id = ?", sid)).toEqual([{ client_id: "c-live" }]);
  });
});

describe("activation_timeline", () => {
  it("folds rows below the floor to the latest activation and each scene's latest map; rows above it stay", async () => {
    const { gm, sid, base } = await newTable();
    const [a, b] = [await create(gm, base, "scenes", { name: "A" }), await create(gm, base, "scenes", { name: "B" })];
    for (const scene of [a, b, a]) await gm.req("POST", `${base}/scenes/${scene.id}/activate`, {});
    const insert = (await shardOf(sid)).prepare(
      "INSERT INTO activation_timeline (session_id, seq, kind, scene_id, map_asset, user_id, created_at) VALUES (?, ?, 'map', ?, ?, ?, ?)",
    );
    const seq = await seqOf(gm, base);
    await insert.bind(sid, seq - 2, a.id, "m1", gm.id, longAgo).run();
    await insert.bind(sid, seq - 1, a.id, "m2", gm.id, longAgo).run();
    await insert.bind(sid, seq, b.id, null, gm.id, longAgo).run();
    await compactTo(getDb(await shardOf(sid)), sid, seq);
    await gm.req("POST", `${base}/scenes/${b.id}/activate`, {});
    await pruneStorage(env, new Date());
    const kept = await rows(
      sid,
      "SELECT seq, kind, scene_id, map_asset FROM activation_timeline WHERE session_id = ? ORDER BY seq, kind",
      sid,
    );
    expect(kept).toEqual([
      { seq: seq - 1, kind: "map", scene_id: a.id, map_asset: "m2" },
      { seq, kind: "map", scene_id: b.id, map_asset: null },
      { seq: seq + 1, kind: "activate", scene_id: b.id, map_asset: null },
    ]);
    const state = await gm.req("GET", `${base}/state`);
    expect(state.body.session_state.active_scene_id).toBe(b.id);
  });

  it("keeps the latest activation below the floor when nothing newer came", async () => {
    const { gm, sid, base } = await newTable();
    const a = await create(gm, base, "scenes", { name: "A" });
    await gm.req("POST", `${base}/scenes/${a.id}/activate`, {});
    await gm.req("POST", `${base}/scenes/${a.id}/activate`, {});
    await compactTo(getDb(await shardOf(sid)), sid, await seqOf(gm, base));
    await pruneStorage(env, new Date());
    expect(await rows(sid, "SELECT kind, scene_id FROM activation_timeline WHERE session_id = ?", sid)).toEqual([
      { kind: "activate", scene_id: a.id },
    ]);
  });
});

describe("integrity_findings", () => {
  it("drop findings resolved before the window and keep open ones however old", async () => {
    const { sid } = await newTable();
    const insert = (await shardOf(sid)).prepare(
      "INSERT INTO integrity_findings (session_id, id, kind, entity_type, entity_id, field, detail, first_seen_at, last_seen_at, resolved_at) VALUES (?, ?, 'dangling_reference', 'token', 't', 'scene_id', '{}', ?, ?, ?)",
    );
    await insert.bind(sid, "open-old", longAgo, longAgo, null).run();
    await insert.bind(sid, "resolved-old", longAgo, longAgo, longAgo).run();
    await insert.bind(sid, "resolved-recent", longAgo, daysAgo(1), daysAgo(1)).run();
    await pruneStorage(env, new Date());
    const kept = await rows<{ id: string }>(sid, "SELECT id FROM integrity_findings WHERE session_id = ? ORDER BY id", sid);
    expect(kept.map((r) => r.id)).toEqual(["open-old", "resolved-recent"]);
  });
});

describe("metric_counters", () => {
  it("stay one row per metric, label set and bucket however many saves are made", async () => {
    const { gm, base, sid } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": '"1"' });
    const count = async () => (await directoryRows<{ n: number }>("SELECT COUNT(*) AS n FROM metric_counters"))[0]?.n ?? 0;
    // Saves reach D1 when the session's object flushes its counters: flushed at each look.
    const sumOf = async () => {
      await flushSaveMetrics(sid);
      return (
        (await directoryRows<{ v: number }>("SELECT SUM(value) AS v FROM metric_counters WHERE name = 'vtt_save_duration_milliseconds'"))[0]
          ?.v ?? 0
      );
    };
    // Saves are counted after the response: wait until the first save is counted.
    for (let i = 0; i < 50 && (await sumOf()) < 2; i++) await new Promise((r) => setTimeout(r, 20));
    const before = await count();
    for (let v = 2; v <= 6; v++) await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: v }, { "if-match": `"${v}"` });
    for (let i = 0; i < 50 && (await sumOf()) < 7; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await sumOf()).toBeGreaterThanOrEqual(7);
    expect(await count()).toBeLessThanOrEqual(before + 2);
  });

  it("drop rows of metric names no longer recorded, keeping the others", async () => {
    await env.DB.prepare("INSERT INTO metric_counters (name, labels, bucket, value) VALUES ('vtt_retired_total', '{}', '', 3)").run();
    await env.DB.prepare(
      "INSERT INTO metric_counters (name, labels, bucket, value) VALUES ('vtt_conflicts_total', '{\"route\":\"retention-test\"}', '', 2) ON CONFLICT DO NOTHING",
    ).run();
    const counts = await pruneStorage(env, new Date());
    expect(counts.metric_counters).toBe(1);
    expect(await directoryRows("SELECT name FROM metric_counters WHERE name = 'vtt_retired_total'")).toEqual([]);
    expect(await directoryRows('SELECT value FROM metric_counters WHERE labels = \'{"route":"retention-test"}\'')).toEqual([{ value: 2 }]);
  });
});

describe("import_results", () => {
  it("drop imports made before the session's window and keep recent ones", async () => {
    const { sid, gm } = await newTable();
    await setRetentionDays(sid, 10);
    const insert = (await shardOf(sid)).prepare(
      "INSERT INTO import_results (session_id, user_id, idempotency_key, body_sha256, result, created_at) VALUES (?, ?, ?, 'h', '{}', ?)",
    );
    await insert.bind(sid, gm.id, "old-key", daysAgo(11)).run();
    await insert.bind(sid, gm.id, "recent-key", daysAgo(9)).run();
    const counts = await pruneStorage(env, new Date());
    expect(counts.import_results).toBeGreaterThanOrEqual(1);
    const kept = await rows<{ idempotency_key: string }>(sid, "SELECT idempotency_key FROM import_results WHERE session_id = ?", sid);
    expect(kept.map((r) => r.idempotency_key)).toEqual(["recent-key"]);
  });
});

describe("login_failures and rate_windows", () => {
  it("drop failures a day old and windows an hour old, keeping current ones", async () => {
    const now = Date.now();
    const name = (n: string) => `retention-${n}-${crypto.randomUUID()}`;
    const [oldUser, newUser, oldKey, newKey] = [name("old"), name("new"), name("old"), name("new")];
    const failure = env.DB.prepare("INSERT INTO login_failures (username, failures, locked_until) VALUES (?, 3, ?)");
    await failure.bind(oldUser, now - 25 * 3_600_000).run();
    await failure.bind(newUser, now - 23 * 3_600_000).run();
    const window = env.DB.prepare("INSERT INTO rate_windows (key, window_start, count) VALUES (?, ?, 4)");
    await window.bind(oldKey, Math.floor(now / 1000) - 2 * 3600).run();
    await window.bind(newKey, Math.floor(now / 1000) - 60).run();
    await pruneStorage(env, new Date(now));
    const users = await directoryRows<{ username: string }>(
      "SELECT username FROM login_failures WHERE username IN (?, ?)",
      oldUser,
      newUser,
    );
    expect(users.map((r) => r.username)).toEqual([newUser]);
    const keys = await directoryRows<{ key: string }>("SELECT key FROM rate_windows WHERE key IN (?, ?)", oldKey, newKey);
    expect(keys.map((r) => r.key)).toEqual([newKey]);
  });
});

describe("the retention job", () => {
  it("does at most its limit per table and run; the next run takes the rest", async () => {
    const { sid, player } = await newTable();
    for (let e = 1; e <= 9; e++) await addAck(sid, "c-many", player.id, e, daysAgo(0));
    // 2 rows a statement, 3 statements a run: 6 of the 8 superseded rows.
    expect((await pruneStorage(env, new Date(), 2, 3)).acknowledgements).toBe(6);
    expect(await rows(sid, "SELECT event_id FROM acknowledgements WHERE session_id = ?", sid)).toHaveLength(3);
    await pruneStorage(env, new Date(), 2, 3);
    expect(await rows(sid, "SELECT event_id FROM acknowledgements WHERE session_id = ?", sid)).toEqual([{ event_id: 9 }]);
  });

  it("runs with the cron trigger, at the session's own hour of the day", async () => {
    const { sid, player } = await newTable();
    await addClient(sid, "c-cron-old", player.id, { last_seen: longAgo, disconnected_at: longAgo });
    const at = new Date();
    at.setUTCHours(retentionHour(sid), 17, 0, 0);
    const sent = await runCron(at);
    expect(sent).toContainEqual({ kind: "retention", session_id: sid, at: at.toISOString() });
    expect(await rows(sid, "SELECT client_id FROM session_clients WHERE session_id = ?", sid)).toEqual([]);
  });
});
