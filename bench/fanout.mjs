/**
 * The WebSocket fan-out benchmark of the real-time issue: N players (10, 100, 500) hold real
 * WebSockets to one session over loopback while the GM writes at 20 and 200 changes a second.
 * Measured per (N, rate):
 *   - latency from the start of a write (the PATCH leaving this process) to each player's receipt
 *     of its `change` message: p50 / p95 / p99 over every (write, player) pair;
 *   - messages and bytes each player received (payload bytes as decoded text), and losses: writes
 *     answered 200 whose change some player never received within the drain time (must be 0);
 *   - out-of-order deliveries (a seq not above the previous one on that socket; must be 0).
 * Beside it, in the same run and with the same N sockets, rates, schedule and message size, the
 * floor: a bare Durable Object (RelayObject, /api/bench/relay/*) that only relays each message it
 * is given to its sockets. Both sets of sockets stay connected and the two sides take turns in
 * one-second blocks, so a burst of load from anything else on the machine hits both alike.
 * Targets: p99 at 100 players within 2× of the floor and under 50 ms; at 500 players zero losses
 * and p99 within 3× of the floor.
 *
 * Players hold the app's sockets (`?patch=1`: an update arrives as a merge patch, a token move
 * under 200 bytes). The GM writes the same moves two ways in turns, in the same run: over REST
 * (PATCH) and as `ops` messages on the GM's own socket (answered by `result`), so the table has
 * a row for each beside the floor; "bytes per change" is the size of one change message as the
 * players receive it.
 *
 * Writes are PATCHes of `x` on 16 tokens of the active scene, round-robin: If-Match needs the
 * previous version, so each token has at most one write in flight, and the schedule is open-loop
 * (write i is due at i / rate; one that finds its token still busy starts late, and the lateness
 * is reported). `x` carries the write's number, which is how a receipt is matched to its write.
 * The GM runs under the default mutation limit (burst 400, 200 a second: domain/rate-limit.ts),
 * which 200 writes a second stays within.
 *
 * Every socket, write and wait is bounded in count and time; sockets are closed whatever happens.
 * The load generator and the server share the machine's CPUs: at 500 players and 200 writes a
 * second this process alone receives 100,000 messages a second, and both sides pay for it.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { ApiClient } from "./lib/client.mjs";
import { ROOT } from "./lib/server.mjs";
import { fmtBytes, fmtMs, fmtRate, fmtRatio, percentile, rate as perSecond, ratio } from "./lib/stats.mjs";

export const name = "fanout";

const RATES = [20, 200];
const LANES = 16;
/** Enough player users that 500 sockets stay within 20 a user (SOCKETS_PER_USER_PER_SESSION). */
const PLAYER_USERS = 25;
const CONNECT_CONCURRENCY = 25;
const CONNECT_TIMEOUT_MS = 15_000;
const DRAIN_TIMEOUT_MS = 15_000;
const CLOSE_TIMEOUT_MS = 10_000;

/**
 * Writes per side and rate: 10 s at 20/s and 5 s at 200/s (200 and 1000 writes), so that a p99
 * rests on more than a couple of writes (each write is one sample per player, and a slow write is
 * slow for every player at once).
 */
function writesFor(rate, quick) {
  const seconds = quick ? 2 : rate < 100 ? 10 : 5;
  return rate * seconds;
}

// -------------------------------------------------------------------------------------------
// Sockets

/** A socket with its receipt bookkeeping; the message handler is the hot path: no JSON.parse. */
class Receiver {
  constructor(ws) {
    this.ws = ws;
    this.closed = null;
    this.reset(0, 0, null);
  }

  /** Starts a measured window for `count` writes numbered from `base`. */
  reset(base, count, sentAt) {
    this.base = base;
    this.count = count;
    this.sentAt = sentAt;
    this.got = new Uint8Array(count);
    this.received = 0;
    this.messages = 0;
    this.bytes = 0;
    this.duplicates = 0;
    this.outOfOrder = 0;
    this.lastSeq = -1;
    this.latencies = new Float64Array(count);
    this.sample = null;
  }

