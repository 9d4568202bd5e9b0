/**
 * The "core" benchmark: versioned writes, concurrent writes, full state of a big world, a 500-op
 * batch, the 304 polling path and the server's CPU time per PATCH, per socket write and per batch
 * (bench/lib/cpu.mjs),
 * each beside a baseline measured in the same run
 * against plain worker routes (present when the worker runs with BENCH_ROUTES=1):
 *   POST /api/bench/d1-write  a bare D1 insert, 201
 *   GET  /api/bench/static    304 for If-None-Match: "1", no D1
 *
 * Every sample is one request's time from sending to its last body byte (performance.now()),
 * JSON parsing left out. "Slowdown" is ours / baseline for latencies and baseline / ours for
 * throughputs, so 1× means as fast as the baseline and 2× twice as slow, in both cases.
 *
 * A scenario returns { rows, details, failures, data }: rows for the table, detail lines,
 * failures (the first unexpected request/response of a run, verbatim) and raw figures for JSON.
 */
import { ApiClient, createOp, seedEntities } from "./lib/client.mjs";
import { cpuPerRequest, serverCpuProbe } from "./lib/cpu.mjs";
import { runLoops, runSequential } from "./lib/load.mjs";
import { fmtBytes, fmtMs, fmtRate, fmtRatio, rate, ratio, summarize } from "./lib/stats.mjs";

export const name = "core";

function verdict(value, limit) {
  if (!Number.isFinite(value)) return "—";
  return value <= limit ? "pass" : "OVER";
}

function latencyCell(s) {
  return s.n ? `p50 ${fmtMs(s.p50)} · p99 ${fmtMs(s.p99)}` : "—";
}

/** Figures of a run for the JSON file and the failures list. */
function figures(run, label) {
  const latency = summarize(run.latencies);
  return {
    label,
    count: run.count,
    wall_ms: run.wallMs,
    per_second: rate(run.count, run.wallMs),
    latency_ms: latency,
    errors: { count: run.errors.count, by_status: run.errors.byStatus },
    firstError: run.errors.first,
  };
}

function failuresOf(...runs) {
  return runs
    .filter((f) => f.errors.count > 0)
    .map((f) => ({
      label: f.label,
      count: f.errors.count,
      by_status: f.errors.by_status,
      message: f.firstError?.message,
      request: f.firstError?.request,
      response: f.firstError?.response,
    }));
}

function stripFirstError({ firstError, ...rest }) {
  return rest;
}

// -------------------------------------------------------------------------------------------
// 1. Sequential versioned writes to one session

async function sequentialWrites({ client, quick }) {
  const count = quick ? 100 : 500;
  const durationMs = quick ? 5_000 : 15_000;
  const session = await client.createSession("bench: sequential writes");
  const token = await client.createEntity(session.id, "token", { name: "bench token" });
  let version = token.version;

  const oursRun = await runSequential({
    count,
    durationMs,
    warmup: 10,
    step: async (i) => {
      const r = await client.patchEntity(session.id, "token", token.id, version, { x: i });
      if (!Number.isInteger(r.data?.version)) throw new Error(`PATCH answered 200 without a version: ${r.text}`);
      version = r.data.version;
      return r.ms;
    },
  });
  const baseRun = await runSequential({
    count: oursRun.count || count,
    durationMs,
    warmup: 10,
    step: async () => (await client.benchD1Write()).ms,
  });

  const ours = figures(oursRun, "PATCH {S}/tokens/{id} with If-Match");
  const base = figures(baseRun, "POST /api/bench/d1-write");
  const p50Slowdown = ratio(ours.latency_ms.p50, base.latency_ms.p50);
  return {
    rows: [
      {
        measure: `latency, ${ours.count} sequential PATCHes`,
        ours: latencyCell(ours.latency_ms),
        baseline: latencyCell(base.latency_ms),
        slowdown: `${fmtRatio(p50Slowdown)} (p50)`,
        target: "≤ 2× (p50)",
        verdict: verdict(p50Slowdown, 2),
      },
      {
        measure: "throughput",
        ours: fmtRate(ours.per_second, "writes/s"),
        baseline: fmtRate(base.per_second, "writes/s"),
        slowdown: fmtRatio(ratio(base.per_second, ours.per_second)),
        target: "—",
        verdict: "info",
      },
    ],
    details: [
      `ours: ${ours.count} PATCH {"x": i} with If-Match "<version>" to one token, after 10 warm-up writes; final version ${version}.`,
      `baseline: ${base.count} sequential POST /api/bench/d1-write (bare D1 insert), after 10 warm-up writes.`,
    ],
    failures: failuresOf(ours, base),
    data: { ours: stripFirstError(ours), baseline: stripFirstError(base), p50_slowdown: p50Slowdown },
  };
}

