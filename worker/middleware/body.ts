import { zValidator } from "@hono/zod-validator";
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

/**
 * Guards a JSON body: size limit (before reading all of it when the length is declared), UTF-8,
 * JSON syntax and nesting depth. An empty body counts as `{}`.
 */
export function jsonGuard(limit: number) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const type = c.req.header("content-type") ?? "";
    const bytes = await readBodyLimited(c.req.raw, limit);
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
    } catch {
      throw new ApiError("bad_request", "the body is not UTF-8");
    }
    if (text.trim() === "") text = "{}";
    else if (!/^application\/(.+\+)?json\b/i.test(type)) {
      throw new ApiError("bad_request", "send the body as Content-Type: application/json");
    }
    if (jsonTextDepth(text) > MAX_JSON_DEPTH) {
      throw new ApiError("bad_request", `JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ApiError("bad_request", "malformed JSON");
    }
    // Hand the parsed value to the validator through Hono's body cache (the stream is consumed).
    c.req.bodyCache.json = Promise.resolve(parsed);
    await next();
  });
}

/** Body limit + guard + zod validation; use `c.req.valid("json")` in the handler. */
export function jsonBody<T extends z.ZodType>(schema: T, limit = 256 * KiB) {
  return [
    jsonGuard(limit),
    zValidator("json", schema, (result) => {
      if (!result.success) {
        throw new ApiError("bad_request", "the body is invalid", { fields: fieldIssues(result.error) });
      }
    }),
  ] as const;
}
