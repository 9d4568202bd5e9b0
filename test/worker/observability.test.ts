import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { app } from "../../worker/app";
import { create, newTable, ORIGIN } from "../helpers/client";
import { jsonLines } from "../helpers/log-lines";

afterEach(() => {
  vi.restoreAllMocks();
});

function logLines(spy: { mock: { calls: unknown[][] } }) {
  return jsonLines(spy).filter((line) => line.msg === "request");
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

describe("request logs without LOG_LEVEL=info", () => {
  it("skip successful requests but still log client errors as warnings", async () => {
    const { gm, base } = await newTable();
    const token = await create(gm, base, "tokens", { name: "Hero" });
    const quiet = { ...env, LOG_LEVEL: undefined };
    const spy = vi.spyOn(console, "log").mockImplementation(() => undefined);
    const send = async (path: string, requestId: string, init: { method: string; body?: string; headers?: Record<string, string> }) => {
      const ctx = createExecutionContext();
      const res = await app.request(
        `${ORIGIN}${path}`,
        {
          method: init.method,
          body: init.body ?? null,
          headers: { cookie: gm.cookie, "x-csrf-token": gm.csrf, "x-request-id": requestId, ...init.headers },
        },
        quiet,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return res;
    };
    const ok = await send(`${base}/tokens/${token.id}`, "quiet-ok", {
      method: "PATCH",
      body: JSON.stringify({ x: 7 }),
      headers: { "content-type": "application/json", "if-match": '"1"' },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ id: token.id, version: 2, x: 7 });
    const missing = await send(`${base}/tokens/missing`, "quiet-missing", { method: "GET" });
    expect(missing.status).toBe(404);
    const lines = logLines(spy);
    expect(lines.find((l) => l.request_id === "quiet-ok")).toBeUndefined();
    expect(lines.find((l) => l.request_id === "quiet-missing")).toMatchObject({ level: "warn", status: 404, method: "GET" });
    // The write was stored all the same.
    const read = await gm.req("GET", `${base}/tokens/${token.id}`);
    expect(read.body).toMatchObject({ version: 2, x: 7 });
  });
});
