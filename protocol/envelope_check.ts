/**
 * The edge rule: what an envelope arriving from outside this isolate must be before anything acts
 * on it. Applied where bytes from elsewhere become envelopes — a peer runtime's link, NATS, a
 * process's socket or pipes, a worker's `postMessage`, a sibling worker's port — and nowhere else:
 * past the edge, every envelope is well formed, and nothing a peer or a child sends can fail a
 * container that did nothing wrong.
 *
 * The rule has three parts: the kind is one that may come over that edge (a child never sends
 * `routes`, a peer never sends `init`); every field has its type (`i` a whole number, `to` a
 * string, a reply's error a {@linkcode WireError}, a routing table shaped as one); every body and
 * other plain data satisfies the wire-value rule the sender applied
 * ({@linkcode wireValueProblem}: the same types, depth and tree shape as `copyWireValue`).
 * A request from a child or sibling must name that node (or one below it) as its sender. A
 * request's trace context that is not W3C Trace Context is removed from it, and so is a tick id
 * (`tk`) that did not come from a peer runtime's own hub (the only changes this check makes to
 * what it is given): the request is kept, the bad header is not.
 *
 * Pure: no I/O. What to do with a refusal (answer a request with a `FrameError`, count and log the
 * rest) is the node's business.
 *
 * @module
 */
import { EXIT_KINDS } from "./envelope.ts";
import { within } from "./routes.ts";
import { wireValueProblem } from "./wire_value.ts";
import { dropBadTraceContext, isTraceId } from "./trace_context.ts";
import { entityIdProblem } from "./entity_owner.ts";

/**
 * The most items a list in a control envelope may hold: names in a `join` (`c`) and its
 * placements (`p`), entries of a routing table, instances (and draining ones) per entry, and items
 * of each permission list of a `place`. Beyond it the envelope is refused: whatever handles such
 * lists (a peer's names, an agent resolving each path of a grant) then does bounded work per frame.
 */
export const MAX_LIST_ITEMS = 10_000;

/** Where an envelope came from: a node below this one, a peer worker's port, a peer runtime. */
export type Edge = "child" | "sibling" | "peer";

type Fields = Record<string, unknown>;
/** What is known of an envelope's values (see {@linkcode CheckOptions.values}). */
type Values = NonNullable<CheckOptions["values"]>;
/** A kind's field check. */
type Check = (env: Fields, values: Values) => string | null;

const REQ_FIELDS: Check = (e, v) =>
  whole(e, "i") ?? text(e, "s") ?? text(e, "to") ?? text(e, "t") ?? body(e, "b", v) ??
    optional(e, "r", (v) => v === 1, "1") ?? optional(e, "dl", isNumber, "a number") ??
    optional(e, "tk", isString, "a string") ?? traceContext(e) ?? entity(e);

/**
 * A request's trace context (`tc`, `ts`) is a hint, not part of the request: a malformed one is
 * removed from the envelope (the request goes on, starting a new trace) and never passed on.
 */
function traceContext(e: Fields): null {
  dropBadTraceContext(e);
  return null;
}

/** A log line's trace id (`x`), likewise: removed unless it is 32 lowercase hex digits. */
function traceId(e: Fields): null {
  if (e.x !== undefined && !isTraceId(e.x)) delete e.x;
  return null;
}

/** The fields of each kind (a kind absent here never crosses an edge). */
const KINDS: Record<string, Check> = {
  req: REQ_FIELDS,
  send: (e, v) => text(e, "to") ?? text(e, "t") ?? body(e, "b", v) ?? traceContext(e) ?? entity(e),
  res: (e, v) => whole(e, "i") ?? text(e, "d") ?? text(e, "f") ?? body(e, "b", v),
  err: (e) => whole(e, "i") ?? text(e, "d") ?? text(e, "f") ?? wireError(e.e, "e"),
  pub: (e, v) => text(e, "t") ?? body(e, "b", v),
  sub: (e) => text(e, "t"),
  unsub: (e) => text(e, "t"),
  switch: (e) => text(e, "n"),
  routes: (e) => routeTable(e.r, "r"),
  subroutes: (e) => routeTable(e.r, "r"),
  ping: () => null,
  pong: (e, v) =>
    data(e, "m", v) ?? optional(e, "u", isUsage, "[memory bytes, cpu µs] (two numbers >= 0)"),
  log: (e) =>
    oneOf(e, "l", ["debug", "info", "warn", "error"]) ?? text(e, "m") ?? text(e, "c") ??
      traceId(e),
  ready: (e) => texts(e.topics, "topics"),
  exit: (e, v) => exitReason(e.reason) ?? data(e, "m", v),
  stopped: (e, v) => data(e, "m", v),
  subtree: (e, v) =>
    (Array.isArray(e.t) ? null : expected("t", e.t, "an array")) ?? data(e, "t", v),
  event: (e, v) =>
    (isObject(e.e) ? text(e.e, "type", "e.type") : expected("e", e.e, "an object")) ??
      data(e, "e", v),
  join: (e, v) =>
    text(e, "n") ?? texts(e.c, "c") ?? optional(e, "a", isObject, "an object") ??
      data(e, "a", v) ?? placements(e.p),
  place: (e, v) =>
    text(e, "n") ?? whole(e, "e") ??
      optional(e, "l", isLeaseTerm, "{ g: a group name, t: a term, w: a wait in ms }") ??
      (isObject(e.s) ? data(e, "s", v) ?? grantLists(e.s.permissions) : expected(
        "s",
        e.s,
        "an object",
      )),
  unplace: (e) => text(e, "n") ?? whole(e, "e"),
  refused: (e) => text(e, "m"),
  placed: (e) =>
    text(e, "n") ?? whole(e, "e") ??
      (typeof e.ok === "boolean" ? null : expected("ok", e.ok, "a boolean")) ??
      (e.x === undefined ? null : wireError(e.x, "x")),
  load: (e) =>
    (isNumber(e.c) ? null : expected("c", e.c, "a number")) ??
      (isNumber(e.m) ? null : expected("m", e.m, "a number")) ?? instanceUsage(e.u),
};

