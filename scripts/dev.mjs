#!/usr/bin/env node
// `npm run dev`: build the client, apply local D1 migrations, serve app and API with wrangler dev on
// http://127.0.0.1:8787. Extra arguments go to `wrangler dev` (e.g. `npm run dev -- --port 9000`).
import { spawn, spawnSync } from "node:child_process";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { migrateArgs } from "./d1-databases.mjs";
import { ensureDevVars } from "./local-limits.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const env = {
  ...process.env,
  // Wrangler, miniflare and vite need Node >= 22: use the project's own Node first.
  PATH: `${join(root, "node_modules", ".bin")}${delimiter}${process.env.PATH}`,
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  CI: process.env.CI ?? "true",
};

function run(cmd, args) {
  const result = spawnSync(cmd, args, { cwd: root, env, stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

// Local secrets and limits (.dev.vars), written once so a fresh clone needs no setup.
ensureDevVars(root);

const extra = process.argv.slice(2);
run("vite", ["build", "--logLevel", "warn"]);
// Every database: the directory and each session shard (scripts/d1-databases.mjs).
for (const args of migrateArgs(root, ["--local", ...extra.filter((a, i) => a === "--persist-to" || extra[i - 1] === "--persist-to")])) {
  run("wrangler", args);
}
const hasPort = extra.includes("--port");
const hasIp = extra.includes("--ip");
const child = spawn("wrangler", ["dev", ...(hasIp ? [] : ["--ip", "127.0.0.1"]), ...(hasPort ? [] : ["--port", "8787"]), ...extra], {
  cwd: root,
  env,
  stdio: "inherit",
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code) => process.exit(code ?? 0));
