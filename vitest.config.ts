import { fileURLToPath } from "node:url";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

const migrations = await readD1Migrations(fileURLToPath(new URL("./migrations", import.meta.url)));

/**
 * Tests run inside workerd against real D1, R2 and Durable Object bindings from wrangler.toml;
 * each test file gets its own storage, and `test/setup/apply-migrations.ts` applies the SQL
 * migrations to it.
 */
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: migrations,
          BENCH_ROUTES: "0",
          ASSET_SIGNING_SECRET: "test-signing-secret-0123456789abcdef",
          METRICS_TOKEN: "test-metrics-token",
        },
      },
    }),
  ],
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["./test/setup/apply-migrations.ts"],
    testTimeout: 30_000,
  },
});
