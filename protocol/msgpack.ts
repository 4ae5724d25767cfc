/**
 * A small msgpack codec for the values in {@linkcode WireValue}, with no dependencies.
 *
 * Kraken writes its own so the worker and process bootstrap entries import no npm package (an npm
 * import costs a new isolate ~60 ms to resolve) and so decoding can enforce limits before it
 * allocates: a declared length larger than the bytes left is a {@linkcode FrameError}, not a 4 GiB
 * allocation. Interoperability with `@msgpack/msgpack` is pinned by the tests.
 *
 * @module
 */
import { FrameError } from "./errors.ts";

const MAX_DEPTH = 100;
const TIMESTAMP_EXT = -1;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

/** Encodes values into msgpack; one encoder reuses its buffer across calls. */
export class MsgpackEncoder {
  #buf = new Uint8Array(4096);
  #view = new DataView(this.#buf.buffer);
  #pos = 0;

  /**
   * Encodes one value.
   * @param value The value (an `undefined` map entry is left out; elsewhere it becomes nil).
   * @returns A fresh byte array.
   */
  encode(value: unknown): Uint8Array {
    this.#pos = 0;
    this.#write(value, 0);
    return this.#buf.slice(0, this.#pos);
  }

  /**
   * Encodes `value` behind a 4-byte big-endian length prefix: one frame of the stream protocol.
   * @param value The value.
   * @returns The frame bytes.
   */
  encodeFrame(value: unknown): Uint8Array {
    this.#pos = 4;
    this.#write(value, 0);
    this.#view.setUint32(0, this.#pos - 4);
    return this.#buf.slice(0, this.#pos);
  }

  /**
   * Encodes `[head, ...items.slice(from, end)]` as one frame, taking items until the frame holds
   * at least `softLimit` bytes and never more than `maxFrame`: a long queue leaves as several
   * frames, each acceptable to a peer with the same maximum. An item that alone exceeds
   * `maxFrame` is left out and listed in `tooLarge` with its encoded size.
   *
   * @param head The first element (the batch's version).
   * @param items The values to take from.
   * @param from The index of the first item to take.
   * @param softLimit Payload bytes after which no further item is added.
   * @param maxFrame The hard payload limit.
   * @returns The frame (`null` when every item taken was too large), the index of the first item
   *   not taken, and the items left out.
   */
  encodeBatchFrame(
    head: unknown,
    items: readonly unknown[],
    from: number,
    softLimit: number,
    maxFrame: number,
  ): { frame: Uint8Array | null; next: number; tooLarge: { index: number; size: number }[] } {
    const tooLarge: { index: number; size: number }[] = [];
    // array32 header with the count patched in at the end (5 bytes whatever the count).
    this.#pos = 4;
    this.#ensure(5);
    this.#buf[this.#pos] = 0xdd;
    this.#pos += 5;
    this.#write(head, 1);
    // Bytes of a frame before its items: the array header and the head.
    const overhead = this.#pos - 4;
    let count = 1;
    let i = from;
    for (; i < items.length; i++) {
      const mark = this.#pos;
      this.#write(items[i], 1);
      const size = this.#pos - mark;
      if (this.#pos - 4 > maxFrame) {
        this.#pos = mark;
        if (size + overhead > maxFrame) {
          tooLarge.push({ index: i, size });
          continue;
        }
        break; // it fits in a frame of its own: the next one
      }
      count++;
      if (this.#pos - 4 >= softLimit) {
        i++;
        break;
      }
    }
    if (count === 1) return { frame: null, next: i, tooLarge };
    this.#view.setUint32(5, count);
    this.#view.setUint32(0, this.#pos - 4);
    return { frame: this.#buf.slice(0, this.#pos), next: i, tooLarge };
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  #u8(b: number): void {
    this.#ensure(1);
    this.#buf[this.#pos++] = b;
  }

  #write(value: unknown, depth: number): void {
    if (depth > MAX_DEPTH) throw new FrameError(`value nested deeper than ${MAX_DEPTH} levels`);
    switch (typeof value) {
      case "undefined":
        return this.#u8(0xc0);
      case "boolean":
        return this.#u8(value ? 0xc3 : 0xc2);
      case "number":
        return this.#number(value);
      case "string":
        return this.#string(value);
      case "object":
        if (value === null) return this.#u8(0xc0);
        if (Array.isArray(value)) return this.#array(value, depth);
        if (value instanceof Uint8Array) return this.#bin(value);
        if (value instanceof Date) return this.#date(value);
        return this.#map(value as Record<string, unknown>, depth);
      default:
        throw new FrameError(`cannot encode a ${typeof value}`);
    }
  }

