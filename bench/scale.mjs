/**
 * The "scale" benchmark: many sessions across the session shards (docs/capacity.md "Measured
 * across shards").
 *
 * The suite starts its own servers (bench/lib/server.mjs), each fresh, both up at once:
 *   A. one shard:  `--var SHARDS:{"DB_SHARD_1":"enam"}` (the baseline),
 *   B. two shards: `--var SHARDS:{"DB_SHARD_1":"enam","DB_SHARD_2":"enam"}`, with ADMIN_TOKEN.
 * (One region for both shards: wrangler dev gives every request miniflare's placeholder
 * `request.cf`, in Texas, so with wrangler.toml's regions every local session would be placed on
 * the enam shard; in one region placement goes by load.)
 * On each: three users register; 1,000 sessions (90 with --quick) are created, a third by each
 * user, eight at a time (placement: the least loaded shard of the region), each with a scene and
 * six tokens, the other two users added as co-GMs. Then the same workload
 * on both, in rounds taking turns (A B, B A, ...): three writers, each in a few loops, every loop
 * going round its own share of the sessions writing its own tokens (a PATCH with If-Match, every
 * fifth write a batch of two updates), bounded in count and time; writes/s and p50/p99 per write,
 * A beside B. Then A is stopped.
 *
 * Then, from the persist dir's SQLite files (bench/lib/d1-files.mjs; no server route lists rows
 * per database), after write-behind caught up: every session's rows (head, state, scenes,
 * tokens, change log, idempotency records) are on the shard the directory lists, on no other
 * database, and every token's version in D1 is the one its last acknowledged write answered.
 *
 * Last, on B: a session with many tokens is moved to the other shard
 * (`POST /api/vtt/admin/sessions/{sid}/move`) while its three GMs keep writing; a write answered
 * 503 (or not answered) is sent again with the same Idempotency-Key / op id. Afterwards every
 * acknowledged write must be there exactly once (the tokens' histories, the state, the changes).
 * A build without the route answers 404 "no such route": the scenario says so and measures nothing
 * about a move (the writers' acknowledged writes are still checked, without one).
 *
 * Locally both shards are SQLite files in the one workerd process, on the same two cores as the
 * load generator: one shard against two measures the cost of the sharded code path, not D1's
 * single writer per database.
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { ApiClient } from "./lib/client.mjs";
import { changeLogTotal, closeD1Files, openD1Files, sessionPlacement, tokenVersions } from "./lib/d1-files.mjs";
import { runLoops } from "./lib/load.mjs";
import { startServer } from "./lib/server.mjs";
import { fmtMs, fmtRate, fmtRatio, rate, ratio, summarize } from "./lib/stats.mjs";

export const name = "scale";
/** Starts its own servers: run.mjs starts no shared one for it. */
export const ownServers = true;

/** `durationMs` and `perLoop` are each configuration's total over its `rounds`. */
const FULL = { sessions: 1000, loops: 4, perLoop: 200, durationMs: 30_000, rounds: 4, moveTokens: 3000, moveWarmMs: 2000 };
const QUICK = { sessions: 90, loops: 2, perLoop: 40, durationMs: 8_000, rounds: 2, moveTokens: 400, moveWarmMs: 1000 };
const WRITERS = 3;
/** Tokens a session gets: two a writer (its PATCH target and the second one of its batches). */
const TOKENS_PER_SESSION = 2 * WRITERS;
const SETUP_CONCURRENCY = 8;
/** The per-user write bucket, raised so that it does not cap the workload (it stays on the path). */
const BENCH_VARS = { BENCH_ROUTES: "1", USER_WRITES_BURST: "4000", USER_WRITES_PER_SECOND: "2000" };
/**
 * Both in "enam": wrangler dev gives every request miniflare's placeholder `request.cf` (Austin,
 * Texas: continent NA, longitude -97.7), whose nearest region is enam; with wrangler.toml's
 * regions (weur, enam) every local session would go to DB_SHARD_2. In one region, placement
 * goes by load, as it does for requests with no continent.
 */
const ONE_SHARD = JSON.stringify({ DB_SHARD_1: "enam" });
const TWO_SHARDS = JSON.stringify({ DB_SHARD_1: "enam", DB_SHARD_2: "enam" });
const RETRY_WAIT_MAX_MS = 5_000;
const WRITE_GIVE_UP_MS = 60_000;
const MOVE_TIMEOUT_MS = 180_000;
const FLUSH_WAIT_MS = 30_000;

const cfgOf = (quick) => (quick ? QUICK : FULL);
const latencyCell = (s) => (s.n ? `p50 ${fmtMs(s.p50)} · p99 ${fmtMs(s.p99)}` : "—");

// ---- requests -------------------------------------------------------------------------------

/** How long an answer asks to wait: Retry-After (seconds) or details.retry_after_ms, bounded. */
function retryWaitMs(r) {
  const fromDetails = Number(r.data?.error?.details?.retry_after_ms);
  const fromHeader = Number(r.retryAfter) * 1000;
  const wait =
    Number.isFinite(fromDetails) && fromDetails > 0 ? fromDetails : Number.isFinite(fromHeader) && fromHeader > 0 ? fromHeader : 250;
  return Math.min(wait, RETRY_WAIT_MAX_MS);
}

