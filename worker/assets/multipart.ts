/**
 * Reading an upload's multipart/form-data body with `@remix-run/multipart-parser`, a maintained
 * streaming parser on web streams. Unlike `Request.formData()`, which buffers the whole body
 * whatever its size, the body is fed to the parser chunk by chunk and reading stops (cancelling the
 * rest of the body) as soon as a part passes its limit, there are too many parts or headers grow
 * too long. The file's limit is narrowed while reading when a `kind=token` field comes before the
 * file. What is held is the file's chunks as they arrived, joined once when it is complete.
 *
 * This module adds what the parser leaves to its caller: the upload's rules (one file, in the
 * field `file`; text fields of at most `maxFieldBytes` bytes, each sent once, in UTF-8) and the
 * mapping of every parser error to a `MultipartError` the route answers with a 4xx.
 */
import {
  getMultipartBoundary,
  MaxFileSizeExceededError,
  MaxTotalSizeExceededError,
  MultipartParseError,
  MultipartParser,
  type MultipartPart,
} from "@remix-run/multipart-parser";

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
  maxFieldBytes?: number;
  maxParts?: number;
  maxHeaderBytes?: number;
}

/** The boundary of a multipart/form-data Content-Type (1–70 characters, RFC 2046), or undefined. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data\s*(;|$)/i.test(contentType)) return undefined;
  const boundary = getMultipartBoundary(contentType)?.trim();
  return boundary && boundary.length <= 70 ? boundary : undefined;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

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
  if (!body) throw new MultipartError("malformed", "the body is empty");
  const fields = new Map<string, string>();
  let file: UploadedFile | undefined;
  let fileLimit = opts.fileLimit(fields);
  // Every part is held to the file's limit while it is read; text fields are checked against
  // theirs once complete. The total allows the file plus every other part at its field limit.
  const parser = new MultipartParser(boundary, {
    maxFileSize: fileLimit,
    maxParts,
    maxHeaderSize: opts.maxHeaderBytes ?? 8 * 1024,
    maxTotalSize: fileLimit + maxParts * maxFieldBytes,
  });
  /** Narrows the limit the parser applies to the part it reads next (it reads it per chunk). */
  const narrow = (limit: number) => {
    fileLimit = limit;
    Object.defineProperty(parser, "maxFileSize", { value: limit });
  };

  const take = (part: MultipartPart) => {
    const disposition = part.headers["content-disposition"] ?? "";
    if (!/^form-data\s*(;|$)/i.test(disposition)) throw new MultipartError("malformed", "a multipart part is not form-data");
    const name = part.name;
    if (name === undefined) throw new MultipartError("malformed", "a multipart part has no name");
    const filename = part.filename;
    if (filename !== undefined) {
      if (name !== opts.fileField) throw new MultipartError("malformed", `files go in the field "${opts.fileField}"`);
      if (file) throw new MultipartError("malformed", "send one file at a time");
      file = { field: name, filename, contentType: part.headers["content-type"], bytes: part.bytes };
      return;
    }
    if (fields.has(name)) throw new MultipartError("malformed", `the field ${name} is sent twice`);
    if (part.size > maxFieldBytes) throw new MultipartError("too_large", `the field ${name} is over ${maxFieldBytes} bytes`, maxFieldBytes);
    let text: string;
    try {
      text = utf8.decode(part.bytes);
    } catch {
      throw new MultipartError("malformed", `the field ${name} is not UTF-8`);
    }
    fields.set(name, text);
    // A kind sent before the file narrows its limit while it is read.
    if (!file) {
      const limit = opts.fileLimit(fields);
      if (limit < fileLimit) narrow(limit);
    }
  };

  const reader = body.getReader();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value.length === 0) continue;
      try {
        for (const part of parser.write(value)) take(part);
      } catch (error) {
        // Bytes after the closing boundary (an epilogue) are not read.
        if (error instanceof MultipartParseError && error.message === "Unexpected data after end of stream") {
          finished = true;
          break;
        }
        throw error;
      }
    }
    if (!finished) {
      try {
        parser.finish();
      } catch {
        throw new MultipartError("malformed", "the multipart body ends before its closing boundary");
      }
    }
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    throw asMultipartError(error, fileLimit);
  }
  await reader.cancel().catch(() => undefined);
  return { fields, file };
}

function asMultipartError(error: unknown, fileLimit: number): unknown {
  if (error instanceof MultipartError) return error;
  if (error instanceof MaxFileSizeExceededError || error instanceof MaxTotalSizeExceededError)
    return new MultipartError("too_large", `the file is over ${fileLimit} bytes`, fileLimit);
  if (error instanceof MultipartParseError) return new MultipartError("malformed", error.message);
  // Part headers that are not UTF-8: the parser's decoder throws a TypeError.
  if (error instanceof TypeError) return new MultipartError("malformed", "a multipart part has malformed headers");
  return error;
}
