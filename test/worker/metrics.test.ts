import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../worker/index";
import { render } from "../../worker/metrics/prometheus";
import { recordEvent, recordSave } from "../../worker/metrics/recorder";
import { create, newTable, ORIGIN, type TestUser } from "../helpers/client";
import { tableOn } from "../helpers/jobs";
import { eventLines } from "../helpers/log-lines";
import { flushSaveMetrics } from "../helpers/save-metrics";
import { shardOf } from "../helpers/shards";

const TOKEN = "test-metrics-token";

afterEach(() => {
  vi.restoreAllMocks();
});

// ---- a strict parser of the text exposition format (0.0.4), line by line ----------------------

type Labels = Record<string, string>;
interface ParsedSample {
  name: string;
  labels: Labels;
  value: number;
}
interface Exposition {
  types: Map<string, string>;
  helps: Map<string, string>;
  samples: ParsedSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function parseValue(text: string, line: string): number {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  if (text === "NaN") return Number.NaN;
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`bad value in: ${line}`);
  return Number(text);
}

/** `{a="x",b="y"}` at the start of `rest`: the labels and what follows. */
function parseLabels(rest: string, line: string): [Labels, string] {
  const labels: Labels = {};
  let i = 1;
  if (rest[i] === "}") return [labels, rest.slice(i + 1)];
  for (;;) {
    const name = LABEL_NAME.exec(rest.slice(i))?.[0];
    if (!name) throw new Error(`bad label name in: ${line}`);
    i += name.length;
    if (rest.slice(i, i + 2) !== '="') throw new Error(`expected =" in: ${line}`);
    i += 2;
    let value = "";
    for (;;) {
      const ch = rest[i];
      if (ch === undefined || ch === "\n") throw new Error(`unterminated label value in: ${line}`);
      if (ch === '"') break;
      if (ch === "\\") {
        const next = rest[i + 1];
        if (next === "\\") value += "\\";
        else if (next === '"') value += '"';
        else if (next === "n") value += "\n";
        else throw new Error(`bad escape in: ${line}`);
        i += 2;
      } else {
        value += ch;
        i += 1;
      }
    }
    i += 1;
    if (name in labels) throw new Error(`duplicate label ${name} in: ${line}`);
    labels[name] = value;
    if (rest[i] === ",") {
      i += 1;
      continue;
    }
    if (rest[i] === "}") return [labels, rest.slice(i + 1)];
    throw new Error(`expected , or } in: ${line}`);
  }
}

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && types.get(base) === "histogram") return base;
  }
  return undefined;
}

function parseExposition(text: string): Exposition {
  if (!text.endsWith("\n")) throw new Error("the exposition must end with a newline");
  const out: Exposition = { types: new Map(), helps: new Map(), samples: [] };
  const seen = new Set<string>();
  const closed = new Set<string>();
  let current: string | undefined;
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      if (!m) throw new Error(`bad comment line: ${line}`);
      const [, keyword, name = "", rest = ""] = m;
      if (keyword === "HELP") {
        if (out.helps.has(name)) throw new Error(`second HELP for ${name}`);
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ""))) throw new Error(`bad escape in HELP: ${line}`);
        out.helps.set(name, rest);
      } else {
        if (out.types.has(name)) throw new Error(`second TYPE for ${name}`);
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest)) throw new Error(`bad type: ${line}`);
        if (seen.has(name)) throw new Error(`TYPE after samples of ${name}`);
        out.types.set(name, rest);
      }
      continue;
    }
    const name = NAME.exec(line)?.[0];
    if (!name) throw new Error(`bad sample line: ${JSON.stringify(line)}`);
    let rest = line.slice(name.length);
    let labels: Labels = {};
    if (rest.startsWith("{")) [labels, rest] = parseLabels(rest, line);
    const m = /^ (\S+)( -?\d+)?$/.exec(rest);
    if (!m?.[1]) throw new Error(`bad sample line: ${line}`);
    const family = familyOf(name, out.types);
    if (!family) throw new Error(`sample of an undeclared family: ${line}`);
    if (family !== current) {
      if (current) closed.add(current);
      if (closed.has(family)) throw new Error(`samples of ${family} are not together`);
      current = family;
    }
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`duplicate sample: ${line}`);
    seen.add(key);
    seen.add(name);
    out.samples.push({ name, labels, value: parseValue(m[1], line) });
  }
  for (const [name, type] of out.types) if (type === "histogram") checkHistogram(out, name);
  return out;
}

