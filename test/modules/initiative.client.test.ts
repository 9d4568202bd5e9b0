// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor, within } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { setCsrfToken } from "../../client/src/lib/api";
import { createClientModuleRegistry } from "../../client/src/lib/modules";
import type { QueuedOp } from "../../client/src/lib/queue";
import { applyMessage, applyState, createSessionStore, emptyWorld } from "../../client/src/lib/store";
import type { SessionSync } from "../../client/src/lib/sync";
import type { AnyEntity } from "../../client/src/lib/types";
import { clientModules } from "../../modules/client";
import { InitiativePanel } from "../../modules/initiative/client";
import { createInitiativeApi, type InitiativeApi } from "../../modules/initiative/client-api";
import type { Combatant } from "../../modules/initiative/rules";
import {
  asEncounter,
  combatantOfToken,
  type Encounter,
  orderRows,
  parseScore,
  rollUnrolled,
  shownEncounter,
  turnLabel,
} from "../../modules/initiative/view";
import { fakeSync } from "../client/helpers/fake-gm";
import { scene, snapshot, token } from "../client/helpers/fixtures";

// The app's modules, as its entry builds them (client/src/main.tsx): these tests use the data layer without the table.
const modules = createClientModuleRegistry(clientModules);

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  setCsrfToken(null);
});

const T0 = "2025-01-01T00:00:00.000Z";
const fighter = (name: string, initiative: number | null, fields: Partial<Combatant> = {}): Combatant => ({
  name,
  token_id: null,
  initiative,
  tiebreak: 0,
  hidden: false,
  ...fields,
});

function encounter(id: string, fields: Partial<Encounter> = {}, version = 1): Encounter {
  return {
    id,
    version,
    created_at: T0,
    archived_at: null,
    name: `Fight ${id}`,
    scene_id: "s1",
    active: false,
    round: 0,
    turn: null,
    combatants: {},
    ...fields,
  };
}

const entity = (e: Encounter) => ({ ...e, updated_at: T0, updated_by: "u-gm" }) as unknown as AnyEntity;

const AMBUSH = encounter("e1", {
  active: true,
  round: 2,
  turn: "orc",
  combatants: {
    hero: fighter("Hero", 15, { token_id: "t1", tiebreak: 2 }),
    orc: fighter("Orc", 12),
    spy: fighter("Spy", 18, { hidden: true }),
    rat: fighter("Rat", null, { tiebreak: 1 }),
  },
});

function fakeApi(): InitiativeApi & { moveTurn: ReturnType<typeof vi.fn> } {
  return { moveTurn: vi.fn(async () => ({ encounter: entity(AMBUSH), effects: [], seq: 9 })) };
}

function renderPanel(options: { isGm: boolean; encounters?: Encounter[]; tokens?: ReturnType<typeof token>[]; random?: () => number }) {
  const fake = fakeSync({
    scenes: { s1: scene("s1") },
    tokens: Object.fromEntries((options.tokens ?? [token("t1", 1, { name: "Hero" })]).map((t) => [t.id, t])),
    modules: { encounter: Object.fromEntries((options.encounters ?? [AMBUSH]).map((e) => [e.id, entity(e)])) },
  });
  const api = fakeApi();
  render(() =>
    createComponent(InitiativePanel, {
      sessionId: "sess",
      userId: options.isGm ? "u-gm" : "u-pl",
      sync: fake.sync as unknown as SessionSync,
      isGm: options.isGm,
      scene: scene("s1"),
      selectedTokenId: null,
      api,
      random: options.random ?? (() => 0.5),
    }),
  );
  return { ...fake, api };
}

const rows = () => within(screen.getByTestId("initiative-order")).getAllByTestId("initiative-combatant");
const names = () => rows().map((r) => r.querySelector(".item-name")?.textContent?.trim());

