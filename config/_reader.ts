/**
 * What every block of the validator reads with: the failure that names the key path (and, through
 * `locate`, the line), a block's fixed keys with "it belongs there" hints, `${VAR}` expansion, and
 * the scalar values (durations, sizes, whole numbers, names, URLs).
 *
 * @module
 */
import { TopologyError } from "../protocol/errors.ts";
import { parseDuration } from "./duration.ts";
import { didYouMean } from "./_suggest.ts";
import { PERMISSION_KINDS } from "./permissions.ts";
import {
  MAX_BUFFER,
  MAX_MAX_MEMORY,
  MAX_REPLICAS,
  MIN_MAX_MEMORY,
  VALUE_ALIASES,
} from "./_limits.ts";
import { formatKeyPath, TOPOLOGY_KEYS, TOPOLOGY_PATTERNS, type TopologyBlock } from "./_shape.ts";
import { describe, describeKind, describeSecret, isMap } from "./_describe.ts";
import type { ValidateOptions } from "./model.ts";

/** Byte multipliers of the size units. */
const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
const SIZE = new RegExp(TOPOLOGY_PATTERNS.size);
const URL_SCHEME = new RegExp(TOPOLOGY_PATTERNS.url);
const VARIABLE = new RegExp(TOPOLOGY_PATTERNS.variable, "g");
/** A container, host or runtime name. */
export const NAME: RegExp = new RegExp(TOPOLOGY_PATTERNS.name);
/** {@linkcode NAME} in words, for messages. */
export const NAME_RULE = `a letter, then letters, digits, "_" or "-"`;

/** Where a key belongs, for "unknown key here, it goes there" hints. */
const BLOCK_PLACES: Record<TopologyBlock | "permissions", string> = {
  topology: "at the top level",
  supervisor: "under supervisor:",
  backoff: "under supervisor.backoff:",
  container: "in a container",
  serve: "under a container's serve:",
  entities: "under a container's entities:",
  rule: "in an on_error: rule",
  transports: "under transports:",
  tls: "under transports.tls:",
  nats: "under transports.nats:",
  management: "under management:",
  host: "in a hosts: entry",
  leadership: "under leadership:",
  schedule: "in a schedule: entry",
  permissions: "under permissions:",
};

/** Keys other tools use, with what to write here instead. */
const KEY_HINTS: Partial<Record<TopologyBlock, Record<string, string>>> = {
  management: Object.fromEntries(
    ["port", "host", "address", "bind", "hostname"].map((key) => [
      key,
      " (the address goes in listen:, e.g. listen: 127.0.0.1:9090)",
    ]),
  ),
  container: Object.fromEntries(
    ["instances", "count", "scale"].map((key) => [key, ' (did you mean "replicas"?)']),
  ),
  serve: Object.fromEntries(
    ["host", "address", "bind", "listen", "interface"].map((key) => [
      key,
      ' (did you mean "hostname"?)',
    ]),
  ),
};

/** Where a value sits in the input: keys and list indexes from the top. */
export type Path = (string | number)[];

/**
 * The reading half of one validation: it fails at the first problem with a
 * {@linkcode TopologyError} naming the key path, and reads blocks and scalar values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Reader } from "./_reader.ts";
 * const read = new Reader({ baseUrl: "file:///app/" });
 * assert.equal(read.duration("5s", ["shutdown"], 0), 5000);
 * assert.throws(() => read.integer("x", ["buffer"], 0, 0), /expected a whole number >= 0/);
 * ```
 */
export class Reader {
  /** What this validation was given: where modules resolve, how to read `${VAR}`, and lines. */
  readonly options: ValidateOptions;
  constructor(options: ValidateOptions) {
    this.options = options;
  }

  /** Throws the {@linkcode TopologyError} of a problem at `path`, in the value or its key. */
  fail(path: Path, message: string, target: "key" | "value" = "value"): never {
    throw this.error(path, message, target);
  }

  /** The error {@linkcode Reader.fail} throws, not thrown. */
  error(path: Path, message: string, target: "key" | "value" = "value"): TopologyError {
    const at = this.options.locate?.(path, target);
    return new TopologyError(message, {
      file: this.options.file,
      line: at?.line,
      column: at?.column,
      key: formatKeyPath(path),
    });
  }

