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
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { launchBrowser } from "../e2e/harness.mjs";
import { seedEntities } from "./lib/client.mjs";
import { BIN, ROOT, runCommand } from "./lib/server.mjs";
import { fmtMs, fmtRatio, median, ratio } from "./lib/stats.mjs";

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
];
