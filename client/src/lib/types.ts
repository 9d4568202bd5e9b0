/**
 * The types the client shares across its parts: the contract's entities and messages (request and
 * response bodies of /work/shared/API.md), re-exported from `domain/` where they are defined there.
 * Nothing here is about HTTP: the client that sends and receives them is `api.ts`.
 *
 * Only types come from `domain/`: its runtime modules pull in zod, which the client does not need yet.
 */
import type { ApiTokenCreated, ApiTokenInfo } from "../../../domain/accounts";
import type { GameSession, User } from "../../../domain/api";
import type { AnyEntity, EntityType, Folder, Layer, Scene, SessionState, Token, TokenArt } from "../../../domain/entities";
import type { SceneLock } from "../../../domain/locks";
import type { JsonObject } from "../../../domain/merge-patch";
import type { Role } from "../../../domain/permissions";
import type { ChangeOpName, ChangeRow } from "../../../domain/protocol";

export type {
  AnyEntity,
  ApiTokenCreated,
  ApiTokenInfo,
  ChangeRow,
  EntityType,
  Folder,
  GameSession,
  Layer,
  Role,
  Scene,
  SceneLock,
  SessionState,
  Token,
  TokenArt,
  User,
};

export interface AuthResponse {
  user: User;
  csrf_token: string;
}

export interface SessionSummary {
  id: string;
  name: string;
  role: Role;
}

export interface CreatedSession {
  session: GameSession;
  invite_code: string;
}

export interface JoinedSession {
  session: GameSession;
  role: "player";
}

/** Per-session rollout flags: `realtime: false` turns the socket off (polling only). */
export interface SessionSettings {
  realtime?: boolean;
  poll_interval_ms?: number;
  [flag: string]: unknown;
}

/** The session as `state` describes it: the caller's role and the session's settings included. */
export type SessionInfo = GameSession & { role?: Role; settings?: SessionSettings };

/** A member of a session, as `GET /api/vtt/sessions/{sid}` lists them. */
export interface SessionMember {
  user_id: string;
  username: string;
  role: Role;
}

/** `GET /api/vtt/sessions/{sid}`: the session with its members and the caller's role. */
export interface SessionDetail {
  session: GameSession;
  role: Role;
  members: SessionMember[];
  invite_code?: string;
}

/** `GET {S}/state`. Players receive only what the visibility filter lets through. */
export interface SessionSnapshot {
  seq: number;
  session: SessionInfo;
  session_state: SessionState;
  scenes: Scene[];
  folders: Folder[];
  tokens: Token[];
  token_art: TokenArt[];
  layers: Layer[];
  timeline: Record<string, unknown>[];
  /** Entities of game modules by type (those of the active scene for types that live on one). */
  modules?: Record<string, AnyEntity[]>;
}

export type SceneInput = { name: string } & Partial<
  Pick<Scene, "description" | "grid_scale" | "grid_units" | "accent_color" | "folder_id" | "sort">
>;
export type TokenInput = { name: string } & Partial<
  Pick<Token, "scene_id" | "folder_id" | "width" | "height" | "x" | "y" | "hidden" | "owner_user_ids">
>;

/** `GET {S}/changes?since=`; `reload` (players): the active scene changed, load `state` again. */
export interface ChangesResponse {
  seq: number;
  changes: ChangeRow[];
  reload?: true;
}

/** One op of `POST {S}/batch`. */
export interface BatchOp {
  op_id: string;
  entity_type: EntityType;
  op: ChangeOpName;
  id?: string;
  base_version?: number;
  data?: JsonObject;
}

export interface BatchResponse {
  seq: number;
  results: { op_id: string; entity: AnyEntity }[];
}

/** A client connected to the session now, as `GET {S}/clients` lists them (GMs only). */
export interface ConnectedClient {
  client_id: string;
  user_id: string;
  role: Role;
  connected_at: string;
  last_seen: string;
  capabilities: Record<string, unknown>;
  /** Browser and OS by name, parsed by the server from the user agent (null: not recognised). */
  device?: { browser: string | null; os: string | null };
}

/** What a new API token is given: a name and, optionally, a lifetime in days. */
export interface ApiTokenRequest {
  name: string;
  expires_in_days?: number;
}

/** One version of an entity, as `GET {S}/<type>/{id}/history` lists them (GMs; see `history.ts`). */
export interface EntityHistoryItem {
  version: number;
  seq: number;
  op: string;
  diff: unknown;
  updated_by: string;
  created_at: string;
}
