import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { listBackups } from "../../worker/backup/layout";
import {
  JOB_MAX_RETRIES,
  JOBS_DEAD_LETTER_QUEUE,
  JOBS_QUEUE,
  type JobMessage,
  jobMessage,
  retentionHour,
  retryDelaySeconds,
} from "../../worker/jobs/queue";
import wranglerToml from "../../wrangler.toml?raw";
import { create, newTable, type TestUser } from "../helpers/client";
import { makePng } from "../helpers/images";
import { cronMessages, deliver, recordingD1, tableOn } from "../helpers/jobs";
import { jsonLines } from "../helpers/log-lines";
import { shardByName, shardNameOf, shardNames, shardOf } from "../helpers/shards";
import { exec, one } from "../helpers/sql";
import { upload } from "../helpers/uploads";

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** A time today at `hour`:17 UTC. */
function todayAt(hour: number): Date {
  const at = new Date();
  at.setUTCHours(hour, 17, 0, 0);
  return at;
}

/** An hour of the day that is neither the nightly backup hour (3) nor any of `sessions`' retention hours. */
function quietHour(...sessions: string[]): number {
  const taken = new Set([3, ...sessions.map(retentionHour)]);
  const hour = [...Array(24).keys()].find((h) => !taken.has(h));
  if (hour === undefined) throw new Error("no quiet hour");
  return hour;
}

/** A session with a scene and a token: its change log has rows. */
async function playedTable() {
  const table = await newTable();
  const scene = await create(table.gm, table.base, "scenes", { name: "Crypt" });
  const token = await create(table.gm, table.base, "tokens", { name: "Hero", scene_id: scene.id });
  return { ...table, scene, token };
}

let seed = 0;
async function uploadMap(gm: TestUser, base: string): Promise<string> {
  seed++;
  const png = await makePng(6, 6, { pixel: (x, y) => [seed & 255, 7, x * 40 + y, 255] });
  const r = await upload(gm, base, png);
  if (r.status !== 201) throw new Error(`upload failed: ${JSON.stringify(r.body)}`);
  return r.body.asset.hash;
}

/** Dates every change of the session `ago` ms before `at`. */
async function ageLog(sid: string, at: Date, ago: number) {
  await exec(sid, "UPDATE change_log SET created_at = ? WHERE session_id = ?", new Date(at.getTime() - ago).toISOString(), sid);
}

async function markChecked(sid: string, at: Date) {
  await exec(
    sid,
    "INSERT INTO integrity_runs (session_id, checked_at, open_findings) VALUES (?1, ?2, 0) ON CONFLICT (session_id) DO UPDATE SET checked_at = ?2",
    sid,
    at.toISOString(),
  );
}

/** Sessions written straight to the databases, alternately on each shard: a head on the shard, an entry in the directory. */
async function bulkSessions(gmId: string, ids: string[]): Promise<void> {
  const now = new Date().toISOString();
  const shards = shardNames();
  const placed = ids.map((id, i) => ({ id, i, shard: shards[i % shards.length] as string }));
  for (const shard of shards) {
    const here = placed.filter((p) => p.shard === shard);
    if (here.length === 0) continue;
    const db = shardByName(shard);
    await db.batch(
      here.map(({ id, i }) =>
        db
          .prepare("INSERT INTO game_sessions (id, name, invite_code, created_by, created_at) VALUES (?, ?, ?, ?, ?)")
          .bind(id, `Bulk ${i}`, `bulk-${id}`, gmId, now),
      ),
    );
  }
  await env.DB.batch(
    placed.map(({ id, i, shard }) =>
      env.DB.prepare(
        "INSERT INTO session_directory (session_id, shard, region, name, invite_code, created_by, created_at) VALUES (?, ?, '', ?, ?, ?, ?)",
      ).bind(id, shard, `Bulk ${i}`, `bulk-${id}`, gmId, now),
    ),
  );
}

