/**
 * The import benchmark: a maximal scene import (IMPORT_MAX_ENTITIES entities, 10,000 by default:
 * the scene, a layer and 9,998 tokens) committed in chunks through the session's write queue,
 * and what it does to the other writers of the session: a co-GM PATCHes a token of another scene
 * back to back for as long as the import runs. The baseline is the same PATCH loop, same users,
 * same session, same run, with no import running, just before it.
 *
 * Figures: PATCH latency (p50 and max) without and during the import, the import's own time and
 * its chunks. The target is the one of the issue: a PATCH issued during a maximal import answers
 * within a second (its worst case is waiting for one chunk, IMPORT_CHUNK_OPS ops, to commit).
 */
import { createHash, randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { strToU8, zipSync } from "fflate";
import { ApiClient } from "./lib/client.mjs";
import { fmtMs, fmtRatio, ratio, summarize } from "./lib/stats.mjs";

export const name = "import";

const MAX_ENTITIES = 10_000;
const BASELINE_PATCHES = 60;
const TARGET_MS = 1000;

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

/** A bundle of `entities` entities: the scene, one layer, the rest tokens (no assets). */
export function bigBundle(entities, sceneName = "Bench import") {
  const meta = {
    version: 1,
    created_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
    updated_by: "u",
    archived_at: null,
  };
  const tokens = Array.from({ length: entities - 2 }, (_, i) => ({
    id: `t${i}`,
    ...meta,
    scene_id: "s",
    name: `Goblin ${i}`,
    x: i % 100,
    y: Math.floor(i / 100),
    stats: { hp: 7 },
    created_by: "u",
  }));
  const bundle = {
    format: "vtt-scene/1",
    exported_at: meta.created_at,
    scene: { id: "s", ...meta, name: sceneName, map_asset: null },
    layers: [{ id: "l", ...meta, scene_id: "s", layer_type: "drawings", payload: {} }],
    tokens,
    token_art: [],
    assets: [],
    modules: {},
  };
  const scene = strToU8(JSON.stringify(bundle));
  const manifest = {
    format: "vtt-scene/1",
    created_at: meta.created_at,
    files: [{ path: "scene.json", sha256: sha256(scene), size: scene.byteLength }],
  };
  return zipSync({ "scene.json": scene, "manifest.json": strToU8(JSON.stringify(manifest)) }, { level: 6 });
}

/** POST {S}/import with the zip as body (the JSON client sends JSON only). */
async function postZip(baseUrl, token, sid, zip) {
  const res = await fetch(`${baseUrl}${ApiClient.sessionPath(sid)}/import`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/zip", "idempotency-key": randomUUID() },
    body: zip,
    signal: AbortSignal.timeout(300_000),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`POST /import → ${res.status} ${text.slice(0, 500)}`);
  return { data: JSON.parse(text) };
}

async function coGm(gm, baseUrl, sid, inviteCode) {
  const co = await ApiClient.registerWithToken(baseUrl);
  await co.request("POST", "/api/vtt/sessions/join", { body: { invite_code: inviteCode }, expect: 200 });
  await gm.request("PUT", `${ApiClient.sessionPath(sid)}/members/${co.user.id}`, { body: { role: "gm" }, expect: 200 });
  return co;
}

/** PATCHes the token until `until()` is true (or `count` PATCHes); returns the latencies. */
async function patchLoop(co, sid, token, { count = Number.POSITIVE_INFINITY, until = () => false } = {}) {
  const latencies = [];
  for (let i = 0; i < count && !until(); i++) {
    const r = await co.patchEntity(sid, "token", token.id, token.version, { x: (token.x + 1) % 1000 });
    latencies.push(r.ms);
    Object.assign(token, r.data);
  }
  return latencies;
}

async function maximalImport({ client, baseUrl, quick, log }) {
  const entities = quick ? 2000 : MAX_ENTITIES;
  const created = await client.request("POST", "/api/vtt/sessions", { body: { name: "bench import" }, expect: 201 });
  const sid = created.data.session.id;
  const co = await coGm(client, baseUrl, sid, created.data.invite_code);
  const scene = await client.createEntity(sid, "scene", { name: "Elsewhere" });
  const token = await client.createEntity(sid, "token", { name: "Scout", scene_id: scene.id });
  const zip = bigBundle(entities);
  log(`[bench]   bundle: ${entities} entities, ${zip.byteLength} bytes zipped`);

  // Warm-up, then the baseline: the same PATCHes with nothing else going on.
  await patchLoop(co, sid, token, { count: 10 });
  const baseline = summarize(await patchLoop(co, sid, token, { count: BASELINE_PATCHES }));

  let done = false;
  const t0 = performance.now();
  const importing = postZip(baseUrl, client.token, sid, zip).finally(() => {
    done = true;
  });
  const during = await patchLoop(co, sid, token, { until: () => done });
  const result = await importing;
  const importMs = performance.now() - t0;
  const duringStats = summarize(during);
  const chunks = result.data?.chunks;
  return {
    rows: [
      {
        measure: `co-GM PATCH p50 during a ${entities}-entity import (${duringStats.n} PATCHes)`,
        ours: fmtMs(duringStats.p50),
        baseline: fmtMs(baseline.p50),
        slowdown: fmtRatio(ratio(duringStats.p50, baseline.p50)),
        target: `< ${fmtMs(TARGET_MS)}`,
        verdict: duringStats.p50 < TARGET_MS ? "pass" : "OVER",
      },
      {
        measure: "co-GM PATCH max during the import",
        ours: fmtMs(duringStats.max),
        baseline: fmtMs(baseline.max),
        slowdown: fmtRatio(ratio(duringStats.max, baseline.max)),
        target: `< ${fmtMs(TARGET_MS)}`,
        verdict: duringStats.max < TARGET_MS ? "pass" : "OVER",
      },
      {
        measure: `the import itself (${chunks} chunks)`,
        ours: fmtMs(importMs),
        baseline: "—",
        slowdown: "—",
        target: "—",
        verdict: "—",
      },
    ],
    details: [
      `PATCH without import: p50 ${fmtMs(baseline.p50)}, p90 ${fmtMs(baseline.p90)}, max ${fmtMs(baseline.max)} (${baseline.n} PATCHes)`,
      `PATCH during import: p50 ${fmtMs(duringStats.p50)}, p90 ${fmtMs(duringStats.p90)}, p99 ${fmtMs(duringStats.p99)}, max ${fmtMs(duringStats.max)} (${duringStats.n} PATCHes)`,
      `import: ${entities} entities in ${chunks} chunks (one trip through the session's write queue each) in ${fmtMs(importMs)}, ${fmtMs(importMs / Math.max(1, chunks))} a chunk on average; answered seq ${result.data?.seq}`,
    ],
    failures: [],
    data: { entities, zip_bytes: zip.byteLength, baseline, during: duringStats, import_ms: importMs, chunks },
  };
}

export const scenarios = [{ id: "import-max", title: "A co-GM's PATCH during a maximal scene import", run: maximalImport }];
