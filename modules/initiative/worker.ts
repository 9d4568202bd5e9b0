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
 */
import { type Context, Hono } from "hono";
import { z } from "zod";
import type { AnyEntity, EntityType } from "../../domain/entities";
import { idSchema } from "../../domain/fields";
import type { Actor } from "../../domain/permissions";
import { ApiError } from "../../worker/api-error";
import { type Db, getDb } from "../../worker/db/client";
import { loadEntity } from "../../worker/db/entities";
import { requireGm } from "../../worker/middleware/auth";
import { jsonBody, KiB } from "../../worker/middleware/body";
import { applyOps } from "../../worker/session/stub";
import type { InternalOp } from "../../worker/session/write-plan";
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

const turnBody = z.strictObject({ base_version: z.number().int().min(1).optional() });

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
  seqNow: number,
): Promise<TurnResult> {
  const db = getDb(env.DB);
  for (let attempt = 1; ; attempt++) {
    const current = await loadEntity(db, sessionId, "encounter", id);
    if (!isLiveEncounter(current)) throw new ApiError("not_found", `no encounter ${id}`);
    if (baseVersion !== undefined && baseVersion !== current.version) {
      throw new ApiError("conflict", "the encounter changed since you read it", { current });
    }
    const turn = advanceTurn(current, direction);
    if (turn.round === current.round && turn.turn === current.turn) {
      // Nothing moves (no combatants, or "previous" at the very start): no write.
      return { encounter: current, effects: [], seq: seqNow };
    }
    const encounter = { ...current, ...turn };
    const hookOps =
      turn.round > current.round
        ? (
            await Promise.all(
              roundHooks.map((hook) => hook({ env, db, sessionId, encounter, round: turn.round, previousRound: current.round })),
            )
          ).flat()
        : [];
    const own: InternalOp = {
      op_id: crypto.randomUUID(),
      fresh: true,
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
  const { sessionId, role, seq } = c.get("member");
  const result = await moveTurn(c.env, sessionId, { userId: c.get("user").id, role }, id.data, direction, baseVersion, seq);
  c.set("log", { entity_type: "encounter", entity_id: id.data, version: result.encounter.version, op: direction, seq: result.seq });
  c.header("ETag", `"${result.encounter.version}"`);
  return c.json(result);
}

export const initiativeRoutes = new Hono<AppEnv>()
  .post("/encounters/:id/next", requireGm, ...jsonBody(turnBody, 1 * KiB), (c) => answerTurn(c, "next", c.req.valid("json").base_version))
  .post("/encounters/:id/previous", requireGm, ...jsonBody(turnBody, 1 * KiB), (c) =>
    answerTurn(c, "previous", c.req.valid("json").base_version),
  );