/**
 * One write, sent again as it is (same headers, so the same Idempotency-Key / op ids) after a 429
 * or 503 (waiting what the answer asks) or no answer at all, until `expect` or WRITE_GIVE_UP_MS.
 * Returns { r, ms (first send to the accepted answer, waits included), retries, statuses }.
 */
async function write(client, method, path, { body, headers = {}, expect, stats }) {
  const t0 = performance.now();
  const statuses = [];
  for (let attempt = 0; ; attempt++) {
    let r;
    try {
      r = await client.request(method, path, { body, headers, expect: [expect, 429, 503] });
    } catch (err) {
      if (err.response || performance.now() - t0 > WRITE_GIVE_UP_MS) throw err; // an unexpected status: not retried
      statuses.push("no answer");
      if (stats) stats.noAnswer = (stats.noAnswer ?? 0) + 1;
      await sleep(250);
      continue;
    }
    if (r.status === expect) return { r, ms: performance.now() - t0, retries: attempt, statuses };
    statuses.push(r.status);
    if (stats) stats[r.status] = (stats[r.status] ?? 0) + 1;
    if (performance.now() - t0 > WRITE_GIVE_UP_MS) {
      throw new Error(`${method} ${path}: still ${r.status} after ${attempt + 1} attempts (${WRITE_GIVE_UP_MS / 1000} s)`);
    }
    await sleep(retryWaitMs(r));
  }
}

/** `fn(item, i)` over `items`, at most `concurrency` at a time; the first error stops the rest. */
async function pool(items, concurrency, fn) {
  let next = 0;
  let failed = null;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length && !failed) {
        const i = next++;
        try {
          await fn(items[i], i);
        } catch (err) {
          failed ??= err;
        }
      }
    }),
  );
  if (failed) throw failed;
}

// ---- setup ----------------------------------------------------------------------------------