function withoutLe({ le: _, ...rest }: Labels): string {
  return JSON.stringify(Object.entries(rest).sort());
}

/** Buckets cumulative with ascending `le`, ending at +Inf equal to `_count`, with a `_sum`. */
function checkHistogram(exp: Exposition, name: string) {
  const groups = new Map<string, ParsedSample[]>();
  for (const s of exp.samples.filter((s) => s.name === `${name}_bucket`)) {
    if (s.labels.le === undefined) throw new Error(`${name}_bucket without le`);
    const key = withoutLe(s.labels);
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const [key, buckets] of groups) {
    const les = buckets.map((b) => parseValue(b.labels.le ?? "", "le"));
    for (let i = 1; i < buckets.length; i++) {
      if (!((les[i] ?? 0) > (les[i - 1] ?? 0))) throw new Error(`${name}: le not ascending`);
      if ((buckets[i]?.value ?? 0) < (buckets[i - 1]?.value ?? 0)) throw new Error(`${name}: buckets not cumulative`);
    }
    if (les.at(-1) !== Number.POSITIVE_INFINITY) throw new Error(`${name}: no +Inf bucket`);
    const count = exp.samples.find((s) => s.name === `${name}_count` && withoutLe(s.labels) === key);
    const sum = exp.samples.find((s) => s.name === `${name}_sum` && withoutLe(s.labels) === key);
    if (!count || !sum) throw new Error(`${name}: missing _count or _sum for ${key}`);
    if (count.value !== buckets.at(-1)?.value) throw new Error(`${name}: _count differs from the +Inf bucket`);
  }
}

