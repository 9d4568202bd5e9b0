/**
 * REST routes of the entities of a session. Reads come from D1 through the player filter; every
 * write is an op handed to the session's Durable Object, the same path the batch endpoint takes.
 */

import { and, asc, eq } from "drizzle-orm";
import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import { type AnyEntity, type EntityType, idSchema, jsonObjectSchema } from "../../domain/entities";
import type { Json } from "../../domain/merge-patch";
import { opIdSchema, rebuildVersion } from "../../domain/ops";
import type { InternalOp } from "../../domain/plan";
import { fieldIssues } from "../../domain/validation";
import { ApiError } from "../api-error";
import type { Db } from "../db/client";
import { listEntities, loadEntity } from "../db/entities";
import { loadSessionState, readerFilter, writeResultFor } from "../db/reads";
import { BOOKMARK_HEADER } from "../db/replicas";
import { changeLog, entityBaselines, sceneLayers } from "../db/schema";
import { sessionDb } from "../db/shards";
import { timeSave } from "../metrics/recorder";
import { requireGm } from "../middleware/auth";
import { jsonBody, KiB, MiB } from "../middleware/body";
import { registry } from "../registry";
import { applyOps } from "../session/stub";
import type { AppEnv } from "../types";

export const ENTITY_BODY_LIMIT = 1 * MiB;

function idParam(c: Context<AppEnv>): string {
  const id = idSchema.safeParse(c.req.param("id"));
  if (!id.success) throw new ApiError("not_found", "no such entity");
  return id.data;
}

/** `If-Match: "7"` (or W/"7") → 7. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(header);
  if (!match?.[1]) throw new ApiError("bad_request", 'If-Match must be a version such as "3"');
  return Number(match[1]);
}

/** A caller may make a REST write idempotent with `Idempotency-Key: <uuid>`; it becomes the op id. */
function opId(c: Context<AppEnv>): { op_id: string; fresh?: true } {
  const key = c.req.header("idempotency-key");
  if (key === undefined) return { op_id: crypto.randomUUID(), fresh: true };
  const parsed = opIdSchema.safeParse(key);
  if (!parsed.success) throw new ApiError("bad_request", "Idempotency-Key must be a UUID");
  return { op_id: parsed.data };
}

/** Sends one op to the session object and answers with the resulting entity, as the caller may see it. */
async function writeOne(c: Context<AppEnv>, op: InternalOp, status: 200 | 201 = 200) {
  const { sessionId, role } = c.get("member");
  const result = await timeSave(c, "rest", [op], () => applyOps(c.env, sessionId, { userId: c.get("user").id, role }, [op]));
  const entity = result.results[0]?.entity;
  if (!entity) throw new Error("a write returned no entity");
  c.set("log", { entity_type: op.entity_type, entity_id: entity.id, version: entity.version, op: op.op, seq: result.seq });
  const visible = writeResultFor(
    await readerFilter(await sessionDb(c.env, sessionId), sessionId, role, c.get("user").id),
    op.entity_type,
    entity,
  );
  c.header("ETag", `"${entity.version}"`);
  if (result.bookmark) c.header(BOOKMARK_HEADER, result.bookmark);
  return c.json(visible, status);
}

/**
 * A member's reads of the session's shard: on the request's D1 session (a replica consistent with
 * the client's bookmark, db/replicas.ts) when there is one, else the primary.
 */
async function memberRead<T>(c: Context<AppEnv>, read: (db: Db) => Promise<T>): Promise<T> {
  const { sessionId, reader } = c.get("member");
  if (reader) return reader().run(read);
  return read(await sessionDb(c.env, sessionId));
}

