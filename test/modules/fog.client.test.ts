// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keepMine } from "../../client/src/lib/conflict";
import { createClientModuleRegistry } from "../../client/src/lib/modules";
import type { SessionSync } from "../../client/src/lib/sync";
import type { AnyEntity, BatchOp, SessionSnapshot } from "../../client/src/lib/types";
import { clientModules } from "../../modules/client";
import { fogClientModule } from "../../modules/fog/client";
import { fogToolState, newFogFields, submitFogOps } from "../../modules/fog/client-tools";
import type { FogFields } from "../../modules/fog/domain";
import { fogOps, type StoredChunk } from "../../modules/fog/editing";
import { FogOverlay, GM_HIDDEN_ALPHA, PLAYER_HIDDEN_ALPHA, shapeOf } from "../../modules/fog/FogOverlay";
import { FogTools } from "../../modules/fog/FogTools";
import { chunkId, fogIdFor } from "../../modules/fog/ids";
import { CELLS_PER_CHUNK, CHUNK_CELLS, encodeChunk } from "../../modules/fog/mask";
import { FakeServer } from "../client/helpers/fake-server";
import { scene } from "../client/helpers/fixtures";
import { useSyncHarness } from "../client/helpers/sync-harness";

const T0 = "2025-01-01T00:00:00.000Z";
const FOG_ID = fogIdFor("s1");

/** The fake server with the module entities of the active scene in its state and per-scene lists, as the real one. */
class FogServer extends FakeServer {
  override async getState(ifNoneMatchSeq?: number): Promise<SessionSnapshot | null> {
    const snapshot = await super.getState(ifNoneMatchSeq);
    if (!snapshot) return snapshot;
    const active = snapshot.session_state.active_scene_id;
    const live = (type: string) =>
      [...this.entities.values()]
        .filter((e) => e.type === type && e.entity.archived_at === null && e.entity.scene_id === active)
        .map((e) => structuredClone(e.entity));
    return { ...snapshot, modules: { fog: live("fog"), fog_chunk: live("fog_chunk") } };
  }

  // A property, not a method: the data layer calls it unbound.
  listByScene = async (type: string, sceneId: string): Promise<AnyEntity[]> =>
    [...this.entities.values()]
      .filter((e) => e.type === type && e.entity.archived_at === null && e.entity.scene_id === sceneId)
      .map((e) => structuredClone(e.entity));

  batchOps(): BatchOp[][] {
    return this.callsOf("batch").map(([ops]) => ops as BatchOp[]);
  }
}

function fogEntity(fields: Partial<FogFields> = {}, id = FOG_ID): AnyEntity {
  return {
    id,
    version: 1,
    created_at: T0,
    updated_at: T0,
    updated_by: "u-gm",
    archived_at: null,
    ...newFogFields("s1", null),
    ...fields,
  } as AnyEntity;
}

function chunkEntity(chunk: StoredChunk, fogId = FOG_ID): AnyEntity {
  return {
    id: chunk.id,
    version: 1,
    created_at: T0,
    updated_at: T0,
    updated_by: "u-gm",
    archived_at: null,
    scene_id: "s1",
    fog_id: fogId,
    cx: chunk.cx,
    cy: chunk.cy,
    bits: chunk.bits,
  } as AnyEntity;
}

/** Chunk (cx, cy) with its top `rows` rows revealed. */
function topRows(cx: number, cy: number, rows: number): StoredChunk {
  const cells = new Uint8Array(CELLS_PER_CHUNK);
  cells.fill(1, 0, rows * CHUNK_CELLS);
  return { id: chunkId(FOG_ID, cx, cy), cx, cy, bits: encodeChunk(cells) };
}

// --- a canvas for jsdom, which has none: records what the overlay draws ----------------------

interface FakeContext {
  fillStyle: string;
  fills: string[];
  puts: { x: number; y: number; data: Uint8ClampedArray }[];
}

const contexts = new Map<HTMLCanvasElement, FakeContext>();
const originalGetContext = HTMLCanvasElement.prototype.getContext;

