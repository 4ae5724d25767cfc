/**
 * The decoding half of Kraken's msgpack codec (re-exported by `msgpack.ts`): limits are enforced
 * before anything is allocated, and in lenient mode what cannot be decoded is marked where it sits
 * ({@linkcode Malformed}) rather than failing everything around it.
 *
 * @module
 */
import { FrameError } from "./errors.ts";
import { asciiString, MAX_ASCII } from "./_msgpack_strings.ts";

/** Deepest nesting decoded at all (the encoder's limit too). */
export const MAX_DEPTH = 100;

/**
 * The most objects one decode may build (arrays and maps count 1; byte arrays, dates and parts
 * marked {@linkcode Malformed} count 3, as each costs about three times as much): what a value
 * may cost is bounded by its objects, not by its bytes — one byte is an empty map, about 64 bytes
 * of heap once built, so a 16 MiB frame of them would cost 1 GiB. With this budget a frame
 * builds at most ~64 MiB of objects, plus at most 8 bytes per byte of the frame for the values
 * in them (an array slot each). A batch of envelopes never comes near it (a frame of them is
 * about 1 MiB, each envelope a map of 10 bytes or more); a single message whose body holds more
 * than a million arrays and maps is refused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_OBJECTS } from "./_msgpack_read.ts";
 * assert.equal(MAX_OBJECTS, 1_048_576);
 * ```
 */
export const MAX_OBJECTS = 1_048_576;

/** What a byte array, a date or a marked part counts toward {@linkcode MAX_OBJECTS}. */
const HEAVY = 3;
/** msgpack's timestamp extension type. */
export const TIMESTAMP_EXT = -1;
const textDecoder = new TextDecoder("utf-8", { fatal: true });

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
  /** The most objects the value may build (default {@linkcode MAX_OBJECTS}). */
  maxObjects?: number;
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
 * @throws {FrameError} On malformed input, trailing bytes, nesting deeper than 100 levels (with
 *   `lenient`, only where the extent of the bad part cannot be known), or a value that would build
 *   more objects than `maxObjects` (lenient or not).
 */
export function decodeMsgpack(bytes: Uint8Array, options: DecodeOptions = {}): unknown {
  if (options.lenient) return decodeLenient(bytes, MAX_DEPTH + 1, options.maxObjects).value;
  const reader = new Reader(bytes, false, MAX_DEPTH + 1, options.maxObjects ?? MAX_OBJECTS);
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
 * @param maxObjects The most objects the value may build (default {@linkcode MAX_OBJECTS}).
 * @returns The value, and the number of parts marked.
 * @throws {FrameError} Where the extent of a bad part cannot be known, on trailing bytes, or when
 *   the value would build more than `maxObjects` objects (refused whole: nothing of it is kept).
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
  maxObjects: number = MAX_OBJECTS,
): { value: unknown; marked: number } {
  const reader = new Reader(bytes, true, Math.min(depth, MAX_DEPTH + 1), maxObjects);
  const value = reader.read(0);
  if (reader.pos !== bytes.length) {
    throw new FrameError(`msgpack value ends at byte ${reader.pos} of ${bytes.length}`);
  }
  return { value, marked: reader.marked };
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
  /** Objects this value may still build ({@linkcode MAX_OBJECTS}). */
  #budget: number;
  readonly #maxObjects: number;
  constructor(b: Uint8Array, lenient: boolean, deep: number, maxObjects: number) {
    this.#b = b;
    this.#v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.#lenient = lenient;
    this.#deep = deep;
    this.#budget = this.#maxObjects = maxObjects;
  }

  /** Takes `cost` from the budget before an object is built; refuses the value past it. */
  #spend(cost: number): void {
    this.#budget -= cost;
    if (this.#budget < 0) {
      throw new FrameError(
        `msgpack value builds more than ${this.#maxObjects} objects (arrays and maps; byte arrays, dates and undecodable parts count ${HEAVY}): refused whole, past offset ${this.pos}`,
      );
    }
  }

  /** A bad part: marked when lenient (its bytes are already consumed), else the whole fails. */
  #bad(reason: string, tooDeep = false): Malformed {
    if (!this.#lenient) throw new FrameError(reason);
    this.#spend(HEAVY);
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
    this.#spend(HEAVY);
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
    this.#spend(HEAVY);
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
    this.#spend(1);
    const out = new Array(len);
    for (let i = 0; i < len; i++) out[i] = this.read(depth + 1);
    return out;
  }

  #map(len: number, depth: number): Record<string, unknown> | Malformed {
    this.#need(len * 2);
    this.#spend(1);
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
    if (bad === null) return out;
    // Counted like every marked part: a value holding one is never taken for checked.
    this.#spend(HEAVY);
    this.marked++;
    return new Malformed(bad);
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
