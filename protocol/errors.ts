/**
 * The typed errors Kraken throws, and their wire form.
 *
 * Every class sets `this.name` to its own name so `err.name` survives `instanceof`-free checks
 * and crossing a container boundary. Messages name what was wrong, the bad value and what was
 * expected.
 *
 * @module
 */

/**
 * A topology (YAML file or object) is invalid: names the file, line, column and key.
 *
 * @example Catching a bad topology
 * ```ts
 * import assert from "node:assert/strict";
 * import { TopologyError } from "jsr:@kraken/kraken";
 * const err = new TopologyError("expected a number", { file: "kraken.yaml", line: 4, key: "containers.a.replicas" });
 * assert.ok(err.message.includes("kraken.yaml:4"));
 * ```
 */
export class TopologyError extends Error {
  /** The file the topology came from, or `undefined` for an object topology. */
  readonly file?: string;
  /** 1-based line of the offending key, where known. */
  readonly line?: number;
  /** 1-based column of the offending key, where known. */
  readonly column?: number;
  /** Dotted path of the offending key, e.g. `containers.greeter.mode`. */
  readonly key: string;

  /**
   * Creates the error.
   *
   * @param detail What was wrong and what was expected.
   * @param where The file, line, column and key it was found at.
   */
  constructor(
    detail: string,
    where: { file?: string; line?: number; column?: number; key: string },
  ) {
    const at = where.file
      ? `${where.file}${
        where.line ? `:${where.line}${where.column ? `:${where.column}` : ""}` : ""
      }`
      : "topology";
    super(`${at}: ${where.key ? `${where.key}: ` : ""}${detail}`);
    this.name = "TopologyError";
    this.file = where.file;
    this.line = where.line;
    this.column = where.column;
    this.key = where.key;
  }
}

/**
 * A request got no reply within its timeout (after all its retries).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TimeoutError } from "jsr:@kraken/kraken";
 * const err = new TimeoutError("greeter", "greet", 5000);
 * assert.equal(err.timeout, 5000);
 * ```
 */
export class TimeoutError extends Error {
  /** Milliseconds waited for each attempt. */
  readonly timeout: number;
  /**
   * Creates the error.
   *
   * @param container The container the request was for.
   * @param topic The request's topic.
   * @param timeout Milliseconds waited.
   */
  constructor(container: string, topic: string, timeout: number) {
    super(`request "${topic}" to container "${container}" got no reply within ${timeout} ms`);
    this.name = "TimeoutError";
    this.timeout = timeout;
  }
}

/**
 * No live instance can take the message: the container is unknown, stopped, or restarting.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnavailableError } from "jsr:@kraken/kraken";
 * const err = new UnavailableError('no container named "nope"');
 * assert.equal(err.name, "UnavailableError");
 * ```
 */
export class UnavailableError extends Error {
  /**
   * Creates the error.
   *
   * @param message What was unavailable and why.
   */
  constructor(message: string) {
    super(message);
    this.name = "UnavailableError";
  }
}

/**
 * A handler on the other side threw: carries the remote error's name, message and stack.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RemoteError } from "jsr:@kraken/kraken";
 * const err = new RemoteError({ name: "RangeError", message: "too big", stack: "RangeError: too big" });
 * assert.equal(err.remoteName, "RangeError");
 * ```
 */
export class RemoteError extends Error {
  /** The `name` of the error thrown on the other side, e.g. `TypeError`. */
  readonly remoteName: string;
  /** The stack trace from the other side, as text. */
  readonly remoteStack: string;
  /** The container that threw, where known. */
  readonly container?: string;

  /**
   * Creates the error.
   *
   * @param cause The remote error's name, message and stack, and the container that threw.
   */
  constructor(cause: { name: string; message: string; stack?: string; container?: string }) {
    super(
      `${
        cause.container ? `container "${cause.container}" threw ` : ""
      }${cause.name}: ${cause.message}`,
    );
    this.name = "RemoteError";
    this.remoteName = cause.name;
    this.remoteStack = cause.stack ?? "";
    this.container = cause.container;
  }
}

/**
 * A container asked for a permission wider than its parent's grant; nothing was started.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PermissionEscalationError } from "jsr:@kraken/kraken";
 * const err = new PermissionEscalationError("greeter", "net", "example.com");
 * assert.equal(err.permission, "net");
 * ```
 */
export class PermissionEscalationError extends Error {
  /** The container whose spec asked for too much. */
  readonly container: string;
  /** The permission kind, e.g. `net` or `read`. */
  readonly permission: string;
  /** The value that exceeded the parent's grant (`true` means the whole kind). */
  readonly value: string | true;
  /**
   * Creates the error.
   *
   * @param container The container.
   * @param permission The permission kind.
   * @param value The value beyond the parent's grant.
   * @param detail Why it could not be checked, when the value itself is invalid.
   */
  constructor(container: string, permission: string, value: string | true, detail?: string) {
    super(
      `container "${container}" asks for ${permission} ${
        value === true ? "(all)" : `"${value}"`
      }, ${
        detail
          ? `which cannot be granted: ${detail}`
          : "which its parent does not have: a container's permissions are never wider than its parent's"
      }`,
    );
    this.name = "PermissionEscalationError";
    this.container = container;
    this.permission = permission;
    this.value = value;
  }
}

