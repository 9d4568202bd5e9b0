// The D1 databases of wrangler.toml (the directory DB and every session shard DB_SHARD_*): every
// one gets the same migrations (worker/db/shards.ts). Read from wrangler.toml so a shard added
// there is migrated by `npm run dev`, `npm run db:migrate:local`, the e2e suite and the benches.
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The `binding` of each `[[d1_databases]]` table in wrangler.toml, in order (DB first). */
export function d1Bindings(root) {
  const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
  const names = [];
  for (const block of toml.split(/^\[\[?/m).slice(1)) {
    if (!block.startsWith("d1_databases]]")) continue;
    const match = /^binding\s*=\s*"([A-Z0-9_]+)"/m.exec(block);
    if (match?.[1]) names.push(match[1]);
  }
  if (!names.includes("DB")) throw new Error("wrangler.toml binds no D1 database DB");
  return names;
}

/** The arguments of `wrangler d1 migrations apply <binding> ...rest` for every database. */
export function migrateArgs(root, rest) {
  return d1Bindings(root).map((binding) => ["d1", "migrations", "apply", binding, ...rest]);
}