function installCanvas() {
  HTMLCanvasElement.prototype.getContext = function (this: HTMLCanvasElement) {
    let ctx = contexts.get(this);
    if (!ctx) {
      const fake = {
        fillStyle: "",
        fills: [] as string[],
        puts: [] as FakeContext["puts"],
        clearRect: () => undefined,
        fillRect: (_x: number, _y: number, w: number, h: number) => fake.fills.push(`${fake.fillStyle} ${w}x${h}`),
        createImageData: (w: number, h: number) => ({ width: w, height: h, data: new Uint8ClampedArray(w * h * 4) }),
        putImageData: (image: { data: Uint8ClampedArray }, x: number, y: number) => fake.puts.push({ x, y, data: image.data }),
      };
      ctx = fake;
      contexts.set(this, ctx);
    }
    return ctx;
  } as unknown as typeof HTMLCanvasElement.prototype.getContext;
}

function drawn(): FakeContext {
  const canvas = screen.getByTestId("fog-overlay").querySelector("canvas");
  const ctx = canvas ? contexts.get(canvas) : undefined;
  if (!ctx) throw new Error("the overlay drew nothing");
  return ctx;
}

/** The alpha the overlay drew for cell (col, row) of chunk (cx, cy), from its last draw. */
function alphaAt(cx: number, cy: number, col: number, row: number): number | undefined {
  const put = drawn()
    .puts.filter((p) => p.x === cx * CHUNK_CELLS && p.y === cy * CHUNK_CELLS)
    .at(-1);
  return put?.data[(row * CHUNK_CELLS + col) * 4 + 3];
}

// --- a session's data layer against the fake server -----------------------------------------

const harness = useSyncHarness();
/** The session runs with the fog module only. */
const fogModules = createClientModuleRegistry([fogClientModule]);

beforeEach(() => {
  contexts.clear();
  installCanvas();
});

afterEach(() => {
  cleanup();
  HTMLCanvasElement.prototype.getContext = originalGetContext;
});

async function startTable(options: { role?: "gm" | "player"; fog?: AnyEntity | null; chunks?: StoredChunk[] } = {}) {
  const server = new FogServer();
  server.role = options.role ?? "gm";
  server.put("scene", scene("s1") as AnyEntity, "create");
  if (options.fog !== null) server.put("fog", options.fog ?? fogEntity(), "create");
  for (const chunk of options.chunks ?? []) server.put("fog_chunk", chunkEntity(chunk), "create");
  const { sync } = await harness.start(server, { modules: fogModules });
  return { server, sync };
}

function renderTable(sync: SessionSync, isGm: boolean, parts: { panel?: boolean; sceneId?: string } = {}) {
  const props = { sessionId: "sess", userId: harness.ids.user, sync, isGm, scene: scene(parts.sceneId ?? "s1"), selectedTokenId: null };
  render(() => [createComponent(FogOverlay, { ...props, cellPx: 40, tokens: [] }), parts.panel ? createComponent(FogTools, props) : null]);
}

const overlay = () => screen.getByTestId("fog-overlay");

describe("the fog module's registration", () => {
  it("declares both entity types as living on a scene, with tools for the tool bar and an overlay", () => {
    const fog = clientModules.find((m) => m.name === "fog");
    expect(fog?.entities).toEqual([
      { type: "fog", path: "fog", sceneField: "scene_id" },
      { type: "fog_chunk", path: "fog-chunks", sceneField: "scene_id" },
    ]);
    expect(fog?.Tools).toBe(FogTools);
    expect(fog?.Panel).toBeUndefined();
    expect(fog?.CanvasOverlay).toBe(FogOverlay);
  });
});

