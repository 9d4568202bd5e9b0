/**
 * The upload benchmark of the asset issue: a 5 MiB token art upload (a 4096×4096 PNG, decoded,
 * resized to 512×512 and re-encoded as WebP in the worker) and a 20 MiB map upload (kept as is),
 * each beside a bare R2 put of the same bytes in the same run (PUT /api/bench/r2-put: the body
 * streamed into R2, no auth, multipart, hashing, checks or manifest).
 *
 * Per request: latency from sending to the last byte of the answer, and the peak memory of the
 * workerd process that runs the worker (wrangler dev runs two: an entry proxy on the public port
 * and the user worker, the one measured). Memory is the process's resident set, read from
 * /proc/<pid>/status: before each request the high-water mark is reset to the current RSS
 * (`echo 5 > /proc/<pid>/clear_refs`), after it VmHWM is the peak during the request, so
 * "Δ peak RSS" = VmHWM − RSS before. That is the whole process (every isolate, the runtime's
 * buffers, memory V8 keeps after a GC), so it bounds what the upload's isolate used from above
 * — except that memory already grown by an earlier request and reused shows as no growth, which
 * is why the first request's figure is reported beside the median. The Workers limit (128 MB) is
 * on one isolate's memory; this is the closest honest figure a local run gives.
 *
 * Every upload is distinct bytes (a tEXt chunk carries the run number), so deduplication never
 * short-cuts the work. Each scenario uploads as a fresh user, under the per-user upload limit, after
 * a warm-up upload of a 64×64 PNG that pays the codecs' first use (compiling their WebAssembly).
 */
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { crc32, deflateSync } from "node:zlib";
import { fmtBytes, fmtMs, fmtRatio, ratio, summarize } from "./lib/stats.mjs";

export const name = "uploads";

const WORKERS_MEMORY_LIMIT = 128 * 1000 * 1000;
const REQUEST_TIMEOUT_MS = 120_000;

// -------------------------------------------------------------------------------------------
// Images, made here

function chunk(type, data) {
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}

/**
 * An RGBA PNG `width`×`height` whose first `noisyRows` rows are random (incompressible) and the
 * rest a smooth gradient (nearly free): the file size is set by `noisyRows`.
 */
function makePng(width, height, noisyRows) {
  const rowBytes = width * 4 + 1;
  const raw = Buffer.alloc(rowBytes * height);
  for (let y = 0; y < height; y++) {
    const at = y * rowBytes;
    raw[at] = 0;
    if (y < noisyRows) randomBytes(width * 4).copy(raw, at + 1);
    else
      for (let x = 0; x < width; x++)
        raw.writeUInt32BE(((((x >> 4) & 255) << 24) | (((y >> 4) & 255) << 16) | (128 << 8) | 255) >>> 0, at + 1 + x * 4);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 6;
  const idat = deflateSync(raw, { level: 6 });
  return {
    head: Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr)]),
    tail: Buffer.concat([chunk("IDAT", idat), chunk("IEND", Buffer.alloc(0))]),
  };
}

/** The PNG with a tEXt chunk naming run `i`: distinct bytes, the same pixels. */
function variant(png, i) {
  return Buffer.concat([
    png.head,
    chunk("tEXt", Buffer.from(`Comment\0bench run ${i} ${randomBytes(4).toString("hex")}`, "latin1")),
    png.tail,
  ]);
}

// -------------------------------------------------------------------------------------------
// The worker's workerd process and its memory

/**
 * The workerd process running the worker behind `baseUrl`: in the process group of the workerd
 * that listens on the URL's port (the entry proxy), the other workerd.
 */
function workerProcess(baseUrl) {
  const port = new URL(baseUrl).port;
  const procs = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "workerd") continue;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      const pgid = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ")[2];
      procs.push({ pid: Number(pid), cmdline, pgid });
    } catch {
      // gone meanwhile
    }
  }
  const entry = procs.find((p) => p.cmdline.includes(`entry=127.0.0.1:${port} `) || p.cmdline.includes(`entry=localhost:${port} `));
  if (!entry) return null;
  const workers = procs.filter((p) => p.pgid === entry.pgid && p.pid !== entry.pid);
  return workers.length === 1 ? workers[0].pid : null;
}

