/**
 * Messages on a session's WebSocket (`GET {S}/ws`), both directions, as JSON text frames.
 *
 * Server → client
 * - `hello` first, once: the current seq, the socket's role and client id, and the active scene
 *   (from the activation timeline) so a late joiner lands on it at once.
 * - `presence`: right after `hello`, the socket gets `clients` (everyone connected, itself
 *   included); afterwards every socket gets deltas: `joined` when sockets connect (the joins of
 *   one moment in one message: worker/session/presence-joins.ts), `left` (client ids) when one
 *   goes away. Capabilities and last_seen are for GMs: `GET {S}/clients`.
 * - `change`: one per committed change the socket may see, in seq order (seq has gaps for a
 *   player: what they may not see is not sent). `entity` is inlined when its JSON is at most
 *   INLINE_ENTITY_LIMIT bytes, else fetch it by REST. For a player, `removed: true` means the
 *   entity left their view (hidden, moved off the active scene, archived): drop it.
 * - `reload`: fetch `GET {S}/state` again. Players get it when the active scene changes (what they
 *   may see changed wholesale), and anyone resuming from a seq older than the retained log.
 * - `resumed`: the end of a `resume` replay; live changes follow.
 * - `lock` (GMs only): a scene lock was taken, taken again (new expiry), released or expired.
 * - `preview`: someone is dragging a token (not persisted; the drop is one ordinary write).
 * - `settings`: the session's settings changed.
 * - `realtime_off`: a GM turned the channel off: the socket is closed next (code 4503); poll.
 * - `error`: a rejected message; the socket stays open. The answer to a failed `ops` message also
 *   carries its `id`, the HTTP `status` `POST {S}/batch` would have answered, and `details` (with
 *   the failing `op_id` where the batch's error names one).
 * - `result`: the answer to an `ops` message: its `id`, `seq` and `results` as `POST {S}/batch`
 *   answers them (filtered for the caller).
 * - On a socket opened with `?patch=1`, a `change` of op `update` whose previous version the
 *   socket saw carries `patch` (the JSON Merge Patch from version V-1 to V of the entity as this
 *   socket sees it, `version` left out: it is the message's) instead of `entity`, and no
 *   `event_id` (it is always the `seq`).
 *
 * Client → server
 * - `resume {since}`: replay every change after `since` (filtered as live ones), then `resumed`;
 *   or `reload` when `since` is outside the retained log (or, for a player, an activation
 *   happened since).
 * - `ack {event_ids}`: the change events (their `event_id`) the client applied.
 * - `preview {entity_id, x, y, rotation?}`: relayed to the other sockets that may see the token,
 *   only if the sender may move it (a GM, or a player among its `owner_user_ids`). At most
 *   ~30 a second are relayed per socket; extra ones are dropped.
 * - `capabilities {capabilities}`: small flat facts about the client (version, features),
 *   recorded in `session_clients`.
 * - `ops {id?, ops}`: a write, exactly `POST {S}/batch` (atomic, idempotent op ids, the same
 *   validation, limits and locks), as the user and role the socket was opened with; answered
 *   with `result` or an `error` carrying the same `id` (OPS_REQUEST_ID: a string or an integer).
 * - The text `ping` (not JSON) is answered `pong` by the runtime without waking the object.
 *
 * Close codes (besides 1000): 1008 a protocol violation (a binary frame), 1009 a message over
 * MAX_CLIENT_MESSAGE_BYTES, and those of CLOSE_CODES. Any other invalid message gets an `error`
 * frame and the socket stays open.
 */
import { z } from "zod";
import type { AnyEntity, EntityType } from "./entities";
import type { SceneLock } from "./locks";
import type { JsonObject } from "./merge-patch";
import type { Role } from "./permissions";
import type { SessionSettings } from "./settings";

export type ChangeOpName = "create" | "update" | "archive" | "restore";

