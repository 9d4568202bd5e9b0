/**
 * The typed HTTP client of the contract (/work/shared/API.md). Every call sends the session cookie,
 * adds `X-CSRF-Token` to mutating requests once a token is known, and turns the contract's error
 * envelope `{error: {code, message, details}}` into a thrown `ApiError`.
 *
 * The entities and messages it sends and receives are in `types.ts`. Only types come from `domain/`: its
 * runtime modules pull in zod, which the client does not need yet.
 */
import type { coreEntityPaths } from "../../../domain/entities";
import type { ErrorCode } from "../../../domain/errors";
import { BOOKMARK_HEADER, type Bookmarks, createBookmarks } from "./bookmark";
import type { ConflictReport } from "./conflict-metrics";
import type { ClientModuleRegistry } from "./modules";
import type {
  AnyEntity,
  ApiTokenCreated,
  ApiTokenInfo,
  ApiTokenRequest,
  AuthResponse,
  BatchOp,
  BatchResponse,
  ChangesResponse,
  ConnectedClient,
  CreatedSession,
  EntityHistoryItem,
  EntityType,
  JoinedSession,
  Role,
  Scene,
  SceneInput,
  SceneLock,
  SessionDetail,
  SessionMember,
  SessionSnapshot,
  SessionState,
  SessionSummary,
  Token,
  TokenInput,
} from "./types";

/** `network_error`: no response at all; `bad_response`: a response that is not the contract's. */
export type ApiErrorCode = ErrorCode | "network_error" | "bad_response";

export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly details: Record<string, unknown> | undefined;
  /** From `Retry-After` (429, 503), in milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(status: number, code: ApiErrorCode, message: string, details?: Record<string, unknown>, retryAfterMs?: number) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfterMs = retryAfterMs;
  }

  /** The `details.fields` of a 400, as "field: message" lines (empty when there are none). */
  fieldMessages(): string[] {
    const fields = this.details?.fields;
    if (!Array.isArray(fields)) return [];
    return fields.flatMap((f: unknown) => {
      if (typeof f !== "object" || f === null) return [];
      const { field, message } = f as { field?: unknown; message?: unknown };
      if (typeof message !== "string") return [];
      return [typeof field === "string" && field !== "" ? `${field}: ${message}` : message];
    });
  }
}

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

let csrfToken: string | null = null;
let onUnauthorized: (() => void) | null = null;

/** Remembered from register, login and `me`; forgotten on logout. */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** The CSRF token for requests made outside `request` (an upload with progress, over XMLHttpRequest). */
export function getCsrfToken(): string | null {
  return csrfToken;
}

/** Called when an authenticated call answers 401 (the cookie expired or was revoked). */
export function setUnauthorizedHandler(handler: (() => void) | null): void {
  onUnauthorized = handler;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Replaces the global `fetch` (tests, or a wrapped fetch). */
  fetch?: typeof fetch;
  /** Sees every response's headers (the session's bookmark, `X-VTT-Bookmark`). */
  onHeaders?: (headers: Headers) => void;
}

export async function request<T>(method: Method, path: string, options: RequestOptions = {}): Promise<T> {
  const headers = new Headers(options.headers);
  headers.set("Accept", "application/json");
  if (options.body !== undefined) headers.set("Content-Type", "application/json");
  if (method !== "GET" && csrfToken !== null) headers.set("X-CSRF-Token", csrfToken);

  // no-cache: the browser may keep responses (the state has an ETag) but must revalidate them every time.
  const init: RequestInit = { method, headers, credentials: "include", cache: "no-cache" };
  if (options.body !== undefined) init.body = JSON.stringify(options.body);
  if (options.signal !== undefined) init.signal = options.signal;

  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(path, init);
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === "AbortError") throw cause;
    throw new ApiError(0, "network_error", "The server could not be reached. Check your connection and try again.");
  }

  options.onHeaders?.(response.headers);
  if (response.status === 204 || response.status === 304) return undefined as T;
  const body: unknown = await response.json().catch(() => undefined);
  if (response.ok) {
    if (body === undefined) throw new ApiError(response.status, "bad_response", "The server sent an unreadable answer.");
    return body as T;
  }
  const error = toApiError(response.status, body, retryAfter(response.headers.get("Retry-After")));
  if (error.status === 401 && onUnauthorized !== null && !path.startsWith("/api/auth/")) onUnauthorized();
  throw error;
}

