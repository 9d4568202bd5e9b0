/**
 * Bounded streaming zlib (RFC 1950) inflation on the runtime's `DecompressionStream("deflate")`
 * (zlib itself, in workerd: it checks the header, the Huffman codes, distances and the Adler-32,
 * and refuses a stream that ends early or has bytes after its end).
 *
 * Two things are added around it:
 * - a bound on the inflated bytes: the compressed bytes are written in slices of INFLATE_SLICE
 *   bytes, and the output is counted as it is read; more than `maxOutput` bytes and the stream is
 *   torn down. The runtime inflates each written slice at once (it does not wait for the reader),
 *   and deflate expands at most 1032:1, so a slice makes at most ~4 MiB: a decompression bomb is
 *   stopped within one slice of its budget, and never holds more than that in memory;
 * - no garbage per chunk: the output is read with a BYOB reader into one buffer that goes back
 *   and forth between the stream and the sink. Inflating a 4096×4096 PNG streams 64 MiB through
 *   it; a reader that got a fresh array per chunk would leave those 64 MiB for the collector.
 *
 * The sink must consume (copy) what it is given before returning: the view is reused next.
 */

export class InflateError extends Error {}

/** The largest compressed slice written at once (its output is at most ~1032 times this). */
export const INFLATE_SLICE = 4 * 1024;
/**
 * One read takes everything one slice can inflate to, so reads keep pace with writes (a smaller
 * stream needs no more than its budget and one byte past it).
 */
const READ_BUFFER = 1032 * INFLATE_SLICE + 64 * 1024;

/**
 * Inflates the zlib stream made of `parts` (in order, e.g. a PNG's IDAT chunks) into `sink`.
 * Throws `InflateError` when the stream is not zlib, is corrupt or truncated, fails its Adler-32,
 * has bytes after its end, or inflates to more than `maxOutput` bytes; errors thrown by `sink`
 * pass through. Answers the number of bytes inflated.
 */
export async function inflateZlib(parts: readonly Uint8Array[], maxOutput: number, sink: (bytes: Uint8Array) => void): Promise<number> {
  const stream = new DecompressionStream("deflate");
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader({ mode: "byob" });
  let buffer = new ArrayBuffer(Math.min(READ_BUFFER, maxOutput + 64 * 1024));
  let produced = 0;
  let ended = false;
  // One read is always outstanding; its outcome lands here.
  let result: ReadableStreamReadResult<Uint8Array> | undefined;
  let failure: unknown;
  let pending: Promise<void> = Promise.resolve();

  const read = () => {
    pending = reader.read(new Uint8Array(buffer)).then(
      (r) => {
        result = r;
      },
      (error: unknown) => {
        failure = error;
      },
    );
  };
  /** Hands a settled read to the sink and starts the next; false once the stream has ended. */
  const deliver = (): boolean => {
    if (failure !== undefined) throw failure;
    const r = result;
    if (!r) return true;
    result = undefined;
    if (r.done || !r.value) {
      ended = true;
      return false;
    }
    produced += r.value.length;
    if (produced > maxOutput) throw new InflateError(`the data inflates to more than ${maxOutput} bytes`);
    if (r.value.length > 0) sink(r.value);
    buffer = r.value.buffer as ArrayBuffer;
    read();
    return true;
  };

  try {
    read();
    for (const part of parts) {
      for (let at = 0; at < part.length; at += INFLATE_SLICE) {
        // The runtime fulfils the outstanding read while it inflates the slice, so by the time
        // the write is done its output has been delivered (or there was none).
        await writer.write(part.subarray(at, at + INFLATE_SLICE));
        deliver();
      }
    }
    await writer.close();
    while (!ended) {
      await pending;
      if (!result && failure === undefined) break;
      deliver();
    }
  } catch (error) {
    reader.cancel().catch(() => undefined);
    writer.abort().catch(() => undefined);
    if (error instanceof InflateError || !(error instanceof TypeError)) throw error;
    // The runtime reports every zlib failure as a TypeError.
    throw new InflateError(error.message);
  }
  return produced;
}