function statusKb(pid, field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** Resets the peak-RSS mark; false when the kernel or permissions do not allow it. */
function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** Runs `fn` and returns its result with the worker process's RSS before and peak during it. */
async function withMemory(pid, fn) {
  if (!pid) return { result: await fn(), before: Number.NaN, peak: Number.NaN };
  const canReset = resetPeak(pid);
  const before = statusKb(pid, "VmRSS");
  let sampled = before;
  // Sampling as well: it is the only figure where the mark cannot be reset.
  const timer = setInterval(() => {
    try {
      sampled = Math.max(sampled, statusKb(pid, "VmRSS"));
    } catch {
      /* process gone */
    }
  }, 2);
  try {
    const result = await fn();
    const peak = canReset ? Math.max(statusKb(pid, "VmHWM"), sampled) : Math.max(sampled, statusKb(pid, "VmRSS"));
    return { result, before, peak };
  } finally {
    clearInterval(timer);
  }
}

// -------------------------------------------------------------------------------------------
// HTTP

async function registerUploader(baseUrl) {
  const username = `bench_up_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  const reg = await fetch(`${baseUrl}/api/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password: "bench-password-123" }),
  });
  if (reg.status !== 201) throw new Error(`register answered ${reg.status}: ${await reg.text()}`);
  const { csrf_token } = await reg.json();
  const cookie =
    reg.headers
      .getSetCookie()
      .find((c) => c.startsWith("vtt_session="))
      ?.split(";")[0] ?? "";
  const tok = await fetch(`${baseUrl}/api/auth/tokens`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie, "x-csrf-token": csrf_token },
    body: JSON.stringify({ name: "bench uploads" }),
  });
  if (tok.status !== 201) throw new Error(`token answered ${tok.status}: ${await tok.text()}`);
  const { token } = await tok.json();
  const auth = { authorization: `Bearer ${token}` };
  const ses = await fetch(`${baseUrl}/api/vtt/sessions`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ name: "bench: uploads" }),
  });
  if (ses.status !== 201) throw new Error(`session answered ${ses.status}: ${await ses.text()}`);
  return { auth, sid: (await ses.json()).session.id };
}

async function timed(url, init, expect) {
  const t0 = performance.now();
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const text = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== expect) {
    const err = new Error(`${init.method} ${new URL(url).pathname} answered ${res.status}, expected ${expect}`);
    err.request = { method: init.method, path: new URL(url).pathname };
    err.response = { status: res.status, body: text.slice(0, 2000) };
    throw err;
  }
  return { ms, data: text ? JSON.parse(text) : null };
}