// -------------------------------------------------------------------------------------------
// 2. Concurrent writes spread over 20 sessions

async function concurrentWrites({ client, quick }) {
  const sessions = 20;
  const perLoop = quick ? 20 : 50;
  const durationMs = quick ? 5_000 : 15_000;
  const targets = [];
  for (let i = 0; i < sessions; i++) {
    const session = await client.createSession(`bench: concurrent writes ${i + 1}`);
    const token = await client.createEntity(session.id, "token", { name: `bench token ${i + 1}` });
    targets.push({ sid: session.id, id: token.id, version: token.version });
  }

  const oursRun = await runLoops({
    concurrency: sessions,
    maxPerLoop: perLoop,
    durationMs,
    warmupMs: 1_000,
    step: async (loop, i) => {
      const t = targets[loop];
      const r = await client.patchEntity(t.sid, "token", t.id, t.version, { x: i % 1000 });
      if (!Number.isInteger(r.data?.version)) throw new Error(`PATCH answered 200 without a version: ${r.text}`);
      t.version = r.data.version;
      return r.ms;
    },
  });
  const baseRun = await runLoops({
    concurrency: sessions,
    maxPerLoop: perLoop,
    durationMs,
    warmupMs: 1_000,
    step: async () => (await client.benchD1Write()).ms,
  });

  const ours = figures(oursRun, `${sessions} loops of PATCH, one session each`);
  const base = figures(baseRun, `${sessions} loops of POST /api/bench/d1-write`);
  const tputSlowdown = ratio(base.per_second, ours.per_second);
  return {
    rows: [
      {
        measure: `throughput, ${sessions} concurrent writers`,
        ours: fmtRate(ours.per_second, "writes/s"),
        baseline: fmtRate(base.per_second, "writes/s"),
        slowdown: fmtRatio(tputSlowdown),
        target: "—",
        verdict: "info",
      },
      {
        measure: "latency",
        ours: latencyCell(ours.latency_ms),
        baseline: latencyCell(base.latency_ms),
        slowdown: `${fmtRatio(ratio(ours.latency_ms.p50, base.latency_ms.p50))} (p50)`,
        target: "—",
        verdict: "info",
      },
    ],
    details: [
      `ours: ${sessions} sessions × 1 token; ${sessions} concurrent loops, each sequential PATCHes on its own session, ` +
        `≤ ${perLoop} a loop and ≤ ${durationMs / 1000} s after a 1 s warm-up: ${ours.count} writes in ${fmtMs(ours.wall_ms)}.`,
      `baseline: the same ${sessions} loops of bare D1 inserts: ${base.count} writes in ${fmtMs(base.wall_ms)}.`,
    ],
    failures: failuresOf(ours, base),
    data: { ours: stripFirstError(ours), baseline: stripFirstError(base), throughput_slowdown: tputSlowdown },
  };
}

// -------------------------------------------------------------------------------------------
// 3. GET {S}/state of a world of 200 scenes and 5,000 tokens

