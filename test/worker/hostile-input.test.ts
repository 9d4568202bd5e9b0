import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { makeBundle } from "../helpers/bundles";
import { create, newTable, ORIGIN, type Reply, S, type TestUser } from "../helpers/client";
import { concat, deflate, ihdr, makePng, PNG_SIG, pngChunk } from "../helpers/images";
import { shardOf } from "../helpers/shards";
import { multipart } from "../helpers/uploads";

/**
 * Hostile input: every row is a request a client could send that must be answered with the
 * contract's 4xx envelope and change nothing (same seq, same rows, in this session and the other).
 */

interface Table {
  gm: TestUser;
  player: TestUser;
  sid: string;
  base: string;
  scene: any;
  token: any;
  stateId: string;
  sceneFolder: any;
  tokenFolder: any;
  childFolder: any;
  other: { sid: string; base: string; scene: any; token: any };
}

let t: Table;

beforeAll(async () => {
  const { gm, player, sid, base } = await newTable();
  const scene = await create(gm, base, "scenes", { name: "Crypt" });
  const token = await create(gm, base, "tokens", { name: "Hero", scene_id: scene.id, x: 1, y: 2 });
  const activated = await gm.req("POST", `${base}/scenes/${scene.id}/activate`, {});
  if (activated.status !== 200) throw new Error(`activate failed: ${JSON.stringify(activated.body)}`);
  const sceneFolder = await create(gm, base, "folders", { name: "Dungeons", kind: "scene" });
  const tokenFolder = await create(gm, base, "folders", { name: "Monsters", kind: "token" });
  const childFolder = await create(gm, base, "folders", { name: "Level 1", kind: "scene", parent_id: sceneFolder.id });
  const otherTable = await newTable();
  const otherScene = await create(otherTable.gm, otherTable.base, "scenes", { name: "Elsewhere" });
  const otherToken = await create(otherTable.gm, otherTable.base, "tokens", { name: "Stranger", scene_id: otherScene.id });
  t = {
    gm,
    player,
    sid,
    base,
    scene,
    token,
    stateId: activated.body.id,
    sceneFolder,
    tokenFolder,
    childFolder,
    other: { sid: otherTable.sid, base: otherTable.base, scene: otherScene, token: otherToken },
  };
});

type Body = string | Uint8Array | ReadableStream<Uint8Array>;

interface Row {
  name: string;
  as?: "gm" | "player";
  method: string;
  /** Relative paths are under the session's base `{S}`. */
  path: (t: Table) => string;
  body?: (t: Table) => Body | Promise<Body>;
  headers?: Record<string, string> | ((t: Table) => Promise<Record<string, string>>);
  status: number;
  code: string;
  check?: (r: Reply, t: Table) => void | Promise<void>;
}

/** Sends exactly this request with the user's cookie and CSRF token. */
async function send(user: TestUser, method: string, path: string, body?: Body, extra: Record<string, string> = {}): Promise<Reply> {
  const headers: Record<string, string> = { cookie: user.cookie, "x-csrf-token": user.csrf };
  if (body !== undefined) headers["content-type"] = "application/json";
  Object.assign(headers, extra);
  const init: RequestInit & { duplex?: "half" } = { method, headers, body: body ?? null };
  if (body instanceof ReadableStream) init.duplex = "half";
  const res = await SELF.fetch(`${ORIGIN}${path}`, init);
  const text = await res.text();
  let data: any = text;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: the envelope assertion below reports it.
  }
  return { status: res.status, body: data, headers: res.headers };
}

const json = (value: unknown) => () => JSON.stringify(value);
const uuid = () => crypto.randomUUID();

function nested(depth: number, open: string, close: string, inner: string): string {
  return open.repeat(depth) + inner + close.repeat(depth);
}

/** A JSON body of about `bytes` bytes, sent as a stream without Content-Length. */
function streamed(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.byteLength) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(offset, offset + 64 * 1024));
      offset += 64 * 1024;
    },
  });
}

function createOp(entity_type: string, data: Record<string, unknown>, id?: string) {
  return { op_id: uuid(), entity_type, op: "create", ...(id ? { id } : {}), data };
}

const ENTITY_TABLES = ["scenes", "folders", "scene_layers", "tokens", "token_art", "session_state"] as const;

