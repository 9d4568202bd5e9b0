#!/usr/bin/env node
// `npm run openapi`: writes the API's description as the worker serves it to docs/openapi.json
// (GET /api/openapi.json) and docs/protocol.json (GET /api/protocol.json), then the CLI's types
// generated from the document (cli/api-types.ts). A test fails when the checked-in files and the routes disagree.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { unstable_startWorker } from "wrangler";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.env.WRANGLER_SEND_METRICS = "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
// The static assets' directory must exist for the worker to start (the client build is not needed).
mkdirSync(join(root, "dist", "client"), { recursive: true });

const worker = await unstable_startWorker({
  config: join(root, "wrangler.toml"),
  dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, logLevel: "warn" },
});
try {
  for (const [path, file] of [
    ["/api/openapi.json", "docs/openapi.json"],
    ["/api/protocol.json", "docs/protocol.json"],
  ]) {
    const res = await worker.fetch(`http://127.0.0.1${path}`);
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
    writeFileSync(join(root, file), `${JSON.stringify(await res.json(), null, 2)}\n`);
    console.log(`wrote ${file}`);
  }
} finally {
  await worker.dispose();
}
function run(cmd, args) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
// The CLI's types of every path, parameter and answer (cli/api-types.ts, used with openapi-fetch).
run("openapi-typescript", ["docs/openapi.json", "--output", "cli/api-types.ts"]);
// In the project's formatting, so `npm run lint` passes and a regeneration changes only what changed.
run("biome", ["format", "--write", "docs/openapi.json", "docs/protocol.json", "cli/api-types.ts"]);
