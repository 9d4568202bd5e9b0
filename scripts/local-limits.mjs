// Local values of the rate limits (wrangler.toml [vars] holds the production ones, docs/API.md
// "Rate limits" explains each). Test suites, e2e runs and benches register hundreds of users a
// minute from 127.0.0.1 and create dozens of sessions per user: on a developer's machine the
// per-address limits and the per-user creation limit are raised so they never get in the way.
// Failed logins per username keep backing off here too (that is not a setting).
// Used by scripts/dev.mjs and scripts/e2e.mjs (written to .dev.vars by `ensureDevVars`) and
// bench/lib/server.mjs (--var).
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const LOCAL_LIMITS = {
  REGISTRATIONS_PER_IP_PER_MINUTE: "1000",
  LOGINS_PER_IP_PER_MINUTE: "1000",
  SESSION_CREATES_PER_MINUTE: "1000",
  // Not a limit, a local fact: `wrangler dev` gives every request the same placeholder location,
  // so the shards' regions would put every local session on one shard. Locally they name no
  // region, and placement spreads sessions by load over both (worker/db/shards.ts).
  SHARDS: '{"DB_SHARD_1":"","DB_SHARD_2":""}',
};

/** The limits as `wrangler dev` arguments. */
export function localLimitArgs() {
  return Object.entries(LOCAL_LIMITS).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
}

/**
 * `.dev.vars` in `root`: local secrets generated once (so a fresh clone needs no setup), then the
 * local limits added when missing, never overwriting a value set by hand.
 */
export function ensureDevVars(root) {
  const devVars = join(root, ".dev.vars");
  if (!existsSync(devVars)) {
    writeFileSync(devVars, `ASSET_SIGNING_SECRET=${randomBytes(32).toString("hex")}\nMETRICS_TOKEN=${randomBytes(16).toString("hex")}\n`);
  }
  const text = readFileSync(devVars, "utf8");
  const present = new Set(text.split("\n").map((line) => line.split("=")[0]?.trim()));
  const missing = Object.entries(LOCAL_LIMITS).filter(([k]) => !present.has(k));
  if (missing.length > 0) {
    appendFileSync(devVars, `${text.endsWith("\n") || text === "" ? "" : "\n"}${missing.map(([k, v]) => `${k}=${v}\n`).join("")}`);
  }
}
