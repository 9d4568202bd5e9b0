// End-to-end tests of the `vtt` CLI against a running local server (started by scripts/e2e.mjs).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { baseUrl, skipReason, uniqueUsername } from "./harness.mjs";

const cli = fileURLToPath(new URL("../cli/vtt.mjs", import.meta.url));

function vtt(...args) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { ...process.env, VTT_TOKEN: "" }, timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function api(token, method, path, body) {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

describe("the vtt CLI", { skip: skipReason }, () => {
  let dir;
  let token;
  let sid;
  let sceneId;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "vtt-cli-"));
    const reg = await fetch(`${baseUrl}/api/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: uniqueUsername("cli"), password: "a-long-password" }),
    });
    const { csrf_token } = await reg.json();
    const cookie = reg.headers.getSetCookie()[0].split(";")[0];
    const t = await fetch(`${baseUrl}/api/auth/tokens`, {
      method: "POST",
      headers: { cookie, "x-csrf-token": csrf_token, "content-type": "application/json" },
      body: JSON.stringify({ name: "cli test" }),
    });
    token = (await t.json()).token;
    sid = (await api(token, "POST", "/api/vtt/sessions", { name: "CLI table" })).body.session.id;
    const scene = await api(token, "POST", `/api/vtt/sessions/${sid}/scenes`, { name: "Crypt", metadata: { mood: "grim" } });
    sceneId = scene.body.id;
    await api(token, "POST", `/api/vtt/sessions/${sid}/tokens`, { name: "Hero", scene_id: sceneId, x: 2 });
    await api(token, "POST", `/api/vtt/sessions/${sid}/layers`, { scene_id: sceneId, layer_type: "drawings", payload: { lines: [] } });
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const common = () => ["--url", baseUrl, "--token", token, "--session", sid];

  test("exports a scene, verifies the file and imports it as a new scene", async () => {
    const out = path.join(dir, "crypt.zip");
    const exported = vtt("export", ...common(), "--scene", sceneId, "--out", out);
    assert.equal(exported.code, 0, exported.err);
    assert.match(exported.out, /exported to/);
    const verified = vtt("verify", "--file", out);
    assert.equal(verified.code, 0, verified.err);
    assert.match(verified.out, /ok — scene "Crypt", 1 layers, 1 tokens/);
    const imported = vtt("import", ...common(), "--file", out);
    assert.equal(imported.code, 0, imported.err);
    const scenes = await api(token, "GET", `/api/vtt/sessions/${sid}/scenes`);
    assert.deepEqual(
      scenes.body.items.map((s) => s.name),
      ["Crypt", "Crypt (imported)"],
    );
  });

  test("refuses a corrupt bundle with exit code 5, offline and on import", async () => {
    const good = await readFile(path.join(dir, "crypt.zip"));
    const bad = Buffer.from(good);
    // Flip bytes inside the first stored file: the zip still opens, the checksums no longer match.
    for (let i = 60; i < 90; i++) bad[i] ^= 0xff;
    const file = path.join(dir, "corrupt.zip");
    await writeFile(file, bad);
    const verified = vtt("verify", "--file", file);
    assert.equal(verified.code, 5, verified.out);
    assert.match(verified.err, /not a valid bundle/);
    const before = (await api(token, "GET", `/api/vtt/sessions/${sid}/scenes`)).body.items.length;
    const imported = vtt("import", ...common(), "--file", file);
    assert.equal(imported.code, 5, imported.out);
    assert.match(imported.err, /400/);
    assert.equal((await api(token, "GET", `/api/vtt/sessions/${sid}/scenes`)).body.items.length, before);
  });

  test("backs up a session and restores it into a new one", async () => {
    const backedUp = vtt("backup", ...common());
    assert.equal(backedUp.code, 0, backedUp.err);
    assert.match(backedUp.out, /backup of seq \d+/);
    const restored = vtt("restore", ...common(), "--at", new Date().toISOString());
    assert.equal(restored.code, 0, restored.err);
    const newId = /restored into session (\S+)/.exec(restored.out)?.[1];
    assert.ok(newId);
    const state = await api(token, "GET", `/api/vtt/sessions/${newId}/state`);
    assert.equal(state.status, 200);
    assert.deepEqual(state.body.scenes.map((s) => s.name).sort(), ["Crypt", "Crypt (imported)"]);
  });

  test("exits 4 when no backup covers the time", () => {
    const r = vtt("restore", ...common(), "--at", "2001-01-01T00:00:00Z");
    assert.equal(r.code, 4, r.err);
  });

  test("exits 3 with a bad token", () => {
    const r = vtt("backup", "--url", baseUrl, "--token", "vtt_not-a-real-token-at-all", "--session", sid);
    assert.equal(r.code, 3, r.err);
    assert.match(r.err, /401/);
  });

  test("exits 2 on a usage error and 1 when the server cannot be reached", () => {
    assert.equal(vtt("export", "--url", baseUrl, "--token", token).code, 2);
    assert.equal(vtt("frobnicate").code, 2);
    const unreachable = vtt("backup", "--url", "http://127.0.0.1:9", "--token", token, "--session", sid);
    assert.equal(unreachable.code, 1, unreachable.err);
    assert.match(unreachable.err, /cannot reach/);
  });
});
