#!/usr/bin/env node
// `npm run dev`: build the client, apply local D1 migrations, serve app and API with wrangler dev on
// http://127.0.0.1:8787. Extra arguments go to `wrangler dev` (e.g. `npm run dev -- --port 9000`).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { LOCAL_LIMITS } from "./local-limits.mjs";

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

// Local secrets: generated once so a fresh clone needs no setup.
const devVars = join(root, ".dev.vars");
if (!existsSync(devVars)) {
  writeFileSync(devVars, `ASSET_SIGNING_SECRET=${randomBytes(32).toString("hex")}\nMETRICS_TOKEN=${randomBytes(16).toString("hex")}\n`);
}
// Local rate limits (scripts/local-limits.mjs): added when missing, never overwriting a value set by hand.
const present = new Set(
  readFileSync(devVars, "utf8")
    .split("\n")
    .map((line) => line.split("=")[0]?.trim()),
);
const missing = Object.entries(LOCAL_LIMITS).filter(([k]) => !present.has(k));
if (missing.length > 0) {
  const text = readFileSync(devVars, "utf8");
  appendFileSync(devVars, `${text.endsWith("\n") || text === "" ? "" : "\n"}${missing.map(([k, v]) => `${k}=${v}\n`).join("")}`);
}

const extra = process.argv.slice(2);
run("vite", ["build", "--logLevel", "warn"]);
run("wrangler", [
  "d1",
  "migrations",
  "apply",
  "DB",
  "--local",
  ...extra.filter((a, i) => a === "--persist-to" || extra[i - 1] === "--persist-to"),
]);
const hasPort = extra.includes("--port");
const hasIp = extra.includes("--ip");
const child = spawn("wrangler", ["dev", ...(hasIp ? [] : ["--ip", "127.0.0.1"]), ...(hasPort ? [] : ["--port", "8787"]), ...extra], {
  cwd: root,
  env,
  stdio: "inherit",
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code) => process.exit(code ?? 0));
