import { applyD1Migrations, env } from "cloudflare:test";
import { allDatabases } from "../../worker/db/shards";

// Setup files run before each test file: migrations are idempotent, so re-applying is cheap.
// Every database gets them: the directory (DB) and each session shard (worker/db/shards.ts).
for (const { d1 } of allDatabases(env)) await applyD1Migrations(d1, env.TEST_MIGRATIONS);