describe("the fog overlay", () => {
  it("shows players hidden cells opaque and revealed ones clear", async () => {
    const { sync } = await startTable({ role: "player", chunks: [topRows(0, 0, 3)] });
    renderTable(sync, false);
    expect(overlay().dataset.fogView).toBe("opaque");
    expect(overlay().dataset.revealedCells).toBe(String(3 * CHUNK_CELLS));
    expect(drawn().fills).toEqual([`rgba(16,18,24,${PLAYER_HIDDEN_ALPHA / 255}) 512x512`]);
    expect(alphaAt(0, 0, 5, 2)).toBe(0);
    expect(alphaAt(0, 0, 5, 3)).toBe(PLAYER_HIDDEN_ALPHA);
    expect(PLAYER_HIDDEN_ALPHA).toBe(255);
    expect(overlay().style.pointerEvents).toBe("none");
    // Beyond the mask (the table around a smaller map, tokens put there) is hidden from players too.
    expect(overlay().querySelector("canvas")?.style.boxShadow).toMatch(/^0 0 0 \d{5}px rgb\(16,18,24\)$/);
  });

  it("shows GMs the same mask see-through", async () => {
    const { sync } = await startTable({ chunks: [topRows(0, 0, 3)] });
    renderTable(sync, true);
    expect(overlay().dataset.fogView).toBe("translucent");
    expect(drawn().fills).toEqual([`rgba(16,18,24,${GM_HIDDEN_ALPHA / 255}) 512x512`]);
    expect(alphaAt(0, 0, 5, 2)).toBe(0);
    expect(alphaAt(0, 0, 5, 3)).toBe(GM_HIDDEN_ALPHA);
    expect(GM_HIDDEN_ALPHA).toBeLessThan(255);
    expect(overlay().querySelector("canvas")?.style.boxShadow).toBe("");
  });

  it("draws nothing when the scene's fog is off, or the scene has none", async () => {
    const off = await startTable({ fog: fogEntity({ enabled: false }), chunks: [topRows(0, 0, 3)] });
    renderTable(off.sync, false);
    expect(screen.queryByTestId("fog-overlay")).toBeNull();
    cleanup();
    const none = await startTable({ fog: null });
    renderTable(none.sync, false);
    expect(screen.queryByTestId("fog-overlay")).toBeNull();
    cleanup();
    const elsewhere = await startTable({ fog: fogEntity({ scene_id: "s2" }) });
    renderTable(elsewhere.sync, false);
    expect(screen.queryByTestId("fog-overlay")).toBeNull();
  });

  it("sizes the canvas one pixel a cell, scaled to the mask", async () => {
    const { sync } = await startTable({ fog: fogEntity({ width_px: 1000, height_px: 600, cell_px: 10 }) });
    renderTable(sync, false);
    const canvas = overlay().querySelector("canvas") as HTMLCanvasElement;
    expect([canvas.width, canvas.height]).toEqual([100, 60]);
    expect([canvas.style.width, canvas.style.height]).toEqual(["1000px", "600px"]);
    expect([overlay().style.width, overlay().style.height]).toEqual(["1000px", "600px"]);
  });

  it("redraws only the chunk a stroke changed", async () => {
    const { sync } = await startTable({ chunks: [topRows(0, 0, 3), topRows(1, 0, 3), topRows(0, 1, 3)] });
    renderTable(sync, true);
    const before = drawn().puts.length;
    expect(before).toBe(3);
    const fog = fogEntity() as AnyEntity & FogFields;
    const ops = fogOps(
      fog,
      [topRows(0, 0, 3), topRows(1, 0, 3), topRows(0, 1, 3)],
      { kind: "brush", points: [{ x: 700, y: 300 }], radius: 20 },
      "reveal",
    );
    expect(ops.map((op) => op.id)).toEqual([chunkId(FOG_ID, 1, 0)]);
    await submitFogOps(sync, ops);
    await waitFor(() => expect(drawn().puts.length).toBe(before + 1));
    expect(drawn().puts.at(-1)).toMatchObject({ x: 64, y: 0 });
    expect(Number(overlay().dataset.revealedCells)).toBeGreaterThan(9 * CHUNK_CELLS);
  });
});

describe("a scene being prepared", () => {
  it("shows a GM the fog of a scene that is not active once the scene is loaded", async () => {
    const { server, sync } = await startTable();
    server.put("scene", scene("s2") as AnyEntity, "create");
    const otherFog = { ...fogEntity({ scene_id: "s2" }, fogIdFor("s2")) };
    server.put("fog", otherFog, "create");
    server.put("fog_chunk", { ...chunkEntity(topRows(0, 0, 2), otherFog.id), id: chunkId(otherFog.id, 0, 0), scene_id: "s2" }, "create");
    await sync.reload();
    expect(sync.view.modules.fog?.[otherFog.id]).toBeUndefined();
    await sync.loadScene("s2");
    renderTable(sync, true, { sceneId: "s2" });
    expect(overlay().dataset.fogId).toBe(otherFog.id);
    expect(overlay().dataset.revealedCells).toBe(String(2 * CHUNK_CELLS));
  });
});

