/**
 * What a supervisor takes from a report it did not make itself — an event or an exit reason from
 * a child isolate that supervises its own children, or from a host agent about a container placed
 * there: untrusted input, kept to well-formed data about containers the reporter may speak for
 * (`authority.may`). Pure.
 *
 * @module
 */
import type { ExitReason } from "../protocol/envelope.ts";
import { count, isRecord, short } from "./_report_values.ts";
import type { WireError } from "../protocol/errors.ts";
import { EXIT_KINDS } from "../protocol/envelope.ts";
import { instanceOf } from "../protocol/routes.ts";
import type { ErrorRule } from "./error_rules.ts";
import type { SupervisorEvent } from "./events.ts";

const EXIT_KIND_SET: ReadonlySet<string> = new Set(EXIT_KINDS);
const WIRE_KINDS = new Set([
  "unavailable",
  "unknown_topic",
  "serialization",
  "frame",
  "permission",
  "remote",
]);

/** Who a report is from, as far as its claims go. */
export interface ReportAuthority {
  /** The reporter's own container: the supervisor of what is below it, in an `escalate` event. */
  readonly self?: string;
  /** Whether the reporter may report on container `name`. */
  may(name: string): boolean;
}

/**
 * A supervision event a child reported about its subtree, or `null` when it is malformed or about
 * a container the child may not speak for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sanitizeEvent } from "./event_check.ts";
 * const authority = { node: "w3", may: (name: string) => name === "mailer" };
 * const start = { type: "start", container: "mailer", instance: "mailer#0.2", incarnation: 2 };
 * assert.deepEqual(sanitizeEvent(start, authority), start);
 * assert.equal(sanitizeEvent({ ...start, container: "orders", instance: "orders#0.2" }, authority), null);
 * ```
 */
export function sanitizeEvent(raw: unknown, authority: ReportAuthority): SupervisorEvent | null {
  if (!isRecord(raw)) return null;
  const mine = (container: unknown, instance: unknown) =>
    typeof container === "string" && authority.may(container) && instanceOf(instance, container);
  switch (raw.type) {
    case "start":
      if (!mine(raw.container, raw.instance) || !count(raw.incarnation)) return null;
      return {
        type: "start",
        container: raw.container as string,
        instance: raw.instance as string,
        incarnation: raw.incarnation as number,
      };
    case "exit": {
      if (!mine(raw.container, raw.instance) || !count(raw.incarnation)) return null;
      return {
        type: "exit",
        container: raw.container as string,
        instance: raw.instance as string,
        incarnation: raw.incarnation as number,
        reason: sanitizeExitReason(raw.reason),
      };
    }
    case "restart":
      if (!mine(raw.container, raw.instance) || !count(raw.incarnation) || !count(raw.delay)) {
        return null;
      }
      return {
        type: "restart",
        container: raw.container as string,
        instance: raw.instance as string,
        incarnation: raw.incarnation as number,
        delay: raw.delay as number,
      };
    case "unresponsive":
      if (!mine(raw.container, raw.instance) || !count(raw.silentFor)) return null;
      return {
        type: "unresponsive",
        container: raw.container as string,
        instance: raw.instance as string,
        silentFor: raw.silentFor as number,
      };
    case "escalate": {
      const supervisor = raw.supervisor;
      if (
        typeof supervisor !== "string" ||
        (supervisor !== authority.self && !authority.may(supervisor))
      ) return null;
      if (!count(raw.intensity) || !count(raw.period)) return null;
      if (raw.why !== "intensity" && raw.why !== "escalate") return null;
      const event: SupervisorEvent = {
        type: "escalate",
        supervisor,
        intensity: raw.intensity as number,
        period: raw.period as number,
        why: raw.why,
      };
      if (typeof raw.child === "string" && authority.may(raw.child)) event.child = raw.child;
      if (typeof raw.failure === "string") event.failure = short(raw.failure);
      return event;
    }
    default:
      return null;
  }
}

/**
 * Why a child says it ended, as an {@linkcode ExitReason} whatever it sent. An `escalate` verdict
 * stands only when one of the container's own `on_error` rules says so (pass them as `rules`); a
 * child cannot make its supervisor give up at once by claiming it. (`stop` needs no rule: the
 * built-in rules stop on a missing permission.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sanitizeExitReason } from "./event_check.ts";
 * const claimed = { kind: "error", message: "boom", action: "escalate" };
 * assert.equal(sanitizeExitReason(claimed, []).action, undefined);
 * const rules = [{ match: ["Fatal"], action: "escalate" as const, log: false }];
 * assert.equal(sanitizeExitReason(claimed, rules).action, "escalate");
 * assert.equal(sanitizeExitReason("garbage").kind, "crashed");
 * ```
 */
export function sanitizeExitReason(raw: unknown, rules?: readonly ErrorRule[]): ExitReason {
  if (!isRecord(raw) || !EXIT_KIND_SET.has(raw.kind as string)) {
    return { kind: "crashed", message: "it reported a malformed exit" };
  }
  const reason: ExitReason = {
    kind: raw.kind as ExitReason["kind"],
    message: typeof raw.message === "string" ? short(raw.message) : "",
  };
  const error = sanitizeWireError(raw.error);
  if (error) reason.error = error;
  if (reason.kind === "max_memory") {
    if (count(raw.used)) reason.used = raw.used as number;
    if (count(raw.limit)) reason.limit = raw.limit as number;
  }
  if (raw.action === "stop") reason.action = "stop";
  else if (raw.action === "escalate") {
    if (rules === undefined || rules.some((rule) => rule.action === "escalate")) {
      reason.action = "escalate";
    }
  }
  return reason;
}

/**
 * A wire error from untrusted input with only the fields and types {@linkcode WireError} has, or
 * `null` when it is not one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sanitizeWireError } from "./event_check.ts";
 * assert.deepEqual(sanitizeWireError({ name: "E", message: "m", kind: "nope", x: 1 }), {
 *   name: "E",
 *   message: "m",
 * });
 * assert.equal(sanitizeWireError({ name: 5 }), null);
 * ```
 */
export function sanitizeWireError(raw: unknown): WireError | null {
  if (!isRecord(raw) || typeof raw.name !== "string" || typeof raw.message !== "string") {
    return null;
  }
  const wire: WireError = { name: short(raw.name), message: short(raw.message) };
  if (typeof raw.stack === "string") wire.stack = short(raw.stack);
  if (WIRE_KINDS.has(raw.kind as string)) wire.kind = raw.kind as WireError["kind"];
  if (typeof raw.container === "string") wire.container = short(raw.container);
  if (typeof raw.topic === "string") wire.topic = short(raw.topic);
  const detail = strings(raw.detail);
  if (detail) wire.detail = detail;
  const classes = strings(raw.classes);
  if (classes) wire.classes = classes;
  if (raw.undelivered === true) wire.undelivered = true;
  return wire;
}

function strings(raw: unknown): string[] | null {
  if (!Array.isArray(raw)) return null;
  return raw.slice(0, 64).filter((s): s is string => typeof s === "string").map(short);
}