describe("initiative panel logic", () => {
  it("orders the rows by initiative, marks whose turn it is and names linked tokens on the table", () => {
    const result = orderRows(AMBUSH, (id) => (id === "t1" ? "Hero token" : undefined));
    expect(result.map((r) => [r.id, r.place, r.current, r.tokenName])).toEqual([
      ["spy", 1, false, null],
      ["hero", 2, false, "Hero token"],
      ["orc", 3, true, null],
      ["rat", 4, false, null],
    ]);
    expect(orderRows({ ...AMBUSH, round: 0 }, () => undefined).some((r) => r.current)).toBe(false);
  });

  it("says whose turn it is, and only that it is a hidden combatant's when players do not hold it", () => {
    expect(turnLabel(AMBUSH)).toBe("Round 2: Orc's turn");
    expect(turnLabel({ ...AMBUSH, round: 0, turn: null })).toBe("Not started");
    const { spy: _spy, ...visible } = AMBUSH.combatants;
    expect(turnLabel({ ...AMBUSH, turn: "spy", combatants: visible })).toBe("Round 2: a hidden combatant's turn");
  });

  it("shows the chosen encounter, else the running one, else the newest", () => {
    const a = encounter("a", { created_at: "2025-01-01T00:00:01.000Z" });
    const b = encounter("b", { created_at: "2025-01-01T00:00:02.000Z", active: true });
    const c = encounter("c", { created_at: "2025-01-01T00:00:03.000Z" });
    expect(shownEncounter([a, b, c], "a")?.id).toBe("a");
    expect(shownEncounter([a, b, c], "gone")?.id).toBe("b");
    expect(shownEncounter([a, c], null)?.id).toBe("c");
    expect(shownEncounter([], null)).toBeUndefined();
  });

  it("rolls d20 + modifier for the unrolled combatants only", () => {
    expect(rollUnrolled(AMBUSH, () => 0.5)).toEqual({ rat: { initiative: 12 } });
    expect(rollUnrolled({ ...AMBUSH, combatants: { orc: fighter("Orc", 3) } })).toBeNull();
  });

  it("reads scores, fills an optimistic copy's gaps and adds hidden tokens as hidden combatants", () => {
    expect([parseScore("12"), parseScore(" "), parseScore("abc"), parseScore("5000")]).toEqual([12, null, undefined, undefined]);
    expect(asEncounter({ id: "x", combatants: { a: { name: "A" } } })).toMatchObject({
      round: 0,
      active: false,
      combatants: { a: { name: "A", token_id: null, initiative: null, tiebreak: 0, hidden: false } },
    });
    expect(combatantOfToken({ id: "t9", name: "Lurker", hidden: true })).toEqual(fighter("Lurker", null, { token_id: "t9", hidden: true }));
  });
});

