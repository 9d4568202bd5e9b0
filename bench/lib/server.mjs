/**
 * Lifecycle of a local `wrangler dev` server for the benchmarks.
 *
 * startServer() makes a fresh temporary persist dir, applies the D1 migrations into it, starts
 * `wrangler dev` on a free loopback port as a child in its own process group (so that stopping
 * it also ends the workerd processes it spawns), and waits, bounded, for GET /api/vtt/health to
 * answer 200. stop() ends the whole group (SIGTERM, then SIGKILL after a grace period) and
 * removes the temp dir. Every started server is also ended when this process exits, throws or
 * gets SIGINT/SIGTERM/SIGHUP, so a failed run never leaves a server behind. Only one run at a
 * time per machine: a second one waits (bounded) for the first, whose figures it would spoil.
 *
 * Future benches (WebSocket fan-out, uploads) reuse it as is: `const server = await
 * startServer(); ... await server.stop();`.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";
import { migrateArgs } from "../../scripts/d1-databases.mjs";
import { localLimitArgs } from "../../scripts/local-limits.mjs";

/** The repository root (bench/lib/../..). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BIN = join(ROOT, "node_modules", ".bin");
export const HOST = "127.0.0.1";

/**
 * The environment for every child: the project's node 24 and tools first in PATH, no telemetry,
 * no request.cf fetch, no banner (the banner also runs wrangler's update check over the network).
 */
export function childEnv(extra = {}) {
  return {
    ...process.env,
    PATH: `${BIN}:${process.env.PATH ?? ""}`,
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_HIDE_BANNER: "true",
    NO_COLOR: "1",
    FORCE_COLOR: "0",
    ...extra,
  };
}

/** A TCP port free on the loopback interface right now. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Process-group bookkeeping: everything started here is killed when this process goes away.

// Process group ids (= the pids of the children started as group leaders). A group stays listed
// until it was killed whole, even if its leader exited alone: workerd may outlive wrangler.
const groups = new Set();
let handlersInstalled = false;
let interruptedBy = null;

/** The signal that is ending this process, if any: callers stop work and write nothing. */
export function interrupted() {
  return interruptedBy;
}

function killGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // no such group: every member has ended
  }
}

function installExitHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  // Last resort, synchronous: no awaiting is possible in an 'exit' handler.
  process.on("exit", () => {
    for (const pgid of groups) killGroup(pgid, "SIGKILL");
    releaseMachineLock({ all: true });
  });
  const onSignal = (signal, code) => {
    interruptedBy = signal;
    process.stderr.write(`\n[bench] ${signal}: stopping ${groups.size} child process group(s)\n`);
    for (const pgid of groups) killGroup(pgid, "SIGTERM");
    setTimeout(() => process.exit(code), 1500).unref();
    // A second signal exits at once (the 'exit' handler still SIGKILLs the groups).
    process.once(signal, () => process.exit(code));
  };
  process.once("SIGINT", () => onSignal("SIGINT", 130));
  process.once("SIGTERM", () => onSignal("SIGTERM", 143));
  process.once("SIGHUP", () => onSignal("SIGHUP", 129));
}

// ---------------------------------------------------------------------------------------------
// One benchmark at a time per machine: two runs sharing the CPUs spoil each other's figures.

const LOCK_FILE = join(tmpdir(), "vtt-bench.lock");
let lockHeld = false;
// Servers of this process holding the lock: a suite that starts its own servers while the run's
// shared one is up takes it again (this process already holds it) instead of waiting for itself.
let lockDepth = 0;

