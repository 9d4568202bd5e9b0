/** The CLI's HTTP client: base URL and API token, the contract's error envelope, progress. */

import createClient, { type Client } from "openapi-fetch";
import type { paths } from "./api-types.ts";

export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Exit codes, documented in the README. */
export const EXIT = { ok: 0, failure: 1, usage: 2, auth: 3, notFound: 4, invalid: 5, server: 6 } as const;

function exitFor(status: number): number {
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status >= 400 && status < 500) return EXIT.invalid;
  return EXIT.server;
}

export interface Connection {
  url: string;
  token: string;
}

/** The API's typed client (openapi-fetch over cli/api-types.ts, generated from docs/openapi.json). */
export type Api = Client<paths>;

export function apiClient(conn: Connection): Api {
  return createClient<paths>({
    baseUrl: conn.url.replace(/\/+$/, ""),
    headers: { authorization: `Bearer ${conn.token}` },
    fetch: async (request) => {
      try {
        return await fetch(request);
      } catch (error) {
        throw new CliError(`cannot reach ${conn.url}: ${error instanceof Error ? error.message : String(error)}`, EXIT.failure);
      }
    },
  });
}

/** The data of a successful answer; else a CliError naming the contract's error envelope. */
export function answered<D, E>(result: { data?: D; error?: E; response: Response }, method: string): D {
  const { response } = result;
  if (response.ok) return result.data as D;
  const { pathname, search } = new URL(response.url || "http://server/");
  const error = result.error as { error?: { code?: string; message?: string } } | string | undefined;
  const message =
    typeof error === "object" && error?.error ? `${error.error.code}: ${error.error.message}` : String(error ?? "").slice(0, 500);
  throw new CliError(`${method} ${pathname}${search} failed with ${response.status}: ${message}`, exitFor(response.status));
}

/** A progress bar on stderr when it is a terminal; silent otherwise (scripts, CI). */
export function progress(label: string, total: number | undefined) {
  const tty = process.stderr.isTTY === true;
  let done = 0;
  let last = 0;
  const draw = (final = false) => {
    if (!tty) return;
    const now = Date.now();
    if (!final && now - last < 100) return;
    last = now;
    const mib = (n: number) => (n / 1048576).toFixed(1);
    if (total && total > 0) {
      const share = Math.min(1, done / total);
      const width = 30;
      const bar = "#".repeat(Math.round(share * width)).padEnd(width, ".");
      process.stderr.write(`\r${label} [${bar}] ${(share * 100).toFixed(0)}% ${mib(done)}/${mib(total)} MiB`);
    } else {
      process.stderr.write(`\r${label} ${mib(done)} MiB`);
    }
    if (final) process.stderr.write("\n");
  };
  return {
    add(bytes: number) {
      done += bytes;
      draw();
    },
    finish() {
      draw(true);
    },
  };
}

/** A stream that reports the bytes passing through it. */
export function counted(stream: ReadableStream<Uint8Array>, bar: ReturnType<typeof progress>): ReadableStream<Uint8Array> {
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        bar.add(chunk.byteLength);
        controller.enqueue(chunk);
      },
      flush() {
        bar.finish();
      },
    }),
  );
}