describe("the GM's initiative panel", () => {
  it("lists the combatants in turn order with the current one marked and hidden ones flagged", () => {
    renderPanel({ isGm: true });
    expect(names()).toEqual(["Spy", "Hero", "Orc", "Rat"]);
    const [spy, , orc] = rows() as [HTMLElement, HTMLElement, HTMLElement];
    expect(orc.getAttribute("aria-current")).toBe("step");
    expect(within(spy).getByText("hidden")).toBeTruthy();
    expect(screen.getByTestId("initiative-turn").textContent).toBe("Round 2: Orc's turn");
  });

  it("rolls d20 + modifier for one combatant as a merge patch of that combatant", async () => {
    const fake = renderPanel({ isGm: true, random: () => 0.5 });
    fireEvent.click(screen.getByRole("button", { name: "Roll initiative for Hero" }));
    await waitFor(() =>
      expect(fake.writes).toEqual([{ op: "update", type: "encounter", id: "e1", data: { combatants: { hero: { initiative: 13 } } } }]),
    );
  });

  it("rolls for everyone unrolled in one patch", async () => {
    const fake = renderPanel({ isGm: true, random: () => 0 });
    fireEvent.click(screen.getByRole("button", { name: "Roll for everyone unrolled" }));
    await waitFor(() => expect(fake.writes[0]?.data).toEqual({ combatants: { rat: { initiative: 2 } } }));
  });

  it("sets and clears an initiative typed in", async () => {
    const fake = renderPanel({ isGm: true });
    fireEvent.change(screen.getByRole("spinbutton", { name: "Initiative of Orc" }), { target: { value: "17" } });
    fireEvent.change(screen.getByRole("spinbutton", { name: "Initiative of Hero" }), { target: { value: "" } });
    await waitFor(() =>
      expect(fake.writes.map((w) => w.data)).toEqual([
        { combatants: { orc: { initiative: 17 } } },
        { combatants: { hero: { initiative: null } } },
      ]),
    );
  });

  it("hides, shows and removes combatants", async () => {
    const fake = renderPanel({ isGm: true });
    fireEvent.click(screen.getByRole("button", { name: "Hide Orc from players" }));
    fireEvent.click(screen.getByRole("button", { name: "Show Spy to players" }));
    fireEvent.click(screen.getByRole("button", { name: "Remove Rat" }));
    await waitFor(() =>
      expect(fake.writes.map((w) => w.data)).toEqual([
        { combatants: { orc: { hidden: true } } },
        { combatants: { spy: { hidden: false } } },
        { combatants: { rat: null } },
      ]),
    );
  });

  it("adds a token of the scene (hidden tokens hidden) and a free entry", async () => {
    const fake = renderPanel({
      isGm: true,
      tokens: [token("t1", 1, { name: "Hero" }), token("t2", 1, { name: "Lurker", hidden: true }), token("t3", 1, { scene_id: "s2" })],
    });
    const picker = screen.getByRole("combobox", { name: "Token to add" }) as HTMLSelectElement;
    // Hero is already in; the token of another scene is not offered.
    expect([...picker.options].map((o) => o.textContent)).toEqual(["Lurker"]);
    fireEvent.click(screen.getByRole("button", { name: "Add token" }));
    fireEvent.input(screen.getByRole("textbox", { name: "Name of a combatant without a token" }), { target: { value: "Wolf" } });
    fireEvent.click(screen.getByRole("button", { name: "Add" }));
    await waitFor(() => expect(fake.writes).toHaveLength(2));
    const [lurker, wolf] = fake.writes.map((w) => Object.values(w.data?.combatants as Record<string, unknown>)[0]);
    expect(lurker).toEqual(fighter("Lurker", null, { token_id: "t2", hidden: true }));
    expect(wolf).toEqual(fighter("Wolf", null));
  });

  it("starts and stops the encounter, and creates a new one on the scene with every field", async () => {
    const fake = renderPanel({ isGm: true, encounters: [encounter("e2")] });
    fireEvent.click(screen.getByRole("button", { name: "Start (show to players)" }));
    fireEvent.click(screen.getByRole("button", { name: "New encounter" }));
    await waitFor(() => expect(fake.writes).toHaveLength(2));
    expect(fake.writes[0]).toEqual({ op: "update", type: "encounter", id: "e2", data: { active: true } });
    expect(fake.writes[1]).toMatchObject({
      op: "create",
      type: "encounter",
      data: { name: "Encounter 2", scene_id: "s1", active: false, round: 0, turn: null, combatants: {} },
    });
  });

  it("moves the turn through the module's route from the version it shows, not while edits wait", async () => {
    const fake = renderPanel({ isGm: true });
    fireEvent.click(screen.getByRole("button", { name: "Next turn" }));
    await waitFor(() => expect(fake.api.moveTurn).toHaveBeenCalledWith("e1", "next", 1));
    // One turn at a time: the buttons wait for the answer.
    await waitFor(() => expect((screen.getByRole("button", { name: "Previous turn" }) as HTMLButtonElement).disabled).toBe(false));
    fireEvent.click(screen.getByRole("button", { name: "Previous turn" }));
    await waitFor(() => expect(fake.api.moveTurn).toHaveBeenCalledWith("e1", "previous", 1));
    const pending: QueuedOp = {
      uuid: "q1",
      entity_type: "encounter",
      op: "update",
      id: "e1",
      payload: { name: "x" },
      base_version: 1,
      created_at: 0,
    };
    fake.store.setOps([pending]);
    await waitFor(() => expect((screen.getByRole("button", { name: "Next turn" }) as HTMLButtonElement).disabled).toBe(true));
  });

  it("shows the turn the route answered with at once, before the socket brings it", async () => {
    const fake = renderPanel({ isGm: true });
    fake.api.moveTurn.mockResolvedValueOnce({ encounter: { ...entity(AMBUSH), version: 2, round: 3, turn: "hero" }, effects: [], seq: 9 });
    fireEvent.click(screen.getByRole("button", { name: "Next turn" }));
    await waitFor(() => expect(fake.store.view.modules.encounter?.e1).toMatchObject({ version: 2, round: 3, turn: "hero" }));
    expect(fake.sync.accept).toHaveBeenCalledTimes(1);
  });

  it("offers to begin round 1 before the first turn, and no previous turn", () => {
    renderPanel({ isGm: true, encounters: [encounter("e3", { combatants: { a: fighter("A", 3) } })] });
    expect((screen.getByRole("button", { name: "Begin round 1" }) as HTMLButtonElement).disabled).toBe(false);
    expect((screen.getByRole("button", { name: "Previous turn" }) as HTMLButtonElement).disabled).toBe(true);
  });

  it("calls the route with the session cookie, the CSRF token and the base version", async () => {
    setCsrfToken("csrf-123");
    const fetchImpl = vi.fn(async () => Response.json({ encounter: entity(AMBUSH), effects: [], seq: 4 }));
    const answer = await createInitiativeApi("sess 1", fetchImpl as unknown as typeof fetch).moveTurn("e1", "next", 7);
    expect(answer.seq).toBe(4);
    const [url, init] = fetchImpl.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/api/vtt/sessions/sess%201/modules/initiative/encounters/e1/next");
    expect(init.method).toBe("POST");
    expect(init.credentials).toBe("include");
    expect(new Headers(init.headers).get("X-CSRF-Token")).toBe("csrf-123");
    expect(JSON.parse(String(init.body))).toEqual({ base_version: 7 });
  });
});

