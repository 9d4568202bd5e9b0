/**
 * Conditions on the table.
 *
 * The panel (GMs) lists the conditions of the selected token and adds or removes them: a kind
 * (or a custom one with its label), an optional icon (a few characters), hidden from players or
 * not, and an optional duration in rounds of the encounter running on the scene. A token's menu
 * (right-click or long press, GMs) toggles the common kinds in one click. The overlay (everyone)
 * draws each condition as a small badge on its token, an icon of the kind (drawn, so machines
 * without an emoji font show it too) or the GM's own characters; players only hold the
 * conditions they may see, and those that run out are archived by the server at the round
 * change, so their badges leave with the change.
 */
import ArrowDownToLine from "lucide-solid/icons/arrow-down-to-line";
import EyeOff from "lucide-solid/icons/eye-off";
import FlaskConical from "lucide-solid/icons/flask-conical";
import Ghost from "lucide-solid/icons/ghost";
import Hand from "lucide-solid/icons/hand";
import Heart from "lucide-solid/icons/heart";
import Link from "lucide-solid/icons/link";
import Moon from "lucide-solid/icons/moon";
import Skull from "lucide-solid/icons/skull";
import Snowflake from "lucide-solid/icons/snowflake";
import Sparkles from "lucide-solid/icons/sparkles";
import Star from "lucide-solid/icons/star";
import X from "lucide-solid/icons/x";
import { createMemo, createSignal, For, Show } from "solid-js";
import { Dynamic } from "solid-js/web";
import { ErrorMessage } from "../../client/src/components/ErrorMessage";
import { describeError } from "../../client/src/lib/api";
import type { CanvasOverlayProps, ClientModule, ModuleUiProps, TokenMenuProps } from "../../client/src/lib/modules";
import { createSubmitter } from "../../client/src/lib/submit";
import { asEncounter } from "../initiative/view";
import { type ConditionKind, conditionKinds, labelOf, MAX_ICON, MAX_LABEL } from "./rules";
import { badgeLayout, conditionsByToken, describeCondition, type HeldCondition, untilRoundFor } from "./view";

const capitalized = (kind: ConditionKind) => kind.charAt(0).toUpperCase() + kind.slice(1);

/** The drawn icon of each kind (lucide), used when the GM gave the condition no characters of their own. */
export const kindIcons = {
  blinded: EyeOff,
  charmed: Heart,
  frightened: Skull,
  grappled: Hand,
  invisible: Ghost,
  paralyzed: Snowflake,
  poisoned: FlaskConical,
  prone: ArrowDownToLine,
  restrained: Link,
  stunned: Sparkles,
  unconscious: Moon,
  custom: Star,
} as const satisfies Record<ConditionKind, unknown>;

/** A condition's icon: the GM's own characters, else the kind's drawn icon. */
function ConditionIcon(props: { condition: Pick<HeldCondition, "kind" | "icon">; size?: number }) {
  return (
    <Show when={props.condition.icon === ""} fallback={<span class="condition-icon-text">{props.condition.icon}</span>}>
      <Dynamic component={kindIcons[props.condition.kind] ?? Star} size={props.size ?? 16} aria-hidden={true} />
    </Show>
  );
}

