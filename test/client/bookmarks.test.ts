/**
 * The client keeps the newest D1 bookmark it saw (client/src/lib/bookmark.ts): from read and write
 * answers and the socket's `landed` messages, never going back, kept with the cache, and sent on
 * every read (`X-VTT-Bookmark`).
 */
import { describe, expect, it, vi } from "vitest";
import { createSessionApi } from "../../client/src/lib/api";
import { createBookmarks } from "../../client/src/lib/bookmark";
import { openCache } from "../../client/src/lib/cache";
import { FakeServer } from "./helpers/fake-server";
import { FakeWebSocket } from "./helpers/fake-socket";
import { noModules } from "./helpers/fixtures";
import { useSyncHarness } from "./helpers/sync-harness";

const mark = (n: number) => `00000000-${n.toString(16).padStart(8, "0")}-00000000-${"0".repeat(32)}`;
const HEADER = "X-VTT-Bookmark";

function fakeFetch(...answers: Response[]) {
  const requests: { url: string; method: string; headers: Headers }[] = [];
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    requests.push({ url: String(input), method: init?.method ?? "GET", headers: new Headers(init?.headers) });
    const answer = answers.shift();
    if (!answer) throw new TypeError("Failed to fetch");
    return answer;
  }) as typeof fetch;
  return { fetchImpl, requests };
}

const json = (body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json", ...headers } });

describe("bookmarks", () => {
  it("keeps the newest, ignoring older ones and anything that is not a bookmark", () => {
    const bookmarks = createBookmarks("not a bookmark");
    const seen: string[] = [];
    bookmarks.subscribe((b) => seen.push(b));
    expect(bookmarks.get()).toBeNull();
    expect(bookmarks.offer(mark(5))).toBe(true);
    expect(bookmarks.offer(mark(3))).toBe(false);
    expect(bookmarks.offer(mark(5))).toBe(false);
    for (const junk of [null, undefined, 7, "", "garbage", `${mark(9)} `, mark(9).toUpperCase().replace("0000000", "000000G")]) {
      expect(bookmarks.offer(junk)).toBe(false);
    }
    expect(bookmarks.offer(mark(0x1a))).toBe(true);
    expect(bookmarks.get()).toBe(mark(0x1a));
    expect(seen).toEqual([mark(5), mark(0x1a)]);
  });

  it("the session API sends the newest bookmark on reads and takes it from every answer", async () => {
    const { fetchImpl, requests } = fakeFetch(
      json({ seq: 1, changes: [] }, { [HEADER]: mark(4) }),
      json({ seq: 2, results: [] }, { [HEADER]: mark(9) }),
      // An answer from a replica with an older bookmark, then a garbage one: the kept one stays.
      json({ seq: 2, changes: [] }, { [HEADER]: mark(6) }),
      json({ seq: 2, changes: [] }, { [HEADER]: "garbage" }),
      new Response(null, { status: 304, headers: { [HEADER]: mark(10) } }),
      json({ seq: 2, changes: [] }),
    );
    const api = createSessionApi("s1", noModules, fetchImpl);
    await api.getChanges(0);
    expect(requests[0]?.headers.has(HEADER)).toBe(false);
    await api.batch([]);
    await api.getChanges(1);
    expect(requests[2]?.headers.get(HEADER)).toBe(mark(9));
    await api.getChanges(2);
    expect(requests[3]?.headers.get(HEADER)).toBe(mark(9));
    expect(await api.getState(2)).toBeNull();
    expect(requests[4]?.headers.get(HEADER)).toBe(mark(9));
    await api.getChanges(2);
    expect(requests[5]?.headers.get(HEADER)).toBe(mark(10));
    expect(api.bookmarks?.get()).toBe(mark(10));
  });
});

/** The fake server, with the bookmarks a real session API keeps. */
class BookmarkedServer extends FakeServer {
  bookmarks = createBookmarks();
}

describe("the sync layer's bookmark", () => {
  const harness = useSyncHarness();

  it("takes `landed` messages, never goes back, keeps it in the cache and starts from it next time", async () => {
    const server = new BookmarkedServer();
    const { sync } = await harness.start(server);
    const handed: string[] = [];
    sync.listen((m) => handed.push(m.type));
    await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBeGreaterThan(0));
    const ws = FakeWebSocket.latest();
    ws.accept();
    ws.receive({ type: "landed", seq: 3, bookmark: mark(7) });
    await vi.waitFor(() => expect(server.bookmarks.get()).toBe(mark(7)));
    ws.receive({ type: "landed", seq: 2, bookmark: mark(2) });
    ws.receive({ type: "landed", seq: 4, bookmark: "garbage" });
    // Messages are handled in order: once this one reached the listeners, the two before were handled.
    ws.receive({ type: "later-kind", seq: 5 });
    await vi.waitFor(() => expect(handed).toContain("later-kind"));
    expect(server.bookmarks.get()).toBe(mark(7));
    expect(handed).not.toContain("landed");
    await sync.stop();

    const cache = await openCache(harness.ids.user, harness.ids.session);
    expect((await cache.loadAll()).meta.bookmark).toBe(mark(7));
    cache.close();

    // The next start of the session reads from there.
    const again = new BookmarkedServer();
    await harness.start(again);
    expect(again.bookmarks.get()).toBe(mark(7));
  });
});
