import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { MAX_BATCH_OPS, opSchemasFor } from "../../domain/ops";
import { ApiError } from "../api-error";
import { readerFilter, writeResultFor } from "../db/reads";
import { BOOKMARK_HEADER } from "../db/replicas";
import { sessionDb } from "../db/shards";
import { timeSave } from "../metrics/recorder";
import { guardedJson, jsonBody, MiB } from "../middleware/body";
import { registry } from "../registry";
import { applyOps } from "../session/stub";
import type { AppEnv } from "../types";

export const BATCH_BODY_LIMIT = 5 * MiB;

/** Over 500 ops is a 413 (the contract's limit), not a validation error. */
const opCountLimit = createMiddleware<AppEnv>(async (c, next) => {
  const body = guardedJson(c) as { ops?: unknown } | null;
  if (Array.isArray(body?.ops) && body.ops.length > MAX_BATCH_OPS) {
    throw new ApiError("payload_too_large", `at most ${MAX_BATCH_OPS} ops a batch`, { limit: MAX_BATCH_OPS });
  }
  await next();
});

const [guard, validate] = jsonBody(opSchemasFor(registry).batchSchema, BATCH_BODY_LIMIT);

export const batchRoutes = new Hono<AppEnv>().post("/batch", guard, opCountLimit, validate, async (c) => {
  const { ops } = c.req.valid("json");
  const { sessionId, role } = c.get("member");
  const result = await timeSave(c, "batch", ops, () => applyOps(c.env, sessionId, { userId: c.get("user").id, role }, ops));
  c.set("log", { ops: ops.length, seq: result.seq });
  const keep = await readerFilter(await sessionDb(c.env, sessionId), sessionId, role, c.get("user").id);
  const results = result.results.map((r, i) => {
    const type = ops[i]?.entity_type;
    return { op_id: r.op_id, entity: type ? writeResultFor(keep, type, r.entity) : r.entity };
  });
  // The bookmark of the D1 commit holding the batch: a read sent with it sees the batch.
  if (result.bookmark) c.header(BOOKMARK_HEADER, result.bookmark);
  return c.json({ seq: result.seq, results });
});