/** The kinds each edge may carry. */
const ALLOWED: Record<Edge, ReadonlySet<string>> = {
  // A node below: its messaging, its logs, and its lifecycle and supervision reports.
  child: new Set([
    "req",
    "send",
    "res",
    "err",
    "pub",
    "sub",
    "unsub",
    "log",
    "ready",
    "exit",
    "stopped",
    "pong",
    "subroutes",
    "subtree",
    "event",
    // Only about itself (the hub knows which node sent it) and only toward a node it was paired with.
    "switch",
  ]),
  // A direct port between two workers carries requests and replies only.
  sibling: new Set(["req", "send", "res", "err"]),
  // Another runtime: messaging, its routes and heartbeats, placements, and what a host agent
  // forwards of the containers it runs (logs, supervision events, its load).
  peer: new Set([
    "req",
    "send",
    "res",
    "err",
    "pub",
    "routes",
    "ping",
    "pong",
    "join",
    "refused",
    "place",
    "unplace",
    "placed",
    "load",
    "log",
    "event",
  ]),
};

/** Options of {@linkcode envelopeProblem}. */
export interface CheckOptions {
  /**
   * For `child` and `sibling` edges: the node at the other end, which a request must name as its
   * sender (`s`: that node or one below it).
   */
  from?: string;
  /**
   * What is already known of the envelope's values (bodies and other plain data), which decides
   * how much of the wire-value rule is left to check: `clone` (the default) — nothing, they came
   * by structured clone (`postMessage`) and may share or cycle references; `tree` — they were
   * decoded from bytes (a byte-stream link, NATS), so they are trees and references need not be
   * tracked; `checked` — the decoder itself enforced the rule (`decodeLenient` at the wire depth,
   * nothing marked), so only the fields' types are left.
   */
  values?: "clone" | "tree" | "checked";
}

/**
 * What is wrong with an envelope that arrived over `edge`, or `null` when it may be handled.
 *
 * @param env What arrived (anything: it is untrusted).
 * @param edge The kind of link it came over.
 * @param options The node it came from, and whether its values are known to be trees.
 * @returns `null`, or the problem: the kind or field, the bad value and what was expected.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { envelopeProblem } from "./envelope_check.ts";
 * const ok = { k: "req", i: 1, s: "host", to: "greeter#0.1", t: "greet", b: { who: "ada" } };
 * assert.equal(envelopeProblem(ok, "peer"), null);
 * assert.equal(envelopeProblem({ ...ok, i: "x" }, "peer"), 'field "i" is "x", expected a whole number');
 * assert.equal(envelopeProblem({ k: "init", s: {} }, "peer"), 'kind "init" may not come from a peer runtime');
 * assert.equal(
 *   envelopeProblem(ok, "child", { from: "w1" }),
 *   'field "s" is "host": a request from node "w1" names it or a node below it',
 * );
 * ```
 */
export function envelopeProblem(
  env: unknown,
  edge: Edge,
  options: CheckOptions = {},
): string | null {
  if (!isObject(env)) return `an envelope must be an object, got ${describe(env)}`;
  const kind = env.k;
  if (typeof kind !== "string") return expected("k", kind, "a string (the envelope's kind)");
  const fields = KINDS[kind];
  if (fields === undefined || !ALLOWED[edge].has(kind)) {
    return `kind ${describe(kind)} may not come from ${EDGE_NAMES[edge]}`;
  }
  const problem = fields(env, options.values ?? "clone");
  if (problem !== null) return problem;
  const from = options.from;
  if (kind === "req" && edge !== "peer" && from !== undefined && !within(env.s, from)) {
    return `field "s" is ${
      describe(env.s)
    }: a request from node "${from}" names it or a node below it`;
  }
  if (kind === "req") dropForeignTick(env, edge);
  return null;
}

