/**
 * The WebSocket protocol of `GET {S}/ws` as JSON Schema (`GET /api/protocol.json`): the messages a
 * client sends (domain/protocol.ts's `clientMessageSchema`, what the session object validates
 * with) and those the server sends (`ServerMessage`, written here as zod and checked against the
 * type below so the two cannot drift apart).
 */
import { z } from "zod";
import { roles } from "../../domain/permissions";
import {
  CLOSE_CODES,
  clientMessageSchema,
  INLINE_ENTITY_LIMIT,
  MAX_CLIENT_MESSAGE_BYTES,
  opsRequestIdSchema,
  PING,
  PONG,
  type ServerMessage,
} from "../../domain/protocol";
import { sessionSettingsSchema } from "../../domain/settings";
import { anyEntitySchema, changeRowSchema, lockSchema } from "./schemas";

const role = z.enum(roles);
const presenceClient = z.object({ client_id: z.string(), user_id: z.string(), role, connected_at: z.string() });

export const serverMessageSchema = z.union([
  z.object({
    type: z.literal("hello"),
    seq: z.number().int(),
    role,
    client_id: z.string(),
    user_id: z.string(),
    active_scene_id: z.string().nullable(),
  }),
  changeRowSchema.extend({ type: z.literal("change"), event_id: z.number().int() }),
  z.object({ type: z.literal("reload"), seq: z.number().int(), reason: z.enum(["activate", "gone"]) }),
  z.object({ type: z.literal("resumed"), seq: z.number().int() }),
  z.object({ type: z.literal("presence"), clients: z.array(presenceClient) }),
  z.object({ type: z.literal("presence"), joined: z.array(presenceClient) }),
  z.object({ type: z.literal("presence"), left: z.array(z.string()) }),
  z.object({
    type: z.literal("lock"),
    scene_id: z.string(),
    lock: lockSchema.nullable(),
    reason: z.enum(["acquired", "refreshed", "released", "expired"]),
  }),
  z.object({ type: z.literal("preview"), entity_id: z.string(), user_id: z.string(), x: z.number(), y: z.number(), rotation: z.number() }),
  z.object({ type: z.literal("settings"), settings: sessionSettingsSchema }),
  z.object({ type: z.literal("realtime_off"), poll_interval_ms: z.number().int() }),
  z.object({
    type: z.literal("result"),
    id: opsRequestIdSchema.optional(),
    seq: z.number().int(),
    results: z.array(z.object({ op_id: z.string(), entity: anyEntitySchema.nullable() })),
  }),
  z.object({ type: z.literal("landed"), seq: z.number().int(), bookmark: z.string() }),
  z.object({
    type: z.literal("error"),
    code: z.string(),
    message: z.string(),
    id: opsRequestIdSchema.optional(),
    status: z.number().int().optional(),
    op_id: z.string().optional(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
]);

/** Every `ServerMessage` type has a schema above (a compile error names the one missing). */
type Described = z.infer<typeof serverMessageSchema>["type"];
const _everyType: Record<ServerMessage["type"], true> = {} as Record<Described, true>;
void _everyType;

/** A message schema, its shared parts (`$defs`) lifted into `defs` so `#/$defs/...` resolves at the root. */
function jsonSchema(schema: z.ZodType, defs: Record<string, unknown>) {
  const { $schema: _s, $defs, ...rest } = z.toJSONSchema(schema, { io: "output", unrepresentable: "any" }) as Record<string, unknown>;
  Object.assign(defs, $defs);
  return rest;
}

export function buildProtocolDocument() {
  const defs: Record<string, unknown> = {};
  defs.ClientMessage = jsonSchema(clientMessageSchema, defs);
  defs.ServerMessage = jsonSchema(serverMessageSchema, defs);
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "VTT session WebSocket protocol",
    description:
      "Messages of GET /api/vtt/sessions/{sid}/ws, one JSON object a text frame. " +
      `The text "${PING}" is answered "${PONG}". A client message over ${MAX_CLIENT_MESSAGE_BYTES} bytes closes the socket with 1009; ` +
      `entities over ${INLINE_ENTITY_LIMIT} bytes are not inlined in change messages.`,
    $defs: defs,
    oneOf: [{ $ref: "#/$defs/ClientMessage" }, { $ref: "#/$defs/ServerMessage" }],
    "x-close-codes": CLOSE_CODES,
  };
}
