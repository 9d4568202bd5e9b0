import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import alertRules from "../../docs/alerts.yml?raw";
import { create, newTable, ORIGIN, type Reply } from "../helpers/client";
import { flushSaveMetrics } from "../helpers/save-metrics";

const TOKEN = "test-metrics-token";

function expectError(r: Reply, status: number, code: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body?.error?.code).toBe(code);
}

async function scrape(): Promise<string> {
  const res = await SELF.fetch(`${ORIGIN}/api/vtt/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  return res.text();
}

/** `name{labels} value` lines → value by `name{labels}`. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** Every sample name, and every family named by a `# TYPE` line (a histogram's base name). */
const exposedNames = (text: string) =>
  new Set([
    ...[...samples(text).keys()].map((k) => k.replace(/\{.*$/, "")),
    ...[...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] ?? ""),
  ]);

async function counterRows(name: string) {
  return (
    await env.DB.prepare("SELECT labels, bucket, value FROM metric_counters WHERE name = ? ORDER BY labels, bucket")
      .bind(name)
      .all<{ labels: string; bucket: string; value: number }>()
  ).results;
}

const url = (base: string) => `${base}/metrics/conflicts`;

describe("POST {S}/metrics/conflicts", () => {
  it("aggregates a member's report into counters that /metrics exposes", async () => {
    const { gm, player, base } = await newTable();
    const before = samples(await scrape());
    const r = await gm.req("POST", url(base), {
      conflicts: [{ entity_type: "token" }, { entity_type: "token" }, { entity_type: "not-a-type" }],
      resolved: [
        { resolution: "keep_mine", duration_ms: 12_000 },
        { resolution: "keep_mine", duration_ms: 400 },
      ],
    });
    expect(r.status).toBe(204);
    expect((await player.req("POST", url(base), { resolved: [{ resolution: "use_server", duration_ms: 90_000 }] })).status).toBe(204);
    const after = samples(await scrape());
    const delta = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
    expect(delta('vtt_client_conflicts_total{entity_type="token"}')).toBe(2);
    expect(delta('vtt_client_conflicts_total{entity_type="other"}')).toBe(1);
    expect(delta('vtt_client_conflict_resolve_seconds_bucket{resolution="keep_mine",le="1"}')).toBe(1);
    expect(delta('vtt_client_conflict_resolve_seconds_bucket{resolution="keep_mine",le="15"}')).toBe(2);
    expect(delta('vtt_client_conflict_resolve_seconds_count{resolution="keep_mine"}')).toBe(2);
    expect(delta('vtt_client_conflict_resolve_seconds_sum{resolution="keep_mine"}')).toBeCloseTo(12.4);
    expect(delta('vtt_client_conflict_resolve_seconds_bucket{resolution="use_server",le="60"}')).toBe(0);
    expect(delta('vtt_client_conflict_resolve_seconds_bucket{resolution="use_server",le="120"}')).toBe(1);
  });

  it("stores one row per label set and bucket however many reports arrive", async () => {
    const { gm, base } = await newTable();
    const report = { conflicts: [{ entity_type: "scene" }], resolved: [{ resolution: "merge_fields", duration_ms: 2000 }] };
    await gm.req("POST", url(base), report);
    const rows =
      (await counterRows("vtt_client_conflicts_total")).length + (await counterRows("vtt_client_conflict_resolve_seconds")).length;
    for (let i = 0; i < 5; i++) expect((await gm.req("POST", url(base), report)).status).toBe(204);
    const after =
      (await counterRows("vtt_client_conflicts_total")).length + (await counterRows("vtt_client_conflict_resolve_seconds")).length;
    expect(after).toBe(rows);
    const scene = (await counterRows("vtt_client_conflicts_total")).find((r) => r.labels === '{"entity_type":"scene"}');
    expect(scene?.value).toBeGreaterThanOrEqual(6);
  });

  it.each([
    ["an empty report", {}],
    ["an unknown resolution", { resolved: [{ resolution: "coin_flip", duration_ms: 1 }] }],
    ["a negative duration", { resolved: [{ resolution: "keep_mine", duration_ms: -1 }] }],
    ["an unknown field", { conflicts: [], extra: 1 }],
    ["too many items", { conflicts: Array.from({ length: 101 }, () => ({ entity_type: "token" })) }],
  ])("refuses %s with 400 and records nothing", async (_name, body) => {
    const { gm, base } = await newTable();
    const before = await scrape();
    expectError(await gm.req("POST", url(base), body), 400, "bad_request");
    const after = await scrape();
    const pick = (t: string) => [...samples(t)].filter(([k]) => k.startsWith("vtt_client_conflict"));
    expect(pick(after)).toEqual(pick(before));
  });

  it("refuses malformed JSON and a huge body", async () => {
    const { gm, base } = await newTable();
    expectError(await gm.req("POST", url(base), "{not json"), 400, "bad_request");
    const huge = { conflicts: [{ entity_type: "x".repeat(40_000) }] };
    expectError(await gm.req("POST", url(base), huge), 413, "payload_too_large");
  });

  it("answers 404 to someone who is not a member and 401 without credentials", async () => {
    const { base } = await newTable();
    const other = await newTable();
    expectError(await other.gm.req("POST", url(base), { conflicts: [{ entity_type: "token" }] }), 404, "not_found");
    const res = await SELF.fetch(`${ORIGIN}${url(base)}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ conflicts: [{ entity_type: "token" }] }),
    });
    expect(res.status).toBe(401);
  });
});

describe("docs/alerts.yml", () => {
  it("names only metrics that /metrics exposes", async () => {
    // Give every family samples: a save, a 409 and a client report.
    const { gm, base, sid } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": '"1"' });
    expect((await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 2 }, { "if-match": '"1"' })).status).toBe(409);
    await gm.req("POST", url(base), { conflicts: [{ entity_type: "token" }], resolved: [{ resolution: "use_server", duration_ms: 10 }] });
    let text = "";
    for (let i = 0; i < 50; i++) {
      // Saves are summed in the session's object and written by its alarm: write them now.
      await flushSaveMetrics(sid);
      text = await scrape();
      if (text.includes("vtt_conflicts_total{") && text.includes("vtt_save_duration_milliseconds_count")) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const exposed = exposedNames(text);
    const referenced = new Set(alertRules.match(/\bvtt_[a-z0-9_]+/g) ?? []);
    expect(referenced.size).toBeGreaterThanOrEqual(6);
    for (const name of referenced) expect(exposed, `${name} is not in /metrics`).toContain(name);
  });

  it("covers the plan's alerts: conflicts, change-log lag, save latency and health", () => {
    const alerts = [...alertRules.matchAll(/- alert: (\w+)\n\s+expr: ([\s\S]*?)\n\s+for:/g)].map((m) => ({ name: m[1], expr: m[2] ?? "" }));
    const uses = (metric: string) => alerts.some((a) => a.expr.includes(metric));
    expect(uses("vtt_conflicts_total")).toBe(true);
    expect(uses("vtt_unsynced_backlog")).toBe(true);
    expect(uses("vtt_save_duration_milliseconds_bucket")).toBe(true);
    expect(uses("vtt_health_check_ok")).toBe(true);
  });
});
