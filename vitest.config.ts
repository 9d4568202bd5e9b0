import { fileURLToPath } from "node:url";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import solid from "vite-plugin-solid";
import { defineConfig, defineProject } from "vitest/config";

const migrations = await readD1Migrations(fileURLToPath(new URL("./migrations", import.meta.url)));

/**
 * Two projects. "workers": worker and domain tests run inside workerd against real D1, R2 and
 * Durable Object bindings from wrangler.toml; each test file gets its own storage, and
 * `test/setup/apply-migrations.ts` applies the SQL migrations to it. "client": the client's data
 * layer runs in Node, with `fake-indexeddb` standing in for IndexedDB and the browser builds of
 * Solid (vite-plugin-solid), so stores and effects are reactive as in the app.
 */
const workers = defineProject({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: migrations,
          BENCH_ROUTES: "0",
          // Every request logged, as an operator may switch on (worker/middleware/log.ts).
          LOG_LEVEL: "info",
          ASSET_SIGNING_SECRET: "test-signing-secret-0123456789abcdef",
          METRICS_TOKEN: "test-metrics-token",
          // Every test request comes from the same (absent) address: the per-address limits are
          // raised as on a developer's machine (scripts/local-limits.mjs). The per-user limits keep
          // their production values, pinned here so a local .dev.vars cannot change them for tests.
          REGISTRATIONS_PER_IP_PER_MINUTE: "1000",
          LOGINS_PER_IP_PER_MINUTE: "1000",
          SESSION_CREATES_PER_MINUTE: "20",
          // The shards and their regions as wrangler.toml has them (placement tests pin sessions by
          // region); a local .dev.vars, which gives them none, cannot change them for tests.
          SHARDS: { DB_SHARD_1: "weur", DB_SHARD_2: "enam" },
          BACKUPS_PER_MINUTE: "6",
          RESTORES_PER_MINUTE: "6",
          INTEGRITY_CHECKS_PER_MINUTE: "6",
          EXPORTS_PER_MINUTE: "20",
          USER_WRITES_BURST: "400",
          USER_WRITES_PER_SECOND: "200",
          SOCKETS_PER_USER_PER_SESSION: "20",
          // A failed background job is delivered again at once (worker/jobs/queue.ts).
          JOBS_RETRY_DELAY_SECONDS: "0",
        },
        // ASSETS_MIRROR is optional in production (absent from wrangler.toml); tests bind one.
        r2Buckets: ["ASSETS", "ASSETS_MIRROR"],
      },
    }),
  ],
  test: {
    name: "workers",
    include: ["test/worker/**/*.test.ts", "test/domain/**/*.test.ts", "test/modules/**/*.test.ts"],
    exclude: ["test/modules/**/*.client.test.ts"],
    setupFiles: ["./test/setup/apply-migrations.ts"],
    testTimeout: 30_000,
  },
});

const client = defineProject({
  plugins: [solid()],
  test: {
    name: "client",
    environment: "node",
    include: ["test/client/**/*.test.ts", "test/modules/**/*.client.test.ts", "test/cli/**/*.test.ts", "test/api/**/*.test.ts"],
    setupFiles: ["./test/client/setup.ts"],
  },
});

export default defineConfig({
  test: {
    projects: [workers, client],
  },
});
