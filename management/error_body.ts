/**
 * The one JSON shape in which the management API answers every failure (its status table is in
 * `docs/management-api.md`).
 *
 * @module
 */

/**
 * The body of every error response: `{ error: { type, message, key?, … } }`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ErrorBody } from "./error_body.ts";
 * const body: ErrorBody = { error: { type: "BadRequest", message: "replicas must be a number", key: "replicas" } };
 * assert.equal(body.error.key, "replicas");
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
    /**
     * For a `RemoteError` answered by `POST /v1/containers/:name/call`: what the handler threw
     * (its class name and stack) and in which container.
     */
    remote?: { name: string; stack: string; container?: string };
  };
}
