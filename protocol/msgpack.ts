/**
 * A small msgpack codec for the values in {@linkcode WireValue}, with no dependencies.
 *
 * Kraken writes its own so the worker and process bootstrap entries import no npm package (an npm
 * import costs a new isolate ~60 ms to resolve) and so decoding can enforce limits before it
 * allocates: a declared length larger than the bytes left is a {@linkcode FrameError}, not a 4 GiB
 * allocation. Interoperability with `@msgpack/msgpack` is pinned by the tests. The decoder lives in
 * `_msgpack_read.ts` and is re-exported here.
 *
 * @module
 */
import { FrameError } from "./errors.ts";
import { MAX_DEPTH, TIMESTAMP_EXT } from "./_msgpack_read.ts";

export {
  decodeLenient,
  decodeMsgpack,
  type DecodeOptions,
  Malformed,
  MAX_OBJECTS,
} from "./_msgpack_read.ts";

const textEncoder = new TextEncoder();

/** Encodes values into msgpack; one encoder reuses its buffer across calls. */
export class MsgpackEncoder {
  #buf = new Uint8Array(4096);
  #view = new DataView(this.#buf.buffer);
  #pos = 0;

  /**
   * Encodes one value.
   * @param value The value (an `undefined` map entry is left out; elsewhere it becomes nil).
   * @param room Zero bytes left after the value, for what the caller appends (a signature).
   * @returns A fresh byte array.
   */
  encode(value: unknown, room = 0): Uint8Array {
    this.#pos = 0;
    this.#write(value, 0);
    if (room === 0) return this.#buf.slice(0, this.#pos);
    const out = new Uint8Array(this.#pos + room);
    out.set(this.#buf.subarray(0, this.#pos));
    return out;
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
