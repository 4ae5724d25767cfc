/**
 * Routing tables as data: the node-id and instance-id rules they rest on, merging tables from
 * several sources (supervisors, peers, placements) by one rule, and cutting a table someone else
 * reported to what that reporter may announce. Pure: no I/O, no clock. The runtime (for its child
 * isolates) and distribution (for its peer runtimes) both take other sides' tables through here.
 *
 * @module
 */
import type { RouteInstance, RouteTable } from "./envelope.ts";

/** Most instances kept from one reported entry. */
const MAX_ITEMS = 10_000;
/** Largest restart buffer a reporter may announce for a container. */
const MAX_BUFFER = 1_000_000;
/** Longest reported text quoted back in a refusal. */
const MAX_QUOTE = 16 * 1024;
const BALANCES = new Set(["round_robin", "random", "key_hash"]);

/**
 * Whether node `node` is `ancestor` or below it (node ids are paths: `p2/w1` is below `p2`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { within } from "./routes.ts";
 * assert.equal(within("p2/w1", "p2"), true);
 * assert.equal(within("p21", "p2"), false);
 * ```
 */
export function within(node: unknown, ancestor: string): boolean {
  return typeof node === "string" &&
    (node === ancestor || (node.length > ancestor.length && node.startsWith(ancestor) &&
      node.charCodeAt(ancestor.length) === 47 /* "/" */));
}

/**
 * Whether instance id `id` names an instance of container `name` (`name#replica.incarnation`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { instanceOf } from "./routes.ts";
 * assert.equal(instanceOf("api#0.1", "api"), true);
 * assert.equal(instanceOf("apix#0.1", "api"), false);
 * ```
 */
export function instanceOf(id: unknown, name: string): boolean {
  return typeof id === "string" && id.length > name.length + 1 && id.startsWith(name) &&
    id.charCodeAt(name.length) === 35 /* "#" */;
}

/**
 * The container an instance id belongs to (`api#0.1` → `api`), or `null` when it is not one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { containerOf } from "./routes.ts";
 * assert.equal(containerOf("api#0.1"), "api");
 * assert.equal(containerOf("runtime"), null);
 * ```
 */
export function containerOf(id: unknown): string | null {
  if (typeof id !== "string") return null;
  const hash = id.lastIndexOf("#");
  return hash > 0 ? id.slice(0, hash) : null;
}

/**
 * Adds `extra` to `table`; an entry with no live instance never hides one that has some.
 *
 * @example A placeholder does not hide live instances
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeRoutes } from "./routes.ts";
 * const table = { api: { balance: "round_robin" as const, instances: [], w: 1 as const } };
 * mergeRoutes(table, { api: { balance: "random", instances: [{ i: "api#0.1", n: "@b/w1" }] } });
 * assert.deepEqual(table.api.instances, [{ i: "api#0.1", n: "@b/w1" }]);
 * assert.equal(table.api.balance, "random");
 * ```
 *
 * @example A second source cannot re-point a live instance, live or draining
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeRoutes } from "./routes.ts";
 * const table = {
 *   api: { balance: "round_robin" as const, instances: [{ i: "api#0.1", n: "@b/w1" }] },
 * };
 * mergeRoutes(table, {
 *   api: { balance: "round_robin", instances: [], x: [{ i: "api#0.1", n: "@evil/x" }] },
 * });
 * assert.deepEqual(table.api, { balance: "round_robin", instances: [{ i: "api#0.1", n: "@b/w1" }] });
 * ```
 */
export function mergeRoutes(table: RouteTable, extra: RouteTable): void {
  for (const [name, entry] of Object.entries(extra)) {
    const current = table[name];
    if (!current) {
      table[name] = entry;
      continue;
    }
    // Two entries for one name: a replacement in progress (new instances live, old ones draining)
    // or a restarting parent's placeholders. Live and draining instances of both are kept.
    // An instance id keeps the node it was first listed with: a second source listing it again —
    // live or draining, under another node — never re-points it (it would reroute its traffic).
    const live = current.instances.length > 0 ? current : entry;
    const instances = union(current.instances, entry.instances);
    const liveIds = new Set(instances.map((i) => i.i));
    const x = union(current.x ?? [], entry.x ?? []).filter((i) => !liveIds.has(i.i));
    table[name] = {
      balance: live.balance,
      instances,
      ...(live.q !== undefined ? { q: live.q } : {}),
      ...(x.length > 0 ? { x } : {}),
      ...(instances.length === 0 && (current.w || entry.w) ? { w: 1 as const } : {}),
    };
  }
}

function union(a: readonly RouteInstance[], b: readonly RouteInstance[]): RouteInstance[] {
  if (b.length === 0) return [...a];
  const seen = new Set(a.map((i) => i.i));
  return [...a, ...b.filter((i) => !seen.has(i.i))];
}

/** What a child isolate (or a peer runtime) may speak for. */
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
 * Keeps, of a reported routing table (a child's `subroutes`, a peer's `routes`), the entries for
 * containers the reporter may speak for, and of those the instances that are that container's
 * and live in its node or below.
 *
 * @example A child claiming another container's name is refused
 * ```ts
 * import assert from "node:assert/strict";
 * import { sanitizeRoutes } from "./routes.ts";
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
  for (const [name, raw] of Object.entries(reported)) {
    if (!authority.may(name)) {
      refused.push(`routes for container ${JSON.stringify(name)}, which is not below it`);
      continue;
    }
    if (!isRecord(raw)) {
      refused.push(`a malformed route entry for ${JSON.stringify(name)}`);
      continue;
    }
    const keep = (list: unknown): RouteInstance[] => {
      if (!Array.isArray(list)) return [];
      const out: RouteInstance[] = [];
      for (const inst of list.slice(0, MAX_ITEMS)) {
        const placed = authority.node === null
          ? typeof inst?.n === "string" && inst.n !== ""
          : within(inst?.n, authority.node);
        if (isRecord(inst) && instanceOf(inst.i, name) && placed) {
          out.push({ i: inst.i as string, n: inst.n as string });
        } else {
          // (Not every value has a JSON form: `undefined` from a structured clone has none.)
          refused.push(
            `an instance of ${JSON.stringify(name)} outside its node: ${
              quote(JSON.stringify(inst) ?? String(inst))
            }`,
          );
        }
      }
      return out;
    };
    const entry: RouteTable[string] = {
      balance: BALANCES.has(raw.balance as string)
        ? raw.balance as RouteTable[string]["balance"]
        : "round_robin",
      instances: keep(raw.instances),
    };
    if (Number.isInteger(raw.q) && (raw.q as number) >= 0) {
      entry.q = Math.min(raw.q as number, MAX_BUFFER);
    }
    const x = keep(raw.x);
    if (x.length > 0) entry.x = x;
    if (raw.w === 1 && entry.instances.length === 0) entry.w = 1;
    routes[name] = entry;
  }
  return { routes, refused };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function quote(text: string): string {
  return text.length > MAX_QUOTE ? `${text.slice(0, MAX_QUOTE)}…` : text;
}
