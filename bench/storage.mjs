/**
 * Bytes stored per change, all tables together, before and after retention.
 *
 * One session, a GM and PLAYERS players. The GM makes CHANGES changes (token moves, BATCH ops a
 * batch, each op with its own op id as the offline queue sends them); after each batch every
 * player acknowledges every change of it (`POST {S}/ack`), as a client on the socket does. The
 * database is measured (GET /api/bench/table-bytes: rows and the bytes of their values, per
 * table; and, when this run started the server, the page bytes per table and index from the D1
 * file with SQLite's dbstat) at four points:
 *   1. before the session;
 *   2. after the changes and acks, no retention run yet;
 *   3. after the cron jobs at the same time (retention inside the window: acks fold to each
 *      client's latest, nothing else is old enough);
 *   4. after the cron jobs a window and a day later (POST /api/bench/scheduled), run hourly until
 *      a run changes nothing: backups, change log compacted into baselines, idempotency records,
 *      acks, clients and timeline pruned.
 * Bytes per change = (total at the point − total before) / CHANGES.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ApiClient } from "./lib/client.mjs";

export const name = "storage";

const CHANGES = 6000;
const QUICK_CHANGES = 600;
const PLAYERS = 6;
const TOKENS = 50;
const WINDOW_DAYS = 30;
const DAY_MS = 86_400_000;

/** The tables this work bounds, and the ones that hold the game itself. */
const WATCHED = [
  "acknowledgements",
  "applied_ops",
  "session_clients",
  "activation_timeline",
  "integrity_findings",
  "metric_counters",
  "change_log",
  "entity_baselines",
  "tokens",
];

/** A request that waits out 429s (the per-user mutation bucket) instead of failing. */
async function send(client, method, path, body, expect) {
  for (let attempt = 0; ; attempt++) {
    const r = await client.request(method, path, { body, expect: [expect, 429] });
    if (r.status !== 429) return r;
    if (attempt > 50) throw new Error(`${method} ${path}: still rate limited`);
    await sleep(250);
  }
}

async function tableBytes(client) {
  const r = await client.request("GET", "/api/bench/table-bytes", { expect: 200 });
  return r.data.tables;
}

/** Page bytes per table (its indexes included) from the local D1 file, when we can find it. */
async function pageBytes(persistDir) {
  if (!persistDir) return null;
  const dir = join(persistDir, "v3", "d1", "miniflare-D1DatabaseObject");
  if (!existsSync(dir)) return null;
  const { DatabaseSync } = await import("node:sqlite");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sqlite"))) {
    const db = new DatabaseSync(join(dir, file), { readOnly: true });
    try {
      const hasLog = db.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'change_log'").get();
      if (!hasLog) continue;
      const rows = db
        .prepare(
          `SELECT COALESCE(s.tbl_name, d.name) AS tbl, SUM(d.pgsize) AS bytes
           FROM dbstat d LEFT JOIN sqlite_schema s ON s.name = d.name GROUP BY tbl`,
        )
        .all();
      return Object.fromEntries(rows.map((r) => [r.tbl, Number(r.bytes)]));
    } finally {
      db.close();
    }
  }
  return null;
}

function total(tables) {
  return Object.values(tables).reduce((sum, t) => sum + (typeof t === "number" ? t : t.bytes), 0);
}

const fmt = (n) => (n >= 10_000 ? `${(n / 1024).toFixed(1)} KiB` : `${Math.round(n)} B`);

async function measure(client, persistDir) {
  return { values: await tableBytes(client), pages: await pageBytes(persistDir) };
}

