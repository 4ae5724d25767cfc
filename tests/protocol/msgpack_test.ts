// The msgpack codec, pinned against @msgpack/msgpack, and its hostile-input limits.
import assert from "node:assert/strict";
import { decode, encode } from "@msgpack/msgpack";
import { FrameError } from "../../mod.ts";
import {
  decodeLenient,
  decodeMsgpack,
  Malformed,
  MAX_OBJECTS,
  MsgpackEncoder,
} from "../../protocol/msgpack.ts";
import { FrameDecoder } from "../../protocol/framing.ts";

const samples: unknown[] = [
  null,
  true,
  false,
  0,
  127,
  128,
  255,
  256,
  65535,
  65536,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53 - 1,
  -1,
  -32,
  -33,
  -128,
  -129,
  -32768,
  -32769,
  -(2 ** 31),
  -(2 ** 31) - 1,
  -(2 ** 53) + 1,
  1.5,
  -0.25,
  1e300,
  "",
  "a",
  "x".repeat(31),
  "x".repeat(32),
  "é".repeat(100),
  "🐙".repeat(20_000),
  new Uint8Array([]),
  new Uint8Array(300).fill(7),
  new Uint8Array(70_000).fill(9),
  [],
  [1, [2, [3]]],
  new Array(20).fill("a"),
  new Array(70_000).fill(1),
  {},
  { a: 1, b: { c: [true, null] } },
  Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
  new Date(0),
  new Date(1_700_000_000_123),
  new Date(-1_000),
];

Deno.test("msgpack: our encoding decodes with @msgpack/msgpack, and theirs with ours", () => {
  const ours = new MsgpackEncoder();
  for (const value of samples) {
    assert.deepEqual(
      decode(ours.encode(value)),
      value,
      `ours → theirs: ${String(value).slice(0, 40)}`,
    );
    assert.deepEqual(
      decodeMsgpack(encode(value)),
      value,
      `theirs → ours: ${String(value).slice(0, 40)}`,
    );
  }
});

Deno.test("msgpack: an undefined map entry is left out, an undefined array item is nil", () => {
  const bytes = new MsgpackEncoder().encode({ a: undefined, b: [undefined] });
  assert.deepEqual(decodeMsgpack(bytes), { b: [null] });
});