/**
 * A link failed to authenticate (missing or wrong secret).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AuthenticationError } from "jsr:@kraken/kraken";
 * assert.equal(new AuthenticationError("wrong secret").name, "AuthenticationError");
 * ```
 */
export class AuthenticationError extends Error {
  /**
   * Creates the error.
   *
   * @param message What failed (never the secret itself).
   */
  constructor(message: string) {
    super(message);
    this.name = "AuthenticationError";
  }
}

/**
 * A frame on a link was malformed or larger than allowed; the link is closed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameError } from "jsr:@kraken/kraken";
 * assert.equal(new FrameError("frame of 5 GiB exceeds 16 MiB").name, "FrameError");
 * ```
 */
export class FrameError extends Error {
  /**
   * Creates the error.
   *
   * @param message What was wrong with the frame.
   */
  constructor(message: string) {
    super(message);
    this.name = "FrameError";
  }
}

/**
 * A supervisor exceeded its restart intensity and gave up on its children.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SupervisorGaveUpError } from "jsr:@kraken/kraken";
 * const err = new SupervisorGaveUpError("root", 5, 10_000);
 * assert.equal(err.supervisor, "root");
 * ```
 */
export class SupervisorGaveUpError extends Error {
  /** The supervisor that gave up: `root` or the container supervising its children. */
  readonly supervisor: string;
  /** The child whose failure made it give up, where known. */
  readonly child?: string;
  /** That child's failure, as text (e.g. `TypeError: boom`), where known. */
  readonly failure?: string;
  /** `intensity` (too many restarts) or `escalate` (an `on_error` rule escalated). */
  readonly why: "intensity" | "escalate";
  /**
   * Creates the error.
   *
   * @param supervisor Its name.
   * @param intensity Restarts allowed per period.
   * @param period The period in milliseconds.
   * @param detail The child and failure that made it give up, and why.
   */
  constructor(
    supervisor: string,
    intensity: number,
    period: number,
    detail: { child?: string; failure?: string; why?: "intensity" | "escalate" } = {},
  ) {
    const why = detail.why ?? "intensity";
    const cause = detail.child
      ? `; last failure: ${detail.child}: ${detail.failure ?? "unknown"}`
      : "";
    super(
      why === "escalate"
        ? `supervisor "${supervisor}" gave up: child "${detail.child}" escalated ${
          detail.failure ?? "its failure"
        }`
        : `supervisor "${supervisor}" gave up: more than ${intensity} restarts within ${period} ms${cause}`,
    );
    this.name = "SupervisorGaveUpError";
    this.supervisor = supervisor;
    this.child = detail.child;
    this.failure = detail.failure;
    this.why = why;
  }
}

/**
 * A rolling replacement (`rt.restart` of a serving container, a reload that changes a container)
 * stopped before every replica was replaced: a new replica could not start, or the container was
 * removed or its supervisor stopped meanwhile. Names the container and the replica it stopped at;
 * `cause` is the start error, when there is one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RolloutError } from "jsr:@kraken/kraken";
 * const err = new RolloutError("api", 2, "api#2.2 could not start: boom");
 * assert.equal(err.replica, 2);
 * assert.ok(err.message.includes('"api"'));
 * ```
 */
export class RolloutError extends Error {
  /** The container being replaced. */
  readonly container: string;
  /** The replica index the rollout stopped at. */
  readonly replica: number;
  /**
   * Creates the error.
   *
   * @param container The container being replaced.
   * @param replica The replica index it stopped at.
   * @param detail What stopped it and what it left.
   * @param options The underlying error, if any.
   */
  constructor(container: string, replica: number, detail: string, options?: { cause?: unknown }) {
    super(
      `the rolling replacement of "${container}" stopped at replica ${replica}: ${detail}`,
      options,
    );
    this.name = "RolloutError";
    this.container = container;
    this.replica = replica;
  }
}

/**
 * A request named a topic the container has no handler for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnknownTopicError } from "jsr:@kraken/kraken";
 * const err = new UnknownTopicError("greeter", "gret", ["greet"]);
 * assert.ok(err.message.includes("greet"));
 * ```
 */
export class UnknownTopicError extends Error {
  /** The container asked. */
  readonly container: string;
  /** The topic it does not handle. */
  readonly topic: string;
  /**
   * Creates the error.
   *
   * @param container The container.
   * @param topic The unknown topic.
   * @param known The topics it does handle.
   */
  constructor(container: string, topic: string, known: readonly string[]) {
    super(
      `container "${container}" has no handler for topic "${topic}" (it handles: ${
        known.length ? known.join(", ") : "nothing"
      })`,
    );
    this.name = "UnknownTopicError";
    this.container = container;
    this.topic = topic;
  }
}