/**
 * A request's tick id (`tk`) is believed only from the hub that ran the schedule: a child or a
 * sibling worker never sends one (its containers' requests are never ticks), and a peer runtime
 * only in its own hub's name (`s` is `host` before the `@peer/` prefix is added). Anything else
 * is removed, so no name a node may use below itself (`w2/host`) passes a request off as a tick.
 */
function dropForeignTick(e: Fields, edge: Edge): void {
  if (e.tk !== undefined && (edge !== "peer" || e.s !== "host")) delete e.tk;
}

const EDGE_NAMES: Record<Edge, string> = {
  child: "a child node",
  sibling: "a sibling worker",
  peer: "a peer runtime",
};

// ---- fields ------------------------------------------------------------------------------------

function text(e: Fields, key: string, name = key): string | null {
  return typeof e[key] === "string" ? null : expected(name, e[key], "a string");
}

/** An entity id (`e`), when there is one: a bounded, non-empty string. */
function entity(e: Fields): string | null {
  if (e.e === undefined) return null;
  const problem = entityIdProblem(e.e);
  return problem === null ? null : `field "e": ${problem}`;
}

function whole(e: Fields, key: string): string | null {
  return Number.isSafeInteger(e[key]) ? null : expected(key, e[key], "a whole number");
}

function body(e: Fields, key: string, values: Values): string | null {
  return values === "checked" ? null : wireValueProblem(e[key], key, { tree: values === "tree" });
}

/** Plain data (optional): the wire-value rule, as for bodies. */
function data(e: Fields, key: string, values: Values): string | null {
  return e[key] === undefined ? null : body(e, key, values);
}

/** A placement's lease term: group `g`, term `t`, and how long its standby needs `w` (ms, ≤ 1 h). */
function isLeaseTerm(value: unknown): boolean {
  if (!isObject(value)) return false;
  const { g, t, w } = value as Record<string, unknown>;
  return typeof g === "string" && g !== "" && g.length <= 256 && Number.isSafeInteger(t) &&
    (t as number) > 0 && Number.isSafeInteger(w) && (w as number) >= 0 &&
    (w as number) <= 3_600_000;
}

function optional(
  e: Fields,
  key: string,
  ok: (value: unknown) => boolean,
  what: string,
): string | null {
  return e[key] === undefined || ok(e[key]) ? null : expected(key, e[key], what);
}

function oneOf(e: Fields, key: string, values: readonly string[], name = key): string | null {
  return values.includes(e[key] as string)
    ? null
    : expected(name, e[key], `one of ${values.join(", ")}`);
}

/** `null` when `list` holds at most {@linkcode MAX_LIST_ITEMS} items, else the problem. */
function bounded(list: readonly unknown[], name: string): string | null {
  return list.length <= MAX_LIST_ITEMS
    ? null
    : `field "${name}" holds ${list.length} items, expected at most ${MAX_LIST_ITEMS}`;
}

function texts(value: unknown, name: string): string | null {
  if (!Array.isArray(value)) return expected(name, value, "an array of strings");
  const long = bounded(value, name);
  if (long !== null) return long;
  const at = value.findIndex((v) => typeof v !== "string");
  return at < 0 ? null : expected(`${name}[${at}]`, value[at], "a string");
}

function wireError(value: unknown, name: string): string | null {
  if (!isObject(value)) return expected(name, value, "an error ({name, message})");
  const problem = text(value, "name", `${name}.name`) ?? text(value, "message", `${name}.message`);
  if (problem !== null) return problem;
  for (const key of ["stack", "kind", "container", "topic"]) {
    if (value[key] !== undefined && typeof value[key] !== "string") {
      return expected(`${name}.${key}`, value[key], "a string");
    }
  }
  for (const key of ["detail", "classes"]) {
    if (value[key] !== undefined) {
      const problem = texts(value[key], `${name}.${key}`);
      if (problem !== null) return problem;
    }
  }
  if (value.undelivered !== undefined && typeof value.undelivered !== "boolean") {
    return expected(`${name}.undelivered`, value.undelivered, "a boolean");
  }
  return null;
}

function exitReason(value: unknown): string | null {
  if (!isObject(value)) return expected("reason", value, "an object");
  return oneOf(value, "kind", EXIT_KINDS, "reason.kind") ??
    text(value, "message", "reason.message") ??
    (value.error === undefined ? null : wireError(value.error, "reason.error")) ??
    (value.action === undefined || value.action === "stop" || value.action === "escalate"
      ? null
      : expected("reason.action", value.action, "stop or escalate"));
}