Deno.test("msgpack: a __proto__ key stays data and never changes the prototype", () => {
  const value = decodeMsgpack(encode(JSON.parse('{"__proto__": {"polluted": true}}'))) as Record<
    string,
    unknown
  >;
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  assert.deepEqual(Object.keys(value), ["__proto__"]);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("msgpack: lying lengths, bad bytes and deep nesting are FrameErrors, never allocations", () => {
  const cases: [string, number[]][] = [
    ["array32 claiming 4 billion items", [0xdd, 0xff, 0xff, 0xff, 0xff]],
    ["map32 claiming 4 billion pairs", [0xdf, 0xff, 0xff, 0xff, 0xff]],
    ["str32 longer than the input", [0xdb, 0x7f, 0xff, 0xff, 0xff, 0x61]],
    ["bin32 longer than the input", [0xc6, 0x00, 0x10, 0x00, 0x00]],
    ["reserved byte 0xc1", [0xc1]],
    ["truncated float64", [0xcb, 0, 0]],
    ["unknown extension", [0xd4, 0x05, 0x00]],
    ["invalid UTF-8", [0xa2, 0xff, 0xfe]],
    ["non-string map key", [0x81, 0x01, 0x02]],
    ["trailing bytes", [0x01, 0x02]],
    ["empty input", []],
  ];
  for (const [name, bytes] of cases) {
    assert.throws(() => decodeMsgpack(new Uint8Array(bytes)), FrameError, name);
  }
  const deep = new Uint8Array(1000).fill(0x91);
  assert.throws(() => decodeMsgpack(deep), /nested deeper/);
});

/** `[{}, {}, …]`: `n` empty maps, one byte each. */
function emptyMaps(n: number): Uint8Array {
  const bytes = new Uint8Array(5 + n).fill(0x80);
  bytes[0] = 0xdd;
  new DataView(bytes.buffer).setUint32(1, n);
  return bytes;
}

Deno.test("msgpack: a value that would build more than MAX_OBJECTS objects is refused whole, lenient or not", () => {
  // One byte per empty map: a million of them would cost ~64 MiB of heap from 1 MiB of input.
  assert.equal((decodeMsgpack(emptyMaps(MAX_OBJECTS - 1)) as unknown[]).length, MAX_OBJECTS - 1);
  const over = emptyMaps(MAX_OBJECTS);
  const message =
    /^msgpack value builds more than 1048576 objects \(arrays and maps; byte arrays, dates and undecodable parts count 3\): refused whole/;
  assert.throws(() => decodeMsgpack(over), { name: "FrameError", message });
  assert.throws(() => decodeLenient(over), { name: "FrameError", message });
  // Byte arrays, dates and marked parts count three each; scalars nothing.
  const bins = new Uint8Array([0x94, 0xc4, 0, 0xc4, 0, 0xd4, 5, 0, 0xc0]);
  assert.throws(() => decodeLenient(bins, undefined, 9), FrameError);
  assert.equal(decodeLenient(bins, undefined, 10).marked, 1);
  assert.deepEqual(decodeMsgpack(new Uint8Array([0x93, 1, 2, 3]), { maxObjects: 1 }), [1, 2, 3]);
});

Deno.test("msgpack: a map whose key is not a string is marked, so a value holding one is never taken for checked", () => {
  const { value, marked } = decodeLenient(new Uint8Array([0x92, 0x01, 0x81, 0x01, 0x02]));
  assert.ok((value as unknown[])[1] instanceof Malformed);
  assert.equal(marked, 1);
});

Deno.test("framing: frames split anywhere are reassembled; oversize prefixes are refused", () => {
  const enc = new MsgpackEncoder();
  const frames = [
    enc.encodeFrame([1, "a"]),
    enc.encodeFrame({ big: "x".repeat(5000) }),
    enc.encodeFrame(null),
  ];
  const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    stream.set(f, at);
    at += f.length;
  }
  for (const step of [1, 3, 7, 100, stream.length]) {
    const decoder = new FrameDecoder();
    const out: unknown[] = [];
    for (let i = 0; i < stream.length; i += step) {
      for (const payload of decoder.push(stream.subarray(i, i + step))) {
        out.push(decodeMsgpack(payload));
      }
    }
    assert.deepEqual(out, [[1, "a"], { big: "x".repeat(5000) }, null], `chunks of ${step}`);
    assert.equal(decoder.buffered, 0);
  }
  const small = new FrameDecoder(1024);
  assert.throws(
    () => small.push(new Uint8Array([0xff, 0xff, 0xff, 0xff])),
    /4294967295 bytes exceeds the maximum of 1024/,
  );
});

Deno.test("msgpack: the short-string cache never confuses strings whose hashes collide, nor grows without bound", () => {
  const enc = new MsgpackEncoder();
  // "Aa" and "BB" hash alike (31·65+97 = 31·66+66): each must come back as itself, many times.
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(decodeMsgpack(enc.encode(["Aa", "BB", "Aa", "BB"])), ["Aa", "BB", "Aa", "BB"]);
  }
  // 20,000 distinct short strings (more than the cache holds), then the first again.
  const many = Array.from({ length: 20_000 }, (_, i) => `k${i}`);
  assert.deepEqual(decodeMsgpack(enc.encode(many)), many);
  assert.equal(decodeMsgpack(enc.encode("k0")), "k0");
  // ASCII up to the fast path's limit, past it, and non-ASCII at every length class.
  for (const s of ["x".repeat(200), "x".repeat(201), "é", "日本語のトピック", "ü".repeat(150)]) {
    assert.equal(decodeMsgpack(enc.encode(s)), s);
  }
});

Deno.test("msgpack: maps of every header width (15, 16, 65,535 and 65,536 entries, nested) decode with @msgpack/msgpack", () => {
  const enc = new MsgpackEncoder();
  for (const n of [15, 16, 0xffff, 0x10000]) {
    const map = Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    const value = { outer: map, after: "tail", list: [map, 1] };
    const bytes = enc.encode(value);
    assert.deepEqual(decode(bytes), value, `${n} entries, theirs`);
    assert.deepEqual(decodeMsgpack(bytes), value, `${n} entries, ours`);
  }
});

Deno.test("msgpack: a number written as the encoder's buffer grows lands in the new buffer", () => {
  // The first buffer holds 4 KiB: one-byte items walk the position across that edge so that every
  // width of number (uint16/32/64, int8/16/32, float64) is written exactly where it has to grow.
  const numbers = [1000, 70_000, 2 ** 40, -100, -1000, -70_000, 1.5];
  for (let k = 4070; k < 4100; k++) {
    for (const n of numbers) {
      const value = [...new Array(k).fill(1), n, n];
      assert.deepEqual(decode(new MsgpackEncoder().encode(value)), value, `${k} items, then ${n}`);
    }
  }
});