function multipartBody(bytes, filename, kind) {
  const boundary = `----vttbench${randomBytes(8).toString("hex")}`;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\n${kind}\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: image/png\r\n\r\n`),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

// -------------------------------------------------------------------------------------------
// Scenarios

function memCell(samples) {
  const s = summarize(samples.filter(Number.isFinite));
  return s.n ? `median ${fmtBytes(s.p50)} · max ${fmtBytes(s.max)}` : "—";
}

async function uploadScenario({ baseUrl, quick, log }, { kind, png, filename, count }) {
  const pid = workerProcess(baseUrl);
  if (!pid) log("[bench]   could not find the worker's workerd process: no memory figures");
  const { auth, sid } = await registerUploader(baseUrl);
  const runs = quick ? Math.min(3, count) : count;
  const ours = { ms: [], delta: [], peak: [], size: 0, stored: null, warmup: Number.NaN };
  const base = { ms: [], delta: [], peak: [] };
  // Warm-up, not measured: one small upload of the same kind (compiles the codecs' WebAssembly,
  // warms R2 and D1), so the first measured figure is the image's cost, not the codecs' start-up.
  const small = makePng(64, 64, 8);
  for (let i = -1; i < runs; i++) {
    const bytes = variant(i < 0 ? small : png, i);
    if (i >= 0) ours.size = bytes.length;
    const { body, contentType } = multipartBody(bytes, filename, kind);
    const up = await withMemory(pid, () =>
      timed(`${baseUrl}/api/vtt/sessions/${sid}/assets`, { method: "POST", headers: { ...auth, "content-type": contentType }, body }, 201),
    );
    const put = await withMemory(pid, () =>
      timed(`${baseUrl}/api/bench/r2-put`, { method: "PUT", headers: { "content-type": "application/octet-stream" }, body: bytes }, 201),
    );
    if (i < 0) {
      ours.warmup = up.peak - up.before;
      continue;
    }
    ours.ms.push(up.result.ms);
    ours.delta.push(up.peak - up.before);
    ours.peak.push(up.peak);
    ours.stored = up.result.data.asset;
    base.ms.push(put.result.ms);
    base.delta.push(put.peak - put.before);
    base.peak.push(put.peak);
  }
  return { ours, base, runs, pid };
}

function report(name, { ours, base, runs, pid }, extraDetails) {
  const o = summarize(ours.ms);
  const b = summarize(base.ms);
  const maxDelta = Math.max(...ours.delta.filter(Number.isFinite));
  return {
    rows: [
      {
        measure: "median latency",
        ours: fmtMs(o.p50),
        baseline: fmtMs(b.p50),
        slowdown: fmtRatio(ratio(o.p50, b.p50)),
        target: "—",
        verdict: "info",
      },
      {
        measure: "Δ peak RSS of the worker's workerd during the request",
        ours: memCell(ours.delta),
        baseline: memCell(base.delta),
        slowdown: "—",
        target: "< 128 MB",
        verdict: Number.isFinite(maxDelta) ? (maxDelta < WORKERS_MEMORY_LIMIT ? "pass" : "OVER") : "—",
      },
    ],
    details: [
      `${name}: ${runs} uploads of ${fmtBytes(ours.size)} (distinct bytes each), after a warm-up with a 64×64 PNG; latency p50 ${fmtMs(o.p50)}, ` +
        `min ${fmtMs(o.min)}, max ${fmtMs(o.max)}. Baseline: PUT /api/bench/r2-put of the same bytes, p50 ${fmtMs(b.p50)}, max ${fmtMs(b.max)}.`,
      ...extraDetails(ours.stored),
      pid
        ? `memory: workerd pid ${pid}; Δ peak RSS per upload: first measured run ${fmtBytes(ours.delta[0])}, the warm-up upload ` +
          `(64×64, first use of the codecs: WebAssembly compiled and instantiated) ${fmtBytes(ours.warmup)}; absolute peak RSS ` +
          `max ${fmtBytes(Math.max(...ours.peak))} (whole process, all isolates); the bare put's Δ ${memCell(base.delta)}.`
        : "memory: the worker's workerd process was not found (server not local?): no figures.",
    ],
    failures: [],
    data: {
      latency_ms: { ours: o, baseline: b },
      rss_delta_bytes: { ours: ours.delta, baseline: base.delta, ours_warmup: ours.warmup },
      rss_peak_bytes: { ours: ours.peak, baseline: base.peak },
      file_bytes: ours.size,
      stored: ours.stored,
    },
  };
}

// A 4096×4096 PNG of just under 5 MiB: 280 random rows (16 KiB each) over a gradient.
let tokenPng;
// A 4096×2400 PNG of just under 20 MiB: 1260 random rows.
let mapPng;

export const scenarios = [
  {
    id: "u1",
    title: "Token art upload: 5 MiB PNG 4096×4096, resized to 512×512 WebP",
    async run(ctx) {
      tokenPng ??= makePng(4096, 4096, 280);
      const r = await uploadScenario(ctx, { kind: "token", png: tokenPng, filename: "token.png", count: 10 });
      return report("token art", r, (stored) => [
        `stored: ${stored?.mime} ${stored?.width}×${stored?.height}, ${fmtBytes(stored?.size)} (the resized WebP is what R2 holds and what the hash names).`,
      ]);
    },
  },
  {
    id: "u2",
    title: "Map upload: 20 MiB PNG, bytes kept",
    async run(ctx) {
      mapPng ??= makePng(4096, 2400, 1260);
      const r = await uploadScenario(ctx, { kind: "map", png: mapPng, filename: "map.png", count: 10 });
      return report("map", r, (stored) => [
        `stored: ${stored?.mime} ${stored?.width}×${stored?.height}, ${fmtBytes(stored?.size)} as uploaded.`,
      ]);
    },
  },
];
