// @vitest-environment jsdom
import { createRoot, createSignal } from "solid-js";
import { describe, expect, it } from "vitest";
import { readNotes, readStrokes, type Stroke } from "../../client/src/lib/drawing";
import type { SessionSync } from "../../client/src/lib/sync";
import { createTableAuthoring, loadLayersOfShownScene } from "../../client/src/lib/table-authoring";
import type { AnyEntity, Layer } from "../../client/src/lib/types";
import { FakeServer } from "./helpers/fake-server";
import { scene, token } from "./helpers/fixtures";
import { useSyncHarness } from "./helpers/sync-harness";
import { settle } from "./helpers/timers";

const e = (entity: object) => entity as AnyEntity;
const HASH = "e".repeat(64);
const T0 = "2025-01-01T00:00:00.000Z";

const harness = useSyncHarness();

/** A GM's sync against the fake server, with readable ids, and the authoring actions on top of it. */
async function startGm(server: FakeServer) {
  let entityIds = 0;
  const { sync } = await harness.start(server);
  const authoring = createTableAuthoring({ sync, view: sync.view, newId: () => `new-${++entityIds}`, now: () => 1000 + entityIds });
  return { sync, authoring };
}

async function flushed(sync: SessionSync) {
  await settle();
  await sync.queue.settled();
  await settle();
}

function stroke(id: string, x: number): Stroke {
  return { id, kind: "line", points: [x, 0, x + 10, 10], color: "#7fb4d9", width: 4, at: x };
}

