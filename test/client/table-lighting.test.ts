// @vitest-environment jsdom
import { cleanup, waitFor } from "@solidjs/testing-library";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SessionSync } from "../../client/src/lib/sync";
import type { AnyEntity } from "../../client/src/lib/types";
import { FakeServer } from "./helpers/fake-server";
import { FakeWebSocket } from "./helpers/fake-socket";
import { scene } from "./helpers/fixtures";
import { renderSessionTable } from "./helpers/table";

const running: SessionSync[] = [];
beforeEach(() => FakeWebSocket.reset());
afterEach(async () => {
  cleanup();
  for (const sync of running.splice(0)) await sync.stop();
});

describe("the table's lighting", () => {
  it("follows the session state's lighting flag on a player's table", async () => {
    const server = new FakeServer();
    server.role = "player";
    server.put("scene", scene("s1", 1, { name: "Crypt" }) as unknown as AnyEntity, "create");
    const { sync } = await renderSessionTable(server, "u-player", running);
    const main = () => document.querySelector(".table-main");
    expect(main()?.getAttribute("data-lighting")).toBe("off");
    server.edit("session_state", "st", { flags: { lighting: true } });
    await sync.reload();
    await waitFor(() => expect(main()?.getAttribute("data-lighting")).toBe("on"));
  });
});