  onText(text, now) {
    this.messages += 1;
    this.bytes += Buffer.byteLength(text);
    if (this.sentAt === null) return;
    const at = text.indexOf('"x":');
    if (at < 0) return;
    const index = Number.parseInt(text.slice(at + 4, at + 24), 10) - this.base;
    if (!(index >= 0 && index < this.count)) return;
    if (this.got[index]) {
      this.duplicates += 1;
      return;
    }
    this.got[index] = 1;
    this.latencies[index] = now - this.sentAt[index];
    this.received += 1;
    this.sample ??= text;
    const s = text.indexOf('"seq":');
    if (s >= 0 && this.checkOrder) {
      const seq = Number.parseInt(text.slice(s + 6, s + 26), 10);
      if (seq <= this.lastSeq) this.outOfOrder += 1;
      this.lastSeq = seq;
    }
  }
}

/** Opens a WebSocket and resolves once `ready(text)` says so (or on open when absent); bounded. */
function openSocket(url, headers, { ready, checkOrder }) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const receiver = new Receiver(ws);
    receiver.checkOrder = checkOrder;
    let settled = false;
    const finish = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        try {
          ws.close();
        } catch {}
        reject(err);
      } else resolve(receiver);
    };
    const timer = setTimeout(
      () => finish(new Error(`no ${ready ? "hello" : "open"} within ${CONNECT_TIMEOUT_MS} ms from ${url}`)),
      CONNECT_TIMEOUT_MS,
    );
    ws.addEventListener("open", () => {
      if (!ready) finish();
    });
    ws.addEventListener("message", (event) => {
      const now = performance.now();
      const text = typeof event.data === "string" ? event.data : Buffer.from(event.data).toString("utf8");
      if (!settled && ready?.(text)) finish();
      receiver.onText(text, now);
    });
    ws.addEventListener("error", (event) => finish(new Error(`socket error on ${url}: ${event.message ?? "unknown"}`)));
    ws.addEventListener("close", (event) => {
      receiver.closed = { code: event.code, reason: event.reason };
      finish(new Error(`socket closed before it was ready: ${event.code} ${event.reason}`));
    });
  });
}

/**
 * The GM's socket as a writer: `ops` messages answered by `result` or `error` (matched by id).
 * Its own receipts are not measured (the players' are).
 */
class SocketWriter {
  constructor(receiver) {
    this.ws = receiver.ws;
    this.pending = new Map();
    this.next = 0;
    this.ws.addEventListener("message", (event) => {
      const text = typeof event.data === "string" ? event.data : Buffer.from(event.data).toString("utf8");
      if (!text.startsWith('{"type":"result"') && !text.startsWith('{"type":"error"')) return;
      const message = JSON.parse(text);
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id);
      if (message.type === "result") waiting.resolve(message);
      else waiting.reject(Object.assign(new Error(`${message.code}: ${message.message}`), { response: { status: message.status } }));
    });
    this.ws.addEventListener("close", () => {
      for (const w of this.pending.values()) w.reject(Object.assign(new Error("socket closed"), { response: { status: "closed" } }));
      this.pending.clear();
    });
  }

  write(ops) {
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(Object.assign(new Error("no answer"), { response: { status: "timeout" } }));
      }, DRAIN_TIMEOUT_MS);
      this.pending.set(id, {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.ws.send(JSON.stringify({ type: "ops", id, ops }));
    });
  }
}

/** Opens `n` sockets, CONNECT_CONCURRENCY at a time. */
async function openMany(n, open) {
  const sockets = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(CONNECT_CONCURRENCY, n) }, async () => {
      while (next < n) {
        const i = next++;
        sockets.push(await open(i));
      }
    }),
  );
  return { sockets, ms: performance.now() - t0 };
}

async function closeAll(sockets) {
  const closing = sockets.map(
    (r) =>
      new Promise((resolve) => {
        if (r.closed || r.ws.readyState === WebSocket.CLOSED) return resolve();
        r.ws.addEventListener("close", () => resolve(), { once: true });
        try {
          r.ws.close(1000, "bench done");
        } catch {
          resolve();
        }
      }),
  );
  await Promise.race([Promise.all(closing), sleep(CLOSE_TIMEOUT_MS)]);
}

// -------------------------------------------------------------------------------------------
// Load

/** The figures of one side (ours or the floor) for one rate, filled block by block. */
function newRun(count) {
  return { accepted: new Uint8Array(count), httpMs: [], lateMs: [], errors: { count: 0, byStatus: {}, first: null }, wallMs: 0 };
}

/**
 * Runs sends `from`..`to` (excluded) at `rate` a second, open-loop over LANES lanes (a lane runs
 * its sends one after the other), into `run`. Records when each send started in `sentAt`.
 * A server that cannot keep up is not waited for forever: nothing starts after 3× the schedule.
 */
