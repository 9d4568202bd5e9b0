/**
 * The metric families of a scrape: gauges read from D1 now, and the recorder's aggregates. The
 * service's counters, sessions and memberships are read in the directory; the per-session gauges
 * (clients, change log, entities, assets, findings, backlog) on each database holding sessions
 * (every shard, and the directory's sessions from before shards), summed (worker/db/shards.ts).
 */
import { sql } from "drizzle-orm";
import { getDb } from "../db/client";
import { allDatabases } from "../db/shards";
import { serviceBacklog } from "./backlog";
import { RESOLUTIONS, RESOLVE_BUCKETS_S } from "./client-reports";
import { D1_BATCHES, D1_DURATION, D1_ROUND_TRIP, D1_ROWS_READ, D1_ROWS_WRITTEN, D1_STATEMENTS, usageFrom } from "./d1-usage";
import type { Family, Labels, Sample } from "./prometheus";
import { CLIENT_CONFLICT_COUNTER, CLIENT_RESOLVE_HISTOGRAM, CONFLICT_COUNTER, SAVE_BUCKETS_MS, SAVE_HISTOGRAM } from "./recorder";

/** Entity tables by type. One query each: D1 allows at most 5 terms in a compound SELECT. */
const entityTables = {
  scene: "scenes",
  folder: "folders",
  layer: "scene_layers",
  token: "tokens",
  token_art: "token_art",
  session_state: "session_state",
} as const;

async function entityCounts(db: ReturnType<typeof getDb>) {
  const counts = await Promise.all(
    Object.entries(entityTables).map(async ([type, table]) =>
      (
        await db.all<{ archived: number; n: number }>(
          sql`SELECT archived_at IS NOT NULL AS archived, COUNT(*) AS n FROM ${sql.raw(table)} GROUP BY 1`,
        )
      ).map((row) => ({ type, ...row })),
    ),
  );
  return counts.flat();
}

interface CounterRow {
  name: string;
  labels: string;
  bucket: string;
  value: number;
}

function parseLabels(json: string): Labels {
  try {
    const value = JSON.parse(json) as unknown;
    if (value && typeof value === "object" && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
    }
  } catch {
    // A malformed row is shown without labels rather than breaking the scrape.
  }
  return {};
}

