/**
 * What D1 does per save, the figures behind docs/capacity.md.
 *
 * One session, one GM (the run's API-token user), TOKENS tokens on a scene. Each kind of save is
 * made ROUNDS times in rounds of a few saves, one at a time (each answered once D1 holds it, so
 * each is its own D1 batch). The session object sums D1's `meta` of every batch it commits
 * (worker/metrics/d1-usage.ts) and flushes the sums to `metric_counters` a couple of seconds
 * later; GET /api/bench/d1-usage reads them. Per round: statements, rows read and rows written a
 * save (what D1 bills and what its single writer does), and D1's own `meta.duration` a batch.
 * Reported: the median over the rounds. Then the storage suite's scenario (bench/storage.mjs)
 * gives the bytes stored per change across all tables after retention.
 *
 * What it counts is deterministic (the same saves on the same data give the same statements and
 * rows); durations are this machine's local SQLite, not production D1 (see docs/capacity.md).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { ApiClient } from "./lib/client.mjs";
import { median } from "./lib/stats.mjs";
import * as storage from "./storage.mjs";

export const name = "capacity";

const TOKENS = 500;
const ROUNDS = 7;
const QUICK_ROUNDS = 3;
/** How long to wait for an object's counters to reach D1 (it flushes 2 s after the first). */
const FLUSH_WAIT_MS = 20_000;
const SOCKET_TIMEOUT_MS = 15_000;

/** A request that waits out 429s (the per-user mutation bucket) instead of failing. */
async function send(client, method, path, { body, headers, expect }) {
  for (let attempt = 0; ; attempt++) {
    const r = await client.request(method, path, { body, headers, expect: [expect, 429] });
    if (r.status !== 429) return r;
    if (attempt > 50) throw new Error(`${method} ${path}: still rate limited`);
    await sleep(Math.max(250, Number(r.data?.error?.details?.retry_after_ms) || 0));
  }
}

async function usage(client) {
  return (await client.request("GET", "/api/bench/d1-usage", { expect: 200 })).data;
}

/** Waits (bounded) until D1's sums hold `batches` more batches than `before`. */
async function flushed(client, before, batches) {
  const deadline = Date.now() + FLUSH_WAIT_MS;
  for (;;) {
    const now = await usage(client);
    if (now.batches - before.batches >= batches || Date.now() > deadline) return now;
    await sleep(250);
  }
}

/** Waits (bounded) until D1's sums stopped moving for a flush period and more: every object's counters are in. */
async function quiet(client) {
  const deadline = Date.now() + FLUSH_WAIT_MS;
  let last = await usage(client);
  let since = Date.now();
  while (Date.now() - since < 3000 && Date.now() < deadline) {
    await sleep(500);
    const now = await usage(client);
    if (JSON.stringify(now) !== JSON.stringify(last)) since = Date.now();
    last = now;
  }
  return last;
}

/** The GM's socket: `ops` messages answered by `result` (or `error`), matched by id. */
async function openWriter(baseUrl, sid, token) {
  const url = `${baseUrl.replace(/^http/, "ws")}${ApiClient.sessionPath(sid)}/ws`;
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}`, origin: baseUrl } });
  const pending = new Map();
  let next = 0;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no hello from ${url}`)), SOCKET_TIMEOUT_MS);
    ws.addEventListener("message", function hello(event) {
      if (String(event.data).startsWith('{"type":"hello"')) {
        clearTimeout(timer);
        ws.removeEventListener("message", hello);
        resolve();
      }
    });
    ws.addEventListener("error", (event) => reject(new Error(`socket error: ${event.message ?? "unknown"}`)));
  });
  ws.addEventListener("message", (event) => {
    const text = String(event.data);
    if (!text.startsWith('{"type":"result"') && !text.startsWith('{"type":"error"')) return;
    const message = JSON.parse(text);
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    waiting(message);
  });
  return {
    async write(ops) {
      const id = ++next;
      const answer = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no answer on the socket")), SOCKET_TIMEOUT_MS);
        pending.set(id, (m) => {
          clearTimeout(timer);
          resolve(m);
        });
      });
      ws.send(JSON.stringify({ type: "ops", id, ops }));
      const m = await answer;
      if (m.type !== "result") throw new Error(`socket write refused: ${m.code} ${m.message}`);
      return m;
    },
    close() {
      ws.close(1000, "bench done");
    },
  };
}