async function drive({ rate, from, to, sentAt, run, send }) {
  const lanes = Array.from({ length: LANES }, () => Promise.resolve());
  const start = performance.now() + 5;
  const stopAt = start + (3 * (to - from) * 1000) / rate;
  for (let i = from; i < to; i++) {
    const due = start + ((i - from) * 1000) / rate;
    if (performance.now() > stopAt) break;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const lane = i % LANES;
    lanes[lane] = lanes[lane].then(async () => {
      const t0 = performance.now();
      if (t0 > stopAt) return;
      sentAt[i] = t0;
      run.lateMs.push(Math.max(0, t0 - due));
      try {
        await send(i, lane);
        run.accepted[i] = 1;
        run.httpMs.push(performance.now() - t0);
      } catch (err) {
        run.errors.count += 1;
        const key = err.response?.status ?? "no response";
        run.errors.byStatus[key] = (run.errors.byStatus[key] ?? 0) + 1;
        run.errors.first ??= err;
      }
    });
  }
  await Promise.all(lanes);
  run.wallMs += performance.now() - start;
}

/** Waits until no message arrived for a while (presence of the last joins still in flight), bounded. */
async function settle(sockets) {
  const total = () => sockets.reduce((a, s) => a + s.messages, 0);
  const deadline = performance.now() + 5000;
  let last = total();
  while (performance.now() < deadline) {
    await sleep(200);
    const now = total();
    if (now === last) return;
    last = now;
  }
}

/** Waits until every socket has every accepted write, or the drain time is over. */
async function drain(sockets, accepted) {
  const want = accepted.reduce((a, b) => a + b, 0);
  const deadline = performance.now() + DRAIN_TIMEOUT_MS;
  while (performance.now() < deadline) {
    if (sockets.every((s) => s.received >= want)) return;
    await sleep(20);
  }
}

/** The figures of the writes numbered `lo`..`hi` (excluded) of a window. */
function measure(sockets, run, lo = 0, hi = run.accepted.length) {
  const { accepted } = run;
  let lost = 0;
  let extra = 0;
  const samples = [];
  for (const s of sockets) {
    for (let i = lo; i < hi; i++) {
      if (s.got[i]) samples.push(s.latencies[i]);
      if (accepted[i] && !s.got[i]) lost += 1;
      if (!accepted[i] && s.got[i]) extra += 1;
    }
  }
  const all = Float64Array.from(samples).sort();
  const n = sockets.length;
  const q = (p) => percentile(all, p);
  return {
    players: n,
    writes_accepted: accepted.slice(lo, hi).reduce((a, b) => a + b, 0),
    deliveries: all.length,
    latency_ms: { p50: q(50), p95: q(95), p99: q(99), max: all.length ? all[all.length - 1] : Number.NaN },
    messages_per_player: sockets.reduce((a, s) => a + s.messages, 0) / n,
    bytes_per_player: sockets.reduce((a, s) => a + s.bytes, 0) / n,
    lost,
    unexpected: extra,
    duplicates: sockets.reduce((a, s) => a + s.duplicates, 0),
    out_of_order: sockets.reduce((a, s) => a + s.outOfOrder, 0),
    closed_during_run: sockets.filter((s) => s.closed).length,
    scheduled: hi - lo,
    achieved_per_second: perSecond(
      accepted.slice(lo, hi).reduce((a, b) => a + b, 0),
      run.wallMs,
    ),
    http_ms: { p50: percentile(Float64Array.from(run.httpMs).sort(), 50), p99: percentile(Float64Array.from(run.httpMs).sort(), 99) },
    late_ms_p99: percentile(Float64Array.from(run.lateMs).sort(), 99),
    errors: { count: run.errors.count, by_status: run.errors.byStatus },
    firstError: run.errors.first,
  };
}

// -------------------------------------------------------------------------------------------
// Setup

/** A fresh user with an API token: the token itself is needed for the socket's Authorization header. */
async function registerPlayer(baseUrl) {
  const client = await ApiClient.registerWithToken(baseUrl);
  return { client, token: client.token };
}

async function players(ctx) {
  if (!ctx.shared.fanoutPlayers) {
    const list = [];
    for (let i = 0; i < PLAYER_USERS; i++) list.push(await registerPlayer(ctx.baseUrl));
    ctx.shared.fanoutPlayers = list;
  }
  return ctx.shared.fanoutPlayers;
}

