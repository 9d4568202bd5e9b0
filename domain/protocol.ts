/** Messages on a session's WebSocket, both directions. */
import { z } from "zod";
import type { AnyEntity, EntityType } from "./entities";
import type { Role } from "./permissions";

export type ChangeOpName = "create" | "update" | "archive" | "restore";

export type ServerMessage =
  | { type: "hello"; seq: number; role: Role; client_id: string }
  | {
      type: "change";
      event_id: number;
      seq: number;
      entity_type: EntityType;
      entity_id: string;
      version: number;
      op: ChangeOpName;
      entity?: AnyEntity;
      /** For a player: the entity left their view (hidden, moved off the active scene, archived). */
      removed?: true;
    }
  | { type: "reload"; seq: number; reason: "activate" | "gone" }
  | { type: "resumed"; seq: number }
  | { type: "error"; code: string; message: string };

export const clientMessageSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("resume"), since: z.number().int().min(0) }),
  z.strictObject({ type: z.literal("ack"), event_ids: z.array(z.number().int().min(1)).min(1).max(1000) }),
]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;

/** Entities larger than this (as JSON) are not inlined in `change` messages; clients fetch them. */
export const INLINE_ENTITY_LIMIT = 16 * 1024;