  #number(n: number): void {
    if (Number.isInteger(n) && Number.isSafeInteger(n)) {
      if (n >= 0) {
        if (n < 128) return this.#u8(n);
        this.#ensure(9);
        if (n < 0x100) {
          this.#buf[this.#pos++] = 0xcc;
          this.#buf[this.#pos++] = n;
        } else if (n < 0x10000) {
          this.#buf[this.#pos++] = 0xcd;
          this.#view.setUint16(this.#pos, n);
          this.#pos += 2;
        } else if (n < 0x100000000) {
          this.#buf[this.#pos++] = 0xce;
          this.#view.setUint32(this.#pos, n);
          this.#pos += 4;
        } else {
          this.#buf[this.#pos++] = 0xcf;
          this.#view.setBigUint64(this.#pos, BigInt(n));
          this.#pos += 8;
        }
        return;
      }
      if (n >= -32) return this.#u8(n & 0xff);
      this.#ensure(9);
      if (n >= -0x80) {
        this.#buf[this.#pos++] = 0xd0;
        this.#view.setInt8(this.#pos++, n);
      } else if (n >= -0x8000) {
        this.#buf[this.#pos++] = 0xd1;
        this.#view.setInt16(this.#pos, n);
        this.#pos += 2;
      } else if (n >= -0x80000000) {
        this.#buf[this.#pos++] = 0xd2;
        this.#view.setInt32(this.#pos, n);
        this.#pos += 4;
      } else {
        this.#buf[this.#pos++] = 0xd3;
        this.#view.setBigInt64(this.#pos, BigInt(n));
        this.#pos += 8;
      }
      return;
    }
    this.#ensure(9);
    this.#buf[this.#pos++] = 0xcb;
    this.#view.setFloat64(this.#pos, n);
    this.#pos += 8;
  }

  #string(s: string): void {
    // ASCII strings (keys, topics, ids, most payload text) are the common case: copy them char by
    // char, no TextEncoder call, no view allocated; at the first non-ASCII char, fall back.
    const len = s.length;
    if (len < 0x100) {
      this.#ensure(2 + len);
      const buf = this.#buf;
      const head = len < 32 ? 1 : 2;
      let p = this.#pos + head;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) break;
        buf[p++] = c;
      }
      if (i === len) {
        if (head === 1) buf[this.#pos] = 0xa0 | len;
        else {
          buf[this.#pos] = 0xd9;
          buf[this.#pos + 1] = len;
        }
        this.#pos = p;
        return;
      }
    }
    const max = len * 3;
    this.#ensure(5 + max);
    // Reserve the widest header the bound needs, write, then patch the real length in.
    const header = max < 32 ? 1 : max < 0x100 ? 2 : max < 0x10000 ? 3 : 5;
    const start = this.#pos + header;
    const written = textEncoder.encodeInto(s, this.#buf.subarray(start)).written;
    const at = this.#pos;
    if (header === 1) this.#buf[at] = 0xa0 | written;
    else if (header === 2) {
      this.#buf[at] = 0xd9;
      this.#buf[at + 1] = written;
    } else if (header === 3) {
      this.#buf[at] = 0xda;
      this.#view.setUint16(at + 1, written);
    } else {
      this.#buf[at] = 0xdb;
      this.#view.setUint32(at + 1, written);
    }
    this.#pos = start + written;
  }

  #bin(b: Uint8Array): void {
    this.#ensure(5 + b.length);
    if (b.length < 0x100) {
      this.#buf[this.#pos++] = 0xc4;
      this.#buf[this.#pos++] = b.length;
    } else if (b.length < 0x10000) {
      this.#buf[this.#pos++] = 0xc5;
      this.#view.setUint16(this.#pos, b.length);
      this.#pos += 2;
    } else {
      this.#buf[this.#pos++] = 0xc6;
      this.#view.setUint32(this.#pos, b.length);
      this.#pos += 4;
    }
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
  }

  #date(d: Date): void {
    const ms = d.getTime();
    if (Number.isNaN(ms)) throw new FrameError("cannot encode an invalid Date");
    const sec = Math.floor(ms / 1000);
    const nsec = (ms - sec * 1000) * 1e6;
    this.#ensure(15);
    // timestamp 96: ext8, length 12, type -1, u32 nanoseconds, i64 seconds
    this.#buf[this.#pos++] = 0xc7;
    this.#buf[this.#pos++] = 12;
    this.#buf[this.#pos++] = TIMESTAMP_EXT & 0xff;
    this.#view.setUint32(this.#pos, nsec);
    this.#view.setBigInt64(this.#pos + 4, BigInt(sec));
    this.#pos += 12;
  }

  #array(a: unknown[], depth: number): void {
    this.#length(a.length, 0x90, 0xdc);
    for (let i = 0; i < a.length; i++) this.#write(a[i], depth + 1);
  }

  #map(m: Record<string, unknown>, depth: number): void {
    // One pass over the keys: a one-byte header is reserved and patched; the rare map of 16 or
    // more entries moves its body up to make room for the wider header.
    this.#ensure(1);
    const at = this.#pos++;
    let count = 0;
    for (const k in m) {
      const item = m[k];
      if (item === undefined) continue;
      this.#string(k);
      this.#write(item, depth + 1);
      count++;
    }
    if (count < 16) {
      this.#buf[at] = 0x80 | count;
      return;
    }
    const extra = count < 0x10000 ? 2 : 4;
    this.#ensure(extra);
    this.#buf.copyWithin(at + 1 + extra, at + 1, this.#pos);
    this.#pos += extra;
    if (extra === 2) {
      this.#buf[at] = 0xde;
      this.#view.setUint16(at + 1, count);
    } else {
      this.#buf[at] = 0xdf;
      this.#view.setUint32(at + 1, count);
    }
  }

  #length(n: number, fix: number, wide: number): void {
    this.#ensure(5);
    if (n < 16) this.#buf[this.#pos++] = fix | n;
    else if (n < 0x10000) {
      this.#buf[this.#pos++] = wide;
      this.#view.setUint16(this.#pos, n);
      this.#pos += 2;
    } else {
      this.#buf[this.#pos++] = wide + 1;
      this.#view.setUint32(this.#pos, n);
      this.#pos += 4;
    }
  }
}

