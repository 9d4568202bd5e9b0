// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor, within } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { SessionSync } from "../../client/src/lib/sync";
import type { AnyEntity } from "../../client/src/lib/types";
import type { InitiativeApi } from "../../modules/initiative/client-api";
import { InitiativeOverlay, InitiativeTokenRing } from "../../modules/initiative/InitiativeOverlay";
import type { Combatant } from "../../modules/initiative/rules";
import type { Encounter } from "../../modules/initiative/view";
import { fakeSync } from "../client/helpers/fake-gm";
import { scene, token } from "../client/helpers/fixtures";

afterEach(cleanup);

const T0 = "2025-01-01T00:00:00.000Z";
const fighter = (name: string, initiative: number | null, fields: Partial<Combatant> = {}): Combatant => ({
  name,
  token_id: null,
  initiative,
  tiebreak: 0,
  hidden: false,
  ...fields,
});

const RUNNING: Encounter = {
  id: "e1",
  version: 4,
  created_at: T0,
  archived_at: null,
  name: "Ambush",
  scene_id: "s1",
  active: true,
  round: 2,
  turn: "orc",
  combatants: {
    hero: fighter("Hero", 15, { token_id: "t1" }),
    orc: fighter("Orc", 12, { token_id: "t2" }),
    wolf: fighter("Wolf", 18),
  },
};
const entity = (e: Encounter) => ({ ...e, updated_at: T0, updated_by: "u-gm" }) as unknown as AnyEntity;
const tokens = [token("t1", 1, { name: "Hero", x: 64, y: 64 }), token("t2", 1, { name: "Orc", x: 200, y: 100, width: 2, height: 2 })];

function setup(options: { isGm: boolean; encounters?: Encounter[] }) {
  const fake = fakeSync({
    scenes: { s1: scene("s1") },
    tokens: Object.fromEntries(tokens.map((t) => [t.id, t])),
    modules: { encounter: Object.fromEntries((options.encounters ?? [RUNNING]).map((e) => [e.id, entity(e)])) },
  });
  const next = { ...RUNNING, version: 5, turn: "hero" };
  const api = { moveTurn: vi.fn<InitiativeApi["moveTurn"]>(async () => ({ encounter: entity(next), effects: [], seq: 9 })) };
  const props = {
    sessionId: "sess",
    userId: options.isGm ? "u-gm" : "u-pl",
    sync: fake.sync as unknown as SessionSync,
    isGm: options.isGm,
    scene: scene("s1"),
    selectedTokenId: null,
  };
  return { ...fake, api, props };
}

const overlayRows = () =>
  within(screen.getByRole("list", { name: "Initiative order" }))
    .getAllByRole("listitem")
    .map((li) => [li.querySelector(".initiative-overlay-name")?.textContent, li.getAttribute("aria-current")]);

describe("the initiative order over the table", () => {
  it("shows players the running encounter in turn order with whose turn it is", () => {
    const { props, api } = setup({ isGm: false });
    render(() => createComponent(InitiativeOverlay, { ...props, api }));
    expect(screen.getByRole("region", { name: "Initiative" }).textContent).toContain("Round 2");
    expect(overlayRows()).toEqual([
      ["Wolf", null],
      ["Hero", null],
      ["Orc", "step"],
    ]);
    expect(screen.queryByRole("button", { name: "Next combatant" })).toBeNull();
  });

  it("shows nothing while no encounter of the scene is running", () => {
    const { props, api } = setup({ isGm: true, encounters: [{ ...RUNNING, active: false }] });
    render(() => createComponent(InitiativeOverlay, { ...props, api }));
    expect(screen.queryByTestId("initiative-overlay")).toBeNull();
  });

  it("folds to its heading and opens again", () => {
    const { props, api } = setup({ isGm: false });
    render(() => createComponent(InitiativeOverlay, { ...props, api }));
    fireEvent.click(screen.getByRole("button", { name: "Collapse the initiative order" }));
    expect(screen.queryByRole("list", { name: "Initiative order" })).toBeNull();
    expect(screen.getByRole("button", { name: "Show the initiative order" }).getAttribute("aria-expanded")).toBe("false");
    fireEvent.click(screen.getByRole("button", { name: "Show the initiative order" }));
    expect(overlayRows()).toHaveLength(3);
  });

  it("lets a GM move the turn from the overlay, showing the answer at once", async () => {
    const { props, api, sync } = setup({ isGm: true });
    render(() => createComponent(InitiativeOverlay, { ...props, api }));
    fireEvent.click(screen.getByRole("button", { name: "Next combatant" }));
    await waitFor(() => expect(api.moveTurn).toHaveBeenCalledWith("e1", "next", 4));
    await waitFor(() => expect(sync.accept).toHaveBeenCalledTimes(1));
    await waitFor(() =>
      expect(overlayRows()).toEqual([
        ["Wolf", null],
        ["Hero", "step"],
        ["Orc", null],
      ]),
    );
    fireEvent.click(screen.getByRole("button", { name: "Previous combatant" }));
    await waitFor(() => expect(api.moveTurn).toHaveBeenLastCalledWith("e1", "previous", 5));
  });

  it("rings the current combatant's token on the table, sized by the grid", () => {
    const { props } = setup({ isGm: false });
    render(() => createComponent(InitiativeTokenRing, { ...props, scene: scene("s1"), cellPx: 100, tokens }));
    const ring = document.querySelector<HTMLElement>(".initiative-ring");
    expect(ring?.dataset.tokenId).toBe("t2");
    expect([ring?.style.left, ring?.style.top, ring?.style.width, ring?.style.height]).toEqual(["200px", "100px", "200px", "200px"]);
  });

  it("rings no token before the first round", () => {
    const { props } = setup({ isGm: false, encounters: [{ ...RUNNING, round: 0, turn: null }] });
    render(() => createComponent(InitiativeTokenRing, { ...props, scene: scene("s1"), cellPx: 64, tokens }));
    expect(document.querySelector(".initiative-ring")).toBeNull();
  });
});
