/**
 * A small client for the API of /work/shared/API.md, for benchmarks: global fetch (which keeps
 * connections alive and pools them per origin), bearer-token auth, and errors that carry the
 * exact request and response so a server bug can be reported as it happened.
 */
import { performance } from "node:perf_hooks";

/** URL segment of each entity type under /api/vtt/sessions/{sid}/ (the contract's table). */
export const ENTITY_PATHS = {
  scene: "scenes",
  folder: "folders",
  layer: "layers",
  token: "tokens",
  token_art: "token-art",
  session_state: "session-state",
};

const REQUEST_TIMEOUT_MS = 30_000;
const decoder = new TextDecoder();

function truncate(text, max = 2000) {
  if (text === undefined || text === null) return text;
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

/** An unexpected answer (or no answer): the request and response, verbatim but truncated. */
export class ApiError extends Error {
  constructor({ method, path, requestHeaders, requestBody, status, responseHeaders, responseBody, cause }) {
    const what = status === undefined ? `no response (${cause?.cause?.code ?? cause?.message ?? cause})` : `${status}`;
    super(`${method} ${path} → ${what}${responseBody ? ` ${truncate(responseBody, 300)}` : ""}`);
    this.name = "ApiError";
    this.request = { method, path, headers: requestHeaders, body: truncate(requestBody) };
    this.response = status === undefined ? null : { status, headers: responseHeaders, body: truncate(responseBody) };
    if (cause) this.cause = cause;
  }
}

/** Headers worth showing in a report (no credentials). */
function shownHeaders(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers)) {
    const key = k.toLowerCase();
    if (key === "authorization") out[k] = "Bearer <token>";
    else if (key === "cookie") out[k] = "<cookie>";
    else if (key === "x-csrf-token") out[k] = "<csrf>";
    else out[k] = v;
  }
  return out;
}

export class ApiClient {
  #token;
  #cookie;
  #csrf;

