import { SELF } from "cloudflare:test";
import { ORIGIN, type Reply, type TestUser } from "./client";

export interface Part {
  name: string;
  filename?: string;
  type?: string;
  data: Uint8Array | string;
}

/** A multipart/form-data body built by hand, so tests control order, names and framing. */
export function multipart(
  parts: Part[],
  boundary = `----vtt${Math.random().toString(36).slice(2)}`,
): { body: Uint8Array; contentType: string } {
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += "\r\n";
    if (p.type) head += `Content-Type: ${p.type}\r\n`;
    chunks.push(enc.encode(`${head}\r\n`), typeof p.data === "string" ? enc.encode(p.data) : p.data, enc.encode("\r\n"));
  }
  chunks.push(enc.encode(`--${boundary}--\r\n`));
  const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.length;
  }
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

export function authHeaders(user: TestUser): Record<string, string> {
  const h: Record<string, string> = {};
  if (user.bearer) h.authorization = `Bearer ${user.bearer}`;
  else {
    h.cookie = user.cookie;
    h["x-csrf-token"] = user.csrf;
  }
  return h;
}

export interface UploadOptions {
  filename?: string;
  type?: string;
  kind?: string;
  /** Put the kind field after the file instead of before it. */
  kindLast?: boolean;
  query?: string;
  headers?: Record<string, string>;
}

async function reply(res: Response): Promise<Reply> {
  const text = await res.text();
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, headers: res.headers };
}

/** POST {base}/assets with one file. */
export async function upload(user: TestUser, base: string, bytes: Uint8Array, opts: UploadOptions = {}): Promise<Reply> {
  const file: Part = { name: "file", filename: opts.filename ?? "image.png", data: bytes, ...(opts.type ? { type: opts.type } : {}) };
  const kind: Part[] = opts.kind === undefined ? [] : [{ name: "kind", data: opts.kind }];
  const { body, contentType } = multipart(opts.kindLast ? [file, ...kind] : [...kind, file]);
  const res = await SELF.fetch(`${ORIGIN}${base}/assets${opts.query ?? ""}`, {
    method: "POST",
    headers: { ...authHeaders(user), "content-type": contentType, ...opts.headers },
    body,
  });
  return reply(res);
}

/** GET an absolute path of the app without credentials. */
export async function fetchAnonymous(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; bytes: Uint8Array; headers: Headers; json: any }> {
  const res = await SELF.fetch(`${ORIGIN}${path}`, { headers });
  const bytes = new Uint8Array(await res.arrayBuffer());
  let json: any = null;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    /* binary */
  }
  return { status: res.status, bytes, headers: res.headers, json };
}

export async function sha256(bytes: Uint8Array): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
}