function sampleValue(exp: Exposition, name: string, labels: Labels = {}): number {
  const s = exp.samples.find(
    (s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(Object.entries(labels).sort()),
  );
  return s?.value ?? 0;
}

// ---- helpers ------------------------------------------------------------------------------------

async function scrapeRaw(authorization?: string) {
  const res = await SELF.fetch(`${ORIGIN}/api/vtt/metrics`, { headers: authorization ? { authorization } : {} });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function scrape(): Promise<Exposition> {
  const r = await scrapeRaw(`Bearer ${TOKEN}`);
  expect(r.status).toBe(200);
  return parseExposition(r.text);
}

/**
 * Saves reach the session's object after the response and D1 when it flushes: flush the object
 * of `sid` and scrape until `ready`, a bounded number of times.
 */
async function scrapeUntil(sid: string, ready: (exp: Exposition) => boolean): Promise<Exposition> {
  for (let i = 0; i < 100; i++) {
    await flushSaveMetrics(sid);
    const exp = await scrape();
    if (ready(exp)) return exp;
    await new Promise((r) => setTimeout(r, 10));
  }
  await flushSaveMetrics(sid);
  return scrape();
}

const saves = (exp: Exposition, route: string, outcome: string) =>
  sampleValue(exp, "vtt_save_duration_milliseconds_count", { route, outcome });
const conflicts = (exp: Exposition, route: string) => sampleValue(exp, "vtt_conflicts_total", { route });

const events = eventLines;

async function tokenAt(gm: TestUser, base: string) {
  return create(gm, base, "tokens", { name: "Hero" });
}

// ---- tests ---------------------------------------------------------------------------------------

describe("GET /api/vtt/metrics", () => {
  it("answers 401 without a bearer token, with a wrong one, and to a logged-in user's cookie", async () => {
    const { gm } = await newTable();
    for (const auth of [undefined, "Bearer wrong", `Bearer ${TOKEN.replace(/.$/, "x")}`, `Basic ${btoa(`x:${TOKEN}`)}`]) {
      const r = await scrapeRaw(auth);
      expect(r.status).toBe(401);
      expect(JSON.parse(r.text).error.code).toBe("unauthorized");
    }
    const r = await gm.req("GET", "/api/vtt/metrics");
    expect(r.status).toBe(401);
  });

  it("answers 503 with a clear message when no METRICS_TOKEN is configured", async () => {
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request(`${ORIGIN}/api/vtt/metrics`, { headers: { authorization: "Bearer " } }),
      { ...env, METRICS_TOKEN: "" } as Env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(503);
    const body = (await res.json()) as any;
    expect(body.error.code).toBe("unavailable");
    expect(body.error.message).toContain("METRICS_TOKEN");
  });

  it("serves Prometheus text that parses strictly, with every expected family", async () => {
    const { gm, base, sid } = await newTable();
    await tokenAt(gm, base);
    const r = await scrapeRaw(`Bearer ${TOKEN}`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const exp = await scrapeUntil(sid, (e) => saves(e, "rest", "ok") > 0);
    expect(Object.fromEntries(exp.types)).toMatchObject({
      vtt_sessions: "gauge",
      vtt_session_members: "gauge",
      vtt_connected_clients: "gauge",
      vtt_change_log_rows: "gauge",
      vtt_entities: "gauge",
      vtt_unsynced_backlog_events: "gauge",
      vtt_unsynced_backlog_max_events: "gauge",
      vtt_unsynced_clients: "gauge",
      vtt_clients_without_ack: "gauge",
      vtt_integrity_open_findings: "gauge",
      vtt_save_duration_milliseconds: "histogram",
      vtt_conflicts_total: "counter",
    });
    for (const name of exp.types.keys()) expect(exp.helps.has(name)).toBe(true);
    expect(sampleValue(exp, "vtt_sessions")).toBeGreaterThanOrEqual(1);
    expect(sampleValue(exp, "vtt_session_members", { role: "player" })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(exp, "vtt_entities", { type: "token", state: "live" })).toBeGreaterThanOrEqual(1);
    const les = exp.samples
      .filter((s) => s.name === "vtt_save_duration_milliseconds_bucket" && s.labels.outcome === "ok")
      .map((s) => s.labels.le);
    expect(les.slice(0, 9)).toEqual(["5", "10", "25", "50", "100", "250", "500", "1000", "+Inf"]);
  });

  it("reads every database: one up gauge each, and per-session gauges summed over the shards", async () => {
    const before = await scrape();
    const one1 = await tableOn("DB_SHARD_1");
    const one2 = await tableOn("DB_SHARD_2");
    const after = await scrape();
    expect(["DB", "DB_SHARD_1", "DB_SHARD_2"].map((database) => sampleValue(after, "vtt_database_up", { database }))).toEqual([1, 1, 1]);
    expect(sampleValue(after, "vtt_health_check_ok", { check: "db" })).toBe(1);
    // Two sessions more, one on each shard: each with its scene and token, and its log rows.
    expect(sampleValue(after, "vtt_sessions") - sampleValue(before, "vtt_sessions")).toBe(2);
    const live = (e: Exposition, type: string) => sampleValue(e, "vtt_entities", { type, state: "live" });
    expect(live(after, "token") - live(before, "token")).toBe(2);
    expect(live(after, "scene") - live(before, "scene")).toBe(2);
    let logRows = 0;
    for (const sid of [one1.sid, one2.sid]) {
      logRows += Number(
        await (await shardOf(sid)).prepare("SELECT COUNT(*) AS n FROM change_log WHERE session_id = ?").bind(sid).first("n"),
      );
    }
    expect(sampleValue(after, "vtt_change_log_rows") - sampleValue(before, "vtt_change_log_rows")).toBe(logRows);
  });

  it("counts REST and batch saves in the latency histogram", async () => {
    const { gm, base, sid } = await newTable();
    const token = await tokenAt(gm, base);
    const before = await scrapeUntil(sid, (e) => saves(e, "rest", "ok") > 0);
    const rest = saves(before, "rest", "ok");
    const batch = saves(before, "batch", "ok");
    expect((await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 3 }, { "if-match": '"1"' })).status).toBe(200);
    const ops = [
      { op_id: crypto.randomUUID(), entity_type: "token", op: "create", data: { name: "A" } },
      { op_id: crypto.randomUUID(), entity_type: "token", op: "create", data: { name: "B" } },
    ];
    expect((await gm.req("POST", `${base}/batch`, { ops })).status).toBe(200);
    const after = await scrapeUntil(sid, (e) => saves(e, "rest", "ok") >= rest + 1 && saves(e, "batch", "ok") >= batch + 1);
    expect(saves(after, "rest", "ok")).toBe(rest + 1);
    expect(saves(after, "batch", "ok")).toBe(batch + 1);
    expect(sampleValue(after, "vtt_save_duration_milliseconds_sum", { route: "rest", outcome: "ok" })).toBeGreaterThanOrEqual(0);
  });

  it("counts a conflict after a 409, from REST and from a batch", async () => {
    const { gm, base, sid } = await newTable();
    const token = await tokenAt(gm, base);
    await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": '"1"' });
    const before = await scrapeUntil(sid, (e) => saves(e, "rest", "ok") >= 2);
    const stale = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 2 }, { "if-match": '"1"' });
    expect(stale.status).toBe(409);
    const staleBatch = await gm.req("POST", `${base}/batch`, {
      ops: [{ op_id: crypto.randomUUID(), entity_type: "token", op: "update", id: token.id, base_version: 1, data: { x: 5 } }],
    });
    expect(staleBatch.status).toBe(409);
    const after = await scrapeUntil(
      sid,
      (e) => conflicts(e, "rest") >= conflicts(before, "rest") + 1 && conflicts(e, "batch") >= conflicts(before, "batch") + 1,
    );
    expect(conflicts(after, "rest")).toBe(conflicts(before, "rest") + 1);
    expect(conflicts(after, "batch")).toBe(conflicts(before, "batch") + 1);
    expect(saves(after, "rest", "conflict")).toBe(saves(before, "rest", "conflict") + 1);
    expect(saves(after, "rest", "ok")).toBe(saves(before, "rest", "ok"));
  });

  it("reports connected clients and the unsynced backlog, also in the health check", async () => {
    const { gm, base, sid } = await newTable();
    for (let i = 0; i < 5; i++) await tokenAt(gm, base);
    const seq = (await gm.req("GET", `${base}/state`)).body.seq as number;
    const before = await scrape();
    const healthBefore = (await SELF.fetch(`${ORIGIN}/api/vtt/health`).then((r) => r.json())) as any;
    const now = new Date().toISOString();
    const shard = await shardOf(sid);
    const client = (id: string, disconnected: string | null) =>
      shard
        .prepare(
          "INSERT INTO session_clients (client_id, session_id, user_id, role, connected_at, last_seen, disconnected_at, capabilities) VALUES (?, ?, ?, 'gm', ?, ?, ?, '{}')",
        )
        .bind(id, sid, gm.id, now, now, disconnected);
    const ack = (id: string, eventId: number) =>
      shard
        .prepare("INSERT INTO acknowledgements (session_id, client_id, event_id, user_id, acked_at) VALUES (?, ?, ?, ?, ?)")
        .bind(sid, id, eventId, gm.id, now);
    const [lagging, current, silent, gone] = [1, 2, 3, 4].map(() => crypto.randomUUID()) as [string, string, string, string];
    await shard.batch([
      client(lagging, null),
      ack(lagging, seq - 4),
      ack(lagging, seq - 3),
      client(current, null),
      ack(current, seq),
      client(silent, null),
      client(gone, now),
      ack(gone, 1),
    ]);
    const after = await scrape();
    const delta = (name: string, labels: Labels = {}) => sampleValue(after, name, labels) - sampleValue(before, name, labels);
    expect(delta("vtt_connected_clients", { role: "gm" })).toBe(3);
    expect(delta("vtt_unsynced_backlog_events")).toBe(3);
    expect(delta("vtt_unsynced_clients")).toBe(1);
    expect(delta("vtt_clients_without_ack")).toBe(1);
    expect(sampleValue(after, "vtt_unsynced_backlog_max_events")).toBeGreaterThanOrEqual(3);

    const health = await SELF.fetch(`${ORIGIN}/api/vtt/health`);
    expect(health.status).toBe(200);
    const backlog = ((await health.json()) as any).checks.backlog;
    expect(backlog).toMatchObject({ ok: true });
    expect(backlog.connected_clients - healthBefore.checks.backlog.connected_clients).toBe(3);
    expect(backlog.backlog_events - healthBefore.checks.backlog.backlog_events).toBe(3);
    expect(backlog.lagging_clients - healthBefore.checks.backlog.lagging_clients).toBe(1);
    expect(backlog.clients_without_ack - healthBefore.checks.backlog.clients_without_ack).toBe(1);
    expect(backlog.max_backlog_events).toBeGreaterThanOrEqual(3);
  });
});

