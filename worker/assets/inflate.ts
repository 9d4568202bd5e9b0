/**
 * A zlib (RFC 1950/1951) inflater that allocates nothing per chunk: input is pushed in pieces,
 * output is written into one fixed buffer that also serves as the 32 KiB history window, and is
 * handed to `sink` as views of that buffer. Inflating a 4096×4096 PNG streams 64 MiB through it
 * with a constant ~100 KiB of memory; inflaters that return fresh arrays leave the same 64 MiB as
 * garbage for the collector, which the isolate's memory has to hold until it runs.
 *
 * The sink must consume (copy) what it is given before returning: the view is overwritten next.
 */

export class InflateError extends Error {}

const WINDOW = 32 * 1024;
const OUT_SIZE = 4 * WINDOW;

const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385,
  24577,
];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** A canonical Huffman code as counts per length and symbols sorted by code (as in zlib's puff). */
interface Huffman {
  counts: Uint16Array;
  symbols: Uint16Array;
}

function buildHuffman(lengths: Uint8Array, n: number): Huffman {
  const counts = new Uint16Array(16);
  const symbols = new Uint16Array(n);
  for (let i = 0; i < n; i++) counts[lengths[i] ?? 0] = (counts[lengths[i] ?? 0] ?? 0) + 1;
  counts[0] = 0;
  let left = 1;
  for (let len = 1; len < 16; len++) {
    left = (left << 1) - (counts[len] ?? 0);
    if (left < 0) throw new InflateError("over-subscribed Huffman code");
  }
  const offsets = new Uint16Array(16);
  for (let len = 1; len < 15; len++) offsets[len + 1] = (offsets[len] ?? 0) + (counts[len] ?? 0);
  for (let i = 0; i < n; i++) {
    const len = lengths[i] ?? 0;
    if (len !== 0) {
      symbols[offsets[len] ?? 0] = i;
      offsets[len] = (offsets[len] ?? 0) + 1;
    }
  }
  return { counts, symbols };
}

const FIXED = (() => {
  const lit = new Uint8Array(288);
  lit.fill(8, 0, 144);
  lit.fill(9, 144, 256);
  lit.fill(7, 256, 280);
  lit.fill(8, 280, 288);
  const dist = new Uint8Array(30).fill(5);
  return { lit: buildHuffman(lit, 288), dist: buildHuffman(dist, 30) };
})();

/** Thrown inside the decoder when it needs more input than was pushed; never escapes. */
const NEED_INPUT = Symbol("need input");

/**
 * The decoder is written as a resumable state machine over whole blocks' headers and single
 * symbols: when input runs out mid-symbol it rewinds to the last safe point and waits for more.
 */
export class Inflater {
  readonly #sink: (bytes: Uint8Array) => void;
  readonly #out = new Uint8Array(OUT_SIZE);
  #outPos = 0;
  #flushed = 0;
  #input: Uint8Array = new Uint8Array(0);
  #inPos = 0;
  #bitBuf = 0;
  #bitCount = 0;
  #state: "header" | "block" | "stored" | "codes" | "trailer" | "done" = "header";
  #final = false;
  #storedLeft = 0;
  #lit: Huffman = FIXED.lit;
  #dist: Huffman = FIXED.dist;
  #adlerA = 1;
  #adlerB = 0;

  constructor(sink: (bytes: Uint8Array) => void) {
    this.#sink = sink;
  }

  get done(): boolean {
    return this.#state === "done";
  }

  /** Feeds compressed bytes; `last` says no more will come (then the stream must be complete). */
  push(chunk: Uint8Array, last = false): void {
    if (this.#inPos < this.#input.length) {
      const rest = this.#input.subarray(this.#inPos);
      const joined = new Uint8Array(rest.length + chunk.length);
      joined.set(rest);
      joined.set(chunk, rest.length);
      this.#input = joined;
    } else {
      this.#input = chunk;
    }
    this.#inPos = 0;
    this.#run();
    if (last) {
      this.#flush();
      if (this.#state !== "done") throw new InflateError("the compressed data ends early");
    }
  }

  #bits(n: number): number {
    while (this.#bitCount < n) {
      if (this.#inPos >= this.#input.length) throw NEED_INPUT;
      this.#bitBuf |= (this.#input[this.#inPos++] ?? 0) << this.#bitCount;
      this.#bitCount += 8;
    }
    const v = this.#bitBuf & ((1 << n) - 1);
    this.#bitBuf >>>= n;
    this.#bitCount -= n;
    return v;
  }

  #decode(h: Huffman): number {
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len < 16; len++) {
      code |= this.#bits(1);
      const count = h.counts[len] ?? 0;
      if (code - count < first) return h.symbols[index + (code - first)] ?? 0;
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw new InflateError("invalid Huffman code");
  }

  #emit(byte: number): void {
    if (this.#outPos === OUT_SIZE) this.#slide();
    this.#out[this.#outPos++] = byte;
  }

  /** Hands everything not yet handed out to the sink (and to the Adler-32). */
  #flush(): void {
    if (this.#outPos === this.#flushed) return;
    const view = this.#out.subarray(this.#flushed, this.#outPos);
    let a = this.#adlerA;
    let b = this.#adlerB;
    for (let i = 0; i < view.length; ) {
      const end = Math.min(view.length, i + 3800);
      for (; i < end; i++) {
        a += view[i] ?? 0;
        b += a;
      }
      a %= 65521;
      b %= 65521;
    }
    this.#adlerA = a;
    this.#adlerB = b;
    this.#flushed = this.#outPos;
    this.#sink(view);
  }

  /** Keeps the last 32 KiB (the window) at the front of the buffer. */
  #slide(): void {
    this.#flush();
    this.#out.copyWithin(0, this.#outPos - WINDOW, this.#outPos);
    this.#outPos = WINDOW;
    this.#flushed = WINDOW;
  }

  #run(): void {
    for (;;) {
      // A safe point to come back to if the input runs out.
      const savePos = this.#inPos;
      const saveBuf = this.#bitBuf;
      const saveCount = this.#bitCount;
      try {
        if (!this.#step()) return;
      } catch (error) {
        if (error !== NEED_INPUT) throw error;
        this.#inPos = savePos;
        this.#bitBuf = saveBuf;
        this.#bitCount = saveCount;
        return;
      }
    }
  }

  /** One unit of work; false when finished. Each unit either completes or consumes nothing. */
  #step(): boolean {
    switch (this.#state) {
      case "header": {
        const cmf = this.#bits(8);
        const flg = this.#bits(8);
        if ((cmf & 0x0f) !== 8 || cmf >> 4 > 7 || ((cmf << 8) | flg) % 31 !== 0 || flg & 0x20) {
          throw new InflateError("not a zlib stream");
        }
        this.#state = "block";
        return true;
      }
      case "block": {
        if (this.#final) {
          this.#state = "trailer";
          return true;
        }
        const final = this.#bits(1);
        const type = this.#bits(2);
        if (type === 0) {
          this.#bitBuf = 0;
          this.#bitCount = 0; // to the byte boundary
          const len = this.#bits(16);
          const nlen = this.#bits(16);
          if ((len ^ 0xffff) !== nlen) throw new InflateError("corrupt stored block");
          this.#storedLeft = len;
          this.#state = "stored";
        } else if (type === 1) {
          this.#lit = FIXED.lit;
          this.#dist = FIXED.dist;
          this.#state = "codes";
        } else if (type === 2) {
          this.#readDynamic();
          this.#state = "codes";
        } else {
          throw new InflateError("invalid block type");
        }
        this.#final = final === 1;
        return true;
      }
      case "stored": {
        // Copies what has arrived; consumed bytes stay consumed, so it never throws NEED_INPUT.
        while (this.#storedLeft > 0 && this.#inPos < this.#input.length) {
          this.#emit(this.#input[this.#inPos++] ?? 0);
          this.#storedLeft--;
        }
        if (this.#storedLeft > 0) return false;
        this.#state = "block";
        return true;
      }
      case "codes": {
        // One symbol (literal, or a length/distance pair) per unit.
        const symbol = this.#decode(this.#lit);
        if (symbol < 256) {
          this.#emit(symbol);
          return true;
        }
        if (symbol === 256) {
          this.#state = "block";
          return true;
        }
        const li = symbol - 257;
        if (li >= 29) throw new InflateError("invalid length code");
        const length = (LENGTH_BASE[li] ?? 0) + this.#bits(LENGTH_EXTRA[li] ?? 0);
        const di = this.#decode(this.#dist);
        if (di >= 30) throw new InflateError("invalid distance code");
        const distance = (DIST_BASE[di] ?? 0) + this.#bits(DIST_EXTRA[di] ?? 0);
        if (distance > this.#outPos) throw new InflateError("distance beyond the start of the data");
        if (this.#outPos + length > OUT_SIZE) this.#slide();
        const out = this.#out;
        let from = this.#outPos - distance;
        for (let i = 0; i < length; i++) out[this.#outPos++] = out[from++] ?? 0;
        return true;
      }
      case "trailer": {
        this.#bitBuf = 0;
        this.#bitCount = 0;
        const adler = ((this.#bits(8) << 24) | (this.#bits(8) << 16) | (this.#bits(8) << 8) | this.#bits(8)) >>> 0;
        this.#flush();
        if (adler !== ((this.#adlerB << 16) | this.#adlerA) >>> 0) throw new InflateError("Adler-32 mismatch");
        this.#state = "done";
        return false;
      }
      case "done":
        return false;
    }
  }

  #readDynamic(): void {
    const hlit = this.#bits(5) + 257;
    const hdist = this.#bits(5) + 1;
    const hclen = this.#bits(4) + 4;
    if (hlit > 286 || hdist > 30) throw new InflateError("bad dynamic block counts");
    const codeLengths = new Uint8Array(19);
    for (let i = 0; i < hclen; i++) codeLengths[CODE_LENGTH_ORDER[i] ?? 0] = this.#bits(3);
    const lencode = buildHuffman(codeLengths, 19);
    const lengths = new Uint8Array(hlit + hdist);
    for (let i = 0; i < hlit + hdist; ) {
      const sym = this.#decode(lencode);
      if (sym < 16) {
        lengths[i++] = sym;
        continue;
      }
      let repeat: number;
      let value = 0;
      if (sym === 16) {
        if (i === 0) throw new InflateError("repeat with no previous length");
        value = lengths[i - 1] ?? 0;
        repeat = 3 + this.#bits(2);
      } else if (sym === 17) repeat = 3 + this.#bits(3);
      else repeat = 11 + this.#bits(7);
      if (i + repeat > hlit + hdist) throw new InflateError("too many code lengths");
      lengths.fill(value, i, i + repeat);
      i += repeat;
    }
    if ((lengths[256] ?? 0) === 0) throw new InflateError("no end-of-block code");
    this.#lit = buildHuffman(lengths.subarray(0, hlit), hlit);
    this.#dist = buildHuffman(lengths.subarray(hlit), hdist);
  }
}