async function run({ client, baseUrl, quick, log, persistDir }) {
  const changes = quick ? QUICK_CHANGES : CHANGES;
  const before = await measure(client, persistDir);

  const created = await client.request("POST", "/api/vtt/sessions", { body: { name: "Storage" }, expect: 201 });
  const sid = created.data.session.id;
  const base = ApiClient.sessionPath(sid);
  const players = [];
  for (let i = 0; i < PLAYERS; i++) {
    const p = await ApiClient.registerWithToken(baseUrl);
    await p.request("POST", "/api/vtt/sessions/join", { body: { invite_code: created.data.invite_code }, expect: 200 });
    players.push(p);
  }
  const scene = await client.createEntity(sid, "scene", { name: "Hall" });
  await client.activateScene(sid, scene.id);
  const tokens = [];
  const createOps = Array.from({ length: TOKENS }, (_, i) => ({
    op_id: crypto.randomUUID(),
    entity_type: "token",
    op: "create",
    data: { name: `T${i}`, scene_id: scene.id, x: i, y: 0 },
  }));
  const seeded = await send(client, "POST", `${base}/batch`, { ops: createOps }, 200);
  for (const r of seeded.data.results) tokens.push({ id: r.entity.id, version: r.entity.version });

  log(`[bench]   ${changes} changes, ${PLAYERS} players acking each`);
  let made = 0;
  let seq = seeded.data.seq;
  while (made < changes) {
    const n = Math.min(TOKENS, changes - made);
    const ops = tokens.slice(0, n).map((t) => ({
      op_id: crypto.randomUUID(),
      entity_type: "token",
      op: "update",
      id: t.id,
      base_version: t.version,
      data: { x: made + 1, y: t.version },
    }));
    const r = await send(client, "POST", `${base}/batch`, { ops }, 200);
    r.data.results.forEach((res, i) => {
      const t = tokens[i];
      if (t) t.version = res.entity.version;
    });
    const eventIds = Array.from({ length: r.data.seq - seq }, (_, i) => seq + i + 1);
    seq = r.data.seq;
    await Promise.all(players.map((p) => send(p, "POST", `${base}/ack`, { event_ids: eventIds }, 204)));
    made += n;
  }

  const played = await measure(client, persistDir);
  const now = Date.now();
  await client.request("POST", "/api/bench/scheduled", { body: { at: new Date(now).toISOString() }, expect: 200 });
  const inside = await measure(client, persistDir);
  // Compaction and retention each do a bounded amount per run: run the hourly job until it is done.
  let after;
  let runs = 0;
  for (let previous = -1; runs < 20; ) {
    runs += 1;
    await client.request("POST", "/api/bench/scheduled", {
      body: { at: new Date(now + (WINDOW_DAYS + 1) * DAY_MS + runs * 3_600_000).toISOString() },
      expect: 200,
    });
    after = await measure(client, persistDir);
    const size = total(after.values);
    if (size === previous) break;
    previous = size;
  }

  const perChange = (m) => (total(m.values) - total(before.values)) / changes;
  const perChangePages = (m) => (m.pages && before.pages ? (total(m.pages) - total(before.pages)) / changes : null);
  const stages = [
    ["after play, no retention", played],
    ["after retention inside the window", inside],
    [`after the window (${WINDOW_DAYS + 1} days later)`, after],
  ];
  const rows = stages.map(([label, m]) => ({
    measure: `bytes per change, all tables: ${label}`,
    ours: `${fmt(perChange(m))} values${perChangePages(m) === null ? "" : `, ${fmt(perChangePages(m))} pages`}`,
    baseline: "—",
    slowdown: "—",
    target: "—",
    verdict: "—",
  }));
  const details = [
    `${changes} changes (token moves, ${TOKENS} ops a batch) by one GM, ${PLAYERS} players acknowledging every change over HTTP; session ${sid}.`,
    `After the window: ${runs} hourly runs of the cron jobs (the last one changed nothing), from ${WINDOW_DAYS + 1} days after play.`,
    "values = the bytes of the rows' values (D1 has no dbstat); pages = SQLite page bytes of each table and its indexes, read from the local D1 file with dbstat.",
    ...WATCHED.map((t) => {
      const cell = (m) => `${m.values[t]?.rows ?? 0} rows / ${fmt((m.values[t]?.bytes ?? 0) - (before.values[t]?.bytes ?? 0))}`;
      return `${t}: played ${cell(played)}; inside the window ${cell(inside)}; after the window ${cell(after)}`;
    }),
  ];
  // The same figures as numbers, for bench/capacity.mjs.
  const figures = Object.fromEntries(
    [
      ["played", played],
      ["inside", inside],
      ["after", after],
    ].map(([key, m]) => [key, { values: perChange(m), pages: perChangePages(m) }]),
  );
  return { rows, details, failures: [], figures: { changes, bytesPerChange: figures } };
}

export const scenarios = [{ id: "storage-1", title: "Bytes stored per change, before and after retention", run }];
