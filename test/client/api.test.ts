import { describe, expect, it } from "vitest";
import { ApiError, createSessionApi, sessionSocketUrl } from "../../client/src/lib/api";
import { noModules } from "./helpers/fixtures";

/** A fetch that records requests and answers from a list. */
function fakeFetch(...answers: Response[]) {
  const requests: { url: string; method: string; headers: Headers; body: unknown }[] = [];
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    requests.push({
      url: String(input),
      method: init?.method ?? "GET",
      headers: new Headers(init?.headers),
      body: typeof init?.body === "string" ? JSON.parse(init.body) : undefined,
    });
    const answer = answers.shift();
    if (!answer) throw new TypeError("Failed to fetch");
    return answer;
  }) as typeof fetch;
  return { fetchImpl, requests };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

describe("the session API of the sync layer", () => {
  it("asks for changes since a seq with If-None-Match and answers null on 304", async () => {
    const { fetchImpl, requests } = fakeFetch(new Response(null, { status: 304 }), json(200, { seq: 9, changes: [] }));
    const api = createSessionApi("s 1", noModules, fetchImpl);
    expect(await api.getChanges(7, 7)).toBeNull();
    expect(await api.getChanges(7)).toEqual({ seq: 9, changes: [] });
    expect(requests[0]?.url).toBe("/api/vtt/sessions/s%201/changes?since=7");
    expect(requests[0]?.headers.get("If-None-Match")).toBe('"7"');
    expect(requests[1]?.headers.has("If-None-Match")).toBe(false);
  });

  it("turns 410 into an ApiError the transport recognises", async () => {
    const { fetchImpl } = fakeFetch(json(410, { error: { code: "gone", message: "reload the state" } }));
    const error = await createSessionApi("s1", noModules, fetchImpl)
      .getChanges(1)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 410, code: "gone" });
  });

  it("posts batches as {ops} and reads Retry-After on 429", async () => {
    const { fetchImpl, requests } = fakeFetch(
      json(429, { error: { code: "rate_limited", message: "slow down" } }, { "Retry-After": "3" }),
      json(200, { seq: 2, results: [] }),
    );
    const api = createSessionApi("s1", noModules, fetchImpl);
    const op = { op_id: "00000000-0000-4000-8000-000000000001", entity_type: "token" as const, op: "create" as const, data: {} };
    await expect(api.batch([op])).rejects.toMatchObject({ status: 429, retryAfterMs: 3000 });
    expect(await api.batch([op])).toEqual({ seq: 2, results: [] });
    expect(requests[1]).toMatchObject({ url: "/api/vtt/sessions/s1/batch", method: "POST", body: { ops: [op] } });
  });

  it("reads one entity by its type's path", async () => {
    const { fetchImpl, requests } = fakeFetch(json(200, { id: "a1", version: 1 }));
    await createSessionApi("s1", noModules, fetchImpl).getEntity("token_art", "a1");
    expect(requests[0]?.url).toBe("/api/vtt/sessions/s1/token-art/a1");
  });

  it("reports no answer at all as a network error (status 0)", async () => {
    const { fetchImpl } = fakeFetch();
    await expect(createSessionApi("s1", noModules, fetchImpl).getState()).rejects.toMatchObject({ status: 0, code: "network_error" });
  });

  it("builds the socket URL on the page's origin", () => {
    expect(sessionSocketUrl("s1", "https://vtt.example.com")).toBe("wss://vtt.example.com/api/vtt/sessions/s1/ws");
    expect(sessionSocketUrl("s1", "http://127.0.0.1:8787")).toBe("ws://127.0.0.1:8787/api/vtt/sessions/s1/ws");
  });
});
