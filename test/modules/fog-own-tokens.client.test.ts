// @vitest-environment jsdom
/** A player's own tokens show through the fog overlay; others' stay under it, and GMs see no holes. */
import { cleanup, render, screen } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createClientModuleRegistry } from "../../client/src/lib/modules";
import type { SessionSync } from "../../client/src/lib/sync";
import type { AnyEntity, Token } from "../../client/src/lib/types";
import { fogClientModule } from "../../modules/fog/client";
import { newFogFields } from "../../modules/fog/client-tools";
import { FogOverlay, ownTokenHoles } from "../../modules/fog/FogOverlay";
import { fogIdFor } from "../../modules/fog/ids";
import { FakeServer } from "../client/helpers/fake-server";
import { scene, token } from "../client/helpers/fixtures";
import { useSyncHarness } from "../client/helpers/sync-harness";

const T0 = "2025-01-01T00:00:00.000Z";

/** The fake server with the active scene's fog in its state, as the real one. */
class FogServer extends FakeServer {
  override async getState(ifNoneMatchSeq?: number) {
    const snapshot = await super.getState(ifNoneMatchSeq);
    if (!snapshot) return snapshot;
    const fog = [...this.entities.values()].filter((e) => e.type === "fog").map((e) => structuredClone(e.entity));
    return { ...snapshot, modules: { fog, fog_chunk: [] } };
  }
}

const harness = useSyncHarness();
/** The session runs with the fog module only. */
const fogModules = createClientModuleRegistry([fogClientModule]);
const originalGetContext = HTMLCanvasElement.prototype.getContext;

beforeEach(() => {
  // jsdom has no canvas: the overlay draws nothing, its element and style are what is checked.
  HTMLCanvasElement.prototype.getContext = (() => null) as unknown as typeof HTMLCanvasElement.prototype.getContext;
});

afterEach(() => {
  cleanup();
  HTMLCanvasElement.prototype.getContext = originalGetContext;
});

async function renderOverlay(isGm: boolean, tokens: (userId: string) => Token[]) {
  const server = new FogServer();
  server.role = isGm ? "gm" : "player";
  server.put("scene", scene("s1") as AnyEntity, "create");
  server.put(
    "fog",
    {
      id: fogIdFor("s1"),
      version: 1,
      created_at: T0,
      updated_at: T0,
      updated_by: "u-gm",
      archived_at: null,
      ...newFogFields("s1", null),
    } as AnyEntity,
    "create",
  );
  const { sync } = await harness.start(server, { modules: fogModules });
  const props = { sessionId: "sess", userId: harness.ids.user, sync: sync as SessionSync, isGm, scene: scene("s1"), selectedTokenId: null };
  render(() => createComponent(FogOverlay, { ...props, cellPx: 64, tokens: tokens(harness.ids.user) }));
  const canvas = screen.getByTestId("fog-overlay").querySelector("canvas");
  if (!canvas) throw new Error("no fog canvas");
  return canvas;
}

describe("a player's own tokens under the fog overlay", () => {
  it("are cut out of the fog, others' tokens are not", async () => {
    const canvas = await renderOverlay(false, (me) => [
      token("mine", 1, { x: 128, y: 64, width: 2, height: 1, owner_user_ids: [me] }),
      token("theirs", 1, { x: 512, y: 512, owner_user_ids: ["someone-else"] }),
    ]);
    const clip = canvas.getAttribute("style") ?? "";
    expect(clip).toContain("clip-path");
    expect(clip).toContain("M128 64h128v64h-128Z");
    expect(clip).not.toContain("M512 512");
  });

  it("leaves the fog whole for a player who owns nothing there, and for GMs", async () => {
    const player = await renderOverlay(false, () => [token("theirs", 1, { owner_user_ids: ["someone-else"] })]);
    expect(player.getAttribute("style") ?? "").not.toContain("clip-path");
    cleanup();
    const gm = await renderOverlay(true, (me) => [token("mine", 1, { owner_user_ids: [me] })]);
    expect(gm.getAttribute("style") ?? "").not.toContain("clip-path");
  });

  it("keeps the outer shade: the path spans far beyond the table, holes cut with the even-odd rule", () => {
    const path = ownTokenHoles([token("a", 1, { x: 0, y: 0, owner_user_ids: ["me"] })], "me", 64);
    expect(path).toBe('path(evenodd, "M-65536 -65536H65536V65536H-65536ZM0 0h64v64h-64Z")');
  });
});
