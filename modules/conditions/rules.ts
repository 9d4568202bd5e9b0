/**
 * The condition rules, shared by the worker and the web app: the kinds and their icons, when a
 * timed condition runs out. Plain TypeScript with no imports, so the web app uses them without
 * loading the schemas (zod) of domain.ts.
 */

export const conditionKinds = [
  "blinded",
  "charmed",
  "frightened",
  "grappled",
  "invisible",
  "paralyzed",
  "poisoned",
  "prone",
  "restrained",
  "stunned",
  "unconscious",
  "custom",
] as const;
export type ConditionKind = (typeof conditionKinds)[number];

/** The icon each kind shows unless the condition names its own. */
export const defaultIcons: Record<ConditionKind, string> = {
  blinded: "🙈",
  charmed: "💘",
  frightened: "😱",
  grappled: "🤼",
  invisible: "👻",
  paralyzed: "🧊",
  poisoned: "🤢",
  prone: "🛌",
  restrained: "⛓️",
  stunned: "💫",
  unconscious: "💤",
  custom: "⭐",
};

export const MAX_LABEL = 40;
export const MAX_ICON = 16;

export interface Condition {
  token_id: string;
  kind: ConditionKind;
  /** The name shown; required for `custom`. */
  label: string;
  /** An emoji or a few characters; empty: the kind's default icon. */
  icon: string;
  /** The encounter whose rounds count the duration; null: until removed. */
  encounter_id: string | null;
  /** The round of that encounter at which the condition ends. */
  until_round: number | null;
  hidden: boolean;
}

/** Whether a condition has run out at `round` of its encounter. */
export function hasExpired(condition: Pick<Condition, "until_round">, round: number): boolean {
  return condition.until_round !== null && round >= condition.until_round;
}

export function iconOf(condition: Pick<Condition, "kind" | "icon">): string {
  return condition.icon !== "" ? condition.icon : (defaultIcons[condition.kind] ?? defaultIcons.custom);
}

/** The name a condition shows: its label, else its kind ("prone" → "Prone"). */
export function labelOf(condition: Pick<Condition, "kind" | "label">): string {
  if (condition.label !== "") return condition.label;
  return condition.kind.charAt(0).toUpperCase() + condition.kind.slice(1);
}