/**
 * A message body or reply holds a value that cannot cross a container boundary.
 *
 * Allowed: plain objects, arrays, strings, numbers, booleans, null, `Uint8Array` and `Date`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SerializationError } from "jsr:@kraken/kraken";
 * const err = new SerializationError("body.fn", "a function");
 * assert.equal(err.path, "body.fn");
 * ```
 */
export class SerializationError extends TypeError {
  /** Where in the value the bad part sits, e.g. `body.items[2]`. */
  readonly path: string;
  /**
   * Creates the error.
   *
   * @param path Where the bad value sits.
   * @param what What it is.
   */
  constructor(path: string, what: string) {
    super(
      `${path} is ${what}, which cannot cross a container boundary (allowed: plain objects, arrays, strings, numbers, booleans, null, Uint8Array, Date)`,
    );
    this.name = "SerializationError";
    this.path = path;
  }
}

/** An error as it travels between containers. */
export interface WireError {
  /** Error class name. */
  name: string;
  /** Error message. */
  message: string;
  /** Stack trace, as text. */
  stack?: string;
  /** Which Kraken error to rebuild on the other side; absent for a handler's own error. */
  kind?: "unavailable" | "unknown_topic" | "serialization" | "frame" | "permission" | "remote";
  /** The container involved. */
  container?: string;
  /** The topic involved. */
  topic?: string;
  /** Extra detail for the kind (known topics, path). */
  detail?: string[];
  /** Class names up the thrown error's prototype chain, its own first (for `on_error` rules). */
  classes?: string[];
  /**
   * Set when the request was refused before any handler ran (its instance was stopping or gone):
   * the requester may send it elsewhere without risk of running it twice.
   */
  undelivered?: boolean;
}

/** Turns anything thrown into its wire form. */
export function errorToWire(err: unknown, container?: string): WireError {
  if (err instanceof UnavailableError) {
    return { name: err.name, message: err.message, kind: "unavailable", container };
  }
  if (err instanceof FrameError) {
    return { name: err.name, message: err.message, kind: "frame", container };
  }
  if (err instanceof PermissionEscalationError) {
    return {
      name: err.name,
      message: err.message,
      kind: "permission",
      container: err.container,
      detail: [err.permission, JSON.stringify(err.value)],
    };
  }
  if (err instanceof UnknownTopicError) {
    return {
      name: err.name,
      message: err.message,
      kind: "unknown_topic",
      container: err.container,
      topic: err.topic,
    };
  }
  if (err instanceof Error) {
    // A subclass that did not set `name` still reports its own class (`DbError`, not `Error`).
    const ctor = err.constructor?.name;
    return {
      name: err.name === "Error" && ctor && ctor !== "Error" ? ctor : err.name,
      message: err.message,
      stack: err.stack ?? "",
      kind: "remote",
      container,
      classes: errorClassNames(err),
    };
  }
  return { name: "Error", message: String(err), stack: "", kind: "remote", container };
}

/**
 * The class names of a thrown value, its own `name` first, then up its prototype chain (`Object`
 * excluded); `[]` for a value that is not an object. `on_error` rules match against these.
 */
export function errorClassNames(err: unknown): string[] {
  if (typeof err !== "object" || err === null) return [];
  const names: string[] = [];
  for (
    let p = Object.getPrototypeOf(err);
    p && p !== Object.prototype;
    p = Object.getPrototypeOf(p)
  ) {
    const name = p.constructor?.name;
    if (typeof name === "string" && name !== "" && !names.includes(name)) names.push(name);
  }
  // A `name` set by hand (e.g. in the constructor) is the most specific class.
  const own = (err as { name?: unknown }).name;
  if (typeof own === "string" && own !== "" && !names.includes(own)) names.unshift(own);
  return names;
}

/** Rebuilds the typed error a wire error stands for, on the receiving side. */
export function errorFromWire(wire: WireError): Error {
  switch (wire.kind) {
    case "unavailable":
      return new UnavailableError(wire.message);
    case "frame":
      return new FrameError(wire.message);
    case "permission": {
      const [permission = "?", value = "true"] = wire.detail ?? [];
      const err = new PermissionEscalationError(
        wire.container ?? "?",
        permission,
        JSON.parse(value) as string | true,
      );
      err.message = wire.message; // the other side's words (it knows its limits)
      return err;
    }
    case "unknown_topic": {
      const err = new UnknownTopicError(wire.container ?? "?", wire.topic ?? "?", []);
      err.message = wire.message; // the receiver's message lists the topics it really handles
      return err;
    }
    default:
      return new RemoteError(wire);
  }
}
