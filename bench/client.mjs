/**
 * The web app's figures: what a browser downloads, and how long the table takes to appear.
 *
 * 1. Bundle: the JavaScript of the client, built by `prepare` from the working tree into a
 *    directory of its own (which the server then serves, so another build of dist/client cannot
 *    change it mid-run), each file gzipped at level 9 as Vite reports it; the sum over the page's
 *    chunks and the entry chunk alone (the one index.html loads), against a 150 KB budget
 *    (150,000 bytes). The service worker (sw.js) is listed apart: the page never loads it, the
 *    browser fetches it once per update.
 *
 * 2. Boot: a GM opens the table of a 5,000-token world in headless Chromium (the e2e harness's).
 *    "First rendered scene" is the first animation frame in which the active scene's surface
 *    (`.table-surface[data-scene-id]`) holds a drawn piece (`[data-token-id]`) for every token of
 *    the scene; an init script watches for it every frame and records `performance.now()` (ms
 *    since the navigation started). Cold: a fresh browser context (empty IndexedDB, no service
 *    worker, no HTTP cache), signed in by a login request, then the page is opened: index.html,
 *    the JS, `GET /api/auth/me`, `GET {S}/state`, render. From the cache: the same context opens
 *    the page again once IndexedDB holds the world: the shell comes from the service worker, the
 *    world from IndexedDB, `changes?since` answers 304 in the background. Medians over several
 *    runs, each cold run in its own context. Two worlds: the 5,000 tokens spread over 200 scenes
 *    (25 on the active one: the data path dominates) and all 5,000 on the active scene (the
 *    drawing of 5,000 DOM pieces dominates).
 *
 * Both worlds are seeded through `POST {S}/batch`, 500 ops a batch, as the benchmark's user.
 *
 * 3. Frames: the table is DOM under one camera transform (client/src/lib/camera.ts). A GM's page
 *    shows a scene with a 4096×4096 map and 0, then 1,000, then 5,000 tokens (three scenes of one
 *    session, activated in turn, in the same run and the same browser); a scripted pan and zoom
 *    (real input through the DevTools protocol: wheel notches around the pointer, then a
 *    middle-button drag) runs while an in-page `requestAnimationFrame` loop records every
 *    frame's timestamp. Reported: the p95 (and p50, max) frame interval for each, and the ratio
 *    of the 1,000-token p95 to the empty scene's (target ≤ 2: the cost of a pan or zoom must not
 *    grow with the tokens).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { launchBrowser } from "../e2e/harness.mjs";
import { seedEntities } from "./lib/client.mjs";
import { BIN, ROOT, runCommand } from "./lib/server.mjs";
import { fmtMs, fmtRatio, median, percentile, ratio, sorted } from "./lib/stats.mjs";

export const name = "client";

/** The client build measured and served: `prepare`'s, else dist/client. */
let dist = join(ROOT, "dist", "client");
const BUDGET_BYTES = 150_000;
/** The password `ApiClient.registerWithToken` gives the benchmark's user (to sign the browser in). */
const BENCH_PASSWORD = "bench-password-123";
const BOOT_TIMEOUT_MS = 120_000;

const kb = (bytes) => `${(bytes / 1000).toFixed(1)} KB`;

/** Builds the client from the working tree before the server starts; the server serves this build (`assets`). */
export async function prepare({ log }) {
  const outDir = mkdtempSync(join(tmpdir(), "vtt-bench-client-"));
  process.once("exit", () => rmSync(outDir, { recursive: true, force: true }));
  log(`[bench] client: vite build --outDir ${outDir}`);
  mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
  const logFile = join(ROOT, "bench", "results", "vite-build.log");
  const { code, tail } = await runCommand(join(BIN, "vite"), ["build", "--outDir", outDir, "--emptyOutDir"], {
    logFile,
    timeoutMs: 300_000,
  });
  if (code !== 0) throw new Error(`vite build failed (exit ${code}):\n${tail}`);
  dist = outDir;
  return { assets: outDir };
}

// -------------------------------------------------------------------------------------------
// 1. Bundle size

function gzipSize(file) {
  return gzipSync(readFileSync(file), { level: 9 }).length;
}

