/**
 * The preview relay: a live drag of a token, sent by one socket, relayed to the other sockets
 * that may see the token, if the sender may move it. Lossy by design: past PREVIEW_LIMIT a
 * socket's previews are dropped without an answer. It keeps what a preview needs to know of a
 * token (its facts, bounded by TOKEN_CACHE_LIMIT): from what the object committed, else read from
 * D1 outside the write queue (kept only if no commit raced the read, never handed to the entity
 * cache).
 */
import type { AnyEntity } from "../../domain/entities";
import { canWrite } from "../../domain/permissions";
import { coverOf } from "../../domain/player-view";
import type { ClientMessage, ServerMessage } from "../../domain/protocol";
import { type Bucket, PREVIEW_LIMIT, take } from "../../domain/rate-limit";
import { isTokenVisible, type PlayerCover } from "../../domain/visibility";
import type { Db } from "../db/client";
import { loadEntity } from "../db/entities";
import { loadCellSize, loadCoverEntities } from "../db/reads";
import { registry } from "../registry";
import type { EntityCache } from "./entity-cache";
import type { SocketAttachment } from "./session-object";
import type { WriteBehind } from "./write-behind";

/** Token facts kept for previews; the oldest are forgotten beyond this. */
const TOKEN_CACHE_LIMIT = 10_000;

/** What a preview needs to know of a token: who may move it and who may see it. */
export interface TokenFacts {
  id: string;
  scene_id: string | null;
  hidden: boolean;
  archived_at: string | null;
  owner_user_ids: string[];
  rotation: number;
  /** Where it is and how big: whether it is under fog. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export function tokenFacts(entity: AnyEntity): TokenFacts {
  return {
    id: entity.id,
    scene_id: typeof entity.scene_id === "string" ? entity.scene_id : null,
    hidden: entity.hidden === true,
    archived_at: entity.archived_at,
    owner_user_ids: Array.isArray(entity.owner_user_ids) ? entity.owner_user_ids.filter((u): u is string => typeof u === "string") : [],
    rotation: typeof entity.rotation === "number" ? entity.rotation : 0,
    x: typeof entity.x === "number" ? entity.x : 0,
    y: typeof entity.y === "number" ? entity.y : 0,
    width: typeof entity.width === "number" ? entity.width : 1,
    height: typeof entity.height === "number" ? entity.height : 1,
  };
}

/** What the relay needs of the object. */
export interface PreviewRelayHost {
  db(): Db;
  /** Entities as the object last committed them. */
  entities: EntityCache;
  /** The durable log: fog logged but not yet in D1 is waited for. */
  writeLog: WriteBehind;
  /** Bumped by every commit: a read that raced one is not kept. */
  generation(): number;
  activeScene(sessionId: string): Promise<string | null>;
  sockets(tag: string): WebSocket[];
  send(ws: WebSocket, message: ServerMessage): void;
  sendRaw(ws: WebSocket, text: string): void;
}

export class PreviewRelay {
  readonly #host: PreviewRelayHost;
  readonly #tokens = new Map<string, TokenFacts>();
  readonly #buckets = new Map<string, Bucket | undefined>();

  constructor(host: PreviewRelayHost) {
    this.#host = host;
  }

  /** Keeps a token's facts as just committed. */
  rememberToken(facts: TokenFacts): void {
    this.#tokens.delete(facts.id);
    this.#tokens.set(facts.id, facts);
    if (this.#tokens.size > TOKEN_CACHE_LIMIT) {
      const oldest = this.#tokens.keys().next();
      if (!oldest.done) this.#tokens.delete(oldest.value);
    }
  }

  /** Forgets every token's facts (D1 moved on without the object). */
  clear(): void {
    this.#tokens.clear();
  }

  /** A socket left: its preview bucket goes. */
  forget(clientId: string): void {
    this.#buckets.delete(clientId);
  }

  #allow(clientId: string): boolean {
    const result = take(this.#buckets.get(clientId), 1, PREVIEW_LIMIT, Date.now());
    this.#buckets.set(clientId, result.bucket);
    return result.ok;
  }

  async #token(sessionId: string, id: string): Promise<TokenFacts | undefined> {
    const cached = this.#tokens.get(id);
    if (cached) return cached;
    const committed = this.#host.entities.get("token", id);
    if (committed) return tokenFacts(committed);
    // Read outside the queue: kept only for previews, never handed to the entity cache, whose
    // entities must be exactly what this object committed.
    const generation = this.#host.generation();
    const entity = await loadEntity(this.#host.db(), sessionId, "token", id);
    if (!entity) return undefined;
    const facts = tokenFacts(entity);
    if (generation === this.#host.generation()) this.rememberToken(facts);
    return this.#tokens.get(id) ?? facts;
  }

  /**
   * What covers tokens on the scene (the fog, over boxes of the scene's cells), as last committed,
   * else read from D1 (not kept: outside the queue).
   */
  async #cover(sessionId: string, sceneId: string): Promise<PlayerCover | undefined> {
    const cached = this.#host.entities.sceneCover(sceneId);
    if (cached) return coverOf(registry, cached.entities, cached.cellPx);
    // Fog logged but not yet in D1 must hide tokens too: D1 first catches up with the log.
    if (this.#host.writeLog.size > 0) await this.#host.writeLog.drained();
    const db = this.#host.db();
    const [entities, cellPx] = await Promise.all([loadCoverEntities(db, sessionId, sceneId), loadCellSize(db, sessionId, sceneId)]);
    return coverOf(registry, entities, cellPx);
  }

  /** Relays a live drag to the other sockets that may see the token, if the sender may move it. */
  async relay(ws: WebSocket, att: SocketAttachment, message: Extract<ClientMessage, { type: "preview" }>): Promise<void> {
    if (!this.#allow(att.clientId)) return; // lossy by design: the drop is what counts
    const host = this.#host;
    const token = await this.#token(att.sessionId, message.entity_id);
    const activeSceneId = await host.activeScene(att.sessionId);
    // Under fog a token is not relayed to players, where it is nor where it is dragged to.
    const cover = token && activeSceneId !== null ? await this.#cover(att.sessionId, activeSceneId) : undefined;
    // The facts hold exactly the fields the player filter reads of a token.
    const facts = token as unknown as AnyEntity | undefined;
    const visible = facts
      ? isTokenVisible(facts, activeSceneId, { cover }) &&
        isTokenVisible({ ...facts, x: message.x, y: message.y }, activeSceneId, { cover })
      : false;
    const ownVisible = facts ? isTokenVisible(facts, activeSceneId, { cover, userId: att.userId }) : false;
    if (!token || token.archived_at !== null || (att.role === "player" && !ownVisible)) {
      host.send(ws, { type: "error", code: "not_found", message: "no such token" });
      return;
    }
    const keys = message.rotation === undefined ? ["x", "y"] : ["x", "y", "rotation"];
    if (!canWrite(registry, { userId: att.userId, role: att.role }, "token", "update", token as unknown as Record<string, unknown>, keys)) {
      host.send(ws, { type: "error", code: "forbidden", message: "you may not move this token" });
      return;
    }
    const text = JSON.stringify({
      type: "preview",
      entity_id: token.id,
      user_id: att.userId,
      x: message.x,
      y: message.y,
      rotation: message.rotation ?? token.rotation,
    } satisfies ServerMessage);
    for (const other of host.sockets("role:gm")) if (other !== ws) host.sendRaw(other, text);
    if (visible) for (const other of host.sockets("role:player")) if (other !== ws) host.sendRaw(other, text);
  }
}