/**
 * Stands, in a value decoded with `lenient`, for a part that could not be decoded: its bytes were
 * skipped, the rest of the value is intact. Whoever checks the value refuses it with `reason`
 * (a request whose body holds one can still be answered: its id and sender were readable).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeMsgpack, Malformed } from "./msgpack.ts";
 * // [1, ext type 5 of 1 byte]
 * const value = decodeMsgpack(new Uint8Array([0x92, 0x01, 0xd4, 0x05, 0x00]), { lenient: true });
 * assert.ok((value as unknown[])[1] instanceof Malformed);
 * assert.equal((value as Malformed[])[1].reason, "msgpack extension type 5 is not supported");
 * ```
 */
export class Malformed {
  /** Why the part could not be decoded, e.g. `msgpack extension type 5 is not supported`. */
  readonly reason: string;
  /** Whether it was skipped for sitting too deep (its bytes may be valid msgpack). */
  readonly tooDeep: boolean;
  /**
   * @param reason Why the part could not be decoded.
   * @param tooDeep Whether it was skipped for sitting too deep.
   */
  constructor(reason: string, tooDeep = false) {
    this.reason = reason;
    this.tooDeep = tooDeep;
  }
}

/** Options of {@linkcode decodeMsgpack}. */
export interface DecodeOptions {
  /**
   * Turn each undecodable part whose extent is known (an unsupported extension, invalid UTF-8, a
   * map key that is not a string, a timestamp out of range, nesting deeper than 100 levels) into
   * a {@linkcode Malformed} instead of failing the whole value. Input whose extent cannot be
   * known (a byte no msgpack value starts with, truncation) still throws.
   */
  lenient?: boolean;
}

/**
 * Decodes one msgpack value that fills `bytes` exactly.
 *
 * @param bytes The encoded value.
 * @param options `lenient`: mark undecodable parts instead of throwing (see {@linkcode Malformed}).
 * @returns The value.
 * @throws {FrameError} On malformed input, trailing bytes or nesting deeper than 100 levels
 *   (with `lenient`, only where the extent of the bad part cannot be known).
 */
export function decodeMsgpack(bytes: Uint8Array, options: DecodeOptions = {}): unknown {
  if (options.lenient) return decodeLenient(bytes).value;
  const reader = new Reader(bytes, false, MAX_DEPTH + 1);
  const value = reader.read(0);
  if (reader.pos !== bytes.length) {
    throw new FrameError(`msgpack value ends at byte ${reader.pos} of ${bytes.length}`);
  }
  return value;
}

