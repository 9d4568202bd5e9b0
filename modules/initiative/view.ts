/**
 * What the initiative panel shows, as pure functions of the entities the web app holds: which
 * encounter of a scene to show, its turn order as rows, whose turn it is in words. Players hold
 * encounters without their hidden combatants (the server leaves them out), so a turn on a hidden
 * combatant names no one.
 */
import { type Combatant, rollInitiative, turnOrder } from "./rules";

/** An encounter as the web app holds it: common entity fields plus the module's fields. */
export interface Encounter {
  id: string;
  version: number;
  created_at: string;
  archived_at: string | null;
  name: string;
  scene_id: string;
  active: boolean;
  round: number;
  turn: string | null;
  combatants: Record<string, Combatant>;
}

export interface OrderRow {
  id: string;
  combatant: Combatant;
  /** Whose turn it is. */
  current: boolean;
  /** 1-based place in the order. */
  place: number;
  /** The linked token's name when the token is on the table; null for free entries or a token no longer here. */
  tokenName: string | null;
}

/** Fills what an optimistic copy may lack, so the panel never reads undefined fields. */
export function asEncounter(entity: Readonly<Record<string, unknown>>): Encounter {
  const combatants = (typeof entity.combatants === "object" && entity.combatants !== null ? entity.combatants : {}) as Record<
    string,
    Partial<Combatant>
  >;
  return {
    id: String(entity.id),
    version: typeof entity.version === "number" ? entity.version : 0,
    created_at: typeof entity.created_at === "string" ? entity.created_at : "",
    archived_at: typeof entity.archived_at === "string" ? entity.archived_at : null,
    name: typeof entity.name === "string" ? entity.name : "Encounter",
    scene_id: typeof entity.scene_id === "string" ? entity.scene_id : "",
    active: entity.active === true,
    round: typeof entity.round === "number" ? entity.round : 0,
    turn: typeof entity.turn === "string" ? entity.turn : null,
    combatants: Object.fromEntries(
      Object.entries(combatants)
        .filter(([, c]) => c !== null && typeof c === "object")
        .map(([id, c]) => [
          id,
          {
            name: typeof c.name === "string" ? c.name : "?",
            token_id: typeof c.token_id === "string" ? c.token_id : null,
            initiative: typeof c.initiative === "number" ? c.initiative : null,
            tiebreak: typeof c.tiebreak === "number" ? c.tiebreak : 0,
            hidden: c.hidden === true,
          },
        ]),
    ),
  };
}

/** The live encounters of a scene, oldest first. */
export function encountersOfScene(
  all: Readonly<Record<string, Readonly<Record<string, unknown>>>> | undefined,
  sceneId: string,
): Encounter[] {
  return Object.values(all ?? {})
    .map(asEncounter)
    .filter((e) => e.archived_at === null && e.scene_id === sceneId)
    .sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
}

/** The encounter to show: the chosen one if still there, else the running one, else the newest. */
export function shownEncounter(encounters: readonly Encounter[], chosenId: string | null): Encounter | undefined {
  return encounters.find((e) => e.id === chosenId) ?? encounters.find((e) => e.active) ?? encounters.at(-1);
}

/** The turn order as rows, with the linked tokens' names. */
export function orderRows(encounter: Encounter, tokenNames: (tokenId: string) => string | undefined): OrderRow[] {
  return turnOrder(encounter.combatants).flatMap((id, index) => {
    const combatant = encounter.combatants[id];
    if (!combatant) return [];
    return [
      {
        id,
        combatant,
        current: encounter.round > 0 && encounter.turn === id,
        place: index + 1,
        tokenName: combatant.token_id !== null ? (tokenNames(combatant.token_id) ?? null) : null,
      },
    ];
  });
}

/** Whose turn it is, in words. */
export function turnLabel(encounter: Encounter): string {
  if (encounter.round === 0 || encounter.turn === null) return "Not started";
  const combatant = encounter.combatants[encounter.turn];
  if (!combatant) return `Round ${encounter.round}: a hidden combatant's turn`;
  return `Round ${encounter.round}: ${combatant.name}'s turn`;
}

/** A merge patch giving every unrolled combatant a roll (d20 + modifier); null when none is unrolled. */
export function rollUnrolled(encounter: Encounter, random: () => number = Math.random): Record<string, { initiative: number }> | null {
  const rolls = Object.entries(encounter.combatants)
    .filter(([, c]) => c.initiative === null)
    .map(([id, c]) => [id, { initiative: rollInitiative(c, random) }] as const);
  return rolls.length > 0 ? Object.fromEntries(rolls) : null;
}

/** A new combatant for a token of the scene: hidden tokens join hidden. */
export function combatantOfToken(token: { id: string; name: string; hidden?: boolean }): Combatant {
  return { name: token.name, token_id: token.id, initiative: null, tiebreak: 0, hidden: token.hidden === true };
}

/** "12" → 12, "" → null, anything else → undefined (not a change). */
export function parseScore(text: string): number | null | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return null;
  const value = Number(trimmed);
  return Number.isFinite(value) && value >= -1000 && value <= 1000 ? value : undefined;
}
