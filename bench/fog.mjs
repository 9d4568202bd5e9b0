/**
 * Fog of war on the wire: what a brush stroke costs when only the chunks it touched travel.
 *
 * A 4096 × 4096 px map with 8 px fog cells (512 × 512 cells, 64 chunks of 64 × 64). A GM paints
 * STROKES seeded random brush strokes (radius 48–160 px, 3–10 points; three in four reveal, every
 * fourth hides part of what was revealed). Each stroke is computed with the module's
 * own editing code (modules/fog/editing.ts) and sent as one `POST {S}/batch` of chunk ops, while
 * a player holds a real WebSocket to the session. Measured per stroke:
 *   - the batch request body the GM sends (bytes of JSON);
 *   - the `change` messages the player's socket receives for that stroke (bytes of text);
 *   - wall time: computing the ops, the batch until its 200, and until the player has every
 *     change of the stroke.
 * Against two baselines per stroke: sending the whole mask each time, i.e. all 64 chunks encoded
 * (the same batch envelope with 64 ops, and 64 change messages built from a real one with each
 * chunk's bits), and the raw 1-bit bitmap of the mask (32 KiB, payload alone, no envelope).
 *
 * Bounded: STROKES strokes, each wait bounded in time, traffic to the local server only.
 */
import { writeFileSync } from "node:fs";
import * as nodeModule from "node:module";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { ApiClient } from "./lib/client.mjs";
import { machineInfo } from "./lib/report.mjs";
import { ROOT } from "./lib/server.mjs";
import { fmtBytes, fmtMs, fmtRatio, median } from "./lib/stats.mjs";

export const name = "fog";

const STROKES = 20;
const QUICK_STROKES = 6;
const MAP_PX = 4096;
const CELL_PX = 8;
const RAW_BITMAP_BYTES = (MAP_PX / CELL_PX) ** 2 / 8;
const WAIT_MS = 10_000;
const SEED = 20_260_101;

/** Bound by loadFogModule. */
let fogOps;
let Mask;
let chunkId;
let fogIdFor;
let encodeChunk;
let CELLS_PER_CHUNK;

/**
 * The module's own TypeScript (editing, ids, encoding), loaded on first use: Node strips the
 * types, and a resolve hook adds the `.ts` its imports leave out (the bundlers resolve them so).
 * Not at import time: bench/run.mjs imports every suite before it re-runs itself under node 24.
 */
async function loadFogModule() {
  if (fogOps) return;
  nodeModule.registerHooks({
    resolve(specifier, context, nextResolve) {
      if (specifier.startsWith(".") && context.parentURL?.endsWith(".ts") && !/\.[a-z]+$/.test(specifier)) {
        return nextResolve(`${specifier}.ts`, context);
      }
      return nextResolve(specifier, context);
    },
  });
  const [editing, ids, mask] = await Promise.all([
    import("../modules/fog/editing.ts"),
    import("../modules/fog/ids.ts"),
    import("../modules/fog/mask.ts"),
  ]);
  ({ fogOps, Mask } = editing);
  ({ chunkId, fogIdFor } = ids);
  ({ encodeChunk, CELLS_PER_CHUNK } = mask);
}

/** mulberry32: the same strokes on every run. */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeded strokes: a wandering polyline; hides start where an earlier reveal went. */
function strokes(count) {
  const random = rng(SEED);
  const out = [];
  const revealedAt = [];
  const clamp = (v) => Math.min(MAP_PX - 1, Math.max(0, v));
  for (let i = 0; i < count; i++) {
    const mode = i % 4 === 3 ? "hide" : "reveal";
    const radius = Math.round(48 + random() * 112);
    const n = 3 + Math.floor(random() * 8);
    const start =
      mode === "hide" && revealedAt.length > 0
        ? revealedAt[Math.floor(random() * revealedAt.length)]
        : { x: radius + random() * (MAP_PX - 2 * radius), y: radius + random() * (MAP_PX - 2 * radius) };
    const points = [{ x: Math.round(start.x), y: Math.round(start.y) }];
    let angle = random() * 2 * Math.PI;
    for (let k = 1; k < n; k++) {
      angle += (random() - 0.5) * 1.2;
      const step = 40 + random() * 120;
      const last = points[points.length - 1];
      points.push({ x: Math.round(clamp(last.x + Math.cos(angle) * step)), y: Math.round(clamp(last.y + Math.sin(angle) * step)) });
    }
    if (mode === "reveal") revealedAt.push(...points);
    out.push({ mode, radius, points });
  }
  return out;
}

