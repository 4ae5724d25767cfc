/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) as it crosses an edge: the
 * `traceparent` and `tracestate` a request carries (`tc` and `ts` of a `req` envelope, the headers
 * of a served HTTP request). Whatever arrives from outside this isolate is checked here before
 * anything trusts it: a malformed value is dropped (the request goes on without it, as the
 * recommendation says), never repaired or passed on.
 *
 * Pure: no I/O.
 *
 * @module
 */

/** A parsed `traceparent`: the ids a child span is linked under. */
export interface TraceParent {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** The caller's span: 16 lowercase hex digits, not all zero. */
  spanId: string;
  /** Trace flags (bit 0: sampled). */
  flags: number;
}

/** The longest `tracestate` taken (the recommendation's limit); a longer one is dropped. */
export const MAX_TRACESTATE = 512;

const PARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = "0".repeat(32);
const TRACE_ID = /^[0-9a-f]{32}$/;
const ZERO_SPAN = "0".repeat(16);
// A list member's key (simple or tenant@system) and value (printable ASCII but `,` and `=`,
// not ending in a space).
const MEMBER =
  /^[a-z0-9][_0-9a-z\-*/]{0,255}(@[a-z][_0-9a-z\-*/]{0,13})?=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/**
 * Parses a `traceparent`, or returns `null` for anything that is not one: not a string, not
 * `version-traceid-parentid-flags` in lowercase hex, version `ff`, an all-zero id, or version `00`
 * with anything after the flags.
 *
 * @param value What arrived (untrusted).
 * @returns The ids and flags, or `null`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTraceParent } from "./trace_context.ts";
 * const tp = parseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
 * assert.equal(tp?.spanId, "00f067aa0ba902b7");
 * assert.equal(parseTraceParent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"), null);
 * assert.equal(parseTraceParent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"), null);
 * ```
 */
export function parseTraceParent(value: unknown): TraceParent | null {
  if (typeof value !== "string" || value.length > 512) return null;
  const m = PARENT.exec(value);
  if (m === null) return null;
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === "ff" || (version === "00" && rest !== undefined)) return null;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  return { traceId, spanId, flags: parseInt(flags, 16) };
}

/**
 * Formats ids and flags as a version-00 `traceparent`.
 *
 * @param parent The ids and flags.
 * @returns `00-<trace id>-<span id>-<flags>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatTraceParent } from "./trace_context.ts";
 * assert.equal(
 *   formatTraceParent({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", flags: 1 }),
 *   "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
 * );
 * ```
 */
export function formatTraceParent(parent: TraceParent): string {
  return `00-${parent.traceId}-${parent.spanId}-${
    (parent.flags & 0xff).toString(16).padStart(2, "0")
  }`;
}

/**
 * Whether `value` is a well-formed `tracestate`: at most {@linkcode MAX_TRACESTATE} characters,
 * at most 32 comma-separated `key=value` members (empty members and spaces around commas allowed).
 *
 * @param value What arrived (untrusted).
 * @returns `true` when it may be passed on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isTraceState } from "./trace_context.ts";
 * assert.ok(isTraceState("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"));
 * assert.ok(!isTraceState("no equals sign"));
 * ```
 */
export function isTraceState(value: unknown): value is string {
  if (typeof value !== "string" || value.length > MAX_TRACESTATE) return false;
  const members = value.split(",");
  if (members.length > 32) return false;
  for (const raw of members) {
    const member = raw.trim();
    if (member !== "" && !MEMBER.test(member)) return false;
  }
  return true;
}

/**
 * Whether `value` is a trace id: 32 lowercase hex digits, not all zero.
 *
 * @param value What arrived (untrusted).
 * @returns `true` for a trace id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isTraceId } from "./trace_context.ts";
 * assert.ok(isTraceId("4bf92f3577b34da6a3ce929d0e0e4736"));
 * assert.ok(!isTraceId("4bf92f3577b34da6a3ce929d0e0e4736\nFAKE LOG LINE"));
 * ```
 */
export function isTraceId(value: unknown): value is string {
  return typeof value === "string" && TRACE_ID.test(value) && value !== ZERO_TRACE;
}

/**
 * Drops a request envelope's trace context where it is malformed: `tc` that is not a valid
 * `traceparent` (then `ts` goes too: it means nothing without it), or `ts` that is not a valid
 * `tracestate`. The request itself is kept: a bad trace header never costs a caller its answer.
 *
 * @param env A request's fields, changed in place.
 * @returns What was dropped, or `null` when nothing was.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dropBadTraceContext } from "./trace_context.ts";
 * const env: Record<string, unknown> = { k: "req", tc: "00-xyz", ts: "a=b" };
 * assert.equal(dropBadTraceContext(env), 'field "tc" is "00-xyz", expected a W3C traceparent');
 * assert.equal(env.tc, undefined);
 * assert.equal(env.ts, undefined);
 * ```
 */
export function dropBadTraceContext(env: Record<string, unknown>): string | null {
  let dropped: string | null = null;
  if (env.tc !== undefined && parseTraceParent(env.tc) === null) {
    dropped = `field "tc" is ${shown(env.tc)}, expected a W3C traceparent`;
    delete env.tc;
  }
  if (env.ts !== undefined && (env.tc === undefined || !isTraceState(env.ts))) {
    dropped ??= `field "ts" is ${shown(env.ts)}, expected a W3C tracestate after a traceparent`;
    delete env.ts;
  }
  return dropped;
}

function shown(value: unknown): string {
  if (typeof value !== "string") return typeof value;
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}
