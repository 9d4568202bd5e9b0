import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { newTable, ORIGIN, S, type TestUser } from "../helpers/client";

/**
 * Bad input to the newer routes (tokens, password, invite, members, conflict metrics, import
 * query, initiative Idempotency-Key, clients): each answers a 4xx error envelope, never a 500,
 * and changes nothing. Rows hostile-input.test.ts already holds are not repeated here.
 */

let gm: TestUser;
let player: TestUser;
let sid: string;
let otherSid: string;
let inviteBefore: string;

beforeAll(async () => {
  const table = await newTable();
  gm = table.gm;
  player = table.player;
  sid = table.sid;
  inviteBefore = table.inviteCode;
  otherSid = (await newTable()).sid;
});

interface Row {
  name: string;
  as?: "gm" | "player";
  method: string;
  path: () => string;
  body?: string;
  headers?: Record<string, string>;
  /** Leave the CSRF token out. */
  noCsrf?: boolean;
}

const big = (field: string) => JSON.stringify({ [field]: "x".repeat(1024 * 1024) });
const longId = "a".repeat(5000);
const rows: Row[] = [];

function bodies(name: string, method: string, path: () => string, values: Record<string, unknown>[]) {
  rows.push({ name: `${name}: malformed JSON`, method, path, body: "{" });
  rows.push({ name: `${name}: JSON null`, method, path, body: "null" });
  rows.push({ name: `${name}: a JSON array`, method, path, body: "[]" });
  rows.push({ name: `${name}: a JSON number`, method, path, body: "42" });
  rows.push({ name: `${name}: no CSRF token`, method, path, body: "{}", noCsrf: true });
  for (const v of values) rows.push({ name: `${name}: ${JSON.stringify(v).slice(0, 60)}`, method, path, body: JSON.stringify(v) });
}

// API tokens
bodies("token create", "POST", () => "/api/auth/tokens", [
  { name: ["a"] },
  { name: 5 },
  { name: null },
  { name: "ok", expires_in_days: "7" },
  { name: "ok", expires_in_days: 1e308 },
  { name: "ok", expires_in_days: 1.5 },
  { name: "ok", expires_at: 123 },
  { name: "ok", expires_at: "not a date" },
  { name: "ok", expires_at: "+275760-09-13T00:00:00.001Z" },
  { name: "" },
]);
rows.push({ name: "token list with an odd query", method: "GET", path: () => "/api/auth/tokens?limit=-1&cursor=%00" });
for (const id of ["not-a-uuid", longId, "%2e%2e%2f%2e%2e", "%00", "..%2Fsessions"]) {
  rows.push({ name: `token revoke ${id.slice(0, 20)}`, method: "DELETE", path: () => `/api/auth/tokens/${id}` });
}
rows.push({ name: "token revoke without CSRF", method: "DELETE", path: () => `/api/auth/tokens/${crypto.randomUUID()}`, noCsrf: true });

// Password change
bodies("password change", "POST", () => "/api/auth/password", [
  { current_password: 5, new_password: "correct horse battery 2" },
  { current_password: null, new_password: null },
  { current_password: { a: 1 }, new_password: "correct horse battery 2" },
  { current_password: "wrong password here", new_password: "correct horse battery 2" },
  { current_password: "correct horse battery", new_password: "" },
  { current_password: "x".repeat(3000), new_password: "correct horse battery 2" },
]);
rows.push({
  name: "password change: oversize current password",
  method: "POST",
  path: () => "/api/auth/password",
  body: big("current_password"),
});

// Invite
rows.push({ name: "invite by a player", as: "player", method: "POST", path: () => `${S(sid)}/invite` });
rows.push({ name: "invite of a foreign session", method: "POST", path: () => `${S(otherSid)}/invite` });
rows.push({ name: "invite without CSRF", method: "POST", path: () => `${S(sid)}/invite`, noCsrf: true });
for (const s of ["not-a-uuid", longId, "%2e%2e", "%00"]) {
  rows.push({ name: `invite of session ${s.slice(0, 20)}`, method: "POST", path: () => `${S(s)}/invite` });
}

// Member removal
for (const u of ["not-a-uuid", longId, "%2e%2e", "%2e%2e%2f%2e%2e", "%00", "00000000-0000-0000-0000-000000000000"]) {
  rows.push({ name: `member removal of ${u.slice(0, 20)}`, method: "DELETE", path: () => `${S(sid)}/members/${u}` });
}
rows.push({ name: "member removal in a foreign session", method: "DELETE", path: () => `${S(otherSid)}/members/${player.id}` });
rows.push({ name: "member removal by a player", as: "player", method: "DELETE", path: () => `${S(sid)}/members/${gm.id}` });
rows.push({ name: "member removal without CSRF", method: "DELETE", path: () => `${S(sid)}/members/${player.id}`, noCsrf: true });
rows.push({ name: "removal of the last GM (self)", method: "DELETE", path: () => `${S(sid)}/members/${gm.id}` });

