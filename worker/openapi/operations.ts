/**
 * Every operation of the HTTP API, described from the zod schemas its route validates with (bodies,
 * queries) and the response schemas of ./schemas.ts. One entry a route: the document is generated
 * from this table (./document.ts) and a test fails when a route of the app has no entry here.
 */
import { z } from "zod";
import { apiTokenCreateSchema, passwordChangeSchema } from "../../domain/accounts";
import { ackSchema, credentialsSchema, joinSchema, loginSchema, memberSchema, sessionCreateSchema } from "../../domain/api";
import { assetKindSchema } from "../../domain/assets";
import { idSchema } from "../../domain/entities";
import { type ErrorCode, errorStatus } from "../../domain/errors";
import { nameSchema } from "../../domain/fields";
import { opSchemasFor } from "../../domain/ops";
import { settingsPatchSchema } from "../../domain/settings";
import { turnBody } from "../../modules/initiative/worker";
import { conflictReportSchema } from "../metrics/client-reports";
import { registry } from "../registry";
import { moveSchema } from "../routes/admin";
import { restoreBody } from "../routes/backups";
import { listQuery, revertBody } from "../routes/entities";
import { lockBodySchema } from "../routes/locks";
import { changesQuery } from "../routes/reads";
import {
  assetAnswerSchema,
  assetSchema,
  authAnswerSchema,
  backupCreatedSchema,
  backupListSchema,
  batchResultSchema,
  changesSchema,
  clientsSchema,
  entitySchemaOf,
  healthSchema,
  historySchema,
  importedSchema,
  integritySchema,
  inviteSchema,
  itemsOf,
  joinedSchema,
  lockAnswerSchema,
  locksSchema,
  memberAnswerSchema,
  openObjectSchema,
  restoredSchema,
  schemaName,
  sessionCreatedSchema,
  sessionListSchema,
  settingsSchema,
  stateSchema,
  tokenCreatedSchema,
  tokenListSchema,
} from "./schemas";

/** Who may call an operation. `member`/`gm` are members of the session `{sid}` with that role. */
export type Access = "public" | "user" | "member" | "gm" | "operator" | "signed";

export interface Answer {
  description: string;
  /** A JSON body; absent for an empty answer or `media`. */
  schema?: z.ZodType;
  /** A body that is not JSON (a zip, an image, Prometheus text). */
  media?: string;
  headers?: readonly HeaderName[];
}

export type HeaderName = "If-Match" | "If-None-Match" | "Idempotency-Key" | "ETag" | "Retry-After" | "X-VTT-Bookmark";

export interface Operation {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Hono's spelling (`:sid`), as in `app.routes`. */
  path: string;
  summary: string;
  tag: string;
  access: Access;
  body?: z.ZodType;
  /** A body that is not JSON. */
  bodyMedia?: string;
  query?: z.ZodObject;
  /** Request headers the operation reads. */
  headers?: readonly HeaderName[];
  responses: Record<number, Answer>;
  /** Error codes the operation may answer with, beyond those every operation of its access may. */
  errors?: readonly ErrorCode[];
}

const S = "/api/vtt/sessions/:sid";
const { batchSchema } = opSchemasFor(registry);

const ok = (schema: z.ZodType, description = "OK", headers?: readonly HeaderName[]): Answer =>
  headers ? { description, schema, headers } : { description, schema };
const created = (schema: z.ZodType, description = "Created"): Answer => ({ description, schema });
const noContent: Answer = { description: "No content" };

