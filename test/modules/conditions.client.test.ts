// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor, within } from "@solidjs/testing-library";
import { createComponent } from "solid-js";
import { afterEach, describe, expect, it } from "vitest";
import { createClientModuleRegistry } from "../../client/src/lib/modules";
import { applyMessage, applyState, createSessionStore } from "../../client/src/lib/store";
import type { SessionSync } from "../../client/src/lib/sync";
import type { AnyEntity, Token } from "../../client/src/lib/types";
import { clientModules } from "../../modules/client";
import { ConditionsMenuItems, ConditionsOverlay, ConditionsPanel } from "../../modules/conditions/client";
import type { Condition } from "../../modules/conditions/rules";
import { badgeLayout, badgeSize, conditionsByToken, describeCondition, untilRoundFor } from "../../modules/conditions/view";
import { fakeSync } from "../client/helpers/fake-gm";
import { scene, snapshot, token } from "../client/helpers/fixtures";

afterEach(cleanup);

const T0 = "2025-01-01T00:00:00.000Z";

function condition(
  id: string,
  fields: Partial<Condition> & { created_at?: string; archived_at?: string | null } = {},
  version = 1,
): AnyEntity {
  return {
    id,
    version,
    created_at: T0,
    updated_at: T0,
    updated_by: "u-gm",
    archived_at: null,
    token_id: "t1",
    kind: "prone",
    label: "",
    icon: "",
    encounter_id: null,
    until_round: null,
    hidden: false,
    ...fields,
  } as AnyEntity;
}

const runningEncounter = (round: number, fields: Record<string, unknown> = {}) =>
  ({
    id: "e1",
    version: 3,
    created_at: T0,
    updated_at: T0,
    updated_by: "u-gm",
    archived_at: null,
    name: "Ambush",
    scene_id: "s1",
    active: true,
    round,
    turn: null,
    combatants: {},
    ...fields,
  }) as AnyEntity;

const HERO = token("t1", 1, { name: "Hero", x: 64, y: 128 });
const OGRE = token("t2", 1, { name: "Ogre", x: 320, y: 64, width: 2, height: 2 });

function uiProps(sync: unknown, isGm: boolean, selectedTokenId: string | null = null) {
  return { sessionId: "sess", userId: isGm ? "u-gm" : "u-pl", sync: sync as SessionSync, isGm, scene: scene("s1"), selectedTokenId };
}

function renderOverlay(sync: unknown, tokens: Token[], isGm = true) {
  render(() => createComponent(ConditionsOverlay, { ...uiProps(sync, isGm), scene: scene("s1"), cellPx: 64, tokens }));
}

function renderPanel(options: { conditions?: AnyEntity[]; encounter?: AnyEntity; isGm?: boolean; selected?: string | null }) {
  const fake = fakeSync({
    scenes: { s1: scene("s1") },
    tokens: { t1: HERO, t2: OGRE },
    modules: {
      condition: Object.fromEntries((options.conditions ?? []).map((c) => [c.id, c])),
      encounter: options.encounter ? { [options.encounter.id]: options.encounter } : {},
    },
  });
  render(() =>
    createComponent(ConditionsPanel, uiProps(fake.sync, options.isGm ?? true, options.selected === undefined ? "t1" : options.selected)),
  );
  return fake;
}

const badges = () => screen.queryAllByTestId("condition-badge");

