/**
 * The newest D1 bookmark this client saw for a session (docs/architecture.md "Read replicas").
 * Write answers, the socket's `landed` messages and read answers carry one (`X-VTT-Bookmark`);
 * reads send the newest back, so the replica that answers them holds at least what this client
 * already saw. Bookmarks sort oldest to newest as strings (D1's bookmarks are fixed-width hex),
 * so the newest is the largest, and the kept one never goes back.
 */

/** The header bookmarks travel in, both ways. */
export const BOOKMARK_HEADER = "X-VTT-Bookmark";

const SHAPE = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;

/** Whether a value has the shape of a D1 bookmark (anything else is ignored). */
export function isBookmark(value: unknown): value is string {
  return typeof value === "string" && SHAPE.test(value);
}

export interface Bookmarks {
  /** The newest bookmark seen, or null. */
  get(): string | null;
  /** Keeps `value` when it is a bookmark newer than the one kept; whether it was. */
  offer(value: unknown): boolean;
  /** Called with each newer bookmark kept; returns the unsubscribe. */
  subscribe(listener: (bookmark: string) => void): () => void;
}

export function createBookmarks(initial: unknown = null): Bookmarks {
  let current: string | null = isBookmark(initial) ? initial : null;
  const listeners = new Set<(bookmark: string) => void>();
  return {
    get: () => current,
    offer(value) {
      if (!isBookmark(value) || (current !== null && value <= current)) return false;
      current = value;
      for (const listener of [...listeners]) listener(value);
      return true;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
