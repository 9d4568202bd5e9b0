// @vitest-environment jsdom
/**
 * The game modules' registry is passed in, never shared: two apps (or two sessions' data layers)
 * built with different module lists in one process each see only their own types.
 */
import { cleanup, render, screen } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ModulePanels, modulePanelTabs } from "../../client/src/components/ModuleSlots";
import { createGmApi, createHistoryApi, createSessionApi, entityPathOf } from "../../client/src/lib/api";
import { createMemoryCache } from "../../client/src/lib/cache";
import { type ClientModule, type ClientModuleRegistry, createClientModuleRegistry } from "../../client/src/lib/modules";
import { applySceneModuleEntities, applyState, emptyWorld, type World } from "../../client/src/lib/store";
import { type SessionSync, startSync } from "../../client/src/lib/sync";
import type { WebSocketClass } from "../../client/src/lib/transport";
import type { AnyEntity, EntityType } from "../../client/src/lib/types";
import { FakeServer } from "./helpers/fake-server";
import { FakeWebSocket } from "./helpers/fake-socket";
import { scene, sessionState, snapshot } from "./helpers/fixtures";
import { ManualClock } from "./helpers/timers";

const T0 = "2025-01-01T00:00:00.000Z";

/** A panel: a paragraph with a test id. */
function panel(testId: string) {
  return () => {
    const p = document.createElement("p");
    p.dataset.testid = testId;
    return p;
  };
}

const alphaModule: ClientModule = {
  name: "alpha",
  entities: [{ type: "alpha_mark", path: "alpha-marks", sceneField: "scene_id" }],
  Panel: panel("alpha-panel"),
};
const betaModule: ClientModule = {
  name: "beta",
  entities: [{ type: "beta_note", path: "beta-notes", sceneField: "scene_id" }],
  Panel: panel("beta-panel"),
  panelPlace: { tab: "Notes" },
};

/** A module entity on a scene. */
function onScene(id: string, sceneId: string): AnyEntity {
  return { id, version: 1, created_at: T0, updated_at: T0, updated_by: "u-gm", archived_at: null, scene_id: sceneId } as AnyEntity;
}

function recordingFetch() {
  const urls: string[] = [];
  const fetchImpl = async (input: RequestInfo | URL) => {
    urls.push(String(input));
    return Response.json({ id: "x", version: 1, items: [] });
  };
  return { urls, fetchImpl: fetchImpl as typeof fetch };
}

describe("two registries in one process", () => {
  // Built in the same order an app's entry would: the second must not replace the first.
  const alpha = createClientModuleRegistry([alphaModule]);
  const beta = createClientModuleRegistry([betaModule]);

  it("give each API client the paths of its own modules' types only", async () => {
    const { urls, fetchImpl } = recordingFetch();
    await createSessionApi("s1", alpha, fetchImpl).getEntity("alpha_mark" as EntityType, "m1");
    await createSessionApi("s1", beta, fetchImpl).listByScene?.("beta_note" as EntityType, "s2");
    await createGmApi("s1", beta, fetchImpl).listArchived("beta_note" as EntityType);
    await createHistoryApi("s1", alpha, fetchImpl).history("alpha_mark" as EntityType, "m1");
    expect(urls).toEqual([
      "/api/vtt/sessions/s1/alpha-marks/m1",
      "/api/vtt/sessions/s1/beta-notes?scene_id=s2",
      "/api/vtt/sessions/s1/beta-notes?archived=true",
      "/api/vtt/sessions/s1/alpha-marks/m1/history",
    ]);
    // Each knows nothing of the other's types; both know the core's.
    expect(() => createSessionApi("s1", alpha, fetchImpl).getEntity("beta_note" as EntityType, "n1")).toThrow(
      "no path for entity type beta_note",
    );
    expect(() => createGmApi("s1", beta, fetchImpl).listArchived("alpha_mark" as EntityType)).toThrow("no path for entity type alpha_mark");
    expect(urls).toHaveLength(4);
    expect(entityPathOf("token_art", alpha)).toBe("token-art");
    expect(entityPathOf("token_art", beta)).toBe("token-art");
  });

  it("keep only their own scene-bound types of other scenes when a state comes in", () => {
    const held: World = {
      ...emptyWorld(),
      seq: 3,
      modules: { alpha_mark: { m1: onScene("m1", "s2") }, beta_note: { n1: onScene("n1", "s2") } },
    };
    const state = snapshot({ seq: 4, scenes: [scene("s1"), scene("s2")], session_state: sessionState(1, { active_scene_id: "s1" }) });
    expect(applyState(held, state, alpha).modules).toEqual({ alpha_mark: { m1: onScene("m1", "s2") } });
    expect(applyState(held, state, beta).modules).toEqual({ beta_note: { n1: onScene("n1", "s2") } });
  });

  it("replace a scene's listed entities only for their own scene-bound types", () => {
    const held: World = { ...emptyWorld(), seq: 3, modules: { alpha_mark: { m1: onScene("m1", "s2") } } };
    // alpha's registry: the scene's list replaces what was held for it (m1 is gone, m2 is in).
    expect(applySceneModuleEntities(held, "alpha_mark" as EntityType, "s2", [onScene("m2", "s2")], alpha).modules).toEqual({
      alpha_mark: { m2: onScene("m2", "s2") },
    });
    // beta's does not know the type as scene-bound: the list only adds.
    expect(applySceneModuleEntities(held, "alpha_mark" as EntityType, "s2", [onScene("m2", "s2")], beta).modules).toEqual({
      alpha_mark: { m1: onScene("m1", "s2"), m2: onScene("m2", "s2") },
    });
  });
});