async function readOne(c: Context<AppEnv>, type: EntityType, id: string) {
  const { sessionId, role } = c.get("member");
  const found = await memberRead(c, async (db) => {
    const entity = await loadEntity(db, sessionId, type, id);
    const keep = await readerFilter(db, sessionId, role, c.get("user").id);
    const visible = entity ? keep(type, entity) : null;
    if (!visible || type !== "scene") return { visible, layers: undefined };
    // A scene comes with its layers: the heavy data only fetched when needed.
    const layers = (await listEntities(db, sessionId, "layer", { where: eq(sceneLayers.scene_id, id) }))
      .map((l) => keep("layer", l))
      .filter((l): l is AnyEntity => l !== null);
    return { visible, layers };
  });
  const { visible, layers } = found;
  if (!visible) throw new ApiError("not_found", `no ${type} ${id}`);
  c.header("ETag", `"${visible.version}"`);
  if (layers === undefined) return c.json(visible);
  return c.json({ ...visible, layers });
}

/** DELETE (archive) and restore: If-Match is optional; when sent, it must be current. */
function archiveOrRestore(c: Context<AppEnv>, type: EntityType, op: "archive" | "restore") {
  const base = parseIfMatch(c.req.header("if-match"));
  return writeOne(c, {
    ...opId(c),
    entity_type: type,
    op,
    id: idParam(c),
    ...(base === undefined ? { force: true } : { base_version: base }),
  });
}

/**
 * Every change of one entity still in the change log, oldest first, after its baseline when older
 * changes were compacted away (op "snapshot": the whole entity as it was at that version).
 */
async function entityHistory(c: Context<AppEnv>, type: EntityType, id: string) {
  const { sessionId } = c.get("member");
  const db = await sessionDb(c.env, sessionId);
  const baseline = await db
    .select()
    .from(entityBaselines)
    .where(and(eq(entityBaselines.session_id, sessionId), eq(entityBaselines.entity_type, type), eq(entityBaselines.entity_id, id)))
    .get();
  const logged = await db
    .select({
      version: changeLog.version,
      seq: changeLog.seq,
      op: changeLog.op,
      diff: changeLog.diff,
      updated_by: changeLog.updated_by,
      created_at: changeLog.created_at,
    })
    .from(changeLog)
    .where(and(eq(changeLog.session_id, sessionId), eq(changeLog.entity_type, type), eq(changeLog.entity_id, id)))
    .orderBy(asc(changeLog.seq));
  const rows: { version: number; seq: number; op: string; diff: unknown; updated_by: string; created_at: string }[] = baseline
    ? [
        {
          version: baseline.version,
          seq: baseline.seq,
          op: "snapshot",
          diff: baseline.state,
          updated_by: baseline.updated_by,
          created_at: baseline.created_at,
        },
        ...logged,
      ]
    : logged;
  if (rows.length === 0) throw new ApiError("not_found", `no ${type} ${id}`);
  return rows;
}

export const listQuery = z.object({ archived: z.enum(["true", "false"]).optional(), scene_id: idSchema.optional() });
export const revertBody = z.strictObject({ version: z.number().int().min(1), base_version: z.number().int().min(1) });
const patchBody = jsonObjectSchema;

export const entityRoutes = new Hono<AppEnv>()
  .get("/session-state", async (c) => {
    const { sessionId } = c.get("member");
    const state = await memberRead(c, (db) => loadSessionState(db, sessionId));
    c.header("ETag", `"${state.version}"`);
    return c.json(state);
  })
  .patch("/session-state", ...jsonBody(patchBody, 64 * KiB), async (c) => {
    const { sessionId } = c.get("member");
    const base = parseIfMatch(c.req.header("if-match"));
    if (base === undefined) throw new ApiError("precondition_required", 'send If-Match: "<version>"');
    const state = await loadSessionState(await sessionDb(c.env, sessionId), sessionId);
    return writeOne(c, {
      ...opId(c),
      entity_type: "session_state",
      op: "update",
      id: state.id,
      base_version: base,
      data: c.req.valid("json"),
    });
  })
  .post("/scenes/:id/activate", requireGm, ...jsonBody(z.strictObject({}), 1 * KiB), async (c) => {
    const { sessionId } = c.get("member");
    const state = await loadSessionState(await sessionDb(c.env, sessionId), sessionId);
    // Activation always wins: it is not an edit of a version the GM read.
    return writeOne(c, {
      ...opId(c),
      entity_type: "session_state",
      op: "update",
      id: state.id,
      base_version: state.version,
      force: true,
      data: { active_scene_id: idParam(c) },
    });
  });