/**
 * Decodes one msgpack value leniently (see {@linkcode DecodeOptions.lenient}) and says how many
 * parts were marked {@linkcode Malformed}: a value with none holds only what msgpack's wire types
 * decode to (null, booleans, numbers, strings, byte arrays, valid dates, arrays, plain objects),
 * as a tree, with no array, map, byte array or date at `depth` or deeper.
 *
 * @param bytes The encoded value.
 * @param depth Arrays, maps, byte arrays and extensions from this depth down are skipped and
 *   marked too deep (default: deeper than 100 levels).
 * @returns The value, and the number of parts marked.
 * @throws {FrameError} Where the extent of a bad part cannot be known, or on trailing bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeLenient, MsgpackEncoder } from "./msgpack.ts";
 * const bytes = new MsgpackEncoder().encode([1, [[2]]]);
 * assert.deepEqual(decodeLenient(bytes), { value: [1, [[2]]], marked: 0 });
 * assert.equal(decodeLenient(bytes, 2).marked, 1); // [2] sits at depth 2
 * ```
 */
export function decodeLenient(
  bytes: Uint8Array,
  depth: number = MAX_DEPTH + 1,
): { value: unknown; marked: number } {
  const reader = new Reader(bytes, true, Math.min(depth, MAX_DEPTH + 1));
  const value = reader.read(0);
  if (reader.pos !== bytes.length) {
    throw new FrameError(`msgpack value ends at byte ${reader.pos} of ${bytes.length}`);
  }
  return { value, marked: reader.marked };
}

// Decoding strings dominates reading an envelope: keys, kinds, ids and topics are short ASCII
// strings that repeat in every message. TextDecoder costs ~280 ns a call here; short ones are
// looked up in a small cache (no allocation), longer ASCII ones are built from char codes.
/** Longest string decoded without TextDecoder when it is ASCII. */
const MAX_ASCII = 200;
/** Longest string kept in the cache. */
const MAX_CACHED = 24;
/** Cache bound: a stream of distinct strings (hostile or not) clears it rather than growing it. */
const CACHE_LIMIT = 4096;
const cache = new Map<number, { bytes: Uint8Array; s: string }>();
// One reusable array of char codes per length (String.fromCharCode.apply needs exact length).
const codes: number[][] = Array.from({ length: MAX_ASCII + 1 }, (_, n) => new Array(n).fill(0));

/** The ASCII string at `b[at, at+len)`, or `null` if a byte is not ASCII. */
function asciiString(b: Uint8Array, at: number, len: number): string | null {
  const end = at + len;
  if (len <= MAX_CACHED) {
    let h = len;
    for (let i = at; i < end; i++) {
      const c = b[i];
      if (c > 0x7f) return null;
      h = (Math.imul(h, 31) + c) | 0;
    }
    const hit = cache.get(h);
    if (hit !== undefined && hit.bytes.length === len) {
      const k = hit.bytes;
      let same = true;
      for (let i = 0; i < len; i++) {
        if (k[i] !== b[at + i]) {
          same = false;
          break;
        }
      }
      if (same) return hit.s;
    }
    const s = fromCodes(b, at, len);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(h, { bytes: b.slice(at, end), s });
    return s;
  }
  for (let i = at; i < end; i++) if (b[i] > 0x7f) return null;
  return fromCodes(b, at, len);
}

function fromCodes(b: Uint8Array, at: number, len: number): string {
  const c = codes[len];
  for (let i = 0; i < len; i++) c[i] = b[at + i];
  return String.fromCharCode.apply(null, c);
}

/** Whether byte `b` starts an array, a map, a byte array or an extension. */
function startsContainer(b: number): boolean {
  return (b >= 0x80 && b < 0xa0) || (b >= 0xc4 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8) ||
    (b >= 0xdc && b <= 0xdf);
}

class Reader {
  pos = 0;
  /** Parts marked Malformed so far. */
  marked = 0;
  readonly #b: Uint8Array;
  readonly #v: DataView;
  readonly #lenient: boolean;
  /** Depth from which a container is too deep. */
  readonly #deep: number;
  constructor(b: Uint8Array, lenient: boolean, deep: number) {
    this.#b = b;
    this.#v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.#lenient = lenient;
    this.#deep = deep;
  }