function lockHolder() {
  try {
    const pid = Number(readFileSync(LOCK_FILE, "utf8").trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    process.kill(pid, 0); // throws when no such process: a stale lock
    return pid;
  } catch {
    return null;
  }
}

function releaseMachineLock({ all = false } = {}) {
  if (!lockHeld) return;
  lockDepth = all ? 0 : Math.max(0, lockDepth - 1);
  if (lockDepth > 0) return;
  lockHeld = false;
  try {
    if (readFileSync(LOCK_FILE, "utf8").trim() === String(process.pid)) unlinkSync(LOCK_FILE);
  } catch {
    // already gone
  }
}

/**
 * Waits (bounded) until no other benchmark run on this machine holds the lock, then takes it.
 * Returns a note for the report when it gave up waiting and runs alongside the other one.
 */
export async function acquireMachineLock({ timeoutMs = 15 * 60_000, log = console.error } = {}) {
  installExitHandlers();
  if (lockHeld) {
    lockDepth += 1;
    return null;
  }
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  while (true) {
    try {
      writeFileSync(LOCK_FILE, `${process.pid}\n`, { flag: "wx" });
      lockHeld = true;
      lockDepth = 1;
      return null;
    } catch {
      const holder = lockHolder();
      if (holder === null) {
        try {
          unlinkSync(LOCK_FILE); // stale: its process is gone
        } catch {
          // someone else took it over first
        }
        continue;
      }
      if (Date.now() > deadline) {
        return `another benchmark run (pid ${holder}) was still running after ${timeoutMs / 60_000} min of waiting: this run shared the CPUs with it`;
      }
      if (!announced) {
        log(`[bench] another benchmark run (pid ${holder}) is running on this machine: waiting for it to finish`);
        announced = true;
      }
      await sleep(2000);
    }
  }
}

const hasExited = (child) => child.exitCode !== null || child.signalCode !== null;

/**
 * Runs a command in its own process group with its output appended to `logFile`, bounded by
 * `timeoutMs`. Resolves with the exit code; the output tail is returned for error messages.
 */
export function runCommand(cmd, args, { cwd = ROOT, env = childEnv(), logFile, timeoutMs = 120_000 } = {}) {
  installExitHandlers();
  return new Promise((resolveRun, reject) => {
    const log = logFile ? createWriteStream(logFile, { flags: "a" }) : null;
    log?.write(`\n$ ${cmd} ${args.join(" ")}\n`);
    let tail = "";
    const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    if (child.pid) groups.add(child.pid);
    const forget = () => {
      killGroup(child.pid, "SIGKILL"); // stragglers of a finished command
      groups.delete(child.pid);
    };
    const collect = (chunk) => {
      const text = stripVTControlCharacters(chunk.toString());
      log?.write(text);
      tail = (tail + text).slice(-4000);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    const timer = setTimeout(() => {
      tail += `\n[bench] timed out after ${timeoutMs} ms, killed`;
      killGroup(child.pid, "SIGKILL");
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      if (child.pid) forget();
      log?.end();
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      forget();
      log?.end();
      resolveRun({ code: code ?? (signal ? 128 : 1), tail });
    });
  });
}

/**
 * The static assets directory wrangler dev needs (wrangler.toml: ./dist/client). Builds it with
 * `vite build` when missing. When the build fails (say the client is not written yet), falls back
 * to a placeholder directory passed with `--assets`, which only replaces the directory: the API
 * under /api/* runs the worker first either way, so the benchmarks are unaffected.
 */
export async function ensureAssets({ logFile, tmp, log = console.error }) {
  const dist = join(ROOT, "dist", "client");
  if (existsSync(dist)) return { assetsArg: null, note: null };
  log("[bench] dist/client is missing: running vite build");
  const { code, tail } = await runCommand(join(BIN, "vite"), ["build"], { logFile, timeoutMs: 300_000 });
  if (code === 0 && existsSync(dist)) return { assetsArg: null, note: null };
  const placeholder = join(tmp, "assets");
  mkdirSync(placeholder, { recursive: true });
  writeFileSync(join(placeholder, "index.html"), "<!doctype html><title>bench placeholder</title>\n");
  const last = tail.trim().split("\n").slice(-3).join(" | ");
  const note = `vite build failed (exit ${code}: ${last}); served a placeholder assets dir instead`;
  log(`[bench] ${note}`);
  return { assetsArg: placeholder, note };
}

const SNAPSHOT_DIRS = ["worker", "domain", "migrations", "modules"];
const SNAPSHOT_FILES = ["wrangler.toml", "package.json", "tsconfig.json", ".dev.vars"];

/**
 * A copy of the worker's sources (worker/, domain/, migrations/, modules/, wrangler.toml and friends) in
 * `tmp`, with node_modules and dist linked, for wrangler to run from. wrangler dev rebuilds and
 * reloads when a source changes; from a snapshot, edits made while the benchmark runs cannot
 * reach the server, and every scenario measures the same code. Returns the dir and a label.
 */
export function snapshotSources(tmp) {
  const dir = join(tmp, "src");
  mkdirSync(dir, { recursive: true });
  for (const name of SNAPSHOT_DIRS) {
    if (existsSync(join(ROOT, name))) cpSync(join(ROOT, name), join(dir, name), { recursive: true });
  }
  for (const name of SNAPSHOT_FILES) {
    if (existsSync(join(ROOT, name))) copyFileSync(join(ROOT, name), join(dir, name));
  }
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  if (existsSync(join(ROOT, "dist"))) symlinkSync(join(ROOT, "dist"), join(dir, "dist"), "dir");
  const git = (...args) => spawnSync("git", args, { cwd: ROOT, encoding: "utf8" }).stdout?.trim() ?? "";
  const head = git("rev-parse", "--short", "HEAD") || "no commit";
  const dirty = git("status", "--porcelain", "--", ...SNAPSHOT_DIRS, "wrangler.toml")
    .split("\n")
    .filter(Boolean).length;
  const label = `snapshot of ${SNAPSHOT_DIRS.map((d) => `${d}/`).join(", ")} at ${new Date().toISOString()} (HEAD ${head}${dirty ? ` + ${dirty} uncommitted change(s)` : ""})`;
  return { dir, label };
}

/** `wrangler d1 migrations apply <db> --local --persist-to <dir>` for every database (the directory and each shard). */
export async function applyMigrations({ persistDir, logFile, cwd = ROOT }) {
  for (const args of migrateArgs(cwd, ["--local", "--persist-to", persistDir])) {
    const { code, tail } = await runCommand(join(BIN, "wrangler"), args, { cwd, logFile, timeoutMs: 120_000 });
    if (code !== 0) throw new Error(`wrangler d1 migrations apply ${args[3]} failed (exit ${code}):\n${tail}`);
  }
}

/** Polls GET /api/vtt/health until it answers 200, the child dies, or `timeoutMs` passes. */
export async function waitForHealth(baseUrl, { timeoutMs = 120_000, child, logTail = () => "" } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (child?.spawnError) throw new Error(`could not start wrangler dev: ${child.spawnError.message}`);
    if (child && hasExited(child)) {
      throw new Error(`wrangler dev exited (code ${child.exitCode}, signal ${child.signalCode}) before it was healthy:\n${logTail()}`);
    }
    try {
      const res = await fetch(`${baseUrl}/api/vtt/health`, { signal: AbortSignal.timeout(5000) });
      const text = await res.text();
      if (res.status === 200) return JSON.parse(text);
      last = `${res.status} ${text.slice(0, 300)}`;
    } catch (err) {
      last = err.cause?.code ?? err.message;
    }
    await sleep(300);
  }
  throw new Error(`GET /api/vtt/health did not answer 200 within ${timeoutMs} ms (last: ${last})\n${logTail()}`);
}

/**
 * Starts a fresh wrangler dev server and resolves once it is healthy. With `snapshot` (the
 * default) it runs from a copy of the sources taken now (see snapshotSources); without, from the
 * working tree, where an edit reloads the worker mid-run (`sourceStamp` tells when). `assets`: a
 * static assets directory to serve instead of dist/client (the client suite's own build).
 * Returns { baseUrl, port, persistDir, logFile, notes, source, health, stop, logTail, sourceStamp }.
 */
export async function startServer({
  vars = { BENCH_ROUTES: "1" },
  assets = null,
  logFile = join(ROOT, "bench", "results", "wrangler-dev.log"),
  healthTimeoutMs = 120_000,
  keepPersistDir = false,
  logLevel = "warn",
  snapshot = true,
  log = console.error,
} = {}) {
  installExitHandlers();
  const tmp = await mkdtemp(join(tmpdir(), "vtt-bench-"));
  const persistDir = join(tmp, "state");
  const notes = [];
  let child = null;
  let stopped = false;
  let locked = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child?.pid) {
      const exited = new Promise((r) => (hasExited(child) ? r() : child.once("close", r)));
      killGroup(child.pid, "SIGTERM");
      const graceful = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
      if (!graceful) {
        killGroup(child.pid, "SIGKILL");
        await Promise.race([exited, sleep(2000)]);
      }
      // workerd may outlive wrangler: make sure nothing of the group is left.
      killGroup(child.pid, "SIGKILL");
      groups.delete(child.pid);
    }
    if (!keepPersistDir) await rm(tmp, { recursive: true, force: true });
    if (locked) releaseMachineLock();
  };

  try {
    const lockNote = await acquireMachineLock({ log });
    locked = true;
    if (lockNote) notes.push(lockNote);
    mkdirSync(dirname(logFile), { recursive: true });
    writeFileSync(logFile, `[bench] ${new Date().toISOString()}\n`);
    const { assetsArg, note } = assets ? { assetsArg: assets, note: null } : await ensureAssets({ logFile, tmp, log });
    if (note) notes.push(note);
    let cwd = ROOT;
    let source = "the working tree";
    if (snapshot) {
      ({ dir: cwd, label: source } = snapshotSources(tmp));
      log(`[bench] running from a ${source}`);
    }
    log("[bench] applying D1 migrations into a fresh persist dir");
    await applyMigrations({ persistDir, logFile, cwd });

    const port = await freePort();
    const inspectorPort = await freePort();
    const args = [
      "dev",
      "--ip",
      HOST,
      "--port",
      String(port),
      "--inspector-port",
      String(inspectorPort),
      "--persist-to",
      persistDir,
      "--show-interactive-dev-session=false",
      // "warn" drops wrangler's per-request log line: thousands a second cost CPU the server shares.
      "--log-level",
      logLevel,
      ...localLimitArgs(),
      ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
      ...(assetsArg ? ["--assets", assetsArg] : []),
    ];
    log(`[bench] starting wrangler dev on ${HOST}:${port}`);
    const out = createWriteStream(logFile, { flags: "a" });
    out.write(`\n$ wrangler ${args.join(" ")}\n`);
    let tail = "";
    child = spawn(join(BIN, "wrangler"), args, {
      cwd,
      env: childEnv(),
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    if (child.pid) groups.add(child.pid);
    const collect = (chunk) => {
      const text = stripVTControlCharacters(chunk.toString());
      out.write(text);
      tail = (tail + text).slice(-6000);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("close", () => out.end());
    child.on("error", (err) => {
      child.spawnError = err; // e.g. ENOENT: waitForHealth stops at once
    });

    const baseUrl = `http://${HOST}:${port}`;
    const health = await waitForHealth(baseUrl, { timeoutMs: healthTimeoutMs, child, logTail: () => tail });
    log(`[bench] server healthy at ${baseUrl}`);
    return {
      baseUrl,
      port,
      persistDir,
      logFile,
      notes,
      source,
      health,
      stop,
      logTail: () => tail,
      // From a snapshot nothing can change under the server.
      sourceStamp: snapshot ? () => 0 : sourceStamp,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The newest modification time of the worker's sources (worker/, domain/, wrangler.toml).
 * wrangler dev rebuilds and reloads the worker when one changes, which spoils a measurement
 * running at that moment; comparing stamps before and after a scenario tells. (The reload message
 * itself is logged at "info", which the server's "warn" log level hides.)
 */
export function sourceStamp(dirs = ["worker", "domain", "wrangler.toml"]) {
  let newest = 0;
  const visit = (path, depth) => {
    let st;
    try {
      st = statSync(path);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      if (depth > 8) return;
      for (const name of readdirSync(path)) visit(join(path, name), depth + 1);
    } else if (st.mtimeMs > newest) {
      newest = st.mtimeMs;
    }
  };
  for (const d of dirs) visit(join(ROOT, d), 0);
  return newest;
}

/** The last `n` lines of the server log, for error reports. */
export function readLogTail(logFile, n = 40) {
  try {
    return readFileSync(logFile, "utf8").trimEnd().split("\n").slice(-n).join("\n");
  } catch {
    return "";
  }
}
