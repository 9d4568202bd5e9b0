import type { Context, MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import type { z } from "zod";
import { jsonTextDepth } from "../../domain/merge-patch";
import { fieldIssues } from "../../domain/validation";
import { ApiError } from "../api-error";
import type { AppEnv } from "../types";

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const MAX_JSON_DEPTH = 32;

/** Reads at most `limit` bytes of the body, refusing early on a declared Content-Length over it. */
export async function readBodyLimited(req: Request, limit: number): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) {
    throw new ApiError("payload_too_large", `the body is over ${limit} bytes`, { limit });
  }
  if (!req.body) return new Uint8Array();
  const reader = req.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new ApiError("payload_too_large", `the body is over ${limit} bytes`, { limit });
    }
    parts.push(value);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

class RejectedValueError extends Error {
  readonly field: string;

  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

/**
 * A text that may hold a `__proto__` key (spelled out or through \u escapes) or a number too
 * large for a double (an exponent of three digits, or a run of 300 digits).
 */
const SUSPICIOUS = /__proto__|\\u|[eE][+-]?\d{3}|\d{300}/;

/**
 * JSON.parse, refusing at any depth:
 * - `__proto__` keys. JSON allows them, but JavaScript objects cannot carry them as data: zod's
 *   records drop them silently (so a strict schema never sees the unknown key) and assigning one
 *   while merging replaces an object's prototype.
 * - numbers that overflow to ±Infinity (`1e400`): no JSON can carry them back, so they would be
 *   stored as null.
 * The reviver costs time, so it only runs on texts where such a thing may be.
 */
function parseJson(text: string): unknown {
  if (!SUSPICIOUS.test(text)) return JSON.parse(text);
  return JSON.parse(text, (key, value: unknown) => {
    if (key === "__proto__") throw new RejectedValueError("__proto__", "a reserved key");
    if (typeof value === "number" && !Number.isFinite(value)) throw new RejectedValueError(key || "(body)", "a number out of range");
    return value;
  });
}

/** `application/json` or `application/<anything>+json`, parameters aside: what Hono's validator reads. */
function isJsonType(contentType: string): boolean {
  const media = (contentType.split(";")[0] ?? "").trim().toLowerCase();
  return /^application\/([\w.-]+\+)?json$/.test(media);
}

/** The value each guarded request's body parsed to, so nothing parses the same text twice. */
const parsedBodies = new WeakMap<Request, unknown>();

/** The body `jsonGuard` parsed (what `c.req.json()` would answer, without parsing it again). */
export function guardedJson(c: Context<AppEnv>): unknown {
  if (!parsedBodies.has(c.req.raw)) throw new Error("guardedJson without jsonGuard before it");
  return parsedBodies.get(c.req.raw);
}

/**
 * Guards a JSON body: size limit (before reading all of it when the length is declared), UTF-8,
 * JSON syntax, nesting depth, reserved keys and numbers out of range. An empty body counts as `{}`.
 */
export function jsonGuard(limit: number) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const bytes = await readBodyLimited(c.req.raw, limit);
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
    } catch {
      throw new ApiError("bad_request", "the body is not UTF-8");
    }
    if (text.trim() === "") text = "{}";
    else if (!isJsonType(c.req.header("content-type") ?? "")) {
      throw new ApiError("bad_request", "send the body as Content-Type: application/json");
    }
    if (jsonTextDepth(text) > MAX_JSON_DEPTH) {
      throw new ApiError("bad_request", `JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
    }
    try {
      parsedBodies.set(c.req.raw, parseJson(text));
    } catch (error) {
      if (error instanceof RejectedValueError) {
        throw new ApiError("bad_request", `the body holds ${error.message}`, { fields: [{ field: error.field, message: error.message }] });
      }
      throw new ApiError("bad_request", "malformed JSON");
    }
    // Hand the text to the validator through Hono's body cache (the stream is consumed). Hono's
    // `req.json()` reads the `text` entry; a cached parsed value would be re-serialized through
    // JSON.stringify first, which silently turns what it cannot represent into null. (The cache
    // holds promises at run time, whatever its declared type says.)
    (c.req.bodyCache as unknown as { text?: Promise<string> }).text = Promise.resolve(text);
    await next();
  });
}

/**
 * Validates the body `jsonGuard` parsed with `schema` (as @hono/zod-validator would, but on the
 * value already parsed) and hands the result to `c.req.valid("json")`; else a 400 naming the fields.
 */
function validJson<T extends z.ZodType>(
  schema: T,
): MiddlewareHandler<AppEnv, string, { in: { json: z.input<T> }; out: { json: z.output<T> } }> {
  return async (c, next) => {
    const result = await schema.safeParseAsync(guardedJson(c));
    if (!result.success) throw new ApiError("bad_request", "the body is invalid", { fields: fieldIssues(result.error) });
    c.req.addValidatedData("json", result.data as object);
    await next();
  };
}

/** Body limit + guard + zod validation; use `c.req.valid("json")` in the handler. */
export function jsonBody<T extends z.ZodType>(schema: T, limit = 256 * KiB) {
  return [jsonGuard(limit), validJson(schema)] as const;
}