describe("painting", () => {
  it("takes the pointer only while a GM holds a fog tool", async () => {
    const { sync } = await startTable();
    renderTable(sync, true, { panel: true });
    expect(overlay().style.pointerEvents).toBe("none");
    fireEvent.click(screen.getByTestId("fog-tool-brush-reveal"));
    expect(screen.getByTestId("fog-tool-brush-reveal").getAttribute("aria-pressed")).toBe("true");
    expect(overlay().style.pointerEvents).toBe("auto");
    expect(overlay().dataset.painting).toBe("brush");
    fireEvent.click(screen.getByTestId("fog-tool-none"));
    expect(overlay().style.pointerEvents).toBe("none");
  });

  it("never lets a player's overlay take the pointer", async () => {
    const { sync } = await startTable({ role: "player" });
    fogToolState(sync).setTool({ shape: "brush", mode: "reveal" });
    renderTable(sync, false, { panel: true });
    expect(screen.queryByTestId("fog-panel")).toBeNull();
    expect(overlay().style.pointerEvents).toBe("none");
  });

  it("sends a brush stroke over two chunks as one batch of their ops", async () => {
    const { server, sync } = await startTable();
    renderTable(sync, true, { panel: true });
    fireEvent.click(screen.getByTestId("fog-tool-brush-reveal"));
    fireEvent.pointerDown(overlay(), { button: 0, pointerId: 1, clientX: 480, clientY: 100 });
    fireEvent.pointerMove(overlay(), { pointerId: 1, clientX: 520, clientY: 100 });
    fireEvent.pointerMove(overlay(), { pointerId: 1, clientX: 560, clientY: 110 });
    fireEvent.pointerUp(overlay(), { pointerId: 1, clientX: 560, clientY: 110 });
    const points = [
      { x: 480, y: 100 },
      { x: 520, y: 100 },
      { x: 560, y: 110 },
      { x: 560, y: 110 },
    ];
    const expected = fogOps(fogEntity() as AnyEntity & FogFields, [], { kind: "brush", points, radius: 64 }, "reveal");
    expect(expected).toHaveLength(2);
    await waitFor(() => expect(server.batchOps()).toHaveLength(1));
    await sync.queue.settled();
    const [batch] = server.batchOps();
    expect(batch?.map((op) => [op.entity_type, op.op, op.id, op.data])).toEqual(expected.map((op) => ["fog_chunk", op.op, op.id, op.data]));
    expect(server.batchOps()).toHaveLength(1);
    expect(Number(overlay().dataset.revealedCells)).toBeGreaterThan(0);
  });

  it("paints nothing for a click with a shape tool", async () => {
    const { server, sync } = await startTable();
    renderTable(sync, true, { panel: true });
    fireEvent.click(screen.getByTestId("fog-tool-rect-reveal"));
    fireEvent.pointerDown(overlay(), { button: 0, pointerId: 1, clientX: 300, clientY: 300 });
    fireEvent.pointerUp(overlay(), { pointerId: 1, clientX: 300, clientY: 300 });
    await sync.queue.settled();
    expect(server.batchOps()).toEqual([]);
    expect(shapeOf("rect", [{ x: 1, y: 1 }], 10)).toBeNull();
    expect(
      shapeOf(
        "ellipse",
        [
          { x: 1, y: 1 },
          { x: 50, y: 1.5 },
        ],
        10,
      ),
    ).toBeNull();
  });

  it("sends a rectangle as its chunks' ops, one batch", async () => {
    const { server, sync } = await startTable();
    renderTable(sync, true, { panel: true });
    fireEvent.click(screen.getByTestId("fog-tool-rect-reveal"));
    fireEvent.pointerDown(overlay(), { button: 0, pointerId: 1, clientX: 100, clientY: 100 });
    fireEvent.pointerMove(overlay(), { pointerId: 1, clientX: 1200, clientY: 700 });
    fireEvent.pointerUp(overlay(), { pointerId: 1, clientX: 1200, clientY: 700 });
    await waitFor(() => expect(server.batchOps()).toHaveLength(1));
    const expected = fogOps(
      fogEntity() as AnyEntity & FogFields,
      [],
      { kind: "rect", from: { x: 100, y: 100 }, to: { x: 1200, y: 700 } },
      "reveal",
    );
    expect(server.batchOps()[0]?.map((op) => op.id)).toEqual(expected.map((op) => op.id));
    expect(expected).toHaveLength(6);
  });
});