/** Everything a write could touch in one session, as one comparable value. */
async function fingerprint(sid: string) {
  const out: Record<string, unknown> = {};
  const shard = await shardOf(sid);
  for (const table of ENTITY_TABLES) {
    out[table] = await shard
      .prepare(
        `SELECT COUNT(*) AS n, IFNULL(SUM(version), 0) AS versions, IFNULL(MAX(updated_at), '') AS updated FROM ${table} WHERE session_id = ?`,
      )
      .bind(sid)
      .first();
  }
  for (const table of ["change_log", "applied_ops", "activation_timeline", "assets"]) {
    out[table] = (await shard.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE session_id = ?`).bind(sid).first())?.n;
  }
  out.session = await shard.prepare("SELECT seq, log_floor, name, invite_code FROM game_sessions WHERE id = ?").bind(sid).first();
  // Memberships and the session's directory entry live in the directory database.
  out.session_members = (await env.DB.prepare("SELECT COUNT(*) AS n FROM session_members WHERE session_id = ?").bind(sid).first())?.n;
  out.directory = await env.DB.prepare("SELECT shard, state, name, invite_code FROM session_directory WHERE session_id = ?")
    .bind(sid)
    .first();
  return out;
}

async function stateSeq(user: TestUser, base: string): Promise<number> {
  const r = await user.req("GET", `${base}/state`);
  expect(r.status).toBe(200);
  return r.body.seq;
}

async function versionOf(table: string, sid: string, id: string): Promise<number> {
  const row = await (await shardOf(sid))
    .prepare(`SELECT version FROM ${table} WHERE session_id = ? AND id = ?`)
    .bind(sid, id)
    .first<{ version: number }>();
  if (!row) throw new Error(`no ${table} ${id}`);
  return row.version;
}

/** `If-Match` of the entity's current version, so a row fails only for what it is about. */
const ifMatchCurrent = (table: string, id: (t: Table) => string) => async (t: Table) => ({
  "if-match": `"${await versionOf(table, t.sid, id(t))}"`,
});

async function existsInDb(table: string, sid: string, id: string): Promise<boolean> {
  return (await (await shardOf(sid)).prepare(`SELECT 1 FROM ${table} WHERE session_id = ? AND id = ?`).bind(sid, id).first()) !== null;
}

function expectEnvelope(r: Reply, status: number, code: string) {
  expect({ status: r.status, body: r.body }).toEqual({ status, body: expect.anything() });
  expect(r.headers.get("content-type") ?? "").toMatch(/^application\/json/);
  expect(r.body).toBeTypeOf("object");
  expect(Object.keys(r.body)).toEqual(["error"]);
  const { error } = r.body;
  expect(error.code).toBe(code);
  expect(error.message).toEqual(expect.any(String));
  expect(error.message.length).toBeGreaterThan(0);
  expect(Object.keys(error).every((k) => ["code", "message", "details"].includes(k))).toBe(true);
  if ("details" in error) expect(error.details).toEqual(expect.any(Object));
  // Nothing internal leaks into the answer.
  expect(JSON.stringify(r.body)).not.toMatch(/at .*\.(ts|js):\d+|SQLITE|D1_ERROR|TypeError/);
  expect(r.headers.get("x-request-id") ?? "").toMatch(/^[A-Za-z0-9._-]{1,128}$/);
}

const fieldNamed = (field: string) => (r: Reply) => {
  expect(r.body.error.details?.fields).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
};

const TWO_MIB = 2 * 1024 * 1024;
const SIX_MIB = 6 * 1024 * 1024;

const rows: Row[] = [
  // ---- the body is not a JSON object ----------------------------------------------------------
  { name: "malformed JSON", method: "POST", path: () => "scenes", body: () => '{"name": "x",', status: 400, code: "bad_request" },
  {
    name: "JSON with a trailing comma",
    method: "POST",
    path: () => "scenes",
    body: () => '{"name":"x",}',
    status: 400,
    code: "bad_request",
  },
  { name: "a JSON array", method: "POST", path: () => "scenes", body: json([{ name: "x" }]), status: 400, code: "bad_request" },
  { name: "a JSON string", method: "POST", path: () => "scenes", body: json("scene"), status: 400, code: "bad_request" },
  { name: "JSON null", method: "POST", path: () => "scenes", body: () => "null", status: 400, code: "bad_request" },
  { name: "a JSON number", method: "POST", path: () => "scenes", body: () => "42", status: 400, code: "bad_request" },
  {
    name: "valid JSON sent as text/plain",
    method: "POST",
    path: () => "scenes",
    body: json({ name: "x" }),
    headers: { "content-type": "text/plain" },
    status: 400,
    code: "bad_request",
  },
  {
    name: "a merge patch sent as application/json-seq",
    method: "PATCH",
    path: (t) => `scenes/${t.scene.id}`,
    body: json({ name: "Renamed" }),
    headers: async (t) => ({ ...(await ifMatchCurrent("scenes", (x) => x.scene.id)(t)), "content-type": "application/json-seq" }),
    status: 400,
    code: "bad_request",
  },
  {
    name: "a form-urlencoded body",
    method: "POST",
    path: () => "scenes",
    body: () => "name=x",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    status: 400,
    code: "bad_request",
  },
  {
    name: "a body that is not UTF-8",
    method: "POST",
    path: () => "scenes",
    body: () => new Uint8Array([0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    status: 400,
    code: "bad_request",
  },
  {
    name: "arrays nested 10,000 deep",
    method: "POST",
    path: () => "scenes",
    body: () => `{"name":"x","metadata":{"a":${nested(10_000, "[", "]", "")}}}`,
    status: 400,
    code: "bad_request",
  },
  {
    name: "objects nested 40 deep",
    method: "POST",
    path: () => "scenes",
    body: () => `{"name":"x","metadata":${nested(40, '{"a":', "}", "1")}}`,
    status: 400,
    code: "bad_request",
  },
  {
    name: "objects nested 40 deep in a merge patch",
    method: "PATCH",
    path: (t) => `scenes/${t.scene.id}`,
    body: () => `{"metadata":${nested(40, '{"a":', "}", "1")}}`,
    headers: ifMatchCurrent("scenes", (t) => t.scene.id),
    status: 400,
    code: "bad_request",
  },
  // ---- size limits ----------------------------------------------------------------------------
  {
    name: "a 2 MiB scene",
    method: "POST",
    path: () => "scenes",
    body: () => JSON.stringify({ name: "Big", description: "a".repeat(TWO_MIB) }),
    status: 413,
    code: "payload_too_large",
  },
  {
    name: "a 2 MiB scene streamed without Content-Length",
    method: "POST",
    path: () => "scenes",
    body: () => streamed(JSON.stringify({ name: "Big", description: "a".repeat(TWO_MIB) })),
    status: 413,
    code: "payload_too_large",
  },
  {
    name: "a batch over 6 MiB",
    method: "POST",
    path: () => "batch",
    body: () => JSON.stringify({ ops: [createOp("scene", { name: "Big", metadata: { blob: "b".repeat(SIX_MIB) } })] }),
    status: 413,
    code: "payload_too_large",
  },
  {
    name: "a batch of 501 ops",
    method: "POST",
    path: () => "batch",
    body: () => JSON.stringify({ ops: Array.from({ length: 501 }, (_, i) => createOp("scene", { name: `S${i}` })) }),
    status: 413,
    code: "payload_too_large",
  },
  // ---- batch shape ----------------------------------------------------------------------------
  { name: "a batch with no ops", method: "POST", path: () => "batch", body: json({ ops: [] }), status: 400, code: "bad_request" },
  {
    name: "a batch whose ops is not an array",
    method: "POST",
    path: () => "batch",
    body: json({ ops: {} }),
    status: 400,
    code: "bad_request",
  },
  { name: "a batch without ops", method: "POST", path: () => "batch", body: json({}), status: 400, code: "bad_request" },
  {
    name: "an op whose op_id is not a UUID",
    method: "POST",
    path: () => "batch",
    body: () => JSON.stringify({ ops: [{ ...createOp("scene", { name: "x" }), op_id: "op-1" }] }),
    status: 400,
    code: "bad_request",
  },
  {
    name: "an op of an unknown entity_type",
    method: "POST",
    path: () => "batch",
    body: () => JSON.stringify({ ops: [createOp("dragon", { name: "x" })] }),
    status: 400,
    code: "bad_request",
  },
  {
    name: "an unknown op",
    method: "POST",
    path: () => "batch",
    body: (t) => JSON.stringify({ ops: [{ op_id: uuid(), entity_type: "scene", op: "delete", id: t.scene.id, base_version: 1 }] }),
    status: 400,
    code: "bad_request",
  },
  {
    name: "an update op with base_version 0",
    method: "POST",
    path: () => "batch",
    body: (t) =>
      JSON.stringify({
        ops: [{ op_id: uuid(), entity_type: "scene", op: "update", id: t.scene.id, base_version: 0, data: { name: "y" } }],
      }),
    status: 400,
    code: "bad_request",
  },
  {
    name: "an op with an unknown key",
    method: "POST",
    path: () => "batch",
    body: () => JSON.stringify({ ops: [{ ...createOp("scene", { name: "x" }), force: true }] }),
    status: 400,
    code: "bad_request",
  },
  {
    name: "a create op with unknown fields in data",
    method: "POST",
    path: () => "batch",
    body: () => JSON.stringify({ ops: [createOp("scene", { name: "x", colour: "red" })] }),
    status: 400,
    code: "bad_request",
  },
  {
    name: "a batch whose 2nd op is invalid (atomic: the 1st does not apply)",
    method: "POST",
    path: () => "batch",
    body: () =>
      JSON.stringify({ ops: [createOp("scene", { name: "First" }, "atomic-first-scene"), createOp("token", { name: "Bad", width: -1 })] }),
    status: 400,
    code: "bad_request",
    check: async (r, t) => {
      expect(await existsInDb("scenes", t.sid, "atomic-first-scene")).toBe(false);
      expect(r.body.error.details?.fields).toEqual([expect.objectContaining({ field: "width" })]);
    },
  },
  {
    name: "a batch whose 2nd op names a scene of another session (atomic)",
    method: "POST",
    path: () => "batch",
    body: (t) =>
      JSON.stringify({
        ops: [createOp("token", { name: "First" }, "atomic-first-token"), createOp("token", { name: "Spy", scene_id: t.other.scene.id })],
      }),
    status: 400,
    code: "bad_request",
    check: async (_r, t) => {
      expect(await existsInDb("tokens", t.sid, "atomic-first-token")).toBe(false);
    },
  },
  {
    name: "a batch with the same op_id twice",
    method: "POST",
    path: () => "batch",
    body: () => {
      const op_id = uuid();
      return JSON.stringify({
        ops: [
          { op_id, entity_type: "scene", op: "create", id: "dup-op-a", data: { name: "A" } },
          { op_id, entity_type: "scene", op: "create", id: "dup-op-b", data: { name: "B" } },
        ],
      });
    },
    status: 400,
    code: "bad_request",
    check: async (_r, t) => {
      expect(await existsInDb("scenes", t.sid, "dup-op-a")).toBe(false);
      expect(await existsInDb("scenes", t.sid, "dup-op-b")).toBe(false);
    },
  },
  {
    name: "a batch creating an id that exists",
    method: "POST",
    path: () => "batch",
    body: (t) => JSON.stringify({ ops: [createOp("scene", { name: "Clone" }, t.scene.id)] }),
    status: 409,
    code: "conflict",
    check: (r, t) => {
      expect(r.body.error.details.current).toMatchObject({ id: t.scene.id, name: "Crypt" });
    },
  },
  {
    name: "a batch archiving the session state",
    method: "POST",
    path: () => "batch",
    body: (t) => JSON.stringify({ ops: [{ op_id: uuid(), entity_type: "session_state", op: "archive", id: t.stateId }] }),
    status: 400,
    code: "bad_request",
  },
  {
    name: "a batch archiving an id that does not exist",
    method: "POST",
    path: () => "batch",
    body: () => JSON.stringify({ ops: [{ op_id: uuid(), entity_type: "scene", op: "archive", id: "no-such-scene" }] }),
    status: 404,
    code: "not_found",
  },
  {
    name: "a player sending a batch",
    as: "player",
    method: "POST",
    path: () => "batch",
    body: () => JSON.stringify({ ops: [createOp("scene", { name: "Mine" })] }),
    status: 403,
    code: "forbidden",
  },
  {
    name: "a player renaming a visible token in a batch",
    as: "player",
    method: "POST",
    path: () => "batch",
    body: async (t) =>
      JSON.stringify({
        ops: [
          {
            op_id: uuid(),
            entity_type: "token",
            op: "update",
            id: t.token.id,
            base_version: await versionOf("tokens", t.sid, t.token.id),
            data: { name: "Mine" },
          },
        ],
      }),
    status: 403,
    code: "forbidden",
  },
  // ---- entity fields --------------------------------------------------------------------------
  {
    name: "a scene with an unknown field",
    method: "POST",
    path: () => "scenes",
    body: json({ name: "x", colour: "red" }),
    status: 400,
    code: "bad_request",
    check: fieldNamed("colour"),
  },
  {
    name: "a scene named 123",
    method: "POST",
    path: () => "scenes",
    body: json({ name: 123 }),
    status: 400,
    code: "bad_request",
    check: fieldNamed("name"),
  },
  {
    name: "a scene without a name",
    method: "POST",
    path: () => "scenes",
    body: json({}),
    status: 400,
    code: "bad_request",
    check: fieldNamed("name"),
  },
  {
    name: "a scene named with only spaces",
    method: "POST",
    path: () => "scenes",
    body: json({ name: "   " }),
    status: 400,
    code: "bad_request",
    check: fieldNamed("name"),
  },
  {
    name: "a name of 10,000 characters",
    method: "POST",
    path: () => "scenes",
    body: json({ name: "n".repeat(10_000) }),
    status: 400,
    code: "bad_request",
    check: fieldNamed("name"),
  },
  {
    name: "a name given twice, the last one a number",
    method: "POST",
    path: () => "scenes",
    body: () => '{"name":"ok","name":123}',
    status: 400,
    code: "bad_request",
  },
  {
    name: "a token with x as a string",
    method: "POST",
    path: () => "tokens",
    body: json({ name: "x", x: "5" }),
    status: 400,
    code: "bad_request",
    check: fieldNamed("x"),
  },
  {
    name: 'a token with hidden: "yes"',
    method: "POST",
    path: () => "tokens",
    body: json({ name: "x", hidden: "yes" }),
    status: 400,
    code: "bad_request",
    check: fieldNamed("hidden"),
  },
  {
    name: "a token with x = 1e400 (Infinity once parsed)",
    method: "POST",
    path: () => "tokens",
    body: () => '{"name":"x","x":1e400}',
    status: 400,
    code: "bad_request",
    check: fieldNamed("x"),
  },
  {
    name: "a token with y = -1e400",
    method: "POST",
    path: () => "tokens",
    body: () => '{"name":"x","y":-1e400}',
    status: 400,
    code: "bad_request",
    check: fieldNamed("y"),
  },
  {
    name: "a token with stamina = 1e400 (a nullable field)",
    method: "POST",
    path: () => "tokens",
    body: () => '{"name":"x","stamina":1e400}',
    status: 400,
    code: "bad_request",
    check: fieldNamed("stamina"),
  },
  {
    name: "a number that overflows inside free metadata",
    method: "POST",
    path: () => "scenes",
    body: () => '{"name":"x","metadata":{"hp":[1, 2, 1e999]}}',
    status: 400,
    code: "bad_request",
  },
  {
    name: "a number of 400 digits",
    method: "PATCH",
    path: (t) => `tokens/${t.token.id}`,
    body: () => `{"stats":{"gold":${"9".repeat(400)}}}`,
    headers: ifMatchCurrent("tokens", (t) => t.token.id),
    status: 400,
    code: "bad_request",
  },
  {
    name: "a token with x = 1e12",
    method: "POST",
    path: () => "tokens",
    body: json({ name: "x", x: 1e12 }),
    status: 400,
    code: "bad_request",
    check: fieldNamed("x"),
  },
  {
    name: "a token with a negative width",
    method: "POST",
    path: () => "tokens",
    body: json({ name: "x", width: -1 }),
    status: 400,
    code: "bad_request",
    check: fieldNamed("width"),
  },
  {
    name: "a token with 51 owners",
    method: "POST",
    path: () => "tokens",
    body: json({ name: "x", owner_user_ids: Array.from({ length: 51 }, (_, i) => `u${i}`) }),
    status: 400,
    code: "bad_request",
  },
  {
    name: "a scene with accent_color red",
    method: "POST",
    path: () => "scenes",
    body: json({ name: "x", accent_color: "red" }),
    status: 400,
    code: "bad_request",
    check: fieldNamed("accent_color"),
  },
  {
    name: "a layer of an unknown layer_type",
    method: "POST",
    path: () => "layers",
    body: (t) => JSON.stringify({ scene_id: t.scene.id, layer_type: "lava" }),
    status: 400,
    code: "bad_request",
    check: fieldNamed("layer_type"),
  },
  {
    name: "a metadata key of 201 characters",
    method: "POST",
    path: () => "scenes",
    body: json({ name: "x", metadata: { ["k".repeat(201)]: 1 } }),
    status: 400,
    code: "bad_request",
  },
  {
    name: "a create with an id holding a slash",
    method: "POST",
    path: () => "scenes",
    body: json({ id: "a/b", name: "x" }),
    status: 400,
    code: "bad_request",
    check: fieldNamed("id"),
  },
  {
    name: "a create with an id of 65 characters",
    method: "POST",
    path: () => "scenes",
    body: json({ id: "i".repeat(65), name: "x" }),
    status: 400,
    code: "bad_request",
    check: fieldNamed("id"),
  },
  {
    name: "a create with an SQL-looking id",
    method: "POST",
    path: () => "scenes",
    body: json({ id: "x'; DROP TABLE scenes; --", name: "x" }),
    status: 400,
    code: "bad_request",
  },
  {
    name: "creating a second session state",
    method: "POST",
    path: () => "session-state",
    body: json({ flags: {} }),
    status: 400,
    code: "bad_request",
  },
  // ---- prototype pollution --------------------------------------------------------------------
  {
    name: 'a body with "__proto__"',
    method: "POST",
    path: () => "scenes",
    body: () => '{"name":"Proto","__proto__":{"isAdmin":true,"name":"Polluted"}}',
    status: 400,
    code: "bad_request",
    check: (r) => {
      fieldNamed("__proto__")(r);
      expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    },
  },
  {
    name: 'a "__proto__" key spelled with \\u escapes',
    method: "POST",
    path: () => "scenes",
    body: () => '{"name":"Proto","\\u005f\\u005fproto__":{"isAdmin":true}}',
    status: 400,
    code: "bad_request",
    check: fieldNamed("__proto__"),
  },
  {
    name: 'a "__proto__" key inside free metadata',
    method: "POST",
    path: () => "scenes",
    body: () => '{"name":"Proto","metadata":{"notes":{"__proto__":{"polluted":true}}}}',
    status: 400,
    code: "bad_request",
    check: fieldNamed("__proto__"),
  },
  {
    name: 'a body with "constructor": {"prototype": ...}',
    method: "POST",
    path: () => "scenes",
    body: () => '{"name":"Proto","constructor":{"prototype":{"isAdmin":true}}}',
    status: 400,
    code: "bad_request",
  },
  {
    name: 'a merge patch with "__proto__"',
    method: "PATCH",
    path: (t) => `scenes/${t.scene.id}`,
    body: () => '{"__proto__":{"version":99}}',
    headers: ifMatchCurrent("scenes", (t) => t.scene.id),
    status: 400,
    code: "bad_request",
  },
  {
    name: 'a batch op whose data holds "__proto__"',
    method: "POST",
    path: () => "batch",
    body: () => `{"ops":[{"op_id":"${uuid()}","entity_type":"scene","op":"create","data":{"name":"P","__proto__":{"x":1}}}]}`,
    status: 400,
    code: "bad_request",
  },
  // ---- patches --------------------------------------------------------------------------------
  {
    name: "a merge patch that sets name to null",
    method: "PATCH",
    path: (t) => `scenes/${t.scene.id}`,
    body: json({ name: null }),
    headers: ifMatchCurrent("scenes", (t) => t.scene.id),
    status: 400,
    code: "bad_request",
    check: fieldNamed("name"),
  },
  {
    name: "a merge patch that is an array",
    method: "PATCH",
    path: (t) => `scenes/${t.scene.id}`,
    body: json([{ name: "y" }]),
    headers: ifMatchCurrent("scenes", (t) => t.scene.id),
    status: 400,
    code: "bad_request",
  },
  ...(["id", "version", "created_at", "updated_at", "updated_by", "archived_at"] as const).map(
    (field): Row => ({
      name: `a patch of the read-only field ${field}`,
      method: "PATCH",
      path: (t) => `scenes/${t.scene.id}`,
      body: json({ [field]: field === "version" ? 99 : "x" }),
      headers: ifMatchCurrent("scenes", (t) => t.scene.id),
      status: 400,
      code: "bad_request",
      check: fieldNamed(field),
    }),
  ),
  {
    name: "a patch of a token's created_by",
    method: "PATCH",
    path: (t) => `tokens/${t.token.id}`,
    body: (t) => JSON.stringify({ created_by: t.player.id }),
    headers: ifMatchCurrent("tokens", (t) => t.token.id),
    status: 400,
    code: "bad_request",
    check: fieldNamed("created_by"),
  },
  {
    name: "a patch of the session state's gm_user_ids",
    method: "PATCH",
    path: () => "session-state",
    body: (t) => JSON.stringify({ gm_user_ids: [t.gm.id, t.player.id] }),
    headers: ifMatchCurrent("session_state", (t) => t.stateId),
    status: 400,
    code: "bad_request",
    check: fieldNamed("gm_user_ids"),
  },
  {
    name: 'If-Match: "abc"',
    method: "PATCH",
    path: (t) => `scenes/${t.scene.id}`,
    body: json({ name: "y" }),
    headers: { "if-match": "abc" },
    status: 400,
    code: "bad_request",
  },
  {
    name: "If-Match with a list of versions",
    method: "PATCH",
    path: (t) => `scenes/${t.scene.id}`,
    body: json({ name: "y" }),
    headers: { "if-match": '"1", "2"' },
    status: 400,
    code: "bad_request",
  },
  {
    name: "If-Match of a future version",
    method: "PATCH",
    path: (t) => `scenes/${t.scene.id}`,
    body: json({ name: "y" }),
    headers: { "if-match": '"99"' },
    status: 409,
    code: "conflict",
    check: async (r, t) => {
      expect(r.body.error.details.current).toMatchObject({ id: t.scene.id, version: await versionOf("scenes", t.sid, t.scene.id) });
    },
  },
  {
    name: "a PATCH without If-Match",
    method: "PATCH",
    path: (t) => `scenes/${t.scene.id}`,
    body: json({ name: "y" }),
    status: 428,
    code: "precondition_required",
  },
  {
    name: 'a DELETE with If-Match: "abc"',
    method: "DELETE",
    path: (t) => `scenes/${t.scene.id}`,
    headers: { "if-match": "abc" },
    status: 400,
    code: "bad_request",
  },
  {
    name: "a DELETE with a stale If-Match",
    method: "DELETE",
    path: (t) => `tokens/${t.token.id}`,
    headers: { "if-match": '"7"' },
    status: 409,
    code: "conflict",
  },
  // ---- references -----------------------------------------------------------------------------
  {
    name: "a token on a scene of another session",
    method: "POST",
    path: () => "tokens",
    body: (t) => JSON.stringify({ name: "Spy", scene_id: t.other.scene.id }),
    status: 400,
    code: "bad_request",
    check: fieldNamed("scene_id"),
  },
  {
    name: "a token on a scene that does not exist",
    method: "POST",
    path: () => "tokens",
    body: json({ name: "Ghost", scene_id: "no-such-scene" }),
    status: 400,
    code: "bad_request",
    check: fieldNamed("scene_id"),
  },
  {
    name: "a PATCH of a token of another session",
    method: "PATCH",
    path: (t) => `tokens/${t.other.token.id}`,
    body: json({ x: 3 }),
    headers: async (t) => ({ "if-match": `"${await versionOf("tokens", t.other.sid, t.other.token.id)}"` }),
    status: 404,
    code: "not_found",
  },
  {
    name: "a GET of a scene of another session",
    method: "GET",
    path: (t) => `scenes/${t.other.scene.id}`,
    status: 404,
    code: "not_found",
  },
  {
    name: "a DELETE of a token of another session",
    method: "DELETE",
    path: (t) => `tokens/${t.other.token.id}`,
    status: 404,
    code: "not_found",
  },
  {
    name: "a token in a folder of kind scene",
    method: "POST",
    path: () => "tokens",
    body: (t) => JSON.stringify({ name: "Misfiled", folder_id: t.sceneFolder.id }),
    status: 400,
    code: "bad_request",
    check: fieldNamed("folder_id"),
  },
  {
    name: "a scene in a folder of kind token",
    method: "POST",
    path: () => "scenes",
    body: (t) => JSON.stringify({ name: "Misfiled", folder_id: t.tokenFolder.id }),
    status: 400,
    code: "bad_request",
    check: fieldNamed("folder_id"),
  },
  {
    name: "a folder made its own parent",
    method: "PATCH",
    path: (t) => `folders/${t.sceneFolder.id}`,
    body: (t) => JSON.stringify({ parent_id: t.sceneFolder.id }),
    headers: ifMatchCurrent("folders", (t) => t.sceneFolder.id),
    status: 400,
    code: "bad_request",
    check: fieldNamed("parent_id"),
  },
  {
    name: "a folder moved inside its own child",
    method: "PATCH",
    path: (t) => `folders/${t.sceneFolder.id}`,
    body: (t) => JSON.stringify({ parent_id: t.childFolder.id }),
    headers: ifMatchCurrent("folders", (t) => t.sceneFolder.id),
    status: 400,
    code: "bad_request",
    check: fieldNamed("parent_id"),
  },
  {
    name: "token art of an image never uploaded",
    method: "POST",
    path: () => "token-art",
    body: (t) => JSON.stringify({ token_id: t.token.id, image_asset: "a".repeat(64) }),
    status: 400,
    code: "bad_request",
    check: fieldNamed("image_asset"),
  },
  {
    name: "token art with a negative crop scale",
    method: "POST",
    path: () => "token-art",
    body: (t) =>
      JSON.stringify({
        token_id: t.token.id,
        image_asset: "a".repeat(64),
        crop: { scale: -1, translate_x: 0, translate_y: 0, stage_size: 512, base_scale: 1 },
      }),
    status: 400,
    code: "bad_request",
  },
  {
    name: "a scene whose map_asset is not a SHA-256",
    method: "POST",
    path: () => "scenes",
    body: json({ name: "x", map_asset: "../../etc/passwd" }),
    status: 400,
    code: "bad_request",
    check: fieldNamed("map_asset"),
  },
  {
    name: "a scene whose map_asset was never uploaded",
    method: "POST",
    path: () => "scenes",
    body: json({ name: "x", map_asset: "b".repeat(64) }),
    status: 400,
    code: "bad_request",
    check: fieldNamed("map_asset"),
  },
  {
    name: "activating a scene that does not exist",
    method: "POST",
    path: () => "scenes/no-such-scene/activate",
    body: json({}),
    status: 400,
    code: "bad_request",
    check: fieldNamed("active_scene_id"),
  },
  {
    name: "activating a scene of another session",
    method: "POST",
    path: (t) => `scenes/${t.other.scene.id}/activate`,
    body: json({}),
    status: 400,
    code: "bad_request",
  },
  {
    name: "a session state naming a scene of another session",
    method: "PATCH",
    path: () => "session-state",
    body: (t) => JSON.stringify({ active_scene_id: t.other.scene.id }),
    headers: ifMatchCurrent("session_state", (t) => t.stateId),
    status: 400,
    code: "bad_request",
    check: fieldNamed("active_scene_id"),
  },
  // ---- paths and queries ----------------------------------------------------------------------
  {
    name: "a PATCH of an id of 65 characters",
    method: "PATCH",
    path: () => `tokens/${"i".repeat(65)}`,
    body: json({ x: 1 }),
    headers: { "if-match": '"1"' },
    status: 404,
    code: "not_found",
  },
  { name: "a GET of an id holding an encoded slash", method: "GET", path: () => "tokens/a%2F..%2Fb", status: 404, code: "not_found" },
  {
    name: "restoring an id that does not exist",
    method: "POST",
    path: () => "scenes/no-such-scene/restore",
    status: 404,
    code: "not_found",
  },
  {
    name: "changes with since=-1",
    method: "GET",
    path: () => "changes?since=-1",
    status: 400,
    code: "bad_request",
    check: fieldNamed("since"),
  },
  {
    name: "changes with since=abc",
    method: "GET",
    path: () => "changes?since=abc",
    status: 400,
    code: "bad_request",
    check: fieldNamed("since"),
  },
  { name: "changes without since", method: "GET", path: () => "changes", status: 400, code: "bad_request", check: fieldNamed("since") },
  { name: "changes with since=1e3", method: "GET", path: () => "changes?since=1e3", status: 400, code: "bad_request" },
  { name: "changes after a seq from the future", method: "GET", path: () => "changes?since=999999", status: 410, code: "gone" },
  { name: "a list with ?archived=maybe", method: "GET", path: () => "scenes?archived=maybe", status: 400, code: "bad_request" },
  { name: "an unknown route under the API", method: "GET", path: () => "/api/nothing-here", status: 404, code: "not_found" },
  {
    name: "an unknown resource of a session",
    method: "POST",
    path: () => "dragons",
    body: json({ name: "x" }),
    status: 404,
    code: "not_found",
  },
  {
    name: "a PUT of an entity",
    method: "PUT",
    path: (t) => `scenes/${t.scene.id}`,
    body: json({ name: "x" }),
    status: 404,
    code: "not_found",
  },
  {
    name: "a PUT of a member with a 65-character id",
    method: "PUT",
    path: (t) => `${S(t.sid)}/members/${"u".repeat(65)}`,
    body: json({ role: "gm" }),
    status: 404,
    code: "not_found",
  },
  { name: "the WebSocket endpoint without an upgrade", method: "GET", path: () => "ws", status: 400, code: "bad_request" },
  {
    name: "a WebSocket upgrade from another origin",
    method: "GET",
    path: () => "ws",
    headers: { upgrade: "websocket", origin: "https://evil.example" },
    status: 403,
    code: "forbidden",
  },
  {
    name: "an ack of event ids that are not integers",
    method: "POST",
    path: () => "ack",
    body: json({ event_ids: ["1; DROP TABLE"] }),
    status: 400,
    code: "bad_request",
  },
  {
    name: "malformed JSON with a hostile X-Request-Id",
    method: "POST",
    path: () => "scenes",
    body: () => "{",
    headers: { "x-request-id": "<script>alert(1)</script>" },
    status: 400,
    code: "bad_request",
    check: (r) => {
      expect(r.headers.get("x-request-id")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    },
  },
  // Accounts: API tokens and password changes (test/worker/auth-tokens.test.ts has the happy paths).
  {
    name: "a token create with malformed JSON",
    method: "POST",
    path: () => "/api/auth/tokens",
    body: () => "{",
    status: 400,
    code: "bad_request",
    check: noTokens,
  },
  {
    name: "a token that expired before it was made",
    method: "POST",
    path: () => "/api/auth/tokens",
    body: json({ name: "old", expires_at: "1999-12-31T23:59:59Z" }),
    status: 400,
    code: "bad_request",
    check: noTokens,
  },
  {
    name: "a token with a negative lifetime",
    method: "POST",
    path: () => "/api/auth/tokens",
    body: json({ name: "neg", expires_in_days: -1 }),
    status: 400,
    code: "bad_request",
    check: noTokens,
  },
  {
    name: "a token whose name is an object",
    method: "POST",
    path: () => "/api/auth/tokens",
    body: json({ name: { $ne: null } }),
    status: 400,
    code: "bad_request",
    check: noTokens,
  },
  {
    name: "a token create of 1 MiB",
    method: "POST",
    path: () => "/api/auth/tokens",
    body: json({ name: "x".repeat(1024 * 1024) }),
    status: 413,
    code: "payload_too_large",
    check: noTokens,
  },
  {
    name: "a revoke of an unknown token id",
    method: "DELETE",
    path: () => "/api/auth/tokens/00000000-0000-0000-0000-000000000000",
    status: 404,
    code: "not_found",
  },
  { name: "a revoke of a dot-dot token id", method: "DELETE", path: () => "/api/auth/tokens/%2e%2e", status: 404, code: "not_found" },
  {
    name: "a password change with malformed JSON",
    method: "POST",
    path: () => "/api/auth/password",
    body: () => "{",
    status: 400,
    code: "bad_request",
  },
  {
    name: "a password change with an array for the new password",
    method: "POST",
    path: () => "/api/auth/password",
    body: json({ current_password: "correct horse battery", new_password: ["a", "b"] }),
    status: 400,
    code: "bad_request",
  },
  {
    name: "a password change of 1 MiB",
    method: "POST",
    path: () => "/api/auth/password",
    body: json({ current_password: "correct horse battery", new_password: "p".repeat(1024 * 1024) }),
    status: 413,
    code: "payload_too_large",
  },
  { name: "a backup taken by a player", as: "player", method: "POST", path: () => "backups", status: 403, code: "forbidden" },
  {
    name: "a restore to a time that is not one",
    method: "POST",
    path: () => "restore",
    body: json({ at: "yesterday" }),
    status: 400,
    code: "bad_request",
  },
  {
    name: "an integrity check run by a player",
    as: "player",
    method: "POST",
    path: () => "integrity/check",
    status: 403,
    code: "forbidden",
  },
  // ---- scene imports and PNG uploads ----------------------------------------------------------
  {
    name: "an import bundle whose map PNG declares 30000×30000 (the bundle says 1×1)",
    method: "POST",
    path: () => "import",
    body: async () =>
      makeBundle({
        map: { bytes: concat(PNG_SIG, ihdr(30_000, 30_000), pngChunk("IDAT", await deflate(new Uint8Array(64))), pngChunk("IEND")) },
      }),
    headers: { "content-type": "application/zip" },
    status: 413,
    code: "payload_too_large",
    check: (r) => expect(r.body.error.details.reason).toBe("dimensions"),
  },
  {
    name: "an import bundle calling a PNG asset image/jpeg",
    method: "POST",
    path: () => "import",
    body: async () => makeBundle({ map: { bytes: await makePng(8, 8), mime: "image/jpeg" } }),
    headers: { "content-type": "application/zip" },
    status: 415,
    code: "unsupported_media_type",
    check: (r) => expect(r.body.error.details.reason).toBe("declared_type_mismatch"),
  },
  {
    name: "an import bundle naming an asset by a hash its bytes do not have",
    method: "POST",
    path: () => "import",
    body: async () => makeBundle({ map: { bytes: await makePng(8, 8), hash: "0f".repeat(32) } }),
    headers: { "content-type": "application/zip" },
    status: 400,
    code: "bad_request",
  },
  {
    name: "an import bundle of more entities than IMPORT_MAX_ENTITIES",
    method: "POST",
    path: () => "import",
    body: () => makeBundle({ edit: (b) => (b.tokens = Array.from({ length: 10_000 }, () => ({}))) }),
    headers: { "content-type": "application/zip" },
    status: 413,
    code: "payload_too_large",
    check: (r) => expect(r.body.error.details.reason).toBe("entities"),
  },
  {
    name: "an import declaring a body over IMPORT_MAX_BYTES",
    method: "POST",
    path: () => "import",
    body: () => new Uint8Array(16),
    headers: { "content-type": "application/zip", "content-length": String(49 * 1024 * 1024) },
    status: 413,
    code: "payload_too_large",
  },
  {
    name: "an import with an Idempotency-Key that is not a UUID",
    method: "POST",
    path: () => "import",
    body: () => makeBundle(),
    headers: { "content-type": "application/zip", "idempotency-key": "again-and-again" },
    status: 400,
    code: "bad_request",
  },
  {
    name: "an import named with 201 characters",
    method: "POST",
    path: () => `import?name=${"n".repeat(201)}`,
    body: () => makeBundle(),
    headers: { "content-type": "application/zip" },
    status: 400,
    code: "bad_request",
  },
  {
    name: "a player importing a bundle",
    as: "player",
    method: "POST",
    path: () => "import",
    body: () => makeBundle(),
    headers: { "content-type": "application/zip" },
    status: 403,
    code: "forbidden",
  },
  {
    name: "an upload of a PNG map whose IDAT chunk fails its CRC",
    method: "POST",
    path: () => "assets",
    body: async () => {
      const png = await makePng(8, 8);
      png[png.length - 13] = (png[png.length - 13] ?? 0) ^ 0xff; // the last IDAT's CRC
      const { body } = multipart([{ name: "file", filename: "map.png", type: "image/png", data: png }], "hostile-crc");
      return body;
    },
    headers: { "content-type": "multipart/form-data; boundary=hostile-crc" },
    status: 415,
    code: "unsupported_media_type",
    check: (r) => expect(r.body.error.details).toMatchObject({ reason: "corrupt", chunk: "IDAT" }),
  },
];

/** A row's check: the GM still has no API token (the table's users never make one). */
async function noTokens(_r: Reply, t: Table) {
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM api_tokens WHERE user_id = ?").bind(t.gm.id).first<{ n: number }>();
  expect(row?.n).toBe(0);
}

describe("hostile input", () => {
  it("has at least 35 rows", () => {
    expect(rows.length).toBeGreaterThanOrEqual(35);
  });

  it.each(rows)("answers $status $code to $name and changes nothing", async (row) => {
    const user = row.as === "player" ? t.player : t.gm;
    const path = row.path(t);
    const url = path.startsWith("/") ? path : `${t.base}/${path}`;
    const seqBefore = await stateSeq(t.gm, t.base);
    const before = await fingerprint(t.sid);
    const otherBefore = await fingerprint(t.other.sid);

    const headers = typeof row.headers === "function" ? await row.headers(t) : row.headers;
    const r = await send(user, row.method, url, await row.body?.(t), headers);

    expectEnvelope(r, row.status, row.code);
    await row.check?.(r, t);
    expect(await stateSeq(t.gm, t.base)).toBe(seqBefore);
    expect(await fingerprint(t.sid)).toEqual(before);
    expect(await fingerprint(t.other.sid)).toEqual(otherBefore);
  });
});

describe("not hostile", () => {
  it("accepts unicode and emoji names with 201 and stores them intact", async () => {
    const { gm, base, sid } = await newTable();
    const name = "Höhle des Drachen 🐉 — 龍の洞窟 🧙‍♀️";
    const r = await gm.req("POST", `${base}/scenes`, { name, description: "Ünïcödé ✓ \u{1F600}" });
    expect(r.status).toBe(201);
    expect(r.body.name).toBe(name);
    const row = await (await shardOf(sid))
      .prepare("SELECT name FROM scenes WHERE session_id = ? AND id = ?")
      .bind(sid, r.body.id)
      .first<{ name: string }>();
    expect(row?.name).toBe(name);
    expect((await gm.req("GET", `${base}/scenes/${r.body.id}`)).body.name).toBe(name);
  });

  it("echoes a sane X-Request-Id on success and on error", async () => {
    const ok = await send(t.gm, "GET", `${t.base}/state`, undefined, { "x-request-id": "req-abc_123.4" });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("x-request-id")).toBe("req-abc_123.4");
    const bad = await send(t.gm, "POST", `${t.base}/scenes`, "{", { "x-request-id": "req-err-1" });
    expect(bad.status).toBe(400);
    expect(bad.headers.get("x-request-id")).toBe("req-err-1");
  });

  it.each([
    ["markup", "<img src=x onerror=alert(1)>"],
    ["spaces", "a b c"],
    ["over 128 characters", "r".repeat(129)],
    ["a quote", 'abc"def'],
  ])("replaces an X-Request-Id holding %s with one of its own", async (_what, hostile) => {
    const r = await send(t.gm, "GET", `${t.base}/state`, undefined, { "x-request-id": hostile });
    expect(r.status).toBe(200);
    const echoed = r.headers.get("x-request-id") ?? "";
    expect(echoed).not.toBe(hostile);
    expect(echoed).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it("ignores an empty body on a POST that needs none", async () => {
    const { gm, base } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "Empty body" });
    const r = await send(gm, "POST", `${base}/scenes/${scene.id}/activate`, undefined, {});
    expect(r.status).toBe(200);
    expect(r.body.active_scene_id).toBe(scene.id);
  });
});