const move = (t, i) => ({
  op_id: crypto.randomUUID(),
  entity_type: "token",
  op: "update",
  id: t.id,
  base_version: t.version,
  data: { x: t.x + 1 + (i % 2), y: 0 },
});

function applied(tokens, results) {
  results.forEach((res, i) => {
    const t = tokens[i];
    if (t && res.entity) Object.assign(t, { version: res.entity.version, x: res.entity.x });
  });
}

/** The saves measured: `perRound` of them a round; each makes `changes` changes. */
function saves(ctx) {
  const { client, base, tokens, scene, socket } = ctx;
  return [
    {
      id: "patch",
      label: "one token move, REST (PATCH)",
      perRound: { quick: 5, full: 20 },
      changes: 1,
      async run() {
        const t = tokens[0];
        const r = await send(client, "PATCH", `${base}/tokens/${t.id}`, {
          body: { x: t.x + 1 },
          headers: { "if-match": `"${t.version}"` },
          expect: 200,
        });
        Object.assign(t, { version: r.data.version, x: r.data.x });
      },
    },
    {
      id: "socket",
      label: "one token move, socket `ops`",
      perRound: { quick: 5, full: 20 },
      changes: 1,
      async run() {
        const t = tokens[1];
        applied([t], (await socket.write([move(t, 0)])).results);
      },
    },
    {
      id: "batch-50",
      label: "50 token moves, one batch",
      perRound: { quick: 2, full: 5 },
      changes: 50,
      async run() {
        const some = tokens.slice(0, 50);
        applied(some, (await send(client, "POST", `${base}/batch`, { body: { ops: some.map(move) }, expect: 200 })).data.results);
      },
    },
    {
      id: "batch-500",
      label: "500 token moves, one batch",
      perRound: { quick: 1, full: 2 },
      changes: 500,
      async run() {
        applied(tokens, (await send(client, "POST", `${base}/batch`, { body: { ops: tokens.map(move) }, expect: 200 })).data.results);
      },
    },
    {
      id: "create",
      label: "one token create, REST (POST)",
      perRound: { quick: 5, full: 20 },
      changes: 1,
      async run() {
        await send(client, "POST", `${base}/tokens`, { body: { name: "New", scene_id: scene.id, x: 0, y: 0 }, expect: 201 });
      },
    },
  ];
}

const round1 = (n) => (Number.isInteger(n) ? String(n) : n.toFixed(1));