function toApiError(status: number, body: unknown, retryAfterMs: number | undefined): ApiError {
  const envelope = (body as { error?: unknown } | undefined)?.error;
  if (typeof envelope === "object" && envelope !== null) {
    const { code, message, details } = envelope as { code?: unknown; message?: unknown; details?: unknown };
    if (typeof code === "string" && typeof message === "string") {
      const detailObject = typeof details === "object" && details !== null ? (details as Record<string, unknown>) : undefined;
      return new ApiError(status, code as ErrorCode, message, detailObject, retryAfterMs);
    }
  }
  return new ApiError(status, "bad_response", `The server answered ${status}.`, undefined, retryAfterMs);
}

/** `Retry-After` in seconds (the HTTP-date form is not used by this API). */
function retryAfter(header: string | null): number | undefined {
  if (header === null || !/^\d+$/.test(header.trim())) return undefined;
  return Number(header.trim()) * 1000;
}

const sessionPath = (sid: string) => `/api/vtt/sessions/${encodeURIComponent(sid)}`;

/** URL segment of each core entity type; checked against `domain/entities.ts` without importing its runtime (zod). */
const coreEntityPath = {
  scene: "scenes",
  folder: "folders",
  layer: "layers",
  token: "tokens",
  token_art: "token-art",
  session_state: "session-state",
} as const satisfies typeof coreEntityPaths;

/** URL segment of every entity type: the core's, and those of the game modules in `modules` (lib/modules.ts). */
export function entityPathOf(type: EntityType, modules: ClientModuleRegistry): string {
  const path = (coreEntityPath as Readonly<Record<string, string>>)[type] ?? modules.pathOf(type);
  if (path === undefined) throw new Error(`no path for entity type ${type}`);
  return path;
}

export const api = {
  me: () => request<AuthResponse>("GET", "/api/auth/me"),
  register: (username: string, password: string) => request<AuthResponse>("POST", "/api/auth/register", { body: { username, password } }),
  login: (username: string, password: string) => request<AuthResponse>("POST", "/api/auth/login", { body: { username, password } }),
  logout: () => request<void>("POST", "/api/auth/logout"),

  listSessions: () => request<{ sessions: SessionSummary[] }>("GET", "/api/vtt/sessions"),
  createSession: (name: string) => request<CreatedSession>("POST", "/api/vtt/sessions", { body: { name } }),
  joinSession: (inviteCode: string) => request<JoinedSession>("POST", "/api/vtt/sessions/join", { body: { invite_code: inviteCode } }),

  getSession: (sid: string) => request<SessionDetail>("GET", sessionPath(sid)),
  /** `POST {S}/invite` (GM): a new invite code; the old one stops working. */
  rotateInvite: (sid: string) => request<{ invite_code: string }>("POST", `${sessionPath(sid)}/invite`),
  /** `GET {S}/scenes?archived=true`: the archived scenes (GM), to restore one. */
  listArchivedScenes: (sid: string) => request<{ items: Scene[] }>("GET", `${sessionPath(sid)}/scenes?archived=true`),
  getState: (sid: string) => request<SessionSnapshot>("GET", `${sessionPath(sid)}/state`),
  createScene: (sid: string, data: SceneInput) => request<Scene>("POST", `${sessionPath(sid)}/scenes`, { body: data }),
  activateScene: (sid: string, sceneId: string) =>
    request<SessionState>("POST", `${sessionPath(sid)}/scenes/${encodeURIComponent(sceneId)}/activate`),
  createToken: (sid: string, data: TokenInput) => request<Token>("POST", `${sessionPath(sid)}/tokens`, { body: data }),
};

/**
 * The calls the sync layer makes for one session, with an injectable `fetch`. `getChanges` and
 * `getState` send `If-None-Match` when given the seq the caller holds and answer `null` on 304.
 */
export interface SessionApi {
  getState(ifNoneMatchSeq?: number): Promise<SessionSnapshot | null>;
  getChanges(since: number, ifNoneMatchSeq?: number): Promise<ChangesResponse | null>;
  getEntity(type: EntityType, id: string): Promise<AnyEntity>;
  batch(ops: BatchOp[]): Promise<BatchResponse>;
  /** `GET {S}/<path>?scene_id=`: a scene's entities of a module type that lives on scenes. */
  listByScene?(type: EntityType, sceneId: string): Promise<AnyEntity[]>;
  /** `POST {S}/metrics/conflicts`: conflicts shown and resolved here (conflict-metrics.ts). */
  reportConflicts?(report: ConflictReport): Promise<void>;
  /**
   * The newest D1 bookmark of the session this client saw (bookmark.ts): taken from every answer,
   * sent on every read, so a read never comes from a replica behind what this client saw.
   */
  bookmarks?: Bookmarks;
}

