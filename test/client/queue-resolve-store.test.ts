import { createStore } from "solid-js/store";
import { afterEach, describe, expect, it } from "vitest";
import { type Cache, deleteCache, openCache } from "../../client/src/lib/cache";
import { keepMine, mergeFields } from "../../client/src/lib/conflict";
import { createQueue } from "../../client/src/lib/queue";
import type { AnyEntity } from "../../client/src/lib/types";
import { FakeServer } from "./helpers/fake-server";
import { freshId, token } from "./helpers/fixtures";

const opened: { cache: Cache; user: string; session: string }[] = [];

afterEach(async () => {
  for (const { cache, user, session } of opened.splice(0)) {
    cache.close();
    await deleteCache(user, session);
  }
});

/** A queue over a real (fake-indexeddb) cache whose one queued move collided with another GM's edit. */
async function conflicted() {
  const user = freshId("u");
  const session = freshId("s");
  const cache = await openCache(user, session);
  opened.push({ cache, user, session });
  const server = new FakeServer();
  server.put("token", token("t1", 1) as unknown as AnyEntity, "create");
  server.edit("token", "t1", { y: 40 });
  const queue = createQueue({
    storage: cache,
    sendBatch: (ops) => server.batch(ops),
    fetchEntity: async (type, id) => server.get(type, id) ?? null,
    onApplied: () => undefined,
    random: () => 0.5,
  });
  await queue.enqueue({ entity_type: "token", op: "update", id: "t1", payload: { x: 3, y: 7 }, base_version: 1 });
  await queue.settled();
  const conflict = queue.state().conflict;
  if (!conflict) throw new Error("expected a conflict");
  // What the dialog gets: the conflict as the view's Solid store holds it, proxies all the way down.
  const [view] = createStore({ conflict: structuredClone(conflict) });
  return { queue, server, cache, shown: view.conflict };
}

describe("resolving a conflict shown from the view's store", () => {
  it("Keep Mine persists and sends a plain op (IndexedDB cannot clone a store proxy)", async () => {
    const { queue, server, cache, shown } = await conflicted();
    await queue.resolve(keepMine(shown, "11111111-1111-4111-8111-111111111111"));
    await queue.settled();
    expect(server.get("token", "t1")).toMatchObject({ x: 3, y: 7, version: 3 });
    expect(queue.state()).toMatchObject({ conflict: null, ops: [] });
    expect(await cache.listOps()).toEqual([]);
  });

  it("Merge Fields does the same with the fields kept", async () => {
    const { queue, server, shown } = await conflicted();
    await queue.resolve(mergeFields(shown, { x: "mine", y: "server" }, "22222222-2222-4222-8222-222222222222"));
    await queue.settled();
    expect(server.get("token", "t1")).toMatchObject({ x: 3, y: 40, version: 3 });
  });
});
