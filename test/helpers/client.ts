import { SELF } from "cloudflare:test";

export const ORIGIN = "https://vtt.test";

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

let counter = 0;
export function uniqueName(prefix = "user"): string {
  counter += 1;
  return `${prefix}_${Date.now().toString(36)}_${counter}_${Math.random().toString(36).slice(2, 6)}`.slice(0, 32);
}

/** A user of the API as a browser would be: cookie, CSRF token. */
export class TestUser {
  cookie = "";
  csrf = "";
  id = "";
  username = "";
  bearer: string | undefined;
  /** Where the user's requests come from (`request.cf`): placement puts a new session near it. */
  cf: { continent?: string; longitude?: string } | undefined;

  static async register(prefix = "user"): Promise<TestUser> {
    const user = new TestUser();
    const username = uniqueName(prefix)
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, "_");
    const r = await user.req("POST", "/api/auth/register", { username, password: "correct horse battery" });
    if (r.status !== 201) throw new Error(`register failed: ${r.status} ${JSON.stringify(r.body)}`);
    user.id = r.body.user.id;
    user.username = username;
    return user;
  }

  async req<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply<T>> {
    const h: Record<string, string> = { ...headers };
    if (this.bearer) h.authorization = `Bearer ${this.bearer}`;
    else if (this.cookie) h.cookie = this.cookie;
    if (method !== "GET" && this.csrf && !("x-csrf-token" in h)) h["x-csrf-token"] = this.csrf;
    let payload: BodyInit | undefined;
    if (typeof body === "string") payload = body;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      h["content-type"] ??= "application/json";
    }
    const res = await SELF.fetch(`${ORIGIN}${path}`, { method, headers: h, body: payload ?? null, ...(this.cf ? { cf: this.cf } : {}) });
    const setCookie = res.headers.get("set-cookie");
    if (setCookie?.startsWith("vtt_session=")) {
      const value = setCookie.split(";")[0] ?? "";
      this.cookie = value.endsWith("=") ? "" : value;
    }
    const text = await res.text();
    let data: any = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = text;
    }
    if (data && typeof data === "object" && typeof data.csrf_token === "string") this.csrf = data.csrf_token;
    return { status: res.status, body: data as T, headers: res.headers };
  }
}

export const S = (sid: string) => `/api/vtt/sessions/${sid}`;

/** A GM with a fresh session and a player who joined it. */
export async function newTable() {
  const gm = await TestUser.register("gm");
  const player = await TestUser.register("pl");
  const created = await gm.req("POST", "/api/vtt/sessions", { name: "Table" });
  if (created.status !== 201) throw new Error(`session create failed: ${JSON.stringify(created.body)}`);
  const sid: string = created.body.session.id;
  const joined = await player.req("POST", "/api/vtt/sessions/join", { invite_code: created.body.invite_code });
  if (joined.status !== 200) throw new Error(`join failed: ${JSON.stringify(joined.body)}`);
  return { gm, player, sid, inviteCode: created.body.invite_code as string, base: S(sid) };
}

export async function create(user: TestUser, base: string, path: string, data: Record<string, unknown>) {
  const r = await user.req("POST", `${base}/${path}`, data);
  if (r.status !== 201) throw new Error(`create ${path} failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function seqOf(user: TestUser, base: string): Promise<number> {
  const r = await user.req("GET", `${base}/state`);
  return r.body.seq;
}
