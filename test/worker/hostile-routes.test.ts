import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { create, newTable, ORIGIN, S, type TestUser } from "../helpers/client";
import { shardOf } from "../helpers/shards";

/**
 * Bad input to the routes beyond the basic CRUD (history, revert, backups, restore, import,
 * integrity, locks, settings, acks, assets, metrics): each answered with the expected 4xx in the
 * contract's envelope, and the session's seq unchanged.
 */
let gm: TestUser;
let player: TestUser;
let base: string;
let sceneId: string;
let tokenId: string;

beforeAll(async () => {
  const t = await newTable();
  gm = t.gm;
  player = t.player;
  base = t.base;
  sceneId = (await create(gm, base, "scenes", { name: "A" })).id;
  tokenId = (await create(gm, base, "tokens", { name: "T", scene_id: sceneId })).id;
});

type Row = [string, () => Promise<{ status: number; body: any }>, number, string];

const raw = async (path: string, init: RequestInit) => {
  const res = await SELF.fetch(`${ORIGIN}${path}`, {
    ...init,
    headers: { cookie: gm.cookie, "x-csrf-token": gm.csrf, ...(init.headers as object) },
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
};

const rows: Row[] = [
  ["history of an unknown type", () => gm.req("GET", `${base}/monsters/x/history`), 404, "not_found"],
  ["history with a hostile id", () => gm.req("GET", `${base}/tokens/..%2F..%2Fetc/history`), 404, "not_found"],
  ["revert without a body", () => gm.req("POST", `${base}/tokens/${tokenId}/revert`), 400, "bad_request"],
  ["revert to version 0", () => gm.req("POST", `${base}/tokens/${tokenId}/revert`, { version: 0, base_version: 1 }), 400, "bad_request"],
  [
    "revert to a huge version",
    () => gm.req("POST", `${base}/tokens/${tokenId}/revert`, { version: 1e15, base_version: 1 }),
    404,
    "not_found",
  ],
  [
    "revert with extra fields",
    () => gm.req("POST", `${base}/tokens/${tokenId}/revert`, { version: 1, base_version: 1, force: true }),
    400,
    "bad_request",
  ],
  ["restore at a non-time", () => gm.req("POST", `${base}/restore`, { at: "yesterday" }), 400, "bad_request"],
  ["restore at a number", () => gm.req("POST", `${base}/restore`, { at: 1700000000 }), 400, "bad_request"],
  ["restore with no backup", () => gm.req("POST", `${base}/restore`, {}), 404, "not_found"],
  [
    "import of an empty body",
    () => raw(`${base}/import`, { method: "POST", headers: { "content-type": "application/zip" } }),
    400,
    "bad_request",
  ],
  ["import of JSON", () => gm.req("POST", `${base}/import`, { scene: {} }), 400, "bad_request"],
  ["import by a player", () => player.req("POST", `${base}/import`, "x"), 403, "forbidden"],
  ["export of a hostile id", () => gm.req("GET", `${base}/scenes/%00/export`), 404, "not_found"],
  ["integrity by a player", () => player.req("GET", `${base}/integrity`), 403, "forbidden"],
  ["a lock without scene_id", () => gm.req("POST", `${base}/locks`, {}), 400, "bad_request"],
  ["a lock on an unknown scene", () => gm.req("POST", `${base}/locks`, { scene_id: "nope" }), 404, "not_found"],
  ["a lock on a hostile id", () => gm.req("POST", `${base}/locks`, { scene_id: "../x" }), 400, "bad_request"],
  ["a lock by a player", () => player.req("POST", `${base}/locks`, { scene_id: sceneId }), 403, "forbidden"],
  ["settings with a poll interval out of range", () => gm.req("PATCH", `${base}/settings`, { poll_interval_ms: 10 }), 400, "bad_request"],
  ["settings with the wrong type", () => gm.req("PATCH", `${base}/settings`, { realtime: "no" }), 400, "bad_request"],
  ["settings with unknown keys", () => gm.req("PATCH", `${base}/settings`, { admin: true }), 400, "bad_request"],
  ["settings by a player", () => player.req("PATCH", `${base}/settings`, { realtime: false }), 403, "forbidden"],
  ["an ack of nothing", () => gm.req("POST", `${base}/ack`, { event_ids: [] }), 400, "bad_request"],
  ["an ack of negative ids", () => gm.req("POST", `${base}/ack`, { event_ids: [-1] }), 400, "bad_request"],
  ["an asset by a malformed hash", () => gm.req("GET", `${base}/assets/not-a-hash`), 404, "not_found"],
  ["an unknown asset", () => gm.req("GET", `${base}/assets/${"0".repeat(64)}`), 404, "not_found"],
  ["an asset file without a signature", () => gm.req("GET", `/api/vtt/assets/${"0".repeat(64)}`), 403, "forbidden"],
  ["metrics without a token", () => gm.req("GET", "/api/vtt/metrics"), 401, "unauthorized"],
  [
    "members with an unknown role",
    () => gm.req("PUT", `${S(base.split("/").at(-1) as string)}/members/${player.id}`, { role: "god" }),
    400,
    "bad_request",
  ],
];

async function seq(): Promise<number> {
  const sid = base.split("/").at(-1) ?? "";
  const row = await (await shardOf(sid)).prepare("SELECT seq FROM game_sessions WHERE id = ?").bind(sid).first<{ seq: number }>();
  return row?.seq ?? -1;
}

describe("bad input to the other routes", () => {
  it.each(rows)("answers %s with the right 4xx and changes nothing", async (_what, send, status, code) => {
    const before = await seq();
    const r = await send();
    expect([r.status, r.body?.error?.code]).toEqual([status, code]);
    expect(typeof r.body.error.message).toBe("string");
    expect(await seq()).toBe(before);
  });
});