export function createSessionApi(
  sid: string,
  modules: ClientModuleRegistry,
  fetchImpl?: typeof fetch,
  bookmarks: Bookmarks = createBookmarks(),
): SessionApi {
  const base = sessionPath(sid);
  const onHeaders = (headers: Headers) => {
    bookmarks.offer(headers.get(BOOKMARK_HEADER));
  };
  const options = (seq?: number): RequestOptions => {
    const headers: Record<string, string> = {};
    if (seq !== undefined) headers["If-None-Match"] = `"${seq}"`;
    // Reads and writes alike: the server reads with it where it reads (GETs).
    const bookmark = bookmarks.get();
    if (bookmark !== null) headers[BOOKMARK_HEADER] = bookmark;
    return { ...(fetchImpl ? { fetch: fetchImpl } : {}), headers, onHeaders };
  };
  return {
    bookmarks,
    getState: async (seq) => (await request<SessionSnapshot | undefined>("GET", `${base}/state`, options(seq))) ?? null,
    getChanges: async (since, seq) =>
      (await request<ChangesResponse | undefined>("GET", `${base}/changes?since=${since}`, options(seq))) ?? null,
    getEntity: (type, id) => request<AnyEntity>("GET", `${base}/${entityPathOf(type, modules)}/${encodeURIComponent(id)}`, options()),
    batch: (ops) => request<BatchResponse>("POST", `${base}/batch`, { ...options(), body: { ops } }),
    listByScene: async (type, sceneId) =>
      (
        await request<{ items: AnyEntity[] }>(
          "GET",
          `${base}/${entityPathOf(type, modules)}?scene_id=${encodeURIComponent(sceneId)}`,
          options(),
        )
      ).items,
    reportConflicts: (report) => request<void>("POST", `${base}/metrics/conflicts`, { ...options(), body: report }),
  };
}

/** The GM's calls beyond the sync layer: members, connected clients, scene locks, the archive. */
export interface GmApi {
  getSession(): Promise<SessionDetail>;
  /** `PUT {S}/members/{user_id}`: promote a player to co-GM, or back. */
  setMemberRole(userId: string, role: Role): Promise<{ member: SessionMember }>;
  listClients(): Promise<{ clients: ConnectedClient[] }>;
  listLocks(): Promise<{ locks: SceneLock[] }>;
  /** `POST {S}/locks`: takes the lock, or takes it again to extend it; 409 with `details.lock` when another GM holds it. */
  acquireLock(sceneId: string): Promise<{ lock: SceneLock }>;
  releaseLock(sceneId: string): Promise<void>;
  /** `GET {S}/<type>?archived=true`. */
  listArchived(type: EntityType): Promise<{ items: AnyEntity[] }>;
}

export function createGmApi(sid: string, modules: ClientModuleRegistry, fetchImpl?: typeof fetch): GmApi {
  const base = sessionPath(sid);
  const options = (body?: unknown): RequestOptions => ({
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
    ...(body !== undefined ? { body } : {}),
  });
  return {
    getSession: () => request<SessionDetail>("GET", base, options()),
    setMemberRole: (userId, role) =>
      request<{ member: SessionMember }>("PUT", `${base}/members/${encodeURIComponent(userId)}`, options({ role })),
    listClients: () => request<{ clients: ConnectedClient[] }>("GET", `${base}/clients`, options()),
    listLocks: () => request<{ locks: SceneLock[] }>("GET", `${base}/locks`, options()),
    acquireLock: (sceneId) => request<{ lock: SceneLock }>("POST", `${base}/locks`, options({ scene_id: sceneId })),
    releaseLock: (sceneId) => request<void>("DELETE", `${base}/locks/${encodeURIComponent(sceneId)}`, options()),
    listArchived: (type) => request<{ items: AnyEntity[] }>("GET", `${base}/${entityPathOf(type, modules)}?archived=true`, options()),
  };
}

/** The account's API tokens (for scripts and the CLI): list, create (the secret comes back once), revoke. */
export interface TokensApi {
  list(): Promise<{ tokens: ApiTokenInfo[] }>;
  create(request: ApiTokenRequest): Promise<ApiTokenCreated>;
  revoke(id: string): Promise<void>;
}

export function createTokensApi(fetchImpl?: typeof fetch): TokensApi {
  const options = (body?: unknown): RequestOptions => ({
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
    ...(body !== undefined ? { body } : {}),
  });
  return {
    list: () => request<{ tokens: ApiTokenInfo[] }>("GET", "/api/auth/tokens", options()),
    create: (body) => request<ApiTokenCreated>("POST", "/api/auth/tokens", options(body)),
    revoke: (id) => request<void>("DELETE", `/api/auth/tokens/${encodeURIComponent(id)}`, options()),
  };
}

