import { applyD1Migrations, env } from "cloudflare:test";

// Setup files run before each test file: migrations are idempotent, so re-applying is cheap.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
