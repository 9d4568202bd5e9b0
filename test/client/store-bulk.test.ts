import { describe, expect, it } from "vitest";
import type { CachedEntity } from "../../client/src/lib/cache";
import { applyEntity, applyState, emptyWorld, type World, worldFromCache } from "../../client/src/lib/store";
import type { AnyEntity, EntityType } from "../../client/src/lib/types";
import { noModules, scene, snapshot, token } from "./helpers/fixtures";

const e = (entity: object) => entity as AnyEntity;

/** A world of 200 scenes and 5,000 tokens, as the cache would hold it. */
function bigCache(): CachedEntity[] {
  const out: CachedEntity[] = [];
  const add = (type: EntityType, entity: AnyEntity) => out.push({ type, id: entity.id, version: entity.version, payload: entity });
  for (let i = 0; i < 200; i++) add("scene", e(scene(`s${i}`, 1, { sort: i })));
  for (let i = 0; i < 5000; i++) add("token", e(token(`t${i}`, 1 + (i % 3), { scene_id: `s${i % 200}`, x: i })));
  return out;
}

/** The same entities applied one at a time: what the bulk paths must equal. */
function oneByOne(entities: readonly CachedEntity[], seq: number): World {
  let world = emptyWorld();
  for (const { type, payload } of entities) world = applyEntity(world, type, payload);
  return { ...world, seq };
}

describe("bulk loads of a big world", () => {
  it("worldFromCache equals applying the cached entities one by one", () => {
    // A slice: one by one is the slow way (a copy of the collection per entity).
    const cached = bigCache().slice(0, 1200);
    cached.push({ type: "token", id: "gone", version: 4, payload: e(token("gone", 4, { archived_at: "2025-01-03T00:00:00.000Z" })) });
    const world = worldFromCache(cached, 42);
    expect(world).toEqual(oneByOne(cached, 42));
    expect(Object.keys(world.tokens)).toHaveLength(1000);
    expect(world.tombstones).toEqual({ "token:gone": 4 });
  });

  it("worldFromCache and applyState take milliseconds, not seconds, for 5,000 tokens", () => {
    const cached = bigCache();
    const started = performance.now();
    const fromCache = worldFromCache(cached, 7);
    const fromState = applyState(
      emptyWorld(),
      snapshot({
        seq: 7,
        scenes: cached.filter((c) => c.type === "scene").map((c) => c.payload) as never,
        tokens: cached.filter((c) => c.type === "token").map((c) => c.payload) as never,
      }),
      noModules,
    );
    // Applying them one by one copies the collection per entity: seconds on this size.
    expect(performance.now() - started).toBeLessThan(500);
    expect(fromState.tokens).toEqual(fromCache.tokens);
    expect(fromState.scenes).toEqual(fromCache.scenes);
  });

  it("applyState leaves the world it was given untouched", () => {
    const before = worldFromCache(bigCache().slice(0, 300), 3);
    const frozen = structuredClone(before);
    const after = applyState(before, snapshot({ seq: 9, tokens: [token("t1", 9, { x: 99 })] }), noModules);
    expect(before).toEqual(frozen);
    expect(after.tokens.t1?.x).toBe(99);
    expect(after.tokens.t2).toBeUndefined();
  });
});
