/**
 * The entities a session object last committed, so planning reads them instead of D1
 * (worker/session/prefetch.ts).
 */
import type { AnyEntity, EntityType } from "../../domain/entities";
import type { AppliedRecord, Change } from "../../domain/plan";
import type { CoverEntity, SceneCover } from "../../domain/player-view";
import { sceneCellPx } from "../../domain/visibility";
import { registry } from "../registry";

/**
 * Entities as last committed by this session object, so repeated writes to the same entities
 * need no D1 read. It is only valid because the object is the single writer of its session:
 * it belongs to one object instance (never module-level state, which could outlive an eviction
 * while another instance writes), is updated after each successful commit and cleared on any
 * failure.
 *
 * Write-behind (write-behind.ts): a batch is in the object's log before it is in D1. Every entity
 * it changed and every op id it applied is *pinned* here until D1 holds it: never evicted nor
 * cleared, so a lookup by id that misses the cache may read D1, which is then current for that id.
 * Reads that D1 answers by query (the tokens or the fog of a scene) wait for `settled` first.
 */
export class EntityCache {
  readonly #entities = new Map<string, AnyEntity>();
  readonly #limit: number;
  /** Keys with logged changes not yet in D1, and how many. */
  readonly #pins = new Map<string, number>();
  /** Applied op ids logged but not yet in D1: replays of them are recognised here. */
  readonly #pendingOps = new Map<string, AppliedRecord>();
  /** Resolves once D1 holds everything logged; set by the object that owns the log. */
  settled: () => Promise<void> = async () => undefined;

  constructor(limit = 5000) {
    this.#limit = limit;
  }

  get(type: EntityType, id: string): AnyEntity | undefined {
    return this.#entities.get(`${type}:${id}`);
  }

  /** The cached session state, whatever its id. */
  sessionState(): AnyEntity | undefined {
    return this.#state;
  }

  #state: AnyEntity | undefined;

  put(type: EntityType, entity: AnyEntity): void {
    if (type === "session_state") {
      this.#state = entity;
      return;
    }
    const key = `${type}:${entity.id}`;
    this.#entities.delete(key);
    this.#entities.set(key, entity);
    if (this.#entities.size > this.#limit) {
      for (const oldest of this.#entities.keys()) {
        if (this.#pins.has(oldest)) continue;
        this.#entities.delete(oldest);
        break;
      }
    }
  }

  /** A logged batch (already `remember`ed): its entities and op ids stay until D1 holds them. */
  pin(changes: readonly Pick<Change, "type" | "id">[], applied: readonly AppliedRecord[]): void {
    for (const c of changes) this.#pins.set(`${c.type}:${c.id}`, (this.#pins.get(`${c.type}:${c.id}`) ?? 0) + 1);
    for (const a of applied) this.#pendingOps.set(a.op_id, a);
  }

  /** D1 holds a logged batch: its entries may be evicted again. */
  unpin(changes: readonly Pick<Change, "type" | "id">[], applied: readonly AppliedRecord[]): void {
    for (const c of changes) {
      const key = `${c.type}:${c.id}`;
      const left = (this.#pins.get(key) ?? 0) - 1;
      if (left > 0) this.#pins.set(key, left);
      else this.#pins.delete(key);
    }
    for (const a of applied) if (this.#pendingOps.get(a.op_id) === a) this.#pendingOps.delete(a.op_id);
  }

  /** Forgets everything, pins too: D1 refused what was logged (write-behind.ts), the object starts again from D1. */
  reset(): void {
    this.#pins.clear();
    this.#pendingOps.clear();
    this.clear();
  }

  /** The entities with logged changes not yet in D1 (the session state aside), as last written. */
  pinned(): { type: EntityType; entity: AnyEntity }[] {
    const out: { type: EntityType; entity: AnyEntity }[] = [];
    for (const [key, entity] of this.#entities) {
      if (this.#pins.has(key)) out.push({ type: key.slice(0, key.length - entity.id.length - 1), entity });
    }
    return out;
  }

  /** An op id applied by a batch that is logged but not yet in D1. */
  pendingOp(opId: string): AppliedRecord | undefined {
    return this.#pendingOps.get(opId);
  }

  /**
   * The covering entities (fog) of one scene and the scene's cell size (it sizes the boxes of the
   * scene's tokens), as committed, when known.
   */
  #cover: { sceneId: string; entities: Map<string, CoverEntity>; cellPx: number } | undefined;

  sceneCover(sceneId: string): SceneCover | undefined {
    return this.#cover?.sceneId === sceneId ? { entities: [...this.#cover.entities.values()], cellPx: this.#cover.cellPx } : undefined;
  }

  putSceneCover(sceneId: string, cover: SceneCover): void {
    this.#cover = { sceneId, entities: new Map(cover.entities.map((e) => [`${e.type}:${e.entity.id}`, e])), cellPx: cover.cellPx };
  }

  /** After a commit: the entities as written. */
  remember(changes: readonly Change[]): void {
    for (const c of changes) {
      this.put(c.type, c.entity);
      if (this.#cover && registry.coversTokens(c.type)) {
        const key = `${c.type}:${c.id}`;
        if (c.entity.scene_id === this.#cover.sceneId && c.entity.archived_at === null) {
          this.#cover.entities.set(key, { type: c.type, entity: c.entity });
        } else this.#cover.entities.delete(key);
      }
      if (this.#cover && c.type === "scene" && c.id === this.#cover.sceneId) this.#cover.cellPx = sceneCellPx(c.entity);
    }
  }

  /** Forgets what D1 can tell again; what is pinned (logged, not yet in D1) stays. */
  clear(): void {
    for (const key of [...this.#entities.keys()]) if (!this.#pins.has(key)) this.#entities.delete(key);
    if (this.#state && !this.#pins.has(`session_state:${this.#state.id}`)) this.#state = undefined;
    this.#cover = undefined;
  }
}
