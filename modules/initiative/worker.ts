/**
 * The initiative module's routes, at `{S}/modules/initiative`: moving the turn of an encounter.
 *
 * `POST /encounters/:id/next` and `/previous` (GM) compute the turn with `advanceTurn` and commit
 * it in ONE batch with whatever the round hooks contribute when a new round begins: other
 * modules register a hook with `onNewRound` (the conditions module archives the conditions that
 * run out). The batch is atomic, versioned, logged and broadcast like any other write, so players
 * see the turn and its effects arrive together, at consecutive seqs.
 *
 * Body `{base_version?}`: when sent, the turn moves only from that version of the encounter (409
 * with `details.current` otherwise), so two GMs pressing "next" at once move it once. Without it
 * the turn moves from the current version; a write racing the route is retried from fresh reads.
 *
 * Header `Idempotency-Key: <uuid>`: the key is the op id of the encounter's write, and the round
 * hooks' ops get ids derived from it (`effectOpId`), so a retried request (the answer was lost)
 * moves the turn once: it answers the first result from `applied_ops` (the encounter, the effects,
 * the seq) without running the rules again, and a duplicate racing the first one is a replay of
 * every op of the batch inside the session object. Keys are kept as long as the change log
 * (worker/jobs/retention.ts): a key older than the window moves the turn again.
 */
import { and, eq, gt, lt } from "drizzle-orm";
import { type Context, Hono } from "hono";
import { z } from "zod";
import type { AnyEntity, EntityType } from "../../domain/entities";
import { idSchema } from "../../domain/fields";
import { opIdSchema } from "../../domain/ops";
import type { Actor } from "../../domain/permissions";
import type { InternalOp } from "../../domain/plan";
import { ApiError } from "../../worker/api-error";
import type { Db } from "../../worker/db/client";
import { loadEntity } from "../../worker/db/entities";
import { appliedOps } from "../../worker/db/schema";
import { sessionDb } from "../../worker/db/shards";
import { sha256Hex } from "../../worker/lib/crypto";
import { headOf, requireGm } from "../../worker/middleware/auth";
import { jsonBody, KiB } from "../../worker/middleware/body";
import { applyOps } from "../../worker/session/stub";
import type { AppEnv } from "../../worker/types";
import type { EncounterFields } from "./domain";
import { advanceTurn } from "./rules";

/** What a round hook is told: the encounter as it will be once the new round has begun. */
export interface RoundContext {
  env: Env;
  db: Db;
  sessionId: string;
  encounter: AnyEntity & EncounterFields;
  /** The round that begins. */
  round: number;
  /** The round before it. */
  previousRound: number;
}

/**
 * Ops to commit with the turn that begins a new round. Hooks read D1 (it holds every committed
 * write); ops that depend on what they read should carry `base_version`, so a write racing the
 * turn makes the batch fail and the route retry from fresh reads. Op ids must be new UUIDs.
 */
export type RoundHook = (context: RoundContext) => Promise<InternalOp[]>;

const roundHooks: RoundHook[] = [];

/** Registers a hook run whenever "next turn" begins a new round; returns its removal. */
export function onNewRound(hook: RoundHook): () => void {
  roundHooks.push(hook);
  return () => {
    const at = roundHooks.indexOf(hook);
    if (at !== -1) roundHooks.splice(at, 1);
  };
}

/** A write of the batch other than the encounter's own. */
export interface RoundEffect {
  entity_type: EntityType;
  id: string;
  op: InternalOp["op"];
  version: number;
}

export interface TurnResult {
  encounter: AnyEntity;
  /** What the round hooks changed in the same batch (empty unless a new round began). */
  effects: RoundEffect[];
  seq: number;
}

/** Attempts at a turn whose reads were overtaken by a concurrent write. */
const ATTEMPTS = 3;

export const turnBody = z.strictObject({ base_version: z.number().int().min(1).optional() });

const OP_CODES = ["create", "update", "archive", "restore", "revert"] as const satisfies readonly InternalOp["op"][];

/**
 * The op ids of one keyed turn's hook ops: UUID-shaped, sharing the first 24 characters (from the
 * key's SHA-256), the last group holding the op's kind and its index in the batch. A replay finds
 * them all with one range read on the `applied_ops` key.
 */