  /** A bad part: marked when lenient (its bytes are already consumed), else the whole fails. */
  #bad(reason: string, tooDeep = false): Malformed {
    if (!this.#lenient) throw new FrameError(reason);
    this.marked++;
    return new Malformed(reason, tooDeep);
  }

  /** The container starting at `pos`, skipped and marked: it sits too deep. */
  #tooDeep(): Malformed {
    if (this.#lenient) this.#skip();
    return this.#bad(`msgpack nested deeper than ${this.#deep - 1} levels`, true);
  }

  #need(n: number): void {
    if (this.pos + n > this.#b.length) {
      throw new FrameError(`msgpack truncated: needs ${n} bytes at offset ${this.pos}`);
    }
  }

  read(depth: number): unknown {
    this.#need(1);
    const b = this.#b[this.pos++];
    if (b < 0x80) return b;
    if (b >= 0xe0) return b - 0x100;
    if (b >= 0xa0 && b < 0xc0) return this.#str(b & 0x1f);
    if (depth >= this.#deep && startsContainer(b)) {
      this.pos--;
      return this.#tooDeep();
    }
    if (b >= 0x90 && b < 0xa0) return this.#arr(b & 0x0f, depth);
    if (b >= 0x80 && b < 0x90) return this.#map(b & 0x0f, depth);
    const v = this.#v;
    let n: number;
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.#bin(this.#u(1));
      case 0xc5:
        return this.#bin(this.#u(2));
      case 0xc6:
        return this.#bin(this.#u(4));
      case 0xc7:
        n = this.#u(1);
        return this.#ext(n);
      case 0xc8:
        n = this.#u(2);
        return this.#ext(n);
      case 0xc9:
        n = this.#u(4);
        return this.#ext(n);
      case 0xca:
        this.#need(4);
        this.pos += 4;
        return v.getFloat32(this.pos - 4);
      case 0xcb:
        this.#need(8);
        this.pos += 8;
        return v.getFloat64(this.pos - 8);
      case 0xcc:
        return this.#u(1);
      case 0xcd:
        return this.#u(2);
      case 0xce:
        return this.#u(4);
      case 0xcf:
        this.#need(8);
        this.pos += 8;
        return Number(v.getBigUint64(this.pos - 8));
      case 0xd0:
        this.#need(1);
        return v.getInt8(this.pos++);
      case 0xd1:
        this.#need(2);
        this.pos += 2;
        return v.getInt16(this.pos - 2);
      case 0xd2:
        this.#need(4);
        this.pos += 4;
        return v.getInt32(this.pos - 4);
      case 0xd3:
        this.#need(8);
        this.pos += 8;
        return Number(v.getBigInt64(this.pos - 8));
      case 0xd4:
        return this.#ext(1);
      case 0xd5:
        return this.#ext(2);
      case 0xd6:
        return this.#ext(4);
      case 0xd7:
        return this.#ext(8);
      case 0xd8:
        return this.#ext(16);
      case 0xd9:
        return this.#str(this.#u(1));
      case 0xda:
        return this.#str(this.#u(2));
      case 0xdb:
        return this.#str(this.#u(4));
      case 0xdc:
        return this.#arr(this.#u(2), depth);
      case 0xdd:
        return this.#arr(this.#u(4), depth);
      case 0xde:
        return this.#map(this.#u(2), depth);
      case 0xdf:
        return this.#map(this.#u(4), depth);
      default:
        throw new FrameError(
          `msgpack byte 0x${b.toString(16)} at offset ${this.pos - 1} is not valid`,
        );
    }
  }

  #u(size: 1 | 2 | 4): number {
    this.#need(size);
    const at = this.pos;
    this.pos += size;
    return size === 1 ? this.#b[at] : size === 2 ? this.#v.getUint16(at) : this.#v.getUint32(at);
  }

  #str(len: number): string | Malformed {
    this.#need(len);
    const at = this.pos;
    this.pos += len;
    if (len <= MAX_ASCII) {
      const s = asciiString(this.#b, at, len);
      if (s !== null) return s;
    }
    try {
      return textDecoder.decode(this.#b.subarray(at, at + len));
    } catch {
      return this.#bad(`msgpack string at offset ${at} is not valid UTF-8`);
    }
  }

  #bin(len: number): Uint8Array {
    this.#need(len);
    this.pos += len;
    return this.#b.slice(this.pos - len, this.pos);
  }

  #ext(len: number): Date | Malformed {
    this.#need(1 + len);
    const type = this.#v.getInt8(this.pos);
    const at = this.pos + 1;
    this.pos += 1 + len;
    if (type !== TIMESTAMP_EXT) return this.#bad(`msgpack extension type ${type} is not supported`);
    let ms: number;
    if (len === 4) ms = this.#v.getUint32(at) * 1000;
    else if (len === 8) {
      const hi = this.#v.getUint32(at);
      const lo = this.#v.getUint32(at + 4);
      const nsec = hi >>> 2;
      const sec = (hi & 0x3) * 0x100000000 + lo;
      ms = sec * 1000 + Math.floor(nsec / 1e6);
    } else if (len === 12) {
      const nsec = this.#v.getUint32(at);
      const sec = Number(this.#v.getBigInt64(at + 4));
      ms = sec * 1000 + Math.floor(nsec / 1e6);
    } else return this.#bad(`msgpack timestamp of ${len} bytes is not valid`);
    const date = new Date(ms);
    // Past ±8.64e15 ms a Date is invalid: one would fail whoever encodes it again.
    if (Number.isNaN(date.getTime())) {
      return this.#bad(`msgpack timestamp ${ms} ms is out of range`);
    }
    return date;
  }

  #arr(len: number, depth: number): unknown[] {
    // Each item takes at least one byte: a larger count is a lie, refused before allocating.
    this.#need(len);
    const out = new Array(len);
    for (let i = 0; i < len; i++) out[i] = this.read(depth + 1);
    return out;
  }

  #map(len: number, depth: number): Record<string, unknown> | Malformed {
    this.#need(len * 2);
    const out: Record<string, unknown> = {};
    let bad: string | null = null;
    for (let i = 0; i < len; i++) {
      const at = this.pos;
      const key = this.read(depth + 1);
      const value = this.read(depth + 1);
      if (typeof key !== "string") {
        bad ??= `msgpack map key at offset ${at} is not a string`;
        if (!this.#lenient) throw new FrameError(bad);
        continue;
      }
      if (key === "__proto__") {
        Object.defineProperty(out, key, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else out[key] = value;
    }
    return bad === null ? out : new Malformed(bad);
  }

  /**
   * Moves past one value without building it, iteratively (no recursion, so no depth limit):
   * a count of values still to skip grows by each container's item count.
   */
  #skip(): void {
    let left = 1;
    while (left > 0) {
      left--;
      this.#need(1);
      const b = this.#b[this.pos++];
      if (b < 0x80 || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) continue;
      if (b >= 0xa0 && b < 0xc0) {
        this.#pass(b & 0x1f);
        continue;
      }
      if (b >= 0x90 && b < 0xa0) {
        left += this.#items(b & 0x0f);
        continue;
      }
      if (b >= 0x80 && b < 0x90) {
        left += this.#items(2 * (b & 0x0f));
        continue;
      }
      switch (b) {
        case 0xc4:
        case 0xd9:
          this.#pass(this.#u(1));
          break;
        case 0xc5:
        case 0xda:
          this.#pass(this.#u(2));
          break;
        case 0xc6:
        case 0xdb:
          this.#pass(this.#u(4));
          break;
        case 0xc7:
          this.#pass(1 + this.#u(1));
          break;
        case 0xc8:
          this.#pass(1 + this.#u(2));
          break;
        case 0xc9:
          this.#pass(1 + this.#u(4));
          break;
        case 0xcc:
        case 0xd0:
          this.#pass(1);
          break;
        case 0xcd:
        case 0xd1:
        case 0xd4:
          this.#pass(2);
          break;
        case 0xd5:
          this.#pass(3);
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          this.#pass(4);
          break;
        case 0xd6:
          this.#pass(5);
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          this.#pass(8);
          break;
        case 0xd7:
          this.#pass(9);
          break;
        case 0xd8:
          this.#pass(17);
          break;
        case 0xdc:
          left += this.#items(this.#u(2));
          break;
        case 0xdd:
          left += this.#items(this.#u(4));
          break;
        case 0xde:
          left += this.#items(2 * this.#u(2));
          break;
        case 0xdf:
          left += this.#items(2 * this.#u(4));
          break;
        default:
          throw new FrameError(
            `msgpack byte 0x${b.toString(16)} at offset ${this.pos - 1} is not valid`,
          );
      }
    }
  }

  #pass(n: number): void {
    this.#need(n);
    this.pos += n;
  }

  /** A container's item count, refused when the bytes left cannot hold that many. */
  #items(n: number): number {
    this.#need(n);
    return n;
  }
}
