/**
 * A streaming multipart/form-data reader for uploads. Unlike `Request.formData()`, which buffers
 * the whole body whatever its size, it reads the stream chunk by chunk and stops (cancelling the
 * rest of the body) as soon as the file passes its limit, a text field grows too long, or the
 * framing is wrong. The file's limit is asked for when the file part starts, so a `kind` field
 * sent before the file already narrows it. Holds one copy of the file plus one chunk.
 */

export class MultipartError extends Error {
  readonly kind: "malformed" | "too_large";
  readonly limit: number | undefined;
  constructor(kind: "malformed" | "too_large", message: string, limit?: number) {
    super(message);
    this.kind = kind;
    this.limit = limit;
  }
}

export interface UploadedFile {
  field: string;
  filename: string;
  contentType: string | undefined;
  bytes: Uint8Array;
}

export interface MultipartResult {
  fields: Map<string, string>;
  file: UploadedFile | undefined;
}

export interface MultipartOptions {
  /** The one field that may carry a file. */
  fileField: string;
  /** The file's byte limit, given the text fields read before it. */
  fileLimit: (fieldsSoFar: ReadonlyMap<string, string>) => number;
  /** Expected size of the file (from Content-Length), to allocate once. */
  sizeHint?: number;
  maxFieldBytes?: number;
  maxParts?: number;
  maxHeaderBytes?: number;
}

