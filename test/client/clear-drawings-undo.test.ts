// @vitest-environment jsdom
import { fireEvent, screen, waitFor, within } from "@solidjs/testing-library";
import { describe, expect, it } from "vitest";
import type { SessionSync } from "../../client/src/lib/sync";
import type { AnyEntity, Layer } from "../../client/src/lib/types";
import { FakeServer } from "./helpers/fake-server";
import { layer, scene } from "./helpers/fixtures";
import { renderSessionTable, useTableTests } from "./helpers/table";

const strokes = {
  k1: { kind: "free", points: [10, 10, 40, 40, 80, 20], color: "#e0664f", width: 4, at: 1 },
  k2: { kind: "rect", points: [100, 100, 160, 140], color: "#7fb4d9", width: 8, at: 2 },
};

/** A GM's table on scene Crypt whose drawings layer holds two strokes. */
async function renderWithDrawings(running: SessionSync[]) {
  const server = new FakeServer();
  server.put("scene", scene("s1", 1, { name: "Crypt" }) as unknown as AnyEntity, "create");
  server.put("layer", layer("d1", 1, { layer_type: "drawings", z_index: 10, payload: { strokes } }) as unknown as AnyEntity, "create");
  server.edit("session_state", "st", { active_scene_id: "s1" });
  // A scene is read with its layers, as the API answers (`GET {S}/scenes/{id}`).
  const getEntity = server.getEntity.bind(server);
  server.getEntity = async (type, id) => {
    const entity = await getEntity(type, id);
    if (type !== "scene") return entity;
    const layers = [...server.entities.values()].filter((e) => e.type === "layer" && (e.entity as Layer).scene_id === id);
    return { ...entity, layers: layers.map((e) => structuredClone(e.entity)) } as AnyEntity;
  };
  const { sync, clock } = await renderSessionTable(server, "u-gm", running);
  await waitFor(() => expect(sync.view.layers.d1?.payload).toEqual({ strokes }));
  const before = JSON.parse(JSON.stringify(sync.view.layers.d1?.payload)) as unknown;
  fireEvent.click(await screen.findByRole("button", { name: "Clear drawings" }));
  fireEvent.click(await screen.findByRole("button", { name: "Clear" }));
  await waitFor(() => expect((server.get("layer", "d1") as Layer).payload).toEqual({}));
  await waitFor(() => expect(sync.view.layers.d1?.version).toBe(2));
  return { server, sync, before, clock };
}

const layerOps = (server: FakeServer) =>
  server
    .callsOf("batch")
    .flatMap((args) => args[0] as { entity_type: string; op: string; id: string; data?: unknown; base_version?: number }[])
    .filter((op) => op.entity_type === "layer");

describe("clearing a scene's drawings can be undone", () => {
  const running = useTableTests();

  it("shows an Undo notice after clearing, and Undo writes the same drawings back on the cleared version", async () => {
    const { server, sync, before } = await renderWithDrawings(running);
    expect(before).toEqual({ strokes });
    const notice = await screen.findByText(/Cleared the drawings of Crypt\./);
    fireEvent.click(within(notice).getByRole("button", { name: "Undo" }));
    await waitFor(() => expect((server.get("layer", "d1") as Layer).payload).toEqual(before));
    expect(server.get("layer", "d1")?.version).toBe(3);
    // The write sent: one update of the layer, on the version the clear made, holding the strokes.
    const sent = layerOps(server);
    expect(sent.map((op) => [op.op, op.base_version])).toEqual([
      ["update", 1],
      ["update", 2],
    ]);
    expect(sent[1]?.data).toEqual({ payload: { strokes } });
    // The table's store holds the drawings as before, and the notice is gone.
    await waitFor(() => expect(sync.view.layers.d1?.payload).toEqual(before));
    expect(sync.store.world().layers.d1?.payload).toEqual(before);
    await waitFor(() => expect(screen.queryByText(/Cleared the drawings of Crypt\./)).toBeNull());
    expect(await screen.findByRole("button", { name: "Clear drawings" })).toBeTruthy();
  });

  it("queues the Undo while the server cannot be reached, and sends it once it can", async () => {
    const { server, sync, before, clock } = await renderWithDrawings(running);
    server.failNext("batch", "network");
    const notice = await screen.findByText(/Cleared the drawings of Crypt\./);
    fireEvent.click(within(notice).getByRole("button", { name: "Undo" }));
    // Queued and shown at once, though the server has not got it.
    await waitFor(() => expect(sync.view.sync.queue).toBe("waiting"));
    expect(sync.queue.state().ops.map((op) => [op.entity_type, op.id, op.base_version])).toEqual([["layer", "d1", 2]]);
    expect(sync.view.layers.d1?.payload).toEqual(before);
    expect((server.get("layer", "d1") as Layer).payload).toEqual({});
    await waitFor(() => expect(screen.queryByText(/Cleared the drawings of Crypt\./)).toBeNull());
    // The queue's retry sends it.
    await clock.advance(60_000);
    await waitFor(() => expect((server.get("layer", "d1") as Layer).payload).toEqual(before));
    expect(sync.queue.state().ops).toEqual([]);
  });

  it("refuses, and says so, when the drawings changed since they were cleared", async () => {
    const { server, sync } = await renderWithDrawings(running);
    // Another GM draws on the cleared layer, and this tab hears of it.
    const drawn = server.edit("layer", "d1", { payload: { strokes: { k3: { ...strokes.k1, at: 3 } } } });
    sync.accept([{ type: "layer", entity: drawn }]);
    await waitFor(() => expect(sync.view.layers.d1?.version).toBe(3));
    const notice = await screen.findByText(/Cleared the drawings of Crypt\./);
    fireEvent.click(within(notice).getByRole("button", { name: "Undo" }));
    expect(await screen.findByText(/Undo refused: the drawings of Crypt changed since they were cleared/)).toBeTruthy();
    // Nothing was written: the other GM's stroke stays, alone.
    expect(layerOps(server)).toHaveLength(1);
    expect(server.get("layer", "d1")?.version).toBe(3);
    expect((server.get("layer", "d1") as Layer).payload).toEqual({ strokes: { k3: { ...strokes.k1, at: 3 } } });
  });

  it("reports a conflict when the server's layer changed before this tab heard of it", async () => {
    const { server } = await renderWithDrawings(running);
    server.edit("layer", "d1", { payload: { strokes: { k3: { ...strokes.k1, at: 3 } } } });
    const notice = await screen.findByText(/Cleared the drawings of Crypt\./);
    fireEvent.click(within(notice).getByRole("button", { name: "Undo" }));
    // The write went out on the cleared version; the server refused it and the conflict is shown.
    await waitFor(() => expect(layerOps(server)).toHaveLength(2));
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByText("Conflicting change")).toBeTruthy();
    expect(dialog.textContent).toContain("before");
    expect(server.get("layer", "d1")?.version).toBe(3);
    expect((server.get("layer", "d1") as Layer).payload).toEqual({ strokes: { k3: { ...strokes.k1, at: 3 } } });
  });
});
