/**
 * Conditions on the table.
 *
 * The panel (GMs) lists the conditions of the selected token and adds or removes them: a kind
 * (or a custom one with its label), an optional icon (an emoji), hidden from players or not, and
 * an optional duration in rounds of the encounter running on the scene. The overlay (everyone)
 * draws each condition as a small badge on its token; players only hold the conditions they may
 * see, and those that run out are archived by the server at the round change, so their badges
 * leave with the change.
 */
import { createMemo, createSignal, For, Show } from "solid-js";
import { ErrorMessage } from "../../client/src/components/ErrorMessage";
import { describeError } from "../../client/src/lib/api";
import type { CanvasOverlayProps, ClientModule, ModuleUiProps } from "../../client/src/lib/modules";
import { createSubmitter } from "../../client/src/lib/submit";
import { asEncounter } from "../initiative/view";
import { type ConditionKind, conditionKinds, defaultIcons, iconOf, labelOf, MAX_ICON, MAX_LABEL } from "./rules";
import { badgeLayout, conditionsByToken, describeCondition, type HeldCondition, untilRoundFor } from "./view";

const capitalized = (kind: ConditionKind) => kind.charAt(0).toUpperCase() + kind.slice(1);

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
                        <span aria-hidden="true">{iconOf(condition)}</span> <span class="item-name">{describeCondition(condition)}</span>
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
                          ✕
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
                      <For each={conditionKinds}>
                        {(k) => (
                          <option value={k}>
                            {defaultIcons[k]} {capitalized(k)}
                          </option>
                        )}
                      </For>
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
                    <span class="field-label">Icon (emoji)</span>
                    <input
                      type="text"
                      maxLength={MAX_ICON}
                      placeholder={defaultIcons[kind()]}
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
        "border-radius": "50%",
        background: "rgba(255, 255, 255, 0.92)",
        "box-shadow": "0 0 0 1px rgba(0, 0, 0, 0.35)",
        outline: props.condition.hidden ? "1px dashed rgba(0, 0, 0, 0.6)" : "none",
        opacity: props.condition.hidden ? "0.6" : "1",
        overflow: "hidden",
      }}
    >
      {iconOf(props.condition)}
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

export const conditionsClient: ClientModule = {
  name: "conditions",
  entities: [{ type: "condition", path: "conditions" }],
  Panel: ConditionsPanel,
  CanvasOverlay: ConditionsOverlay,
};
