/**
 * Initiative tracker: an `encounter` holds its combatants (linked tokens or free entries), their
 * initiative, the round and whose turn it is. One entity per encounter, combatants keyed by id
 * inside it, so a merge patch changes one combatant and a turn is one version of one entity.
 *
 * An encounter lives on a scene (`scene_id`): the state carries those of the active scene, scene
 * locks guard it and a scene bundle carries it, so conditions counting its rounds keep their
 * encounter through an export and import. Players see an encounter while it is running (`active`)
 * on the active scene, without its hidden combatants; they never write it. "Next turn" is a route
 * of this module (worker.ts) so the turn, the round and whatever other modules do on a new round
 * (conditions expiring) commit together.
 *
 * The rules themselves are in rules.ts (no zod), shared with the web app.
 */
import { z } from "zod";
import { finite, idSchema, nameSchema } from "../../domain/fields";
import { defineEntity, defineModule } from "../../domain/module-api";
import { type Combatant, MAX_COMBATANTS, type TurnState, withoutHiddenCombatants } from "./rules";

export { advanceTurn, type Combatant, MAX_COMBATANTS, type TurnState, turnOrder, withoutHiddenCombatants } from "./rules";

const score = finite.min(-1000).max(1000);

export const combatantSchema = z.strictObject({
  name: nameSchema,
  token_id: idSchema.nullable().default(null),
  initiative: score.nullable().default(null),
  tiebreak: score.default(0),
  hidden: z.boolean().default(false),
}) satisfies z.ZodType<Combatant>;

export const encounterFieldsSchema = z.strictObject({
  name: nameSchema.default("Encounter"),
  /** The scene the encounter is fought on. */
  scene_id: idSchema,
  /** Running: players see it. */
  active: z.boolean().default(false),
  round: z.number().int().min(0).max(1_000_000).default(0),
  turn: idSchema.nullable().default(null),
  combatants: z
    .record(idSchema, combatantSchema)
    .default({})
    .refine((c) => Object.keys(c).length <= MAX_COMBATANTS, `at most ${MAX_COMBATANTS} combatants`),
}) satisfies z.ZodType<TurnState>;
export type EncounterFields = z.infer<typeof encounterFieldsSchema>;

export const initiativeModule = defineModule({
  name: "initiative",
  entities: [
    defineEntity({
      type: "encounter",
      path: "encounters",
      fields: encounterFieldsSchema,
      references: [
        { field: "scene_id", type: "scene" },
        // The token each combatant stands for: checked on write and by the integrity job, rewritten by imports.
        { field: "combatants.*.token_id", type: "token" },
      ],
      scene: { field: "scene_id", via: "scene" },
      visibleToPlayer: (encounter, view) =>
        encounter.active === true && view.activeSceneId !== null && encounter.scene_id === view.activeSceneId,
      projectForPlayer: (encounter, view) => withoutHiddenCombatants(encounter, view?.visibleTokenIds),
    }),
  ],
});
