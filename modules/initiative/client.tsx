import Dices from "lucide-solid/icons/dices";
import Play from "lucide-solid/icons/play";
import X from "lucide-solid/icons/x";
/**
 * The initiative panel beside the table.
 *
 * GMs prepare and run the encounters of the scene they look at: create one, add the scene's
 * tokens or free entries, set or roll initiative (d20 + modifier), hide combatants from players,
 * start and stop it, and move the turn. Every edit is a merge patch through the sync layer
 * (optimistic, queued offline, conflict-checked); the turn goes through the module's route so
 * the round's effects (conditions running out) commit with it.
 *
 * Players see the running encounter of the active scene: its order and whose turn it is, live as
 * changes arrive. Hidden combatants never reach them; a turn on one reads as a hidden combatant's.
 */
import { createMemo, createSignal, For, Show } from "solid-js";
import { ErrorMessage } from "../../client/src/components/ErrorMessage";
import { describeError } from "../../client/src/lib/api";
import type { ClientModule, ModuleUiProps } from "../../client/src/lib/modules";
import { createSubmitter } from "../../client/src/lib/submit";
import type { JsonObject } from "../../domain/merge-patch";
import { createInitiativeApi, type InitiativeApi } from "./client-api";
import { InitiativeOverlay, InitiativeTokenRing } from "./InitiativeOverlay";
import { rollInitiative } from "./rules";
import {
  combatantOfToken,
  type Encounter,
  encountersOfScene,
  type OrderRow,
  orderRows,
  parseScore,
  rollUnrolled,
  shownEncounter,
  turnLabel,
} from "./view";

export interface InitiativePanelProps extends ModuleUiProps {
  /** The module's route (tests pass their own). */
  api?: InitiativeApi;
  /** Dice (tests pass their own). */
  random?: () => number;
}

const newId = () => crypto.randomUUID();

export function InitiativePanel(props: InitiativePanelProps) {
  const api = createMemo(() => props.api ?? createInitiativeApi(props.sessionId));
  const random = () => props.random ?? Math.random;
  const [chosenId, setChosenId] = createSignal<string | null>(null);
  const sceneId = () => props.scene?.id;
  const encounters = createMemo(() => {
    const id = sceneId();
    return id ? encountersOfScene(props.sync.view.modules.encounter, id) : [];
  });
  // Players hold only the running encounters of the active scene (the server filters).
  const shown = createMemo(() => {
    const list = encounters();
    return props.isGm ? shownEncounter(list, chosenId()) : list.find((e) => e.active);
  });
  const tokenName = (tokenId: string) => {
    const token = props.sync.view.tokens[tokenId];
    return token && token.archived_at === null && token.scene_id === sceneId() ? token.name : undefined;
  };

  // Edits are queued at once, each of them (a submitter would drop one made while another is pending).
  const [editError, setEditError] = createSignal<string | null>(null);
  const edit = (encounter: Encounter, patch: JsonObject) => {
    setEditError(null);
    props.sync.update("encounter", encounter.id, patch).catch((error: unknown) => setEditError(describeError(error)));
  };
  const creating = createSubmitter(async (sceneIdToUse: string) => {
    const op = await props.sync.create("encounter", {
      name: `Encounter ${encounters().length + 1}`,
      scene_id: sceneIdToUse,
      active: false,
      round: 0,
      turn: null,
      combatants: {},
    });
    setChosenId(op.id);
  });
  const turning = createSubmitter(async (encounter: Encounter, direction: "next" | "previous") => {
    const answer = await api().moveTurn(encounter.id, direction, encounter.version);
    // Shown at once: an edit queued before the socket brings the turn would carry an old version.
    props.sync.accept([{ type: "encounter", entity: answer.encounter }]);
  });

  return (
    <div class="stack initiative-panel" data-testid="initiative-panel">
      <Show when={props.isGm || shown()}>
        <h2 class="subheading">Initiative</h2>
      </Show>
      <Show when={props.isGm}>
        <Show when={sceneId()} fallback={<p class="empty">Open a scene to run an encounter on it.</p>}>
          {(id) => (
            <div class="button-row">
              <Show when={encounters().length > 1}>
                <label class="field-label">
                  Encounter{" "}
                  <select value={shown()?.id ?? ""} onChange={(event) => setChosenId(event.currentTarget.value)}>
                    <For each={encounters()}>
                      {(encounter) => (
                        <option value={encounter.id}>
                          {encounter.name}
                          {encounter.active ? " (running)" : ""}
                        </option>
                      )}
                    </For>
                  </select>
                </label>
              </Show>
              <button type="button" class="button-small" disabled={creating.pending()} onClick={() => void creating.run(id())}>
                New encounter
              </button>
            </div>
          )}
        </Show>
        <Show when={sceneId() && encounters().length === 0}>
          <p class="empty">No encounter on this scene yet.</p>
        </Show>
      </Show>
      <Show when={shown()}>
        {(encounter) => (
          <EncounterView
            encounter={encounter()}
            isGm={props.isGm}
            pending={(props.sync.view.pending[`encounter:${encounter().id}`] ?? 0) > 0}
            // A player drops a combatant whose token left their view (hidden since it was sent).
            rows={orderRows(encounter(), tokenName).filter(
              (row) => props.isGm || row.combatant.token_id === null || row.tokenName !== null,
            )}
            sceneTokens={Object.values(props.sync.view.tokens).filter((t) => t.archived_at === null && t.scene_id === sceneId())}
            random={random()}
            onPatch={(patch) => edit(encounter(), patch)}
            onTurn={(direction) => void turning.run(encounter(), direction)}
            onArchive={() => {
              setEditError(null);
              props.sync.archive("encounter", encounter().id).catch((error: unknown) => setEditError(describeError(error)));
            }}
            turning={turning.pending()}
          />
        )}
      </Show>
      <ErrorMessage message={creating.error() ?? editError() ?? turning.error()} />
    </div>
  );
}