describe("queueing a stroke", () => {
  it("sends every chunk op of a stroke in one batch", async () => {
    const { server, sync } = await startTable();
    const ops = fogOps(
      fogEntity() as AnyEntity & FogFields,
      [],
      { kind: "rect", from: { x: 0, y: 0 }, to: { x: 1500, y: 1500 } },
      "reveal",
    );
    expect(ops).toHaveLength(9);
    await submitFogOps(sync, ops);
    await sync.queue.settled();
    expect(server.batchOps().map((b) => b.length)).toEqual([9]);
    expect(server.get("fog_chunk", chunkId(FOG_ID, 2, 2))?.version).toBe(1);
  });

  it("keeps a stroke in one batch of its own while an earlier batch is in flight", async () => {
    const { server, sync } = await startTable();
    server.hold("batch");
    await sync.update("fog", FOG_ID, { cell_px: 8 });
    await waitFor(() => expect(server.batchOps()).toHaveLength(1));
    const ops = fogOps(fogEntity() as AnyEntity & FogFields, [], { kind: "all" }, "reveal");
    const submitted = submitFogOps(sync, ops);
    // The earlier batch comes back while the stroke's ops are still being persisted.
    server.release("batch");
    await submitted;
    await waitFor(() => expect(server.batchOps()).toHaveLength(2));
    await sync.queue.settled();
    expect(server.batchOps().map((b) => b.length)).toEqual([1, 64]);
  });

  it("updates stored chunks against their versions and creates new ones", async () => {
    const { server, sync } = await startTable({ chunks: [topRows(0, 0, 3)] });
    const ops = fogOps(
      fogEntity() as AnyEntity & FogFields,
      [topRows(0, 0, 3)],
      { kind: "rect", from: { x: 0, y: 0 }, to: { x: 600, y: 40 } },
      "reveal",
    );
    await submitFogOps(sync, ops);
    await sync.queue.settled();
    expect(server.batchOps()[0]?.map((op) => [op.op, op.id, op.base_version])).toEqual([
      ["update", chunkId(FOG_ID, 0, 0), 1],
      ["create", chunkId(FOG_ID, 1, 0), undefined],
    ]);
    expect(server.get("fog_chunk", chunkId(FOG_ID, 0, 0))?.version).toBe(2);
  });
});

describe("two GMs painting one chunk", () => {
  it("pauses on the usual conflict, and Keep Mine replaces the chunk with this GM's cells", async () => {
    const { server, sync } = await startTable({ chunks: [topRows(0, 0, 3), topRows(1, 0, 3)] });
    // Another GM paints chunk (0,0) first.
    server.edit("fog_chunk", chunkId(FOG_ID, 0, 0), { bits: topRows(0, 0, 10).bits });
    const ops = fogOps(
      fogEntity() as AnyEntity & FogFields,
      [topRows(0, 0, 3), topRows(1, 0, 3)],
      { kind: "rect", from: { x: 0, y: 200 }, to: { x: 1000, y: 260 } },
      "reveal",
    );
    expect(ops.map((op) => op.id)).toEqual([chunkId(FOG_ID, 0, 0), chunkId(FOG_ID, 1, 0)]);
    await submitFogOps(sync, ops);
    await waitFor(() => expect(sync.conflict()).not.toBeNull());
    const conflict = sync.conflict();
    if (!conflict) throw new Error("no conflict");
    expect(conflict.op.id).toBe(chunkId(FOG_ID, 0, 0));
    // Nothing of the stroke applied: the batch is atomic.
    expect(server.get("fog_chunk", chunkId(FOG_ID, 1, 0))?.version).toBe(1);
    await sync.resolveConflict(keepMine(conflict, "00000000-0000-4000-8000-00000000ffff"));
    await waitFor(() => expect(server.get("fog_chunk", chunkId(FOG_ID, 1, 0))?.version).toBe(2));
    expect(server.get("fog_chunk", chunkId(FOG_ID, 0, 0))).toMatchObject({ version: 3, bits: ops[0]?.data.bits });
  });
});