  /**
   * Problems that do not stop the topology from running, only what needs the key: an unset
   * variable in `management.token` (a runtime runs without serving its management API; serving it
   * then fails with this error).
   */
  readonly deferred: Map<string, TopologyError> = new Map();

  /** A block with a fixed set of keys. */
  block(value: unknown, path: Path, block: TopologyBlock): Record<string, unknown> {
    const keys: readonly string[] = TOPOLOGY_KEYS[block];
    if (!isMap(value)) {
      // The whole document (at the top) is never quoted: it may be a file that is no topology.
      const got = path.length === 0 ? describeKind(value) : describe(value);
      this.fail(path, `expected a map with keys ${keys.join(", ")}, got ${got}`);
    }
    for (const key of Object.keys(value)) {
      if (keys.includes(key)) continue;
      const places = (Object.keys(BLOCK_PLACES) as (keyof typeof BLOCK_PLACES)[])
        .filter((b) =>
          b !== block &&
          (b === "permissions" ? PERMISSION_KINDS : TOPOLOGY_KEYS[b] as readonly string[])
            .includes(key)
        )
        .map((b) => BLOCK_PLACES[b]);
      const hint = KEY_HINTS[block]?.[key] ??
        (places.length > 0 ? ` here (it belongs ${places.join(" or ")})` : didYouMean(key, keys));
      this.fail(
        [...path, key],
        `unknown key "${key}"${hint}; expected one of ${keys.join(", ")}`,
        "key",
      );
    }
    return value;
  }

  /** A map whose keys are names the user chose: containers, children, hosts. */
  named(value: unknown, path: Path, what: string): Record<string, unknown> {
    if (!isMap(value)) this.fail(path, `expected a map of ${what}, got ${describe(value)}`);
    return value;
  }