/** One row of `GET {S}/changes` (and of a resume): the entity's latest state, or for a player `removed` without it. */
export interface ChangeRow {
  seq: number;
  entity_type: EntityType;
  entity_id: string;
  version: number;
  op: ChangeOpName;
  entity?: AnyEntity;
  /** The entity left the player's view (hidden, moved off the active scene, archived). */
  removed?: true;
  /**
   * For a player, with a token that comes into view (shown, or moved onto the active scene):
   * what hangs on it and was not sent while it was hidden (its art, module entities naming it).
   */
  related?: { entity_type: EntityType; entity: AnyEntity }[];
}

export interface PresenceClient {
  client_id: string;
  user_id: string;
  role: Role;
  connected_at: string;
}

export type ServerMessage =
  | { type: "hello"; seq: number; role: Role; client_id: string; user_id: string; active_scene_id: string | null }
  | ({ type: "change"; event_id: number } & ChangeRow)
  | { type: "reload"; seq: number; reason: "activate" | "gone" }
  | { type: "resumed"; seq: number }
  | { type: "presence"; clients: PresenceClient[] }
  | { type: "presence"; joined: PresenceClient[] }
  | { type: "presence"; left: string[] }
  | { type: "lock"; scene_id: string; lock: SceneLock | null; reason: "acquired" | "refreshed" | "released" | "expired" }
  | { type: "preview"; entity_id: string; user_id: string; x: number; y: number; rotation: number }
  | { type: "settings"; settings: SessionSettings }
  | { type: "realtime_off"; poll_interval_ms: number }
  | { type: "result"; id?: OpsRequestId; seq: number; results: { op_id: string; entity: unknown }[] }
  /** D1 holds the session up to `seq`; `bookmark` is the commit's D1 bookmark (reads send it back). */
  | { type: "landed"; seq: number; bookmark: string }
  | {
      type: "error";
      code: string;
      message: string;
      /** Answers to an `ops` message only. */
      id?: OpsRequestId;
      status?: number;
      op_id?: string;
      details?: Record<string, unknown>;
    };

/**
 * A `change` of op `update` on a socket opened with `?patch=1`: the merge patch from version - 1
 * (without `version`) instead of the entity, and no `event_id` (it is the `seq`).
 */
export type PatchedChangeMessage = { type: "change"; patch: JsonObject } & Omit<ChangeRow, "entity" | "removed" | "related">;

/** The id a client gives an `ops` message, echoed in its answer. */
export type OpsRequestId = string | number;
export const opsRequestIdSchema = z.union([z.string().min(1).max(64), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)]);

/** The text a client sends to keep the socket alive, and the runtime's answer. */
export const PING = "ping";
export const PONG = "pong";

export const CLOSE_CODES = {
  /** The member's role changed: reconnect to get the new role's view. */
  role_changed: 4403,
  /** Too many messages (over SOCKET_MESSAGE_LIMIT): back off before reconnecting. */
  rate_limited: 4429,
  /** The login or API token that opened the socket ended (logout, revoked, expired, password changed): log in again. */
  credential_ended: 4401,
  /** A GM turned the real-time channel off for this session: poll instead. */
  realtime_off: 4503,
} as const;

/** The largest client message accepted; a bigger one closes the socket with 1009. */
export const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;

const coordinate = z.number().finite().min(-1e7).max(1e7);
const capabilityValue = z.union([z.string().max(200), z.number().finite(), z.boolean()]);

export const clientMessageSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("resume"), since: z.number().int().min(0) }),
  z.strictObject({ type: z.literal("ack"), event_ids: z.array(z.number().int().min(1)).min(1).max(1000) }),
  z.strictObject({
    type: z.literal("preview"),
    entity_id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    x: coordinate,
    y: coordinate,
    rotation: z.number().finite().min(-36000).max(36000).optional(),
  }),
  z.strictObject({
    type: z.literal("capabilities"),
    capabilities: z
      .record(z.string().regex(/^[a-z0-9_]{1,40}$/), capabilityValue)
      .refine((c) => Object.keys(c).length <= 16, "at most 16 capabilities"),
  }),
]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;

/** Entities larger than this (as JSON) are not inlined in `change` messages; clients fetch them. */
export const INLINE_ENTITY_LIMIT = 16 * 1024;