describe("the fog tools", () => {
  it("open from the tool bar's fog button, close when a tool is picked, and show the held tool", async () => {
    const { sync } = await startTable();
    renderTable(sync, true, { panel: true });
    const button = screen.getByRole("button", { name: "Fog of war" });
    expect(button.getAttribute("aria-expanded")).toBe("false");
    expect((screen.getByTestId("fog-panel") as HTMLElement).hidden).toBe(true);
    fireEvent.click(button);
    expect(button.getAttribute("aria-expanded")).toBe("true");
    expect((screen.getByTestId("fog-panel") as HTMLElement).hidden).toBe(false);
    // Picking a tool closes the panel, out of the map's way; the button shows the tool is held.
    fireEvent.click(screen.getByRole("button", { name: "Rectangle: hide" }));
    expect((screen.getByTestId("fog-panel") as HTMLElement).hidden).toBe(true);
    expect(button.getAttribute("aria-expanded")).toBe("false");
    expect(fogToolState(sync).tool()).toEqual({ shape: "rect", mode: "hide" });
    expect(button.classList.contains("tool-held")).toBe(true);
  });

  it("turns fog on for a scene without a map with a 4096 px mask under the scene's fog id", async () => {
    const { server, sync } = await startTable({ fog: null });
    renderTable(sync, true, { panel: true });
    expect(screen.queryByTestId("fog-overlay")).toBeNull();
    fireEvent.click(screen.getByTestId("fog-enable"));
    await waitFor(() => expect(screen.getByTestId("fog-overlay")).toBeTruthy());
    await waitFor(() => expect(server.get("fog", FOG_ID)).toBeDefined());
    expect(server.get("fog", FOG_ID)).toMatchObject({ scene_id: "s1", enabled: true, cell_px: 8, width_px: 4096, height_px: 4096 });
    expect(overlay().dataset.revealedCells).toBe("0");
  });

  it("turns fog off and on again with updates of the same fog", async () => {
    const { server, sync } = await startTable();
    renderTable(sync, true, { panel: true });
    fireEvent.click(screen.getByTestId("fog-disable"));
    await waitFor(() => expect(screen.queryByTestId("fog-overlay")).toBeNull());
    await waitFor(() => expect((screen.getByTestId("fog-enable") as HTMLButtonElement).disabled).toBe(false));
    fireEvent.click(screen.getByTestId("fog-enable"));
    await waitFor(() => expect(screen.getByTestId("fog-overlay")).toBeTruthy());
    await waitFor(() => expect(server.get("fog", FOG_ID)?.version).toBe(3));
    expect(server.get("fog", FOG_ID)).toMatchObject({ enabled: true, version: 3 });
  });

  it("reveals and hides everything, one batch each", async () => {
    const { server, sync } = await startTable();
    renderTable(sync, true, { panel: true });
    fireEvent.click(screen.getByTestId("fog-reveal-all"));
    await waitFor(() => expect(overlay().dataset.revealedCells).toBe(String(512 * 512)));
    await waitFor(() => expect(server.batchOps()).toHaveLength(1));
    fireEvent.click(screen.getByTestId("fog-hide-all"));
    await waitFor(() => expect(overlay().dataset.revealedCells).toBe("0"));
    await waitFor(() => expect(server.batchOps()).toHaveLength(2));
    await sync.queue.settled();
    expect(server.batchOps().map((b) => [b.length, b[0]?.op])).toEqual([
      [64, "create"],
      [64, "update"],
    ]);
  });

  it("sets the brush radius within its bounds", async () => {
    const { sync } = await startTable();
    renderTable(sync, true, { panel: true });
    const slider = screen.getByTestId("fog-radius") as HTMLInputElement;
    fireEvent.input(slider, { target: { value: "120" } });
    expect(fogToolState(sync).radius()).toBe(120);
    fogToolState(sync).setRadius(5000);
    expect(fogToolState(sync).radius()).toBe(320);
  });
});