const mine = (sent: JobMessage[], ...sessions: string[]) =>
  sent
    .filter((m) => sessions.includes(m.session_id))
    .map((m) => `${m.session_id}:${m.kind}`)
    .sort();

describe("the cron sends the due jobs", () => {
  it("sends one message per due session and kind, and none for sessions not due", async () => {
    const active = await playedTable(); // changed just now, has an asset, never checked
    const idle = await playedTable(); // changed three hours ago, checked an hour ago
    const old = await playedTable(); // changed forty days ago: its log is past the 30-day window
    await uploadMap(active.gm, active.base);
    const at = todayAt(quietHour(active.sid, idle.sid, old.sid));
    await ageLog(active.sid, at, 60_000);
    await ageLog(idle.sid, at, 3 * HOUR);
    await ageLog(old.sid, at, 40 * DAY);
    await markChecked(idle.sid, new Date(at.getTime() - HOUR));
    await markChecked(old.sid, new Date(at.getTime() - HOUR));

    const { sent } = await cronMessages(at);
    expect(mine(sent, active.sid, idle.sid, old.sid)).toEqual(
      [`${active.sid}:backup`, `${active.sid}:integrity`, `${active.sid}:assets`, `${active.sid}:retention`, `${old.sid}:compact`].sort(),
    );
    for (const message of sent) {
      expect(jobMessage.parse(message)).toEqual(message);
      expect(message.at).toBe(at.toISOString());
    }
  });

  it("sends every session a backup at the nightly hour, and each session its retention at its own hour", async () => {
    const table = await playedTable();
    await ageLog(table.sid, new Date(), 3 * DAY);
    const nightly = todayAt(3);
    const atNight = mine((await cronMessages(nightly)).sent, table.sid);
    expect(atNight.filter((k) => k.endsWith(":backup"))).toEqual([`${table.sid}:backup`]);

    const own = todayAt(retentionHour(table.sid));
    const atOwnHour = mine((await cronMessages(own)).sent, table.sid);
    expect(atOwnHour.filter((k) => k.endsWith(":retention"))).toEqual([`${table.sid}:retention`]);
    const other = todayAt(quietHour(table.sid));
    expect(mine((await cronMessages(other)).sent, table.sid).filter((k) => k.endsWith(":retention"))).toEqual([]);
  });

  it("sends in batches of at most 100 messages", async () => {
    const { gm } = await newTable();
    const ids = Array.from({ length: 150 }, () => crypto.randomUUID());
    await bulkSessions(gm.id, ids);
    const { sent, batches } = await cronMessages(todayAt(3));
    // Every one of them is due for its nightly backup and its first integrity check.
    expect(mine(sent, ...ids).filter((k) => k.endsWith(":backup") || k.endsWith(":integrity"))).toHaveLength(300);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(sent.length);
    expect(Math.max(...batches)).toBe(100);
    expect(batches.length).toBe(Math.ceil(sent.length / 100));
  });
});