describe("events", () => {
  it("logs token created, scene activated and conflict when no Analytics Engine is bound", async () => {
    const { gm, base, sid } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "Crypt" });
    const spy = vi.spyOn(console, "log");
    const token = await tokenAt(gm, base);
    await gm.req("POST", `${base}/scenes/${scene.id}/activate`, {});
    const stale = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 2 }, { "if-match": '"7"' });
    expect(stale.status).toBe(409);
    expect(events(spy, "token_created")).toEqual([expect.objectContaining({ session_id: sid, token_id: token.id, user_id: gm.id })]);
    expect(events(spy, "scene_activated")).toEqual([expect.objectContaining({ session_id: sid, scene_id: scene.id })]);
    expect(events(spy, "conflict")).toEqual([
      expect.objectContaining({ session_id: sid, route: "rest", entity_type: "token", entity_id: token.id }),
    ]);
  });

  it("writes data points to the METRICS_AE dataset when one is bound, and nothing to D1", async () => {
    const writeDataPoint = vi.fn();
    const bound = { ...env, METRICS_AE: { writeDataPoint } } as unknown as Env;
    const rows = async () => (await env.DB.prepare("SELECT COALESCE(SUM(value), 0) AS n FROM metric_counters").first("n")) as number;
    const before = await rows();
    const log = vi.spyOn(console, "log");
    await recordSave(bound, 42, "conflict", "batch");
    recordEvent(bound, "token_created", { session_id: "s1", token_id: "t1" });
    expect(writeDataPoint).toHaveBeenCalledWith({ indexes: ["save"], blobs: ["save", "batch", "conflict"], doubles: [42] });
    expect(writeDataPoint).toHaveBeenCalledWith({
      indexes: ["token_created"],
      blobs: ["token_created", "s1", JSON.stringify({ session_id: "s1", token_id: "t1" })],
      doubles: [1],
    });
    expect(log).not.toHaveBeenCalled();
    expect(await rows()).toBe(before);
  });
});

describe("the exposition renderer", () => {
  it("escapes label values and HELP text so they read back unchanged", () => {
    const tricky = 'a "quoted" \\ back\nslash';
    const text = render([
      { name: "vtt_test", help: "line one\nline two \\ end", type: "gauge", samples: [{ labels: { v: tricky }, value: 1.5 }] },
    ]);
    const exp = parseExposition(text);
    expect(exp.samples).toEqual([{ name: "vtt_test", labels: { v: tricky }, value: 1.5 }]);
  });

  it("refuses a metric name outside the grammar", () => {
    expect(() => render([{ name: "vtt-bad", help: "x", type: "gauge", samples: [] }])).toThrow(/bad metric name/);
  });
});