// -------------------------------------------------------------------------------------------

/** A fresh user with an API token: the token itself is needed for the socket's Authorization header. */
async function registerPlayer(baseUrl) {
  const client = await ApiClient.registerWithToken(baseUrl);
  return { client, token: client.token };
}

/** A player's socket keeping every message with its size and arrival time. */
function openPlayerSocket(url, headers) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const received = [];
    const timer = setTimeout(() => {
      try {
        ws.close();
      } catch {}
      reject(new Error(`no hello within ${WAIT_MS} ms from ${url}`));
    }, WAIT_MS);
    ws.addEventListener("message", (event) => {
      const at = performance.now();
      const text = typeof event.data === "string" ? event.data : Buffer.from(event.data).toString("utf8");
      let message = null;
      try {
        message = JSON.parse(text);
      } catch {
        return;
      }
      received.push({ at, bytes: Buffer.byteLength(text), text, message });
      if (message.type === "hello") {
        clearTimeout(timer);
        resolve({ ws, received });
      }
    });
    ws.addEventListener("error", (event) => reject(new Error(`socket error: ${event.message ?? "unknown"}`)));
  });
}

/** Waits until the socket has a change for every (id, version); bounded. */
async function waitForChanges(received, wanted) {
  const deadline = performance.now() + WAIT_MS;
  for (;;) {
    const found = wanted.map(({ id, version }) =>
      received.find((r) => r.message.type === "change" && r.message.entity_id === id && r.message.version === version),
    );
    if (found.every(Boolean)) return found;
    if (performance.now() > deadline)
      throw new Error(`the player's socket did not get ${wanted.length} chunk changes within ${WAIT_MS} ms`);
    await sleep(2);
  }
}

const bytesOf = (value) => Buffer.byteLength(typeof value === "string" ? value : JSON.stringify(value));

/** The whole mask as 64 chunk ops in one batch body: the first baseline, GM side. */
function wholeMaskRequestBytes(fog, stored) {
  const mask = new Mask(fog, [...stored.values()]);
  const ops = [];
  for (let cy = 0; cy < mask.grid.chunksY; cy++) {
    for (let cx = 0; cx < mask.grid.chunksX; cx++) {
      const id = chunkId(fog.id, cx, cy);
      const held = stored.get(id);
      ops.push({
        op_id: crypto.randomUUID(),
        entity_type: "fog_chunk",
        op: "update",
        id,
        data: { bits: held?.bits ?? encodeChunk(new Uint8Array(CELLS_PER_CHUNK)) },
        base_version: held?.version ?? 1,
      });
    }
  }
  return { bytes: bytesOf({ ops }), chunks: ops.length };
}

/** The whole mask as 64 change messages, each a real message of this stroke with that chunk put in. */
function wholeMaskMessageBytes(fog, stored, template) {
  let total = 0;
  const grid = new Mask(fog, []).grid;
  for (let cy = 0; cy < grid.chunksY; cy++) {
    for (let cx = 0; cx < grid.chunksX; cx++) {
      const id = chunkId(fog.id, cx, cy);
      const bits = stored.get(id)?.bits ?? encodeChunk(new Uint8Array(CELLS_PER_CHUNK));
      const message = { ...template, entity_id: id, entity: { ...template.entity, id, cx, cy, bits } };
      total += bytesOf(message);
    }
  }
  return total;
}

// -------------------------------------------------------------------------------------------

