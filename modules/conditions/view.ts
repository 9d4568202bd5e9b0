/**
 * What the conditions UI shows, as pure functions: the conditions of a token, where their badges
 * go on the canvas, and the round a duration ends at.
 */
import { type Condition, type ConditionKind, conditionKinds, labelOf } from "./rules";

/** A condition as the web app holds it. */
export interface HeldCondition extends Condition {
  id: string;
  version: number;
  created_at: string;
  archived_at: string | null;
}

export function asCondition(entity: Readonly<Record<string, unknown>>): HeldCondition {
  const kind = conditionKinds.includes(entity.kind as ConditionKind) ? (entity.kind as ConditionKind) : "custom";
  return {
    id: String(entity.id),
    version: typeof entity.version === "number" ? entity.version : 0,
    created_at: typeof entity.created_at === "string" ? entity.created_at : "",
    archived_at: typeof entity.archived_at === "string" ? entity.archived_at : null,
    token_id: typeof entity.token_id === "string" ? entity.token_id : "",
    kind,
    label: typeof entity.label === "string" ? entity.label : "",
    icon: typeof entity.icon === "string" ? entity.icon : "",
    encounter_id: typeof entity.encounter_id === "string" ? entity.encounter_id : null,
    until_round: typeof entity.until_round === "number" ? entity.until_round : null,
    hidden: entity.hidden === true,
  };
}

/** Live conditions by token id, each token's in the order they were added. */
export function conditionsByToken(
  all: Readonly<Record<string, Readonly<Record<string, unknown>>>> | undefined,
): Map<string, HeldCondition[]> {
  const out = new Map<string, HeldCondition[]>();
  const sorted = Object.values(all ?? {})
    .map(asCondition)
    .filter((c) => c.archived_at === null)
    .sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
  for (const c of sorted) out.set(c.token_id, [...(out.get(c.token_id) ?? []), c]);
  return out;
}

export interface BadgeBox {
  /** Top left, in canvas pixels. */
  x: number;
  y: number;
  size: number;
}

/** A token as the canvas places it: x, y in pixels from the map's top left, width in cells. */
export interface PlacedToken {
  x: number;
  y: number;
  width?: number;
}

/** The side of a badge: about a third of a cell, within readable bounds. */
export function badgeSize(cellPx: number): number {
  return Math.max(14, Math.min(28, Math.round(cellPx * 0.34)));
}

/**
 * Where `count` badges of a token go: along its top edge from the top-right corner leftwards,
 * half outside the token so they cover little of it, as many a row as the token is wide, further
 * rows below.
 */
export function badgeLayout(token: PlacedToken, count: number, cellPx: number): BadgeBox[] {
  const size = badgeSize(cellPx);
  const cells = typeof token.width === "number" && Number.isFinite(token.width) && token.width > 0 ? token.width : 1;
  const widthPx = cells * cellPx;
  const perRow = Math.max(1, Math.floor(widthPx / size));
  return Array.from({ length: count }, (_, i) => {
    const row = Math.floor(i / perRow);
    const col = i % perRow;
    return { x: token.x + widthPx - (col + 1) * size, y: token.y - size / 2 + row * size, size };
  });
}

/**
 * The round a condition lasting `rounds` rounds ends at, counted from the encounter's current
 * round (round 1 when it has not begun): it runs out when that round begins.
 */
export function untilRoundFor(currentRound: number, rounds: number): number {
  return Math.max(1, currentRound) + rounds;
}

/** How a condition reads: "Prone", "Stunned (until round 4)". */
export function describeCondition(condition: Pick<Condition, "kind" | "label" | "until_round">): string {
  const until = condition.until_round !== null ? ` (until round ${condition.until_round})` : "";
  return `${labelOf(condition)}${until}`;
}
