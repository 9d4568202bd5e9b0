import { describe, expect, it } from "vitest";
import { planImportChunks } from "../../domain/bundle";
import { importFootprint, makeBundle, postImport } from "../helpers/bundles";
import { create, newTable, TestUser } from "../helpers/client";
import { makePng } from "../helpers/images";
import { shardOf } from "../helpers/shards";

async function sceneLog(sid: string, sceneId: string) {
  return (
    await (
      await shardOf(sid)
    )
      .prepare("SELECT seq, op, version FROM change_log WHERE session_id = ? AND entity_id = ? ORDER BY seq")
      .bind(sid, sceneId)
      .all<{ seq: number; op: string; version: number }>()
  ).results;
}

async function seqOfChange(sid: string, entityId: string, version: number): Promise<number> {
  const row = await (await shardOf(sid))
    .prepare("SELECT seq FROM change_log WHERE session_id = ? AND entity_id = ? AND version = ?")
    .bind(sid, entityId, version)
    .first<{ seq: number }>();
  if (!row) throw new Error(`no change of ${entityId} v${version}`);
  return row.seq;
}

async function stagedScene(sid: string, name: string) {
  return (await shardOf(sid))
    .prepare("SELECT id, archived_at FROM scenes WHERE session_id = ? AND name = ?")
    .bind(sid, name)
    .first<{ id: string; archived_at: string | null }>();
}

async function coGm(table: Awaited<ReturnType<typeof newTable>>): Promise<TestUser> {
  const user = await TestUser.register("co");
  expect((await user.req("POST", "/api/vtt/sessions/join", { invite_code: table.inviteCode })).status).toBe(200);
  expect((await table.gm.req("PUT", `${table.base}/members/${user.id}`, { role: "gm" })).status).toBe(200);
  return user;
}

describe("planImportChunks", () => {
  const entities = (n: number) => [
    { entity_type: "scene" as const, id: "s", data: {} },
    ...Array.from({ length: n }, (_, i) => ({ entity_type: "token" as const, id: `t${i}`, data: {} })),
  ];
  let counter = 0;
  const opId = () => `op${counter++}`;

  it("keeps a bundle of up to one chunk in one batch", () => {
    const chunks = planImportChunks(entities(9), 10, opId);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.map((o) => o.op)).toEqual(Array(10).fill("create"));
  });

  it("stages a bigger one: scene created and archived first, chunks of at most chunkOps, restored last", () => {
    const chunks = planImportChunks(entities(25), 10, opId);
    expect(chunks.map((c) => c.length)).toEqual([10, 10, 7, 1]);
    expect(chunks[0]?.slice(0, 2).map((o) => [o.op, o.id])).toEqual([
      ["create", "s"],
      ["archive", "s"],
    ]);
    expect(chunks.at(-1)).toEqual([expect.objectContaining({ op: "restore", id: "s", entity_type: "scene" })]);
    const created = chunks
      .flat()
      .filter((o) => o.op === "create")
      .map((o) => o.id);
    expect(created).toEqual(entities(25).map((e) => e.id));
  });
});