describe("the cron on a sharded service", () => {
  it("sends the sessions of both shards their jobs, each shard listing its own sessions", async () => {
    const one1 = await tableOn("DB_SHARD_1");
    const one2 = await tableOn("DB_SHARD_2");
    const at = todayAt(quietHour(one1.sid, one2.sid));
    await ageLog(one1.sid, at, 60_000);
    await ageLog(one2.sid, at, 60_000);
    const seen: Record<string, string[]> = {};
    const base = { ...env } as Env & Record<string, unknown>;
    for (const name of ["DB", ...shardNames()]) {
      seen[name] = [];
      base[name] = recordingD1(shardByName(name), seen[name]);
    }
    const { sent } = await cronMessages(at, base);
    const kinds = (sid: string) => [`${sid}:backup`, `${sid}:integrity`, `${sid}:retention`];
    expect(mine(sent, one1.sid, one2.sid)).toEqual([...kinds(one1.sid), ...kinds(one2.sid)].sort());
    // The listing of sessions ran on every database, each on its own: no query over all sessions at once.
    for (const name of ["DB", ...shardNames()]) {
      expect(seen[name]?.filter((q) => q.includes("FROM game_sessions ORDER BY created_at"))).toHaveLength(1);
      expect(seen[name]?.filter((q) => q.includes("LEFT JOIN integrity_runs"))).toHaveLength(1);
    }
    expect(await shardNameOf(one1.sid)).toBe("DB_SHARD_1");
    expect(await shardNameOf(one2.sid)).toBe("DB_SHARD_2");
  });

  it("lists a session once: rows left on a shard it moved away from are not its own", async () => {
    const moved = await tableOn("DB_SHARD_1");
    // What a move leaves behind until its cleanup: the head of the session on the other shard.
    await shardByName("DB_SHARD_2")
      .prepare("INSERT INTO game_sessions (id, name, invite_code, created_by, created_at) VALUES (?1, 'Left behind', ?2, ?3, ?4)")
      .bind(moved.sid, `left-${moved.sid}`, moved.gm.id, new Date().toISOString())
      .run();
    const { sent } = await cronMessages(todayAt(3));
    expect(mine(sent, moved.sid)).toEqual([`${moved.sid}:backup`, `${moved.sid}:integrity`, `${moved.sid}:retention`].sort());
  });
});

describe("the queue consumer on a sharded service", () => {
  it("runs each job on the session's own shard", async () => {
    const one1 = await tableOn("DB_SHARD_1");
    const one2 = await tableOn("DB_SHARD_2");
    const at = new Date();
    const { result, ids } = await deliver(
      [one1.sid, one2.sid].map((session_id) => ({ kind: "integrity", session_id, at: at.toISOString() })),
    );
    expect(result.explicitAcks.sort()).toEqual([...ids].sort());
    for (const [sid, shard, other] of [
      [one1.sid, "DB_SHARD_1", "DB_SHARD_2"],
      [one2.sid, "DB_SHARD_2", "DB_SHARD_1"],
    ] as const) {
      const run = (name: string) =>
        shardByName(name).prepare("SELECT checked_at FROM integrity_runs WHERE session_id = ?").bind(sid).first();
      expect(await run(shard)).toEqual({ checked_at: at.toISOString() });
      expect(await run(other)).toBeNull();
      expect(await run("DB")).toBeNull();
    }
  });

  it("retries later, doing nothing, the job of a session the directory marks moving", async () => {
    const { sid } = await tableOn("DB_SHARD_2");
    const message = { kind: "backup", session_id: sid, at: new Date().toISOString() };
    await env.DB.prepare("UPDATE session_directory SET state = 'moving' WHERE session_id = ?").bind(sid).run();
    const spy = vi.spyOn(console, "log");
    try {
      const { result, ids, retries } = await deliver([message], { env: { ...env, JOBS_RETRY_DELAY_SECONDS: "30" } });
      expect(result.explicitAcks).toEqual([]);
      expect(result.retryMessages).toEqual([{ msgId: ids[0] }]);
      expect(retries).toEqual([{ id: ids[0], delaySeconds: 30 }]);
      expect(jsonLines(spy).find((l) => l.session_id === sid)).toMatchObject({
        msg: "job waits for the session's move, retrying later",
        job: "backup",
      });
    } finally {
      spy.mockRestore();
    }
    expect(await listBackups(env.ASSETS, sid)).toEqual([]);
    // Moved (the entry active again): the same message runs.
    await env.DB.prepare("UPDATE session_directory SET state = 'active' WHERE session_id = ?").bind(sid).run();
    const { result, ids } = await deliver([message]);
    expect(result.explicitAcks).toEqual(ids);
    expect((await listBackups(env.ASSETS, sid)).map((r) => r.kind)).toEqual(["full"]);
  });
});