/** A fresh session: an active scene with LANES tokens, every player user a member. */
async function table(ctx, n) {
  const { client } = ctx;
  const created = await client.request("POST", "/api/vtt/sessions", { body: { name: `bench: fan-out ${n}` }, expect: 201 });
  const sid = created.data.session.id;
  for (const p of await players(ctx)) {
    await p.client.request("POST", "/api/vtt/sessions/join", { body: { invite_code: created.data.invite_code }, expect: 200 });
  }
  const scene = await client.createEntity(sid, "scene", { name: "Fan-out" });
  const ops = Array.from({ length: LANES }, (_, i) => ({
    op_id: crypto.randomUUID(),
    entity_type: "token",
    op: "create",
    data: { name: `Runner ${i + 1}`, scene_id: scene.id, stats: { hp: 10 } },
  }));
  const batch = await client.batch(sid, ops);
  const tokens = batch.data.results.map((r) => ({ id: r.entity.id, version: r.entity.version }));
  await client.activateScene(sid, scene.id);
  return { sid, tokens };
}

// -------------------------------------------------------------------------------------------
// One N

async function fanout(ctx, n) {
  const { client, baseUrl, quick, log } = ctx;
  const wsBase = baseUrl.replace(/^http/, "ws");
  const tokensOf = (await players(ctx)).map((p) => p.token);
  const { sid, tokens } = await table(ctx, n);
  const room = `fanout-${n}-${Date.now().toString(36)}`;
  const results = { players: n, ours: {}, socket: {}, floor: {} };
  let counter = 1000;
  let ours = [];
  let floor = [];
  let gm = null;
  try {
    log(`[bench]   connecting ${n} player sockets to the session and ${n} to the bare relay`);
    const connected = await openMany(n, (i) =>
      openSocket(
        `${wsBase}${ApiClient.sessionPath(sid)}/ws?patch=1`,
        { authorization: `Bearer ${tokensOf[i % tokensOf.length]}`, origin: baseUrl },
        { ready: (text) => text.startsWith('{"type":"hello"'), checkOrder: true },
      ),
    );
    ours = connected.sockets;
    results.connect_ms = connected.ms;
    const relayed = await openMany(n, () =>
      openSocket(`${wsBase}/api/bench/relay/ws?room=${room}`, {}, { ready: null, checkOrder: false }),
    );
    floor = relayed.sockets;
    results.floor_connect_ms = relayed.ms;
    gm = await openSocket(
      `${wsBase}${ApiClient.sessionPath(sid)}/ws?patch=1`,
      { authorization: `Bearer ${client.token}`, origin: baseUrl },
      { ready: (text) => text.startsWith('{"type":"hello"'), checkOrder: false },
    );
    const writer = new SocketWriter(gm);
    await settle([...ours, ...floor]);
    results.extensions = ours[0]?.ws.extensions ?? "";

    // Ours and the floor take turns in one-second blocks: a neighbour's burst of load on this
    // shared machine lands on both sides alike instead of spoiling one of them.
    for (const rate of RATES) {
      const count = writesFor(rate, quick);
      // The players' window holds both of the GM's ways: REST writes 0..count, socket writes count..2·count.
      const oursBase = counter;
      const floorBase = counter + 2 * count;
      counter += 3 * count;
      const oursSentAt = new Float64Array(2 * count);
      const floorSentAt = new Float64Array(count);
      for (const s of ours) s.reset(oursBase, 2 * count, oursSentAt);
      for (const s of floor) s.reset(floorBase, count, floorSentAt);
      const oursRun = newRun(2 * count);
      const socketRun = newRun(2 * count);
      const floorRun = newRun(count);
      let template = null;
      let at = 0;
      let end = 0;
      log(
        `[bench]   ${n} players, ${rate} changes/s: ${count} writes over REST, ${count} over the GM's socket and ${count} relayed messages, in turns`,
      );
      for (let from = 0; from < count; from += rate) {
        const to = Math.min(count, from + rate);
        await drive({
          rate,
          from,
          to,
          sentAt: oursSentAt,
          run: oursRun,
          send: async (i, lane) => {
            const t = tokens[lane];
            const r = await client.patchEntity(sid, "token", t.id, t.version, { x: oursBase + i }, { parse: false });
            t.version += 1;
            return r;
          },
        });
        await drive({
          rate,
          from: count + from,
          to: count + to,
          sentAt: oursSentAt,
          run: socketRun,
          send: async (i, lane) => {
            const t = tokens[lane];
            const op = {
              op_id: crypto.randomUUID(),
              entity_type: "token",
              op: "update",
              id: t.id,
              base_version: t.version,
              data: { x: oursBase + i },
            };
            const r = await writer.write([op]);
            t.version += 1;
            return r;
          },
        });
        // The floor relays a copy of a real change message (same size), numbered like the writes.
        if (template === null) {
          template = ours.find((s) => s.sample)?.sample ?? `{"type":"change","seq":1,"x":0,"pad":"${"x".repeat(500)}"}`;
          at = template.indexOf('"x":');
          end = at + 4 + /^-?\d+/.exec(template.slice(at + 4))[0].length;
          results.message_bytes = Buffer.byteLength(template);
        }
        await drive({
          rate,
          from,
          to,
          sentAt: floorSentAt,
          run: floorRun,
          send: async (i) => {
            const text = `${template.slice(0, at + 4)}${floorBase + i}${template.slice(end)}`;
            const r = await client.request("POST", "/api/bench/relay/send", { body: { room, text }, expect: 200 });
            if (r.data?.sent !== n) throw new Error(`the relay sent to ${r.data?.sent} sockets, not ${n}`);
            return r;
          },
        });
      }
      const acceptedBoth = oursRun.accepted.map((a, i) => a | socketRun.accepted[i]);
      await Promise.all([drain(ours, acceptedBoth), drain(floor, floorRun.accepted)]);
      results.ours[rate] = measure(ours, oursRun, 0, count);
      results.socket[rate] = measure(ours, socketRun, count, 2 * count);
      results.floor[rate] = measure(floor, floorRun);
      for (const s of [...ours, ...floor]) s.sentAt = null;
    }
  } finally {
    await closeAll([...ours, ...floor, ...(gm ? [gm] : [])]);
    await client.request("POST", "/api/bench/relay/close", { body: { room } }).catch(() => {});
  }
  return results;
}

