#!/usr/bin/env node
// `npm run db:migrate:local` / `npm run db:migrate:remote`: applies the migrations to every D1
// database in wrangler.toml (the directory and each shard). Extra arguments reach wrangler
// (e.g. `--persist-to <dir>`, `--env production`).
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { migrateArgs } from "./d1-databases.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const [where, ...extra] = process.argv.slice(2);
if (where !== "--local" && where !== "--remote") {
  console.error("usage: node scripts/migrate.mjs --local|--remote [wrangler arguments]");
  process.exit(2);
}
const env = { ...process.env, PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH ?? ""}` };
for (const args of migrateArgs(root, [where, ...extra])) {
  const result = spawnSync("wrangler", args, { cwd: root, env, stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