describe("the queue consumer", () => {
  it("runs the job of the message's session only, and acks it", async () => {
    const a = await playedTable();
    const b = await playedTable();
    const at = new Date();
    const { result, ids } = await deliver([
      { kind: "backup", session_id: a.sid, at: at.toISOString() },
      { kind: "integrity", session_id: a.sid, at: at.toISOString() },
    ]);
    expect(result.explicitAcks.sort()).toEqual([...ids].sort());
    expect(result.retryMessages).toEqual([]);
    expect((await listBackups(env.ASSETS, a.sid)).map((r) => r.kind)).toEqual(["full"]);
    expect(await listBackups(env.ASSETS, b.sid)).toEqual([]);
    expect(await one(a.sid, "SELECT checked_at FROM integrity_runs WHERE session_id = ?", a.sid)).toEqual({ checked_at: at.toISOString() });
    expect(await one(b.sid, "SELECT checked_at FROM integrity_runs WHERE session_id = ?", b.sid)).toBeNull();
  });

  it("compacts one session's old, backed-up log and leaves another's alone", async () => {
    const a = await playedTable();
    const b = await playedTable();
    const at = new Date();
    await deliver([
      { kind: "backup", session_id: a.sid, at: at.toISOString() },
      { kind: "backup", session_id: b.sid, at: at.toISOString() },
    ]);
    await ageLog(a.sid, at, 40 * DAY);
    await ageLog(b.sid, at, 40 * DAY);
    const seqA = (await one<{ seq: number }>(a.sid, "SELECT seq FROM game_sessions WHERE id = ?", a.sid))?.seq;
    const { result } = await deliver([{ kind: "compact", session_id: a.sid, at: at.toISOString() }]);
    expect(result.retryMessages).toEqual([]);
    expect(await one(a.sid, "SELECT log_floor FROM game_sessions WHERE id = ?", a.sid)).toEqual({ log_floor: seqA });
    expect(await one(a.sid, "SELECT count(*) AS n FROM change_log WHERE session_id = ?", a.sid)).toEqual({ n: 0 });
    expect(await one(b.sid, "SELECT log_floor FROM game_sessions WHERE id = ?", b.sid)).toEqual({ log_floor: 0 });
    expect((await one<{ n: number }>(b.sid, "SELECT count(*) AS n FROM change_log WHERE session_id = ?", b.sid))?.n).toBeGreaterThan(0);
  });

  it("prunes one session's old clients and leaves another's alone", async () => {
    const a = await newTable();
    const b = await newTable();
    for (const t of [a, b]) {
      await exec(
        t.sid,
        "INSERT INTO session_clients (client_id, session_id, user_id, role, connected_at, last_seen, disconnected_at, capabilities) VALUES (?1, ?2, ?3, 'player', ?4, ?4, ?4, '{}')",
        `old-client-${t.sid}`,
        t.sid,
        t.player.id,
        "2000-01-01T00:00:00.000Z",
      );
    }
    const { result } = await deliver([{ kind: "retention", session_id: a.sid, at: new Date().toISOString() }]);
    expect(result.retryMessages).toEqual([]);
    expect(await one(a.sid, "SELECT client_id FROM session_clients WHERE session_id = ?", a.sid)).toBeNull();
    expect(await one(b.sid, "SELECT client_id FROM session_clients WHERE session_id = ?", b.sid)).toEqual({
      client_id: `old-client-${b.sid}`,
    });
  });

  it("cleans one session's unreferenced assets and leaves another's alone", async () => {
    const a = await newTable();
    const b = await newTable();
    const hashA = await uploadMap(a.gm, a.base);
    const hashB = await uploadMap(b.gm, b.base);
    const longAgo = new Date(Date.now() - 30 * DAY).toISOString();
    await exec(a.sid, "UPDATE assets SET created_at = ?1, last_referenced_at = ?1 WHERE hash = ?2", longAgo, hashA);
    await exec(b.sid, "UPDATE assets SET created_at = ?1, last_referenced_at = ?1 WHERE hash = ?2", longAgo, hashB);
    const { result } = await deliver([{ kind: "assets", session_id: a.sid, at: new Date().toISOString() }]);
    expect(result.retryMessages).toEqual([]);
    expect(await one(a.sid, "SELECT hash FROM assets WHERE session_id = ?", a.sid)).toBeNull();
    expect(await one(a.sid, "SELECT hash FROM asset_deletions WHERE session_id = ?", a.sid)).toEqual({ hash: hashA });
    expect(await one(b.sid, "SELECT hash FROM assets WHERE session_id = ?", b.sid)).toEqual({ hash: hashB });
  });

  it("acks a job of a session that no longer exists, doing nothing", async () => {
    const gone = crypto.randomUUID();
    const { result, ids } = await deliver([{ kind: "backup", session_id: gone, at: new Date().toISOString() }]);
    expect(result.explicitAcks).toEqual(ids);
    expect(await listBackups(env.ASSETS, gone)).toEqual([]);
    for (const name of ["DB", ...shardNames()]) {
      expect(await shardByName(name).prepare("SELECT session_id FROM integrity_runs WHERE session_id = ?").bind(gone).first()).toBeNull();
    }
  });
});