interface EncounterViewProps {
  encounter: Encounter;
  isGm: boolean;
  /** Edits of this encounter wait to be saved: the turn waits for them. */
  pending: boolean;
  rows: OrderRow[];
  sceneTokens: { id: string; name: string; hidden?: boolean }[];
  random: () => number;
  turning: boolean;
  onPatch: (patch: JsonObject) => void;
  onTurn: (direction: "next" | "previous") => void;
  onArchive: () => void;
}

function EncounterView(props: EncounterViewProps) {
  const [tokenToAdd, setTokenToAdd] = createSignal("");
  const [freeName, setFreeName] = createSignal("");
  const linked = () => new Set(Object.values(props.encounter.combatants).map((c) => c.token_id));
  const addable = () => props.sceneTokens.filter((t) => !linked().has(t.id));
  const patchCombatant = (id: string, fields: JsonObject | null) => props.onPatch({ combatants: { [id]: fields } });

  function addToken() {
    const token = addable().find((t) => t.id === tokenToAdd()) ?? addable()[0];
    if (!token) return;
    patchCombatant(newId(), { ...combatantOfToken(token) });
    setTokenToAdd("");
  }

  function addFree(event: SubmitEvent) {
    event.preventDefault();
    const name = freeName().trim();
    if (name === "") return;
    patchCombatant(newId(), { name, token_id: null, initiative: null, tiebreak: 0, hidden: false });
    setFreeName("");
  }

  function rollAll() {
    const rolls = rollUnrolled(props.encounter, props.random);
    if (rolls) props.onPatch({ combatants: rolls });
  }

  return (
    <section class="stack" aria-label={`Encounter ${props.encounter.name}`} data-encounter-id={props.encounter.id}>
      <div class="button-row">
        <strong>{props.encounter.name}</strong>
        <Show when={props.isGm}>
          <span class="badge" classList={{ "badge-active": props.encounter.active }}>
            {props.encounter.active ? "Running" : "Not shown to players"}
          </span>
        </Show>
      </div>
      <p class="status" data-testid="initiative-turn" aria-live="polite">
        {turnLabel(props.encounter)}
      </p>
      <Show when={props.isGm}>
        <div class="button-row">
          <button
            type="button"
            class="button-small"
            aria-pressed={props.encounter.active}
            onClick={() => props.onPatch({ active: !props.encounter.active })}
          >
            {props.encounter.active ? "Stop (hide from players)" : "Start (show to players)"}
          </button>
          <button
            type="button"
            class="button-small"
            disabled={props.turning || props.pending || props.encounter.round === 0}
            onClick={() => props.onTurn("previous")}
          >
            Previous turn
          </button>
          <button
            type="button"
            class="button-small"
            disabled={props.turning || props.pending || props.rows.length === 0}
            onClick={() => props.onTurn("next")}
          >
            {props.encounter.round === 0 ? "Begin round 1" : "Next turn"}
          </button>
        </div>
      </Show>
      <Show when={props.rows.length > 0} fallback={<p class="empty">No combatants yet.</p>}>
        <ol class="list" data-testid="initiative-order" aria-label="Turn order">
          <For each={props.rows}>
            {(row) => (
              <li
                class="list-item"
                data-testid="initiative-combatant"
                data-combatant-id={row.id}
                aria-current={row.current ? "step" : undefined}
                style={{ "font-weight": row.current ? "bold" : "normal" }}
              >
                <span class="item-name">
                  <Show when={row.current}>
                    <Play size={12} aria-hidden="true" />{" "}
                  </Show>
                  {row.combatant.name}
                </span>
                <Show when={props.isGm && row.combatant.hidden}>
                  {" "}
                  <span class="badge">hidden</span>
                </Show>
                <Show when={props.isGm && row.combatant.token_id !== null && row.tokenName === null}>
                  {" "}
                  <span class="hint">(token not on this scene)</span>
                </Show>
                <Show
                  when={props.isGm}
                  fallback={
                    <span class="hint" data-testid="initiative-score">
                      {" "}
                      {row.combatant.initiative ?? "–"}
                    </span>
                  }
                >
                  <CombatantControls row={row} random={props.random} onPatch={(fields) => patchCombatant(row.id, fields)} />
                </Show>
              </li>
            )}
          </For>
        </ol>
      </Show>
      <Show when={props.isGm}>
        <div class="button-row">
          <button type="button" class="button-small" onClick={rollAll} disabled={!props.rows.some((r) => r.combatant.initiative === null)}>
            Roll for everyone unrolled
          </button>
        </div>
        <div class="button-row">
          <label>
            <span class="visually-hidden">Token to add</span>
            <select aria-label="Token to add" value={tokenToAdd()} onChange={(event) => setTokenToAdd(event.currentTarget.value)}>
              <For each={addable()} fallback={<option value="">No token left to add</option>}>
                {(token) => <option value={token.id}>{token.name}</option>}
              </For>
            </select>
          </label>
          <button type="button" class="button-small" disabled={addable().length === 0} onClick={addToken}>
            Add token
          </button>
        </div>
        <form class="inline-form" onSubmit={addFree}>
          <input
            type="text"
            aria-label="Name of a combatant without a token"
            placeholder="Name (no token)"
            maxLength={200}
            value={freeName()}
            onInput={(event) => setFreeName(event.currentTarget.value)}
          />
          <button type="submit" class="button-small" disabled={freeName().trim() === ""}>
            Add
          </button>
        </form>
        <div class="button-row">
          <button type="button" class="button-small button-danger" onClick={() => props.onArchive()}>
            Delete encounter
          </button>
        </div>
      </Show>
    </section>
  );
}