async function registerWriters(baseUrl) {
  const stamp = `${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
  const writers = [];
  for (let w = 0; w < WRITERS; w++) writers.push(await ApiClient.registerWithToken(baseUrl, { username: `scale_${stamp}_${w}` }));
  return writers;
}

/** A session made by `gm` with a scene, TOKENS_PER_SESSION tokens and the other writers as co-GMs. */
async function makeSession(writers, gmIndex, label, { extraTokens = 0 } = {}) {
  const gm = writers[gmIndex];
  const t0 = performance.now();
  const created = await write(gm, "POST", "/api/vtt/sessions", { body: { name: label }, expect: 201 });
  const createMs = performance.now() - t0;
  const sid = created.r.data.session.id;
  const base = ApiClient.sessionPath(sid);
  // The scene and the tokens on it in one batch (the scene's id chosen here, so the tokens can name it).
  const scene = { id: crypto.randomUUID() };
  const ops = [
    { op_id: crypto.randomUUID(), entity_type: "scene", op: "create", id: scene.id, data: { name: "Hall" } },
    ...Array.from({ length: TOKENS_PER_SESSION }, (_, j) => ({
      op_id: crypto.randomUUID(),
      entity_type: "token",
      op: "create",
      data: { name: `W${j % WRITERS}.${Math.floor(j / WRITERS)}`, scene_id: scene.id, x: 0, y: j },
    })),
  ];
  const seeded = await write(gm, "POST", `${base}/batch`, { body: { ops }, expect: 200 });
  const tokens = seeded.r.data.results.slice(1).map((res) => ({ id: res.entity.id, version: res.entity.version, acked: 0 }));
  for (let start = 0; start < extraTokens; start += 500) {
    const more = Array.from({ length: Math.min(500, extraTokens - start) }, (_, k) => ({
      op_id: crypto.randomUUID(),
      entity_type: "token",
      op: "create",
      data: { name: `Crowd ${start + k}`, scene_id: scene.id, x: (start + k) % 100, y: Math.floor((start + k) / 100) },
    }));
    await write(gm, "POST", `${base}/batch`, { body: { ops: more }, expect: 200 });
  }
  await Promise.all(
    writers
      .filter((_, w) => w !== gmIndex)
      .map((other) => write(gm, "PUT", `${base}/members/${encodeURIComponent(other.user.id)}`, { body: { role: "gm" }, expect: 200 })),
  );
  // Writer w owns tokens w (its PATCHes) and w + WRITERS (the second op of its batches).
  return { sid, base, scene, tokens, createMs };
}

async function setup(baseUrl, cfg, log, label) {
  const t0 = performance.now();
  const writers = await registerWriters(baseUrl);
  const sessions = new Array(cfg.sessions);
  let done = 0;
  await pool(sessions, SETUP_CONCURRENCY, async (_, i) => {
    sessions[i] = await makeSession(writers, i % WRITERS, `scale ${label} ${i + 1}`);
    done += 1;
    if (done % 200 === 0) log(`[bench]   ${label}: ${done}/${cfg.sessions} sessions set up`);
  });
  return { writers, sessions, setupMs: performance.now() - t0, createMs: summarize(sessions.map((s) => s.createMs)) };
}

// ---- the workload ---------------------------------------------------------------------------

/** The sum of a configuration's rounds of the workload. */
function newLoad() {
  return {
    concurrency: 0,
    count: 0,
    changes: 0,
    wallMs: 0,
    latencies: [],
    retried: 0,
    refusals: {},
    errors: { count: 0, byStatus: {}, first: null },
    rounds: [],
  };
}

/**
 * One round: WRITERS × cfg.loops loops; loop (w, k) goes round the sessions i ≡ k (mod loops),
 * writing writer w's tokens there, so no two loops write the same token (no 409 by design).
 * Bounded by `perLoop` writes a loop and `durationMs`; added into `load`.
 */
async function workload({ writers, sessions }, cfg, load, { perLoop, durationMs }) {
  const loops = [];
  for (let w = 0; w < WRITERS; w++)
    for (let k = 0; k < cfg.loops; k++) loops.push({ w, k, mine: sessions.filter((_, i) => i % cfg.loops === k) });
  let changes = 0;
  const run = await runLoops({
    concurrency: loops.length,
    maxPerLoop: perLoop,
    durationMs,
    step: async (loop, i) => {
      const { w, mine } = loops[loop];
      const s = mine[i % mine.length];
      const client = writers[w];
      const a = s.tokens[w];
      let res;
      if (i % 5 === 4) {
        const b = s.tokens[w + WRITERS];
        const ops = [a, b].map((t) => ({
          op_id: crypto.randomUUID(),
          entity_type: "token",
          op: "update",
          id: t.id,
          base_version: t.version,
          data: { x: i },
        }));
        res = await write(client, "POST", `${s.base}/batch`, { body: { ops }, expect: 200, stats: load.refusals });
        for (const [j, t] of [a, b].entries()) {
          t.version = res.r.data.results[j].entity.version;
          t.acked += 1;
        }
        changes += 2;
      } else {
        res = await write(client, "PATCH", `${s.base}/tokens/${a.id}`, {
          body: { x: i },
          headers: { "if-match": `"${a.version}"` },
          expect: 200,
          stats: load.refusals,
        });
        a.version = res.r.data.version;
        a.acked += 1;
        changes += 1;
      }
      if (res.retries > 0) load.retried += 1;
      return res.ms;
    },
  });
  load.concurrency = loops.length;
  load.count += run.count;
  load.changes += changes;
  load.wallMs += run.wallMs;
  for (const ms of run.latencies) load.latencies.push(ms);
  load.rounds.push(rate(run.count, run.wallMs));
  load.errors.count += run.errors.count;
  for (const [k, v] of Object.entries(run.errors.byStatus)) load.errors.byStatus[k] = (load.errors.byStatus[k] ?? 0) + v;
  load.errors.first ??= run.errors.first;
}

/** Rates and percentiles of a configuration's rounds. */
function totals(load) {
  return {
    ...load,
    perSecond: rate(load.count, load.wallMs),
    changesPerSecond: rate(load.changes, load.wallMs),
    latency: summarize(load.latencies),
  };
}

// ---- what the databases hold ----------------------------------------------------------------

/** Waits (bounded) until the change log of every database stopped growing: write-behind caught up. */
async function settled(persistDir) {
  const deadline = Date.now() + FLUSH_WAIT_MS;
  let last = -1;
  let since = Date.now();
  while (Date.now() < deadline) {
    const files = openD1Files(persistDir);
    const now = changeLogTotal(files);
    closeD1Files(files);
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= 2000) return true;
    await sleep(500);
  }
  return false;
}

/**
 * Reads the persist dir: sessions per shard (the directory's list), sessions whose rows are
 * missing from their shard or present on another database, and tokens whose version in D1 is not
 * the last acknowledged one.
 */
function inspect(persistDir, sessions) {
  const files = openD1Files(persistDir);
  try {
    const p = sessionPlacement(files);
    const versions = tokenVersions(files, p.bindings);
    const perShard = {};
    const misplaced = [];
    const incomplete = [];
    const lagging = [];
    let tokensChecked = 0;
    for (const s of sessions) {
      const shard = p.directory.get(s.sid);
      perShard[shard ?? "not in the directory"] = (perShard[shard ?? "not in the directory"] ?? 0) + 1;
      const where = p.perSession.get(s.sid) ?? new Map();
      const elsewhere = [...where.keys()].filter((b) => b !== shard);
      if (elsewhere.length > 0) misplaced.push({ sid: s.sid, shard, also_on: Object.fromEntries(elsewhere.map((b) => [b, where.get(b)])) });
      const own = where.get(shard) ?? {};
      if (
        own.game_sessions !== 1 ||
        own.scenes !== 1 ||
        (own.tokens ?? 0) < s.tokens.length ||
        !(own.change_log > 0) ||
        !(own.applied_ops > 0)
      ) {
        incomplete.push({ sid: s.sid, shard, rows: own });
      }
      const stored = versions.get(shard) ?? new Map();
      for (const t of s.tokens) {
        tokensChecked += 1;
        if (stored.get(t.id) !== t.version)
          lagging.push({ sid: s.sid, token: t.id, acknowledged: t.version, stored: stored.get(t.id) ?? null });
      }
    }
    return { perShard, misplaced, incomplete, lagging, tokensChecked, files: p.files };
  } finally {
    closeD1Files(files);
  }
}

/** The shard the directory lists for a session (from the persist dir). */
function shardOf(persistDir, sid) {
  const files = openD1Files(persistDir);
  try {
    return sessionPlacement(files).directory.get(sid) ?? null;
  } finally {
    closeD1Files(files);
  }
}

// ---- one configuration ----------------------------------------------------------------------

/** A fresh server with `vars`, and its sessions set up. */
async function configuration(ctx, { label, vars }) {
  const cfg = cfgOf(ctx.quick);
  ctx.log(`[bench]   ${label}: starting a fresh server`);
  const server = await startServer({ vars: { ...BENCH_VARS, ...vars }, snapshot: !ctx.inPlace, log: ctx.log });
  ctx.notes.push(...server.notes.map((n) => `${label}: ${n}`));
  try {
    const prepared = await setup(server.baseUrl, cfg, ctx.log, label);
    ctx.log(`[bench]   ${label}: ${cfg.sessions} sessions set up in ${(prepared.setupMs / 1000).toFixed(1)} s`);
    return { label, server, prepared, load: newLoad() };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

let servers = [];
let two = null;

/**
 * A (one shard) and B (two shards) started and set up, then the workload in ROUNDS rounds taking
 * turns (A B, B A, ...: both see the machine's load as it drifts), then what each stored. A is
 * stopped; B stays up for the move (stopped by finish()).
 */
async function runBoth(ctx) {
  if (ctx.url) throw new Error("the scale suite starts its own servers (one shard, then two): run it without --url");
  ctx.shared.scale ??= (async () => {
    const cfg = cfgOf(ctx.quick);
    const one = await configuration(ctx, { label: "one shard", vars: { SHARDS: ONE_SHARD } });
    servers.push(one.server);
    const adminToken = randomBytes(24).toString("hex");
    two = await configuration(ctx, { label: "two shards", vars: { SHARDS: TWO_SHARDS, ADMIN_TOKEN: adminToken } });
    servers.push(two.server);
    two.adminToken = adminToken;
    const budget = { perLoop: Math.ceil(cfg.perLoop / cfg.rounds), durationMs: cfg.durationMs / cfg.rounds };
    for (let r = 0; r < cfg.rounds; r++) {
      for (const c of r % 2 === 0 ? [one, two] : [two, one]) {
        ctx.log(`[bench]   round ${r + 1}/${cfg.rounds}: ${c.label} writing`);
        await workload(c.prepared, cfg, c.load, budget);
      }
    }
    for (const c of [one, two]) {
      c.load = totals(c.load);
      c.caughtUp = await settled(c.server.persistDir);
      c.stored = inspect(c.server.persistDir, c.prepared.sessions);
    }
    await one.server.stop();
    servers = servers.filter((x) => x !== one.server);
    return { one, two };
  })();
  return ctx.shared.scale;
}

export async function finish({ log }) {
  if (servers.length === 0) return;
  log(`[bench] scale: stopping ${servers.length} server(s)`);
  for (const server of servers) await server.stop();
  servers = [];
  two = null;
}

function loadFailures(label, load) {
  if (load.errors.count === 0) return [];
  const e = load.errors.first;
  return [
    { label, count: load.errors.count, by_status: load.errors.byStatus, message: e?.message, request: e?.request, response: e?.response },
  ];
}

// ---- scenario 1: throughput -----------------------------------------------------------------

async function throughput(ctx) {
  const { one, two } = await runBoth(ctx);
  const cfg = cfgOf(ctx.quick);
  const a = one.load;
  const b = two.load;
  return {
    rows: [
      {
        measure: `writes/s, ${b.concurrency} writers' loops over ${cfg.sessions} sessions (two shards vs one)`,
        ours: fmtRate(b.perSecond, "writes/s"),
        baseline: `one shard: ${fmtRate(a.perSecond, "writes/s")}`,
        slowdown: `${fmtRatio(ratio(b.perSecond, a.perSecond))} two/one`,
        target: "—",
        verdict: "info",
      },
      {
        measure: "latency per write",
        ours: latencyCell(b.latency),
        baseline: `one shard: ${latencyCell(a.latency)}`,
        slowdown: `${fmtRatio(ratio(b.latency.p50, a.latency.p50))} (p50) · ${fmtRatio(ratio(b.latency.p99, a.latency.p99))} (p99)`,
        target: "—",
        verdict: "info",
      },
      {
        measure: "session creation (setup, 8 at a time)",
        ours: latencyCell(two.prepared.createMs),
        baseline: `one shard: ${latencyCell(one.prepared.createMs)}`,
        slowdown: `${fmtRatio(ratio(two.prepared.createMs.p50, one.prepared.createMs.p50))} (p50)`,
        target: "—",
        verdict: "info",
      },
    ],
    details: [
      `Same workload on two fresh servers, both up, taking turns: A with SHARDS ${ONE_SHARD}, B with SHARDS ${TWO_SHARDS} (one region, so placement goes by load: wrangler dev gives every request a placeholder request.cf in Austin, Texas, whose nearest region is enam, so with wrangler.toml's weur/enam every local session would land on DB_SHARD_2). Each: ${WRITERS} users, ${cfg.sessions} sessions (a third created by each, the others co-GMs; one batch makes a scene and ${TOKENS_PER_SESSION} tokens), set up ${SETUP_CONCURRENCY} at a time in ${(one.prepared.setupMs / 1000).toFixed(1)} s (A) and ${(two.prepared.setupMs / 1000).toFixed(1)} s (B).`,
      `Rounds: ${cfg.rounds}, in the order A B, B A, ...; writes/s a round: A ${a.rounds.map((x) => x.toFixed(1)).join(", ")}; B ${b.rounds.map((x) => x.toFixed(1)).join(", ")}.`,
      `Workload: ${WRITERS} writers × ${cfg.loops} loops = ${b.concurrency} concurrent loops, each going round its share of the sessions writing its writer's own tokens: a PATCH with If-Match, every fifth write a batch of two updates; ≤ ${cfg.perLoop} writes a loop and ≤ ${cfg.durationMs / 1000} s in all, split over the rounds. Latency = first send to the accepted answer (waits after a 429/503 included).`,
      `A (one shard): ${a.count} writes (${a.changes} changes) in ${fmtMs(a.wallMs)}: ${fmtRate(a.perSecond, "writes/s")}, ${fmtRate(a.changesPerSecond, "changes/s")}; ${latencyCell(a.latency)}, max ${fmtMs(a.latency.max)}; writes retried: ${a.retried} (answers by status: ${JSON.stringify(a.refusals)}).`,
      `B (two shards): ${b.count} writes (${b.changes} changes) in ${fmtMs(b.wallMs)}: ${fmtRate(b.perSecond, "writes/s")}, ${fmtRate(b.changesPerSecond, "changes/s")}; ${latencyCell(b.latency)}, max ${fmtMs(b.latency.max)}; writes retried: ${b.retried} (answers by status: ${JSON.stringify(b.refusals)}).`,
      `Per-user write bucket raised for both (USER_WRITES_BURST ${BENCH_VARS.USER_WRITES_BURST}, USER_WRITES_PER_SECOND ${BENCH_VARS.USER_WRITES_PER_SECOND}) so that it never caps the workload; it is still checked on every write.`,
      "Locally both shards are SQLite files in the one workerd process, sharing two cores with the load generator: one shard against two measures what the sharded code path costs, not D1's single writer per database (which a second shard would relieve in production).",
    ],
    failures: [...loadFailures("one shard: workload", a), ...loadFailures("two shards: workload", b)],
    data: {
      one_shard: { ...stripErrors(a), setup_ms: one.prepared.setupMs, create_ms: one.prepared.createMs },
      two_shards: { ...stripErrors(b), setup_ms: two.prepared.setupMs, create_ms: two.prepared.createMs },
      ratio_writes_per_second: ratio(b.perSecond, a.perSecond),
    },
  };
}

