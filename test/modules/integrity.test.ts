/**
 * The integrity job checks module entities' declared references like the core's own: a
 * condition whose token is gone, a fog chunk whose fog is gone (another module type) are reported,
 * and nothing is deleted.
 */
import { describe, expect, it } from "vitest";
import { create, newTable } from "../helpers/client";
import { exec } from "../helpers/sql";

describe("integrity of module references", () => {
  it("reports a condition naming a token that no longer exists, and a chunk naming a missing fog", async () => {
    const t = await newTable();
    const scene = await create(t.gm, t.base, "scenes", { name: "Vault" });
    const token = await create(t.gm, t.base, "tokens", { name: "Ghoul", scene_id: scene.id });
    const condition = await create(t.gm, t.base, "conditions", { token_id: token.id, kind: "prone" });
    const fog = await create(t.gm, t.base, "fog", { scene_id: scene.id });
    const chunk = await create(t.gm, t.base, "fog-chunks", { scene_id: scene.id, fog_id: fog.id, cx: 0, cy: 0, bits: "rgCA=" });

    const clean = await t.gm.req("POST", `${t.base}/integrity/check`);
    expect(clean.body.findings).toEqual([]);

    // Rows vanish behind the save system's back (a bad restore, a manual edit).
    await exec(t.sid, "DELETE FROM tokens WHERE session_id = ? AND id = ?", t.sid, token.id);
    await exec(t.sid, "DELETE FROM module_entities WHERE session_id = ? AND entity_type = 'fog' AND id = ?", t.sid, fog.id);
    const r = await t.gm.req("POST", `${t.base}/integrity/check`);
    expect(r.status).toBe(200);
    const found = r.body.findings.map((f: Record<string, unknown>) => [f.kind, f.entity_type, f.entity_id, f.field, f.detail]);
    expect(found).toEqual(
      expect.arrayContaining([
        ["dangling_reference", "condition", condition.id, "token_id", { references: "token", missing_id: token.id }],
        ["dangling_reference", "fog_chunk", chunk.id, "fog_id", { references: "fog", missing_id: fog.id }],
      ]),
    );
    expect(found).toHaveLength(2);
    // Reported, never repaired.
    expect((await t.gm.req("GET", `${t.base}/conditions/${condition.id}`)).status).toBe(200);
  });
});