async function bundleSize() {
  const html = readFileSync(join(dist, "index.html"), "utf8");
  const entryPath = /<script[^>]+type="module"[^>]+src="\/([^"]+\.js)"/.exec(html)?.[1];
  if (!entryPath) throw new Error(`${dist}/index.html loads no module script: was the client built?`);
  const chunks = readdirSync(join(dist, "assets"))
    .filter((f) => f.endsWith(".js"))
    .map((f) => {
      const path = join(dist, "assets", f);
      return { file: `assets/${f}`, raw: readFileSync(path).length, gzip: gzipSize(path) };
    })
    .sort((a, b) => b.gzip - a.gzip);
  const entry = chunks.find((c) => c.file === entryPath);
  if (!entry) throw new Error(`the entry chunk ${entryPath} is not in ${dist}/assets`);
  const total = chunks.reduce((sum, c) => sum + c.gzip, 0);
  const rawTotal = chunks.reduce((sum, c) => sum + c.raw, 0);
  const sw = (() => {
    try {
      return { raw: readFileSync(join(dist, "sw.js")).length, gzip: gzipSize(join(dist, "sw.js")) };
    } catch {
      return null;
    }
  })();
  const verdict = (bytes) => (bytes <= BUDGET_BYTES ? "pass" : "OVER");
  return {
    rows: [
      {
        measure: `page JS, ${chunks.length} chunk(s), gzip -9`,
        ours: `${kb(total)} (${kb(rawTotal)} raw)`,
        baseline: "— (absolute budget)",
        slowdown: "—",
        target: "≤ 150 KB",
        verdict: verdict(total),
      },
      {
        measure: "entry chunk, gzip -9",
        ours: `${kb(entry.gzip)} (${kb(entry.raw)} raw)`,
        baseline: "—",
        slowdown: "—",
        target: "≤ 150 KB",
        verdict: verdict(entry.gzip),
      },
    ],
    details: [
      `chunks (gzip -9 / raw): ${chunks.map((c) => `${c.file} ${kb(c.gzip)} / ${kb(c.raw)}`).join("; ")}.`,
      sw ? `service worker sw.js (not loaded by the page): ${kb(sw.gzip)} gzip, ${kb(sw.raw)} raw.` : "no sw.js in the build.",
      `build measured: ${dist}.`,
    ],
    data: { budget_bytes: BUDGET_BYTES, total_gzip: total, total_raw: rawTotal, entry, chunks, sw },
  };
}

// -------------------------------------------------------------------------------------------
// 2. Boot to the first rendered scene

async function seedWorld(client, { scenes: sceneCount, tokens: tokenCount, onActive }) {
  const session = await client.createSession(`bench: client boot, ${onActive} tokens on the active scene`);
  const sid = session.id;
  const scenes = await seedEntities(client, sid, "scene", sceneCount, (i) => ({ name: `Scene ${i + 1}`, sort: i }));
  const tokens = await seedEntities(client, sid, "token", tokenCount, (i) => ({
    name: `Token ${i + 1}`,
    scene_id: onActive === tokenCount ? scenes.ids[0] : scenes.ids[i % sceneCount],
    x: (i * 37) % 2000,
    y: (i * 91) % 2000,
    stats: { hp: 10 + (i % 20), ac: 12 },
  }));
  await client.activateScene(sid, scenes.ids[0]);
  const state = (await client.getState(sid)).data;
  const shown = state.tokens.filter((t) => t.scene_id === scenes.ids[0] && t.archived_at === null).length;
  if (shown !== onActive) throw new Error(`the active scene holds ${shown} tokens, expected ${onActive}`);
  return { sid, sceneId: scenes.ids[0], seq: state.seq, seedMs: [...scenes.times, ...tokens.times] };
}

/**
 * Runs in the page before its scripts: every frame, until the scene is drawn, checks the marker
 * and keeps the time of the first frame that has it.
 */
