/**
 * `POST /v1/containers/:name/call`: a request (or a send) to a container from outside the
 * application, as `kraken call` makes it. The body and the reply cross as JSON: what JSON cannot
 * carry is written in one documented way (see {@linkcode toJsonValue}, {@linkcode fromJsonValue}).
 *
 * The caller waits at most {@linkcode MAX_CALL_WAIT_MS} in all (timeout × attempts, whole
 * numbers): a client cannot hold the runtime's attention, or one of the API's connections, for
 * longer; past that one deadline the runtime sends the request no more, whether the client is
 * still there or not.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { suggest } from "../config/_suggest.ts";
import { parseDuration } from "../config/duration.ts";
import {
  FrameError,
  RemoteError,
  SerializationError,
  TimeoutError,
  UnavailableError,
  UnknownTopicError,
} from "../protocol/errors.ts";
import { MAX_WIRE_DEPTH } from "../protocol/wire_value.ts";
import type { ContainerRef, RequestOptions } from "../runtime/container.ts";
import { entityIdProblem } from "../protocol/entity_owner.ts";
import type { Runtime } from "../runtime/runtime.ts";
import { badRequest } from "./_errors.ts";
import { TreeIndex } from "./_lookup.ts";
import type { ErrorBody } from "./error_body.ts";

/** The longest a call may wait for its reply, all attempts together, ms (5 minutes). */
export const MAX_CALL_WAIT_MS = 5 * 60_000;
/** The most retries a call may ask for. */
export const MAX_CALL_RETRIES = 100;
/** A request's timeout when the call gives none, ms. */
export const DEFAULT_CALL_TIMEOUT_MS = 5000;

const FIELDS = ["topic", "body", "timeout", "retries", "key", "send", "entity"];

/** What a call answers: a status and a JSON body. */
export interface CallAnswer {
  /** 200 a reply, 202 a send, or the reply error's status. */
  status: 200 | 202 | 404 | 502 | 503 | 504;
  /** `{ ok: true, reply }`, `{ ok: true }` or an {@linkcode ErrorBody}. */
  body: { ok: true; reply?: unknown } | ErrorBody;
}

/**
 * Makes the call `input` describes to container `name` and answers with the reply, or the reply
 * error (see docs/management-api.md for the status of each).
 *
 * @param rt The runtime the request is sent from.
 * @param name The container.
 * @param input The request's JSON body: `{ topic, body?, timeout?, retries?, key?, send?,
 *   entity? }` (`entity`: the id of an entity of a container made by `entities()`).
 * @returns The status and JSON body to answer with.
 * @throws {HttpError} 400 for a bad field (naming it), 503 when the runtime is not running.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime } from "../mod.ts";
 * import { callContainer } from "./_call.ts";
 * const rt = await Runtime.start({ containers: {} }, { logLevel: "silent" });
 * const answer = await callContainer(rt, "nope", { topic: "ping" });
 * assert.equal(answer.status, 503); // no container of that name
 * await rt.shutdown();
 * ```
 */
export async function callContainer(
  rt: Runtime,
  name: string,
  input: Record<string, unknown>,
): Promise<CallAnswer> {
  const { topic, send, key, entity } = input;
  for (const field of Object.keys(input)) {
    if (!FIELDS.includes(field)) {
      const near = suggest(field, FIELDS);
      throw badRequest(
        `unknown field ${JSON.stringify(field)}${near ? ` (did you mean "${near}"?)` : ""}; ` +
          `expected some of ${FIELDS.join(", ")}`,
        field,
      );
    }
  }
  if (typeof topic !== "string" || topic === "") {
    throw badRequest(
      `topic must be a non-empty string, got ${JSON.stringify(topic) ?? "nothing"}`,
      "topic",
    );
  }
  if (send !== undefined && typeof send !== "boolean") {
    throw badRequest(`send must be true or false, got ${JSON.stringify(send)}`, "send");
  }
  if (key !== undefined && typeof key !== "string") {
    throw badRequest(`key must be a string, got ${JSON.stringify(key)}`, "key");
  }
  if (entity !== undefined) {
    const problem = entityIdProblem(entity);
    if (problem !== null) throw badRequest(problem, "entity");
    if (key !== undefined) {
      throw badRequest("key routes to a replica; an entity's id already does: drop key", "key");
    }
  }
  if (send === true) {
    for (const field of ["timeout", "retries"]) {
      if (input[field] !== undefined) {
        throw badRequest(`${field} applies to a request, not to a send`, field);
      }
    }
  }
  const body = fromJsonValue(input.body ?? null, "body");
  TreeIndex.of(rt).assertRunning();
  const ref: Pick<ContainerRef, "request" | "send"> = entity === undefined
    ? rt.ref(name)
    : entityRef(rt, name, entity as string);
  try {
    if (send === true) {
      ref.send(topic, body, key === undefined ? {} : { key });
      return { status: 202, body: { ok: true } };
    }
    const options: RequestOptions = { ...waitOf(input), ...(key === undefined ? {} : { key }) };
    const reply = await ref.request(topic, body, options);
    return { status: 200, body: { ok: true, reply: toJsonValue(reply) } };
  } catch (error) {
    return replyError(error);
  }
}

/**
 * Entity `id` of container `name`, as the untyped reference the call goes through (an entity
 * reference takes the same topics, bodies and options, its id being the routing key).
 */
function entityRef(rt: Runtime, name: string, id: string): Pick<ContainerRef, "request" | "send"> {
  return rt.ref(name).entity(id);
}