/** The operations of one entity type at `{S}/<path>` (worker/routes/entities.ts). */
function entityOperations(type: string): Operation[] {
  const path = `${S}/${registry.paths[type]}`;
  const entity = entitySchemaOf(registry, type);
  const shape = registry.fieldsSchemas[type]?.shape ?? {};
  // Fresh objects from the type's fields (the route takes any JSON object and the session object
  // validates it with these; their cross-field refinements stay there).
  const createBody = z.strictObject({ id: idSchema.optional(), ...shape }).meta({ id: `${schemaName(type)}Create` });
  const patchBody = z
    .strictObject(shape)
    .partial()
    .meta({ id: `${schemaName(type)}Patch` });
  const tag = registry.moduleEntity(type) ? "module entities" : "entities";
  const writes: readonly ErrorCode[] = ["conflict", "locked", "rate_limited", "payload_too_large"];
  return [
    {
      method: "GET",
      path,
      summary: `List the ${type} entities the caller may see`,
      tag,
      access: "member",
      query: listQuery,
      responses: { 200: ok(itemsOf(entity)) },
    },
    {
      method: "POST",
      path,
      summary: `Create a ${type} (optional client-chosen \`id\`)`,
      tag,
      access: "member",
      body: createBody,
      headers: ["Idempotency-Key"],
      responses: { 201: created(entity) },
      errors: writes,
    },
    {
      method: "GET",
      path: `${path}/:id`,
      summary: `Read one ${type}`,
      tag,
      access: "member",
      responses: { 200: ok(entity, "The entity", ["ETag"]) },
    },
    {
      method: "PATCH",
      path: `${path}/:id`,
      summary: `Change a ${type} with a JSON Merge Patch (RFC 7396)`,
      tag,
      access: "member",
      body: patchBody,
      headers: ["If-Match", "Idempotency-Key"],
      responses: { 200: ok(entity, "The entity at version + 1") },
      errors: [...writes, "precondition_required"],
    },
    {
      method: "DELETE",
      path: `${path}/:id`,
      summary: `Archive a ${type} (soft delete)`,
      tag,
      access: "member",
      headers: ["Idempotency-Key"],
      responses: { 200: ok(entity, "The entity with archived_at set") },
      errors: writes,
    },
    {
      method: "GET",
      path: `${path}/:id/history`,
      summary: `Every version of a ${type}, newest first`,
      tag,
      access: "gm",
      responses: { 200: ok(historySchema) },
    },
    {
      method: "POST",
      path: `${path}/:id/revert`,
      summary: `Revert a ${type} to the fields of an earlier version`,
      tag,
      access: "gm",
      body: revertBody,
      headers: ["Idempotency-Key"],
      responses: { 200: ok(entity, "The entity at a new version") },
      errors: writes,
    },
    {
      method: "POST",
      path: `${path}/:id/restore`,
      summary: `Restore an archived ${type}`,
      tag,
      access: "member",
      headers: ["Idempotency-Key"],
      responses: { 200: ok(entity, "The entity with archived_at null") },
      errors: writes,
    },
  ];
}

const sessionStateOperations = entityOperations("session_state");
const sessionStatePatch = sessionStateOperations.find((o) => o.method === "PATCH")?.body;

