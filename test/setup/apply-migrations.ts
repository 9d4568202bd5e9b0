import { applyD1Migrations, env } from "cloudflare:test";

// Setup files run before each test file: migrations are idempotent, so re-applying is cheap.
// Every database gets them: the directory (DB) and each session shard (worker/db/shards.ts).
for (const name of ["DB", ...Object.keys(env.SHARDS as Record<string, string>)]) {
  await applyD1Migrations((env as unknown as Record<string, D1Database>)[name] as D1Database, env.TEST_MIGRATIONS);
}
