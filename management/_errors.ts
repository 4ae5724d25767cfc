/**
 * How the management API answers a failure: one JSON shape for every error, and one table from
 * error class to HTTP status, so clients (the `kraken` CLI, scripts) can rely on both.
 *
 * Pure: no `Deno.*`, no hono.
 *
 * @module
 */
import { PermissionEscalationError, TopologyError } from "../protocol/errors.ts";

/**
 * The body of every error response: `{ error: { type, message, key?, … } }`.
 *
 * @example
 * ```ts
 * import type { ErrorBody } from "./_errors.ts";
 * const body: ErrorBody = { error: { type: "BadRequest", message: "replicas must be a number", key: "replicas" } };
 * console.assert(body.error.key === "replicas");
 * ```
 */
export interface ErrorBody {
  /** What went wrong. */
  error: {
    /** A stable name: `BadRequest`, `Unauthorized`, `NotFound`, `TopologyError`, … */
    type: string;
    /** Human-readable detail naming what was wrong and what was expected. */
    message: string;
    /** The offending key (a body field, or a topology key such as `containers.api.mode`). */
    key?: string;
    /** For a `TopologyError` from a file: the file, line and column. */
    file?: string;
    /** 1-based line, where known. */
    line?: number;
    /** 1-based column, where known. */
    column?: number;
  };
}

/**
 * An error that already knows its status (bad input, conflicts, …).
 *
 * @example
 * ```ts
 * import { HttpError } from "./_errors.ts";
 * const error = new HttpError(409, "Conflict", "a container named \"api\" already exists", "name");
 * console.assert(error.status === 409);
 * ```
 */
export class HttpError extends Error {
  /** The HTTP status to answer with. */
  readonly status: number;
  /** The `error.type` of the body. */
  readonly type: string;
  /** The offending body field or query parameter, where there is one. */
  readonly key?: string;

  /**
   * @param status HTTP status.
   * @param type The body's `error.type`.
   * @param message What was wrong and what was expected.
   * @param key The offending field.
   */
  constructor(status: number, type: string, message: string, key?: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.type = type;
    this.key = key;
  }
}

/**
 * A 400 for bad input, naming the field.
 *
 * @example
 * ```ts
 * import { badRequest } from "./_errors.ts";
 * console.assert(badRequest("replicas must be a number", "replicas").status === 400);
 * ```
 */
export function badRequest(message: string, key?: string): HttpError {
  return new HttpError(400, "BadRequest", message, key);
}

/**
 * The status and body for an error thrown while serving a route.
 *
 * | error                                          | status |
 * | ---------------------------------------------- | ------ |
 * | `HttpError` (bad input, conflict, unavailable) | its own |
 * | `TopologyError`                                | 400    |
 * | `RangeError` "no container named …"            | 404    |
 * | other `RangeError` (e.g. not manageable here)  | 400    |
 * | `PermissionEscalationError`                    | 403    |
 * | anything else                                  | 500    |
 *
 * @example
 * ```ts
 * import { errorResponse } from "./_errors.ts";
 * const { status, body } = errorResponse(new RangeError('no container named "x" (known: api)'));
 * console.assert(status === 404 && body.error.type === "NotFound");
 * ```
 */
export function errorResponse(error: unknown): { status: number; body: ErrorBody } {
  const { status, body } = classify(error);
  // Messages may carry Deno's coloured error text (a module that failed in its isolate): a JSON
  // body is read by scripts and printed by the CLI, neither of which wants terminal escapes.
  body.error.message = plain(body.error.message);
  return { status, body };
}

/** Text without ANSI escape sequences. */
function plain(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
}

function classify(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof HttpError) {
    return {
      status: error.status,
      body: { error: { type: error.type, message: error.message, ...keyOf(error.key) } },
    };
  }
  if (error instanceof TopologyError) {
    return {
      status: 400,
      body: {
        error: {
          type: "TopologyError",
          message: error.message,
          ...keyOf(error.key || undefined),
          ...(error.file ? { file: error.file } : {}),
          ...(error.line ? { line: error.line } : {}),
          ...(error.column ? { column: error.column } : {}),
        },
      },
    };
  }
  if (error instanceof PermissionEscalationError) {
    return {
      status: 403,
      body: { error: { type: error.name, message: error.message, key: error.container } },
    };
  }
  if (error instanceof RangeError) {
    // The runtime says "no container named …" for an unknown name; other RangeErrors it throws
    // are requests it cannot serve from here (a container nested in a worker or process).
    const unknown = /^no container named/.test(error.message);
    return {
      status: unknown ? 404 : 400,
      body: { error: { type: unknown ? "NotFound" : "RangeError", message: error.message } },
    };
  }
  const err = error instanceof Error ? error : new Error(String(error));
  return { status: 500, body: { error: { type: err.name || "Error", message: err.message } } };
}

function keyOf(key: string | undefined): { key?: string } {
  return key ? { key } : {};
}