// -------------------------------------------------------------------------------------------
// Report

function target(n, ours, floor) {
  const p99Ratio = ratio(ours.latency_ms.p99, floor.latency_ms.p99);
  if (n === 100) {
    return {
      text: "p99 ≤ 2× floor and < 50 ms; 0 lost",
      ok: p99Ratio <= 2 && ours.latency_ms.p99 < 50 && ours.lost === 0,
    };
  }
  if (n === 500) return { text: "p99 ≤ 3× floor; 0 lost", ok: p99Ratio <= 3 && ours.lost === 0 };
  return { text: "0 lost", ok: ours.lost === 0 };
}

const lat = (m) => `p50 ${fmtMs(m.latency_ms.p50)} · p95 ${fmtMs(m.latency_ms.p95)} · p99 ${fmtMs(m.latency_ms.p99)}`;
const volume = (m) => `${m.messages_per_player.toFixed(0)} msgs · ${fmtBytes(Math.round(m.bytes_per_player))} · ${m.lost} lost`;

function rowsOf(r) {
  const rows = [];
  for (const [rate, way] of RATES.flatMap((rate) => [
    [rate, "ours"],
    [rate, "socket"],
  ])) {
    const ours = r[way][rate];
    const floor = r.floor[rate];
    const t = target(r.players, ours, floor);
    const clean = ours.out_of_order === 0 && ours.duplicates === 0 && ours.unexpected === 0;
    rows.push({
      measure: `${r.players} players, ${rate} writes/s over ${way === "ours" ? "REST" : "the GM's socket"}: write start → player receipt`,
      ours: lat(ours),
      baseline: lat(floor),
      slowdown: `${fmtRatio(ratio(ours.latency_ms.p99, floor.latency_ms.p99))} (p99)`,
      target: t.text,
      verdict: t.ok && clean ? "pass" : "OVER",
    });
    if (way === "socket") continue;
    rows.push({
      measure: "per player (both ways): messages · bytes · lost",
      ours: volume(ours),
      baseline: volume(floor),
      slowdown: "—",
      target: "0 lost, in order",
      verdict: ours.lost === 0 && clean ? "pass" : "FAIL",
    });
  }
  return rows;
}