async function run(ctx) {
  const { client, baseUrl, quick, log } = ctx;
  await loadFogModule();
  const count = quick ? QUICK_STROKES : STROKES;
  const created = await client.request("POST", "/api/vtt/sessions", { body: { name: "bench: fog" }, expect: 201 });
  const sid = created.data.session.id;
  const S = ApiClient.sessionPath(sid);
  const player = await registerPlayer(baseUrl);
  await player.client.request("POST", "/api/vtt/sessions/join", { body: { invite_code: created.data.invite_code }, expect: 200 });
  const scene = await client.createEntity(sid, "scene", { name: "Fogged" });
  await client.activateScene(sid, scene.id);
  const fogRes = await client.request("POST", `${S}/fog`, {
    body: { id: fogIdFor(scene.id), scene_id: scene.id, cell_px: CELL_PX, width_px: MAP_PX, height_px: MAP_PX },
    expect: 201,
  });
  const fog = fogRes.data;
  const wsUrl = `${baseUrl.replace(/^http/, "ws")}${S}/ws`;
  const socket = await openPlayerSocket(wsUrl, { authorization: `Bearer ${player.token}`, origin: baseUrl });
  log(`[bench]   ${count} strokes on a ${MAP_PX} px fog (${MAP_PX / CELL_PX}² cells, 64 chunks), one player socket`);

  const stored = new Map();
  const samples = [];
  let templateCheck = null;
  try {
    for (const [i, stroke] of strokes(count).entries()) {
      const shape = { kind: "brush", points: stroke.points, radius: stroke.radius };
      const t0 = performance.now();
      const ops = fogOps(fog, [...stored.values()], shape, stroke.mode);
      const computeMs = performance.now() - t0;
      if (ops.length === 0) {
        samples.push({ stroke: i, mode: stroke.mode, radius: stroke.radius, points: stroke.points.length, chunks: 0, noop: true });
        continue;
      }
      const body = JSON.stringify({
        ops: ops.map((op) => ({
          op_id: crypto.randomUUID(),
          entity_type: "fog_chunk",
          op: op.op,
          id: op.id,
          data: op.data,
          ...(op.op === "update" ? { base_version: stored.get(op.id).version } : {}),
        })),
      });
      const t1 = performance.now();
      const r = await client.request("POST", `${S}/batch`, { body, expect: 200 });
      const tAck = performance.now();
      const written = r.data.results.map((x) => x.entity);
      for (const e of written) stored.set(e.id, { id: e.id, cx: e.cx, cy: e.cy, bits: e.bits, version: e.version });
      const got = await waitForChanges(
        socket.received,
        written.map((e) => ({ id: e.id, version: e.version })),
      );
      const tPlayer = Math.max(...got.map((g) => g.at));
      const template = got[0].message;
      // The baseline's messages are re-serialized: check that this gives the server's own size.
      templateCheck ??= { server: got[0].bytes, reserialized: bytesOf(template) };
      const whole = wholeMaskRequestBytes(fog, stored);
      samples.push({
        stroke: i,
        mode: stroke.mode,
        radius: stroke.radius,
        points: stroke.points.length,
        chunks: ops.length,
        creates: ops.filter((op) => op.op === "create").length,
        payload_bytes: ops.reduce((n, op) => n + op.data.bits.length, 0),
        request_bytes: Buffer.byteLength(body),
        player_bytes: got.reduce((n, g) => n + g.bytes, 0),
        player_messages: got.length,
        whole_request_bytes: whole.bytes,
        whole_player_bytes: wholeMaskMessageBytes(fog, stored, template),
        whole_payload_bytes: wholePayload(fog, stored),
        compute_ms: computeMs,
        batch_ms: tAck - t1,
        to_player_ms: tPlayer - t0,
      });
    }
  } finally {
    try {
      socket.ws.close(1000, "bench done");
    } catch {}
  }
  return { sid, samples, templateCheck, fog };
}

