import { afterEach, describe, expect, it, vi } from "vitest";
import { create, newTable } from "../helpers/client";

afterEach(() => {
  vi.restoreAllMocks();
});

function logLines(spy: { mock: { calls: unknown[][] } }): Record<string, any>[] {
  return spy.mock.calls
    .map((args) => {
      try {
        return JSON.parse(String(args[0]));
      } catch {
        return null;
      }
    })
    .filter((line): line is Record<string, any> => line !== null && line.msg === "request");
}

describe("request logs", () => {
  it("write one JSON line per request with request id, user, session, entity, version and latency", async () => {
    const { gm, base, sid } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const spy = vi.spyOn(console, "log").mockImplementation(() => undefined);
    const r = await gm.req("PATCH", `${base}/tokens/${token.id}`, { x: 1 }, { "if-match": '"1"', "x-request-id": "trace-abc.123" });
    expect(r.headers.get("x-request-id")).toBe("trace-abc.123");
    const line = logLines(spy).find((l) => l.request_id === "trace-abc.123");
    expect(line).toMatchObject({
      level: "info",
      method: "PATCH",
      status: 200,
      user_id: gm.id,
      session_id: sid,
      entity_type: "token",
      entity_id: token.id,
      version: 2,
    });
    expect(typeof line?.latency_ms).toBe("number");
  });

  it("mark client errors as warnings and make up a request id when none is sent", async () => {
    const { gm, base } = await newTable();
    const spy = vi.spyOn(console, "log").mockImplementation(() => undefined);
    const r = await gm.req("GET", `${base}/tokens/missing`);
    const id = r.headers.get("x-request-id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(logLines(spy).find((l) => l.request_id === id)).toMatchObject({ level: "warn", status: 404 });
  });
});
