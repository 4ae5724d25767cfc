/**
 * The values that may cross a container boundary, checked and copied in one pass.
 *
 * Every body and reply goes through {@linkcode copyWireValue} at the sender, whatever the mode, so
 * an inline container sees exactly what a worker or process container would: a deep copy with
 * msgpack's semantics (an `undefined` property is dropped, an `undefined` array item becomes
 * `null`). A bad value fails at the caller with a {@linkcode SerializationError} naming its path,
 * never later inside a batch where it would take other messages down with it.
 *
 * @module
 */
import { SerializationError } from "./errors.ts";

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

const MAX_DEPTH = 64;

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
  if (value instanceof Date) return new Date(value.getTime());
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
  if (value instanceof Date) return new Date(value.getTime());
  const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? "an object";
  throw new SerializationError(path, `a ${kind} instance`);
}
