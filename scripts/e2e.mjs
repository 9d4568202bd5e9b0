#!/usr/bin/env node
/**
 * Runs the browser tests against a real local stack:
 *   1. writes `.dev.vars` when missing (local secrets, as `npm run dev` does) and builds the client
 *      (`vite build` into dist/client),
 *   2. applies the D1 migrations into a fresh temporary persist dir,
 *   3. starts `wrangler dev` on a free port with that state (its own process group),
 *   4. waits for `GET /api/vtt/health` to answer 200,
 *   5. runs `node --test` on e2e/ (or on the files given as arguments) with E2E_BASE_URL set,
 *   6. stops the server, deletes the state and exits with the tests' exit code.
 *
 * The server's output goes to e2e/artifacts/wrangler-dev.log; screenshots land next to it.
 * E2E_SERVER_TIMEOUT_MS overrides the 60 s readiness bound.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { migrateArgs } from "./d1-databases.mjs";
import { ensureDevVars, localLimitArgs } from "./local-limits.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const binDir = path.join(root, "node_modules", ".bin");
const artifactsDir = path.join(root, "e2e", "artifacts");
const serverLog = path.join(artifactsDir, "wrangler-dev.log");
const readinessTimeoutMs = Number(process.env.E2E_SERVER_TIMEOUT_MS ?? 60_000);

const env = {
  ...process.env,
  PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ""}`,
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
};

let server = null;
let persistDir = null;

function log(message) {
  console.log(`[e2e] ${message}`);
}

/** The step running in the foreground (build, migrations, tests), to interrupt it on Ctrl-C. */
let foreground = null;

/**
 * Runs a command to completion with inherited output, in its own process group (so an interrupt
 * reaches all of it: the test runner, its test processes and their browsers); resolves to its exit code.
 */
function run(command, args, extraEnv = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: root,
      env: { ...env, ...extraEnv },
      stdio: ["ignore", "inherit", "inherit"],
      detached: true,
    });
    foreground = child;
    child.once("error", (error) => {
      foreground = null;
      reject(error);
    });
    child.once("exit", (code, signal) => {
      foreground = null;
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

/** Interrupts the foreground step as a terminal would (SIGINT to its group), then insists. */
async function interruptForeground() {
  const child = foreground;
  if (child === null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  signalGroup(child.pid, "SIGINT");
  const timedOut = await Promise.race([exited.then(() => false), new Promise((resolve) => setTimeout(resolve, 10_000, true))]);
  if (timedOut) signalGroup(child.pid, "SIGKILL");
}

async function runOrFail(step, command, args) {
  log(`${step}: ${command} ${args.join(" ")}`);
  const code = await run(command, args);
  if (code !== 0) throw new Error(`${step} failed with exit code ${code}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function startServer(port, inspectorPort, logFile) {
  const out = openSync(logFile, "w");
  const args = [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    persistDir,
    ...localLimitArgs(),
  ];
  log(`starting: wrangler ${args.join(" ")} (log: ${path.relative(root, logFile)})`);
  // detached: the server gets its own process group, so stopping it also stops workerd.
  const child = spawn("wrangler", args, { cwd: root, env, detached: true, stdio: ["ignore", out, out] });
  child.exitPromise = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  child.once("error", (error) => log(`could not start wrangler: ${error.message}`));
  return child;
}

async function waitForHealth(url, child) {
  const deadline = Date.now() + readinessTimeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    throwIfInterrupted();
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`wrangler dev exited early (code ${child.exitCode}, signal ${child.signalCode})`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) return;
      last = `status ${response.status}: ${(await response.text()).slice(0, 200)}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${url} did not answer 200 within ${readinessTimeoutMs} ms (last: ${last})`);
}

async function stopServer() {
  const child = server;
  server = null;
  if (child === null || child.pid === undefined) return;
  if (child.exitCode === null && child.signalCode === null) {
    log("stopping wrangler dev");
    signalGroup(child.pid, "SIGTERM");
    const timedOut = await Promise.race([child.exitPromise.then(() => false), new Promise((resolve) => setTimeout(resolve, 10_000, true))]);
    if (timedOut) signalGroup(child.pid, "SIGKILL");
  }
  // Children (workerd) may outlive wrangler by a moment; make sure the whole group is gone.
  signalGroup(child.pid, "SIGKILL");
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if (error.code !== "ESRCH") throw error;
  }
}

async function cleanUp() {
  await stopServer();
  if (persistDir !== null) {
    await rm(persistDir, { recursive: true, force: true, maxRetries: 3 });
    persistDir = null;
  }
}

/**
 * Ctrl-C / SIGTERM: interrupt the running step and let `main` unwind, so that there is one way
 * out, through the `finally` below that stops the server and deletes the state.
 */
let interrupted = null;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    if (interrupted !== null) return;
    interrupted = signal;
    log(`${signal}: stopping`);
    void interruptForeground();
  });
}

function throwIfInterrupted() {
  if (interrupted !== null) throw new Error(`interrupted by ${interrupted}`);
}

async function main() {
  const testFiles = process.argv.slice(2);
  mkdirSync(artifactsDir, { recursive: true });

  // Uploads need the signing secret: a fresh clone gets one as `npm run dev` would make it.
  ensureDevVars(root);
  await runOrFail("build the client", "vite", ["build"]);
  throwIfInterrupted();

  persistDir = await mkdtemp(path.join(tmpdir(), "vtt-e2e-state-"));
  for (const args of migrateArgs(root, ["--local", "--persist-to", persistDir]))
    await runOrFail(`apply migrations (${args[3]})`, "wrangler", args);
  throwIfInterrupted();

  const port = await freePort();
  // A free inspector port too, so a `npm run dev` already running on 9229 does not collide.
  const inspectorPort = await freePort();
  server = startServer(port, inspectorPort, serverLog);
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitForHealth(`${baseUrl}/api/vtt/health`, server);
  throwIfInterrupted();
  log(`server ready at ${baseUrl}`);

  const patterns = testFiles.length > 0 ? testFiles : ["e2e/**/*.test.mjs"];
  log(`running: node --test ${patterns.join(" ")}`);
  return run("node", ["--test", "--test-reporter=spec", "--test-concurrency=1", ...patterns], {
    E2E_BASE_URL: baseUrl,
  });
}

let exitCode = 1;
try {
  exitCode = await main();
  throwIfInterrupted();
} catch (error) {
  console.error(`[e2e] ${error instanceof Error ? error.message : String(error)}`);
  if (interrupted === null && server !== null && existsSync(serverLog)) {
    const tail = readFileSync(serverLog, "utf8").split("\n").slice(-40).join("\n");
    console.error(`[e2e] last lines of ${path.relative(root, serverLog)}:\n${tail}`);
  }
  exitCode = 1;
} finally {
  await cleanUp();
}
if (interrupted !== null) exitCode = interrupted === "SIGINT" ? 130 : 143;
log(exitCode === 0 ? "passed" : `failed (exit code ${exitCode})`);
process.exit(exitCode);