function CombatantControls(props: { row: OrderRow; random: () => number; onPatch: (fields: JsonObject | null) => void }) {
  const name = () => props.row.combatant.name;
  const setScore = (field: "initiative" | "tiebreak", text: string) => {
    const value = parseScore(text);
    if (value === undefined || (field === "tiebreak" && value === null)) return;
    if (value !== props.row.combatant[field]) props.onPatch({ [field]: value });
  };
  return (
    <span class="button-row">
      <input
        type="number"
        min="-1000"
        max="1000"
        style={{ width: "4.5em" }}
        aria-label={`Initiative of ${name()}`}
        value={props.row.combatant.initiative ?? ""}
        onChange={(event) => setScore("initiative", event.currentTarget.value)}
      />
      <input
        type="number"
        min="-1000"
        max="1000"
        style={{ width: "3.5em" }}
        aria-label={`Modifier of ${name()}`}
        title="Modifier: added to rolls, breaks ties"
        value={props.row.combatant.tiebreak}
        onChange={(event) => setScore("tiebreak", event.currentTarget.value)}
      />
      <button
        type="button"
        class="button-small"
        aria-label={`Roll initiative for ${name()}`}
        title="Roll d20 + modifier"
        onClick={() => props.onPatch({ initiative: rollInitiative(props.row.combatant, props.random) })}
      >
        <Dices size={16} aria-hidden="true" />
      </button>
      <button
        type="button"
        class="button-small button-quiet"
        aria-pressed={props.row.combatant.hidden}
        aria-label={props.row.combatant.hidden ? `Show ${name()} to players` : `Hide ${name()} from players`}
        onClick={() => props.onPatch({ hidden: !props.row.combatant.hidden })}
      >
        {props.row.combatant.hidden ? "Show" : "Hide"}
      </button>
      <button type="button" class="button-small button-quiet" aria-label={`Remove ${name()}`} onClick={() => props.onPatch(null)}>
        <X size={16} aria-hidden="true" />
      </button>
    </span>
  );
}

export const initiativeClient: ClientModule = {
  name: "initiative",
  entities: [{ type: "encounter", path: "encounters", sceneField: "scene_id" }],
  Panel: InitiativePanel,
  panelPlace: { tab: "Initiative" },
  TableHud: InitiativeOverlay,
  CanvasOverlay: InitiativeTokenRing,
};