  /** `${VAR}` is replaced in every string of the input, `config:` blocks included, once. */
  expandAll(value: unknown, path: Path): unknown {
    if (typeof value === "string") {
      return value.replace(VARIABLE, (ref: string) => {
        const name = ref.slice(2, -1);
        const found = this.options.env?.(name);
        if (found === undefined) {
          const error = this.error(path, `environment variable ${ref} is not set`);
          if (formatKeyPath(path) !== "management.token") throw error;
          this.deferred.set("management.token", error);
          return "";
        }
        return found;
      });
    }
    if (Array.isArray(value)) return value.map((item, i) => this.expandAll(item, [...path, i]));
    if (isMap(value)) {
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, this.expandAll(v, [...path, k])]),
      );
    }
    return value;
  }

  /**
   * `${VAR}` in a container spec given in code (`rt.spawn`, `ctx.spawn`): every key but `config`,
   * which is the caller's own data and may hold `${…}` meant for something else.
   */
  expandSpec(value: unknown, path: Path): unknown {
    if (!isMap(value)) return this.expandAll(value, path);
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        k === "config" ? v : k === "children" && isMap(v)
          ? Object.fromEntries(
            Object.entries(v).map(([n, c]) => [n, this.expandSpec(c, [...path, k, n])]),
          )
          : this.expandAll(v, [...path, k]),
      ]),
    );
  }

  /** One of `allowed`, `fallback` when absent; a near miss or a known alias is suggested. */
  oneOf<T extends string>(value: unknown, path: Path, allowed: readonly T[], fallback: T): T {
    if (value === undefined) return fallback;
    if (typeof value !== "string" || !allowed.includes(value as T)) {
      const alias = typeof value === "string" ? VALUE_ALIASES[value.toLowerCase()] : undefined;
      const hint = alias !== undefined && (allowed as readonly string[]).includes(alias)
        ? ` (did you mean "${alias}"?)`
        : typeof value === "string"
        ? didYouMean(value, allowed)
        : "";
      this.fail(path, `expected one of ${allowed.join(", ")}, got ${describe(value)}${hint}`);
    }
    return value as T;
  }

  /** A duration in milliseconds (`250ms`, `5s`, `2m`, or a number), `fallback` when absent. */
  duration(value: unknown, path: Path, fallback: number): number {
    if (value === undefined) return fallback;
    const ms = parseDuration(value);
    if (ms === undefined) {
      this.fail(
        path,
        `expected a duration such as 250ms, 5s or 2m (or a number of milliseconds), got ${
          describe(value)
        }`,
      );
    }
    return ms;
  }

  /** A size in bytes: a whole number, or one with a unit (`64KiB`, `16MiB`, `1GiB`, `512B`). */
  size(value: unknown, path: Path, fallback: number): number {
    if (value === undefined) return fallback;
    const m = typeof value === "number"
      ? [String(value), String(value), ""]
      : typeof value === "string"
      ? SIZE.exec(value)
      : null;
    const n = m ? Number(m[1]) * (UNITS[m[2] || "B"] ?? NaN) : NaN;
    if (!Number.isSafeInteger(n) || n < 1024 || n > 2 ** 31) {
      this.fail(
        path,
        `expected a size from 1KiB to 2GiB such as 65536, 64KiB or 16MiB, got ${describe(value)}`,
      );
    }
    return n;
  }

  /** Messages held while restarting: a whole number from 0 to `MAX_BUFFER`. */
  buffer(value: unknown, path: Path, fallback: number): number {
    const n = this.integer(value, path, fallback, 0);
    if (n > MAX_BUFFER) {
      this.fail(path, `expected at most ${MAX_BUFFER} messages held per sender, got ${n}`);
    }
    return n;
  }

  /**
   * `max_memory:` as `{ maxMemory }` (bytes, or with a unit), or `{}` when absent. Only a worker
   * or a process (or a remote container, which runs as one) has memory of its own to measure.
   */
  maxMemory(value: unknown, mode: string, path: Path): { maxMemory?: number } {
    if (value === undefined) return {};
    if (mode === "inline") {
      this.fail(
        path,
        "expected max_memory only on a worker, process or remote container: an inline container shares the runtime's isolate, whose memory is not its own",
      );
    }
    const m = typeof value === "number"
      ? [String(value), String(value), ""]
      : typeof value === "string"
      ? SIZE.exec(value)
      : null;
    const n = m ? Number(m[1]) * (UNITS[m[2] || "B"] ?? NaN) : NaN;
    if (!Number.isSafeInteger(n) || n < MIN_MAX_MEMORY || n > MAX_MAX_MEMORY) {
      // PM2 and Docker spell sizes 256M or 256MB: say which unit is meant.
      const loose = typeof value === "string" && /^\s*\d+\s*([KMG])B?\s*$/i.exec(value);
      this.fail(
        path,
        `expected a size from 1MiB to 1024GiB such as 268435456, 256MiB or 1GiB, got ${
          describe(value)
        }${loose ? ` (did you mean ${value.trim().replace(/B?\s*$/i, "").toUpperCase()}iB?)` : ""}`,
      );
    }
    return { maxMemory: n };
  }

  /** A whole number; a string of digits counts (it may come from `${VAR}`). */
  integer(value: unknown, path: Path, fallback: number, min: number): number {
    if (value === undefined) return fallback;
    const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < min) {
      this.fail(path, `expected a whole number >= ${min}, got ${describe(value)}`);
    }
    return n;
  }

  /** A number of replicas: a whole number from 0 to {@linkcode MAX_REPLICAS}. */
  replicas(value: unknown, path: Path, fallback: number): number {
    const n = this.integer(value, path, fallback, 0);
    if (n > MAX_REPLICAS) {
      this.fail(
        path,
        `expected at most ${MAX_REPLICAS} replicas (each is a worker thread or a process), got ${n}`,
      );
    }
    return n;
  }

  /** A non-empty string. */
  string(value: unknown, path: Path, what: string): string {
    if (typeof value !== "string" || value === "") {
      this.fail(path, `expected ${what}, got ${describe(value)}`);
    }
    return value;
  }

  /**
   * A block holding a secret, given a plain value instead of a map (`management: ${KRAKEN_TOKEN}`):
   * refused without echoing what may be the secret itself.
   */
  notSecret(value: unknown, path: Path, block: TopologyBlock): void {
    if (!isMap(value)) {
      this.fail(
        path,
        `expected a map with keys ${TOPOLOGY_KEYS[block].join(", ")}, got ${describeSecret(value)}`,
      );
    }
  }

  /** A required key that is absent: the message says what it should hold. */
  missing(path: Path, expected: string): never {
    this.fail(path, `missing; expected ${expected}`);
  }

  /** A URL with a scheme (`tcp://…`); `example` shows one in the message. */
  url(value: unknown, path: Path, example: string): string {
    if (typeof value !== "string" || !URL_SCHEME.test(value)) {
      this.fail(path, `expected a URL such as ${example}, got ${describe(value)}`);
    }
    return value;
  }
}