const BALANCES = ["round_robin", "random", "key_hash"];

function routeTable(value: unknown, name: string): string | null {
  if (!isObject(value) || Object.getPrototypeOf(value) !== Object.prototype) {
    return expected(name, value, "a routing table (an object)");
  }
  let entries = 0;
  for (const container in value) {
    if (++entries > MAX_LIST_ITEMS) {
      return `field "${name}" holds more than ${MAX_LIST_ITEMS} entries, expected at most ${MAX_LIST_ITEMS}`;
    }
    const entry = value[container];
    const at = `${name}.${describeKey(container)}`;
    if (!isObject(entry)) return expected(at, entry, "a route entry (an object)");
    const problem = oneOf(entry, "balance", BALANCES, `${at}.balance`) ??
      instances(entry.instances, `${at}.instances`) ??
      (entry.x === undefined ? null : instances(entry.x, `${at}.x`)) ??
      (entry.w === undefined || entry.w === 1 ? null : expected(`${at}.w`, entry.w, "1")) ??
      (entry.q === undefined || (Number.isSafeInteger(entry.q) && (entry.q as number) >= 0)
        ? null
        : expected(`${at}.q`, entry.q, "a whole number >= 0"));
    if (problem !== null) return problem;
  }
  return null;
}

function instances(value: unknown, name: string): string | null {
  if (!Array.isArray(value)) return expected(name, value, "an array of {i, n}");
  const long = bounded(value, name);
  if (long !== null) return long;
  for (let n = 0; n < value.length; n++) {
    const inst = value[n];
    if (!isObject(inst) || typeof inst.i !== "string" || typeof inst.n !== "string") {
      return expected(`${name}[${n}]`, inst, "an instance {i: string, n: string}");
    }
    if (inst.s !== undefined && inst.s !== 1) return expected(`${name}[${n}].s`, inst.s, "1");
  }
  return null;
}

/** A host agent's figures per instance (optional): `[id, memory bytes | null, CPU % | null]`. */
function instanceUsage(value: unknown): string | null {
  if (value === undefined) return null;
  if (!Array.isArray(value)) return expected("u", value, "an array of [id, memory, cpu]");
  const long = bounded(value, "u");
  if (long !== null) return long;
  const figure = (n: unknown) =>
    n === null || (typeof n === "number" && Number.isFinite(n) && n >= 0);
  for (let n = 0; n < value.length; n++) {
    const u = value[n];
    if (
      !Array.isArray(u) || u.length !== 3 || typeof u[0] !== "string" || u[0].length > 200 ||
      !figure(u[1]) || !figure(u[2])
    ) {
      return expected(
        `u[${n}]`,
        u,
        "[instance id (a string), memory bytes, CPU %] (numbers >= 0 or null)",
      );
    }
  }
  return null;
}

function placements(value: unknown): string | null {
  if (value === undefined) return null;
  if (!Array.isArray(value)) return expected("p", value, "an array of placements");
  const long = bounded(value, "p");
  if (long !== null) return long;
  for (let n = 0; n < value.length; n++) {
    const p = value[n];
    if (
      !isObject(p) || typeof p.n !== "string" || !Number.isSafeInteger(p.e) ||
      (p.b !== undefined && typeof p.b !== "string")
    ) {
      return expected(`p[${n}]`, p, "a placement {n: string, e: whole number, b?: string}");
    }
  }
  return null;
}

/** A placed spec's permission lists, each at most {@linkcode MAX_LIST_ITEMS} items long. */
function grantLists(permissions: unknown): string | null {
  if (!isObject(permissions)) return null; // its shape is the agent's topology check's business
  for (const [kind, list] of Object.entries(permissions)) {
    if (!Array.isArray(list)) continue;
    const long = bounded(list, `s.permissions.${describeKey(kind)}`);
    if (long !== null) return long;
  }
  return null;
}

// ---- words -------------------------------------------------------------------------------------

function isObject(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isString(value: unknown): boolean {
  return typeof value === "string";
}

function isNumber(value: unknown): boolean {
  return typeof value === "number";
}

function isUsage(value: unknown): boolean {
  return Array.isArray(value) && value.length === 2 &&
    value.every((n) => typeof n === "number" && Number.isFinite(n) && n >= 0);
}

function expected(name: string, value: unknown, what: string): string {
  return `field "${name}" is ${describe(value)}, expected ${what}`;
}

/** A key from outside, as a field path shows it: cut to 40 characters, control characters escaped. */
function describeKey(key: string): string {
  const cut = key.length > 40 ? `${key.slice(0, 40)}…` : key;
  return JSON.stringify(cut).slice(1, -1);
}

/** A bad value, shown short: a string quoted and cut, a number as is, anything else by its type. */
function describe(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array";
  return `${/^[aeiou]/.test(typeof value) ? "an" : "a"} ${typeof value}`;
}