describe("badge placement", () => {
  it("sizes badges to about a third of a cell, within readable bounds", () => {
    expect([badgeSize(64), badgeSize(20), badgeSize(200)]).toEqual([22, 14, 28]);
  });

  it("places the first badge at the token's top-right corner, half above its edge", () => {
    expect(badgeLayout({ x: 100, y: 200, width: 1 }, 1, 64)).toEqual([{ x: 142, y: 189, size: 22 }]);
  });

  it("lines badges up leftwards as far as the token is wide, then starts a row below", () => {
    expect(badgeLayout({ x: 100, y: 200, width: 1 }, 3, 64)).toEqual([
      { x: 142, y: 189, size: 22 },
      { x: 120, y: 189, size: 22 },
      { x: 142, y: 211, size: 22 },
    ]);
    const wide = badgeLayout({ x: 0, y: 0, width: 2 }, 5, 64);
    expect(wide.map((b) => b.y)).toEqual([-11, -11, -11, -11, -11]);
    expect(wide.map((b) => b.x)).toEqual([106, 84, 62, 40, 18]);
  });

  it("treats a token without a usable width as one cell", () => {
    expect(badgeLayout({ x: 0, y: 0 }, 1, 64)).toEqual(badgeLayout({ x: 0, y: 0, width: 0 }, 1, 64));
  });
});

describe("condition display rules", () => {
  it("counts a duration from the current round, or from round 1 before the encounter begins", () => {
    expect(untilRoundFor(3, 2)).toBe(5);
    expect(untilRoundFor(0, 1)).toBe(2);
  });

  it("groups live conditions by token in the order they were added", () => {
    const grouped = conditionsByToken({
      b: condition("b", { created_at: "2025-01-01T00:00:02.000Z" }),
      a: condition("a", { created_at: "2025-01-01T00:00:01.000Z" }),
      gone: condition("gone", { archived_at: T0 }),
      o: condition("o", { token_id: "t2" }),
    });
    expect(Object.fromEntries([...grouped.entries()].map(([t, cs]) => [t, cs.map((c) => c.id)]))).toEqual({ t1: ["a", "b"], t2: ["o"] });
  });

  it("describes a condition by its label or kind and its last round", () => {
    expect(describeCondition({ kind: "stunned", label: "", until_round: 4 })).toBe("Stunned (until round 4)");
    expect(describeCondition({ kind: "custom", label: "Burning", until_round: null })).toBe("Burning");
  });
});

describe("the conditions overlay", () => {
  it("draws a badge for each condition at its token's place, none for tokens not on the canvas", () => {
    const fake = fakeSync({
      modules: {
        condition: {
          c1: condition("c1"),
          c2: condition("c2", { kind: "custom", label: "Burning", icon: "🔥", created_at: "2025-01-01T00:00:01.000Z" }),
          c3: condition("c3", { token_id: "t2", kind: "stunned", until_round: 4 }),
          c4: condition("c4", { token_id: "t9" }),
        },
      },
    });
    renderOverlay(fake.sync, [HERO, OGRE]);
    expect(badges().map((b) => b.getAttribute("data-condition-id"))).toEqual(["c1", "c2", "c3"]);
    const [prone, burning, stunned] = badges() as [HTMLElement, HTMLElement, HTMLElement];
    const [first, second] = badgeLayout(HERO, 2, 64);
    expect([prone.style.left, prone.style.top]).toEqual([`${first?.x}px`, `${first?.y}px`]);
    expect([burning.style.left, burning.style.top]).toEqual([`${second?.x}px`, `${second?.y}px`]);
    expect(stunned.style.left).toBe(`${(badgeLayout(OGRE, 1, 64)[0] as { x: number }).x}px`);
    // A kind's own icon is drawn (no emoji font needed); the GM's own characters stay text.
    expect(prone.textContent).toBe("");
    expect(prone.querySelector("svg")?.getAttribute("class")).toContain("arrow-down-to-line");
    expect(burning.textContent).toBe("🔥");
    expect(burning.querySelector("svg")).toBeNull();
    expect(screen.getByRole("img", { name: "Ogre: Stunned (until round 4)" })).toBe(stunned);
  });

  it("shows GMs a hidden condition faded and says it is hidden", () => {
    const fake = fakeSync({ modules: { condition: { c1: condition("c1", { hidden: true, kind: "custom", label: "Marked" }) } } });
    renderOverlay(fake.sync, [HERO]);
    const badge = screen.getByRole("img", { name: "Hero: Marked (hidden from players)" });
    expect(badge.style.opacity).toBe("0.6");
  });

  it("takes conditions from the state and removes a badge when its condition runs out", async () => {
    const store = createSessionStore();
    store.update((w) =>
      applyState(
        w,
        snapshot({
          seq: 3,
          scenes: [scene("s1")],
          tokens: [HERO],
          modules: { condition: [condition("c1", { encounter_id: "e1", until_round: 2 }), condition("c2", { kind: "poisoned" })] },
        }),
        createClientModuleRegistry(clientModules),
      ),
    );
    renderOverlay({ view: store.view, store }, [HERO], false);
    expect(badges()).toHaveLength(2);
    store.update((w) =>
      applyMessage(w, {
        type: "change",
        event_id: 4,
        seq: 4,
        entity_type: "condition",
        entity_id: "c1",
        version: 2,
        op: "archive",
        removed: true,
      }),
    );
    await waitFor(() => expect(badges().map((b) => b.getAttribute("data-condition-id"))).toEqual(["c2"]));
    // A new one arrives live too.
    store.update((w) =>
      applyMessage(w, {
        type: "change",
        event_id: 5,
        seq: 5,
        entity_type: "condition",
        entity_id: "c5",
        version: 1,
        op: "create",
        entity: condition("c5", { kind: "prone", created_at: "2025-01-01T00:00:05.000Z" }),
      }),
    );
    await waitFor(() => expect(badges().map((b) => b.getAttribute("data-condition-id"))).toEqual(["c2", "c5"]));
  });
});