async function bigState({ client, quick, shared }) {
  const sceneCount = 200;
  const tokenCount = 5000;
  const gets = quick ? 10 : 30;
  const session = await client.createSession("bench: big world");
  const sid = session.id;
  const scenes = await seedEntities(client, sid, "scene", sceneCount, (i) => ({ name: `Scene ${i + 1}`, sort: i }));
  const tokens = await seedEntities(client, sid, "token", tokenCount, (i) => ({
    name: `Token ${i + 1}`,
    scene_id: scenes.ids[i % sceneCount],
    x: (i * 37) % 2000,
    y: (i * 91) % 2000,
    stats: { hp: 10 + (i % 20), ac: 12 },
  }));
  await client.activateScene(sid, scenes.ids[0]);

  // One parsed read to check the world is what we think it is (not timed).
  const check = await client.getState(sid);
  const state = check.data ?? {};
  const seen = {
    scenes: state.scenes?.length,
    tokens: state.tokens?.length,
    layers: state.layers?.length,
    seq: state.seq,
    etag: check.etag,
  };
  shared.bigWorld = { sid, etag: check.etag, scenes: sceneCount, tokens: tokenCount };

  const bytes = [];
  const run = await runSequential({
    count: gets,
    durationMs: 60_000,
    warmup: 2,
    step: async () => {
      const r = await client.getState(sid, { parse: false });
      bytes.push(r.bytes);
      return r.ms;
    },
  });
  const ours = figures(run, "GET {S}/state (no If-None-Match)");
  const size = bytes.at(-1);
  return {
    rows: [
      {
        measure: `GET state, ${sceneCount} scenes + ${tokenCount} tokens, ${ours.count} sequential`,
        ours: latencyCell(ours.latency_ms),
        baseline: "— (absolute target)",
        slowdown: "—",
        target: "< 150 ms (p50)",
        verdict: Number.isFinite(ours.latency_ms.p50) ? (ours.latency_ms.p50 < 150 ? "pass" : "OVER") : "—",
      },
      {
        measure: "GET state body size",
        ours: `${fmtBytes(size)}${check.contentEncoding ? ` (${check.contentEncoding} on the wire)` : " (uncompressed)"}`,
        baseline: "—",
        slowdown: "—",
        target: "—",
        verdict: "info",
      },
    ],
    details: [
      `seeded with POST {S}/batch: ${scenes.times.length} batch(es) of scenes (${fmtMs(scenes.times[0])}), ` +
        `${tokens.times.length} batches of 500 tokens (median ${fmtMs(summarize(tokens.times).p50)}, max ${fmtMs(summarize(tokens.times).max)}); scene 1 activated.`,
      `state as seen by the GM: ${seen.scenes} scenes, ${seen.tokens} tokens, ${seen.layers} layers, seq ${seen.seq}, ETag ${seen.etag}; ` +
        `${size} bytes decoded, content-length ${check.contentLength ?? "none"}.`,
    ],
    failures: failuresOf(ours),
    data: {
      ours: stripFirstError(ours),
      bytes: size,
      content_encoding: check.contentEncoding,
      seen,
      seed_ms: { scenes: scenes.times, tokens: tokens.times },
    },
  };
}

// -------------------------------------------------------------------------------------------
// 4. One 500-op batch

async function bigBatch({ client, quick }) {
  const repeats = quick ? 3 : 5;
  const session = await client.createSession("bench: 500-op batch");
  const scene = await client.createEntity(session.id, "scene", { name: "Batch scene" });
  let n = 0;
  const ops = () =>
    Array.from({ length: 500 }, () => {
      n += 1;
      return createOp("token", { name: `Batch token ${n}`, scene_id: scene.id, x: n % 1000, y: (n * 7) % 1000 });
    });

  const batchRun = await runSequential({
    count: repeats,
    durationMs: 120_000,
    warmup: 1,
    step: async () => (await client.batch(session.id, ops())).ms,
  });
  const baseRun = await runSequential({
    count: 50,
    durationMs: 15_000,
    warmup: 5,
    step: async () => (await client.benchD1Write()).ms,
  });
  const ours = figures(batchRun, "POST {S}/batch with 500 token creates");
  const base = figures(baseRun, "POST /api/bench/d1-write");
  const perOp = ours.latency_ms.p50 / 500;
  const perOpRatio = ratio(perOp, base.latency_ms.p50);
  return {
    rows: [
      {
        measure: `one 500-op batch (median of ${ours.count})`,
        ours: `${fmtMs(ours.latency_ms.p50)} (max ${fmtMs(ours.latency_ms.max)}) = ${fmtRate(500000 / ours.latency_ms.p50, "ops/s")}`,
        baseline: "—",
        slowdown: "—",
        target: "—",
        verdict: "info",
      },
      {
        measure: "per-op cost in a batch vs one bare D1 write request",
        ours: `${fmtMs(perOp)} / op`,
        baseline: `${fmtMs(base.latency_ms.p50)} / write (p50 of ${base.count})`,
        slowdown: fmtRatio(perOpRatio),
        target: "—",
        verdict: "info",
      },
    ],
    details: [
      `ours: ${ours.count} sequential POST {S}/batch of 500 token creates on one scene, after 1 warm-up batch; ` +
        `samples ${ours.count ? batchRun.latencies.map((x) => fmtMs(x)).join(", ") : "—"}.`,
      "baseline: the median of 50 sequential bare D1 insert requests, each a full HTTP round trip; " +
        "so the ratio compares one op inside a batch with one single-row write request (< 1× means batching pays).",
    ],
    failures: failuresOf(ours, base),
    data: { ours: stripFirstError(ours), baseline: stripFirstError(base), per_op_ms: perOp, per_op_ratio: perOpRatio },
  };
}