function detailsOf(r) {
  const lines = [
    `${r.players} player sockets connected to the session in ${fmtMs(r.connect_ms)} (${CONNECT_CONCURRENCY} at a time, bearer tokens of ${PLAYER_USERS} player users, each done at its hello), ` +
      `and ${r.players} to the relay in ${fmtMs(r.floor_connect_ms)} (no authentication, done when open); the players' sockets are patch sockets (?patch=1), a change message (a token move) is ${r.message_bytes} bytes, ` +
      `and the floor relays a copy of it; ` +
      `WebSocket extensions negotiated with this client: ${r.extensions || "none"} (by wrangler dev's entry, not by the objects).`,
  ];
  for (const rate of RATES) {
    for (const [label, m] of [
      ["ours, GM over REST", r.ours[rate]],
      ["ours, GM over its socket", r.socket[rate]],
      ["floor", r.floor[rate]],
    ]) {
      lines.push(
        `${label}, ${r.players} × ${rate}/s: ${m.writes_accepted} of ${m.scheduled} sends accepted at ${fmtRate(m.achieved_per_second, "/s")} ` +
          `(answered p50 ${fmtMs(m.http_ms.p50)}, p99 ${fmtMs(m.http_ms.p99)}; started late p99 ${fmtMs(m.late_ms_p99)}), ` +
          `${m.deliveries} deliveries, max ${fmtMs(m.latency_ms.max)}, ${m.lost} lost, ${m.out_of_order} out of order, ` +
          `${m.duplicates} duplicates, ${m.errors.count} failed sends, ${m.closed_during_run} sockets closed early.`,
      );
    }
  }
  return lines;
}

function fanoutTable(all) {
  const out = [
    "| players | writes/s | GM writes over | p50 | p95 | p99 | bytes/change | msgs/player | bytes/player | lost | floor p50 | floor p95 | floor p99 | p99 vs floor | target | verdict |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of all) {
    for (const [rate, way] of RATES.flatMap((rate) => [
      [rate, "ours"],
      [rate, "socket"],
    ])) {
      const o = r[way][rate];
      const f = r.floor[rate];
      const t = target(r.players, o, f);
      out.push(
        `| ${r.players} | ${rate} | ${way === "ours" ? "REST" : "socket"} | ${fmtMs(o.latency_ms.p50)} | ${fmtMs(o.latency_ms.p95)} | ${fmtMs(o.latency_ms.p99)} | ${r.message_bytes} B | ` +
          `${o.messages_per_player.toFixed(0)} | ${fmtBytes(Math.round(o.bytes_per_player))} | ${o.lost} | ` +
          `${fmtMs(f.latency_ms.p50)} | ${fmtMs(f.latency_ms.p95)} | ${fmtMs(f.latency_ms.p99)} | ` +
          `${fmtRatio(ratio(o.latency_ms.p99, f.latency_ms.p99))} | ${t.text} | ${t.ok ? "pass" : "OVER"} |`,
      );
    }
  }
  return out.join("\n");
}

function strip(m) {
  const { firstError, ...rest } = m;
  return rest;
}

function failuresOf(r) {
  const out = [];
  for (const side of ["ours", "socket", "floor"]) {
    for (const rate of RATES) {
      const m = r[side][rate];
      if (m.errors.count > 0) {
        out.push({
          label: `${side}, ${r.players} × ${rate}/s`,
          count: m.errors.count,
          by_status: m.errors.by_status,
          message: m.firstError?.message,
          request: m.firstError?.request,
          response: m.firstError?.response,
        });
      }
    }
  }
  return out;
}

function scenario(n) {
  return {
    id: `fanout-${n}`,
    title: `WebSocket fan-out, ${n} players`,
    async run(ctx) {
      if (ctx.quick && n === 500) {
        return { rows: [], details: ["skipped with --quick"], failures: [], data: {} };
      }
      const r = await fanout(ctx, n);
      ctx.shared.fanout = [...(ctx.shared.fanout ?? []).filter((x) => x.players !== n), r].sort((a, b) => a.players - b.players);
      const table = fanoutTable(ctx.shared.fanout);
      writeFileSync(join(ROOT, "bench", "results", "fanout.md"), `${table}\n`);
      return {
        rows: rowsOf(r),
        details: detailsOf(r),
        failures: failuresOf(r),
        data: {
          players: n,
          connect_ms: r.connect_ms,
          floor_connect_ms: r.floor_connect_ms,
          message_bytes: r.message_bytes,
          ours: Object.fromEntries(RATES.map((rate) => [rate, strip(r.ours[rate])])),
          socket: Object.fromEntries(RATES.map((rate) => [rate, strip(r.socket[rate])])),
          floor: Object.fromEntries(RATES.map((rate) => [rate, strip(r.floor[rate])])),
        },
      };
    },
  };
}

export const scenarios = [scenario(10), scenario(100), scenario(500)];
