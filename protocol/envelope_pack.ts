/**
 * The two hot envelope kinds as tuples, for links whose two ends run the same Kraken (a worker's
 * port, a process container's socket or pipes).
 *
 * A plain request (`req` with `i`, `s`, `to`, `t`, a body and at most `r`) and a reply (`res`)
 * travel as `[0, i, s, to, t, b]` (`[0, i, s, to, t, b, 1]` when retriable) and `[1, i, d, f, b]`.
 * Measured on 100-envelope batches: a structured clone of objects costs ~0.9 µs an envelope (its
 * six keys written, then looked up and transitioned on every arrival), of tuples with the object
 * rebuilt on arrival ~0.75 µs; msgpack encode + decode ~0.95 µs against ~0.75 µs (no keys to encode
 * or to decode as strings, one object literal built instead of a map grown key by key). Every other
 * envelope (and one of these kinds with any other field, or no body: a tuple would turn an absent
 * body into msgpack's nil) is left an object; a field this version does not know is not carried.
 *
 * Unpacking rebuilds the object and checks nothing else: what arrives from a child goes through the
 * edge check (`envelopeProblem`) like any envelope. An array that is not one of the two
 * tuples is left as it is, and a link refuses it as an item with no kind.
 *
 * @module
 */
import type { Envelope } from "./envelope.ts";

/** Tuple code of a request. */
const REQ = 0;
/** Tuple code of a reply. */
const RES = 1;

/** A packed request or reply, as {@linkcode packEnvelope} makes it. */
export type PackedEnvelope =
  | [0, number, string, string, string, unknown]
  | [0, number, string, string, string, unknown, 1]
  | [1, number, string, string, unknown];

/**
 * `env` as a tuple when it is a plain request or reply with a body, else `env` itself.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { packEnvelope, unpackEnvelope } from "./envelope_pack.ts";
 * const reply = { k: "res", i: 7, d: "host", f: "echo#0.1", b: { ok: true } } as const;
 * const packed = packEnvelope(reply);
 * assert.deepEqual(packed, [1, 7, "host", "echo#0.1", { ok: true }]);
 * assert.deepEqual(unpackEnvelope(packed), reply);
 * ```
 */
export function packEnvelope(env: Envelope): Envelope | PackedEnvelope {
  if (env.k === "res") {
    return env.b === undefined ? env : [RES, env.i, env.d, env.f, env.b];
  }
  if (
    env.k !== "req" || env.b === undefined || env.tc !== undefined || env.ts !== undefined ||
    env.tk !== undefined || env.e !== undefined || env.dl !== undefined
  ) return env;
  if (env.r === undefined) return [REQ, env.i, env.s, env.to, env.t, env.b];
  return env.r === 1 ? [REQ, env.i, env.s, env.to, env.t, env.b, 1] : env;
}

/**
 * The envelope a received item stands for: a request or reply rebuilt from its tuple, anything
 * else as it came (untrusted: only the shape is rebuilt, the fields are the edge check's).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unpackEnvelope } from "./envelope_pack.ts";
 * assert.deepEqual(unpackEnvelope([0, 1, "host", "echo#0.1", "echo", "hi"]), {
 *   k: "req", i: 1, s: "host", to: "echo#0.1", t: "echo", b: "hi",
 * });
 * assert.deepEqual(unpackEnvelope([9, 1]), [9, 1]); // no kind: the link refuses it
 * ```
 */
export function unpackEnvelope(item: unknown): unknown {
  if (!Array.isArray(item)) return item;
  const code = item[0];
  const length = item.length;
  if (code === RES && length === 5) {
    return { k: "res", i: item[1], d: item[2], f: item[3], b: item[4] };
  }
  if (code !== REQ || (length !== 6 && length !== 7)) return item;
  const env: Record<string, unknown> = {
    k: "req",
    i: item[1],
    s: item[2],
    to: item[3],
    t: item[4],
    b: item[5],
  };
  if (length === 7) env.r = item[6];
  return env;
}

/**
 * Replaces every tuple of `items` from index `first` by its envelope, in place.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unpackBatch } from "./envelope_pack.ts";
 * const items: unknown[] = [1, [1, 2, "host", "echo#0.1", null], { k: "stop" }];
 * unpackBatch(items, 1);
 * assert.deepEqual(items[1], { k: "res", i: 2, d: "host", f: "echo#0.1", b: null });
 * ```
 */
export function unpackBatch(items: unknown[], first = 0): void {
  for (let i = first; i < items.length; i++) {
    if (Array.isArray(items[i])) items[i] = unpackEnvelope(items[i]);
  }
}
