/** The CLI's HTTP client: base URL and API token, the contract's error envelope, progress. */

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

export async function request(
  conn: Connection,
  method: string,
  path: string,
  init: { body?: RequestInit["body"]; headers?: Record<string, string> } = {},
): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(new URL(path, conn.url), {
      method,
      headers: { authorization: `Bearer ${conn.token}`, ...init.headers },
      ...(init.body === undefined ? {} : { body: init.body, duplex: "half" }),
    } as RequestInit);
  } catch (error) {
    throw new CliError(`cannot reach ${conn.url}: ${error instanceof Error ? error.message : String(error)}`, EXIT.failure);
  }
  if (!res.ok) {
    const text = await res.text();
    let message = text.slice(0, 500);
    try {
      const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
      if (body.error) message = `${body.error.code}: ${body.error.message}`;
    } catch {
      // not the error envelope: show the raw text
    }
    throw new CliError(`${method} ${path} failed with ${res.status}: ${message}`, exitFor(res.status));
  }
  return res;
}

export async function requestJson<T>(conn: Connection, method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(
    conn,
    method,
    path,
    body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } },
  );
  return (await res.json()) as T;
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