/**
 * The timeout and retries of a call, checked: a timeout a whole number of ms from 1 to
 * {@linkcode MAX_CALL_WAIT_MS}, retries a whole number up to {@linkcode MAX_CALL_RETRIES}, and
 * their product at most {@linkcode MAX_CALL_WAIT_MS}; the product is also the call's one overall
 * deadline (`totalTimeout`), after which the runtime sends it no more, whatever the client does.
 * Whole numbers: a fractional timeout (`1e-300`) would make the product bound meaningless, and
 * the runtime re-send the request without pause.
 */
function waitOf(
  input: Record<string, unknown>,
): { timeout: number; retries: number; totalTimeout: number } {
  const raw = input.timeout;
  const timeout = raw === undefined ? DEFAULT_CALL_TIMEOUT_MS : parseDuration(raw);
  if (
    timeout === undefined || !Number.isInteger(timeout) || timeout < 1 ||
    timeout > MAX_CALL_WAIT_MS
  ) {
    throw badRequest(
      `timeout must be a whole number of ms from 1 to ${MAX_CALL_WAIT_MS} (5 minutes) or a duration ("250ms", "5s", "2m"), got ${
        JSON.stringify(raw)
      }`,
      "timeout",
    );
  }
  const retries = input.retries ?? 0;
  if (
    typeof retries !== "number" || !Number.isInteger(retries) || retries < 0 ||
    retries > MAX_CALL_RETRIES
  ) {
    throw badRequest(
      `retries must be a whole number from 0 to ${MAX_CALL_RETRIES}, got ${
        JSON.stringify(retries)
      }`,
      "retries",
    );
  }
  const totalTimeout = timeout * (retries + 1);
  if (totalTimeout > MAX_CALL_WAIT_MS) {
    throw badRequest(
      `timeout × (retries + 1) must be at most ${MAX_CALL_WAIT_MS} ms (5 minutes), got ${timeout} ms × ${
        retries + 1
      }`,
      raw === undefined ? "retries" : "timeout",
    );
  }
  return { timeout, retries, totalTimeout };
}

/** The answer for an error the request or send ended with; anything unexpected is rethrown. */
function replyError(error: unknown): CallAnswer {
  const answer = (status: CallAnswer["status"], extra: Partial<ErrorBody["error"]> = {}) => ({
    status,
    body: { error: { type: (error as Error).name, message: (error as Error).message, ...extra } },
  });
  if (error instanceof UnavailableError) return answer(503);
  if (error instanceof TimeoutError) return answer(504);
  if (error instanceof UnknownTopicError) return answer(404, { key: "topic" });
  if (error instanceof RemoteError) {
    return answer(502, {
      remote: {
        name: error.remoteName,
        stack: error.remoteStack,
        ...(error.container ? { container: error.container } : {}),
      },
    });
  }
  if (error instanceof FrameError) return answer(502);
  if (error instanceof SerializationError) throw badRequest(error.message, "body");
  throw error;
}

/**
 * A reply as JSON: a `Uint8Array` becomes `{ "$bytes": "<base64>" }`, a `Date` its ISO 8601
 * string; everything else a wire value holds (null, booleans, numbers, strings, arrays, plain
 * objects) is JSON already.
 *
 * @param value A reply (a wire value).
 * @returns The same value with bytes and dates written as JSON.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toJsonValue } from "./_call.ts";
 * const json = toJsonValue({ at: new Date(0), raw: new Uint8Array([104, 105]) });
 * assert.deepEqual(json, { at: "1970-01-01T00:00:00.000Z", raw: { $bytes: "aGk=" } });
 * ```
 */
export function toJsonValue(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value !== "object" || value === null) return value;
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString("base64") };
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map(toJsonValue);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined) continue;
    // A reply is container data: a "__proto__" key stays a key, never a prototype.
    Object.defineProperty(out, key, {
      value: toJsonValue(item),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * A request body from JSON: an object whose only key is `$bytes` (a base64 string) becomes a
 * `Uint8Array`, the other way round from {@linkcode toJsonValue}; the rest is taken as it is.
 * Dates stay strings (an ISO string cannot be told from text).
 *
 * @param value Parsed JSON.
 * @param path How to name the value in an error, e.g. `body`.
 * @returns The body to send.
 * @throws {HttpError} 400: a `$bytes` that is not base64, or nesting deeper than a message may.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fromJsonValue } from "./_call.ts";
 * assert.deepEqual(fromJsonValue({ raw: { $bytes: "aGk=" } }, "body"), { raw: new Uint8Array([104, 105]) });
 * ```
 */
export function fromJsonValue(value: unknown, path: string, depth = 0): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (depth >= MAX_WIRE_DEPTH) {
    throw badRequest(`${path} is nested deeper than ${MAX_WIRE_DEPTH} levels`, "body");
  }
  if (Array.isArray(value)) {
    return value.map((item, i) => fromJsonValue(item, `${path}[${i}]`, depth + 1));
  }
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === "$bytes") {
    const text = (value as { $bytes: unknown }).$bytes;
    if (typeof text !== "string" || !BASE64.test(text)) {
      throw badRequest(
        `${path}.$bytes must be base64 text (bytes are written { "$bytes": "aGk=" }), got ${
          JSON.stringify(text).slice(0, 40)
        }`,
        "body",
      );
    }
    return new Uint8Array(Buffer.from(text, "base64"));
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    Object.defineProperty(out, key, {
      value: fromJsonValue((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