describe("failures", () => {
  /** The real bucket, except that writing a backup's manifest (its last file) fails. */
  function failingWrites(): Env {
    const bucket = env.ASSETS;
    const failing = {
      head: (key: string) => bucket.head(key),
      get: (key: string) => bucket.get(key),
      list: (options?: R2ListOptions) => bucket.list(options),
      delete: (keys: string | string[]) => bucket.delete(keys),
      put: async (key: string, value: string, options?: R2PutOptions) => {
        if (key.endsWith("/manifest.json")) throw new Error("R2 unavailable");
        return bucket.put(key, value, options);
      },
    };
    return { ...env, ASSETS: failing as unknown as R2Bucket };
  }

  it("retries a failed job with a delay instead of acking it, and logs why", async () => {
    const { sid } = await playedTable();
    const spy = vi.spyOn(console, "error");
    try {
      const { result, ids, retries } = await deliver([{ kind: "backup", session_id: sid, at: new Date().toISOString() }], {
        env: { ...failingWrites(), JOBS_RETRY_DELAY_SECONDS: "30" },
        attempts: 3,
      });
      expect(result.explicitAcks).toEqual([]);
      expect(result.retryMessages).toEqual([{ msgId: ids[0] }]);
      expect(retries).toEqual([{ id: ids[0], delaySeconds: 120 }]);
      const line = jsonLines(spy).find((l) => l.msg === "job failed, retrying");
      expect(line).toMatchObject({ level: "error", job: "backup", session_id: sid, attempts: 3, retry_in_seconds: 120 });
      expect(line?.error).toContain("R2 unavailable");
    } finally {
      spy.mockRestore();
    }
    // The files before the failed put are there, the manifest that would make them a backup is not.
    const refs = await listBackups(env.ASSETS, sid);
    expect(refs.map((r) => r.kind)).toEqual(["full"]);
    expect(await env.ASSETS.head(`${refs[0]?.prefix}manifest.json`)).toBeNull();
  });

  it("acks the other messages of a batch when one fails", async () => {
    const a = await playedTable();
    const b = await playedTable();
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      // The integrity check writes no R2 object; the backup does and fails.
      const { result, ids } = await deliver(
        [
          { kind: "backup", session_id: a.sid, at: new Date().toISOString() },
          { kind: "integrity", session_id: b.sid, at: new Date().toISOString() },
        ],
        { env: failingWrites() },
      );
      expect(result.retryMessages.map((m) => m.msgId)).toEqual([ids[0]]);
      expect(result.explicitAcks).toEqual([ids[1]]);
    } finally {
      spy.mockRestore();
    }
  });

  it("redoes a snapshot whose earlier attempt failed half way", async () => {
    const { sid } = await playedTable();
    // A nightly slot already past, so the second attempt's snapshot is stamped later than the first's.
    const at = new Date(todayAt(3).getTime() - DAY);
    const message = { kind: "backup", session_id: sid, at: at.toISOString() };
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      await deliver([message], { env: failingWrites() });
    } finally {
      spy.mockRestore();
    }
    const { result } = await deliver([message]);
    expect(result.retryMessages).toEqual([]);
    const complete = [];
    for (const ref of await listBackups(env.ASSETS, sid)) {
      if (await env.ASSETS.head(`${ref.prefix}manifest.json`)) complete.push(ref.kind);
    }
    expect(complete).toEqual(["full"]);
  });

  it("writes an increment again after an attempt that failed half way", async () => {
    const { gm, base, sid, token } = await playedTable();
    await deliver([{ kind: "backup", session_id: sid, at: new Date().toISOString() }]);
    await gm.req("PATCH", `${base}/tokens/${token.id}`, { name: "Renamed" }, { "if-match": '"1"' });
    const message = { kind: "backup", session_id: sid, at: todayAt(quietHour()).toISOString() };
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      await deliver([message], { env: failingWrites() });
    } finally {
      spy.mockRestore();
    }
    await deliver([message]);
    const seq = (await one<{ seq: number }>(sid, "SELECT seq FROM game_sessions WHERE id = ?", sid))?.seq;
    const complete = [];
    for (const ref of await listBackups(env.ASSETS, sid)) {
      if (await env.ASSETS.head(`${ref.prefix}manifest.json`)) complete.push([ref.kind, ref.toSeq]);
    }
    expect(complete).toEqual([
      ["full", expect.any(Number)],
      ["incr", seq],
    ]);
  });

  it("does not compact rows only an unfinished backup holds", async () => {
    const { sid } = await playedTable();
    const at = new Date();
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      await deliver([{ kind: "backup", session_id: sid, at: at.toISOString() }], { env: failingWrites() });
    } finally {
      spy.mockRestore();
    }
    expect((await listBackups(env.ASSETS, sid)).map((r) => r.kind)).toEqual(["full"]);
    await ageLog(sid, at, 40 * DAY);
    const { result } = await deliver([{ kind: "compact", session_id: sid, at: at.toISOString() }]);
    expect(result.retryMessages).toEqual([]);
    expect(await one(sid, "SELECT log_floor FROM game_sessions WHERE id = ?", sid)).toEqual({ log_floor: 0 });
    expect((await one<{ n: number }>(sid, "SELECT count(*) AS n FROM change_log WHERE session_id = ?", sid))?.n).toBeGreaterThan(0);
  });

  it("doubles the retry delay per attempt, up to an hour", () => {
    const e = { ...env, JOBS_RETRY_DELAY_SECONDS: "30" };
    expect([1, 2, 3, 4, 5, 6, 20].map((n) => retryDelaySeconds(e, n))).toEqual([30, 60, 120, 240, 480, 960, 3600]);
    expect(retryDelaySeconds({ ...env, JOBS_RETRY_DELAY_SECONDS: "nonsense" }, 1)).toBe(30);
  });

  it("says when a message fails its last delivery", async () => {
    const { sid } = await playedTable();
    const spy = vi.spyOn(console, "error");
    try {
      const { result } = await deliver([{ kind: "backup", session_id: sid, at: new Date().toISOString() }], {
        env: failingWrites(),
        attempts: JOB_MAX_RETRIES + 1,
      });
      expect(result.retryMessages).toHaveLength(1);
      expect(jsonLines(spy).find((l) => l.session_id === sid)).toMatchObject({
        msg: "job failed, giving up (to the dead-letter queue)",
        attempts: JOB_MAX_RETRIES + 1,
      });
    } finally {
      spy.mockRestore();
    }
  });

  it("acks malformed messages without running or retrying anything, and logs them", async () => {
    const { sid } = await playedTable();
    const spy = vi.spyOn(console, "error");
    try {
      const bodies = [
        "garbage",
        null,
        { kind: "delete_everything", session_id: sid, at: new Date().toISOString() },
        { kind: "backup", session_id: sid, at: "yesterday" },
        { kind: "backup", session_id: "", at: new Date().toISOString() },
        { kind: "backup", at: new Date().toISOString() },
      ];
      const { result, ids } = await deliver(bodies);
      expect(result.explicitAcks).toEqual(ids);
      expect(result.retryMessages).toEqual([]);
      expect(result.retryBatch.retry).toBe(false);
      const lines = jsonLines(spy).filter((l) => l.msg === "job message malformed, dropped");
      expect(lines.map((l) => l.message_id)).toEqual(ids);
      expect(lines[0]?.body).toBe('"garbage"');
    } finally {
      spy.mockRestore();
    }
    expect(await listBackups(env.ASSETS, sid)).toEqual([]);
  });

  it("logs and acks what reaches the dead-letter queue", async () => {
    const spy = vi.spyOn(console, "error");
    try {
      const body = { kind: "backup", session_id: "s-1", at: new Date().toISOString() };
      const { result, ids } = await deliver([body], { queue: JOBS_DEAD_LETTER_QUEUE });
      expect(result.explicitAcks).toEqual(ids);
      expect(jsonLines(spy).find((l) => l.msg === "job dead-lettered")).toMatchObject({ level: "error", message_id: ids[0], body });
    } finally {
      spy.mockRestore();
    }
  });

  it("names the dead-letter queue and the retry limit in wrangler.toml, as the code counts them", () => {
    const consumer = /\[\[queues\.consumers\]\]\s*\nqueue = "([^"]+)"([\s\S]*?)(?=\n\[|$)/.exec(wranglerToml);
    expect(consumer?.[1]).toBe(JOBS_QUEUE);
    const body = consumer?.[2] ?? "";
    expect(/\nmax_retries = (\d+)/.exec(body)?.[1]).toBe(String(JOB_MAX_RETRIES));
    expect(/\ndead_letter_queue = "([^"]+)"/.exec(body)?.[1]).toBe(JOBS_DEAD_LETTER_QUEUE);
    expect(/\nmax_batch_size = (\d+)/.exec(body)?.[1]).toBeDefined();
    expect(wranglerToml).toMatch(/\[\[queues\.producers\]\]\s*\nbinding = "JOBS"\s*\nqueue = "vtt-jobs"/);
    expect(wranglerToml).toContain(`[[queues.consumers]]\nqueue = "${JOBS_DEAD_LETTER_QUEUE}"`);
  });
});

