import ChevronDown from "lucide-solid/icons/chevron-down";
import ChevronRight from "lucide-solid/icons/chevron-right";
/**
 * The initiative order as players see it during play: a small list floating at the table's top
 * right (not in scene pixels, so it stays put while the map moves), the combatants in turn order
 * with the current one emphasised, collapsible, with previous/next for GMs. The running encounter
 * of the scene on the table is shown; a GM preparing one without running it uses the panel.
 *
 * `InitiativeTokenRing` is its part on the map: a ring around the current combatant's token.
 */
import { createMemo, createSignal, For, Show } from "solid-js";
import "./overlay.css";
import { ErrorMessage } from "../../client/src/components/ErrorMessage";
import type { CanvasOverlayProps, ModuleUiProps } from "../../client/src/lib/modules";
import { createSubmitter } from "../../client/src/lib/submit";
import { createInitiativeApi, type InitiativeApi } from "./client-api";
import { type Encounter, encountersOfScene, orderRows } from "./view";

/** The running encounter of the scene on the table, if any. */
function runningEncounter(props: ModuleUiProps): Encounter | undefined {
  const id = props.scene?.id;
  return id ? encountersOfScene(props.sync.view.modules.encounter, id).find((e) => e.active) : undefined;
}

export function InitiativeOverlay(props: ModuleUiProps & { api?: InitiativeApi }) {
  const api = createMemo(() => props.api ?? createInitiativeApi(props.sessionId));
  const [open, setOpen] = createSignal(true);
  const encounter = createMemo(() => runningEncounter(props));
  const tokenName = (tokenId: string) => {
    const token = props.sync.view.tokens[tokenId];
    return token && token.archived_at === null && token.scene_id === props.scene?.id ? token.name : undefined;
  };
  const rows = createMemo(() => {
    const e = encounter();
    // A player drops a combatant whose token left their view (hidden since it was sent).
    return e ? orderRows(e, tokenName).filter((row) => props.isGm || row.combatant.token_id === null || row.tokenName !== null) : [];
  });
  const turning = createSubmitter(async (e: Encounter, direction: "next" | "previous") => {
    const answer = await api().moveTurn(e.id, direction, e.version);
    props.sync.accept([{ type: "encounter", entity: answer.encounter }]);
  });
  const pending = () => {
    const e = encounter();
    return e ? (props.sync.view.pending[`encounter:${e.id}`] ?? 0) > 0 : false;
  };

  return (
    <Show when={encounter()}>
      {(e) => (
        <section class="initiative-overlay" aria-label="Initiative" data-testid="initiative-overlay" data-encounter-id={e().id}>
          <header class="initiative-overlay-head">
            <button
              type="button"
              class="initiative-overlay-toggle"
              aria-expanded={open()}
              aria-label={open() ? "Collapse the initiative order" : "Show the initiative order"}
              onClick={() => setOpen(!open())}
            >
              {open() ? <ChevronDown size={14} aria-hidden="true" /> : <ChevronRight size={14} aria-hidden="true" />}
            </button>
            <span class="initiative-overlay-title">{e().round > 0 ? `Round ${e().round}` : "Initiative"}</span>
            <Show when={props.isGm}>
              <span class="initiative-overlay-turns">
                <button
                  type="button"
                  class="button-small button-quiet"
                  aria-label="Previous combatant"
                  title="Previous turn"
                  disabled={turning.pending() || pending() || e().round === 0}
                  onClick={() => void turning.run(e(), "previous")}
                >
                  ‹
                </button>
                <button
                  type="button"
                  class="button-small button-quiet"
                  aria-label="Next combatant"
                  title={e().round === 0 ? "Begin round 1" : "Next turn"}
                  disabled={turning.pending() || pending() || rows().length === 0}
                  onClick={() => void turning.run(e(), "next")}
                >
                  ›
                </button>
              </span>
            </Show>
          </header>
          <Show when={open()}>
            <Show when={rows().length > 0} fallback={<p class="initiative-overlay-empty">No combatants yet.</p>}>
              <ol class="initiative-overlay-list" aria-label="Initiative order">
                <For each={rows()}>
                  {(row) => (
                    <li
                      class="initiative-overlay-row"
                      classList={{ current: row.current }}
                      aria-current={row.current ? "step" : undefined}
                      data-testid="initiative-overlay-row"
                      data-combatant-id={row.id}
                    >
                      <span class="initiative-overlay-name">{row.combatant.name}</span>
                      <span class="initiative-overlay-score">{row.combatant.initiative ?? "–"}</span>
                    </li>
                  )}
                </For>
              </ol>
            </Show>
          </Show>
          <ErrorMessage message={turning.error()} />
        </section>
      )}
    </Show>
  );
}

/** A ring around the token whose turn it is, on the map. */
export function InitiativeTokenRing(props: CanvasOverlayProps) {
  const token = createMemo(() => {
    const e = runningEncounter(props);
    if (!e || e.round === 0 || e.turn === null) return undefined;
    const tokenId = e.combatants[e.turn]?.token_id;
    return tokenId ? props.tokens.find((t) => t.id === tokenId) : undefined;
  });
  const cells = (value: number | undefined) => (typeof value === "number" && value > 0 ? value : 1);
  return (
    <Show when={token()}>
      {(t) => (
        <div
          class="initiative-ring"
          aria-hidden="true"
          data-token-id={t().id}
          style={{
            left: `${t().x}px`,
            top: `${t().y}px`,
            width: `${cells(t().width) * props.cellPx}px`,
            height: `${cells(t().height) * props.cellPx}px`,
          }}
        />
      )}
    </Show>
  );
}
