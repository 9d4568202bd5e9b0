import { env, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MUTATION_LIMIT } from "../../domain/rate-limit";
import { WINDOW_LIMITS, type WindowLimitName } from "../../worker/middleware/rate-limit";
import { USER_WRITE_LEASE, userLimiter, userWriteLimit } from "../../worker/session/user-limiter";
import { create, newTable, ORIGIN, type Reply, S, TestUser } from "../helpers/client";
import { shardByName, shardNames } from "../helpers/shards";
import { one } from "../helpers/sql";

afterEach(() => {
  vi.useRealTimers();
});

/** Stops the clock (of the tests and of the objects: they share the isolate), so buckets do not refill. */
function freezeClock() {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.now());
}

function expectLimited(r: Reply | { status: number; body: unknown; headers: Headers }) {
  expect(r.status).toBe(429);
  expect(r.body).toEqual({ error: expect.objectContaining({ code: "rate_limited", message: expect.any(String) }) });
  const retryAfter = Number(r.headers.get("retry-after"));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  return retryAfter;
}

/**
 * Uses up `userId`'s window of `name` as if the attempts had been made this minute. The clock is
 * stopped at the top of the next minute first: a run that crossed into a fresh window between
 * this and the refused request would see it allowed.
 */
async function useUp(name: WindowLimitName, userId: string) {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Math.ceil(Date.now() / 60_000) * 60_000 + 1000);
  const windowStart = Math.floor(Date.now() / 60_000) * 60;
  await env.DB.prepare(
    "INSERT INTO rate_windows (key, window_start, count) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET window_start = excluded.window_start, count = excluded.count",
  )
    .bind(`${name}:user:${userId}`, windowStart, WINDOW_LIMITS[name].fallback)
    .run();
}

async function count(sql: string, ...binds: unknown[]): Promise<number> {
  const row = await env.DB.prepare(sql)
    .bind(...binds)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

describe("session creation", () => {
  it("allows the configured number a minute per user, then answers 429 with Retry-After and creates nothing", async () => {
    const user = await TestUser.register("sc");
    const limit = WINDOW_LIMITS.session_create.fallback;
    // The windows are whole minutes: start at the top of the next one so a slow run cannot cross
    // into a fresh window half-way through the loop.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Math.ceil(Date.now() / 60_000) * 60_000 + 1000);
    for (let i = 0; i < limit; i++) expect((await user.req("POST", "/api/vtt/sessions", { name: `T${i}` })).status).toBe(201);
    const r = await user.req("POST", "/api/vtt/sessions", { name: "one too many" });
    expectLimited(r);
    expect(await count("SELECT COUNT(*) AS n FROM session_directory WHERE created_by = ?", user.id)).toBe(limit);
    let heads = 0;
    for (const shard of shardNames()) {
      const row = await shardByName(shard)
        .prepare("SELECT COUNT(*) AS n FROM game_sessions WHERE created_by = ?")
        .bind(user.id)
        .first<{ n: number }>();
      heads += row?.n ?? 0;
    }
    expect(heads).toBe(limit);
    // Another user is not affected.
    const other = await TestUser.register("sc");
    expect((await other.req("POST", "/api/vtt/sessions", { name: "Mine" })).status).toBe(201);
  });

  it("allows it again in the next minute", async () => {
    const user = await TestUser.register("sc");
    await useUp("session_create", user.id);
    expectLimited(await user.req("POST", "/api/vtt/sessions", { name: "refused" }));
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 61_000);
    expect((await user.req("POST", "/api/vtt/sessions", { name: "later" })).status).toBe(201);
  });
});

describe("backups, restores, integrity checks and exports per user", () => {
  it("refuses a backup past the limit and writes none", async () => {
    const t = await newTable();
    expect((await t.gm.req("POST", `${t.base}/backups`)).status).toBe(201);
    const listed = (await t.gm.req("GET", `${t.base}/backups`)).body.backups.length;
    await useUp("backup", t.gm.id);
    expectLimited(await t.gm.req("POST", `${t.base}/backups`));
    expect((await t.gm.req("GET", `${t.base}/backups`)).body.backups).toHaveLength(listed);
  });

  it("refuses a restore past the limit and changes nothing", async () => {
    const t = await newTable();
    await create(t.gm, t.base, "scenes", { name: "Keep me" });
    const seq = (await t.gm.req("GET", `${t.base}/state`)).body.seq;
    await useUp("restore", t.gm.id);
    expectLimited(await t.gm.req("POST", `${t.base}/restore`, {}));
    expect((await t.gm.req("GET", `${t.base}/state`)).body.seq).toBe(seq);
  });

  it("refuses an integrity check past the limit and records no check", async () => {
    const t = await newTable();
    await useUp("integrity_check", t.gm.id);
    expectLimited(await t.gm.req("POST", `${t.base}/integrity/check`));
    expect((await t.gm.req("GET", `${t.base}/integrity`)).body.checked_at).toBeNull();
  });

  it("refuses an export past the limit", async () => {
    const t = await newTable();
    const scene = await create(t.gm, t.base, "scenes", { name: "Export" });
    const ok = await SELF.fetch(`${ORIGIN}${t.base}/scenes/${scene.id}/export`, { headers: { cookie: t.gm.cookie } });
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
    await useUp("export", t.gm.id);
    const res = await SELF.fetch(`${ORIGIN}${t.base}/scenes/${scene.id}/export`, { headers: { cookie: t.gm.cookie } });
    const body = await res.json();
    expect(res.headers.get("content-type")).toContain("application/json");
    expectLimited({ status: res.status, body, headers: res.headers });
  });

  it("counts per user: a co-GM of the same session is not refused", async () => {
    const t = await newTable();
    const coGm = await TestUser.register("co");
    expect((await t.gm.req("PUT", `${t.base}/members/${coGm.id}`, { role: "gm" })).status).toBe(200);
    await useUp("backup", t.gm.id);
    expectLimited(await t.gm.req("POST", `${t.base}/backups`));
    expect((await coGm.req("POST", `${t.base}/backups`)).status).toBe(201);
  });

  it("counts every attempt, so a limit is reached by real requests", async () => {
    const t = await newTable();
    const limit = WINDOW_LIMITS.integrity_check.fallback;
    for (let i = 0; i < limit; i++) expect((await t.gm.req("POST", `${t.base}/integrity/check`)).status).toBe(200);
    expectLimited(await t.gm.req("POST", `${t.base}/integrity/check`));
    const row = await env.DB.prepare("SELECT count FROM rate_windows WHERE key = ?")
      .bind(`integrity_check:user:${t.gm.id}`)
      .first<{ count: number }>();
    expect(row?.count).toBeGreaterThan(limit);
  });
});

