/**
 * How the management API answers a failure: one JSON shape for every error, and one table from
 * error class to HTTP status, so clients (the `kraken` CLI, scripts) can rely on both.
 *
 * Errors with a status are hono's `HTTPException` (so hono's own middleware and ours throw the same
 * kind); their response is still the one JSON shape of `error_body.ts`. No `Deno.*`.
 *
 * @module
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { PermissionEscalationError, TopologyError } from "../protocol/errors.ts";
import type { ErrorBody } from "./error_body.ts";

export type { ErrorBody };

/**
 * An error that already knows its status (bad input, conflicts, …): a hono `HTTPException` whose
 * response is the JSON error body.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HttpError } from "./_errors.ts";
 * const error = new HttpError(409, "Conflict", "a container named \"api\" already exists", "name");
 * assert.equal(error.status, 409);
 * ```
 */
export class HttpError extends HTTPException {
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
  constructor(status: ContentfulStatusCode, type: string, message: string, key?: string) {
    super(status, { message });
    this.name = "HttpError";
    this.type = type;
    this.key = key;
  }

  /** The JSON error body with this status (what hono's `HTTPException` answers). */
  override getResponse(): Response {
    const { status, body } = errorResponse(this);
    return Response.json(body, { status });
  }
}

/**
 * A 400 for bad input, naming the field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { badRequest } from "./_errors.ts";
 * assert.equal(badRequest("replicas must be a number", "replicas").status, 400);
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
 * | another hono `HTTPException`                   | its own |
 * | `TopologyError`                                | 400    |
 * | `RangeError` "no container named …"            | 404    |
 * | other `RangeError` (e.g. not manageable here)  | 400    |
 * | `PermissionEscalationError`                    | 403    |
 * | anything else                                  | 500    |
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorResponse } from "./_errors.ts";
 * const { status, body } = errorResponse(new RangeError('no container named "x" (known: api)'));
 * assert.equal(status, 404);
 * assert.equal(body.error.type, "NotFound");
 * ```
 */
export function errorResponse(
  error: unknown,
): { status: ContentfulStatusCode; body: ErrorBody } {
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

function classify(error: unknown): { status: ContentfulStatusCode; body: ErrorBody } {
  if (error instanceof HttpError) {
    return {
      status: error.status,
      body: { error: { type: error.type, message: error.message, ...keyOf(error.key) } },
    };
  }
  if (error instanceof HTTPException) {
    // Thrown by a hono middleware with a plain-text message: the same JSON shape, typed by status.
    return {
      status: error.status,
      body: { error: { type: STATUS_TYPES[error.status] ?? "HttpError", message: error.message } },
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

const STATUS_TYPES: Partial<Record<number, string>> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  409: "Conflict",
  413: "PayloadTooLarge",
  503: "Unavailable",
};

function keyOf(key: string | undefined): { key?: string } {
  return key ? { key } : {};
}