describe("a big import is staged in chunks", () => {
  it("commits a small bundle in one batch, the scene never archived", async () => {
    const { gm, base, sid } = await newTable();
    const r = await postImport(gm, base, await makeBundle({ tokens: 90 }));
    expect(r.status).toBe(201);
    expect(r.body.chunks).toBe(1);
    expect(r.body.scene).toMatchObject({ version: 1, archived_at: null });
    expect((await sceneLog(sid, r.body.scene.id)).map((c) => c.op)).toEqual(["create"]);
  });

  it("creates the scene archived, adds the rest chunk by chunk, restores it in the last change", async () => {
    const { gm, base, sid } = await newTable();
    const r = await postImport(gm, base, await makeBundle({ tokens: 1000, map: { bytes: await makePng(16, 16) } }));
    expect(r.status).toBe(201);
    // 1 scene + 1 layer + 1000 tokens, 100 ops a chunk (IMPORT_CHUNK_OPS; the first also
    // archives the scene), then the restore.
    expect(r.body.chunks).toBe(12);
    expect(r.body.scene).toMatchObject({ archived_at: null, version: 3, name: "Crypt (imported)" });
    const log = await sceneLog(sid, r.body.scene.id);
    expect(log.map((c) => c.op)).toEqual(["create", "archive", "restore"]);
    expect(log[2]?.seq).toBe(r.body.seq);
    const tokens = await (await shardOf(sid))
      .prepare(
        "SELECT COUNT(*) AS n, MIN(c.seq) AS first, MAX(c.seq) AS last, COUNT(DISTINCT c.seq) AS seqs FROM tokens t JOIN change_log c ON c.session_id = t.session_id AND c.entity_id = t.id WHERE t.session_id = ? AND t.scene_id = ?",
      )
      .bind(sid, r.body.scene.id)
      .first<{ n: number; first: number; last: number; seqs: number }>();
    expect(tokens).toMatchObject({ n: 1000, seqs: 1000 });
    expect(tokens?.first).toBeGreaterThan(log[1]?.seq ?? Number.POSITIVE_INFINITY);
    expect(tokens?.last).toBeLessThan(log[2]?.seq ?? 0);
    expect((await gm.req("GET", `${base}/scenes`)).body.items.map((s: any) => s.id)).toContain(r.body.scene.id);
  }, 120_000);

  it("lets a co-GM's write in between its chunks: it commits before the import's last chunk", async () => {
    const table = await newTable();
    const { gm, base, sid } = table;
    const co = await coGm(table);
    const other = await create(gm, base, "scenes", { name: "Elsewhere" });
    const scout = await create(gm, base, "tokens", { name: "Scout", scene_id: other.id });

    const importing = postImport(gm, base, await makeBundle({ name: "Big", tokens: 1000 }));
    let staged: Awaited<ReturnType<typeof stagedScene>> = null;
    for (let i = 0; i < 5000 && !staged; i++) {
      staged = await stagedScene(sid, "Big (imported)");
      if (!staged) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(staged?.archived_at).not.toBeNull();
    const patch = await co.req("PATCH", `${base}/tokens/${scout.id}`, { x: 7 }, { "if-match": '"1"' });
    expect(patch.status).toBe(200);
    const r = await importing;
    expect(r.status).toBe(201);

    const log = await sceneLog(sid, r.body.scene.id);
    const patchSeq = await seqOfChange(sid, scout.id, 2);
    expect(patchSeq).toBeGreaterThan(log[0]?.seq ?? Number.POSITIVE_INFINITY);
    expect(patchSeq).toBeLessThan(log.at(-1)?.seq ?? 0);
    expect(log.at(-1)?.op).toBe("restore");
  }, 120_000);
});

describe("an import that fails part-way", () => {
  it("leaves its staged scene out of the scene list, and the same Idempotency-Key finishes it without a second copy", async () => {
    const { gm, base, sid, player } = await newTable();
    const key = crypto.randomUUID();
    const zip = await makeBundle({ name: "Halls", tokens: 700 });
    await (await shardOf(sid)).exec(
      "CREATE TRIGGER import_fails_once BEFORE INSERT ON tokens WHEN NEW.name = 'Token 500' BEGIN SELECT RAISE(ABORT, 'injected'); END;",
    );
    const failed = await postImport(gm, base, zip, { headers: { "idempotency-key": key } });
    await (await shardOf(sid)).exec("DROP TRIGGER import_fails_once");
    expect(failed.status).toBe(500);
    expect(failed.body.error.code).toBe("internal");

    const staged = await stagedScene(sid, "Halls (imported)");
    expect(staged?.archived_at).not.toBeNull();
    const landed = await (await shardOf(sid))
      .prepare("SELECT COUNT(*) AS n FROM tokens WHERE session_id = ? AND scene_id = ?")
      .bind(sid, staged?.id)
      .first<{ n: number }>();
    expect(landed?.n).toBeGreaterThan(0);
    expect(landed?.n).toBeLessThan(700);
    expect((await gm.req("GET", `${base}/scenes`)).body.items.map((s: any) => s.id)).not.toContain(staged?.id);
    expect((await player.req("GET", `${base}/scenes/${staged?.id}`)).status).toBe(404);

    const resumed = await postImport(gm, base, zip, { headers: { "idempotency-key": key } });
    expect(resumed.status).toBe(201);
    expect(resumed.body.scene).toMatchObject({ id: staged?.id, archived_at: null });
    const scenes = await (await shardOf(sid))
      .prepare("SELECT COUNT(*) AS n FROM scenes WHERE session_id = ? AND name = 'Halls (imported)'")
      .bind(sid)
      .first<{ n: number }>();
    expect(scenes?.n).toBe(1);
    const tokens = await (await shardOf(sid))
      .prepare("SELECT COUNT(*) AS n, COUNT(DISTINCT name) AS names FROM tokens WHERE session_id = ? AND scene_id = ?")
      .bind(sid, staged?.id)
      .first();
    expect(tokens).toEqual({ n: 700, names: 700 });
  }, 120_000);

  it("hands the assets it stored to the cleanup when nothing of it landed", async () => {
    const { gm, base, sid } = await newTable();
    const before = await importFootprint(sid);
    await (await shardOf(sid)).exec(
      "CREATE TRIGGER import_scene_fails BEFORE INSERT ON scenes WHEN NEW.name = 'Doomed (imported)' BEGIN SELECT RAISE(ABORT, 'injected'); END;",
    );
    const r = await postImport(gm, base, await makeBundle({ name: "Doomed", map: { bytes: await makePng(24, 24) }, tokens: 3 }));
    await (await shardOf(sid)).exec("DROP TRIGGER import_scene_fails");
    expect(r.status).toBe(500);
    const after = (await importFootprint(sid)) as any;
    expect(after).toMatchObject({ scenes: before?.scenes, tokens: before?.tokens, assets: 0, seq: before?.seq });
    expect(after.tombstones).toBe(1);
  });
});