function firstSceneWatcher({ sceneId, tokens }) {
  const check = () => {
    const surface = document.querySelector(`.table-surface[data-scene-id="${sceneId}"]`);
    if (surface && surface.querySelectorAll("[data-token-id]").length >= tokens) {
      window.__firstScene = performance.now();
      return;
    }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
}

async function signIn(context, baseUrl, username) {
  const response = await context.request.post(`${baseUrl}/api/auth/login`, { data: { username, password: BENCH_PASSWORD } });
  if (response.status() !== 200) throw new Error(`POST /api/auth/login → ${response.status()} ${await response.text()}`);
}

/** Opens the table and answers the ms from navigation start to the first rendered scene. */
async function openTable(page, baseUrl, sid) {
  await page.goto(`${baseUrl}/s/${encodeURIComponent(sid)}`, { waitUntil: "commit", timeout: BOOT_TIMEOUT_MS });
  const handle = await page.waitForFunction(() => window.__firstScene, null, { timeout: BOOT_TIMEOUT_MS, polling: 50 });
  return handle.jsonValue();
}

/** Until the cache of this user and session in IndexedDB holds the world at `seq` (written after the first render). */
async function waitForCache(page, name, seq) {
  await page.waitForFunction(
    ([db, want]) =>
      new Promise((resolve) => {
        const open = indexedDB.open(db);
        open.onerror = () => resolve(false);
        open.onsuccess = () => {
          const conn = open.result;
          if (!conn.objectStoreNames.contains("meta")) {
            conn.close();
            resolve(false);
            return;
          }
          const get = conn.transaction("meta").objectStore("meta").get("seq");
          get.onsuccess = () => {
            conn.close();
            resolve(get.result === want);
          };
          get.onerror = () => {
            conn.close();
            resolve(false);
          };
        };
      }),
    [name, seq],
    { timeout: BOOT_TIMEOUT_MS, polling: 250 },
  );
}

async function boot({ client, baseUrl, quick, log }, world) {
  const runs = quick ? 2 : 7;
  log(`[bench]   seeding ${world.scenes} scenes and ${world.tokens} tokens (${world.onActive} on the active scene)`);
  const seeded = await seedWorld(client, world);
  const username = client.user?.username;
  const userId = client.user?.id;
  if (!username || !userId) throw new Error("the benchmark's client has no user to sign the browser in with");
  const cacheName = `vtt:${userId}:${seeded.sid}`;

  const browser = await launchBrowser();
  const cold = [];
  const cached = [];
  const errors = [];
  try {
    for (let run = 0; run < runs; run++) {
      const context = await browser.browser.newContext({ viewport: { width: 1280, height: 860 } });
      try {
        await context.addInitScript(firstSceneWatcher, { sceneId: seeded.sceneId, tokens: world.onActive });
        await signIn(context, baseUrl, username);
        const page = await context.newPage();
        page.on("pageerror", (error) => errors.push(error.message));
        cold.push(await openTable(page, baseUrl, seeded.sid));
        await waitForCache(page, cacheName, seeded.seq);
        await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: BOOT_TIMEOUT_MS });
        cached.push(await openTable(page, baseUrl, seeded.sid));
      } finally {
        await context.close();
      }
      log(`[bench]   run ${run + 1}/${runs}: cold ${fmtMs(cold.at(-1))}, from the cache ${fmtMs(cached.at(-1))}`);
    }
  } finally {
    await browser.close();
  }

  const coldMedian = median(cold);
  const cachedMedian = median(cached);
  const speedup = ratio(coldMedian, cachedMedian);
  const where = world.onActive === world.tokens ? "all on the active scene" : `${world.onActive} on the active scene`;
  return {
    rows: [
      {
        measure: `cold load, ${world.tokens} tokens (${where}), median of ${cold.length}`,
        ours: fmtMs(coldMedian),
        baseline: "—",
        slowdown: "—",
        target: "—",
        verdict: "info",
      },
      {
        measure: `boot from IndexedDB, same world, median of ${cached.length}`,
        ours: fmtMs(cachedMedian),
        baseline: `cold: ${fmtMs(coldMedian)}`,
        slowdown: fmtRatio(ratio(cachedMedian, coldMedian)),
        target: "< 1× (faster than cold)",
        verdict: Number.isFinite(speedup) ? (cachedMedian < coldMedian ? `pass (${fmtRatio(speedup)} faster)` : "OVER") : "—",
      },
    ],
    details: [
      `world: ${world.scenes} scenes, ${world.tokens} tokens, ${where}; seeded with ${seeded.seedMs.length} POST {S}/batch of ≤ 500 ops (median ${fmtMs(median(seeded.seedMs))}); seq ${seeded.seq}.`,
      `cold (ms from navigation start to the first frame with the scene's ${world.onActive} pieces): ${cold.map((v) => v.toFixed(0)).join(", ")}.`,
      `from the cache: ${cached.map((v) => v.toFixed(0)).join(", ")}.`,
      `headless Chromium (${browser.browser.version()}), 1280×860, one page at a time, on the same two cores as the server.`,
      ...(errors.length > 0 ? [`page errors: ${[...new Set(errors)].slice(0, 5).join(" | ")}`] : []),
    ],
    failures: errors.length > 0 ? [{ label: "page errors", count: errors.length, by_status: {}, message: errors[0] }] : [],
    data: { world, runs, cold_ms: cold, cached_ms: cached, cold_median_ms: coldMedian, cached_median_ms: cachedMedian, speedup },
  };
}

