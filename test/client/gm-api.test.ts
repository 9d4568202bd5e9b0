import { describe, expect, it } from "vitest";
import { ApiError, createGmApi } from "../../client/src/lib/api";
import { noModules } from "./helpers/fixtures";

function fakeFetch(...answers: Response[]) {
  const requests: { url: string; method: string; body: unknown }[] = [];
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    requests.push({
      url: String(input),
      method: init?.method ?? "GET",
      body: typeof init?.body === "string" ? JSON.parse(init.body) : undefined,
    });
    const answer = answers.shift();
    if (!answer) throw new TypeError("Failed to fetch");
    return answer;
  }) as typeof fetch;
  return { fetchImpl, requests };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
const lock = { scene_id: "s1", holder_user_id: "u1", expires_at: "2030-01-01T00:05:00.000Z" };

describe("the GM's API calls", () => {
  it("calls the contract's paths with the right methods and bodies", async () => {
    const { fetchImpl, requests } = fakeFetch(
      json(200, { session: {}, role: "gm", members: [] }),
      json(200, { member: { user_id: "u 2", username: "ann", role: "gm" } }),
      json(200, { clients: [] }),
      json(200, { locks: [lock] }),
      json(201, { lock }),
      new Response(null, { status: 204 }),
      json(200, { items: [] }),
    );
    const api = createGmApi("sess", noModules, fetchImpl);
    await api.getSession();
    await api.setMemberRole("u 2", "gm");
    await api.listClients();
    expect(await api.listLocks()).toEqual({ locks: [lock] });
    expect(await api.acquireLock("s1")).toEqual({ lock });
    expect(await api.releaseLock("s/1")).toBeUndefined();
    await api.listArchived("token_art");
    expect(requests.map((r) => [r.method, r.url, r.body])).toEqual([
      ["GET", "/api/vtt/sessions/sess", undefined],
      ["PUT", "/api/vtt/sessions/sess/members/u%202", { role: "gm" }],
      ["GET", "/api/vtt/sessions/sess/clients", undefined],
      ["GET", "/api/vtt/sessions/sess/locks", undefined],
      ["POST", "/api/vtt/sessions/sess/locks", { scene_id: "s1" }],
      ["DELETE", "/api/vtt/sessions/sess/locks/s%2F1", undefined],
      ["GET", "/api/vtt/sessions/sess/token-art?archived=true", undefined],
    ]);
  });

  it("hands on the lock of a 409 in the error's details", async () => {
    const { fetchImpl } = fakeFetch(json(409, { error: { code: "conflict", message: "held", details: { lock } } }));
    const error = await createGmApi("sess", noModules, fetchImpl)
      .acquireLock("s1")
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).details?.lock).toEqual(lock);
  });
});