/** The 64 encoded chunks' bits alone (payload of the whole-mask baseline). */
function wholePayload(fog, stored) {
  const grid = new Mask(fog, []).grid;
  const empty = encodeChunk(new Uint8Array(CELLS_PER_CHUNK));
  let n = 0;
  for (let cy = 0; cy < grid.chunksY; cy++) {
    for (let cx = 0; cx < grid.chunksX; cx++) n += (stored.get(chunkId(fog.id, cx, cy))?.bits ?? empty).length;
  }
  return n;
}

// -------------------------------------------------------------------------------------------

function summarize(samples) {
  const sent = samples.filter((s) => !s.noop);
  const med = (key) => median(sent.map((s) => s[key]));
  return {
    strokes: samples.length,
    noop_strokes: samples.length - sent.length,
    chunks: med("chunks"),
    payload_bytes: med("payload_bytes"),
    request_bytes: med("request_bytes"),
    player_bytes: med("player_bytes"),
    whole_request_bytes: med("whole_request_bytes"),
    whole_player_bytes: med("whole_player_bytes"),
    whole_payload_bytes: med("whole_payload_bytes"),
    raw_bitmap_bytes: RAW_BITMAP_BYTES,
    compute_ms: med("compute_ms"),
    batch_ms: med("batch_ms"),
    to_player_ms: med("to_player_ms"),
    max_chunks: Math.max(...sent.map((s) => s.chunks)),
  };
}

function rowsOf(m) {
  return [
    {
      measure: "GM batch body per stroke (median)",
      ours: `${fmtBytes(m.request_bytes)} (${m.chunks} chunks)`,
      baseline: `whole mask, 64 chunks: ${fmtBytes(m.whole_request_bytes)}`,
      slowdown: fmtRatio(m.request_bytes / m.whole_request_bytes),
      target: "< 1× (smaller)",
      verdict: m.request_bytes < m.whole_request_bytes ? "pass" : "OVER",
    },
    {
      measure: "… against the raw 1-bit bitmap",
      ours: fmtBytes(m.request_bytes),
      baseline: `${fmtBytes(RAW_BITMAP_BYTES)} (payload alone)`,
      slowdown: fmtRatio(m.request_bytes / RAW_BITMAP_BYTES),
      target: "< 1×",
      verdict: m.request_bytes < RAW_BITMAP_BYTES ? "pass" : "OVER",
    },
    {
      measure: "player socket bytes per stroke (median)",
      ours: `${fmtBytes(m.player_bytes)} (${m.chunks} messages)`,
      baseline: `whole mask, 64 messages: ${fmtBytes(m.whole_player_bytes)}`,
      slowdown: fmtRatio(m.player_bytes / m.whole_player_bytes),
      target: "< 1× (smaller)",
      verdict: m.player_bytes < m.whole_player_bytes ? "pass" : "OVER",
    },
    {
      measure: "… against the raw 1-bit bitmap",
      ours: fmtBytes(m.player_bytes),
      baseline: `${fmtBytes(RAW_BITMAP_BYTES)} (payload alone)`,
      slowdown: fmtRatio(m.player_bytes / RAW_BITMAP_BYTES),
      target: "< 1×",
      verdict: m.player_bytes < RAW_BITMAP_BYTES ? "pass" : "OVER",
    },
    {
      measure: "stroke wall time (median): ops computed · batch answered · player has it",
      ours: `${fmtMs(m.compute_ms)} · ${fmtMs(m.batch_ms)} · ${fmtMs(m.to_player_ms)}`,
      baseline: "—",
      slowdown: "—",
      target: "—",
      verdict: "info",
    },
  ];
}