// -------------------------------------------------------------------------------------------
// 5. The 304 polling path under 200 concurrent pollers

async function polling({ client, quick, shared }) {
  const pollers = quick ? 50 : 200;
  const durationMs = quick ? 3_000 : 8_000;
  let sid;
  let world;
  if (shared.bigWorld) {
    sid = shared.bigWorld.sid;
    world = `the big world of scenario 3 (${shared.bigWorld.scenes} scenes, ${shared.bigWorld.tokens} tokens)`;
  } else {
    const session = await client.createSession("bench: polling");
    await client.createEntity(session.id, "token", { name: "polled token" });
    sid = session.id;
    world = "a fresh session with one token (scenario 3 did not run)";
  }
  const current = await client.getState(sid, { parse: false });
  const etag = current.etag;
  if (!etag) throw new Error(`GET ${ApiClient.sessionPath(sid)}/state answered ${current.status} without an ETag`);

  const oursRun = await runLoops({
    concurrency: pollers,
    durationMs,
    maxPerLoop: 100_000,
    warmupMs: 1_000,
    step: async () => (await client.getState(sid, { etag, parse: false })).ms,
  });
  const baseRun = await runLoops({
    concurrency: pollers,
    durationMs,
    maxPerLoop: 100_000,
    warmupMs: 1_000,
    step: async () => (await client.benchStatic('"1"')).ms,
  });
  const ours = figures(oursRun, `${pollers} pollers of GET {S}/state with If-None-Match`);
  const base = figures(baseRun, `${pollers} pollers of GET /api/bench/static with If-None-Match: "1"`);
  const p50Slowdown = ratio(ours.latency_ms.p50, base.latency_ms.p50);
  const tputSlowdown = ratio(base.per_second, ours.per_second);
  return {
    rows: [
      {
        measure: `304 latency, ${pollers} concurrent pollers`,
        ours: latencyCell(ours.latency_ms),
        baseline: latencyCell(base.latency_ms),
        slowdown: `${fmtRatio(p50Slowdown)} (p50)`,
        target: "≤ 1.5×",
        verdict: verdict(p50Slowdown, 1.5),
      },
      {
        measure: "304 throughput",
        ours: fmtRate(ours.per_second),
        baseline: fmtRate(base.per_second),
        slowdown: fmtRatio(tputSlowdown),
        target: "≤ 1.5×",
        verdict: verdict(tputSlowdown, 1.5),
      },
    ],
    details: [
      `ours: ${pollers} loops of GET {S}/state with If-None-Match: ${etag} on ${world}, ` +
        `${durationMs / 1000} s after a 1 s warm-up: ${ours.count} answers (all 304) in ${fmtMs(ours.wall_ms)}.`,
      `baseline: the same loops on GET /api/bench/static with If-None-Match: "1" (a bare 304, no D1): ${base.count} answers.`,
    ],
    failures: failuresOf(ours, base),
    data: {
      ours: stripFirstError(ours),
      baseline: stripFirstError(base),
      p50_slowdown: p50Slowdown,
      throughput_slowdown: tputSlowdown,
    },
  };
}