/** A server whose module routes list a scene's entities of any type it holds. */
class ListingServer extends FakeServer {
  readonly listed: [string, string][] = [];
  // A property, not a method: the data layer calls it unbound.
  listByScene = async (type: string, sceneId: string): Promise<AnyEntity[]> => {
    this.listed.push([type, sceneId]);
    return [...this.entities.values()]
      .filter((e) => e.type === type && e.entity.scene_id === sceneId)
      .map((e) => structuredClone(e.entity));
  };
}

describe("two sessions' data layers built with different modules", () => {
  const running: SessionSync[] = [];

  beforeEach(() => FakeWebSocket.reset());
  afterEach(async () => {
    cleanup();
    for (const sync of running.splice(0)) await sync.stop();
  });

  function serverWithBoth(): ListingServer {
    const server = new ListingServer();
    server.put("scene", scene("s1") as AnyEntity, "create");
    server.put("scene", scene("s2") as AnyEntity, "create");
    server.put("alpha_mark" as EntityType, onScene("m1", "s2"), "create");
    server.put("beta_note" as EntityType, onScene("n1", "s2"), "create");
    return server;
  }

  async function start(server: FakeServer, modules: ClientModuleRegistry, userId: string): Promise<SessionSync> {
    const clock = new ManualClock();
    const sync = await startSync({
      sessionId: "sess",
      userId,
      modules,
      api: server,
      socketUrl: "ws://test/api/vtt/sessions/sess/ws",
      WebSocket: FakeWebSocket as unknown as WebSocketClass,
      openCache: async () => createMemoryCache(),
      timers: clock,
      now: clock.now,
      random: () => 0.5,
      reportMetric: () => undefined,
      onOnline: () => () => undefined,
    });
    running.push(sync);
    await sync.ready;
    return sync;
  }

  it("each loads, keeps and shows only its own modules' types", async () => {
    const alpha = createClientModuleRegistry([alphaModule]);
    const beta = createClientModuleRegistry([betaModule]);
    const serverA = serverWithBoth();
    const serverB = serverWithBoth();
    const a = await start(serverA, alpha, "u-a");
    const b = await start(serverB, beta, "u-b");
    expect(a.modules).toBe(alpha);
    expect(b.modules).toBe(beta);

    await a.loadScene("s2");
    await b.loadScene("s2");
    expect(serverA.listed).toEqual([["alpha_mark", "s2"]]);
    expect(serverB.listed).toEqual([["beta_note", "s2"]]);
    expect(Object.keys(a.view.modules)).toEqual(["alpha_mark"]);
    expect(a.view.modules.alpha_mark?.m1).toMatchObject({ id: "m1", scene_id: "s2" });
    expect(Object.keys(b.view.modules)).toEqual(["beta_note"]);
    expect(b.view.modules.beta_note?.n1).toMatchObject({ id: "n1", scene_id: "s2" });

    // A new state (s1 active) keeps each one's entities of s2.
    const statesA = serverA.callsOf("getState").length;
    await a.reload();
    await b.reload();
    expect(serverA.callsOf("getState").length).toBe(statesA + 1);
    expect(Object.keys(a.view.modules)).toEqual(["alpha_mark"]);
    expect(Object.keys(b.view.modules)).toEqual(["beta_note"]);

    // The table's module slots show the modules of their own sync layer.
    const props = (sync: SessionSync) => ({ sessionId: "sess", userId: "u", sync, isGm: true, scene: scene("s1"), selectedTokenId: null });
    const first = render(() => createComponent(ModulePanels, props(a)));
    const second = render(() => createComponent(ModulePanels, props(b)));
    expect(first.container.querySelector("[data-module]")?.getAttribute("data-module")).toBe("alpha");
    expect(first.container.querySelectorAll("[data-module]")).toHaveLength(1);
    expect(second.container.querySelector("[data-module]")?.getAttribute("data-module")).toBe("beta");
    expect(second.container.querySelectorAll("[data-module]")).toHaveLength(1);
    expect(screen.getAllByTestId("alpha-panel")).toHaveLength(1);
    expect(screen.getAllByTestId("beta-panel")).toHaveLength(1);
    expect(modulePanelTabs(a.modules)).toEqual([{ id: "module-alpha", label: "Alpha", module: "alpha" }]);
    expect(modulePanelTabs(b.modules)).toEqual([{ id: "module-beta", label: "Notes", module: "beta" }]);
  });
});

describe("createClientModuleRegistry", () => {
  it("refuses two modules declaring one type or one path", () => {
    expect(() => createClientModuleRegistry([alphaModule, alphaModule])).toThrow("declared twice");
    const samePath: ClientModule = { name: "gamma", entities: [{ type: "gamma_mark", path: "alpha-marks" }] };
    expect(() => createClientModuleRegistry([alphaModule, samePath])).toThrow("declared twice");
  });
});
