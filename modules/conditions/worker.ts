/**
 * The conditions module on the worker: no routes of its own (conditions are written through the
 * core's REST and batch routes), only the round hook. When "next turn" begins a new round of an
 * encounter, the conditions counting that encounter's rounds that have run out (`hasExpired`)
 * are archived in the same batch as the turn.
 */

import type { InternalOp } from "../../domain/plan";
import { listEntities } from "../../worker/db/entities";
import type { RoundContext } from "../initiative/worker";
import { hasExpired } from "./rules";

/** Archive ops for the live conditions of the encounter that run out at the round beginning. */
export async function expiringConditions(context: Pick<RoundContext, "db" | "sessionId" | "encounter" | "round">): Promise<InternalOp[]> {
  const live = await listEntities(context.db, context.sessionId, "condition");
  return live
    .filter((c) => c.encounter_id === context.encounter.id && hasExpired({ until_round: c.until_round as number | null }, context.round))
    .map(
      (c): InternalOp => ({
        op_id: crypto.randomUUID(),
        fresh: true,
        entity_type: "condition",
        op: "archive",
        id: c.id,
        base_version: c.version,
      }),
    );
}