export function ConditionsPanel(props: ModuleUiProps) {
  const token = () => {
    const id = props.selectedTokenId;
    const t = id ? props.sync.view.tokens[id] : undefined;
    return t && t.archived_at === null ? t : undefined;
  };
  const conditions = createMemo(() => {
    const t = token();
    return t ? (conditionsByToken(props.sync.view.modules.condition).get(t.id) ?? []) : [];
  });
  /** The encounter running on the token's scene: durations count its rounds. */
  const running = createMemo(() => {
    const sceneId = token()?.scene_id;
    if (!sceneId) return undefined;
    return Object.values(props.sync.view.modules.encounter ?? {})
      .map(asEncounter)
      .find((e) => e.archived_at === null && e.active && e.scene_id === sceneId);
  });

  const [kind, setKind] = createSignal<ConditionKind>("prone");
  const [label, setLabel] = createSignal("");
  const [icon, setIcon] = createSignal("");
  const [hidden, setHidden] = createSignal(false);
  const [rounds, setRounds] = createSignal("");
  const needsLabel = () => kind() === "custom" && label().trim() === "";
  const duration = () => {
    const n = Number(rounds());
    return rounds().trim() !== "" && Number.isInteger(n) && n >= 1 && n <= 1000 ? n : null;
  };

  const adding = createSubmitter(async (tokenId: string) => {
    const encounter = running();
    const n = duration();
    await props.sync.create("condition", {
      token_id: tokenId,
      kind: kind(),
      label: label().trim(),
      icon: icon().trim(),
      hidden: hidden(),
      encounter_id: encounter && n !== null ? encounter.id : null,
      until_round: encounter && n !== null ? untilRoundFor(encounter.round, n) : null,
    });
    setLabel("");
    setIcon("");
    setRounds("");
  });
  // Each removal is queued at once (a submitter would drop a second click made while one is pending).
  const [removeError, setRemoveError] = createSignal<string | null>(null);
  const remove = (id: string) => {
    setRemoveError(null);
    props.sync.archive("condition", id).catch((error: unknown) => setRemoveError(describeError(error)));
  };

  function submit(event: SubmitEvent) {
    event.preventDefault();
    const t = token();
    if (t && !needsLabel()) void adding.run(t.id);
  }

  return (
    <Show when={props.isGm}>
      <div class="stack conditions-panel" data-testid="conditions-panel">
        <h2 class="subheading">Conditions</h2>
        <Show when={token()} fallback={<p class="empty">Select a token to see and change its conditions.</p>}>
          {(t) => (
            <>
              <Show when={conditions().length > 0} fallback={<p class="empty">{t().name} has no conditions.</p>}>
                <ul class="list" aria-label={`Conditions of ${t().name}`}>
                  <For each={conditions()}>
                    {(condition) => (
                      <li class="list-item" data-testid="condition-item" data-condition-id={condition.id}>
                        <span aria-hidden="true">
                          <ConditionIcon condition={condition} />
                        </span>{" "}
                        <span class="item-name">{describeCondition(condition)}</span>
                        <Show when={condition.hidden}>
                          {" "}
                          <span class="badge">hidden</span>
                        </Show>{" "}
                        <button
                          type="button"
                          class="button-small button-quiet"
                          aria-label={`Remove ${labelOf(condition)}`}
                          onClick={() => remove(condition.id)}
                        >
                          <X aria-hidden={true} size={14} />
                        </button>
                      </li>
                    )}
                  </For>
                </ul>
              </Show>
              <form class="stack" aria-label={`Add a condition to ${t().name}`} onSubmit={submit}>
                <div class="field-row">
                  <label class="field">
                    <span class="field-label">Condition</span>
                    <select value={kind()} onChange={(event) => setKind(event.currentTarget.value as ConditionKind)}>
                      <For each={conditionKinds}>{(k) => <option value={k}>{capitalized(k)}</option>}</For>
                    </select>
                  </label>
                  <label class="field">
                    <span class="field-label">{kind() === "custom" ? "Label (required)" : "Label"}</span>
                    <input
                      type="text"
                      maxLength={MAX_LABEL}
                      value={label()}
                      aria-invalid={needsLabel()}
                      onInput={(event) => setLabel(event.currentTarget.value)}
                    />
                  </label>
                  <label class="field">
                    <span class="field-label">Icon (optional)</span>
                    <input
                      type="text"
                      maxLength={MAX_ICON}
                      placeholder="drawn"
                      style={{ width: "4em" }}
                      value={icon()}
                      onInput={(event) => setIcon(event.currentTarget.value)}
                    />
                  </label>
                </div>
                <div class="field-row">
                  <label class="field">
                    <span class="field-label">Rounds</span>
                    <input
                      type="number"
                      min="1"
                      max="1000"
                      style={{ width: "5em" }}
                      disabled={!running()}
                      value={rounds()}
                      onInput={(event) => setRounds(event.currentTarget.value)}
                    />
                  </label>
                  <label class="toggle">
                    <input type="checkbox" checked={hidden()} onChange={(event) => setHidden(event.currentTarget.checked)} /> Hidden from
                    players
                  </label>
                </div>
                <p class="hint">
                  <Show
                    when={running()}
                    fallback={"Lasts until removed. Start an encounter on this scene to give conditions a duration in rounds."}
                  >
                    {(encounter) => (
                      <Show when={duration()} fallback={`Lasts until removed, or give a number of rounds of ${encounter().name}.`}>
                        {(n) => `Ends when round ${untilRoundFor(encounter().round, n())} of ${encounter().name} begins.`}
                      </Show>
                    )}
                  </Show>
                </p>
                <div class="button-row">
                  <button type="submit" class="button-small" disabled={needsLabel() || adding.pending()}>
                    Add condition
                  </button>
                </div>
              </form>
            </>
          )}
        </Show>
        <ErrorMessage message={adding.error() ?? removeError()} />
      </div>
    </Show>
  );
}

