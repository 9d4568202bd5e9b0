/**
 * The initiative rules, shared by the worker and the web app: turn order, advancing the turn,
 * what players receive of an encounter. Plain TypeScript with no imports, so the web app uses
 * them without loading the schemas (zod) of domain.ts.
 */

/** At most this many combatants in one encounter. */
export const MAX_COMBATANTS = 200;

export interface Combatant {
  name: string;
  /** A token of the session, or null for a free entry. */
  token_id: string | null;
  /** Null until rolled: unrolled combatants come last. */
  initiative: number | null;
  /** Breaks ties (higher first), e.g. the dexterity modifier; also the modifier of a roll. */
  tiebreak: number;
  /** Shown to GMs only. */
  hidden: boolean;
}

export interface TurnState {
  /** 0 before the first turn; 1 is the first round. */
  round: number;
  /** The combatant (key of `combatants`) whose turn it is. */
  turn: string | null;
  combatants: Readonly<Record<string, Combatant>>;
}

/** Combatant ids in turn order: initiative high to low (unrolled last), then tiebreak, name, id. */
export function turnOrder(combatants: Readonly<Record<string, Combatant>>): string[] {
  return Object.entries(combatants)
    .sort(([ida, a], [idb, b]) => {
      const ia = a.initiative ?? Number.NEGATIVE_INFINITY;
      const ib = b.initiative ?? Number.NEGATIVE_INFINITY;
      if (ia !== ib) return ib > ia ? 1 : -1;
      return b.tiebreak - a.tiebreak || a.name.localeCompare(b.name) || (ida < idb ? -1 : ida > idb ? 1 : 0);
    })
    .map(([id]) => id);
}

/**
 * The turn after (or before) the current one. The first "next" of an encounter starts round 1 at
 * the top of the order; passing the end starts the next round; "previous" at the top of round 1
 * stays there, and before the first round changes nothing. A turn on a combatant removed
 * meanwhile (or no turn in a running round) restarts the order of the current round, both ways.
 * Without combatants nothing changes.
 */
export function advanceTurn(encounter: TurnState, direction: "next" | "previous"): { round: number; turn: string | null } {
  const order = turnOrder(encounter.combatants);
  const top = order[0];
  if (top === undefined) return { round: encounter.round, turn: encounter.turn };
  if (encounter.round === 0) return direction === "next" ? { round: 1, turn: top } : { round: 0, turn: encounter.turn };
  const at = encounter.turn === null ? -1 : order.indexOf(encounter.turn);
  if (at === -1) return { round: encounter.round, turn: top };
  if (direction === "next") {
    const after = order[at + 1];
    return after !== undefined ? { round: encounter.round, turn: after } : { round: encounter.round + 1, turn: top };
  }
  const before = order[at - 1];
  if (before !== undefined) return { round: encounter.round, turn: before };
  if (encounter.round === 1) return { round: 1, turn: top };
  return { round: encounter.round - 1, turn: order.at(-1) ?? top };
}

/**
 * An encounter as players receive it: hidden combatants left out, and those standing for a token
 * players cannot see (when `visibleTokens` is known) — a GM who hides a token after it joined the
 * order hides its combatant too. `turn` stays as it is, so a turn on a left-out combatant reads as
 * "a hidden combatant" (its id tells nothing else).
 */
export function withoutHiddenCombatants<T extends Readonly<Record<string, unknown>>>(
  encounter: T,
  visibleTokens?: { has(id: string): boolean },
): T {
  const combatants = encounter.combatants as Record<string, Combatant> | undefined;
  const shown = (c: Combatant) => !c.hidden && (c.token_id === null || !visibleTokens || visibleTokens.has(c.token_id));
  if (!combatants || Object.values(combatants).every(shown)) return encounter;
  return { ...encounter, combatants: Object.fromEntries(Object.entries(combatants).filter(([, c]) => shown(c))) };
}

/** A d20 roll, 1 to 20, from a random number in [0, 1). */
export function rollD20(random: () => number = Math.random): number {
  return Math.min(20, Math.floor(random() * 20) + 1);
}

/** An initiative roll: d20 plus the combatant's tiebreak (its modifier). */
export function rollInitiative(combatant: Pick<Combatant, "tiebreak">, random: () => number = Math.random): number {
  return rollD20(random) + combatant.tiebreak;
}