// -------------------------------------------------------------------------------------------
// 6. The server's CPU time per PATCH, per socket write and per batch

/** The quiet pause after timed writes: longer than the session object's flush of its save counters (2 s). */
const WRITE_SETTLE_MS = 2500;
const SOCKET_TIMEOUT_MS = 15_000;

/** The GM's session socket, ready once `hello` arrived; `write(ops)` resolves with the `result`. */
function openWriter(url, headers) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const pending = new Map();
    let next = 0;
    const timer = setTimeout(() => reject(new Error(`no hello within ${SOCKET_TIMEOUT_MS} ms from ${url}`)), SOCKET_TIMEOUT_MS);
    const writer = {
      write(ops) {
        const id = ++next;
        return new Promise((res, rej) => {
          const t = setTimeout(() => {
            pending.delete(id);
            rej(new Error(`no answer to ops message ${id}`));
          }, SOCKET_TIMEOUT_MS);
          pending.set(id, (message) => {
            clearTimeout(t);
            if (message.type === "result") res(message);
            else rej(new Error(`ops message ${id} answered ${JSON.stringify(message)}`));
          });
          ws.send(JSON.stringify({ type: "ops", id, ops }));
        });
      },
      close: () => ws.close(1000, "done"),
    };
    ws.addEventListener("message", (event) => {
      const text = typeof event.data === "string" ? event.data : Buffer.from(event.data).toString("utf8");
      if (text.startsWith('{"type":"hello"')) {
        clearTimeout(timer);
        resolve(writer);
        return;
      }
      if (!text.startsWith('{"type":"result"') && !text.startsWith('{"type":"error"')) return;
      const message = JSON.parse(text);
      pending.get(message.id)?.(message);
      pending.delete(message.id);
    });
    ws.addEventListener("error", (event) => reject(new Error(`socket error on ${url}: ${event.message ?? "unknown"}`)));
    ws.addEventListener("close", (event) => {
      clearTimeout(timer);
      reject(new Error(`socket closed: ${event.code} ${event.reason}`));
      for (const answer of pending.values()) answer({ type: "error", message: "socket closed" });
    });
  });
}

/** CPU per `{"type":"ops"}` message of one token update on the GM's socket (docs/realtime.md "Writes over the socket"). */
async function socketWriteCpu({ client, probe, count, sid }) {
  const token = await client.createEntity(sid, "token", { name: "bench socket token" });
  const url = `${client.baseUrl.replace(/^http/, "ws")}${ApiClient.sessionPath(sid)}/ws`;
  const writer = await openWriter(url, { authorization: `Bearer ${client.token}`, origin: client.baseUrl });
  let version = token.version;
  try {
    return await cpuPerRequest(probe, {
      count,
      settleMs: WRITE_SETTLE_MS,
      step: async (i) => {
        const op = {
          op_id: crypto.randomUUID(),
          entity_type: "token",
          op: "update",
          id: token.id,
          base_version: version,
          data: { x: i % 1000 },
        };
        const reply = await writer.write([op]);
        const entity = reply.results?.[0]?.entity;
        if (!Number.isInteger(entity?.version)) throw new Error(`result without a version: ${JSON.stringify(reply)}`);
        version = entity.version;
      },
    });
  } finally {
    writer.close();
  }
}