function Badge(props: { condition: HeldCondition; box: { x: number; y: number; size: number }; tokenName: string }) {
  const text = () => `${describeCondition(props.condition)}${props.condition.hidden ? " (hidden from players)" : ""}`;
  return (
    <span
      role="img"
      data-testid="condition-badge"
      data-condition-id={props.condition.id}
      data-token-id={props.condition.token_id}
      aria-label={`${props.tokenName}: ${text()}`}
      title={text()}
      style={{
        position: "absolute",
        left: `${props.box.x}px`,
        top: `${props.box.y}px`,
        width: `${props.box.size}px`,
        height: `${props.box.size}px`,
        "font-size": `${Math.round(props.box.size * 0.68)}px`,
        "line-height": `${props.box.size}px`,
        "text-align": "center",
        display: "flex",
        "align-items": "center",
        "justify-content": "center",
        color: "#1b1b1b",
        "border-radius": "50%",
        background: "rgba(255, 255, 255, 0.92)",
        "box-shadow": "0 0 0 1px rgba(0, 0, 0, 0.35)",
        outline: props.condition.hidden ? "1px dashed rgba(0, 0, 0, 0.6)" : "none",
        opacity: props.condition.hidden ? "0.6" : "1",
        overflow: "hidden",
      }}
    >
      <ConditionIcon condition={props.condition} size={Math.round(props.box.size * 0.72)} />
    </span>
  );
}

export function ConditionsOverlay(props: CanvasOverlayProps) {
  const byToken = createMemo(() => conditionsByToken(props.sync.view.modules.condition));
  const placed = createMemo(() =>
    props.tokens.flatMap((token) => {
      const held = byToken().get(token.id) ?? [];
      const boxes = badgeLayout(token, held.length, props.cellPx);
      return held.map((condition, i) => ({ condition, box: boxes[i] ?? { x: token.x, y: token.y, size: 0 }, tokenName: token.name }));
    }),
  );
  return (
    <div
      class="conditions-overlay"
      data-testid="conditions-overlay"
      style={{ position: "absolute", left: "0", top: "0", width: "0", height: "0", overflow: "visible", "pointer-events": "none" }}
    >
      <For each={placed()}>{(entry) => <Badge condition={entry.condition} box={entry.box} tokenName={entry.tokenName} />}</For>
    </div>
  );
}

/** The kinds a token's menu toggles (a custom one needs its label: the panel adds those). */
const menuKinds = conditionKinds.filter((k) => k !== "custom");

/**
 * A token's menu (GMs): each common kind as a checkbox item, checked while the token has it.
 * Checking adds it (until removed, seen by players); unchecking removes every condition of that
 * kind on the token.
 */
export function ConditionsMenuItems(props: TokenMenuProps) {
  const held = createMemo(() => conditionsByToken(props.sync.view.modules.condition).get(props.token.id) ?? []);
  const [error, setError] = createSignal<string | null>(null);
  function toggle(kind: ConditionKind) {
    setError(null);
    const existing = held().filter((c) => c.kind === kind);
    const done =
      existing.length > 0
        ? Promise.all(existing.map((c) => props.sync.archive("condition", c.id)))
        : props.sync.create("condition", {
            token_id: props.token.id,
            kind,
            label: "",
            icon: "",
            hidden: false,
            encounter_id: null,
            until_round: null,
          });
    done.catch((e: unknown) => setError(describeError(e)));
  }
  return (
    <Show when={props.isGm}>
      <fieldset class="token-menu-group token-menu-conditions">
        <legend class="visually-hidden">Conditions</legend>
        <For each={menuKinds}>
          {(kind) => {
            const on = () => held().some((c) => c.kind === kind);
            return (
              <button
                type="button"
                role="menuitemcheckbox"
                class="token-menu-item"
                aria-checked={on()}
                tabIndex={-1}
                onClick={() => toggle(kind)}
              >
                <ConditionIcon condition={{ kind, icon: "" }} />
                <span>{capitalized(kind)}</span>
              </button>
            );
          }}
        </For>
        <Show when={error()}>
          {(message) => (
            <p class="module-error" role="alert">
              {message()}
            </p>
          )}
        </Show>
      </fieldset>
    </Show>
  );
}

export const conditionsClient: ClientModule = {
  name: "conditions",
  entities: [{ type: "condition", path: "conditions" }],
  Panel: ConditionsPanel,
  panelPlace: "token",
  CanvasOverlay: ConditionsOverlay,
  TokenMenuItems: ConditionsMenuItems,
};
