/**
 * Runs the benchmarks: starts a fresh local server (bench/lib/server.mjs), registers a user with
 * an API token, runs every scenario of every suite, prints a Markdown table and writes it to
 * bench/results/latest.md and latest.json. The server is stopped whatever happens.
 *
 *   npm run bench                      all suites against a fresh wrangler dev
 *   node bench/run.mjs --quick         smaller counts and shorter runs (checks the harness)
 *   npm run bench -- fanout            some suites only, by name (core, fanout, uploads, client, fog, storage, import, capacity, scale)
 *   node bench/run.mjs --only=1,3      some scenarios only (ids as in the table, e.g. fanout-100)
 *   node bench/run.mjs --in-place      run wrangler from the working tree, not from a snapshot of
 *                                      the sources (then an edit during the run reloads the worker)
 *   node bench/run.mjs --url=http://127.0.0.1:8787
 *                                      an already running server (started with --var BENCH_ROUTES:1)
 *
 * A suite is a module exporting `name` and `scenarios: [{ id, title, run(ctx) }]`, and maybe
 * `prepare({ log })`, run before the server starts; it may answer `{ assets }`, a client build
 * for the server to serve instead of dist/client (the client suite's). A suite exporting
 * `ownServers = true` starts the servers it needs itself (the scale suite: one shard, then two)
 * and stops them in its `finish()`; when only such suites run, no shared server is started. Add new ones to SUITES.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import * as capacity from "./capacity.mjs";
import * as clientSuite from "./client.mjs";
import * as core from "./core.mjs";
import * as fanout from "./fanout.mjs";
import * as fog from "./fog.mjs";
import * as importSuite from "./import.mjs";
import { ApiClient } from "./lib/client.mjs";
import { machineInfo, renderMarkdown } from "./lib/report.mjs";
import { BIN, childEnv, interrupted, ROOT, startServer } from "./lib/server.mjs";
import * as scale from "./scale.mjs";
import * as storage from "./storage.mjs";
import * as uploads from "./uploads.mjs";

const SUITES = [core, fanout, uploads, clientSuite, fog, storage, importSuite, capacity, scale];

// Run under the project's node (24, in node_modules/.bin) even when started by another one.
const localNode = join(BIN, "node");
if (Number(process.versions.node.split(".")[0]) < 24 && !process.env.VTT_BENCH_REEXEC && existsSync(localNode)) {
  const r = spawnSync(localNode, process.argv.slice(1), {
    stdio: "inherit",
    env: childEnv({ VTT_BENCH_REEXEC: "1" }),
  });
  process.exit(r.status ?? 1);
}
process.env.PATH = `${BIN}:${process.env.PATH ?? ""}`;
process.env.WRANGLER_SEND_METRICS = "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";

const { values: args, positionals } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    "in-place": { type: "boolean", default: false },
    only: { type: "string" },
    url: { type: "string" },
  },
  allowPositionals: true,
});
const unknownSuites = positionals.filter((p) => !SUITES.some((s) => s.name === p));
if (unknownSuites.length > 0) {
  process.stderr.write(`[bench] no suite named ${unknownSuites.join(", ")}; suites: ${SUITES.map((s) => s.name).join(", ")}\n`);
  process.exit(2);
}
const suites = positionals.length > 0 ? SUITES.filter((s) => positionals.includes(s.name)) : SUITES;
const only = args.only ? new Set(args.only.split(",").map((s) => s.trim())) : null;
const log = (msg) => process.stderr.write(`${msg}\n`);

function wranglerVersion() {
  try {
    return JSON.parse(readFileSync(join(ROOT, "node_modules", "wrangler", "package.json"), "utf8")).version;
  } catch {
    return "?";
  }
}

function errorReport(err) {
  return {
    message: err?.message ?? String(err),
    request: err?.request,
    response: err?.response,
    stack: err?.request ? undefined : err?.stack,
  };
}

async function main() {
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const notes = [];
  const loadBefore = loadavg()[0];
  let server = null;
  const results = [];
  try {
    let assets = null;
    for (const suite of suites) assets = (await suite.prepare?.({ log }))?.assets ?? assets;
    let baseUrl;
    let serverLabel;
    const sharedServer = suites.some((s) => !s.ownServers);
    if (!sharedServer) {
      serverLabel = "the suite's own wrangler dev servers (local, fresh persist dirs, BENCH_ROUTES=1)";
    } else if (args.url) {
      baseUrl = args.url.replace(/\/$/, "");
      serverLabel = `already running at ${baseUrl}`;
    } else {
      server = await startServer({ log, snapshot: !args["in-place"], assets });
      baseUrl = server.baseUrl;
      notes.push(...server.notes);
      serverLabel = `wrangler dev (local, fresh persist dir, BENCH_ROUTES=1) at ${baseUrl}, from ${server.source}`;
    }

    const client = sharedServer ? await ApiClient.registerWithToken(baseUrl) : null;
    if (client) log(`[bench] registered ${client.user?.username} with an API token`);
    const shared = {};
    for (const suite of suites) {
      for (const scenario of suite.scenarios) {
        if (only && !only.has(scenario.id)) continue;
        if (interrupted()) break;
        log(`[bench] ${suite.name} ${scenario.id}. ${scenario.title}`);
        const s0 = performance.now();
        const stamp = server?.sourceStamp();
        try {
          const r = await scenario.run({
            client,
            baseUrl,
            quick: args.quick,
            shared,
            log,
            persistDir: server?.persistDir,
            url: args.url,
            inPlace: args["in-place"],
            notes,
          });
          results.push({ suite: suite.name, id: scenario.id, title: scenario.title, ...r });
        } catch (err) {
          log(`[bench]   failed: ${err.message}`);
          results.push({ suite: suite.name, id: scenario.id, title: scenario.title, error: errorReport(err) });
        }
        if (server && server.sourceStamp() !== stamp) {
          notes.push(
            `scenario ${scenario.id}: a source file of the worker changed during it, so wrangler dev reloaded the worker mid-run: its figures are suspect.`,
          );
        }
        log(`[bench]   done in ${((performance.now() - s0) / 1000).toFixed(1)} s`);
      }
    }

    if (interrupted()) {
      log(`[bench] interrupted by ${interrupted()}: no report written`);
      return 130;
    }
    if (args.quick) notes.push("--quick: reduced counts and durations; not the issue's figures.");
    const report = {
      startedAt,
      durationMs: performance.now() - t0,
      machine: machineInfo({
        wrangler: wranglerVersion(),
        load_average_1m: { before: Number(loadBefore.toFixed(2)), after: Number(loadavg()[0].toFixed(2)) },
      }),
      server: serverLabel,
      notes,
      results,
    };
    const markdown = renderMarkdown(report);
    process.stdout.write(`${markdown}\n`);
    const dir = join(ROOT, "bench", "results");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "latest.md"), `${markdown}\n`);
    writeFileSync(join(dir, "latest.json"), `${JSON.stringify(report, null, 2)}\n`);
    log(`[bench] wrote bench/results/latest.md and latest.json`);
    const failed = results.some((r) => r.error || (r.failures ?? []).length > 0);
    return failed ? 1 : 0;
  } finally {
    for (const suite of suites) await suite.finish?.({ log }); // servers a suite started itself
    if (server) {
      log("[bench] stopping the server");
      await server.stop();
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    log(`[bench] ${err?.stack ?? err}`);
    if (err?.request) log(`[bench] request: ${JSON.stringify(err.request, null, 2)}`);
    if (err?.response) log(`[bench] response: ${JSON.stringify(err.response, null, 2)}`);
    process.exit(2);
  },
);