/** The session's WebSocket URL on the page's own origin (`ws:` under `http:`, `wss:` under `https:`). */
export function sessionSocketUrl(sid: string, origin: string = location.origin): string {
  return `${origin.replace(/^http/, "ws")}${sessionPath(sid)}/ws`;
}

/** An entity's history and reverts (GMs): what the history panel and undo call. */
export interface HistoryApi {
  /** `GET {S}/<type>/{id}/history` → newest first. */
  history(type: EntityType, id: string): Promise<EntityHistoryItem[]>;
  /** `POST {S}/<type>/{id}/revert`: the fields of `version` as a new version; 409 when `baseVersion` is stale. */
  revert(type: EntityType, id: string, version: number, baseVersion: number): Promise<AnyEntity>;
}

export function createHistoryApi(sid: string, modules: ClientModuleRegistry, fetchImpl?: typeof fetch): HistoryApi {
  const entityUrl = (type: EntityType, id: string) => `${sessionPath(sid)}/${entityPathOf(type, modules)}/${encodeURIComponent(id)}`;
  const options = (body?: unknown): RequestOptions => ({
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
    ...(body !== undefined ? { body } : {}),
  });
  return {
    history: async (type, id) => (await request<{ items: EntityHistoryItem[] }>("GET", `${entityUrl(type, id)}/history`, options())).items,
    revert: (type, id, version, baseVersion) =>
      request<AnyEntity>("POST", `${entityUrl(type, id)}/revert`, options({ version, base_version: baseVersion })),
  };
}

/** A message for the UI: the server's text, plus the field problems of a 400. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    const fields = error.fieldMessages();
    return fields.length > 0 ? `${error.message} (${fields.join("; ")})` : error.message;
  }
  if (error instanceof Error) return error.message;
  return "Something went wrong.";
}

/** `GET {S}/scenes/{id}/export` (GM): the scene's bundle, a zip the browser downloads (cookie auth, no CSRF). */
export function sceneExportUrl(sid: string, sceneId: string): string {
  return `${sessionPath(sid)}/scenes/${encodeURIComponent(sceneId)}/export`;
}

/**
 * A cookie-authenticated `POST` (with the CSRF header) of `body`, reporting upload progress (0..1).
 * XMLHttpRequest, because `fetch` cannot report a request body's progress. A 2xx answer resolves
 * with what `pick` finds in its JSON (then progress reaches 1), or fails as `bad_response`; other
 * answers become the same `ApiError` as elsewhere, and an unreachable server a `network_error`.
 */
export function postWithProgress<T>(
  url: string,
  body: XMLHttpRequestBodyInit,
  options: { contentType?: string },
  onProgress: (fraction: number) => void,
  pick: (body: unknown) => T | undefined,
  XHR: typeof XMLHttpRequest = XMLHttpRequest,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XHR();
    xhr.open("POST", url);
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    if (options.contentType !== undefined) xhr.setRequestHeader("Content-Type", options.contentType);
    const csrf = getCsrfToken();
    if (csrf !== null) xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let answer: unknown;
      try {
        answer = JSON.parse(xhr.responseText);
      } catch {
        answer = undefined;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        const picked = pick(answer);
        if (picked !== undefined) {
          onProgress(1);
          resolve(picked);
        } else reject(new ApiError(xhr.status, "bad_response", "The server sent an unreadable answer."));
        return;
      }
      const envelope = (answer as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
      if (envelope && typeof envelope.code === "string" && typeof envelope.message === "string") {
        reject(new ApiError(xhr.status, envelope.code as never, envelope.message, envelope.details as Record<string, unknown> | undefined));
      } else reject(new ApiError(xhr.status, "bad_response", `The server answered ${xhr.status}.`));
    });
    xhr.addEventListener("error", () =>
      reject(new ApiError(0, "network_error", "The server could not be reached. Check your connection and try again.")),
    );
    xhr.send(body);
  });
}

/**
 * `POST {S}/import` (GM) with the bundle as the body, reporting upload progress (0..1): a new
 * scene. Failures are the same `ApiError` as elsewhere (400 with `details.problems` for a bundle
 * that is refused).
 */
export function importSceneBundle(
  sid: string,
  file: Blob,
  onProgress: (fraction: number) => void,
  XHR: typeof XMLHttpRequest = XMLHttpRequest,
): Promise<{ scene: Scene }> {
  return postWithProgress(
    `${sessionPath(sid)}/import`,
    file,
    { contentType: "application/zip" },
    onProgress,
    (answer) => {
      const scene = (answer as { scene?: Scene } | undefined)?.scene;
      return scene ? { scene } : undefined;
    },
    XHR,
  );
}
