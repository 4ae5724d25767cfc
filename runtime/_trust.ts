/**
 * What a parent believes of a child isolate. A worker or process runs container code, so what it
 * reports about itself and its subtree (routes, tree snapshots, supervision events, exit reasons,
 * log lines) is untrusted input: each function here keeps only what that child may speak for and
 * says what it refused. Pure: no I/O, no clock.
 *
 * The rule: a child speaks for its own instance and for the containers below it — the children
 * its spec declares, and containers it spawned under names nobody else in the application uses.
 * Its instances live in its own node or below it (node ids are paths). The routing-table half of
 * the rule (`sanitizeRoutes`, and the id rules `within` and `instanceOf`) lives in
 * `protocol/routes.ts`, shared with distribution, which applies it to peer runtimes.
 *
 * @module
 */
import type { ExitReason } from "../protocol/envelope.ts";
import type { WireError } from "../protocol/errors.ts";
import { type ChildAuthority, instanceOf, within } from "../protocol/routes.ts";
import type { ErrorRule } from "../supervisor/error_rules.ts";
import type { SupervisorEvent } from "../supervisor/events.ts";
import type { ContainerSnapshot, InstanceSnapshot } from "./snapshots.ts";

/** Longest text kept from a child's report (an exit message, a stack, a log line is not cut). */
const MAX_TEXT = 16 * 1024;
/** Most entries kept from a child's list (instances, children, topics, detail lines). */
const MAX_ITEMS = 10_000;
/** Deepest nesting of a reported subtree. */
const MAX_DEPTH = 32;
const EXIT_KINDS = new Set(["normal", "stopped", "error", "crashed", "killed", "unresponsive"]);
const WIRE_KINDS = new Set([
  "unavailable",
  "unknown_topic",
  "serialization",
  "frame",
  "permission",
  "remote",
]);
const SLOT_STATES = new Set(["starting", "running", "restarting", "stopping", "stopped"]);
const MODES = new Set(["inline", "worker", "process", "remote"]);

/** Names of every container declared below `children` (nested ones included). */
export function declaredNames(
  children: readonly { name: string; children: readonly unknown[] }[],
  into = new Set<string>(),
): Set<string> {
  for (const child of children) {
    into.add(child.name);
    declaredNames(child.children as typeof children, into);
  }
  return into;
}

/**
 * A supervision event a child reported about its subtree, or `null` when it is malformed or about
 * a container the child may not speak for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sanitizeEvent } from "./_trust.ts";
 * const authority = { node: "w3", may: (name: string) => name === "mailer" };
 * const start = { type: "start", container: "mailer", instance: "mailer#0.2", incarnation: 2 };
 * assert.deepEqual(sanitizeEvent(start, authority), start);
 * assert.equal(sanitizeEvent({ ...start, container: "orders", instance: "orders#0.2" }, authority), null);
 * ```
 */
export function sanitizeEvent(raw: unknown, authority: ChildAuthority): SupervisorEvent | null {
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
 * import { sanitizeExitReason } from "./_trust.ts";
 * const claimed = { kind: "error", message: "boom", action: "escalate" };
 * assert.equal(sanitizeExitReason(claimed, []).action, undefined);
 * const rules = [{ match: ["Fatal"], action: "escalate" as const, log: false }];
 * assert.equal(sanitizeExitReason(claimed, rules).action, "escalate");
 * assert.equal(sanitizeExitReason("garbage").kind, "crashed");
 * ```
 */
export function sanitizeExitReason(raw: unknown, rules?: readonly ErrorRule[]): ExitReason {
  if (!isRecord(raw) || !EXIT_KINDS.has(raw.kind as string)) {
    return { kind: "crashed", message: "it reported a malformed exit" };
  }
  const reason: ExitReason = {
    kind: raw.kind as ExitReason["kind"],
    message: typeof raw.message === "string" ? short(raw.message) : "",
  };
  const error = sanitizeWireError(raw.error);
  if (error) reason.error = error;
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
 * import { sanitizeWireError } from "./_trust.ts";
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

/**
 * A subtree snapshot a child reported, keeping the containers it may speak for (and their
 * well-formed fields); malformed entries are dropped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sanitizeSubtree } from "./_trust.ts";
 * const authority = { node: "w3", may: (name: string) => name === "mailer" };
 * const tree = sanitizeSubtree([
 *   { name: "mailer", mode: "worker", host: "local", replicas: 1, running: 1, restarts: 0, held: false, instances: [] },
 *   { name: "orders", mode: "worker", host: "local", replicas: 1, running: 1, restarts: 0, held: false, instances: [] },
 * ], authority);
 * assert.deepEqual(tree.map((c) => c.name), ["mailer"]);
 * ```
 */
export function sanitizeSubtree(raw: unknown, authority: ChildAuthority): ContainerSnapshot[] {
  return snapshots(raw, authority, 0);
}

function snapshots(raw: unknown, authority: ChildAuthority, depth: number): ContainerSnapshot[] {
  if (!Array.isArray(raw) || depth > MAX_DEPTH) return [];
  const out: ContainerSnapshot[] = [];
  for (const item of raw.slice(0, MAX_ITEMS)) {
    if (!isRecord(item) || typeof item.name !== "string" || !authority.may(item.name)) continue;
    const name = item.name;
    const snap: ContainerSnapshot = {
      name,
      mode: MODES.has(item.mode as string) ? item.mode as ContainerSnapshot["mode"] : "worker",
      host: typeof item.host === "string" ? short(item.host) : "local",
      replicas: count(item.replicas) ? item.replicas as number : 0,
      running: count(item.running) ? item.running as number : 0,
      restarts: count(item.restarts) ? item.restarts as number : 0,
      held: item.held === true,
      instances: instances(item.instances, name, authority),
    };
    if (isRecord(item.supervisor)) {
      const s = item.supervisor;
      if (typeof s.strategy === "string" && count(s.intensity) && count(s.period)) {
        snap.supervisor = {
          strategy: short(s.strategy),
          intensity: s.intensity as number,
          period: s.period as number,
        };
      }
    }
    if (Array.isArray(item.children)) {
      snap.children = snapshots(item.children, authority, depth + 1);
    }
    out.push(snap);
  }
  return out;
}

function instances(raw: unknown, name: string, authority: ChildAuthority): InstanceSnapshot[] {
  if (!Array.isArray(raw)) return [];
  const out: InstanceSnapshot[] = [];
  for (const item of raw.slice(0, MAX_ITEMS)) {
    const placed = authority.node === null
      ? typeof item?.node === "string"
      : within(item?.node, authority.node);
    if (!isRecord(item) || !instanceOf(item.id, name) || !placed) continue;
    const snap: InstanceSnapshot = {
      id: item.id as string,
      replica: count(item.replica) ? item.replica as number : 0,
      incarnation: count(item.incarnation) ? item.incarnation as number : 0,
      state: SLOT_STATES.has(item.state as string)
        ? item.state as InstanceSnapshot["state"]
        : "stopped",
      node: item.node as string,
      restarts: count(item.restarts) ? item.restarts as number : 0,
      uptime: count(item.uptime) ? item.uptime as number : 0,
    };
    if (item.lastExit !== undefined) snap.lastExit = sanitizeExitReason(item.lastExit);
    out.push(snap);
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A finite number >= 0. */
function count(value: unknown): boolean {
  return typeof value === "number" && value >= 0 && Number.isFinite(value);
}

function short(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}

function strings(raw: unknown): string[] | null {
  if (!Array.isArray(raw)) return null;
  return raw.slice(0, 64).filter((s): s is string => typeof s === "string").map(short);
}