export const operations: readonly Operation[] = [
  // Accounts
  {
    method: "POST",
    path: "/api/auth/register",
    summary: "Register; sets the vtt_session cookie",
    tag: "auth",
    access: "public",
    body: credentialsSchema,
    responses: { 201: created(authAnswerSchema) },
    errors: ["conflict", "rate_limited"],
  },
  {
    method: "POST",
    path: "/api/auth/login",
    summary: "Log in; sets the vtt_session cookie",
    tag: "auth",
    access: "public",
    body: loginSchema,
    responses: { 200: ok(authAnswerSchema) },
    errors: ["unauthorized", "rate_limited"],
  },
  { method: "GET", path: "/api/auth/me", summary: "The caller", tag: "auth", access: "user", responses: { 200: ok(authAnswerSchema) } },
  { method: "POST", path: "/api/auth/logout", summary: "Log out", tag: "auth", access: "public", responses: { 204: noContent } },
  {
    method: "POST",
    path: "/api/auth/password",
    summary: "Change the password; ends every other login and API token",
    tag: "auth",
    access: "user",
    body: passwordChangeSchema,
    responses: { 204: noContent },
  },
  {
    method: "POST",
    path: "/api/auth/tokens",
    summary: "Create an API token (shown once)",
    tag: "auth",
    access: "user",
    body: apiTokenCreateSchema,
    responses: { 201: created(tokenCreatedSchema) },
  },
  {
    method: "GET",
    path: "/api/auth/tokens",
    summary: "The caller's API tokens",
    tag: "auth",
    access: "user",
    responses: { 200: ok(tokenListSchema) },
  },
  {
    method: "DELETE",
    path: "/api/auth/tokens/:id",
    summary: "Revoke an API token",
    tag: "auth",
    access: "user",
    responses: { 204: noContent },
  },

  // Operations
  {
    method: "GET",
    path: "/api/vtt/health",
    summary: "Health of the database, storage and write backlog",
    tag: "operations",
    access: "public",
    responses: { 200: ok(healthSchema), 503: { description: "A check fails", schema: healthSchema } },
  },
  {
    method: "GET",
    path: "/api/vtt/metrics",
    summary: "Prometheus metrics (METRICS_TOKEN as bearer)",
    tag: "operations",
    access: "operator",
    responses: { 200: { description: "Prometheus text", media: "text/plain" } },
  },
  {
    method: "GET",
    path: "/api/vtt/admin/sessions/:sid/settings",
    summary: "Read any session's settings (ADMIN_TOKEN as bearer)",
    tag: "operations",
    access: "operator",
    responses: { 200: ok(settingsSchema) },
  },
  {
    method: "PATCH",
    path: "/api/vtt/admin/sessions/:sid/settings",
    summary: "Change any session's settings (ADMIN_TOKEN as bearer)",
    tag: "operations",
    access: "operator",
    body: settingsPatchSchema,
    responses: { 200: ok(settingsSchema) },
  },
  {
    method: "POST",
    path: "/api/vtt/admin/sessions/:sid/move",
    summary: "Move a session to another shard (ADMIN_TOKEN as bearer)",
    tag: "operations",
    access: "operator",
    body: moveSchema,
    responses: { 200: ok(openObjectSchema) },
    errors: ["conflict", "unavailable"],
  },
  {
    method: "GET",
    path: "/api/vtt/assets/:hash",
    summary: "An asset's bytes through its signed URL",
    tag: "assets",
    access: "signed",
    responses: { 200: { description: "The image", media: "image/*" } },
    errors: ["forbidden"],
  },

  // Sessions
  {
    method: "POST",
    path: "/api/vtt/sessions",
    summary: "Create a game session; the caller is its GM",
    tag: "sessions",
    access: "user",
    body: sessionCreateSchema,
    responses: { 201: created(sessionCreatedSchema) },
    errors: ["rate_limited"],
  },
  {
    method: "GET",
    path: "/api/vtt/sessions",
    summary: "The caller's sessions",
    tag: "sessions",
    access: "user",
    responses: { 200: ok(sessionListSchema) },
  },
  {
    method: "POST",
    path: "/api/vtt/sessions/:sid",
    summary: "Join a session with an invite code (`{sid}` is the word `join`: POST /api/vtt/sessions/join)",
    tag: "sessions",
    access: "user",
    body: joinSchema,
    responses: { 200: ok(joinedSchema) },
  },
  {
    method: "GET",
    path: S,
    summary: "One session: name, role, members, seq, settings",
    tag: "sessions",
    access: "member",
    responses: { 200: ok(openObjectSchema) },
  },
  {
    method: "POST",
    path: `${S}/metrics/conflicts`,
    summary: "Report how the client resolved conflicts",
    tag: "sessions",
    access: "member",
    body: conflictReportSchema,
    responses: { 204: noContent },
  },
  {
    method: "PUT",
    path: `${S}/members/:user_id`,
    summary: "Add a member or change a member's role",
    tag: "sessions",
    access: "gm",
    body: memberSchema,
    responses: { 200: ok(memberAnswerSchema) },
  },
  {
    method: "DELETE",
    path: `${S}/members/:user_id`,
    summary: "Remove a member",
    tag: "sessions",
    access: "gm",
    responses: { 204: noContent },
  },
  {
    method: "POST",
    path: `${S}/invite`,
    summary: "A new invite code",
    tag: "sessions",
    access: "gm",
    responses: { 200: ok(inviteSchema) },
  },

  // Reads
  {
    method: "GET",
    path: `${S}/state`,
    summary: "The session's full state, filtered for players",
    tag: "reads",
    access: "member",
    headers: ["If-None-Match"],
    responses: { 200: ok(stateSchema, "The state", ["ETag"]), 304: { description: "The client holds the current seq" } },
  },
  {
    method: "GET",
    path: `${S}/changes`,
    summary: "Changes after a seq, one row an entity",
    tag: "reads",
    access: "member",
    query: changesQuery,
    headers: ["If-None-Match"],
    responses: { 200: ok(changesSchema, "The changes", ["ETag"]), 304: { description: "Nothing changed" } },
    errors: ["gone"],
  },

  // Writes
  {
    method: "POST",
    path: `${S}/batch`,
    summary: "Apply a batch of ops atomically and idempotently",
    tag: "writes",
    access: "member",
    body: batchSchema,
    responses: { 200: ok(batchResultSchema, "The results", ["X-VTT-Bookmark"]) },
    errors: ["conflict", "locked", "rate_limited", "payload_too_large"],
  },
  ...registry.types.filter((t) => t !== "session_state").flatMap((t) => entityOperations(t)),
  {
    method: "GET",
    path: `${S}/session-state`,
    summary: "The session_state entity",
    tag: "entities",
    access: "member",
    responses: { 200: ok(entitySchemaOf(registry, "session_state"), "The session state", ["ETag"]) },
  },
  {
    method: "PATCH",
    path: `${S}/session-state`,
    summary: "Change the session_state with a JSON Merge Patch",
    tag: "entities",
    access: "member",
    ...(sessionStatePatch ? { body: sessionStatePatch } : {}),
    headers: ["If-Match", "Idempotency-Key"],
    responses: { 200: ok(entitySchemaOf(registry, "session_state")) },
    errors: ["conflict", "precondition_required", "rate_limited"],
  },
  {
    method: "POST",
    path: `${S}/scenes/:id/activate`,
    summary: "Activate a scene (recorded in the timeline)",
    tag: "entities",
    access: "gm",
    headers: ["Idempotency-Key"],
    responses: { 200: ok(entitySchemaOf(registry, "session_state"), "The session state") },
  },
  ...sessionStateOperations.filter((o) => o.path !== `${S}/session-state` || o.method === "POST"),

  // Backups, bundles
  {
    method: "GET",
    path: `${S}/backups`,
    summary: "The session's backups",
    tag: "backups",
    access: "gm",
    responses: { 200: ok(backupListSchema) },
  },
  {
    method: "POST",
    path: `${S}/backups`,
    summary: "Back the session up now",
    tag: "backups",
    access: "gm",
    responses: { 201: created(backupCreatedSchema) },
    errors: ["rate_limited"],
  },
  {
    method: "POST",
    path: `${S}/restore`,
    summary: "Restore the session from a backup (the latest, or the one at `at`)",
    tag: "backups",
    access: "gm",
    body: restoreBody,
    responses: { 201: created(restoredSchema, "A new session holding the restored state") },
    errors: ["rate_limited"],
  },
  {
    method: "GET",
    path: `${S}/scenes/:id/export`,
    summary: "Export a scene as a zip bundle",
    tag: "bundles",
    access: "gm",
    responses: { 200: { description: "scene.json, manifest.json and assets/", media: "application/zip" } },
    errors: ["rate_limited"],
  },
  {
    method: "POST",
    path: `${S}/import`,
    summary: "Import a scene bundle as a new scene",
    tag: "bundles",
    access: "gm",
    bodyMedia: "application/zip",
    // worker/routes/bundles.ts reads it: the new scene's name instead of the bundle's.
    query: z.object({ name: nameSchema.optional() }),
    headers: ["Idempotency-Key"],
    responses: { 201: created(importedSchema) },
    errors: ["payload_too_large"],
  },

  // Real time
  {
    method: "GET",
    path: `${S}/ws`,
    summary: "WebSocket upgrade; the messages are described at /api/protocol.json",
    tag: "realtime",
    access: "member",
    responses: { 101: { description: "Switching protocols" } },
    errors: ["rate_limited"],
  },
  {
    method: "POST",
    path: `${S}/ack`,
    summary: "Acknowledge change events over HTTP",
    tag: "realtime",
    access: "member",
    body: ackSchema,
    responses: { 204: noContent },
  },
  {
    method: "GET",
    path: `${S}/clients`,
    summary: "Connected clients",
    tag: "realtime",
    access: "gm",
    responses: { 200: ok(clientsSchema) },
  },
  {
    method: "GET",
    path: `${S}/settings`,
    summary: "The session's settings",
    tag: "realtime",
    access: "member",
    responses: { 200: ok(settingsSchema) },
  },
  {
    method: "PATCH",
    path: `${S}/settings`,
    summary: "Change the session's settings",
    tag: "realtime",
    access: "gm",
    body: settingsPatchSchema,
    responses: { 200: ok(settingsSchema) },
  },

  // Locks
  { method: "GET", path: `${S}/locks`, summary: "The scene locks held", tag: "locks", access: "gm", responses: { 200: ok(locksSchema) } },
  {
    method: "POST",
    path: `${S}/locks`,
    summary: "Lock a scene for editing",
    tag: "locks",
    access: "gm",
    body: lockBodySchema,
    responses: { 201: created(lockAnswerSchema) },
    errors: ["conflict"],
  },
  {
    method: "DELETE",
    path: `${S}/locks/:scene_id`,
    summary: "Release a scene lock",
    tag: "locks",
    access: "gm",
    responses: { 204: noContent },
    errors: ["conflict"],
  },

  // Integrity
  {
    method: "GET",
    path: `${S}/integrity`,
    summary: "Open integrity findings",
    tag: "integrity",
    access: "gm",
    responses: { 200: ok(integritySchema) },
  },
  {
    method: "POST",
    path: `${S}/integrity/check`,
    summary: "Check the session's integrity now",
    tag: "integrity",
    access: "gm",
    responses: { 200: ok(integritySchema) },
    errors: ["rate_limited"],
  },

  // Assets
  {
    method: "POST",
    path: `${S}/assets`,
    summary: "Upload an image (multipart field `file`, optional `kind`: map or token)",
    tag: "assets",
    access: "gm",
    bodyMedia: "multipart/form-data",
    // worker/routes/assets.ts reads it as the form field `kind` would be.
    query: z.object({ kind: assetKindSchema.optional() }),
    responses: { 201: created(assetAnswerSchema) },
    errors: ["payload_too_large", "unsupported_media_type", "rate_limited"],
  },
  {
    method: "GET",
    path: `${S}/assets`,
    summary: "The session's assets",
    tag: "assets",
    access: "member",
    responses: { 200: ok(itemsOf(assetSchema)) },
  },
  {
    method: "GET",
    path: `${S}/assets/:hash`,
    summary: "One asset",
    tag: "assets",
    access: "member",
    responses: { 200: ok(assetAnswerSchema) },
  },
  {
    method: "GET",
    path: `${S}/assets/:hash/file`,
    summary: "An asset's bytes (member access, no signature)",
    tag: "assets",
    access: "member",
    responses: { 200: { description: "The image", media: "image/*" } },
  },

  // Game modules
  ...(["next", "previous"] as const).map(
    (direction): Operation => ({
      method: "POST",
      path: `${S}/modules/initiative/encounters/:id/${direction}`,
      summary: `Initiative: move an encounter to its ${direction} turn`,
      tag: "module routes",
      access: "gm",
      body: turnBody,
      headers: ["Idempotency-Key"],
      responses: { 200: ok(openObjectSchema) },
      errors: ["conflict", "locked"],
    }),
  ),
];

/** The error codes any operation of an access level may answer with. */
export function errorsOf(op: Operation): ErrorCode[] {
  const codes = new Set<ErrorCode>(["bad_request", "not_found"]);
  if (op.access === "user" || op.access === "member" || op.access === "gm") codes.add("unauthorized");
  if (op.access === "operator") codes.add("unauthorized");
  if (op.access === "signed") codes.add("forbidden");
  if ((op.access === "user" || op.access === "member" || op.access === "gm") && op.method !== "GET") codes.add("csrf");
  if (op.access === "gm") codes.add("forbidden");
  if (op.access === "member" && op.method !== "GET") codes.add("forbidden");
  if (op.body || op.bodyMedia) codes.add("payload_too_large");
  // A session's writes (and socket upgrades) while an operator moves it between shards: retry.
  if ((op.access === "member" || op.access === "gm") && (op.method !== "GET" || op.path.endsWith("/ws"))) codes.add("unavailable");
  for (const code of op.errors ?? []) codes.add(code);
  return [...codes].sort((a, b) => errorStatus[a] - errorStatus[b] || a.localeCompare(b));
}
