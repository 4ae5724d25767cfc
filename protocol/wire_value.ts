/**
 * The values that may cross a container boundary: one rule, applied on both sides.
 *
 * Every body and reply goes through {@linkcode copyWireValue} at the sender, whatever the mode, so
 * an inline container sees exactly what a worker or process container would: a deep copy with
 * msgpack's semantics (an `undefined` property is dropped, an `undefined` array item becomes
 * `null`). A bad value fails at the caller with a {@linkcode SerializationError} naming its path,
 * never later inside a batch where it would take other messages down with it.
 *
 * What arrives from outside an isolate (a peer runtime, NATS, a worker's or process's link) is
 * checked against the same rule by {@linkcode wireValueProblem}: whatever a sender's copy accepts,
 * a receiver accepts, and the other way round — so a body that got in can always be relayed,
 * echoed or forwarded, and a container never fails on one that should have been refused at the
 * edge. The rule: `null`, booleans, numbers, strings, `Uint8Array`, valid `Date`s, arrays and
 * plain objects, nested at most {@linkcode MAX_WIRE_DEPTH} levels, as a tree (what arrives by
 * structured clone may share or cycle; a copy never does).
 *
 * @module
 */
import { SerializationError } from "./errors.ts";
import { Malformed } from "./msgpack.ts";

/** A value that can cross a container boundary. */
export type WireValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | Date
  | WireValue[]
  | { [key: string]: WireValue };

/**
 * How deep a wire value may nest: arrays, objects, byte arrays and dates may sit at depths 0 to
 * `MAX_WIRE_DEPTH - 1` (the value itself is at depth 0). The same for senders and receivers.
 */
export const MAX_WIRE_DEPTH = 64;
const MAX_DEPTH = MAX_WIRE_DEPTH;

/**
 * Deep-copies `value`, throwing {@linkcode SerializationError} on anything msgpack cannot carry.
 *
 * @param value The body or reply.
 * @param path How to name the value in an error, e.g. `body`.
 * @returns A copy, or `undefined` for `undefined`.
 */
export function copyWireValue(value: unknown, path: string): unknown {
  try {
    return fastCopy(value, 0);
  } catch (error) {
    if (error !== REFUSED) throw error;
    return copy(value, path, 0); // again, naming paths, to throw the precise error
  }
}

/** Thrown by {@linkcode fastCopy} for anything it refuses; the slow copy then says why. */
const REFUSED = Symbol("refused");

// Every message's body goes through here: this pass builds no path strings (one per property
// would be most of its cost); only a refused value is copied again by `copy`, which names paths.
function fastCopy(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
    case "undefined":
      return value;
    case "object":
      break;
    default:
      throw REFUSED;
  }
  if (value === null) return null;
  if (depth >= MAX_DEPTH) throw REFUSED;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = fastCopy(value[i], depth + 1);
      out[i] = item === undefined ? null : item;
    }
    return out;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = {};
    for (const key in value) {
      const item = fastCopy((value as Record<string, unknown>)[key], depth + 1);
      if (item === undefined) continue;
      if (key === "__proto__") throw REFUSED; // rare: the slow copy handles it
      out[key] = item;
    }
    return out;
  }
  if (value instanceof Uint8Array) return value.slice();
  if (value instanceof Date && !Number.isNaN(value.getTime())) return new Date(value.getTime());
  throw REFUSED;
}