async function measureSaves({ client, baseUrl, quick, log }) {
  const session = await client.request("POST", "/api/vtt/sessions", { body: { name: "Capacity" }, expect: 201 });
  const sid = session.data.session.id;
  const base = ApiClient.sessionPath(sid);
  const scene = await client.createEntity(sid, "scene", { name: "Hall" });
  await client.activateScene(sid, scene.id);
  const seeded = await send(client, "POST", `${base}/batch`, {
    body: {
      ops: Array.from({ length: TOKENS }, (_, i) => ({
        op_id: crypto.randomUUID(),
        entity_type: "token",
        op: "create",
        data: { name: `T${i}`, scene_id: scene.id, x: 0, y: i },
      })),
    },
    expect: 200,
  });
  const tokens = seeded.data.results.map((r) => ({ id: r.entity.id, version: r.entity.version, x: r.entity.x }));
  const socket = await openWriter(baseUrl, sid, client.token);
  const rounds = quick ? QUICK_ROUNDS : ROUNDS;
  const out = [];
  const failures = [];
  try {
    // Everything before (the seeding, an earlier scenario's session) reaches D1's sums first.
    await quiet(client);
    for (const save of saves({ client, base, tokens, scene, socket })) {
      const count = quick ? save.perRound.quick : save.perRound.full;
      log(`[bench]   ${save.id}: ${rounds} rounds of ${count}`);
      const per = { statements: [], rows_read: [], rows_written: [], duration_ms: [], round_trip_ms: [], batches: [] };
      for (let r = 0; r < rounds; r++) {
        const before = await usage(client);
        for (let i = 0; i < count; i++) await save.run();
        const after = await flushed(client, before, count);
        const batches = after.batches - before.batches;
        if (batches !== count) {
          failures.push({ label: save.id, message: `${count} saves, one at a time, reached D1 as ${batches} batches` });
        }
        per.batches.push(batches);
        per.statements.push((after.statements - before.statements) / count);
        per.rows_read.push((after.rows_read - before.rows_read) / count);
        per.rows_written.push((after.rows_written - before.rows_written) / count);
        per.duration_ms.push(batches > 0 ? (after.duration_ms - before.duration_ms) / batches : Number.NaN);
        per.round_trip_ms.push(batches > 0 ? (after.round_trip_ms - before.round_trip_ms) / batches : Number.NaN);
      }
      out.push({
        id: save.id,
        label: save.label,
        changes: save.changes,
        saves: rounds * count,
        statements: median(per.statements),
        rows_read: median(per.rows_read),
        rows_written: median(per.rows_written),
        duration_ms: median(per.duration_ms),
        round_trip_ms: median(per.round_trip_ms),
      });
    }
  } finally {
    socket.close();
  }
  return { sid, figures: out, failures };
}

async function run(ctx) {
  // Storage first, on a database that holds nothing else: its retention run ages every session.
  ctx.log("[bench]   bytes stored per change: the storage suite's scenario");
  const stored = await storage.scenarios[0].run(ctx);
  const { figures, failures, sid } = await measureSaves(ctx);
  const rows = figures.map((f) => ({
    measure: `${f.label}: statements / rows read / rows written a save; D1 duration / round trip a batch (median)`,
    ours: `${round1(f.statements)} / ${round1(f.rows_read)} / ${round1(f.rows_written)}; ${f.duration_ms.toFixed(2)} / ${f.round_trip_ms.toFixed(2)} ms`,
    baseline: "—",
    slowdown: "—",
    target: "—",
    verdict: "—",
  }));
  rows.push(...stored.rows);
  const patch = figures.find((f) => f.id === "patch");
  const details = [
    `Session ${sid}: ${TOKENS} tokens; each kind of save made in ${ctx.quick ? QUICK_ROUNDS : ROUNDS} rounds, one save at a time; medians over the rounds.`,
    "statements, rows read, rows written: summed from D1's `meta` of every batch the session object committed (GET /api/bench/d1-usage), divided by the saves; rows written include index entries.",
    "D1 duration: D1's own `meta.duration` summed over a batch's statements (time in the database), per batch; round trip: the object's wait for the batch (performance.now() around it). Local workerd SQLite, not production D1; workerd's clocks advance only across I/O, so the local `meta.duration` is coarse.",
    ...figures.map(
      (f) =>
        `${f.id}: ${f.saves} saves, ${f.changes} change(s) each; a save: ${round1(f.statements)} statements, ${round1(f.rows_read)} rows read, ${round1(f.rows_written)} rows written (${round1(f.rows_written / f.changes)} a change); ${f.duration_ms.toFixed(2)} ms in D1, ${f.round_trip_ms.toFixed(2)} ms round trip a batch.`,
    ),
    ...(patch && patch.round_trip_ms > 0
      ? [
          `One session object committing single moves back to back waits ${patch.round_trip_ms.toFixed(2)} ms a commit: at most about ${Math.round(1000 / patch.round_trip_ms)} commits/s from one object (the database's own time, ${patch.duration_ms.toFixed(2)} ms, bounds the database's writes/s).`,
        ]
      : []),
    ...stored.details,
  ];
  return { rows, details, failures: [...failures, ...(stored.failures ?? [])], figures: { saves: figures, storage: stored.figures } };
}

export const scenarios = [{ id: "capacity-1", title: "D1 work per save and bytes stored per change", run }];