/**
 * The routes of one entity type at `{S}/<its path segment>`. Each type gets its own static
 * segment rather than a shared `/:type` parameter: a parameter beside static siblings (`/state`,
 * `/batch`, ...) is a pattern Hono's RegExpRouter cannot compile, and the app would fall back to
 * a slower router for every request.
 */
function typeRoutes(type: EntityType) {
  return new Hono<AppEnv>()
    .get("/", async (c) => {
      const query = listQuery.safeParse(c.req.query());
      if (!query.success) throw new ApiError("bad_request", "invalid list query", { fields: fieldIssues(query.error) });
      const { sessionId, role } = c.get("member");
      const sceneId = query.data.scene_id;
      if (sceneId !== undefined && registry.moduleEntity(type)?.scene?.via !== "scene") {
        throw new ApiError("bad_request", "scene_id filters only game-module entity types that live on a scene", {
          fields: [{ field: "scene_id", message: "not a filter of this type" }],
        });
      }
      const items = await memberRead(c, async (db) => {
        const keep = await readerFilter(db, sessionId, role, c.get("user").id);
        return (
          await listEntities(db, sessionId, type, {
            archived: query.data.archived === "true",
            ...(sceneId !== undefined ? { sceneId } : {}),
          })
        )
          .map((e) => keep(type, e))
          .filter((e): e is AnyEntity => e !== null);
      });
      return c.json({ items });
    })
    .post("/", ...jsonBody(jsonObjectSchema, ENTITY_BODY_LIMIT), async (c) => {
      const { id, ...data } = c.req.valid("json");
      const chosen = id === undefined ? undefined : idSchema.safeParse(id);
      if (chosen && !chosen.success)
        throw new ApiError("bad_request", "invalid id", { fields: [{ field: "id", message: "1-64 characters of [A-Za-z0-9_-]" }] });
      return writeOne(c, { ...opId(c), entity_type: type, op: "create", ...(chosen ? { id: chosen.data } : {}), data }, 201);
    })
    .get("/:id", (c) => readOne(c, type, idParam(c)))
    .patch("/:id", ...jsonBody(patchBody, ENTITY_BODY_LIMIT), async (c) => {
      const id = idParam(c);
      const base = parseIfMatch(c.req.header("if-match"));
      if (base === undefined) throw new ApiError("precondition_required", 'send If-Match: "<version>"');
      return writeOne(c, { ...opId(c), entity_type: type, op: "update", id, base_version: base, data: c.req.valid("json") });
    })
    .delete("/:id", (c) => archiveOrRestore(c, type, "archive"))
    .get("/:id/history", requireGm, async (c) => {
      const rows = await entityHistory(c, type, idParam(c));
      return c.json({ items: rows.reverse() });
    })
    .post("/:id/revert", requireGm, ...jsonBody(revertBody, 1 * KiB), async (c) => {
      const id = idParam(c);
      const { version, base_version } = c.req.valid("json");
      const rows = await entityHistory(c, type, id);
      if (!rows.some((r) => r.version === version)) {
        throw new ApiError("not_found", `version ${version} of this ${type} is not in its history`, {
          versions: rows.map((r) => r.version),
        });
      }
      const target = rebuildVersion(rows.filter((r) => r.version <= version).map((r) => r.diff as Json));
      if (!target) throw new Error(`history of ${type} ${id} does not start with its creation`);
      return writeOne(c, { ...opId(c), entity_type: type, op: "revert", id, base_version, target });
    })
    .post("/:id/restore", (c) => archiveOrRestore(c, type, "restore"));
}

for (const type of registry.types) entityRoutes.route(`/${registry.paths[type]}`, typeRoutes(type));