function stripErrors({ errors, latencies, ...rest }) {
  return { ...rest, errors: { count: errors.count, by_status: errors.byStatus } };
}

// ---- scenario 2: placement and isolation ----------------------------------------------------

function placementFailures(label, stored, caughtUp) {
  const out = [];
  if (!caughtUp)
    out.push({ label: `${label}: write-behind`, message: `the change log was still growing ${FLUSH_WAIT_MS / 1000} s after the workload` });
  if (stored.misplaced.length > 0) {
    out.push({ label: `${label}: rows on another database`, count: stored.misplaced.length, message: JSON.stringify(stored.misplaced[0]) });
  }
  if (stored.incomplete.length > 0) {
    out.push({
      label: `${label}: rows missing from the session's shard`,
      count: stored.incomplete.length,
      message: JSON.stringify(stored.incomplete[0]),
    });
  }
  if (stored.lagging.length > 0) {
    out.push({
      label: `${label}: acknowledged versions not in D1`,
      count: stored.lagging.length,
      message: JSON.stringify(stored.lagging[0]),
    });
  }
  return out;
}

const spread = (perShard) =>
  Object.entries(perShard)
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([k, v]) => `${k} ${v}`)
    .join(" · ");

async function placement(ctx) {
  const { one, two } = await runBoth(ctx);
  const cfg = cfgOf(ctx.quick);
  const b = two.stored;
  const a = one.stored;
  const wrong = b.misplaced.length + b.incomplete.length;
  const shardsUsed = Object.keys(b.perShard).filter((k) => k.startsWith("DB_SHARD_")).length;
  const counts = Object.values(b.perShard);
  const imbalance = counts.length > 1 ? Math.max(...counts) - Math.min(...counts) : Number.NaN;
  return {
    rows: [
      {
        measure: `sessions per shard (${cfg.sessions} created, least loaded)`,
        ours: spread(b.perShard),
        baseline: `one shard: ${spread(a.perShard)}`,
        slowdown: "—",
        target: "both shards used",
        verdict: shardsUsed === 2 ? "pass" : "FAIL",
      },
      {
        measure: "sessions with rows off their shard or missing from it",
        ours: `${wrong} of ${cfg.sessions}`,
        baseline: `one shard: ${a.misplaced.length + a.incomplete.length} of ${cfg.sessions}`,
        slowdown: "—",
        target: "0",
        verdict: wrong === 0 && a.misplaced.length + a.incomplete.length === 0 ? "pass" : "FAIL",
      },
      {
        measure: "tokens whose D1 version is not the last acknowledged one",
        ours: `${b.lagging.length} of ${b.tokensChecked}`,
        baseline: `one shard: ${a.lagging.length} of ${a.tokensChecked}`,
        slowdown: "—",
        target: "0",
        verdict: b.lagging.length === 0 && a.lagging.length === 0 ? "pass" : "FAIL",
      },
    ],
    details: [
      `Read from the persist dir's SQLite files (node:sqlite, read-only) once the change log stopped growing (write-behind caught up: ${two.caughtUp ? "yes" : "NO"} for two shards, ${one.caughtUp ? "yes" : "NO"} for one). The directory is the file holding session_directory; a shard file's binding is the shard the directory lists for the session heads it holds.`,
      `A session is "off its shard" when any of game_sessions, session_state, scenes, tokens, change_log or applied_ops has a row of it on another database (the directory included); "missing" when its shard lacks its head, its scene, its ${TOKENS_PER_SESSION} tokens, change log or idempotency records.`,
      `Spread: ${imbalance >= 0 ? `${imbalance} session(s) between the fullest and the emptiest shard` : "one shard"}; sessions created ${SETUP_CONCURRENCY} at a time, each placed on the shard the directory counted least loaded when its request read it (concurrent creations may read the same count).`,
      `Files, two shards: ${b.files.map((f) => `${f.binding} (${f.sessions} session heads, ${f.rows} per-session rows)`).join("; ")}.`,
      `Files, one shard: ${a.files.map((f) => `${f.binding} (${f.sessions} session heads, ${f.rows} per-session rows)`).join("; ")}.`,
    ],
    failures: [...placementFailures("two shards", b, two.caughtUp), ...placementFailures("one shard", a, one.caughtUp)],
    data: {
      two_shards: {
        per_shard: b.perShard,
        files: b.files,
        misplaced: b.misplaced.length,
        incomplete: b.incomplete.length,
        lagging: b.lagging.length,
        tokens_checked: b.tokensChecked,
      },
      one_shard: {
        per_shard: a.perShard,
        files: a.files,
        misplaced: a.misplaced.length,
        incomplete: a.incomplete.length,
        lagging: a.lagging.length,
        tokens_checked: a.tokensChecked,
      },
    },
  };
}