async function serverCpu({ client, quick, persistDir }) {
  const probe = serverCpuProbe({ persistDir });
  if (!probe) {
    return {
      rows: [],
      details: ["skipped: no local server to read /proc of (a --url run: set VTT_BENCH_SERVER_PID to the server's pid)."],
      failures: [],
      data: { skipped: true },
    };
  }
  const count = quick ? 50 : 200;
  const session = await client.createSession("bench: server CPU per write");
  const token = await client.createEntity(session.id, "token", { name: "bench token" });
  let version = token.version;
  const patch = await cpuPerRequest(probe, {
    count,
    settleMs: WRITE_SETTLE_MS,
    step: async (i) => {
      const r = await client.patchEntity(session.id, "token", token.id, version, { x: i % 1000 });
      if (!Number.isInteger(r.data?.version)) throw new Error(`PATCH answered 200 without a version: ${r.text}`);
      version = r.data.version;
    },
  });
  const base = await cpuPerRequest(probe, { count, step: () => client.benchD1Write() });
  const scene = await client.createEntity(session.id, "scene", { name: "Batch scene" });
  let n = 0;
  const batches = quick ? 3 : 5;
  const batch = await cpuPerRequest(probe, {
    count: batches,
    warmup: 1,
    step: () =>
      client.batch(
        session.id,
        Array.from({ length: 500 }, () => {
          n += 1;
          return createOp("token", { name: `Batch token ${n}`, scene_id: scene.id, x: n % 1000, y: (n * 7) % 1000 });
        }),
      ),
  });
  const socket = await socketWriteCpu({ client, probe, count, sid: session.id });
  const perPatch = patch.cpu_ms_per_request;
  const perBase = base.cpu_ms_per_request;
  const slowdown = ratio(perPatch, perBase);
  return {
    rows: [
      {
        measure: `server CPU per request, ${count} sequential`,
        ours: `${fmtMs(perPatch)} / PATCH`,
        baseline: `${fmtMs(perBase)} / D1 insert`,
        slowdown: fmtRatio(slowdown),
        target: "—",
        verdict: "info",
      },
      {
        measure: `server CPU per socket write (one update op), ${count} sequential`,
        ours: `${fmtMs(socket.cpu_ms_per_request)} / ops message`,
        baseline: `${fmtMs(perBase)} / D1 insert`,
        slowdown: fmtRatio(ratio(socket.cpu_ms_per_request, perBase)),
        target: "—",
        verdict: "info",
      },
      {
        measure: `server CPU per 500-op batch, ${batches} sequential`,
        ours: `${fmtMs(batch.cpu_ms_per_request)} / batch = ${fmtMs(batch.cpu_ms_per_request / 500)} / op`,
        baseline: `${fmtMs(perBase)} / D1 insert`,
        slowdown: `${fmtRatio(ratio(batch.cpu_ms_per_request / 500, perBase))} (per op)`,
        target: "—",
        verdict: "info",
      },
    ],
    details: [
      `ours: ${count} PATCH {"x": i} with If-Match to one token after 10 warm-up writes; ` +
        `utime+stime of the server's process tree (pid ${probe.root} and below, /proc) over them: ${fmtMs(patch.cpu_ms)}.`,
      `baseline: ${count} POST /api/bench/d1-write the same way: ${fmtMs(base.cpu_ms)}. ` +
        `Idle server: ${patch.idle_cpu_ms_per_s.toFixed(1)} / ${base.idle_cpu_ms_per_s.toFixed(1)} ms of CPU a second before each (subtracted for the settling pause only).`,
      `socket: ${count} {"type":"ops"} messages of one token update (base_version) on the GM's session socket, each answered by ` +
        `{"type":"result"} before the next, after 10 warm-up writes: ${fmtMs(socket.cpu_ms)}.`,
      `PATCH and socket writes are read ${WRITE_SETTLE_MS} ms after the last one, so the save counters the session object ` +
        `flushes to D1 a couple of seconds after a save are counted in them.`,
      `batch: ${batches} sequential POST {S}/batch of 500 token creates after 1 warm-up batch: ${fmtMs(batch.cpu_ms)} in all.`,
    ],
    failures: [],
    data: { ours: patch, baseline: base, batch, socket, cpu_slowdown: slowdown },
  };
}

export const scenarios = [
  { id: "1", title: "Sequential versioned writes, one session", run: sequentialWrites },
  { id: "2", title: "Concurrent writes over 20 sessions", run: concurrentWrites },
  { id: "3", title: "Full state of a big world", run: bigState },
  { id: "4", title: "A 500-op batch", run: bigBatch },
  { id: "5", title: "304 polling, 200 pollers", run: polling },
  { id: "6", title: "Server CPU per PATCH and per socket write", run: serverCpu },
];