async function effectPrefix(key: string): Promise<string> {
  const h = await sha256Hex(`initiative-turn:${key}`);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-`;
}

function effectOpId(prefix: string, op: InternalOp["op"], index: number): string {
  return `${prefix}${OP_CODES.indexOf(op) + 1}${index.toString(16).padStart(11, "0")}`;
}

function effectOpOf(opId: string): InternalOp["op"] {
  return OP_CODES[Number(opId.charAt(24)) - 1] ?? "update";
}

/** The first answer of a keyed turn already applied, or undefined when the key is new. */
async function keyedResult(db: Db, sessionId: string, id: string, key: string): Promise<TurnResult | undefined> {
  const own = await db
    .select()
    .from(appliedOps)
    .where(and(eq(appliedOps.session_id, sessionId), eq(appliedOps.op_id, key)))
    .get();
  if (!own) return undefined;
  if (own.entity_type !== "encounter" || own.entity_id !== id) {
    throw new ApiError("bad_request", "this Idempotency-Key was used for another write: send a new key");
  }
  const prefix = await effectPrefix(key);
  const rows = await db
    .select()
    .from(appliedOps)
    .where(and(eq(appliedOps.session_id, sessionId), gt(appliedOps.op_id, prefix), lt(appliedOps.op_id, `${prefix}g`)))
    .orderBy(appliedOps.op_id);
  const effects = rows.map((r) => ({
    entity_type: r.entity_type as EntityType,
    id: r.entity_id,
    op: effectOpOf(r.op_id),
    version: (r.result as AnyEntity).version,
  }));
  return { encounter: own.result as AnyEntity, effects, seq: Math.max(own.seq, ...rows.map((r) => r.seq)) };
}

function isLiveEncounter(entity: AnyEntity | undefined): entity is AnyEntity & EncounterFields {
  return entity !== undefined && entity.archived_at === null;
}

async function moveTurn(
  env: Env,
  sessionId: string,
  actor: Actor,
  id: string,
  direction: "next" | "previous",
  baseVersion: number | undefined,
  seqNow: () => Promise<number>,
  key: string | undefined,
): Promise<TurnResult> {
  const db = await sessionDb(env, sessionId);
  const prefix = key === undefined ? undefined : await effectPrefix(key);
  for (let attempt = 1; ; attempt++) {
    const current = await loadEntity(db, sessionId, "encounter", id);
    // Checked after reading the encounter: a first request committed before that read is seen
    // here (its key is stored in the same batch as the encounter), one committed after it was
    // planned from the same reads and makes this batch a replay in the session object.
    const earlier = key === undefined ? undefined : await keyedResult(db, sessionId, id, key);
    if (earlier) return earlier;
    if (!isLiveEncounter(current)) throw new ApiError("not_found", `no encounter ${id}`);
    if (baseVersion !== undefined && baseVersion !== current.version) {
      throw new ApiError("conflict", "the encounter changed since you read it", { current });
    }
    const turn = advanceTurn(current, direction);
    if (turn.round === current.round && turn.turn === current.turn) {
      // Nothing moves (no combatants, or "previous" at the very start): no write.
      return { encounter: current, effects: [], seq: await seqNow() };
    }
    const encounter = { ...current, ...turn };
    const hooked =
      turn.round > current.round
        ? (
            await Promise.all(
              roundHooks.map((hook) => hook({ env, db, sessionId, encounter, round: turn.round, previousRound: current.round })),
            )
          ).flat()
        : [];
    const hookOps =
      prefix === undefined
        ? hooked
        : hooked.map(({ fresh: _fresh, ...op }, i): InternalOp => ({ ...op, op_id: effectOpId(prefix, op.op, i) }));
    const own: InternalOp = {
      ...(key === undefined ? { op_id: crypto.randomUUID(), fresh: true } : { op_id: key }),
      entity_type: "encounter",
      op: "update",
      id,
      base_version: current.version,
      data: { round: turn.round, turn: turn.turn },
    };
    try {
      const result = await applyOps(env, sessionId, actor, [own, ...hookOps]);
      const [first, ...rest] = result.results;
      if (!first) throw new Error("a turn returned no encounter");
      const opOf = new Map(hookOps.map((op) => [op.op_id, op]));
      const effects = rest.flatMap((r): RoundEffect[] => {
        const op = opOf.get(r.op_id);
        return op ? [{ entity_type: op.entity_type, id: r.entity.id, op: op.op, version: r.entity.version }] : [];
      });
      return { encounter: first.entity, effects, seq: result.seq };
    } catch (error) {
      // A conflict on the caller's own base version is theirs to see; one caused by a write that
      // overtook our reads (of the encounter or of what a hook read) is retried from fresh reads.
      const theirs = baseVersion !== undefined && error instanceof ApiError && error.details?.op_id === own.op_id;
      if (!(error instanceof ApiError) || error.code !== "conflict" || theirs || attempt >= ATTEMPTS) throw error;
    }
  }
}

/** Answers a turn with the encounter, the hooks' effects and the seq after the batch. */
async function answerTurn(c: Context<AppEnv>, direction: "next" | "previous", baseVersion: number | undefined) {
  const id = idSchema.safeParse(c.req.param("id"));
  if (!id.success) throw new ApiError("not_found", "no such encounter");
  const header = c.req.header("idempotency-key");
  const key = header === undefined ? undefined : opIdSchema.safeParse(header);
  if (key && !key.success) throw new ApiError("bad_request", "Idempotency-Key must be a UUID");
  const member = c.get("member");
  const { sessionId, role } = member;
  const actor = { userId: c.get("user").id, role };
  const seqNow = async () => (await headOf(member)).seq;
  const result = await moveTurn(c.env, sessionId, actor, id.data, direction, baseVersion, seqNow, key?.data);
  c.set("log", { entity_type: "encounter", entity_id: id.data, version: result.encounter.version, op: direction, seq: result.seq });
  c.header("ETag", `"${result.encounter.version}"`);
  return c.json(result);
}

export const initiativeRoutes = new Hono<AppEnv>()
  .post("/encounters/:id/next", requireGm, ...jsonBody(turnBody, 1 * KiB), (c) => answerTurn(c, "next", c.req.valid("json").base_version))
  .post("/encounters/:id/previous", requireGm, ...jsonBody(turnBody, 1 * KiB), (c) =>
    answerTurn(c, "previous", c.req.valid("json").base_version),
  );