function fogTable(m, samples, machine) {
  const lines = [
    `Fog strokes on a ${MAP_PX} px mask (${MAP_PX / CELL_PX}² cells of ${CELL_PX} px, 64 chunks); ${m.strokes} seeded strokes` +
      ` (${m.noop_strokes} changed nothing). Machine: ${machine.cpu_model}, ${machine.cpu_count} CPUs, node ${machine.node}.`,
    "",
    "| measure (median per stroke) | ours | whole mask (64 chunks) | ours / whole | raw bitmap | ours / raw |",
    "|---|---|---|---|---|---|",
    `| chunk bits (payload) | ${fmtBytes(m.payload_bytes)} | ${fmtBytes(m.whole_payload_bytes)} | ${fmtRatio(m.payload_bytes / m.whole_payload_bytes)} | ${fmtBytes(RAW_BITMAP_BYTES)} | ${fmtRatio(m.payload_bytes / RAW_BITMAP_BYTES)} |`,
    `| GM batch request body | ${fmtBytes(m.request_bytes)} | ${fmtBytes(m.whole_request_bytes)} | ${fmtRatio(m.request_bytes / m.whole_request_bytes)} | ${fmtBytes(RAW_BITMAP_BYTES)} | ${fmtRatio(m.request_bytes / RAW_BITMAP_BYTES)} |`,
    `| player socket messages | ${fmtBytes(m.player_bytes)} | ${fmtBytes(m.whole_player_bytes)} | ${fmtRatio(m.player_bytes / m.whole_player_bytes)} | ${fmtBytes(RAW_BITMAP_BYTES)} | ${fmtRatio(m.player_bytes / RAW_BITMAP_BYTES)} |`,
    "",
    `Chunks per stroke: median ${m.chunks}, max ${m.max_chunks}. Wall time per stroke (median): ops computed in ${fmtMs(m.compute_ms)}, ` +
      `batch answered in ${fmtMs(m.batch_ms)}, player had every change ${fmtMs(m.to_player_ms)} after the stroke ended.`,
    "",
    "| stroke | mode | radius | points | chunks (new) | request | player | whole request | whole player | batch | to player |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    ...samples.map((s) =>
      s.noop
        ? `| ${s.stroke + 1} | ${s.mode} | ${s.radius} | ${s.points} | 0 | — | — | — | — | — | — |`
        : `| ${s.stroke + 1} | ${s.mode} | ${s.radius} | ${s.points} | ${s.chunks} (${s.creates}) | ${fmtBytes(s.request_bytes)} | ` +
          `${fmtBytes(s.player_bytes)} | ${fmtBytes(s.whole_request_bytes)} | ${fmtBytes(s.whole_player_bytes)} | ${fmtMs(s.batch_ms)} | ${fmtMs(s.to_player_ms)} |`,
    ),
  ];
  return lines.join("\n");
}

export const scenarios = [
  {
    id: "fog-strokes",
    title: "Fog brush strokes: bytes on the wire per stroke, against sending the whole mask",
    async run(ctx) {
      const r = await run(ctx);
      const m = summarize(r.samples);
      const machine = machineInfo();
      const table = fogTable(m, r.samples, machine);
      writeFileSync(join(ROOT, "bench", "results", "fog.md"), `${table}\n`);
      writeFileSync(
        join(ROOT, "bench", "results", "fog.json"),
        `${JSON.stringify({ machine, summary: m, samples: r.samples }, null, 2)}\n`,
      );
      process.stderr.write(`${table}\n`);
      return {
        rows: rowsOf(m),
        details: [
          `${m.strokes} strokes (seed ${SEED}), radius 48–160 px, 3–10 points; ${m.noop_strokes} changed nothing and sent nothing. ` +
            `Chunks per stroke: median ${m.chunks}, max ${m.max_chunks}.`,
          "Whole-mask baseline: the same batch envelope carrying all 64 chunks (those not painted yet as the empty chunk), " +
            `and 64 change messages made from a real one of the stroke with each chunk's bits (re-serializing a real message gives ` +
            `${r.templateCheck?.reserialized} bytes for the server's ${r.templateCheck?.server}). Raw bitmap: 512 × 512 bits, payload alone.`,
          `Chunk bits alone (median): ${fmtBytes(m.payload_bytes)} against ${fmtBytes(m.whole_payload_bytes)} for the whole mask encoded.`,
          "Wall times include the local server on the same CPUs; the player time runs from the start of the stroke's computation.",
          "Per-stroke figures: bench/results/fog.md and fog.json.",
        ],
        failures: [],
        data: { summary: m, samples: r.samples },
      };
    },
  },
];
