// Local values of the rate limits (wrangler.toml [vars] holds the production ones, docs/API.md
// "Rate limits" explains each). Test suites, e2e runs and benches register hundreds of users a
// minute from 127.0.0.1 and create dozens of sessions per user: on a developer's machine the
// per-address limits and the per-user creation limit are raised so they never get in the way.
// Failed logins per username keep backing off here too (that is not a setting).
// Used by scripts/dev.mjs (written to .dev.vars), scripts/e2e.mjs and bench/lib/server.mjs (--var).
export const LOCAL_LIMITS = {
  REGISTRATIONS_PER_IP_PER_MINUTE: "1000",
  LOGINS_PER_IP_PER_MINUTE: "1000",
  SESSION_CREATES_PER_MINUTE: "1000",
};

/** The limits as `wrangler dev` arguments. */
export function localLimitArgs() {
  return Object.entries(LOCAL_LIMITS).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
}