describe("table authoring through the sync queue", () => {
  it("drops a library token on the scene: a new token with its fields and a copy of its art reach the server", async () => {
    const server = new FakeServer();
    server.put("scene", e(scene("s1")));
    server.put("token", e(token("lib", 2, { name: "Skeleton", scene_id: null, folder_id: null, width: 2, stats: { hp: 13 } })));
    server.put("token_art", {
      id: "art-lib",
      version: 1,
      created_at: T0,
      updated_at: T0,
      updated_by: "u-gm",
      archived_at: null,
      token_id: "lib",
      image_asset: HASH,
      crop: { scale: 2, translate_x: 5, translate_y: -5, stage_size: 256, base_scale: 0.5 },
    } as AnyEntity);
    const { sync, authoring } = await startGm(server);

    const placed = await authoring.placeLibraryToken("lib", "s1", 192, 128);
    expect(placed).toBe("new-1");
    // Shown at once, before the server confirms it.
    expect(sync.view.tokens["new-1"]).toMatchObject({ scene_id: "s1", x: 192, y: 128, name: "Skeleton" });
    await flushed(sync);

    expect(server.get("token", "new-1")).toMatchObject({
      version: 1,
      scene_id: "s1",
      folder_id: null,
      x: 192,
      y: 128,
      width: 2,
      stats: { hp: 13 },
    });
    expect(server.get("token_art", "new-2")).toMatchObject({
      token_id: "new-1",
      image_asset: HASH,
      crop: { scale: 2, translate_x: 5, translate_y: -5, stage_size: 256, base_scale: 0.5 },
    });
    expect(server.get("token", "lib")).toMatchObject({ version: 2, scene_id: null, x: 0 });
    const sent = server.callsOf("batch").flatMap(([ops]) => ops as { entity_type: string; op: string }[]);
    expect(sent.map((op) => `${op.op} ${op.entity_type}`)).toEqual(["create token", "create token_art"]);
  });

  it("does nothing for a token that is not in the library", async () => {
    const server = new FakeServer();
    server.put("token", e(token("on-scene", 1, { scene_id: "s1" })));
    const { authoring } = await startGm(server);
    expect(await authoring.placeLibraryToken("on-scene", "s1", 0, 0)).toBeNull();
    expect(await authoring.placeLibraryToken("missing", "s1", 0, 0)).toBeNull();
  });

  it("creates the drawings layer with the first stroke and adds the next ones by merge patch, even before the first is confirmed", async () => {
    const server = new FakeServer();
    server.put("scene", e(scene("s1")));
    const { sync, authoring } = await startGm(server);
    server.hold("batch");
    const edits = authoring.layerEdits("s1");
    edits.addStroke(stroke("k1", 0));
    await settle();
    edits.addStroke(stroke("k2", 50));
    edits.addStroke(stroke("k3", 100));
    await settle();
    server.release("batch");
    await flushed(sync);

    const layer = server.get("layer", "new-1") as unknown as Layer;
    expect(layer).toMatchObject({ scene_id: "s1", layer_type: "drawings", version: 3 });
    expect(readStrokes(layer.payload).map((s) => s.id)).toEqual(["k1", "k2", "k3"]);
    // The later ops name only their own stroke.
    const updates = server
      .callsOf("batch")
      .flatMap(([ops]) => ops as { op: string; data?: { payload?: { strokes?: object } } }[])
      .filter((op) => op.op === "update");
    expect(updates.map((op) => Object.keys(op.data?.payload?.strokes ?? {}))).toEqual([["k2"], ["k3"]]);

    edits.eraseStrokes(["k2"]);
    await flushed(sync);
    expect(readStrokes((server.get("layer", "new-1") as unknown as Layer).payload).map((s) => s.id)).toEqual(["k1", "k3"]);
  });

  it("keeps notes in their own layer, edits and deletes them", async () => {
    const server = new FakeServer();
    server.put("scene", e(scene("s1")));
    const { sync, authoring } = await startGm(server);
    const edits = authoring.layerEdits("s1");
    edits.addStroke(stroke("k1", 0));
    edits.putNote({ id: "n1", x: 10, y: 20, text: "Trap door", at: 5 });
    await flushed(sync);
    const layers = [...server.entities.values()].filter((x) => x.type === "layer").map((x) => x.entity as unknown as Layer);
    expect(layers.map((l) => l.layer_type).sort()).toEqual(["drawings", "notes"]);
    const notes = layers.find((l) => l.layer_type === "notes");
    expect(readNotes(notes?.payload)).toEqual([{ id: "n1", x: 10, y: 20, text: "Trap door", at: 5 }]);

    edits.putNote({ id: "n1", x: 10, y: 20, text: "Trap door (disarmed)", at: 5 });
    await flushed(sync);
    expect(readNotes((server.get("layer", notes?.id ?? "") as unknown as Layer).payload)[0]?.text).toBe("Trap door (disarmed)");
    edits.deleteNote("n1");
    await flushed(sync);
    expect(readNotes((server.get("layer", notes?.id ?? "") as unknown as Layer).payload)).toEqual([]);
  });

  it("moves several tokens at once, hides and deletes a selection", async () => {
    const server = new FakeServer();
    server.put("token", e(token("a", 1, { x: 0, y: 0 })));
    server.put("token", e(token("b", 1, { x: 64, y: 64 })));
    const { sync, authoring } = await startGm(server);
    const [a, b] = [sync.view.tokens.a, sync.view.tokens.b];
    if (!a || !b) throw new Error("tokens missing");
    authoring.moveMany([
      { token: a, x: 128, y: 10 },
      { token: b, x: 192, y: 74 },
    ]);
    await flushed(sync);
    expect(server.get("token", "a")).toMatchObject({ x: 128, y: 10, version: 2 });
    expect(server.get("token", "b")).toMatchObject({ x: 192, y: 74, version: 2 });

    await authoring.setHidden(["a", "b"], true);
    await flushed(sync);
    expect([server.get("token", "a")?.hidden, server.get("token", "b")?.hidden]).toEqual([true, true]);
    await authoring.archiveTokens(["a", "b"]);
    await flushed(sync);
    expect(server.get("token", "a")?.archived_at).not.toBeNull();
    expect(sync.view.tokens.a).toBeUndefined();
  });

  it("files library tokens in nested folders and saves a new crop", async () => {
    const server = new FakeServer();
    server.put("token", e(token("lib", 1, { scene_id: null })));
    const { sync, authoring } = await startGm(server);
    await authoring.createFolder("Undead", null);
    await authoring.createFolder("Ghouls", "new-1");
    await authoring.fileToken("lib", "new-2");
    await authoring.setArt("lib", HASH, { scale: 1, translate_x: 0, translate_y: 0, stage_size: 256, base_scale: 1 });
    await flushed(sync);
    expect(server.get("folder", "new-2")).toMatchObject({ name: "Ghouls", kind: "token", parent_id: "new-1" });
    expect(server.get("token", "lib")?.folder_id).toBe("new-2");
    const crop = { scale: 3, translate_x: 12.5, translate_y: -3, stage_size: 256, base_scale: 1 };
    await authoring.saveCrop("new-3", crop);
    await flushed(sync);
    expect(server.get("token_art", "new-3")).toMatchObject({ token_id: "lib", version: 2, crop });
    await authoring.renameFolder("new-1", "The Dead");
    await authoring.archiveFolder("new-2");
    await flushed(sync);
    expect(server.get("folder", "new-1")?.name).toBe("The Dead");
    expect(server.get("folder", "new-2")?.archived_at).not.toBeNull();
  });
});

describe("layers of the scene on the table", () => {
  it("reads the layers of each scene a GM shows once, again only after a failed read", async () => {
    const loaded: string[] = [];
    let fail = true;
    const [shown, setShown] = createSignal<string | undefined>(undefined);
    const dispose = createRoot((dispose) => {
      loadLayersOfShownScene(shown, async (id) => {
        loaded.push(id);
        if (id === "s2" && fail) {
          fail = false;
          throw new Error("offline");
        }
      });
      return dispose;
    });
    for (const id of ["s1", "s2", "s1", undefined, "s2", "s1", "s2"]) {
      setShown(id);
      await settle(2);
    }
    dispose();
    expect(loaded).toEqual(["s1", "s2", "s2"]);
  });
});
