/**
 * What a parent believes of a child isolate. A worker or process runs container code, so what it
 * reports about itself and its subtree (routes, tree snapshots, supervision events, exit reasons,
 * log lines) is untrusted input: each function here keeps only what that child may speak for and
 * says what it refused. Pure: no I/O, no clock.
 *
 * The rule: a child speaks for its own instance and for the containers below it — the children
 * its spec declares, and containers it spawned under names nobody else in the application uses.
 * Its instances live in its own node or below it (node ids are paths).
 *
 * @module
 */
import type { ExitReason, RouteInstance, RouteTable } from "../protocol/envelope.ts";
import type { WireError } from "../protocol/errors.ts";
import type { ErrorRule } from "../supervisor/error_rules.ts";
import type { SupervisorEvent } from "../supervisor/events.ts";
import type { ContainerSnapshot, InstanceSnapshot } from "./_supervisor_view.ts";
import { TOPOLOGY_PATTERNS } from "../config/_shape.ts";

/** Longest text kept from a child's report (an exit message, a stack, a log line is not cut). */
const MAX_TEXT = 16 * 1024;
/** Most entries kept from a child's list (instances, children, topics, detail lines). */
const MAX_ITEMS = 10_000;
/** Deepest nesting of a reported subtree. */
const MAX_DEPTH = 32;
/** Largest restart buffer a child may announce for a container below it. */
const MAX_BUFFER = 1_000_000;
/** Most entries (container names) kept from one reported routing table. */
export const MAX_ROUTE_ENTRIES = 10_000;
/** Most instances (live and draining, over all its entries) kept from one reported routing table. */
export const MAX_ROUTE_INSTANCES = 10_000;
/** Longest container name, instance id or node id kept from a reported routing table. */
export const MAX_ROUTE_ID = 256;

/** A container name as the topology allows one. */
const CONTAINER_NAME = new RegExp(TOPOLOGY_PATTERNS.name);

const BALANCES = new Set(["round_robin", "random", "key_hash"]);
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

/**
 * Whether node `node` is `ancestor` or below it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { within } from "./_trust.ts";
 * assert.equal(within("p2/w1", "p2"), true);
 * assert.equal(within("p21", "p2"), false);
 * ```
 */
export function within(node: unknown, ancestor: string): boolean {
  return typeof node === "string" &&
    (node === ancestor || (node.length > ancestor.length && node.startsWith(ancestor) &&
      node.charCodeAt(ancestor.length) === 47 /* "/" */));
}

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

/** Whether instance id `id` names an instance of container `name` (`name#replica.incarnation`). */
export function instanceOf(id: unknown, name: string): boolean {
  return typeof id === "string" && id.length > name.length + 1 && id.startsWith(name) &&
    id.charCodeAt(name.length) === 35 /* "#" */;
}

/** The container an instance id belongs to (`api#0.1` → `api`), or `null` when it is not one. */
export function containerOf(id: unknown): string | null {
  if (typeof id !== "string") return null;
  const hash = id.lastIndexOf("#");
  return hash > 0 ? id.slice(0, hash) : null;
}

/** What a child (or a peer runtime) may speak for. */
export interface ChildAuthority {
  /**
   * The child's node id: its instances live there or below. `null` for a peer runtime, whose
   * node ids are its own (any non-empty id; the hub puts them under `@peer/`).
   */
  readonly node: string | null;
  /** The child's own container: the supervisor of what is below it, in an `escalate` event. */
  readonly self?: string;
  /** Whether the child may report on container `name` (one below it). */
  may(name: string): boolean;
}

/** The routes a child reported, cut to what it may announce, and the names it was refused. */
export interface SanitizedRoutes {
  /** Entries for containers below the child, each instance in the child's node or below. */
  routes: RouteTable;
  /** What was refused, one phrase each (for the log). */
  refused: string[];
}