function copy(value: unknown, path: string, depth: number): unknown {
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
    case "undefined":
      return value;
    case "object":
      break;
    case "bigint":
      throw new SerializationError(path, "a bigint");
    case "function":
      throw new SerializationError(path, "a function");
    default:
      throw new SerializationError(path, `a ${typeof value}`);
  }
  if (value === null) return null;
  if (depth >= MAX_DEPTH) {
    throw new SerializationError(path, `nested deeper than ${MAX_DEPTH} levels`);
  }
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = copy(value[i], `${path}[${i}]`, depth + 1);
      out[i] = item === undefined ? null : item;
    }
    return out;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = {};
    for (const key in value) {
      const item = copy((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1);
      if (item === undefined) continue;
      if (key === "__proto__") {
        Object.defineProperty(out, key, {
          value: item,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else out[key] = item;
    }
    return out;
  }
  if (value instanceof Uint8Array) return value.slice();
  if (value instanceof Date) {
    // msgpack's timestamps carry a time; an invalid Date has none.
    if (Number.isNaN(value.getTime())) throw new SerializationError(path, "an invalid Date");
    return new Date(value.getTime());
  }
  throw new SerializationError(path, instanceOf(value));
}

function instanceOf(value: object): string {
  const kind = (value as { constructor?: { name?: string } }).constructor?.name;
  return kind ? `a ${kind} instance` : "an object with a prototype";
}

/**
 * What makes `value` something {@linkcode copyWireValue} would never have produced, or `null`
 * when it may cross: the receiving side of the rule. It walks the value without copying it.
 *
 * @param value A body (or other plain data) that arrived from outside this isolate.
 * @param path How to name the value in the answer, e.g. `b`.
 * @returns `null`, or what is wrong and where, e.g. `b.list[3] is a bigint`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wireValueProblem } from "./wire_value.ts";
 * assert.equal(wireValueProblem({ a: [1, "x", null] }, "b"), null);
 * assert.equal(wireValueProblem({ a: [1, 2n] }, "b"), "b.a[1] is a bigint");
 * ```
 */
export function wireValueProblem(
  value: unknown,
  path: string,
  options: WireCheckOptions = {},
): string | null {
  // A fast pass that builds no path strings; only a refused value is walked again, naming it.
  if (options.tree) {
    if (fastCheck(value, 0, null)) return null;
  } else {
    // A fresh set now and then (see `seen`).
    if (++seenUses >= RENEW_SEEN_EVERY) {
      seenUses = 0;
      seen = new Set();
    }
    try {
      if (fastCheck(value, 0, seen)) return null;
    } finally {
      seen.clear();
    }
  }
  return check(value, path, 0, new Set()) ?? `${path} cannot cross a container boundary`;
}

/** Options of {@linkcode wireValueProblem}. */
export interface WireCheckOptions {
  /**
   * The value is known to be a tree (it was decoded from bytes, which cannot share or cycle):
   * references need not be tracked, which halves the cost of the check.
   */
  tree?: boolean;
}

/**
 * Objects met in the current fast check (reused: the walk is synchronous), replaced by a fresh set
 * every {@linkcode RENEW_SEEN_EVERY} checks: V8 allocates the table a `clear()` makes in the
 * generation of the one it drops, so once the set's table has been promoted, each check would
 * leave an old-space table holding the checked body's objects alive through the next scavenge
 * (nepotism: measured as most of what survived the host's scavenges under load).
 */
let seen = new Set<object>();
let seenUses = 0;
/** Checks after which {@linkcode seen} is replaced. */
const RENEW_SEEN_EVERY = 4096;

/**
 * Whether `value` is a wire value, building no path strings. With `met`, every object is
 * remembered so a shared or cyclic reference fails; without it (a value known to be a tree,
 * decoded from bytes) nothing is tracked, which halves the cost.
 */
function fastCheck(value: unknown, depth: number, met: Set<object> | null): boolean {
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
    case "undefined":
      return true;
    case "object":
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth >= MAX_DEPTH) return false;
  if (met !== null) {
    if (met.has(value)) return false;
    met.add(value);
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!fastCheck(value[i], depth + 1, met)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    for (const key in value) {
      if (!fastCheck((value as Record<string, unknown>)[key], depth + 1, met)) return false;
    }
    return true;
  }
  if (value instanceof Uint8Array) return true;
  return value instanceof Date && !Number.isNaN(value.getTime());
}

function check(value: unknown, path: string, depth: number, met: Set<object>): string | null {
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
    case "undefined":
      return null;
    case "object":
      break;
    default:
      return `${path} is a ${typeof value}`;
  }
  if (value === null) return null;
  if (value instanceof Malformed) {
    // Skipped by a decoder that enforces this rule's depth: said as the walk below would say it.
    return value.tooDeep
      ? `${path} is nested deeper than ${MAX_DEPTH} levels`
      : `${path} is not valid msgpack (${value.reason})`;
  }
  if (depth >= MAX_DEPTH) return `${path} is nested deeper than ${MAX_DEPTH} levels`;
  if (met.has(value)) return `${path} refers again to a value met before (not a tree)`;
  met.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = check(value[i], `${path}[${i}]`, depth + 1, met);
      if (problem !== null) return problem;
    }
    return null;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    for (const key in value) {
      const item = (value as Record<string, unknown>)[key];
      const problem = check(item, `${path}.${key}`, depth + 1, met);
      if (problem !== null) return problem;
    }
    return null;
  }
  if (value instanceof Uint8Array) return null;
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? `${path} is an invalid Date` : null;
  }
  return `${path} is ${instanceOf(value)}`;
}

/**
 * About how many bytes a wire value holds in memory: what a store of values (replies kept for
 * retried requests) counts against its byte budget. Strings count their length, byte arrays theirs
 * plus their object, every other value or slot 8 bytes, every array, object and date a little
 * more; the value is walked once (it is a tree: wire values are copies).
 *
 * @param value A wire value (a copy made by {@linkcode copyWireValue}, or a decoded body).
 * @returns The estimate, bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wireSize } from "./wire_value.ts";
 * assert.ok(wireSize(new Uint8Array(512 * 1024)) > 512 * 1024);
 * assert.ok(wireSize({ rows: ["a".repeat(1000), "b".repeat(1000)] }) > 2000);
 * assert.equal(wireSize(null), 8);
 * ```
 */
export function wireSize(value: unknown): number {
  switch (typeof value) {
    case "string":
      return 16 + value.length;
    case "object":
      break;
    default:
      return 8;
  }
  if (value === null) return 8;
  if (Array.isArray(value)) {
    let size = 32;
    for (let i = 0; i < value.length; i++) size += 8 + wireSize(value[i]);
    return size;
  }
  if (value instanceof Uint8Array) return 96 + value.byteLength;
  if (value instanceof Date) return 48;
  let size = 48;
  for (const key in value as Record<string, unknown>) {
    size += 24 + key.length + wireSize((value as Record<string, unknown>)[key]);
  }
  return size;
}