  constructor(baseUrl, { token, cookie, csrf } = {}) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
    this.#token = token;
    this.#cookie = cookie;
    this.#csrf = csrf;
  }

  /**
   * Registers a fresh user, creates an API token with the session cookie and CSRF token from the
   * registration, and returns a client that authenticates with `Authorization: Bearer` only.
   */
  static async registerWithToken(baseUrl, { username, password = "bench-password-123" } = {}) {
    const name = username ?? `bench_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 7)}`;
    const anonymous = new ApiClient(baseUrl);
    const reg = await anonymous.request("POST", "/api/auth/register", {
      body: { username: name, password },
      expect: 201,
    });
    const cookie = reg.setCookies
      .map((c) => c.split(";")[0])
      .filter((kv) => kv.startsWith("vtt_session="))
      .join("; ");
    if (!cookie || !reg.data?.csrf_token) {
      throw new Error(`register gave no vtt_session cookie or csrf_token: ${JSON.stringify(reg.data)}`);
    }
    const withCookie = new ApiClient(baseUrl, { cookie, csrf: reg.data.csrf_token });
    const tok = await withCookie.request("POST", "/api/auth/tokens", { body: { name: "bench" }, expect: 201 });
    if (typeof tok.data?.token !== "string") throw new Error(`POST /api/auth/tokens gave no token: ${tok.text}`);
    const client = new ApiClient(baseUrl, { token: tok.data.token });
    client.user = reg.data.user;
    /** The bearer token itself, for what needs it outside this client (a socket's header). */
    client.token = tok.data.token;
    return client;
  }

  #headers(method, body, extra) {
    const h = {};
    if (body !== undefined) h["content-type"] = "application/json";
    if (this.#token) h.authorization = `Bearer ${this.#token}`;
    if (this.#cookie) h.cookie = this.#cookie;
    if (this.#cookie && this.#csrf && method !== "GET" && method !== "HEAD") h["x-csrf-token"] = this.#csrf;
    return { ...h, ...extra };
  }

  /**
   * One request. `ms` is the wall time from sending to the last body byte (performance.now()).
   * `expect` (a status or a list) turns any other status into an ApiError; without it every
   * status is returned.
   */
  async request(method, path, { body, headers = {}, expect, parse = true } = {}) {
    const h = this.#headers(method, body, headers);
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const t0 = performance.now();
    let res;
    let buf;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers: h,
        body: payload,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      buf = await res.arrayBuffer();
    } catch (cause) {
      throw new ApiError({ method, path, requestHeaders: shownHeaders(h), requestBody: payload, cause });
    }
    const ms = performance.now() - t0;
    const bytes = buf.byteLength;
    const expected = expect === undefined ? null : Array.isArray(expect) ? expect : [expect];
    if (expected && !expected.includes(res.status)) {
      throw new ApiError({
        method,
        path,
        requestHeaders: shownHeaders(h),
        requestBody: payload,
        status: res.status,
        responseHeaders: Object.fromEntries(res.headers),
        responseBody: decoder.decode(buf),
      });
    }
    let text = null;
    let data = null;
    if (parse && bytes > 0) {
      text = decoder.decode(buf);
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    return {
      status: res.status,
      ms,
      bytes,
      text,
      data,
      etag: res.headers.get("etag"),
      contentLength: res.headers.get("content-length"),
      contentEncoding: res.headers.get("content-encoding"),
      retryAfter: res.headers.get("retry-after"),
      setCookies: res.headers.getSetCookie(),
    };
  }

  // --- the contract's calls used by the benchmarks -------------------------------------------

  static sessionPath(sid) {
    return `/api/vtt/sessions/${encodeURIComponent(sid)}`;
  }

  async createSession(name) {
    const r = await this.request("POST", "/api/vtt/sessions", { body: { name }, expect: 201 });
    return r.data.session;
  }

  async createEntity(sid, type, data) {
    const r = await this.request("POST", `${ApiClient.sessionPath(sid)}/${ENTITY_PATHS[type]}`, {
      body: data,
      expect: 201,
    });
    return r.data;
  }

  /** PATCH with If-Match: "<version>"; returns the response (data is the entity at version+1). */
  patchEntity(sid, type, id, version, patch, { parse = true } = {}) {
    return this.request("PATCH", `${ApiClient.sessionPath(sid)}/${ENTITY_PATHS[type]}/${encodeURIComponent(id)}`, {
      body: patch,
      headers: { "if-match": `"${version}"` },
      expect: 200,
      parse,
    });
  }

  async batch(sid, ops) {
    const r = await this.request("POST", `${ApiClient.sessionPath(sid)}/batch`, { body: { ops }, expect: 200 });
    return r;
  }

  async activateScene(sid, sceneId) {
    const r = await this.request("POST", `${ApiClient.sessionPath(sid)}/scenes/${encodeURIComponent(sceneId)}/activate`, {
      body: {},
      expect: 200,
    });
    return r.data;
  }

  /** GET {S}/state; with `etag`, sends If-None-Match and expects 304. */
  getState(sid, { etag, expect, parse = true } = {}) {
    return this.request("GET", `${ApiClient.sessionPath(sid)}/state`, {
      headers: etag ? { "if-none-match": etag } : {},
      expect: expect ?? (etag ? 304 : 200),
      parse,
    });
  }

  // --- baseline routes (present when the worker runs with BENCH_ROUTES=1) --------------------

  benchD1Write() {
    return this.request("POST", "/api/bench/d1-write", { body: {}, expect: 201, parse: false });
  }

  benchStatic(etag = '"1"') {
    return this.request("GET", "/api/bench/static", { headers: { "if-none-match": etag }, expect: 304, parse: false });
  }
}

/**
 * Creates `count` entities of one type through POST {S}/batch, 500 ops a batch; returns their ids
 * and each batch's time.
 */
export async function seedEntities(client, sid, type, count, dataFor) {
  const ids = [];
  const times = [];
  for (let start = 0; start < count; start += 500) {
    const ops = [];
    for (let i = start; i < Math.min(count, start + 500); i++) ops.push(createOp(type, dataFor(i)));
    const r = await client.batch(sid, ops);
    times.push(r.ms);
    const byOp = new Map((r.data?.results ?? []).map((res) => [res.op_id, res.entity]));
    for (const op of ops) {
      const entity = byOp.get(op.op_id);
      if (!entity?.id) throw new Error(`batch result has no entity for op ${op.op_id}: ${r.text?.slice(0, 500)}`);
      ids.push(entity.id);
    }
  }
  return { ids, times };
}

/** A create op of the batch body. */
export function createOp(entityType, data, id) {
  return { op_id: crypto.randomUUID(), entity_type: entityType, op: "create", ...(id ? { id } : {}), data };
}