/** The boundary of a multipart/form-data Content-Type, or undefined. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data\s*(;|$)/i.test(contentType)) return undefined;
  const match = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  return boundary && /^[0-9A-Za-z'()+_,\-./:=? ]+$/.test(boundary) ? boundary : undefined;
}

function indexOfSeq(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  const last = hay.length - needle.length;
  for (let i = hay.indexOf(first ?? 0, from); i >= 0 && i <= last; i = hay.indexOf(first ?? 0, i + 1)) {
    let k = 1;
    while (k < needle.length && hay[i + k] === needle[k]) k++;
    if (k === needle.length) return i;
  }
  return -1;
}

/** A byte buffer that grows up to a limit and refuses to pass it. */
class LimitedBuffer {
  #bytes: Uint8Array;
  #length = 0;
  readonly limit: number;
  constructor(limit: number, hint: number) {
    this.limit = limit;
    this.#bytes = new Uint8Array(Math.max(0, Math.min(limit, hint)));
  }
  push(chunk: Uint8Array, what: string): void {
    const needed = this.#length + chunk.length;
    if (needed > this.limit) throw new MultipartError("too_large", `${what} is over ${this.limit} bytes`, this.limit);
    if (needed > this.#bytes.length) {
      const grown = new Uint8Array(Math.min(this.limit, Math.max(needed, this.#bytes.length * 2, 64 * 1024)));
      grown.set(this.#bytes.subarray(0, this.#length));
      this.#bytes = grown;
    }
    this.#bytes.set(chunk, this.#length);
    this.#length = needed;
  }
  get bytes(): Uint8Array {
    return this.#bytes.subarray(0, this.#length);
  }
}

interface PartHeaders {
  name: string;
  filename: string | undefined;
  contentType: string | undefined;
}

function parseHeaders(text: string): PartHeaders {
  let disposition = "";
  let contentType: string | undefined;
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new MultipartError("malformed", "a multipart part has a malformed header");
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === "content-disposition") disposition = value;
    else if (key === "content-type") contentType = value;
  }
  if (!/^form-data\s*(;|$)/i.test(disposition)) throw new MultipartError("malformed", "a multipart part is not form-data");
  const param = (key: string) => {
    const m = new RegExp(`;\\s*${key}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, "i").exec(disposition);
    const raw = m?.[1] ?? m?.[2];
    return raw === undefined ? undefined : raw.replace(/\\(.)/g, "$1");
  };
  const name = param("name");
  if (name === undefined) throw new MultipartError("malformed", "a multipart part has no name");
  let filename = param("filename");
  const extended = param("filename\\*");
  if (extended !== undefined) {
    const m = /^utf-8''(.*)$/i.exec(extended);
    try {
      filename = m?.[1] !== undefined ? decodeURIComponent(m[1]) : filename;
    } catch {
      throw new MultipartError("malformed", "a multipart part has a malformed filename*");
    }
  }
  return { name, filename, contentType };
}

/**
 * Reads a multipart/form-data body. Throws `MultipartError` (and cancels the rest of the body)
 * on malformed framing or an exceeded limit; stops reading after the closing boundary.
 */
export async function readMultipart(
  body: ReadableStream<Uint8Array> | null,
  boundary: string,
  opts: MultipartOptions,
): Promise<MultipartResult> {
  const maxFieldBytes = opts.maxFieldBytes ?? 1024;
  const maxParts = opts.maxParts ?? 16;
  const maxHeaderBytes = opts.maxHeaderBytes ?? 8 * 1024;
  const enc = new TextEncoder();
  const dashBoundary = enc.encode(`--${boundary}`);
  const delimiter = enc.encode(`\r\n--${boundary}`);
  const headerEnd = enc.encode("\r\n\r\n");
  const fields = new Map<string, string>();
  let file: UploadedFile | undefined;
  if (!body) throw new MultipartError("malformed", "the body is empty");

  type State = "preamble" | "after-boundary" | "headers" | "body" | "done";
  let state = "preamble" as State;
  let parts = 0;
  let buf: Uint8Array = new Uint8Array(0);
  let part: PartHeaders | undefined;
  let sink: LimitedBuffer | undefined;
  let isFile = false;

  const finishPart = () => {
    if (!part || !sink) return;
    if (isFile) {
      file = { field: part.name, filename: part.filename ?? "", contentType: part.contentType, bytes: sink.bytes };
    } else {
      let text: string;
      try {
        text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(sink.bytes);
      } catch {
        throw new MultipartError("malformed", `the field ${part.name} is not UTF-8`);
      }
      fields.set(part.name, text);
    }
    part = undefined;
    sink = undefined;
  };

  /** Consumes what it can of `buf`; returns the unconsumed rest. */
  const step = (): boolean => {
    switch (state) {
      case "preamble": {
        const at = indexOfSeq(buf, dashBoundary, 0);
        if (at < 0) {
          if (buf.length > maxHeaderBytes) throw new MultipartError("malformed", "no multipart boundary found");
          return false;
        }
        buf = buf.subarray(at + dashBoundary.length);
        state = "after-boundary";
        return true;
      }
      case "after-boundary": {
        if (buf.length < 2) return false;
        if (buf[0] === 0x2d && buf[1] === 0x2d) {
          state = "done";
          return false;
        }
        const eol = indexOfSeq(buf, enc.encode("\r\n"), 0);
        if (eol < 0) {
          if (buf.length > 256) throw new MultipartError("malformed", "a multipart boundary line is malformed");
          return false;
        }
        if (!/^[ \t]*$/.test(String.fromCharCode(...buf.subarray(0, eol))))
          throw new MultipartError("malformed", "a multipart boundary line is malformed");
        buf = buf.subarray(eol + 2);
        state = "headers";
        return true;
      }
      case "headers": {
        const end = indexOfSeq(buf, headerEnd, 0);
        if (end < 0) {
          if (buf.length > maxHeaderBytes) throw new MultipartError("malformed", "a multipart part's headers are too long");
          return false;
        }
        parts++;
        if (parts > maxParts) throw new MultipartError("malformed", `at most ${maxParts} multipart parts`);
        part = parseHeaders(new TextDecoder().decode(buf.subarray(0, end)));
        buf = buf.subarray(end + 4);
        isFile = part.filename !== undefined;
        if (isFile) {
          if (part.name !== opts.fileField) throw new MultipartError("malformed", `files go in the field "${opts.fileField}"`);
          if (file) throw new MultipartError("malformed", "send one file at a time");
          const limit = opts.fileLimit(fields);
          sink = new LimitedBuffer(limit, opts.sizeHint ?? 0);
        } else {
          if (fields.has(part.name)) throw new MultipartError("malformed", `the field ${part.name} is sent twice`);
          sink = new LimitedBuffer(maxFieldBytes, 64);
        }
        state = "body";
        return true;
      }
      case "body": {
        const what = isFile ? "the file" : `the field ${part?.name}`;
        const at = indexOfSeq(buf, delimiter, 0);
        if (at < 0) {
          // Keep what could be the start of a delimiter split across chunks.
          const keep = Math.min(buf.length, delimiter.length - 1);
          sink?.push(buf.subarray(0, buf.length - keep), what);
          buf = buf.subarray(buf.length - keep);
          return false;
        }
        sink?.push(buf.subarray(0, at), what);
        finishPart();
        buf = buf.subarray(at + delimiter.length);
        state = "after-boundary";
        return true;
      }
      case "done":
        return false;
    }
  };

  const reader = body.getReader();
  try {
    while (state !== "done") {
      const { done, value } = await reader.read();
      if (done) break;
      if (buf.length === 0) buf = value;
      else {
        const joined = new Uint8Array(buf.length + value.length);
        joined.set(buf);
        joined.set(value, buf.length);
        buf = joined;
      }
      while (step()) {
        /* consume */
      }
    }
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    throw error;
  }
  if (state !== "done") throw new MultipartError("malformed", "the multipart body ends before its closing boundary");
  // The epilogue is not read: nothing after the closing boundary matters.
  await reader.cancel().catch(() => undefined);
  return { fields, file };
}