// -------------------------------------------------------------------------------------------
// 3. Frame times of a pan and zoom, against the number of tokens

const MAP_PX = 4096;
const FRAME_TOKENS = [0, 1000, 5000];

/** In the page: a 4096² map (a PNG drawn on a canvas) uploaded as an asset of the session; answers its hash. */
async function uploadMapFromPage(page, sid) {
  return page.evaluate(
    async ([sessionId, size]) => {
      const canvas = document.createElement("canvas");
      canvas.width = size;
      canvas.height = size;
      const ctx = canvas.getContext("2d");
      for (let y = 0; y < size; y += 64) {
        for (let x = 0; x < size; x += 64) {
          const shade = 90 + ((x * 7 + y * 13) % 60);
          ctx.fillStyle = `rgb(${shade}, ${shade - 12}, ${shade - 30})`;
          ctx.fillRect(x, y, 64, 64);
        }
      }
      ctx.strokeStyle = "rgba(0,0,0,0.3)";
      for (let i = 0; i < 40; i++) {
        ctx.beginPath();
        ctx.arc((i * 997) % size, (i * 613) % size, 80 + (i % 7) * 30, 0, Math.PI * 2);
        ctx.stroke();
      }
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
      const me = await (await fetch("/api/auth/me")).json();
      const form = new FormData();
      form.append("kind", "map");
      form.append("file", blob, "bench-map.png");
      const response = await fetch(`/api/vtt/sessions/${encodeURIComponent(sessionId)}/assets`, {
        method: "POST",
        headers: { "X-CSRF-Token": me.csrf_token },
        body: form,
      });
      if (response.status !== 201) throw new Error(`POST assets → ${response.status} ${await response.text()}`);
      return (await response.json()).asset.hash;
    },
    [sid, MAP_PX],
  );
}

