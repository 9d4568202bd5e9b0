/**
 * Operations on entities: the batch body of the contract, and the pure rules that turn an op and
 * the current entity into the next version (validation, merge patch, permissions). The session
 * object runs these; the REST routes build ops from requests so every write takes one path.
 */
import { z } from "zod";
import { type AnyEntity, type EntityType, idSchema, jsonObjectSchema } from "./entities";
import { type Failure, fail } from "./errors";
import { applyMergePatch, type Json, type JsonObject } from "./merge-patch";
import { type Actor, canWrite } from "./permissions";
import type { EntityRegistry } from "./registry";
import { fieldIssues } from "./validation";

export const MAX_BATCH_OPS = 500;
export const opIdSchema = z.guid("op_id must be a UUID");
const baseVersion = z.number().int().min(1);

function buildOpSchemas(entityTypeSchema: z.ZodType<EntityType, EntityType>) {
  const createOpSchema = z.strictObject({
    op_id: opIdSchema,
    entity_type: entityTypeSchema,
    op: z.literal("create"),
    id: idSchema.optional(),
    data: jsonObjectSchema,
  });
  const updateOpSchema = z.strictObject({
    op_id: opIdSchema,
    entity_type: entityTypeSchema,
    op: z.literal("update"),
    id: idSchema,
    base_version: baseVersion,
    data: jsonObjectSchema,
  });
  const archiveOpSchema = z.strictObject({
    op_id: opIdSchema,
    entity_type: entityTypeSchema,
    op: z.enum(["archive", "restore"]),
    id: idSchema,
    base_version: baseVersion.optional(),
  });
  const opSchema = z.discriminatedUnion("op", [createOpSchema, updateOpSchema, archiveOpSchema]);
  const batchSchema = z.strictObject({ ops: z.array(opSchema).min(1).max(MAX_BATCH_OPS) });
  return { createOpSchema, updateOpSchema, archiveOpSchema, opSchema, batchSchema };
}
export type OpSchemas = ReturnType<typeof buildOpSchemas>;

/** The batch body of the contract and its ops, for the entity types of `registry`. */
export function opSchemasFor(registry: EntityRegistry): OpSchemas {
  return buildOpSchemas(registry.entityTypeSchema);
}
export type Op = z.infer<OpSchemas["opSchema"]>;
export type OpKind = Op["op"];
export type Batch = z.infer<OpSchemas["batchSchema"]>;

export type Planned = { ok: true; entity: AnyEntity } | Failure;

/** Fields of a stored entity that a client may write, as a JSON object (the merge patch target). */
export function writableFields(registry: EntityRegistry, type: EntityType, entity: AnyEntity): JsonObject {
  const out: JsonObject = {};
  for (const key of registry.writableKeys(type)) {
    if (key in entity) out[key] = entity[key] as Json;
  }
  return out;
}

function parseFields(
  registry: EntityRegistry,
  type: EntityType,
  value: unknown,
  opId: string | undefined,
): { ok: true; fields: JsonObject } | Failure {
  const schema = registry.fieldsSchemas[type];
  if (!schema) throw new Error(`unknown entity type ${type}`);
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    return fail("bad_request", `invalid ${type}`, { ...(opId ? { op_id: opId } : {}), fields: fieldIssues(parsed.error) });
  }
  return { ok: true, fields: parsed.data as JsonObject };
}

/** A new entity at version 1. */
export function planCreate(
  registry: EntityRegistry,
  type: EntityType,
  id: string,
  data: Record<string, unknown>,
  actor: Actor,
  now: string,
  opId?: string,
): Planned {
  if (!canWrite(registry, actor, type, "create")) return fail("forbidden", "only a GM may create content");
  if (type === "session_state") return fail("bad_request", "a session has exactly one session_state; update it instead");
  const parsed = parseFields(registry, type, data, opId);
  if (!parsed.ok) return parsed;
  const entity: AnyEntity = {
    id,
    version: 1,
    created_at: now,
    updated_at: now,
    updated_by: actor.userId,
    archived_at: null,
    ...parsed.fields,
  };
  if (type === "token") entity.created_by = actor.userId;
  return { ok: true, entity };
}

/** The next version of `current` after a JSON Merge Patch. */
export function planUpdate(
  registry: EntityRegistry,
  type: EntityType,
  current: AnyEntity,
  patch: Record<string, unknown>,
  actor: Actor,
  now: string,
  opId?: string,
): Planned {
  const keys = Object.keys(patch);
  if (!canWrite(registry, actor, type, "update", current, keys)) {
    return fail("forbidden", actor.role === "player" ? "players may only move and rotate their own tokens" : "not allowed");
  }
  const writable = registry.writableKeys(type);
  const unknown = keys.filter((k) => !writable.includes(k));
  if (unknown.length > 0) {
    return fail("bad_request", "the patch names fields that cannot be written", {
      ...(opId ? { op_id: opId } : {}),
      fields: unknown.map((field) => ({ field, message: "not a writable field" })),
    });
  }
  const merged = applyMergePatch(writableFields(registry, type, current), patch as Json);
  const parsed = parseFields(registry, type, merged, opId);
  if (!parsed.ok) return parsed;
  return {
    ok: true,
    entity: { ...current, ...parsed.fields, version: current.version + 1, updated_at: now, updated_by: actor.userId },
  };
}

/** Archive (soft delete) or restore. */
export function planArchive(
  registry: EntityRegistry,
  type: EntityType,
  current: AnyEntity,
  kind: "archive" | "restore",
  actor: Actor,
  now: string,
): Planned {
  if (!canWrite(registry, actor, type, kind)) return fail("forbidden", "only a GM may archive or restore content");
  if (type === "session_state") return fail("bad_request", "the session state cannot be archived");
  return {
    ok: true,
    entity: {
      ...current,
      archived_at: kind === "archive" ? now : null,
      version: current.version + 1,
      updated_at: now,
      updated_by: actor.userId,
    },
  };
}

/**
 * An entity as it was at some version, rebuilt by applying its change-log diffs in order (the
 * first diff is the whole entity). Top-level fields a diff set to null come back as null.
 */
export function rebuildVersion(diffs: readonly Json[]): AnyEntity | undefined {
  let state: Json | undefined;
  for (const diff of diffs) state = applyMergePatch(state, diff);
  if (typeof state !== "object" || state === null || Array.isArray(state)) return undefined;
  return { archived_at: null, ...state } as AnyEntity;
}

/**
 * A revert: the next version of `current` whose fields (and archived state) equal `target`'s, an
 * earlier version of the same entity. History is never rewritten: this is one more change.
 */
export function planRevert(
  registry: EntityRegistry,
  type: EntityType,
  current: AnyEntity,
  target: AnyEntity,
  actor: Actor,
  now: string,
  opId?: string,
): Planned {
  if (!canWrite(registry, actor, type, "update")) return fail("forbidden", "only a GM may revert");
  const parsed = parseFields(registry, type, writableFields(registry, type, target), opId);
  if (!parsed.ok) return parsed;
  return {
    ok: true,
    entity: {
      ...current,
      ...parsed.fields,
      archived_at: target.archived_at ?? null,
      version: current.version + 1,
      updated_at: now,
      updated_by: actor.userId,
    },
  };
}

/** Whether an archive or restore would change nothing (the entity is already in that state). */
export function isNoOp(current: AnyEntity, kind: "archive" | "restore"): boolean {
  return kind === "archive" ? current.archived_at !== null : current.archived_at === null;
}
