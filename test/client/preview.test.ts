import { describe, expect, it } from "vitest";
import { createPreviewSender, type PreviewMessage } from "../../client/src/lib/preview";
import { ManualClock } from "./helpers/timers";

function setup() {
  const clock = new ManualClock();
  const sent: PreviewMessage[] = [];
  const sender = createPreviewSender(
    (message) => {
      sent.push(message);
      return true;
    },
    { intervalMs: 50, timers: clock },
  );
  return { clock, sent, sender };
}

describe("createPreviewSender", () => {
  it("sends the first position at once as a protocol preview message", () => {
    const { sent, sender } = setup();
    sender.move("tok-1", 10.4, 20.6, 15);
    expect(sent).toEqual([{ type: "preview", entity_id: "tok-1", x: 10, y: 21, rotation: 15 }]);
  });

  it("sends at most one position per interval and always the last one", async () => {
    const { clock, sent, sender } = setup();
    sender.move("tok-1", 1, 1);
    sender.move("tok-1", 2, 2);
    sender.move("tok-1", 3, 3);
    expect(sent.map((m) => m.x)).toEqual([1]);
    await clock.advance(50);
    expect(sent.map((m) => m.x)).toEqual([1, 3]);
    await clock.advance(500);
    expect(sent.map((m) => m.x)).toEqual([1, 3]);
  });

  it("drops a waiting position when cancelled", async () => {
    const { clock, sent, sender } = setup();
    sender.move("tok-1", 1, 1);
    sender.move("tok-1", 2, 2);
    sender.cancel();
    await clock.advance(200);
    expect(sent.map((m) => m.x)).toEqual([1]);
    sender.move("tok-1", 5, 5);
    expect(sent.map((m) => m.x)).toEqual([1, 5]);
  });

  it("leaves rotation out when it is not given", () => {
    const { sent, sender } = setup();
    sender.move("tok-1", 0, 0);
    expect(sent[0]).not.toHaveProperty("rotation");
  });
});