/** Empties `userId`'s bucket across sessions (the clock frozen, so it does not refill). */
async function drain(userId: string) {
  const limiter = userLimiter(env, userId);
  for (let i = 0; i <= MUTATION_LIMIT.burst; i++) {
    if (!(await limiter.takeWrites(1)).ok) return;
  }
  throw new Error("the bucket did not run dry");
}

describe("the write bucket per user across sessions", () => {
  it("grants a lease when the bucket has it, else only the cost, else refuses", async () => {
    freezeClock();
    const limiter = userLimiter(env, `lease-${crypto.randomUUID()}`);
    expect(await limiter.leaseWrites(1, 8)).toEqual({ ok: true, granted: 9 });
    await limiter.takeWrites(MUTATION_LIMIT.burst - 9 - 3);
    expect(await limiter.leaseWrites(2, 8)).toEqual({ ok: true, granted: 2 });
    const refused = await limiter.leaseWrites(2, 8);
    expect(refused).toEqual({ ok: false, retryAfterMs: expect.any(Number) });
    expect(refused.ok === false && refused.retryAfterMs).toBeGreaterThan(0);
  });

  it("defaults to a session's bucket", () => {
    expect(userWriteLimit(env)).toEqual(MUTATION_LIMIT);
    expect(userWriteLimit({ ...env, USER_WRITES_BURST: "50", USER_WRITES_PER_SECOND: "5" } as Env)).toEqual({ burst: 50, per_second: 5 });
  });

  it("draws writes to different sessions from one bucket", async () => {
    const user = await TestUser.register("wb");
    const a = await user.req("POST", "/api/vtt/sessions", { name: "A" });
    const b = await user.req("POST", "/api/vtt/sessions", { name: "B" });
    freezeClock();
    await create(user, S(a.body.session.id), "scenes", { name: "in A" });
    await create(user, S(b.body.session.id), "scenes", { name: "in B" });
    // Each session took the write's cost plus a lease for the next writes, from the one bucket.
    const bucket = await userLimiter(env, user.id).peek();
    expect(bucket?.tokens).toBe(MUTATION_LIMIT.burst - 2 * (1 + USER_WRITE_LEASE));
    // Writes within the lease do not take from the bucket again.
    await create(user, S(a.body.session.id), "scenes", { name: "again in A" });
    expect((await userLimiter(env, user.id).peek())?.tokens).toBe(MUTATION_LIMIT.burst - 2 * (1 + USER_WRITE_LEASE));
  });

  it("refuses a write in a fresh session once the user's bucket is empty: 429, Retry-After, nothing stored", async () => {
    const user = await TestUser.register("wb");
    const sessions: string[] = [];
    for (let i = 0; i < 3; i++) sessions.push((await user.req("POST", "/api/vtt/sessions", { name: `S${i}` })).body.session.id);
    // Writes in the first sessions use the bucket up (as 400 creates across sessions would).
    freezeClock();
    await userLimiter(env, user.id).takeWrites(MUTATION_LIMIT.burst);
    const fresh = sessions[2] ?? "";
    const r = await user.req("POST", `${S(fresh)}/scenes`, { name: "too many" });
    expectLimited(r);
    expect(r.body.error.details).toMatchObject({ scope: "user" });
    expect((await one<{ n: number }>(fresh, "SELECT COUNT(*) AS n FROM scenes WHERE session_id = ?", fresh))?.n).toBe(0);
    // A batch is refused the same way.
    const batch = await user.req("POST", `${S(fresh)}/batch`, {
      ops: [{ op_id: crypto.randomUUID(), entity_type: "scene", op: "create", data: { name: "batched" } }],
    });
    expectLimited(batch);
    expect((await one<{ n: number }>(fresh, "SELECT COUNT(*) AS n FROM scenes WHERE session_id = ?", fresh))?.n).toBe(0);
  });

  it("keeps other users writing while one user's bucket is empty", async () => {
    const t = await newTable();
    const coGm = await TestUser.register("co");
    expect((await t.gm.req("PUT", `${t.base}/members/${coGm.id}`, { role: "gm" })).status).toBe(200);
    freezeClock();
    await drain(t.gm.id);
    // The GM's lease in this session (taken with their last write) runs out, then they are refused.
    let accepted = 0;
    let last = await t.gm.req("POST", `${t.base}/scenes`, { name: "within the lease" });
    while (last.status === 201 && accepted <= USER_WRITE_LEASE) {
      accepted += 1;
      last = await t.gm.req("POST", `${t.base}/scenes`, { name: "within the lease" });
    }
    expectLimited(last);
    expect(accepted).toBeLessThanOrEqual(USER_WRITE_LEASE);
    expect((await coGm.req("POST", `${t.base}/scenes`, { name: "fine" })).status).toBe(201);
  });
});
