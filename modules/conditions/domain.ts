/**
 * Conditions on tokens (stunned, prone, ... or custom with an icon), optionally lasting a number
 * of rounds of an initiative encounter: a condition with `until_round` ends when its encounter
 * reaches that round (the initiative module's "next turn" archives it in the same write, see
 * worker.ts).
 *
 * A condition lives where its token is (scene locks, scene bundles). Players see the conditions
 * of the tokens they see, unless a GM marks one hidden; they never write them.
 *
 * The rules themselves are in rules.ts (no zod), shared with the web app.
 */
import { z } from "zod";
import { idSchema } from "../../domain/fields";
import { defineEntity, defineModule } from "../../domain/module-api";
import { type Condition, conditionKinds, MAX_ICON, MAX_LABEL } from "./rules";

export { type Condition, type ConditionKind, conditionKinds, defaultIcons, hasExpired, iconOf, labelOf } from "./rules";

export const conditionFieldsSchema = z
  .strictObject({
    token_id: idSchema,
    kind: z.enum(conditionKinds),
    label: z.string().trim().max(MAX_LABEL).default(""),
    icon: z.string().trim().max(MAX_ICON).default(""),
    encounter_id: idSchema.nullable().default(null),
    until_round: z.number().int().min(1).max(1_000_000).nullable().default(null),
    hidden: z.boolean().default(false),
  })
  .refine((c) => c.kind !== "custom" || c.label !== "", { message: "a custom condition needs a label", path: ["label"] })
  .refine((c) => c.until_round === null || c.encounter_id !== null, {
    message: "a duration in rounds needs the encounter that counts them",
    path: ["until_round"],
  }) satisfies z.ZodType<Condition>;

export type ConditionFields = z.infer<typeof conditionFieldsSchema>;

export const conditionsModule = defineModule({
  name: "conditions",
  entities: [
    defineEntity({
      type: "condition",
      path: "conditions",
      fields: conditionFieldsSchema,
      references: [
        { field: "token_id", type: "token", mustBeLive: true },
        { field: "encounter_id", type: "encounter" },
      ],
      scene: { field: "token_id", via: "token" },
      visibleToPlayer: (condition, view) =>
        condition.hidden !== true && typeof condition.token_id === "string" && view.visibleTokenIds.has(condition.token_id),
    }),
  ],
});