// Conflict metrics
bodies("conflict report", "POST", () => `${S(sid)}/metrics/conflicts`, [
  {},
  { conflicts: "scenes" },
  { conflicts: [null] },
  { conflicts: [{ entity_type: 5 }] },
  { conflicts: [{ entity_type: "x".repeat(65) }] },
  { resolved: [{ resolution: "mine", duration_ms: "5" }] },
  { resolved: [{ resolution: ["theirs"], duration_ms: 1 }] },
  { resolved: [{ resolution: "theirs", duration_ms: -1 }] },
  { conflicts: Array.from({ length: 5000 }, () => ({ entity_type: "tokens" })) },
  { conflicts: [{ entity_type: "__proto__" }], extra: true },
]);
rows.push({ name: "conflict report: oversize", method: "POST", path: () => `${S(sid)}/metrics/conflicts`, body: big("conflicts") });
rows.push({
  name: "conflict report: foreign session",
  method: "POST",
  path: () => `${S(otherSid)}/metrics/conflicts`,
  body: JSON.stringify({ conflicts: [{ entity_type: "tokens" }] }),
});

// Import ?name=
for (const q of ["name=", "name=%00", "name=%E0%A4%A", "name=a&name=b", `name=${"%F0%9F%98%80".repeat(150)}`, "name=%2e%2e%2f"]) {
  rows.push({
    name: `import ?${q.slice(0, 30)}`,
    method: "POST",
    path: () => `${S(sid)}/import?${q}`,
    body: "not a zip",
    headers: { "content-type": "application/zip" },
  });
}
rows.push({
  name: "import in a foreign session",
  method: "POST",
  path: () => `${S(otherSid)}/import`,
  body: "x",
  headers: { "content-type": "application/zip" },
});
rows.push({
  name: "import without CSRF",
  method: "POST",
  path: () => `${S(sid)}/import`,
  body: "x",
  noCsrf: true,
  headers: { "content-type": "application/zip" },
});

// Initiative next with odd Idempotency-Key
const next = () => `${S(sid)}/modules/initiative/encounters/${crypto.randomUUID()}/next`;
for (const key of ["", " ", "not-a-uuid", "x".repeat(4000), "00000000-0000-0000-0000-00000000000g", "%2e%2e"]) {
  rows.push({
    name: `initiative next, Idempotency-Key ${JSON.stringify(key.slice(0, 20))}`,
    method: "POST",
    path: next,
    body: JSON.stringify({ base_version: 1 }),
    headers: { "idempotency-key": key },
  });
}
rows.push({ name: "initiative next with malformed JSON", method: "POST", path: next, body: "{" });
rows.push({ name: "initiative next with base_version a string", method: "POST", path: next, body: JSON.stringify({ base_version: "1" }) });
rows.push({
  name: "initiative next of encounter %2e%2e",
  method: "POST",
  path: () => `${S(sid)}/modules/initiative/encounters/%2e%2e/next`,
  body: "{}",
});
rows.push({
  name: "initiative next of a long encounter id",
  method: "POST",
  path: () => `${S(sid)}/modules/initiative/encounters/${longId}/next`,
  body: "{}",
});

// Clients
rows.push({ name: "clients by a player", as: "player", method: "GET", path: () => `${S(sid)}/clients` });
rows.push({ name: "clients of a foreign session", method: "GET", path: () => `${S(otherSid)}/clients` });
for (const s of ["not-a-uuid", longId, "%2e%2e"])
  rows.push({ name: `clients of session ${s.slice(0, 20)}`, method: "GET", path: () => `${S(s)}/clients` });

describe("newer routes refuse bad input with a 4xx envelope", () => {
  it.each(rows.map((r) => [r.name, r] as const))("%s", async (_name, row) => {
    const user = row.as === "player" ? player : gm;
    const headers: Record<string, string> = { cookie: user.cookie };
    if (!row.noCsrf) headers["x-csrf-token"] = user.csrf;
    if (row.body !== undefined) headers["content-type"] = "application/json";
    Object.assign(headers, row.headers ?? {});
    const res = await SELF.fetch(`${ORIGIN}${row.path()}`, { method: row.method, headers, body: row.body ?? null });
    const text = await res.text();
    if (row.method === "GET" && res.status === 200) return; // a read with ignored junk is fine
    expect(res.status, text.slice(0, 300)).toBeGreaterThanOrEqual(400);
    expect(res.status, text.slice(0, 300)).toBeLessThan(500);
    const body = JSON.parse(text);
    expect(typeof body.error?.code).toBe("string");
    expect(typeof body.error?.message).toBe("string");
  });

  it("left the session, its members and invite code as they were", async () => {
    const r = await gm.req("GET", S(sid));
    expect(r.status).toBe(200);
    expect(r.body.invite_code).toBe(inviteBefore);
    expect(r.body.members.map((m: { user_id: string }) => m.user_id).sort()).toEqual([gm.id, player.id].sort());
    const tokens = await gm.req("GET", "/api/auth/tokens");
    expect(tokens.status).toBe(200);
    expect(tokens.body.tokens).toEqual([]);
  });
});