/**
 * Keeps, of a child's `subroutes`, the entries for containers it may speak for, and of those the
 * instances that are that container's and live in its node or below. What one table may make its
 * parent hold is bounded: at most {@linkcode MAX_ROUTE_ENTRIES} entries and
 * {@linkcode MAX_ROUTE_INSTANCES} instances in all, names and ids of at most
 * {@linkcode MAX_ROUTE_ID} characters; the rest is refused.
 *
 * @example A child claiming another container's name is refused
 * ```ts
 * import assert from "node:assert/strict";
 * import { sanitizeRoutes } from "./_trust.ts";
 * const authority = { node: "w3", may: (name: string) => name === "mailer" };
 * const { routes, refused } = sanitizeRoutes({
 *   mailer: { balance: "round_robin", instances: [{ i: "mailer#0.1", n: "w3/w1" }] },
 *   orders: { balance: "round_robin", instances: [{ i: "orders#0.9", n: "w3" }] },
 * }, authority);
 * assert.deepEqual(Object.keys(routes), ["mailer"]);
 * assert.deepEqual(refused, ['routes for container "orders", which is not below it']);
 * ```
 */
export function sanitizeRoutes(reported: unknown, authority: ChildAuthority): SanitizedRoutes {
  const routes: RouteTable = {};
  const refused: string[] = [];
  if (!isRecord(reported)) return { routes, refused: ["a routing table that is not a map"] };
  let entries = 0;
  let overEntries = 0;
  let instancesLeft = MAX_ROUTE_INSTANCES;
  let overInstances = 0;
  const keep = (name: string, list: unknown): RouteInstance[] => {
    if (!Array.isArray(list)) return [];
    const out: RouteInstance[] = [];
    for (const inst of list) {
      if (instancesLeft === 0) {
        overInstances++;
        continue;
      }
      const placed = authority.node === null
        ? typeof inst?.n === "string" && inst.n !== ""
        : within(inst?.n, authority.node);
      if (
        isRecord(inst) && instanceOf(inst.i, name) && placed &&
        (inst.i as string).length <= MAX_ROUTE_ID && (inst.n as string).length <= MAX_ROUTE_ID
      ) {
        out.push({ i: inst.i as string, n: inst.n as string });
        instancesLeft--;
      } else {
        refused.push(
          `an instance of ${JSON.stringify(name)} outside its node: ${
            short(JSON.stringify(inst) ?? String(inst), 200)
          }`,
        );
      }
    }
    return out;
  };
  for (const name in reported) {
    if (!Object.hasOwn(reported, name)) continue;
    if (entries === MAX_ROUTE_ENTRIES) {
      overEntries++;
      continue;
    }
    entries++;
    const raw = reported[name];
    // A name every object has (`constructor`, `toString`) would read as an entry of any table.
    if (name.length > MAX_ROUTE_ID || !CONTAINER_NAME.test(name) || name in Object.prototype) {
      refused.push(`routes for ${short(JSON.stringify(name), 80)}, which is not a container name`);
      continue;
    }
    if (!authority.may(name)) {
      refused.push(`routes for container ${JSON.stringify(name)}, which is not below it`);
      continue;
    }
    if (!isRecord(raw)) {
      refused.push(`a malformed route entry for ${JSON.stringify(name)}`);
      continue;
    }
    const entry: RouteTable[string] = {
      balance: BALANCES.has(raw.balance as string)
        ? raw.balance as RouteTable[string]["balance"]
        : "round_robin",
      instances: keep(name, raw.instances),
    };
    if (Number.isInteger(raw.q) && (raw.q as number) >= 0) {
      entry.q = Math.min(raw.q as number, MAX_BUFFER);
    }
    const x = keep(name, raw.x);
    if (x.length > 0) entry.x = x;
    if (raw.w === 1 && entry.instances.length === 0) entry.w = 1;
    routes[name] = entry;
  }
  if (overEntries > 0) {
    refused.unshift(
      `${overEntries} entries past the ${MAX_ROUTE_ENTRIES} a routing table may have`,
    );
  }
  if (overInstances > 0) {
    refused.unshift(
      `${overInstances} instances past the ${MAX_ROUTE_INSTANCES} a routing table may list`,
    );
  }
  return { routes, refused };
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

function short(text: string, max = MAX_TEXT): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function strings(raw: unknown): string[] | null {
  if (!Array.isArray(raw)) return null;
  return raw.slice(0, 64).filter((s): s is string => typeof s === "string").map(short);
}
