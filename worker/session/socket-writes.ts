/**
 * Writes over the session socket: `{"type":"ops","id"?,"ops":[...]}` is `POST {S}/batch` sent as a
 * message. The message is checked here exactly as the route checks its body (the op count limit,
 * nesting depth, reserved keys, numbers out of range, then the batch's zod schema); the object
 * hands the ops to its write queue (`applyOps`) as the route does, so ordering, grouping,
 * idempotency, locks and rate limits are the same. Answers: `result`, or an `error` frame with
 * the request's id, the code, status and details the route would have answered with.
 */

import { type ErrorCode, errorStatus, type Failure } from "../../domain/errors";
import { jsonTextDepth } from "../../domain/merge-patch";
import { type Batch, MAX_BATCH_OPS, opSchemasFor } from "../../domain/ops";
import { type OpsRequestId, opsRequestIdSchema, type ServerMessage } from "../../domain/protocol";
import { fieldIssues } from "../../domain/validation";
import { recordEvent, type SaveOutcome } from "../metrics/recorder";
import { MAX_JSON_DEPTH } from "../middleware/body";
import { registry } from "../registry";
import type { WriteResult } from "./session-object";

export type OpsMessage =
  | { ok: true; id: OpsRequestId | undefined; ops: Batch["ops"] }
  | { ok: false; id: OpsRequestId | undefined; failure: Failure };

/** Whether a parsed socket message is an `ops` message (checked by `parseOpsMessage`). */
export function isOpsMessage(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as { type?: unknown }).type === "ops";
}

function failure(code: ErrorCode, message: string, details?: Record<string, unknown>): Failure {
  return details === undefined ? { ok: false, code, message } : { ok: false, code, message, details };
}

/** The batch body, as the REST batch route takes it. */
const { batchSchema } = opSchemasFor(registry);

/** Keys JavaScript objects cannot carry as data, and numbers no JSON can carry back (see middleware/body.ts). */
const SUSPICIOUS = /__proto__|\\u|[eE][+-]?\d{3}|\d{300}/;

function rejectedValue(text: string): { field: string; message: string } | undefined {
  if (!SUSPICIOUS.test(text)) return undefined;
  let found: { field: string; message: string } | undefined;
  JSON.parse(text, (key, value: unknown) => {
    if (found) return value;
    if (key === "__proto__") found = { field: "__proto__", message: "a reserved key" };
    else if (typeof value === "number" && !Number.isFinite(value)) found = { field: key || "(body)", message: "a number out of range" };
    return value;
  });
  return found;
}

/**
 * Checks an `ops` message (`raw` its text, `value` its parse) as `POST {S}/batch` checks its body:
 * 413 over MAX_BATCH_OPS ops, 400 for anything malformed, with the same details.
 */
export function parseOpsMessage(raw: string, value: unknown): OpsMessage {
  const message = value as { id?: unknown; ops?: unknown };
  const idParse = opsRequestIdSchema.safeParse(message.id);
  const id = idParse.success ? idParse.data : undefined;
  const bad = (f: Failure): OpsMessage => ({ ok: false, id, failure: f });
  if (message.id !== undefined && !idParse.success) {
    return bad(
      failure("bad_request", "the message is invalid", {
        fields: [{ field: "id", message: "a string of 1 to 64 characters or an integer" }],
      }),
    );
  }
  if (Array.isArray(message.ops) && message.ops.length > MAX_BATCH_OPS) {
    return bad(failure("payload_too_large", `at most ${MAX_BATCH_OPS} ops a batch`, { limit: MAX_BATCH_OPS }));
  }
  if (jsonTextDepth(raw) > MAX_JSON_DEPTH) return bad(failure("bad_request", `JSON nested deeper than ${MAX_JSON_DEPTH} levels`));
  const rejected = rejectedValue(raw);
  if (rejected) return bad(failure("bad_request", `the message holds ${rejected.message}`, { fields: [rejected] }));
  const extra = Object.keys(message).filter((k) => k !== "type" && k !== "id" && k !== "ops");
  if (extra.length > 0) {
    return bad(
      failure("bad_request", "the message is invalid", { fields: extra.map((field) => ({ field, message: "an unknown field" })) }),
    );
  }
  const parsed = batchSchema.safeParse({ ops: message.ops });
  if (!parsed.success) return bad(failure("bad_request", "the message is invalid", { fields: fieldIssues(parsed.error) }));
  return { ok: true, id, ops: parsed.data.ops };
}

/** The `error` frame answering an `ops` message that failed. */
export function opsError(
  id: OpsRequestId | undefined,
  f: { code: ErrorCode; message: string; details?: Record<string, unknown> | undefined },
): ServerMessage {
  const opId = typeof f.details?.op_id === "string" ? f.details.op_id : undefined;
  return {
    type: "error",
    ...(id === undefined ? {} : { id }),
    code: f.code,
    message: f.message,
    status: errorStatus[f.code],
    ...(opId === undefined ? {} : { op_id: opId }),
    ...(f.details === undefined ? {} : { details: f.details }),
  };
}

/**
 * Counts a socket write like a `POST {S}/batch` (worker/metrics/recorder.ts, as `timeSave` does
 * for the route): its latency and outcome handed to `count` (the object's aggregate), the events
 * its ops stand for (a conflict, a token created, a scene activated). `result` undefined: it
 * failed with an error. Never throws.
 */
export function recordSocketWrite(
  env: Env,
  who: { sessionId: string; userId: string },
  ops: Batch["ops"],
  result: WriteResult | undefined,
  ms: number,
  count: (ms: number, outcome: SaveOutcome) => void,
): void {
  const outcome = !result ? "error" : result.ok ? "ok" : result.code === "conflict" ? "conflict" : "rejected";
  const base = { session_id: who.sessionId, user_id: who.userId };
  try {
    if (result && !result.ok && result.code === "conflict") {
      const opId = typeof result.details?.op_id === "string" ? result.details.op_id : undefined;
      const op = ops.find((o) => o.op_id === opId) ?? (ops.length === 1 ? ops[0] : undefined);
      const current = result.details?.current as { id?: unknown } | undefined;
      recordEvent(env, "conflict", {
        ...base,
        route: "batch",
        op_id: opId,
        entity_type: op?.entity_type,
        entity_id: typeof current?.id === "string" ? current.id : undefined,
      });
    }
    if (result?.ok) {
      ops.forEach((op, i) => {
        const entity = result.results[i]?.entity;
        if (!entity) return;
        if (op.entity_type === "token" && op.op === "create") recordEvent(env, "token_created", { ...base, token_id: entity.id });
        const activeScene = op.op === "update" ? (op.data as { active_scene_id?: unknown }).active_scene_id : undefined;
        if (op.entity_type === "session_state" && typeof activeScene === "string") {
          recordEvent(env, "scene_activated", { ...base, scene_id: activeScene });
        }
      });
    }
    count(ms, outcome);
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "recording a save failed", error: String(error) }));
  }
}