describe("the conditions panel", () => {
  it("lists the selected token's conditions with a remove button each", async () => {
    const fake = renderPanel({
      conditions: [
        condition("c1"),
        condition("c2", { kind: "custom", label: "Burning", hidden: true }),
        condition("c3", { token_id: "t2" }),
      ],
    });
    const list = screen.getByRole("list", { name: "Conditions of Hero" });
    expect(
      within(list)
        .getAllByTestId("condition-item")
        .map((i) => i.getAttribute("data-condition-id")),
    ).toEqual(["c1", "c2"]);
    expect(within(list).getByText("hidden")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Remove Prone" }));
    fireEvent.click(screen.getByRole("button", { name: "Remove Burning" }));
    await waitFor(() =>
      expect(fake.writes).toEqual([
        { op: "archive", type: "condition", id: "c1" },
        { op: "archive", type: "condition", id: "c2" },
      ]),
    );
  });

  it("adds a condition lasting rounds of the running encounter: until its round plus the rounds", async () => {
    const fake = renderPanel({ encounter: runningEncounter(3) });
    fireEvent.change(screen.getByRole("combobox", { name: "Condition" }), { target: { value: "stunned" } });
    fireEvent.input(screen.getByRole("spinbutton", { name: "Rounds" }), { target: { value: "2" } });
    expect(screen.getByText("Ends when round 5 of Ambush begins.")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Add condition" }));
    await waitFor(() =>
      expect(fake.writes).toEqual([
        {
          op: "create",
          type: "condition",
          id: "new-1",
          data: { token_id: "t1", kind: "stunned", label: "", icon: "", hidden: false, encounter_id: "e1", until_round: 5 },
        },
      ]),
    );
  });

  it("adds a custom condition only with a label, with its own icon, hidden if asked", async () => {
    const fake = renderPanel({});
    fireEvent.change(screen.getByRole("combobox", { name: "Condition" }), { target: { value: "custom" } });
    const add = screen.getByRole("button", { name: "Add condition" }) as HTMLButtonElement;
    expect(add.disabled).toBe(true);
    fireEvent.input(screen.getByRole("textbox", { name: "Label (required)" }), { target: { value: " Burning " } });
    fireEvent.input(screen.getByRole("textbox", { name: "Icon (optional)" }), { target: { value: "🔥" } });
    fireEvent.click(screen.getByRole("checkbox", { name: "Hidden from players" }));
    expect(add.disabled).toBe(false);
    fireEvent.click(add);
    await waitFor(() => expect(fake.writes).toHaveLength(1));
    expect(fake.writes[0]?.data).toEqual({
      token_id: "t1",
      kind: "custom",
      label: "Burning",
      icon: "🔥",
      hidden: true,
      encounter_id: null,
      until_round: null,
    });
  });

  it("offers no duration without an encounter running on the token's scene", () => {
    renderPanel({ encounter: runningEncounter(2, { active: false }) });
    expect((screen.getByRole("spinbutton", { name: "Rounds" }) as HTMLInputElement).disabled).toBe(true);
  });

  it("asks for a selected token, and shows players nothing", () => {
    renderPanel({ selected: null });
    expect(screen.getByText("Select a token to see and change its conditions.")).toBeTruthy();
    cleanup();
    renderPanel({ isGm: false, conditions: [condition("c1")] });
    expect(screen.queryByTestId("conditions-panel")).toBeNull();
  });

  it("is registered with its entity type, panel and overlay", () => {
    const module = clientModules.find((m) => m.name === "conditions");
    expect(module?.entities).toEqual([{ type: "condition", path: "conditions" }]);
    expect(module?.Panel).toBe(ConditionsPanel);
    expect(module?.CanvasOverlay).toBe(ConditionsOverlay);
    expect(module?.TokenMenuItems).toBe(ConditionsMenuItems);
  });
});

describe("the token menu's conditions", () => {
  function renderMenu(conditions: AnyEntity[], isGm = true) {
    const fake = fakeSync({
      scenes: { s1: scene("s1") },
      tokens: { t1: HERO },
      modules: { condition: Object.fromEntries(conditions.map((c) => [c.id, c])) },
    });
    let closed = 0;
    render(() =>
      createComponent(ConditionsMenuItems, {
        ...uiProps(fake.sync, isGm),
        token: HERO,
        close: () => {
          closed++;
        },
      }),
    );
    return { fake, closed: () => closed };
  }

  it("checks the kinds the token has and adds one in a click, until removed and seen by players", async () => {
    const { fake } = renderMenu([condition("c1", { kind: "prone" })]);
    const group = screen.getByRole("group", { name: "Conditions" });
    expect(within(group).getByRole("menuitemcheckbox", { name: "Prone" }).getAttribute("aria-checked")).toBe("true");
    const stunned = within(group).getByRole("menuitemcheckbox", { name: "Stunned" });
    expect(stunned.getAttribute("aria-checked")).toBe("false");
    // Custom conditions need a label: the panel adds those.
    expect(within(group).queryByRole("menuitemcheckbox", { name: "Custom" })).toBeNull();
    fireEvent.click(stunned);
    await waitFor(() => expect(fake.writes).toHaveLength(1));
    expect(fake.writes[0]).toMatchObject({
      op: "create",
      type: "condition",
      data: { token_id: "t1", kind: "stunned", label: "", icon: "", hidden: false, encounter_id: null, until_round: null },
    });
  });

  it("removes every condition of a checked kind on the token", async () => {
    const { fake } = renderMenu([condition("c1", { kind: "prone" }), condition("c2", { kind: "prone", label: "Knocked down" })]);
    fireEvent.click(screen.getByRole("menuitemcheckbox", { name: "Prone" }));
    await waitFor(() => expect(fake.writes).toHaveLength(2));
    expect(fake.writes.map((w) => [w.op, w.id])).toEqual([
      ["archive", "c1"],
      ["archive", "c2"],
    ]);
  });

  it("offers players nothing", () => {
    renderMenu([condition("c1")], false);
    expect(screen.queryByRole("group", { name: "Conditions" })).toBeNull();
  });
});