/** Cumulative `_bucket` samples, `_sum` and `_count` per label set, from the per-bucket rows. */
function histogramSamples(rows: CounterRow[], name: string = SAVE_HISTOGRAM, bounds: readonly number[] = SAVE_BUCKETS_MS): Sample[] {
  const byLabels = new Map<string, { buckets: Map<string, number>; sum: number }>();
  const entry = (labels: string) => {
    let e = byLabels.get(labels);
    if (!e) {
      e = { buckets: new Map(), sum: 0 };
      byLabels.set(labels, e);
    }
    return e;
  };
  for (const row of rows) {
    if (row.name === name) entry(row.labels).buckets.set(row.bucket, row.value);
    else if (row.name === `${name}_sum`) entry(row.labels).sum += row.value;
  }
  const samples: Sample[] = [];
  for (const [json, { buckets, sum }] of [...byLabels].sort(([a], [b]) => a.localeCompare(b))) {
    const labels = parseLabels(json);
    let cumulative = 0;
    for (const le of [...bounds.map(String), "+Inf"]) {
      cumulative += buckets.get(le) ?? 0;
      samples.push({ name: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
    }
    samples.push({ name: `${name}_sum`, labels, value: Math.round(sum * 1000) / 1000 });
    samples.push({ name: `${name}_count`, labels, value: cumulative });
  }
  return samples;
}

/** Always one sample (0 before any report), so the family is present for alert rules. */
function clientConflictSamples(rows: CounterRow[]): Sample[] {
  const samples = rows.filter((r) => r.name === CLIENT_CONFLICT_COUNTER).map((r) => ({ labels: parseLabels(r.labels), value: r.value }));
  return samples.length > 0 ? samples : [{ labels: { entity_type: "token" }, value: 0 }];
}

/** Every resolution's histogram, empty ones as zeros. */
function resolveSamples(rows: CounterRow[]): Sample[] {
  const reported = rows.filter((r) => r.name === CLIENT_RESOLVE_HISTOGRAM || r.name === `${CLIENT_RESOLVE_HISTOGRAM}_sum`);
  const present = new Set(reported.map((r) => r.labels));
  const zeros = RESOLUTIONS.map((resolution) => JSON.stringify({ resolution }))
    .filter((labels) => !present.has(labels))
    .map((labels) => ({ name: `${CLIENT_RESOLVE_HISTOGRAM}_sum`, labels, bucket: "", value: 0 }));
  return histogramSamples([...reported, ...zeros], CLIENT_RESOLVE_HISTOGRAM, RESOLVE_BUCKETS_S);
}

/** The health endpoint's D1 and R2 probes (worker/routes/health.ts), as 1 (passing) or 0; `db` passes when every database does. */
async function healthChecks(env: Env): Promise<{ checks: Sample[]; databases: Sample[] }> {
  const probe = async (run: () => Promise<void>) => {
    try {
      await run();
      return 1;
    } catch {
      return 0;
    }
  };
  const [databases, storage] = await Promise.all([
    Promise.all(
      allDatabases(env).map(async ({ name, d1 }) => ({
        labels: { database: name },
        value: await probe(async () => {
          await d1.prepare("SELECT 1").first();
        }),
      })),
    ),
    probe(async () => {
      const key = `health/${crypto.randomUUID()}`;
      await env.ASSETS.put(key, "ok");
      const back = await env.ASSETS.get(key);
      await env.ASSETS.delete(key);
      if ((await back?.text()) !== "ok") throw new Error("R2 did not return what was written");
    }),
  ]);
  const db = databases.every((d) => d.value === 1) ? 1 : 0;
  return {
    checks: [
      { labels: { check: "db" }, value: db },
      { labels: { check: "storage" }, value: storage },
    ],
    databases,
  };
}

/** Per-session figures summed over every database holding sessions. */
async function perDatabase<T>(env: Env, read: (db: ReturnType<typeof getDb>) => Promise<T[]>): Promise<T[]> {
  return (await Promise.all(allDatabases(env).map(({ d1 }) => read(getDb(d1))))).flat();
}

function sumBy<K extends string>(rows: ({ n: number } & Record<K, string>)[], key: K): ({ n: number } & Record<K, string>)[] {
  const sums = new Map<string, number>();
  for (const row of rows) sums.set(row[key], (sums.get(row[key]) ?? 0) + row.n);
  return [...sums].map(([k, n]) => ({ [key]: k, n }) as { n: number } & Record<K, string>);
}

/** What D1 reported for the sessions' commits (d1-usage.ts): always present, 0 before any commit. */
function d1UsageFamilies(rows: CounterRow[]): Family[] {
  const u = usageFrom(rows);
  const family = (name: string, help: string, value: number): Family => ({ name, help, type: "counter", samples: [{ value }] });
  return [
    family(D1_BATCHES, "D1 batches the session objects committed (one holds one or more logged writes).", u.batches),
    family(D1_STATEMENTS, "Statements in those batches.", u.statements),
    family(D1_ROWS_READ, "Rows D1 reported read by those statements (meta.rows_read).", u.rowsRead),
    family(D1_ROWS_WRITTEN, "Rows D1 reported written by those statements, index entries included (meta.rows_written).", u.rowsWritten),
    family(D1_DURATION, "Time D1 reported spending on those statements (meta.duration), in milliseconds.", u.durationMs),
    family(D1_ROUND_TRIP, "Time the session objects waited for those batches, in milliseconds.", u.roundTripMs),
  ];
}

export async function collectFamilies(env: Env): Promise<Family[]> {
  const db = getDb(env.DB);
  const health = await healthChecks(env);
  const count = async (query: ReturnType<typeof sql>) =>
    (await perDatabase(env, async (d) => [(await d.get<{ n: number }>(query))?.n ?? 0])).reduce((a, b) => a + b, 0);
  const [sessions, members, clients, changeLogRows, entityRows, assetRows, findings, backlog, counters] = await Promise.all([
    (async () => (await db.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM session_directory`))?.n ?? 0)(),
    db.all<{ role: string; n: number }>(sql`SELECT role, COUNT(*) AS n FROM session_members GROUP BY role ORDER BY role`),
    perDatabase(env, (d) =>
      d.all<{ role: string; n: number }>(
        sql`SELECT role, COUNT(*) AS n FROM session_clients WHERE disconnected_at IS NULL GROUP BY role ORDER BY role`,
      ),
    ),
    count(sql`SELECT COUNT(*) AS n FROM change_log`),
    perDatabase(env, entityCounts),
    count(sql`SELECT COUNT(*) AS n FROM assets`),
    perDatabase(env, (d) =>
      d.all<{ kind: string; n: number }>(
        sql`SELECT kind, COUNT(*) AS n FROM integrity_findings WHERE resolved_at IS NULL GROUP BY kind ORDER BY kind`,
      ),
    ),
    serviceBacklog(env),
    db.all<CounterRow>(sql`SELECT name, labels, bucket, value FROM metric_counters ORDER BY name, labels, bucket`),
  ]);
  const entities = [...new Set(entityRows.map((r) => `${r.type}\u0000${r.archived}`))].map((key) => {
    const [type = "", archived = "0"] = key.split("\u0000");
    const n = entityRows.filter((r) => r.type === type && String(r.archived) === archived).reduce((a, r) => a + r.n, 0);
    return { type, archived: Number(archived), n };
  });
  const byRole = (rows: { role: string; n: number }[]) =>
    (["gm", "player"] as const).map((role) => ({ labels: { role }, value: sumBy(rows, "role").find((r) => r.role === role)?.n ?? 0 }));

  return [
    {
      name: "vtt_health_check_ok",
      help: "The health endpoint's probes at scrape time: 1 passing, 0 failing (a D1 query; an R2 write, read and delete).",
      type: "gauge",
      samples: health.checks,
    },
    {
      name: "vtt_database_up",
      help: "A query on each database at scrape time: 1 answered, 0 failed (the directory DB, then each session shard).",
      type: "gauge",
      samples: health.databases,
    },
    { name: "vtt_sessions", help: "Game sessions.", type: "gauge", samples: [{ value: sessions }] },
    { name: "vtt_session_members", help: "Session memberships by role.", type: "gauge", samples: byRole(members) },
    {
      name: "vtt_connected_clients",
      help: "Clients connected now (session_clients without disconnected_at), by role.",
      type: "gauge",
      samples: byRole(clients),
    },
    { name: "vtt_change_log_rows", help: "Rows retained in the change log.", type: "gauge", samples: [{ value: changeLogRows }] },
    {
      name: "vtt_entities",
      help: "Entity rows by type, live or archived.",
      type: "gauge",
      samples: entities
        .sort((a, b) => a.type.localeCompare(b.type) || a.archived - b.archived)
        .map((r) => ({ labels: { type: r.type, state: r.archived ? "archived" : "live" }, value: r.n })),
    },
    { name: "vtt_asset_rows", help: "Asset manifest rows (one per session and content).", type: "gauge", samples: [{ value: assetRows }] },
    {
      name: "vtt_unsynced_backlog_events",
      help: "Sum over connected clients of session seq minus the client's highest acknowledged event (clients that acknowledged nothing excluded).",
      type: "gauge",
      samples: [{ value: backlog.backlog_events }],
    },
    {
      name: "vtt_unsynced_backlog_max_events",
      help: "The largest backlog of one connected client, in changes.",
      type: "gauge",
      samples: [{ value: backlog.max_backlog_events }],
    },
    {
      name: "vtt_unsynced_clients",
      help: "Connected clients with a backlog above 0.",
      type: "gauge",
      samples: [{ value: backlog.lagging_clients }],
    },
    {
      name: "vtt_clients_without_ack",
      help: "Connected clients that have acknowledged nothing yet (backlog unknown).",
      type: "gauge",
      samples: [{ value: backlog.clients_without_ack }],
    },
    {
      name: "vtt_integrity_open_findings",
      help: "Open findings of the integrity job, by kind.",
      type: "gauge",
      samples: (["checksum_mismatch", "dangling_reference", "missing_object"] as const).map((kind) => ({
        labels: { kind },
        value: sumBy(findings, "kind").find((f) => f.kind === kind)?.n ?? 0,
      })),
    },
    {
      name: SAVE_HISTOGRAM,
      help: "Latency of saves (a REST write or a batch, the session object's RPC call) in milliseconds, by route and outcome.",
      type: "histogram",
      samples: histogramSamples(counters),
    },
    {
      name: CONFLICT_COUNTER,
      help: "Saves refused with 409 conflict (stale version), by route.",
      type: "counter",
      samples: counters.filter((r) => r.name === CONFLICT_COUNTER).map((r) => ({ labels: parseLabels(r.labels), value: r.value })),
    },
    ...d1UsageFamilies(counters),
    {
      name: CLIENT_CONFLICT_COUNTER,
      help: "Conflicts clients showed their users (reported by the clients' queues), by entity type.",
      type: "counter",
      samples: clientConflictSamples(counters),
    },
    {
      name: CLIENT_RESOLVE_HISTOGRAM,
      help: "Time users took to resolve a conflict, in seconds (reported by clients), by resolution.",
      type: "histogram",
      samples: resolveSamples(counters),
    },
  ];
}
