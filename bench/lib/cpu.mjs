/**
 * The server's CPU time per request, read from /proc (Linux only): the sum of user and system
 * time (utime + stime) of every process of the local server's tree (wrangler and the workerd
 * processes it runs), before and after N sequential requests, divided by N.
 *
 * Latency on a shared 2-CPU machine moves with whatever else runs; CPU time spent by the server
 * moves much less, so it tells whether a change made a request cheaper. A case is a `step` that
 * sends one request and throws on an unexpected answer; compare it with a baseline case measured
 * the same way in the same run (the bare D1 insert route):
 *
 *   const probe = serverCpuProbe({ persistDir });
 *   const patch = await cpuPerRequest(probe, { count: 200, step: async (i) => { ... } });
 *
 * Work a request leaves for after its response (`waitUntil`) is counted: the last reading is
 * taken after a short quiet pause.
 */
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/** Clock ticks a second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
export const CLOCK_TICKS = 100;

function pids() {
  try {
    return readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null; // ended meanwhile
  }
}

/** The pid whose command line contains `needle` (e.g. the persist dir of a `wrangler dev`), oldest first. */
export function findProcess(needle) {
  const found = [];
  for (const pid of pids()) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
      if (cmd.includes(needle)) found.push(Number(pid));
    } catch {
      // ended meanwhile, or not ours to read
    }
  }
  return found.sort((a, b) => a - b)[0] ?? null;
}

/** `root` and every process below it. */
export function processTree(root) {
  const children = new Map();
  for (const pid of pids()) {
    const fields = statFields(pid);
    if (!fields) continue;
    const parent = Number(fields[1]); // ppid, field 4 of stat
    children.set(parent, [...(children.get(parent) ?? []), Number(pid)]);
  }
  const out = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift();
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** User + system CPU time (ms) spent so far by the processes. */
export function cpuMsOf(processes) {
  let ticks = 0;
  for (const pid of processes) {
    const fields = statFields(pid);
    if (!fields) continue;
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime: fields 14 and 15 of stat
  }
  return (ticks * 1000) / CLOCK_TICKS;
}

/**
 * A reader of the server tree's CPU time: found from the server's persist dir (a local `wrangler
 * dev` of bench/lib/server.mjs) or a pid (`VTT_BENCH_SERVER_PID` for `--url` runs). Null when
 * neither is known or /proc is not there (not Linux).
 */
export function serverCpuProbe({ persistDir, pid = Number(process.env.VTT_BENCH_SERVER_PID) || null } = {}) {
  const root = pid ?? (persistDir ? findProcess(`--persist-to ${persistDir}`) : null);
  if (root === null) return null;
  return {
    root,
    /** CPU ms of the tree as it is now (the tree is read again each time: workerd may restart). */
    read: () => cpuMsOf(processTree(root)),
  };
}

/**
 * Runs `step(i)` `count` times one after the other (after `warmup` unmeasured ones) and returns
 * { count, cpu_ms, cpu_ms_per_request, wall_ms, idle_cpu_ms_per_s }: the server's CPU time over
 * the measured steps (and a quiet `settleMs` after them, less its idle share) divided by the count. `idle_cpu_ms_per_s`
 * is what the server burns doing nothing, measured for `settleMs` before: a check that the
 * figure is the requests', not background noise.
 */
export async function cpuPerRequest(probe, { count, warmup = 10, step, settleMs = 500 }) {
  for (let i = 0; i < warmup; i++) await step(i);
  await sleep(settleMs);
  const idle0 = probe.read();
  await sleep(settleMs);
  const start = probe.read();
  const idleMsPerS = ((start - idle0) * 1000) / settleMs;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await step(warmup + i);
  const wallMs = performance.now() - t0;
  await sleep(settleMs);
  // The quiet pause after the steps is counted only for what the server burns when idle.
  const cpuMs = Math.max(0, probe.read() - start - (idleMsPerS * settleMs) / 1000);
  return { count, cpu_ms: cpuMs, cpu_ms_per_request: cpuMs / count, wall_ms: wallMs, idle_cpu_ms_per_s: idleMsPerS };
}