describe("idempotency: the same message twice", () => {
  it("writes one nightly snapshot, even when the session changed in between", async () => {
    const { gm, base, sid, token } = await playedTable();
    const message = { kind: "backup", session_id: sid, at: todayAt(3).toISOString() };
    await deliver([message]);
    await gm.req("PATCH", `${base}/tokens/${token.id}`, { name: "Renamed" }, { "if-match": '"1"' });
    const { result, ids } = await deliver([message]);
    expect(result.explicitAcks).toEqual(ids);
    expect((await listBackups(env.ASSETS, sid)).map((r) => r.kind)).toEqual(["full"]);
  });

  it("writes one increment", async () => {
    const { gm, base, sid, token } = await playedTable();
    await deliver([{ kind: "backup", session_id: sid, at: new Date().toISOString() }]);
    await gm.req("PATCH", `${base}/tokens/${token.id}`, { name: "Renamed" }, { "if-match": '"1"' });
    const message = { kind: "backup", session_id: sid, at: todayAt(quietHour()).toISOString() };
    await deliver([message]);
    await deliver([message]);
    expect((await listBackups(env.ASSETS, sid)).map((r) => r.kind)).toEqual(["full", "incr"]);
  });

  it("leaves the integrity record, compaction and asset cleanup as after the first", async () => {
    const { gm, base, sid } = await playedTable();
    const hash = await uploadMap(gm, base);
    const at = new Date();
    await deliver([{ kind: "backup", session_id: sid, at: at.toISOString() }]);
    await ageLog(sid, at, 40 * DAY);
    await exec(
      sid,
      "UPDATE assets SET created_at = ?1, last_referenced_at = ?1 WHERE hash = ?2",
      new Date(at.getTime() - 30 * DAY).toISOString(),
      hash,
    );
    await exec(sid, "UPDATE tokens SET scene_id = 'missing' WHERE session_id = ?", sid);
    const messages = (["integrity", "compact", "assets", "retention"] as const).map((kind) => ({
      kind,
      session_id: sid,
      at: at.toISOString(),
    }));
    const shard = await shardOf(sid);
    const snapshot = async () => ({
      runs: (await shard.prepare("SELECT * FROM integrity_runs WHERE session_id = ?").bind(sid).all()).results,
      findings: (await shard.prepare("SELECT * FROM integrity_findings WHERE session_id = ? ORDER BY id").bind(sid).all()).results,
      session: await one(sid, "SELECT seq, log_floor FROM game_sessions WHERE id = ?", sid),
      log: (await shard.prepare("SELECT seq FROM change_log WHERE session_id = ? ORDER BY seq").bind(sid).all()).results,
      baselines: (await shard.prepare("SELECT * FROM entity_baselines WHERE session_id = ? ORDER BY entity_id").bind(sid).all()).results,
      assets: (await shard.prepare("SELECT * FROM assets WHERE session_id = ?").bind(sid).all()).results,
      deletions: (await shard.prepare("SELECT * FROM asset_deletions WHERE session_id = ?").bind(sid).all()).results,
    });
    await deliver(messages);
    const first = await snapshot();
    expect(first.runs).toHaveLength(1);
    expect(first.findings.length).toBeGreaterThan(0);
    expect(first.session).toMatchObject({ log_floor: expect.any(Number) });
    expect((first.session as { log_floor: number }).log_floor).toBeGreaterThan(0);
    expect(first.deletions).toHaveLength(1);
    const { result, ids } = await deliver(messages);
    expect(result.explicitAcks).toEqual(ids);
    expect(await snapshot()).toEqual(first);
  });
});

