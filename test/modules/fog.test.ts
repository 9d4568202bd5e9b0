import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { chunkId, fogIdFor, MAX_CHUNK_INDEX } from "../../modules/fog/domain";
import { type FogMode, type FogShape, fogOps, type StoredChunk } from "../../modules/fog/editing";
import { CELLS_PER_CHUNK, decodeChunk, encodeChunk } from "../../modules/fog/mask";
import { create, newTable, ORIGIN, type Reply, type TestUser } from "../helpers/client";
import { runCron } from "../helpers/jobs";
import { TestSocket } from "../helpers/socket";

function expectError(r: Reply, status: number, code: string) {
  expect(r.status).toBe(status);
  expect(r.body?.error?.code).toBe(code);
}

const EMPTY = encodeChunk(new Uint8Array(CELLS_PER_CHUNK));
const FULL = encodeChunk(new Uint8Array(CELLS_PER_CHUNK).fill(1));

type Fog = { id: string; scene_id: string; cell_px: number; width_px: number; height_px: number; version: number };

/**
 * A table with an active scene ("Crypt") and another one ("Vault"), each with a 4096 px fog, and
 * on each a revealed square that covers chunks (0,0), (1,0), (0,1) and (1,1).
 */
async function fogTable() {
  const t = await newTable();
  const crypt = await create(t.gm, t.base, "scenes", { name: "Crypt" });
  const vault = await create(t.gm, t.base, "scenes", { name: "Vault" });
  await t.gm.req("POST", `${t.base}/scenes/${crypt.id}/activate`, {});
  const fog: Fog = await create(t.gm, t.base, "fog", { id: fogIdFor(crypt.id), scene_id: crypt.id });
  const vaultFog: Fog = await create(t.gm, t.base, "fog", { scene_id: vault.id });
  const square: FogShape = { kind: "rect", from: { x: 0, y: 0 }, to: { x: 1023, y: 1023 } };
  const chunks = await stroke(t.gm, t.base, fog, [], square, "reveal");
  const vaultChunks = await stroke(t.gm, t.base, vaultFog, [], square, "reveal");
  return { ...t, crypt, vault, fog, vaultFog, chunks, vaultChunks };
}

