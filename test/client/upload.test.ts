import { afterEach, describe, expect, it } from "vitest";
import { ApiError, importSceneBundle, setCsrfToken } from "../../client/src/lib/api";
import { assetFileUrl, uploadAsset } from "../../client/src/lib/upload";

type Listener = (event: { lengthComputable?: boolean; loaded?: number; total?: number }) => void;

/** An XMLHttpRequest double: records the request; the test answers it. */
class FakeXhr {
  static last: FakeXhr | null = null;
  method = "";
  url = "";
  withCredentials = false;
  headers: Record<string, string> = {};
  body: unknown = null;
  status = 0;
  responseText = "";
  #listeners: Record<string, Listener[]> = {};
  #uploadListeners: Record<string, Listener[]> = {};
  upload = {
    addEventListener: (type: string, listener: Listener) => {
      this.#uploadListeners[type] = [...(this.#uploadListeners[type] ?? []), listener];
    },
  };

  constructor() {
    FakeXhr.last = this;
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  addEventListener(type: string, listener: Listener) {
    this.#listeners[type] = [...(this.#listeners[type] ?? []), listener];
  }
  send(body: unknown) {
    this.body = body;
  }
  progress(loaded: number, total: number) {
    for (const l of this.#uploadListeners.progress ?? []) l({ lengthComputable: true, loaded, total });
  }
  answer(status: number, body: unknown) {
    this.status = status;
    this.responseText = typeof body === "string" ? body : JSON.stringify(body);
    for (const l of this.#listeners.load ?? []) l({});
  }
  fail() {
    for (const l of this.#listeners.error ?? []) l({});
  }
}

const XHR = FakeXhr as unknown as typeof XMLHttpRequest;
const file = () => new File([new Uint8Array([1, 2, 3])], "map.png", { type: "image/png" });
const asset = { hash: "a".repeat(64), mime: "image/png", size: 3, width: 1, height: 1, url: "/api/vtt/assets/x" };

afterEach(() => setCsrfToken(null));

function current(): FakeXhr {
  if (!FakeXhr.last) throw new Error("no request was made");
  return FakeXhr.last;
}

describe("uploadAsset", () => {
  it("posts the file and its kind as multipart, with the cookie and the CSRF token", async () => {
    setCsrfToken("csrf-1");
    const done = uploadAsset("sess 1", file(), "token", () => undefined, XHR);
    const xhr = current();
    expect(xhr.method).toBe("POST");
    expect(xhr.url).toBe("/api/vtt/sessions/sess%201/assets?kind=token");
    expect(xhr.withCredentials).toBe(true);
    expect(xhr.headers["X-CSRF-Token"]).toBe("csrf-1");
    const form = xhr.body as FormData;
    expect(form.get("kind")).toBe("token");
    expect((form.get("file") as File).name).toBe("map.png");
    xhr.answer(201, { asset });
    await expect(done).resolves.toEqual(asset);
  });

  it("reports the upload's progress as a fraction, ending at 1", async () => {
    const seen: number[] = [];
    const done = uploadAsset("s1", file(), "map", (f) => seen.push(f), XHR);
    const xhr = current();
    xhr.progress(1, 4);
    xhr.progress(4, 4);
    xhr.answer(201, { asset });
    await done;
    expect(seen).toEqual([0.25, 1, 1]);
  });

  it("turns the error envelope into an ApiError", async () => {
    const done = uploadAsset("s1", file(), "map", () => undefined, XHR);
    current().answer(415, { error: { code: "unsupported_media_type", message: "not an image", details: { reason: "unsupported_type" } } });
    const error = await done.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 415, code: "unsupported_media_type", details: { reason: "unsupported_type" } });
  });

  it("rejects with a network error when no answer comes", async () => {
    const done = uploadAsset("s1", file(), "map", () => undefined, XHR);
    current().fail();
    await expect(done).rejects.toMatchObject({ status: 0, code: "network_error" });
  });
});

describe("assetFileUrl", () => {
  it("names the session's redirect to a signed URL", () => {
    expect(assetFileUrl("s/1", "b".repeat(64))).toBe(`/api/vtt/sessions/s%2F1/assets/${"b".repeat(64)}/file`);
  });
});

describe("importSceneBundle", () => {
  it("posts the zip as the body with the CSRF token, reports progress, and answers the new scene", async () => {
    setCsrfToken("tok");
    const progress: number[] = [];
    const zip = new Blob([new Uint8Array([0x50, 0x4b])], { type: "application/zip" });
    const done = importSceneBundle("s 1", zip, (f) => progress.push(f), XHR);
    const xhr = current();
    expect([xhr.method, xhr.url]).toEqual(["POST", "/api/vtt/sessions/s%201/import"]);
    expect(xhr.headers["X-CSRF-Token"]).toBe("tok");
    expect(xhr.headers["Content-Type"]).toBe("application/zip");
    expect(xhr.body).toBe(zip);
    xhr.progress(1, 2);
    xhr.answer(201, { scene: { id: "new", name: "Crypt" } });
    await expect(done).resolves.toEqual({ scene: { id: "new", name: "Crypt" } });
    expect(progress).toEqual([0.5, 1]);
  });

  it("rejects with the contract's error for a refused bundle", async () => {
    const done = importSceneBundle("s1", new Blob([]), () => undefined, XHR);
    current().answer(400, { error: { code: "bad_request", message: "the bundle is not acceptable", details: { problems: ["x"] } } });
    await expect(done).rejects.toMatchObject({ status: 400, code: "bad_request", details: { problems: ["x"] } });
  });
});
