import { describe, expect, it } from "vitest";
import { ApiError } from "../../client/src/lib/api";
import { forgetAuth, recallAuth, rememberAuth, restoreUser, serverUnreachable } from "../../client/src/lib/known-user";
import type { AuthResponse } from "../../client/src/lib/types";

/** localStorage's interface over a Map. */
class MemoryStorage implements Storage {
  readonly #items = new Map<string, string>();
  get length() {
    return this.#items.size;
  }
  clear() {
    this.#items.clear();
  }
  getItem(key: string) {
    return this.#items.get(key) ?? null;
  }
  key(index: number) {
    return [...this.#items.keys()][index] ?? null;
  }
  removeItem(key: string) {
    this.#items.delete(key);
  }
  setItem(key: string, value: string) {
    this.#items.set(key, value);
  }
}

const ada: AuthResponse = { user: { id: "u-ada", username: "ada" }, csrf_token: "csrf-ada" };
const offline = () => new ApiError(0, "network_error", "The server could not be reached.");

describe("the user remembered on this device", () => {
  it("is recalled as it was remembered, and gone once forgotten", () => {
    const storage = new MemoryStorage();
    expect(recallAuth(storage)).toBeNull();
    rememberAuth(ada, storage);
    expect(recallAuth(storage)).toEqual(ada);
    forgetAuth(storage);
    expect(recallAuth(storage)).toBeNull();
  });

  it("ignores a stored value that is not a user with a CSRF token", () => {
    const storage = new MemoryStorage();
    for (const junk of ["{", "null", '{"user":{"id":"u1"}}', '{"user":{"id":"u1","username":"x"}}']) {
      storage.setItem("vtt:last-user", junk);
      expect(recallAuth(storage)).toBeNull();
    }
  });

  it("works without storage (disabled in some private modes)", async () => {
    rememberAuth(ada, null);
    expect(recallAuth(null)).toBeNull();
    await expect(restoreUser(async () => ada, null)).resolves.toEqual({ auth: ada, source: "server" });
  });
});

describe("serverUnreachable", () => {
  it.each([
    [0, true],
    [408, true],
    [429, true],
    [500, true],
    [503, true],
    [401, false],
    [403, false],
    [404, false],
  ])("status %i → %s", (status, expected) => {
    expect(serverUnreachable(new ApiError(status, "bad_response", "x"))).toBe(expected);
  });

  it("is false for an error that is not the API's", () => {
    expect(serverUnreachable(new Error("boom"))).toBe(false);
  });
});

describe("restoreUser", () => {
  it("takes the server's answer and remembers it", async () => {
    const storage = new MemoryStorage();
    await expect(restoreUser(async () => ada, storage)).resolves.toEqual({ auth: ada, source: "server" });
    expect(recallAuth(storage)).toEqual(ada);
  });

  it("offline, answers the user last signed in on this device", async () => {
    const storage = new MemoryStorage();
    rememberAuth(ada, storage);
    const restored = await restoreUser(async () => {
      throw offline();
    }, storage);
    expect(restored).toEqual({ auth: ada, source: "device" });
  });

  it("answers the remembered user when the server fails with 5xx", async () => {
    const storage = new MemoryStorage();
    rememberAuth(ada, storage);
    const restored = await restoreUser(async () => {
      throw new ApiError(503, "unavailable", "try again");
    }, storage);
    expect(restored?.source).toBe("device");
  });

  it("offline with nobody remembered, throws the network error", async () => {
    const error = offline();
    await expect(
      restoreUser(async () => {
        throw error;
      }, new MemoryStorage()),
    ).rejects.toBe(error);
  });

  it("answers null on 401 and forgets the remembered user", async () => {
    const storage = new MemoryStorage();
    rememberAuth(ada, storage);
    const restored = await restoreUser(async () => {
      throw new ApiError(401, "unauthorized", "sign in");
    }, storage);
    expect(restored).toBeNull();
    expect(recallAuth(storage)).toBeNull();
  });

  it("a newer sign-in replaces the remembered user", async () => {
    const storage = new MemoryStorage();
    rememberAuth(ada, storage);
    const grace: AuthResponse = { user: { id: "u-grace", username: "grace" }, csrf_token: "csrf-grace" };
    await restoreUser(async () => grace, storage);
    expect(recallAuth(storage)).toEqual(grace);
  });
});
