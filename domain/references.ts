/**
 * Referential rules: which fields of an entity name another entity or an asset, and what they
 * must name. Everything named must belong to the same session.
 */
import type { AnyEntity, EntityType } from "./entities";
import type { EntityRegistry } from "./registry";

export type Reference =
  | { field: string; target: "entity"; type: EntityType; id: string; folderKind?: "scene" | "token"; mustBeLive?: boolean }
  | { field: string; target: "asset"; hash: string };

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

/**
 * The references an entity makes, as its type declares them (`references`, then `assets`);
 * `previous` limits them to values that differ from it.
 */
export function referencesOf(registry: EntityRegistry, type: EntityType, entity: AnyEntity, previous?: AnyEntity): Reference[] {
  const refs: Reference[] = [];
  const def = registry.definition(type);
  for (const ref of def?.references ?? []) {
    const before = new Map(previous ? valuesAt(previous, ref.field).map((v) => [v.path, v.value]) : []);
    const folderKind = typeof ref.folderKind === "function" ? ref.folderKind(entity) : ref.folderKind;
    for (const { path, value } of valuesAt(entity, ref.field)) {
      if (typeof value !== "string" || before.get(path) === value) continue;
      refs.push({
        field: path,
        target: "entity",
        type: ref.type,
        id: value,
        ...(folderKind ? { folderKind } : {}),
        ...(ref.mustBeLive ? { mustBeLive: true } : {}),
      });
    }
  }
  for (const field of def?.assets ?? []) {
    const hash = str(entity[field]);
    if (hash !== null && (!previous || previous[field] !== hash)) refs.push({ field, target: "asset", hash });
  }
  return refs;
}

/**
 * The values at a reference path of a JSON object (see `EntityReference.field`): each with the
 * concrete path it was found at (`combatants.c1.token_id`). Missing steps give nothing.
 */
export function valuesAt(object: unknown, path: string): { path: string; value: unknown }[] {
  const walk = (node: unknown, steps: readonly string[], at: string[]): { path: string; value: unknown }[] => {
    if (steps.length === 0) return node === undefined ? [] : [{ path: at.join("."), value: node }];
    if (typeof node !== "object" || node === null || Array.isArray(node)) return [];
    const [step, ...rest] = steps as [string, ...string[]];
    const record = node as Record<string, unknown>;
    if (step === "*") return Object.keys(record).flatMap((key) => walk(record[key], rest, [...at, key]));
    return Object.hasOwn(record, step) ? walk(record[step], rest, [...at, step]) : [];
  };
  return walk(object, path.split("."), []);
}

/** A copy of `object` with each value at the reference path replaced by `map(value)`. */
export function mapValuesAt<T>(object: T, path: string, map: (value: unknown) => unknown): T {
  const walk = (node: unknown, steps: readonly string[]): unknown => {
    if (typeof node !== "object" || node === null || Array.isArray(node)) return node;
    const [step, ...rest] = steps as [string, ...string[]];
    const record = node as Record<string, unknown>;
    const keys = step === "*" ? Object.keys(record) : Object.hasOwn(record, step) ? [step] : [];
    if (keys.length === 0) return node;
    const out = { ...record };
    for (const key of keys) out[key] = rest.length === 0 ? map(record[key]) : walk(record[key], rest);
    return out;
  };
  return walk(object, path.split(".")) as T;
}
