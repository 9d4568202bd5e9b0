/** A token coming into a player's view brings what hangs on it (`related`): the store keeps it. */
import { describe, expect, it } from "vitest";
import { applyMessage, emptyWorld } from "../../client/src/lib/store";
import type { InboundMessage } from "../../client/src/lib/transport";
import type { AnyEntity } from "../../client/src/lib/types";
import { token } from "./helpers/fixtures";

const art = {
  id: "a1",
  version: 1,
  created_at: "",
  updated_at: "",
  updated_by: "",
  archived_at: null,
  token_id: "t1",
  image_asset: "f".repeat(64),
};

describe("a change with related entities", () => {
  it("applies the token and what hangs on it together, at the change's seq", () => {
    const message = {
      type: "change",
      event_id: 7,
      seq: 7,
      entity_type: "token",
      entity_id: "t1",
      version: 2,
      op: "update",
      entity: token("t1", 2, { hidden: false }) as unknown as AnyEntity,
      related: [{ entity_type: "token_art", entity: art as AnyEntity }],
    } as InboundMessage;
    const world = applyMessage(emptyWorld(), message);
    expect(world.seq).toBe(7);
    expect(world.tokens.t1?.version).toBe(2);
    expect(world.token_art.a1).toMatchObject({ token_id: "t1", version: 1 });
  });

  it("keeps a newer copy it already holds", () => {
    const held = applyMessage(emptyWorld(), {
      type: "change",
      event_id: 3,
      seq: 3,
      entity_type: "token_art",
      entity_id: "a1",
      version: 2,
      op: "update",
      entity: { ...art, version: 2, image_asset: "e".repeat(64) } as AnyEntity,
    } as InboundMessage);
    const world = applyMessage(held, {
      type: "change",
      event_id: 4,
      seq: 4,
      entity_type: "token",
      entity_id: "t1",
      version: 2,
      op: "update",
      entity: token("t1", 2) as unknown as AnyEntity,
      related: [{ entity_type: "token_art", entity: art as AnyEntity }],
    } as InboundMessage);
    expect(world.token_art.a1?.version).toBe(2);
  });
});
