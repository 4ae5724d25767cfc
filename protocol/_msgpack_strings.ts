/**
 * Short strings for the msgpack decoder (`_msgpack_read.ts`), decoded without `TextDecoder`.
 *
 * @module
 */

// Decoding strings dominates reading an envelope: keys, kinds, ids and topics are short ASCII
// strings that repeat in every message. TextDecoder costs ~280 ns a call here; short ones are
// looked up in a small cache (no allocation), longer ASCII ones are built from char codes.
/**
 * Longest string decoded without TextDecoder when it is ASCII.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_ASCII } from "./_msgpack_strings.ts";
 * assert.equal(MAX_ASCII, 200);
 * ```
 */
export const MAX_ASCII = 200;
/** Longest string kept in the cache. */
const MAX_CACHED = 24;
/** Cache bound: a stream of distinct strings (hostile or not) clears it rather than growing it. */
const CACHE_LIMIT = 4096;
const cache = new Map<number, { bytes: Uint8Array; s: string }>();
// One reusable array of char codes per length (String.fromCharCode.apply needs exact length).
const codes: number[][] = Array.from({ length: MAX_ASCII + 1 }, (_, n) => new Array(n).fill(0));

/**
 * The ASCII string at `b[at, at+len)`, or `null` if a byte is not ASCII.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { asciiString } from "./_msgpack_strings.ts";
 * assert.equal(asciiString(new Uint8Array([0x61, 0x62, 0x63]), 1, 2), "bc");
 * assert.equal(asciiString(new Uint8Array([0xc3, 0xa9]), 0, 2), null);
 * ```
 */
export function asciiString(b: Uint8Array, at: number, len: number): string | null {
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