// ---- scenario 3: a move under write load ----------------------------------------------------

/** The move request itself: its own fetch, for a timeout longer than the client's 30 s. */
async function requestMove(baseUrl, adminToken, sid, shard) {
  const path = `/api/vtt/admin/sessions/${encodeURIComponent(sid)}/move`;
  const body = JSON.stringify({ shard });
  const t0 = performance.now();
  const res = await fetch(baseUrl + path, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body,
    signal: AbortSignal.timeout(MOVE_TIMEOUT_MS),
  });
  const text = await res.text();
  let data = null;
  try {
    data = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, ms: performance.now() - t0, data, text, path, body, t0, t1: performance.now() };
}

/**
 * One writer on the moving session until `stop()`: PATCHes of its own token with an
 * Idempotency-Key and If-Match, and every third write a batch creating a token named after the
 * write, each sent again unchanged after a 503 / 429 / no answer. Records every write.
 */
function moveWriter(client, s, w, log) {
  const token = s.tokens[w];
  const writes = [];
  const stats = {};
  let stopped = false;
  let failure = null;
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      const t0 = performance.now();
      const entry = { kind: i % 3 === 2 ? "create" : "patch", t0, t1: null, retries: 0, statuses: [], acked: false };
      writes.push(entry);
      try {
        if (entry.kind === "create") {
          entry.name = `Moved ${w}.${i}`;
          entry.op_id = crypto.randomUUID();
          const ops = [
            { op_id: entry.op_id, entity_type: "token", op: "create", data: { name: entry.name, scene_id: s.scene.id, x: i, y: w } },
          ];
          const res = await write(client, "POST", `${s.base}/batch`, { body: { ops }, expect: 200, stats });
          entry.id = res.r.data.results[0].entity.id;
          Object.assign(entry, { retries: res.retries, statuses: res.statuses, ms: res.ms });
        } else {
          entry.x = 10_000 + i;
          entry.key = crypto.randomUUID();
          entry.base = token.version;
          const res = await write(client, "PATCH", `${s.base}/tokens/${token.id}`, {
            body: { x: entry.x },
            headers: { "if-match": `"${token.version}"`, "idempotency-key": entry.key },
            expect: 200,
            stats,
          });
          if (res.r.data.version !== token.version + 1)
            throw new Error(`PATCH answered version ${res.r.data.version} for If-Match "${token.version}"`);
          token.version = res.r.data.version;
          token.acked += 1;
          entry.version = token.version;
          Object.assign(entry, { retries: res.retries, statuses: res.statuses, ms: res.ms });
        }
        entry.acked = true;
      } catch (err) {
        entry.error = err.message;
        failure ??= err;
        log(`[bench]   writer ${w}: ${err.message}`);
        break;
      } finally {
        entry.t1 = performance.now();
      }
    }
  })();
  return {
    writes,
    stats,
    get failure() {
      return failure;
    },
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/** Every acknowledged write of the move phase, checked through the API after it. */
async function verifyMove(gm, s, writers, seqBefore) {
  const problems = [];
  const state = (await gm.request("GET", `${s.base}/state`, { expect: 200 })).data;
  const byName = new Map();
  for (const t of state.tokens) byName.set(t.name, (byName.get(t.name) ?? 0) + 1);
  const stateIds = new Set(state.tokens.map((t) => t.id));
  let patches = 0;
  let creates = 0;
  for (const [w, writer] of writers.entries()) {
    const token = s.tokens[w];
    const mine = writer.writes.filter((e) => e.acked);
    const acked = mine.filter((e) => e.kind === "patch");
    patches += acked.length;
    const inState = state.tokens.find((t) => t.id === token.id);
    if (!inState || inState.version !== token.version) {
      problems.push(`writer ${w}'s token: version ${inState?.version ?? "absent"} in state, ${token.version} acknowledged`);
    }
    const last = acked.at(-1);
    if (last && inState && inState.x !== last.x) problems.push(`writer ${w}'s token: x ${inState.x} in state, last acknowledged ${last.x}`);
    const history = (await gm.request("GET", `${s.base}/tokens/${token.id}/history`, { expect: 200 })).data.items;
    const versions = history.map((h) => h.version).sort((x, y) => x - y);
    const expected = Array.from({ length: token.version }, (_, k) => k + 1);
    if (versions.join() !== expected.join()) {
      const dup = versions.filter((v, k) => versions.indexOf(v) !== k);
      problems.push(
        `writer ${w}'s token: history has ${versions.length} versions (duplicates: ${dup.join(",") || "none"}), expected 1..${token.version}`,
      );
    }
    for (const e of mine.filter((x) => x.kind === "create")) {
      creates += 1;
      const n = byName.get(e.name) ?? 0;
      if (n !== 1 || !stateIds.has(e.id))
        problems.push(`created token ${e.name}: ${n} in state${stateIds.has(e.id) ? "" : ", not under the acknowledged id"}`);
    }
    for (const e of writer.writes.filter((x) => !x.acked && x.kind === "create")) {
      if ((byName.get(e.name) ?? 0) > 1) problems.push(`unacknowledged create ${e.name}: ${byName.get(e.name)} in state`);
    }
  }
  const changes = (await gm.request("GET", `${s.base}/changes?since=${seqBefore}`, { expect: 200 })).data;
  const changed = new Map(changes.changes.map((c) => [c.entity_id, c]));
  for (const [w] of writers.entries()) {
    const token = s.tokens[w];
    if (token.acked > 0 && changed.get(token.id)?.version !== token.version) {
      problems.push(
        `changes since ${seqBefore}: writer ${w}'s token at version ${changed.get(token.id)?.version ?? "absent"}, ${token.version} acknowledged`,
      );
    }
  }
  for (const writer of writers) {
    for (const e of writer.writes.filter((x) => x.acked && x.kind === "create")) {
      if (!changed.has(e.id)) problems.push(`changes since ${seqBefore}: created token ${e.name} absent`);
    }
  }
  return { problems, patches, creates, seq: state.seq, changes: changes.changes.length, tokens: state.tokens.length };
}

async function move(ctx) {
  const { two: b } = await runBoth(ctx);
  const cfg = cfgOf(ctx.quick);
  const { writers } = b.prepared;
  const baseUrl = b.server.baseUrl;
  ctx.log(`[bench]   a session with ${cfg.moveTokens} more tokens, its three GMs writing`);
  const s = await makeSession(writers, 0, "scale: moving", { extraTokens: cfg.moveTokens });
  const from = shardOf(b.server.persistDir, s.sid);
  const to = from === "DB_SHARD_2" ? "DB_SHARD_1" : "DB_SHARD_2";
  const seqBefore = (await writers[0].request("GET", `${s.base}/state`, { expect: 200 })).data.seq;
  const running = writers.map((client, w) => moveWriter(client, s, w, ctx.log));
  await sleep(cfg.moveWarmMs);
  ctx.log(`[bench]   moving ${s.sid} from ${from} to ${to}`);
  let moved;
  try {
    moved = await requestMove(baseUrl, b.adminToken, s.sid, to);
  } catch (err) {
    moved = { error: err };
  }
  await sleep(cfg.moveWarmMs);
  for (const r of running) await r.stop();
  const writeFailures = running
    .map((r, w) =>
      r.failure
        ? { label: `move: writer ${w}`, message: r.failure.message, request: r.failure.request, response: r.failure.response }
        : null,
    )
    .filter(Boolean);

  if (moved.error) {
    return {
      rows: [
        {
          measure: "move under write load",
          ours: `failed: ${moved.error.message}`,
          baseline: "—",
          slowdown: "—",
          target: "—",
          verdict: "ERROR",
        },
      ],
      details: [`POST /api/vtt/admin/sessions/${s.sid}/move gave no answer: ${moved.error.message}`],
      failures: [{ label: "move", message: moved.error.message }, ...writeFailures],
    };
  }
  if (moved.status === 404 && moved.data?.error?.message === "no such route") {
    ctx.log("[bench]   move phase: route not present in this build");
    // No move happened: the writers' acknowledged writes are still checked the same way (the
    // check itself is exercised), but nothing about a move is reported.
    await settled(b.server.persistDir);
    const check = await verifyMove(writers[0], s, running, seqBefore);
    const acked = running.flatMap((r) => r.writes).filter((e) => e.acked).length;
    return {
      rows: [
        {
          measure: "move under write load",
          ours: "move phase: route not present in this build",
          baseline: "—",
          slowdown: "—",
          target: "0 acknowledged writes lost",
          verdict: "not run",
        },
      ],
      details: [
        `POST ${moved.path} ${moved.body} with the admin bearer answered 404 ${moved.text.slice(0, 200)}: this build has no move route, so nothing was measured.`,
        `Without a move, the writers' ${acked} acknowledged writes on the session were checked as after a move: ${check.problems.length === 0 ? "all there exactly once" : `problems: ${check.problems.slice(0, 5).join("; ")}`}.`,
      ],
      failures: [
        ...(check.problems.length > 0
          ? [{ label: "writes without a move", count: check.problems.length, message: check.problems.slice(0, 10).join("; ") }]
          : []),
        ...writeFailures,
      ],
      data: { move: "route not present", status: moved.status, body: moved.data, acknowledged: acked, problems: check.problems },
    };
  }
  if (moved.status !== 200) {
    return {
      rows: [
        {
          measure: "move under write load",
          ours: `move answered ${moved.status}`,
          baseline: "—",
          slowdown: "—",
          target: "200",
          verdict: "ERROR",
        },
      ],
      details: [`POST ${moved.path} ${moved.body} answered ${moved.status} ${moved.text.slice(0, 500)}`],
      failures: [
        {
          label: "move",
          message: `${moved.status}`,
          request: { method: "POST", path: moved.path, headers: { authorization: "Bearer <admin token>" }, body: moved.body },
          response: { status: moved.status, body: moved.text.slice(0, 2000) },
        },
        ...writeFailures,
      ],
    };
  }

  const all = running.flatMap((r) => r.writes);
  const acked = all.filter((e) => e.acked);
  const during = acked.filter((e) => e.t0 < moved.t1 && e.t1 > moved.t0);
  const before = acked.filter((e) => e.t1 <= moved.t0);
  const duringLatency = summarize(during.map((e) => e.ms));
  const beforeLatency = summarize(before.map((e) => e.ms));
  const refused = {};
  for (const r of running) for (const [k, v] of Object.entries(r.stats)) refused[k] = (refused[k] ?? 0) + v;
  const retriedWrites = acked.filter((e) => e.retries > 0).length;
  await settled(b.server.persistDir);
  const check = await verifyMove(writers[0], s, running, seqBefore);
  const after = shardOf(b.server.persistDir, s.sid);
  if (after !== to) check.problems.push(`the directory lists the session on ${after} after the move to ${to}`);
  const lost = check.problems.length;
  return {
    rows: [
      {
        measure: `move of a session (${cfg.moveTokens + TOKENS_PER_SESSION} tokens) ${from} → ${to}, 3 GMs writing`,
        ours: fmtMs(moved.ms),
        baseline: "—",
        slowdown: "—",
        target: "—",
        verdict: "info",
      },
      {
        measure: "writes overlapping the move (waits after 503 included)",
        ours: `${latencyCell(duringLatency)} (${during.length} writes)`,
        baseline: `before the move: ${latencyCell(beforeLatency)}`,
        slowdown: `${fmtRatio(ratio(duringLatency.p99, beforeLatency.p99))} (p99)`,
        target: "—",
        verdict: "info",
      },
      {
        measure: "acknowledged writes lost or doubled",
        ours: `${lost} problem(s); ${acked.length} writes acknowledged (${check.patches} PATCHes, ${check.creates} creates)`,
        baseline: "—",
        slowdown: "—",
        target: "0",
        verdict: lost === 0 ? "pass" : "FAIL",
      },
    ],
    details: [
      `Session ${s.sid}: ${cfg.moveTokens + TOKENS_PER_SESSION} tokens, on ${from}; moved with POST /api/vtt/admin/sessions/{sid}/move {"shard":"${to}"} while its 3 GMs wrote back to back (a PATCH with If-Match and an Idempotency-Key; every third write a batch creating a named token), from ${cfg.moveWarmMs / 1000} s before the move to ${cfg.moveWarmMs / 1000} s after it. A write answered 503 or 429 was sent again unchanged (same key, same op id) after the Retry-After it asked for (at most ${RETRY_WAIT_MAX_MS / 1000} s); one not answered, after 250 ms.`,
      `The move answered 200 in ${fmtMs(moved.ms)}: ${JSON.stringify(moved.data).slice(0, 400)}.`,
      `Writes: ${all.length} sent, ${acked.length} acknowledged, ${during.length} overlapping the move, ${retriedWrites} needed a retry; refusals and unanswered attempts by status: ${JSON.stringify(refused)}.`,
      `Checked after the move (GET state, GET {S}/tokens/{id}/history of each writer's token, GET changes?since=${seqBefore}): each writer's token is at the version its last acknowledged PATCH answered, with one history entry per version 1..N (none doubled, none missing) and the last acknowledged x; each acknowledged create is in the state once, under its acknowledged id, and in the changes; the directory lists ${after}. ${lost === 0 ? "All held." : `Problems: ${check.problems.slice(0, 5).join("; ")}`}`,
    ],
    failures: [
      ...(lost > 0 ? [{ label: "move: acknowledged writes", count: lost, message: check.problems.slice(0, 10).join("; ") }] : []),
      ...writeFailures,
    ],
    data: {
      sid: s.sid,
      from,
      to,
      move_ms: moved.ms,
      move_answer: moved.data,
      writes: { sent: all.length, acknowledged: acked.length, during: during.length, retried: retriedWrites, refused },
      latency_during_ms: duringLatency,
      latency_before_ms: beforeLatency,
      problems: check.problems,
    },
  };
}

export const scenarios = [
  { id: "scale-1", title: "Write throughput across 1,000 sessions, one shard vs two", run: throughput },
  { id: "scale-2", title: "Placement: sessions per shard, rows on their own shard only", run: placement },
  { id: "scale-3", title: "A session moved between shards under write load", run: move },
];