describe("on the real queue (miniflare)", () => {
  it("delivers a failing job again and again, then to the dead-letter queue", async () => {
    const { sid } = await playedTable();
    // Settings that are not JSON make the compaction throw on every delivery.
    await exec(sid, "UPDATE game_sessions SET settings = '{broken' WHERE id = ?", sid);
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      await env.JOBS.send({ kind: "compact", session_id: sid, at: new Date().toISOString() } satisfies JobMessage);
      await vi.waitUntil(() => jsonLines(spy).some((l) => l.msg === "job dead-lettered" && l.body?.session_id === sid), {
        timeout: 25_000,
        interval: 100,
      });
      const failures = jsonLines(spy).filter((l) => l.session_id === sid && l.msg.startsWith("job failed"));
      expect(failures.map((l) => l.attempts)).toEqual(Array.from({ length: JOB_MAX_RETRIES + 1 }, (_, i) => i + 1));
      expect(failures.at(-1)?.msg).toBe("job failed, giving up (to the dead-letter queue)");
    } finally {
      spy.mockRestore();
      await exec(sid, "UPDATE game_sessions SET settings = '{}' WHERE id = ?", sid);
    }
  });

  it("delivers a malformed message once and never again", async () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      await env.JOBS.send({ kind: "nonsense", marker: "once-only" });
      const seen = () => jsonLines(spy).filter((l) => l.msg === "job message malformed, dropped");
      await vi.waitUntil(() => seen().length > 0, { timeout: 15_000, interval: 100 });
      // Longer than a retry would take (a batch waits a second at most): still only the one delivery.
      await new Promise((r) => setTimeout(r, 3_000));
      expect(seen()).toHaveLength(1);
      expect(jsonLines(spy).filter((l) => l.msg === "job dead-lettered")).toEqual([]);
    } finally {
      spy.mockRestore();
    }
  });
});
