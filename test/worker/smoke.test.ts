import { describe, expect, it } from "vitest";
import { create, newTable } from "../helpers/client";

describe("basic flow", () => {
  it("creates a scene and a token at version 1 and patches with If-Match", async () => {
    const { gm, base } = await newTable();
    const scene = await create(gm, base, "scenes", { name: "Crypt" });
    expect(scene.version).toBe(1);
    const token = await create(gm, base, "tokens", { name: "Hero", scene_id: scene.id, x: 0, y: 0 });
    const p = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 5 }, { "if-match": '"1"' });
    expect(p.status).toBe(200);
    expect(p.body.version).toBe(2);
  });
});
