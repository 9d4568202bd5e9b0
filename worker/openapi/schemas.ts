/**
 * Response bodies of the HTTP API as zod schemas, for the OpenAPI document (worker/openapi/) and
 * the contract tests that check real answers against it. Request bodies are not here: the document
 * takes them from the schemas the routes validate with. Responses are open objects (a client must
 * ignore fields it does not know) and list the fields the contract (and docs/API.md) names.
 */
import { z } from "zod";
import { baseFieldsSchema } from "../../domain/entities";
import { errorStatus } from "../../domain/errors";
import { roles } from "../../domain/permissions";
import type { EntityRegistry } from "../../domain/registry";

export const errorCodes = Object.keys(errorStatus) as (keyof typeof errorStatus)[];

/** The contract's error envelope, with its closed list of codes. */
export const errorEnvelopeSchema = z.strictObject({
  error: z.strictObject({
    code: z.enum(errorCodes as [keyof typeof errorStatus, ...(keyof typeof errorStatus)[]]),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});

export const userSchema = z.looseObject({ id: z.string(), username: z.string() }).meta({ id: "User" });
export const authAnswerSchema = z.looseObject({ user: userSchema, csrf_token: z.string().nullable() });
export const gameSessionSchema = z.looseObject({ id: z.string(), name: z.string(), created_at: z.string() }).meta({ id: "GameSession" });
export const roleSchema = z.enum(roles);

/** Any entity: the common fields and whatever its type adds. */
export const anyEntitySchema = z.looseObject(baseFieldsSchema.shape).meta({ id: "Entity" });

/** `token_art` → `TokenArt`: the name of a type's schema in the document. */
export const schemaName = (type: string) => type.replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase());

const entitySchemas = new Map<string, z.ZodType>();

/** An entity of `type` as the API answers with it: the common fields and the type's fields. */
export function entitySchemaOf(registry: EntityRegistry, type: string): z.ZodType {
  let schema = entitySchemas.get(type);
  if (!schema) {
    const fields = registry.fieldsSchemas[type];
    schema = z.looseObject({ ...baseFieldsSchema.shape, ...(fields?.shape ?? {}) }).meta({ id: schemaName(type) });
    entitySchemas.set(type, schema);
  }
  return schema;
}

export const itemsOf = <T extends z.ZodType>(item: T) => z.looseObject({ items: z.array(item) });

export const changeRowSchema = z
  .looseObject({
    seq: z.number().int(),
    entity_type: z.string(),
    entity_id: z.string(),
    version: z.number().int(),
    op: z.enum(["create", "update", "archive", "restore", "revert"]),
    entity: anyEntitySchema.optional(),
    removed: z.literal(true).optional(),
    related: z.array(z.looseObject({ entity_type: z.string(), entity: anyEntitySchema })).optional(),
  })
  .meta({ id: "ChangeRow" });

export const stateSchema = z
  .looseObject({
    seq: z.number().int(),
    session: gameSessionSchema,
    session_state: anyEntitySchema,
    scenes: z.array(anyEntitySchema),
    folders: z.array(anyEntitySchema),
    tokens: z.array(anyEntitySchema),
    token_art: z.array(anyEntitySchema),
    layers: z.array(anyEntitySchema),
    timeline: z.array(z.looseObject({})),
  })
  .meta({ id: "State" });

export const changesSchema = z.looseObject({
  seq: z.number().int(),
  changes: z.array(changeRowSchema),
  reload: z.literal(true).optional(),
});

export const batchResultSchema = z.looseObject({
  seq: z.number().int(),
  results: z.array(z.looseObject({ op_id: z.string(), entity: anyEntitySchema.nullable() })),
});

export const historySchema = itemsOf(
  z.looseObject({
    version: z.number().int(),
    seq: z.number().int(),
    op: z.string(),
    diff: z.unknown(),
    updated_by: z.string(),
    created_at: z.string(),
  }),
);

export const lockSchema = z
  .looseObject({ scene_id: z.string(), holder_user_id: z.string(), expires_at: z.string() })
  .meta({ id: "SceneLock" });

export const assetSchema = z
  .looseObject({
    hash: z.string(),
    mime: z.string(),
    size: z.number().int(),
    width: z.number().int(),
    height: z.number().int(),
    url: z.string(),
  })
  .meta({ id: "Asset" });

export const healthSchema = z.looseObject({
  status: z.enum(["ok", "failing"]).or(z.string()),
  checks: z.looseObject({ db: z.unknown(), storage: z.unknown(), backlog: z.unknown() }),
});

export const sessionListSchema = z.looseObject({
  sessions: z.array(z.looseObject({ id: z.string(), name: z.string(), role: roleSchema })),
});
export const sessionCreatedSchema = z.looseObject({ session: gameSessionSchema, invite_code: z.string() });
export const joinedSchema = z.looseObject({ session: gameSessionSchema, role: roleSchema });
export const memberAnswerSchema = z.looseObject({
  member: z.looseObject({ user_id: z.string(), username: z.string(), role: roleSchema }),
});
export const tokenCreatedSchema = z.looseObject({ token: z.string() });
export const tokenListSchema = z.looseObject({ tokens: z.array(z.looseObject({ id: z.string() })) });
export const inviteSchema = z.looseObject({ invite_code: z.string() });
export const clientsSchema = z.looseObject({
  clients: z.array(z.looseObject({ client_id: z.string(), user_id: z.string(), role: roleSchema })),
});
export const settingsSchema = z.looseObject({ settings: z.looseObject({}) });
export const locksSchema = z.looseObject({ locks: z.array(lockSchema) });
export const lockAnswerSchema = z.looseObject({ lock: lockSchema });
export const assetAnswerSchema = z.looseObject({ asset: assetSchema });
export const integritySchema = z.looseObject({ findings: z.array(z.looseObject({})), checked_at: z.string().nullable() });
export const importedSchema = z.looseObject({
  scene: anyEntitySchema,
  created: z.record(z.string(), z.union([z.number().int(), z.record(z.string(), z.number().int())])),
  seq: z.number().int(),
});
export const backupCreatedSchema = z.looseObject({
  backup: z.looseObject({
    kind: z.enum(["full", "incr"]),
    session_id: z.string(),
    created_at: z.string(),
    seq: z.number().int(),
    from_seq: z.number().int(),
    files: z.array(z.looseObject({ name: z.string(), sha256: z.string(), rows: z.number().int(), bytes: z.number().int() })),
  }),
});
export const backupListSchema = z.looseObject({
  backups: z.array(
    z.looseObject({
      id: z.string(),
      kind: z.enum(["full", "incr"]),
      created_at: z.string(),
      from_seq: z.number().int(),
      to_seq: z.number().int(),
    }),
  ),
});
export const restoredSchema = z.looseObject({
  session: gameSessionSchema,
  invite_code: z.string(),
  restored_seq: z.number().int(),
  seq: z.number().int(),
});
/** An open object: the fields are described in docs/API.md. */
export const openObjectSchema = z.looseObject({});