/** Sends the ops of one shape as one batch; returns the chunks the batch wrote. */
async function stroke(gm: TestUser, base: string, fog: Fog, stored: StoredChunk[], shape: FogShape, mode: FogMode): Promise<any[]> {
  const ops = fogOps(fog, stored, shape, mode);
  const versions = new Map(stored.map((c: any) => [c.id, c.version]));
  const r = await gm.req("POST", `${base}/batch`, {
    ops: ops.map((op) => ({
      op_id: crypto.randomUUID(),
      entity_type: "fog_chunk",
      op: op.op,
      id: op.id,
      data: op.data,
      ...(op.op === "update" ? { base_version: versions.get(op.id) } : {}),
    })),
  });
  if (r.status !== 200) throw new Error(`batch failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.results.map((x: any) => x.entity);
}

/** A brush dab on the boundary of chunks (0,0) and (1,0): it changes exactly those two. */
const TWO_CHUNK_DAB: FogShape = { kind: "brush", points: [{ x: 512, y: 100 }], radius: 40 };

describe("fog schema", () => {
  it("creates a fog with its defaults and a chunk with client-chosen id", async () => {
    const t = await fogTable();
    expect(t.fog).toMatchObject({
      id: fogIdFor(t.crypt.id),
      scene_id: t.crypt.id,
      enabled: true,
      cell_px: 8,
      width_px: 4096,
      height_px: 4096,
    });
    expect(t.chunks.map((c) => c.id)).toEqual([
      chunkId(t.fog.id, 0, 0),
      chunkId(t.fog.id, 1, 0),
      chunkId(t.fog.id, 0, 1),
      chunkId(t.fog.id, 1, 1),
    ]);
    const stored = await t.gm.req("GET", `${t.base}/fog-chunks/${chunkId(t.fog.id, 1, 1)}`);
    expect(stored.status).toBe(200);
    expect(stored.body).toMatchObject({ fog_id: t.fog.id, scene_id: t.crypt.id, cx: 1, cy: 1, bits: FULL, version: 1 });
  });

  it.each([
    ["bits that are not an encoded chunk", { bits: "not a chunk" }],
    ["bits whose runs do not add up", { bits: `r${btoa(String.fromCharCode(0xff, 0x1f))}` }],
    ["bits over the size limit", { bits: `b${"A".repeat(800)}` }],
    ["a chunk index past the largest mask", { cx: MAX_CHUNK_INDEX + 1 }],
    ["a negative chunk index", { cy: -1 }],
    ["a fractional chunk index", { cx: 1.5 }],
    ["a field the schema does not know", { color: "red" }],
  ])("answers 400 to a chunk with %s", async (_name, change) => {
    const t = await fogTable();
    const r = await t.gm.req("POST", `${t.base}/fog-chunks`, {
      scene_id: t.crypt.id,
      fog_id: t.fog.id,
      cx: 5,
      cy: 5,
      bits: EMPTY,
      ...change,
    });
    expectError(r, 400, "bad_request");
    const list = await t.gm.req("GET", `${t.base}/fog-chunks?scene_id=${t.crypt.id}`);
    expect(list.body.items).toHaveLength(4);
  });

  it("answers 400 to a chunk naming an unknown fog or scene, and to a patch that breaks the schema", async () => {
    const t = await fogTable();
    const chunk = { scene_id: t.crypt.id, fog_id: t.fog.id, cx: 5, cy: 5, bits: EMPTY };
    expectError(await t.gm.req("POST", `${t.base}/fog-chunks`, { ...chunk, fog_id: "no-such-fog" }), 400, "bad_request");
    expectError(await t.gm.req("POST", `${t.base}/fog-chunks`, { ...chunk, scene_id: "no-such-scene" }), 400, "bad_request");
    expectError(await t.gm.req("POST", `${t.base}/fog`, { scene_id: "no-such-scene" }), 400, "bad_request");
    expectError(await t.gm.req("POST", `${t.base}/fog`, { scene_id: t.crypt.id, cell_px: 1 }), 400, "bad_request");
    const patch = await t.gm.req("PATCH", `${t.base}/fog-chunks/${t.chunks[0].id}`, { bits: "rAAAA" }, { "if-match": '"1"' });
    expectError(patch, 400, "bad_request");
    expect((await t.gm.req("GET", `${t.base}/fog-chunks/${t.chunks[0].id}`)).body.bits).toBe(FULL);
  });

  it("answers 403 to a player writing fog or chunks, even of the active scene", async () => {
    const t = await fogTable();
    const chunk = { scene_id: t.crypt.id, fog_id: t.fog.id, cx: 5, cy: 5, bits: FULL };
    expectError(await t.player.req("POST", `${t.base}/fog-chunks`, chunk), 403, "forbidden");
    expectError(await t.player.req("POST", `${t.base}/fog`, { scene_id: t.vault.id }), 403, "forbidden");
    const patch = await t.player.req("PATCH", `${t.base}/fog-chunks/${t.chunks[0].id}`, { bits: EMPTY }, { "if-match": '"1"' });
    expectError(patch, 403, "forbidden");
    const off = await t.player.req("PATCH", `${t.base}/fog/${t.fog.id}`, { enabled: false }, { "if-match": '"1"' });
    expectError(off, 403, "forbidden");
    expectError(await t.player.req("DELETE", `${t.base}/fog-chunks/${t.chunks[0].id}`), 403, "forbidden");
    const batch = await t.player.req("POST", `${t.base}/batch`, {
      ops: [{ op_id: crypto.randomUUID(), entity_type: "fog_chunk", op: "create", data: chunk }],
    });
    expectError(batch, 403, "forbidden");
    expect((await t.gm.req("GET", `${t.base}/fog-chunks/${t.chunks[0].id}`)).body.version).toBe(1);
  });
});

describe("who sees fog", () => {
  it("holds only the active scene's fog and chunks in the state, for GMs and players alike", async () => {
    const t = await fogTable();
    for (const user of [t.gm, t.player]) {
      const state = (await user.req("GET", `${t.base}/state`)).body;
      expect(state.modules.fog.map((f: any) => f.id)).toEqual([t.fog.id]);
      expect(state.modules.fog_chunk.map((c: any) => c.id).sort()).toEqual(t.chunks.map((c) => c.id).sort());
      expect(JSON.stringify(state)).not.toContain(t.vaultFog.id);
    }
  });

  it("lists another scene's chunks to a GM with ?scene_id=, and nothing of them to a player", async () => {
    const t = await fogTable();
    const gm = await t.gm.req("GET", `${t.base}/fog-chunks?scene_id=${t.vault.id}`);
    expect(gm.status).toBe(200);
    expect(gm.body.items.map((c: any) => c.id).sort()).toEqual(t.vaultChunks.map((c) => c.id).sort());
    expect((await t.gm.req("GET", `${t.base}/fog?scene_id=${t.vault.id}`)).body.items.map((f: any) => f.id)).toEqual([t.vaultFog.id]);
    const player = await t.player.req("GET", `${t.base}/fog-chunks?scene_id=${t.vault.id}`);
    expect(player.status).toBe(200);
    expect(player.body.items).toEqual([]);
    expect((await t.player.req("GET", `${t.base}/fog?scene_id=${t.vault.id}`)).body.items).toEqual([]);
    const own = await t.player.req("GET", `${t.base}/fog-chunks?scene_id=${t.crypt.id}`);
    expect(own.body.items).toHaveLength(4);
    const all = await t.player.req("GET", `${t.base}/fog-chunks`);
    expect(all.body.items.map((c: any) => c.fog_id)).toEqual([t.fog.id, t.fog.id, t.fog.id, t.fog.id]);
  });

  it("answers a player's GET of another scene's chunk or fog with 404, and of the active scene's with 200", async () => {
    const t = await fogTable();
    expectError(await t.player.req("GET", `${t.base}/fog-chunks/${t.vaultChunks[0].id}`), 404, "not_found");
    expectError(await t.player.req("GET", `${t.base}/fog/${t.vaultFog.id}`), 404, "not_found");
    expect((await t.gm.req("GET", `${t.base}/fog-chunks/${t.vaultChunks[0].id}`)).status).toBe(200);
    const own = await t.player.req("GET", `${t.base}/fog-chunks/${t.chunks[0].id}`);
    expect(own.status).toBe(200);
    expect(own.body.bits).toBe(FULL);
  });

  it("never sends a player another scene's chunk changes, in changes or on the socket", async () => {
    const t = await fogTable();
    const since = (await t.player.req("GET", `${t.base}/state`)).body.seq;
    const gmSocket = await TestSocket.open(t.gm, t.base);
    const playerSocket = await TestSocket.open(t.player, t.base);
    const hidden = await stroke(t.gm, t.base, t.vaultFog, t.vaultChunks, { kind: "all" }, "reveal");
    const shown = await stroke(t.gm, t.base, t.fog, t.chunks, TWO_CHUNK_DAB, "hide");
    for (const c of shown) await playerSocket.next((m) => m.type === "change" && m.entity_id === c.id, "the active scene's chunk");
    for (const c of hidden) await gmSocket.next((m) => m.type === "change" && m.entity_id === c.id, "the other scene's chunk");
    const raw = playerSocket.raw.join("\n");
    for (const c of hidden) expect(raw).not.toContain(c.id);
    expect(raw).not.toContain(t.vaultFog.id);
    const changes = (await t.player.req("GET", `${t.base}/changes?since=${since}`)).body.changes;
    expect(changes.map((c: any) => c.entity_id).sort()).toEqual(shown.map((c) => c.id).sort());
    gmSocket.close();
    playerSocket.close();
  });

  it("hides a scene's fog from players once another scene is active", async () => {
    const t = await fogTable();
    await t.gm.req("POST", `${t.base}/scenes/${t.vault.id}/activate`, {});
    const state = (await t.player.req("GET", `${t.base}/state`)).body;
    expect(state.modules.fog.map((f: any) => f.id)).toEqual([t.vaultFog.id]);
    expect(state.modules.fog_chunk.map((c: any) => c.fog_id)).toEqual([t.vaultFog.id, t.vaultFog.id, t.vaultFog.id, t.vaultFog.id]);
    expectError(await t.player.req("GET", `${t.base}/fog-chunks/${t.chunks[0].id}`), 404, "not_found");
  });
});

describe("fog deltas", () => {
  it("turns a stroke over two chunks into two change rows and two messages holding only those chunks", async () => {
    const t = await fogTable();
    const since = (await t.gm.req("GET", `${t.base}/state`)).body.seq;
    const playerSocket = await TestSocket.open(t.player, t.base);
    const ops = fogOps(t.fog, t.chunks, TWO_CHUNK_DAB, "hide");
    expect(ops.map((op) => op.id)).toEqual([t.chunks[0].id, t.chunks[1].id]);
    const written = await stroke(t.gm, t.base, t.fog, t.chunks, TWO_CHUNK_DAB, "hide");
    expect(written.map((c) => c.version)).toEqual([2, 2]);

    const changes = (await t.gm.req("GET", `${t.base}/changes?since=${since}`)).body.changes;
    expect(changes).toHaveLength(2);
    expect(changes.map((c: any) => [c.entity_type, c.entity_id, c.version, c.op])).toEqual([
      ["fog_chunk", t.chunks[0].id, 2, "update"],
      ["fog_chunk", t.chunks[1].id, 2, "update"],
    ]);
    for (const [i, change] of changes.entries()) expect(change.entity.bits).toBe(ops[i]?.data.bits);

    const first = await playerSocket.next((m) => m.type === "change" && m.seq > since);
    const second = await playerSocket.next((m) => m.type === "change" && m.seq > since);
    expect([first.entity_id, second.entity_id]).toEqual([t.chunks[0].id, t.chunks[1].id]);
    expect(first.entity.bits).toBe(ops[0]?.data.bits);
    expect(second.entity.bits).toBe(ops[1]?.data.bits);
    // Each message carries its chunk alone: no other chunk's id or bits ride along.
    const texts = playerSocket.raw.filter((text) => text.includes('"change"'));
    expect(texts).toHaveLength(2);
    for (const text of texts) {
      const others = t.chunks.filter((c) => !text.includes(c.id));
      expect(others).toHaveLength(3);
      expect(text.length).toBeLessThan(1200);
    }
    playerSocket.close();
  });

  it("keeps the history of a chunk and reverts it to an earlier version", async () => {
    const t = await fogTable();
    const [changed] = await stroke(t.gm, t.base, t.fog, t.chunks, { kind: "rect", from: { x: 0, y: 0 }, to: { x: 300, y: 300 } }, "hide");
    expect(changed.id).toBe(t.chunks[0].id);
    expect(decodeChunk(changed.bits)?.reduce((a: number, b: number) => a + b, 0)).toBe(CELLS_PER_CHUNK - 38 * 38);
    const history = await t.gm.req("GET", `${t.base}/fog-chunks/${changed.id}/history`);
    expect(history.status).toBe(200);
    expect(history.body.items.map((i: any) => [i.version, i.op])).toEqual([
      [2, "update"],
      [1, "create"],
    ]);
    const reverted = await t.gm.req("POST", `${t.base}/fog-chunks/${changed.id}/revert`, { version: 1, base_version: 2 });
    expect(reverted.status).toBe(200);
    expect(reverted.body).toMatchObject({ version: 3, bits: FULL, cx: 0, cy: 0, fog_id: t.fog.id });
    expectError(await t.player.req("GET", `${t.base}/fog-chunks/${changed.id}/history`), 403, "forbidden");
  });

  it("answers 409 with the server's chunk to a stroke based on a stale version, applying none of its chunks", async () => {
    const t = await fogTable();
    await stroke(t.gm, t.base, t.fog, t.chunks, TWO_CHUNK_DAB, "hide");
    const stale = fogOps(t.fog, t.chunks, { kind: "rect", from: { x: 0, y: 0 }, to: { x: 1023, y: 40 } }, "hide");
    expect(stale).toHaveLength(2);
    const r = await t.gm.req("POST", `${t.base}/batch`, {
      ops: stale.map((op) => ({
        op_id: crypto.randomUUID(),
        entity_type: "fog_chunk",
        op: op.op,
        id: op.id,
        data: op.data,
        base_version: 1,
      })),
    });
    expectError(r, 409, "conflict");
    expect(r.body.error.details.current).toMatchObject({ id: t.chunks[0].id, version: 2 });
    const list = (await t.gm.req("GET", `${t.base}/fog-chunks?scene_id=${t.crypt.id}`)).body.items;
    const versions = Object.fromEntries(list.map((c: any) => [`${c.cx},${c.cy}`, c.version]));
    expect(versions).toEqual({ "0,0": 2, "1,0": 2, "0,1": 1, "1,1": 1 });
  });
});

describe("fog in bundles and backups", () => {
  it("exports a scene with its fog and chunks and imports them under new ids, the chunks naming the new fog", async () => {
    const t = await fogTable();
    const zip = await SELF.fetch(`${ORIGIN}${t.base}/scenes/${t.crypt.id}/export`, { headers: { cookie: t.gm.cookie } });
    expect(zip.status).toBe(200);
    const imported = await SELF.fetch(`${ORIGIN}${t.base}/import`, {
      method: "POST",
      headers: { cookie: t.gm.cookie, "x-csrf-token": t.gm.csrf, "content-type": "application/zip" },
      body: await zip.arrayBuffer(),
    });
    const body = (await imported.json()) as any;
    expect(imported.status).toBe(201);
    expect(body.created.modules).toEqual({ fog: 1, fog_chunk: 4 });
    const sceneId = body.scene.id;
    const fogs = (await t.gm.req("GET", `${t.base}/fog?scene_id=${sceneId}`)).body.items;
    expect(fogs).toHaveLength(1);
    expect(fogs[0].id).not.toBe(t.fog.id);
    expect(fogs[0]).toMatchObject({ scene_id: sceneId, enabled: true, cell_px: 8, width_px: 4096 });
    const chunks = (await t.gm.req("GET", `${t.base}/fog-chunks?scene_id=${sceneId}`)).body.items;
    expect(chunks).toHaveLength(4);
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({ scene_id: sceneId, fog_id: fogs[0].id, bits: FULL });
      expect(t.chunks.map((c) => c.id)).not.toContain(chunk.id);
    }
    expect(chunks.map((c: any) => [c.cx, c.cy]).sort()).toEqual([
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ]);
    // The source scene's fog is untouched.
    expect((await t.gm.req("GET", `${t.base}/fog-chunks?scene_id=${t.crypt.id}`)).body.items.map((c: any) => c.fog_id)).toEqual([
      t.fog.id,
      t.fog.id,
      t.fog.id,
      t.fog.id,
    ]);
  });

  it("brings fog and chunks back with a restore from a backup", async () => {
    const t = await fogTable();
    const edited = await stroke(t.gm, t.base, t.fog, t.chunks, TWO_CHUNK_DAB, "hide");
    expect(edited).toHaveLength(2);
    await runCron(new Date());
    const restored = await t.gm.req("POST", `${t.base}/restore`, { at: new Date().toISOString() });
    expect(restored.status).toBe(201);
    const copy = `/api/vtt/sessions/${restored.body.session.id}`;
    const state = (await t.gm.req("GET", `${copy}/state`)).body;
    expect(state.modules.fog.map((f: any) => f.id)).toEqual([t.fog.id]);
    expect(state.modules.fog_chunk.map((c: any) => [c.id, c.version, c.bits]).sort()).toEqual(
      [...edited.map((c) => [c.id, 2, c.bits]), ...t.chunks.slice(2).map((c) => [c.id, c.version, c.bits])].sort(),
    );
    const vault = (await t.gm.req("GET", `${copy}/fog-chunks?scene_id=${t.vault.id}`)).body.items;
    expect(vault.map((c: any) => c.id).sort()).toEqual(t.vaultChunks.map((c) => c.id).sort());
  });
});