/** Runs in the page: records requestAnimationFrame timestamps until `window.__stopFrames()`. */
async function recordFrames(page) {
  await page.evaluate(() => {
    const stamps = [];
    let running = true;
    const tick = (t) => {
      stamps.push(t);
      if (running) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    window.__stopFrames = () => {
      running = false;
      return stamps;
    };
  });
}

/** The scripted pan and zoom: wheel notches in and out around two points, then a drag across the empty table. */
async function panAndZoom(page, box, quick) {
  const rounds = quick ? 1 : 3;
  const at = [
    { x: box.x + box.width * 0.4, y: box.y + box.height * 0.45 },
    { x: box.x + box.width * 0.6, y: box.y + box.height * 0.55 },
  ];
  for (let round = 0; round < rounds; round++) {
    for (const point of at) {
      await page.mouse.move(point.x, point.y);
      for (let i = 0; i < 12; i++) await page.mouse.wheel(0, -60);
      for (let i = 0; i < 12; i++) await page.mouse.wheel(0, 60);
    }
    // A pan: a middle-button drag (it pans wherever it starts, tokens are everywhere at 5,000).
    const from = { x: box.x + box.width * 0.5, y: box.y + box.height * 0.5 };
    await page.mouse.move(from.x, from.y);
    await page.mouse.down({ button: "middle" });
    for (let i = 1; i <= 40; i++) await page.mouse.move(from.x + Math.sin(i / 6) * 240, from.y + Math.cos(i / 6) * 160 - 160);
    await page.mouse.up({ button: "middle" });
  }
}

/** The page's main-thread time so far (s), by kind, from the DevTools protocol's Performance.getMetrics. */
async function mainThreadMetrics(cdp) {
  const { metrics } = await cdp.send("Performance.getMetrics");
  const wanted = ["TaskDuration", "ScriptDuration", "RecalcStyleDuration", "LayoutDuration"];
  return Object.fromEntries(metrics.filter((m) => wanted.includes(m.name)).map((m) => [m.name, m.value]));
}

const fmtMain = (main) =>
  `main thread ${fmtMs(main.TaskDuration)} (script ${fmtMs(main.ScriptDuration)}, style ${fmtMs(main.RecalcStyleDuration)}, layout ${fmtMs(main.LayoutDuration)})`;

/** BENCH_TRACE=1: a DevTools trace of each gesture, summed by event name over every thread, in the log. */
const tracing = process.env.BENCH_TRACE === "1";

async function startTrace(cdp) {
  const events = [];
  cdp.on("Tracing.dataCollected", ({ value }) => events.push(...value));
  cdp.__events = events;
  await cdp.send("Tracing.start", {
    transferMode: "ReportEvents",
    traceConfig: { includedCategories: ["devtools.timeline", "disabled-by-default-devtools.timeline", "cc", "blink"] },
  });
}

async function stopTrace(cdp) {
  const done = new Promise((resolve) => cdp.once("Tracing.tracingComplete", resolve));
  await cdp.send("Tracing.end");
  await done;
  return cdp.__events;
}

function summariseTrace(events) {
  const total = new Map();
  for (const e of events) {
    if (e.ph !== "X" || typeof e.dur !== "number") continue;
    const sum = total.get(e.name) ?? { ms: 0, n: 0 };
    sum.ms += e.dur / 1000;
    sum.n += 1;
    total.set(e.name, sum);
  }
  return [...total.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, 18)
    .map(([name, { ms, n }]) => `${name} ${Math.round(ms)} ms/${n}`)
    .join(", ");
}

async function frames({ client, baseUrl, quick, log }) {
  const session = await client.createSession("bench: table frames under pan and zoom");
  const sid = session.id;
  const scenes = await seedEntities(client, sid, "scene", FRAME_TOKENS.length, (i) => ({ name: `${FRAME_TOKENS[i]} tokens`, sort: i }));
  for (const [index, count] of FRAME_TOKENS.entries()) {
    if (count === 0) continue;
    log(`[bench]   seeding ${count} tokens on a 4096² map`);
    await seedEntities(client, sid, "token", count, (i) => ({
      name: `T${i + 1}`,
      scene_id: scenes.ids[index],
      x: (i * 7919) % (MAP_PX - 64),
      y: (i * 104_729) % (MAP_PX - 64),
    }));
  }
  const username = client.user?.username;
  if (!username) throw new Error("the benchmark's client has no user to sign the browser in with");
  const browser = await launchBrowser();
  const results = [];
  const errors = [];
  try {
    const context = await browser.browser.newContext({ viewport: { width: 1280, height: 860 } });
    await signIn(context, baseUrl, username);
    const page = await context.newPage();
    page.on("pageerror", (error) => errors.push(error.message));
    const cdp = await context.newCDPSession(page);
    await cdp.send("Performance.enable");
    await page.goto(`${baseUrl}/s/${encodeURIComponent(sid)}`, { timeout: BOOT_TIMEOUT_MS });
    const hash = await uploadMapFromPage(page, sid);
    for (const [index, id] of scenes.ids.entries()) {
      await client.patchEntity(sid, "scene", id, 1, { map_asset: hash });
      if (index === 0) await client.activateScene(sid, id);
    }
    for (const [index, count] of FRAME_TOKENS.entries()) {
      const sceneId = scenes.ids[index];
      if (index > 0) await client.activateScene(sid, sceneId);
      await page.waitForFunction(
        ([scene, n]) => {
          const surface = document.querySelector(`.table-surface[data-scene-id="${scene}"]`);
          const map = surface?.querySelector("img.table-map");
          return (
            surface &&
            map instanceof HTMLImageElement &&
            map.complete &&
            map.naturalWidth > 0 &&
            surface.querySelectorAll("button.token").length === n
          );
        },
        [sceneId, count],
        { timeout: BOOT_TIMEOUT_MS, polling: 100 },
      );
      // Fold the GM panel away once, so the table has the window, and start from 100%.
      if (index === 0) await page.getByRole("button", { name: "GM panel" }).click();
      await page.getByRole("button", { name: "Zoom to 100%" }).click();
      await page.waitForTimeout(500);
      const box = await page.locator(".table-viewport").boundingBox();
      if (!box) throw new Error("the table is not on screen");
      const metricsBefore = await mainThreadMetrics(cdp);
      if (tracing) await startTrace(cdp);
      await recordFrames(page);
      await panAndZoom(page, box, quick);
      const stamps = await page.evaluate(() => window.__stopFrames());
      const metricsAfter = await mainThreadMetrics(cdp);
      const main = Object.fromEntries(Object.entries(metricsAfter).map(([k, v]) => [k, (v - (metricsBefore[k] ?? 0)) * 1000]));
      if (tracing) log(`[bench]   ${count} tokens, trace (ms by event, all threads): ${summariseTrace(await stopTrace(cdp))}`);
      const intervals = stamps.slice(1).map((t, i) => t - stamps[i]);
      const asc = sorted(intervals);
      const row = {
        tokens: count,
        frames: intervals.length,
        p50: percentile(asc, 50),
        p95: percentile(asc, 95),
        max: percentile(asc, 100),
        main,
      };
      results.push(row);
      log(
        `[bench]   ${count} tokens: ${row.frames} frames, p50 ${fmtMs(row.p50)}, p95 ${fmtMs(row.p95)}, max ${fmtMs(row.max)}; ${fmtMain(main)}`,
      );
    }
    await context.close();
  } finally {
    await browser.close();
  }
  const base = results.find((r) => r.tokens === 0);
  const thousand = results.find((r) => r.tokens === 1000);
  const ratio1000 = base && thousand ? thousand.p95 / base.p95 : Number.NaN;
  return {
    rows: [
      ...results.map((r) => ({
        measure: `pan + zoom frame time p95, 4096² map, ${r.tokens} tokens`,
        ours: fmtMs(r.p95),
        baseline: r.tokens === 0 ? "—" : `0 tokens: ${fmtMs(base?.p95 ?? Number.NaN)}`,
        slowdown: r.tokens === 0 ? "—" : fmtRatio(base ? r.p95 / base.p95 : Number.NaN),
        target: r.tokens === 1000 ? "≤ 2× the empty scene" : "—",
        verdict: r.tokens === 1000 ? (ratio1000 <= 2 ? "pass" : "OVER") : "info",
      })),
    ],
    details: [
      ...results.map(
        (r) => `${r.tokens} tokens: ${r.frames} frames, p50 ${fmtMs(r.p50)}, p95 ${fmtMs(r.p95)}, max ${fmtMs(r.max)}; ${fmtMain(r.main)}.`,
      ),
      `ratio of p95, 1,000 tokens vs none: ${fmtRatio(ratio1000)}.`,
      `headless Chromium (${browser.browser.version()}, --disable-gpu: software compositing), 1280×860, GM panel folded; input through the DevTools protocol.`,
      ...(errors.length > 0 ? [`page errors: ${[...new Set(errors)].slice(0, 5).join(" | ")}`] : []),
    ],
    failures: errors.length > 0 ? [{ label: "page errors", count: errors.length, by_status: {}, message: errors[0] }] : [],
    data: { map_px: MAP_PX, results, ratio_1000_vs_0: ratio1000 },
  };
}

export const scenarios = [
  { id: "bundle", title: "JS bundle size, gzipped, against a 150 KB budget", run: bundleSize },
  {
    id: "boot-spread",
    title: "Boot to the first rendered scene: 5,000 tokens over 200 scenes, cold vs IndexedDB",
    run: (ctx) => boot(ctx, { scenes: 200, tokens: 5000, onActive: 25 }),
  },
  {
    id: "boot-dense",
    title: "Boot to the first rendered scene: 5,000 tokens on the active scene, cold vs IndexedDB",
    run: (ctx) => boot(ctx, { scenes: 200, tokens: 5000, onActive: 5000 }),
  },
  {
    id: "frames",
    title: "Pan and zoom frame times over a 4096² map with 0, 1,000 and 5,000 tokens",
    run: frames,
  },
];
