/**
 * An entity's history as `GET {S}/<type>/{id}/history` lists it (newest first), and the words the
 * history panel shows for each version: who, when, and which fields changed to what. A version's
 * `diff` is the JSON Merge Patch from the version before (the whole entity for a `create`, and for
 * a `snapshot`: the earliest version still kept after older changes were compacted away).
 */
import type { EntityHistoryItem, EntityType } from "./types";

/** `op` is `create`, `update`, `archive`, `restore`, or `snapshot` for a compacted baseline. */
export type HistoryItem = EntityHistoryItem;

/** Fields every version carries: not what a person changed. */
const BOOKKEEPING = new Set(["id", "version", "created_at", "updated_at", "updated_by", "archived_at"]);
/** How many changed fields a summary names before "and N more". */
const MAX_FIELDS = 4;
const MAX_TEXT = 40;

export interface FieldChange {
  /** Dotted path for nested fields (`stats.hp`). */
  field: string;
  /** The new value as text, `removed` for a deleted key. */
  value: string;
}

/** The fields a version's diff changed, nested objects flattened one level (`stats.hp`). */
export function changedFields(diff: unknown): FieldChange[] {
  if (!isObject(diff)) return [];
  const out: FieldChange[] = [];
  for (const [key, value] of Object.entries(diff)) {
    if (BOOKKEEPING.has(key)) continue;
    if (isObject(value) && Object.keys(value).length > 0) {
      for (const [inner, innerValue] of Object.entries(value)) out.push({ field: `${key}.${inner}`, value: formatValue(innerValue) });
    } else {
      out.push({ field: key, value: formatValue(value) });
    }
  }
  return out;
}

export function formatValue(value: unknown): string {
  if (value === null) return "removed";
  if (typeof value === "string") return `“${value.length > MAX_TEXT ? `${value.slice(0, MAX_TEXT - 1)}…` : value}”`;
  if (typeof value === "number") return String(Math.round(value * 100) / 100);
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (Array.isArray(value)) return value.length === 0 ? "none" : value.length === 1 ? "1 item" : `${value.length} items`;
  if (isObject(value)) return Object.keys(value).length === 0 ? "empty" : "changed";
  return String(value);
}

/** One line for a version: "x → 120, y → 80", "Created “Ogre”", "Archived". */
export function summarizeVersion(item: HistoryItem): string {
  const diff = isObject(item.diff) ? item.diff : {};
  const name = typeof diff.name === "string" ? ` “${diff.name}”` : "";
  switch (item.op) {
    case "create":
      return `Created${name}`;
    case "snapshot":
      return "Earliest kept version (older changes were compacted)";
    case "archive":
      return "Archived";
    case "restore":
      return "Restored";
  }
  const fields = changedFields(diff);
  if ("archived_at" in diff) {
    const state = diff.archived_at === null ? "Restored" : "Archived";
    return fields.length === 0 ? state : `${state}; ${listFields(fields)}`;
  }
  return fields.length === 0 ? "No visible change" : listFields(fields);
}

function listFields(fields: FieldChange[]): string {
  const shown = fields
    .slice(0, MAX_FIELDS)
    .map((f) => `${f.field} → ${f.value}`)
    .join(", ");
  return fields.length > MAX_FIELDS ? `${shown} and ${fields.length - MAX_FIELDS} more` : shown;
}

/** The names of fields an op changed (for labels such as "token “Ogre”: x, y"). */
export function fieldNames(patch: unknown): string[] {
  return changedFields(patch)
    .map((f) => f.field.split(".")[0] as string)
    .filter((f, i, all) => all.indexOf(f) === i);
}

const TYPE_LABELS: Record<string, string> = {
  scene: "scene",
  folder: "folder",
  layer: "layer",
  token: "token",
  token_art: "token art",
  session_state: "table settings",
};

/** "token “Ogre”", "scene “Crypt”", "table settings". */
export function entityLabel(type: EntityType, entity: unknown): string {
  const label = TYPE_LABELS[type] ?? type;
  const name = isObject(entity) && typeof entity.name === "string" ? entity.name : null;
  return name ? `${label} “${name}”` : label;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