describe("the players' initiative panel", () => {
  it("shows the running encounter's order and a hidden combatant's turn without naming it, and no controls", () => {
    const { spy: _spy, ...visible } = AMBUSH.combatants;
    renderPanel({ isGm: false, encounters: [{ ...AMBUSH, turn: "spy", combatants: visible }] });
    expect(names()).toEqual(["Hero", "Orc", "Rat"]);
    expect(screen.getByTestId("initiative-turn").textContent).toBe("Round 2: a hidden combatant's turn");
    expect(screen.queryAllByRole("button")).toEqual([]);
    expect(screen.queryByRole("spinbutton")).toBeNull();
    expect(
      within(rows()[0] as HTMLElement)
        .getByTestId("initiative-score")
        .textContent?.trim(),
    ).toBe("15");
  });

  it("shows nothing when no encounter is running", () => {
    renderPanel({ isGm: false, encounters: [encounter("e4", { combatants: { a: fighter("A", 1) } })] });
    expect(screen.queryByTestId("initiative-order")).toBeNull();
    expect(screen.queryByTestId("initiative-turn")).toBeNull();
  });
});

describe("encounters in the data layer", () => {
  it("registers the encounter type with its path and scene field", () => {
    const module = clientModules.find((m) => m.name === "initiative");
    expect(module?.entities).toEqual([{ type: "encounter", path: "encounters", sceneField: "scene_id" }]);
    expect(module?.Panel).toBe(InitiativePanel);
  });

  it("takes encounters from the state and follows their changes live in a player's panel", async () => {
    const store = createSessionStore();
    const { spy: _spy, ...visible } = AMBUSH.combatants;
    const shown = { ...AMBUSH, combatants: visible };
    store.update((w) =>
      applyState(
        w,
        snapshot({ seq: 5, scenes: [scene("s1")], tokens: [token("t1", 1, { name: "Hero" })], modules: { encounter: [entity(shown)] } }),
        modules,
      ),
    );
    expect(Object.keys(store.view.modules.encounter ?? {})).toEqual(["e1"]);
    const sync = { view: store.view, store } as unknown as SessionSync;
    render(() =>
      createComponent(InitiativePanel, { sessionId: "sess", userId: "u-pl", sync, isGm: false, scene: scene("s1"), selectedTokenId: null }),
    );
    expect(screen.getByTestId("initiative-turn").textContent).toBe("Round 2: Orc's turn");

    const turned = { ...shown, turn: "rat", version: 2 };
    store.update((w) =>
      applyMessage(w, {
        type: "change",
        event_id: 6,
        seq: 6,
        entity_type: "encounter",
        entity_id: "e1",
        version: 2,
        op: "update",
        entity: entity(turned),
      }),
    );
    await waitFor(() => expect(screen.getByTestId("initiative-turn").textContent).toBe("Round 2: Rat's turn"));

    // Stopped: it leaves the players' view as a removal.
    store.update((w) =>
      applyMessage(w, {
        type: "change",
        event_id: 7,
        seq: 7,
        entity_type: "encounter",
        entity_id: "e1",
        version: 3,
        op: "update",
        removed: true,
      }),
    );
    await waitFor(() => expect(screen.queryByTestId("initiative-order")).toBeNull());
    expect(store.view.modules.encounter).toEqual({});
    // An older copy (a slow poll) cannot bring it back.
    store.update((w) => applyState(w, snapshot({ seq: 4, modules: { encounter: [entity(turned)] } }), modules));
    expect(store.view.modules.encounter).toEqual({});
  });

  it("keeps other scenes' encounters through a state of the active scene (they are loaded per scene)", () => {
    const other = encounter("e9", { scene_id: "s2" });
    let world = applyState(
      emptyWorld(),
      snapshot({ seq: 1, scenes: [scene("s1"), scene("s2")], modules: { encounter: [entity(AMBUSH), entity(other)] } }),
      modules,
    );
    world = applyState(world, snapshot({ seq: 2, scenes: [scene("s1"), scene("s2")], modules: { encounter: [] } }), modules);
    expect(Object.keys(world.modules.encounter ?? {})).toEqual(["e9"]);
  });
});
